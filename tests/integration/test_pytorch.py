"""PyTorch checkpoints mounted for real, against an independent oracle: the
manifest.json that torch itself wrote for the fixtures in
tests/data/pytorch-samples (sha256 of each tensor's row-major bytes, dtype,
shape, strides, offsets, non-tensor leaves). Every fixture in every layout,
the 3-shard index (as a directory and as the index file), -o root=,
-o format=, metadata xattrs, weightfs-inspect ls/verify, and a sharded model
written by tests/lib/pytorch_writer.py next to its safetensors twin."""

import hashlib
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest

import expect
from pytorch_writer import (STORAGE, V3_DTYPE, Pickle, from_type_ops, parameter_ops, row_major,
                            state_dict_pickle, tensor_ops, tensor_v3_ops, zip_archive)
from safetensors_writer import random_tensors, write_safetensors
from weightfs_binaries import require_inspect

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "pytorch-samples"
MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
FILES = MANIFEST["files"]
SHARDS = [f"pytorch_model-0000{i}-of-00003.bin" for i in (1, 2, 3)]
INDEX = "pytorch_model.bin.index.json"
SINGLE = ["pytorch_model.bin", "checkpoint.pt", "views.pt", "dtypes.pt", "legacy_format.pt",
          "torchscript.pt"]
LAYOUTS = ["modules", "tree", "flat"]


class Named:
    """What expect.Namespace needs of a model: its tensor names."""

    def __init__(self, names):
        self.tensors = {n: n for n in names}
        self.other_files = {}
        self.other_dirs = set()


def expected_tensors(source_name):
    """name -> manifest entry (with the shard file) for a file or the index."""
    if source_name == INDEX:
        out = {}
        for shard in SHARDS:
            for name, t in FILES[shard]["tensors"].items():
                out[name] = dict(t, shard=shard)
        return out
    return {name: dict(t, shard=source_name) for name, t in FILES[source_name]["tensors"].items()}


def copy_sample(tmp_path, name):
    """The fixture (for the index: the index and its shards) alone in a directory."""
    d = tmp_path / "src"
    d.mkdir(exist_ok=True)
    for f in ([INDEX] + SHARDS if name == INDEX else [name]):
        shutil.copy(SAMPLES / f, d / f)
    return d


def assert_mount(mnt, tensors, layout):
    ns = expect.Namespace(Named(tensors), layout)
    files = {str(p.relative_to(mnt)) for p in Path(mnt).rglob("*") if p.is_file()}
    assert files == set(ns.files), "listing differs from the manifest's names"
    for name, t in tensors.items():
        path = Path(mnt) / ns.path_of[name]
        data = path.read_bytes()
        assert len(data) == t["nbytes"], name
        assert hashlib.sha256(data).hexdigest() == t["sha256"], f"{name}: bytes differ from torch's"
        assert os.stat(path).st_size == t["nbytes"]
        x = {k: os.getxattr(path, k).decode() for k in os.listxattr(path)}
        assert x["user.dtype"] == t["dtype"], name
        assert x["user.shape"] == expect.shape_text(t["shape"]), name
        assert x["user.name"] == name
        assert x["user.shard"] == t["shard"]
        assert int(x["user.offset"]) == t["offset"], f"{name}: user.offset"
        if t["contiguous"] or t["nbytes"] == 0:
            assert "user.stride" not in x, name
        else:
            assert json.loads(x["user.stride"]) == t["stride"], name
    root = {k: os.getxattr(mnt, k).decode() for k in os.listxattr(mnt)}
    assert root["user.format"] == "pytorch"
    assert int(root["user.tensors"]) == len(tensors)
    assert int(root["user.nbytes"]) == sum(t["nbytes"] for t in tensors.values())
    return root


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("name", SINGLE)
def test_fixture_file(tmp_path, mount, name, layout):
    d = copy_sample(tmp_path, name)
    mnt = mount(d / name, "-o", f"layout={layout}")
    root = assert_mount(mnt, expected_tensors(name), layout)
    kind = {"legacy_format.pt": "legacy", "torchscript.pt": "torchscript"}.get(name, "zip")
    assert root["user.pytorch.archive"] == kind


@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("as_file", [False, True], ids=["directory", "index-file"])
def test_fixture_sharded(tmp_path, mount, layout, as_file):
    d = copy_sample(tmp_path, INDEX)
    mnt = mount(d / INDEX if as_file else d, "-o", f"layout={layout}")
    assert_mount(mnt, expected_tensors(INDEX), layout)
    # The index's metadata, as for safetensors.
    total = os.getxattr(mnt, "user.index.total_size").decode()
    assert int(total) == FILES[INDEX]["total_size"]


def test_directory_prefers_pytorch_model_bin(tmp_path, mount):
    """A directory with pytorch_model.bin and other .pt files mounts pytorch_model.bin."""
    d = tmp_path / "src"
    d.mkdir()
    for f in ["pytorch_model.bin", "views.pt"]:
        shutil.copy(SAMPLES / f, d / f)
    mnt = mount(d)
    names = {os.getxattr(p, "user.name").decode() for p in Path(mnt).rglob("*")
             if p.is_file() and "user.name" in os.listxattr(p)}
    assert names == set(FILES["pytorch_model.bin"]["tensors"])
    assert (Path(mnt) / "views.pt").read_bytes() == (SAMPLES / "views.pt").read_bytes()


def test_other_bin_files_stay_files(tmp_path, mount):
    """A .bin that is not PyTorch by content (ONNX external data, a tokenizer) is an ordinary file."""
    d = tmp_path / "src"
    d.mkdir()
    shutil.copy(SAMPLES / "views.pt", d / "views.pt")
    (d / "weights.bin").write_bytes(bytes(range(256)) * 4)
    (d / "empty.bin").write_bytes(b"")
    mnt = Path(mount(d, "-o", "layout=flat"))
    assert (mnt / "weights.bin").read_bytes() == bytes(range(256)) * 4
    assert (mnt / "empty.bin").read_bytes() == b""
    assert (mnt / "every_other").stat().st_size == 24


def test_checkpoint_metadata(tmp_path, mount):
    d = copy_sample(tmp_path, "checkpoint.pt")
    mnt = mount(d / "checkpoint.pt")
    leaves = FILES["checkpoint.pt"]["non_tensor_leaves"]
    for key, value in leaves.items():
        got = os.getxattr(mnt, "user.metadata." + key).decode()
        assert json.loads(got) == value, key
    assert os.getxattr(mnt, "user.metadata.epoch") == b"7"
    assert os.getxattr(mnt, "user.metadata.optimizer_state_dict.param_groups.0.params") == b"[0,1,2,3]"


@pytest.mark.parametrize("layout", LAYOUTS)
def test_checkpoint_root(tmp_path, mount, layout):
    d = copy_sample(tmp_path, "checkpoint.pt")
    mnt = mount(d / "checkpoint.pt", "-o", "root=model_state_dict", "-o", f"layout={layout}")
    tensors = {name[len("model_state_dict."):]: dict(t, shard="checkpoint.pt")
               for name, t in FILES["checkpoint.pt"]["tensors"].items()}
    assert_mount(mnt, tensors, layout)
    assert not [k for k in os.listxattr(mnt) if k.startswith("user.metadata.")]


def test_root_of_optimizer_has_only_metadata(tmp_path, mount):
    d = copy_sample(tmp_path, "checkpoint.pt")
    mnt = mount(d / "checkpoint.pt", "-o", "root=optimizer_state_dict")
    assert int(os.getxattr(mnt, "user.tensors")) == 0
    assert os.getxattr(mnt, "user.metadata.param_groups.0.lr") == b"0.1"


def test_root_missing_is_invalid(tmp_path, run_weightfs):
    d = copy_sample(tmp_path, "checkpoint.pt")
    (tmp_path / "m").mkdir()
    r = run_weightfs("-o", "root=no_such_key", d / "checkpoint.pt", tmp_path / "m")
    assert r.returncode == 4, r.stderr
    assert "root=" in r.stderr and "no_such_key" in r.stderr and "checkpoint.pt" in r.stderr


def test_format_option(tmp_path, mount, run_weightfs):
    d = copy_sample(tmp_path, "views.pt")
    mnt = mount(d / "views.pt", "-o", "format=pytorch")
    assert_mount(mnt, expected_tensors("views.pt"), "modules")
    (tmp_path / "m").mkdir()
    r = run_weightfs("-o", "format=safetensors", d / "views.pt", tmp_path / "m")
    assert r.returncode == 4, r.stderr


def test_tied_weights_share_bytes(tmp_path, mount):
    d = copy_sample(tmp_path, "views.pt")
    mnt = Path(mount(d / "views.pt", "-o", "layout=flat"))
    assert (mnt / "embed.weight").read_bytes() == (mnt / "lm_head.weight").read_bytes()
    assert os.getxattr(mnt / "embed.weight", "user.offset") == os.getxattr(mnt / "lm_head.weight", "user.offset")


def test_strided_reads_at_every_offset(tmp_path, mount):
    """A strided gather read in odd pieces gives the same bytes as one read."""
    d = copy_sample(tmp_path, "views.pt")
    mnt = Path(mount(d / "views.pt", "-o", "layout=flat"))
    for name in ["cols", "transposed", "expanded", "every_other"]:
        whole = (mnt / name).read_bytes()
        with open(mnt / name, "rb", buffering=0) as f:
            for start in range(0, len(whole), 3):
                f.seek(start)
                assert f.read(7) == whole[start:start + 7], (name, start)


# --- weightfs-inspect ---------------------------------------------------------

def inspect(*args):
    r = subprocess.run([str(require_inspect()), *map(str, args)], capture_output=True, text=True, timeout=60)
    return r


@pytest.mark.parametrize("name", SINGLE + [INDEX])
def test_inspect_ls_and_verify(tmp_path, name):
    d = copy_sample(tmp_path, name)
    tensors = expected_tensors(name)
    r = inspect("ls", "--json", d / name)
    assert r.returncode == 0, r.stderr
    listed = json.loads(r.stdout)
    rows = listed["tensors"] if isinstance(listed, dict) else listed
    got = {row["name"]: row for row in rows}
    assert set(got) == set(tensors)
    for n, t in tensors.items():
        assert got[n]["dtype"] == t["dtype"]
        assert got[n]["shape"] == t["shape"]
        assert got[n]["shard"] == t["shard"]
    r = inspect("verify", "--hash", "--json", d / name)
    assert r.returncode == 0, r.stderr
    hashes = {h["name"]: h["sha256"] for h in json.loads(r.stdout)["sha256"]}
    assert hashes == {n: t["sha256"] for n, t in tensors.items()}


# --- a generated sharded model and its safetensors twin ---------------------------

TWIN_SPEC = {
    "model.embed_tokens.weight": ("BF16", (96, 32)),
    "model.norm.weight": ("F32", (32,)),
    "lm_head.weight": ("F16", (96, 32)),
    "model.layers.0.self_attn.q_proj.weight": ("BF16", (32, 32)),
    "model.layers.0.self_attn.k_proj.weight": ("BF16", (8, 32)),
    "model.layers.0.mlp.up_proj.weight": ("I8", (64, 32)),
    "model.layers.0.mlp.scale": ("F64", (3, 1, 2)),
    "model.layers.1.counts": ("I64", (5,)),
    "model.layers.1.mask": ("BOOL", (7,)),
    "model.layers.1.c": ("C64", (2, 2)),
}


def write_sharded_bin(d, tensors, nshards):
    """pytorch_model-0000N-of-0000M.bin files plus the transformers index."""
    names = list(tensors)
    weight_map, total = {}, 0
    for s in range(nshards):
        part = names[s::nshards]
        fname = f"pytorch_model-{s + 1:05d}-of-{nshards:05d}.bin"
        entries, pickled = [], []
        for i, name in enumerate(part):
            dtype, shape, raw = tensors[name]
            numel = len(raw) // STORAGE[dtype][1]
            pickled.append((name, str(i), dtype, numel, 0, list(shape), row_major(list(shape))))
            entries.append((f"{fname[:-4]}/data/{i}", raw))
            weight_map[name] = fname
            total += len(raw)
        data, _ = zip_archive([(f"{fname[:-4]}/data.pkl", state_dict_pickle(pickled))] + entries +
                              [(f"{fname[:-4]}/version", b"3\n")])
        (d / fname).write_bytes(data)
    (d / INDEX).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map},
                                      indent=2, sort_keys=True) + "\n")


@pytest.mark.parametrize("layout", LAYOUTS)
def test_generated_shards_equal_safetensors_twin(tmp_path, mount, layout):
    tensors = random_tensors(TWIN_SPEC, seed=7)
    bin_dir, st_dir = tmp_path / "bin", tmp_path / "st"
    bin_dir.mkdir()
    st_dir.mkdir()
    write_sharded_bin(bin_dir, tensors, 4)
    write_safetensors(st_dir / "model.safetensors", tensors)
    a = Path(mount(bin_dir, "-o", f"layout={layout}"))
    b = Path(mount(st_dir, "-o", f"layout={layout}"))
    fa = sorted(str(p.relative_to(a)) for p in a.rglob("*") if p.is_file())
    fb = sorted(str(p.relative_to(b)) for p in b.rglob("*") if p.is_file())
    assert fa == fb and len(fa) == len(TWIN_SPEC)
    for rel in fa:
        assert (a / rel).read_bytes() == (b / rel).read_bytes(), rel
        for key in ["user.dtype", "user.shape", "user.name"]:
            assert os.getxattr(a / rel, key) == os.getxattr(b / rel, key), (rel, key)
    for name, (dtype, shape, raw) in tensors.items():
        path = a / expect.Namespace(Named(tensors), layout).path_of[name]
        assert path.read_bytes() == raw
    r = inspect("diff", "--json", bin_dir, st_dir / "model.safetensors")
    assert r.returncode == 0, r.stdout + r.stderr
    diff = json.loads(r.stdout)["tensors"]
    assert len(diff) == len(TWIN_SPEC)
    assert all(t["status"] == "identical" for t in diff), diff


# --- what the fixtures (torch 1.13) do not hold: _rebuild_tensor_v3 dtypes, parameters ---

def test_writer_v3_dtypes_parameters_and_views(tmp_path, mount):
    """float8/uint16/32/64 over an UntypedStorage (_rebuild_tensor_v3, as torch >= 2.1 writes
    them), ComplexDoubleStorage, _rebuild_parameter, _rebuild_from_type_v2, and a strided
    view whose bytes this test gathers itself."""
    rng = __import__("random").Random(5)
    raw = {k: rng.randbytes(n) for k, n in
           [("0", 24), ("1", 48), ("2", 64), ("3", 96), ("4", 40), ("5", 256), ("6", 24)]}
    p = Pickle().op(b"}(")
    expect_ = {}
    for key, dtype in [("0", "F8_E4M3"), ("1", "U16"), ("2", "U32"), ("3", "U64"), ("4", "F8_E5M2")]:
        size = V3_DTYPE[dtype][1]
        shape = [2, len(raw[key]) // size // 2]
        p.str(f"v3.{dtype.lower()}")
        tensor_v3_ops(p, key, dtype, len(raw[key]), 0, shape, row_major(shape))
        expect_[f"v3.{dtype.lower()}"] = (dtype, shape, raw[key])
    p.str("c128")
    tensor_ops(p, "5", None, 16, 0, [4, 4], [4, 1], storage_class="ComplexDoubleStorage")
    expect_["c128"] = ("C128", [4, 4], raw["5"])
    p.str("param")
    parameter_ops(p, lambda q: tensor_ops(q, "6", "F32", 6, 0, [2, 3], [3, 1]))
    expect_["param"] = ("F32", [2, 3], raw["6"])
    p.str("typed")
    from_type_ops(p, "6", "F32", 6, [3, 2])
    expect_["typed"] = ("F32", [3, 2], raw["6"])
    # A [3,2] transpose of a [2,3] U16 block at element offset 2 of storage 1: gathered here.
    p.str("t16")
    tensor_v3_ops(p, "1", "U16", 48, 2, [3, 2], [1, 3])
    u16 = [raw["1"][i * 2:i * 2 + 2] for i in range(24)]
    expect_["t16"] = ("U16", [3, 2], b"".join(u16[2 + i + 3 * j] for i in range(3) for j in range(2)))
    pkl = p.op(b"u").stop()
    buf, _ = zip_archive([("m/data.pkl", pkl)] + [(f"m/data/{k}", v) for k, v in raw.items()])
    (tmp_path / "m.pt").write_bytes(buf)
    mnt = Path(mount(tmp_path / "m.pt", "-o", "layout=flat"))
    assert sorted(os.listdir(mnt)) == sorted(expect_)
    for name, (dtype, shape, data) in expect_.items():
        assert (mnt / name).read_bytes() == data, name
        assert os.getxattr(mnt / name, "user.dtype").decode() == dtype
        assert json.loads(os.getxattr(mnt / name, "user.shape")) == shape
    assert os.getxattr(mnt / "t16", "user.stride") == b"[1,3]"
    assert int(os.getxattr(mnt / "t16", "user.offset")) == int(os.getxattr(mnt / "v3.u16", "user.offset")) + 4
