"""ONNX models and TensorFlow tensor bundles mounted for real, against the
manifests of tests/data/onnx-samples and tests/data/tf-samples: every
tensor's bytes (sha256), dtype and shape, the metadata xattrs, the SOURCE
forms, and `weightfs-inspect verify` with its checksums."""

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))

import onnx_writer as ow  # noqa: E402
import tfbundle_writer as tw  # noqa: E402
from protobuf_writer import ld  # noqa: E402
from weightfs_binaries import inspect_binary  # noqa: E402

DATA = Path(__file__).resolve().parents[1] / "data"
ONNX = DATA / "onnx-samples"
TF = DATA / "tf-samples"
ONNX_MANIFEST = json.loads((ONNX / "manifest.json").read_text())
TF_MANIFEST = json.loads((TF / "manifest.json").read_text())


def xattr(path, name):
    return os.getxattr(path, name).decode()


def flat(name):
    """A tensor's file name in the flat layout: '/' cannot be in one."""
    return name.replace("%", "%25").replace("/", "%2F")


def shape_text(shape):
    return "[" + ",".join(str(d) for d in shape) + "]"


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def inspect(*args):
    return subprocess.run([str(inspect_binary()), *map(str, args)], capture_output=True, text=True, timeout=60)


# ---- ONNX -------------------------------------------------------------------

ONNX_SOURCES = {
    "raw_data.onnx": ONNX / "raw_data.onnx",
    "typed_fields.onnx": ONNX / "typed_fields.onnx",
    "external_single/model.onnx": ONNX / "external_single",
    "external_per_tensor/model.onnx": ONNX / "external_per_tensor",
}


@pytest.mark.parametrize("key", list(ONNX_SOURCES))
def test_onnx_fixture_matches_manifest(mount, key):
    want = ONNX_MANIFEST["files"][key]
    mnt = mount(ONNX_SOURCES[key], "-o", "layout=flat")
    names = sorted(p.name for p in mnt.iterdir())
    assert names == sorted(want["initializers"]), "the mount shows exactly the initializers"
    for name, t in want["initializers"].items():
        path = mnt / name
        assert sha256(path) == t["sha256"], name
        assert path.stat().st_size == t["nbytes"], name
        assert xattr(path, "user.dtype") == t["dtype"], name
        assert xattr(path, "user.shape") == shape_text(t["shape"]), name
        assert xattr(path, "user.onnx.stored_in") == t["stored_in"], name
    assert xattr(mnt, "user.format") == "onnx"
    assert xattr(mnt, "user.onnx.producer_name") == want["producer_name"]
    assert xattr(mnt, "user.onnx.producer_version") == want["producer_version"]
    assert xattr(mnt, "user.onnx.ir_version") == str(want["ir_version"])
    assert xattr(mnt, "user.onnx.opset") == ",".join(want["opset_import"])


@pytest.mark.parametrize("key", list(ONNX_SOURCES))
def test_onnx_fixture_verifies(key):
    r = inspect("verify", "--hash", ONNX_SOURCES[key])
    assert r.returncode == 0, r.stderr
    got = dict(reversed(line.split("  ", 1)) for line in r.stdout.splitlines() if "  " in line)
    want = {n: t["sha256"] for n, t in ONNX_MANIFEST["files"][key]["initializers"].items()}
    assert got == want


def test_onnx_external_files_are_not_ordinary_files(mount):
    mnt = mount(ONNX / "external_single", "-o", "layout=flat")
    assert not (mnt / "weights.bin").exists()
    mnt = mount(ONNX / "external_per_tensor", "-o", "layout=flat")
    assert not (mnt / "304233f7-ec8e-11f1-9426-0300deadbeef").exists()
    assert "onnx::MatMul_17" in os.listdir(mnt)


def test_onnx_names_split_at_dots_but_exporter_names_stay_whole(mount):
    mnt = mount(ONNX / "raw_data.onnx", "-o", "layout=tree")
    assert (mnt / "fc1" / "weight").is_file()
    assert (mnt / "onnx::MatMul_17").is_file()


def test_onnx_subgraph_sparse_metadata(mount, tmp_path):
    """Initializers of an If branch, a sparse_initializer, metadata_props."""
    sub = ow.graph([ow.tensor("branch.w", ow.FLOAT, [2], raw=b"\x00\x00\x80\x3f\x00\x00\x00\x40")])
    values = ow.tensor("sp", ow.FLOAT, [2], raw=b"\x00\x00\x40\x40\x00\x00\x80\x40")
    indices = ow.tensor("", ow.INT64, [2], field=7, values=[1, 5])
    g = ow.graph([ow.tensor("top", ow.INT16, [3], field=5, values=[1, -2, 300])],
                 nodes=[ow.node_with_subgraph(sub)], sparse=[ow.sparse(values, indices, [2, 4])])
    path = tmp_path / "m.onnx"
    path.write_bytes(ow.model(g, metadata=[("author", "me"), ("license", "CC0")],
                              opsets=[("", 17), ("ai.onnx.ml", 3)]))
    mnt = mount(path, "-o", "layout=flat")
    assert sorted(os.listdir(mnt)) == ["branch.w", "sp.indices", "sp.values", "top"]
    assert (mnt / "top").read_bytes() == b"\x01\x00\xfe\xff\x2c\x01"
    assert xattr(mnt / "top", "user.onnx.stored_in") == "int32_data"
    assert (mnt / "branch.w").read_bytes() == b"\x00\x00\x80\x3f\x00\x00\x00\x40"
    assert xattr(mnt / "branch.w", "user.onnx.graph") == "if_node.then_branch"
    with pytest.raises(OSError):
        xattr(mnt / "top", "user.onnx.graph")
    assert (mnt / "sp.indices").read_bytes() == (1).to_bytes(8, "little") + (5).to_bytes(8, "little")
    assert xattr(mnt / "sp.values", "user.onnx.sparse_dims") == "[2,4]"
    assert xattr(mnt, "user.metadata.author") == "me"
    assert xattr(mnt, "user.metadata.license") == "CC0"
    assert xattr(mnt, "user.onnx.opset") == "ai.onnx:17,ai.onnx.ml:3"


def test_onnx_string_initializers_are_a_warning(run_weightfs, new_mountpoint, tmp_path):
    g = ow.graph([ow.tensor("s", ow.STRING, [1], extra=b"\x32\x02hi"),
                  ow.tensor("x", ow.UINT8, [1], raw=b"\x07")])
    path = tmp_path / "m.onnx"
    path.write_bytes(ow.model(g))
    mnt = new_mountpoint()
    r = run_weightfs(path, mnt, "-o", "layout=flat")
    try:
        assert r.returncode == 0, r.stderr
        assert os.listdir(mnt) == ["x"]
        assert 'STRING initializer not shown: "s"' in r.stderr
    finally:
        subprocess.run(["fusermount3", "-u", str(mnt)], capture_output=True)


# ---- TensorFlow ---------------------------------------------------------------

TF_PREFIXES = list(TF_MANIFEST["files"])


def saved_model_dir(prefix):
    return TF / Path(prefix).parent.parent


@pytest.mark.parametrize("prefix", TF_PREFIXES)
def test_tf_saved_model_matches_manifest(mount, prefix):
    want = TF_MANIFEST["files"][prefix]
    mnt = mount(saved_model_dir(prefix), "-o", "layout=flat")
    for name, t in want["tensors"].items():
        path = mnt / flat(name)
        assert sha256(path) == t["sha256"], name
        assert xattr(path, "user.dtype") == t["dtype"], name
        assert xattr(path, "user.shape") == shape_text(t["shape"]), name
        assert xattr(path, "user.crc32c") == "%08x" % t["crc32c_masked"], name
    for name in want["not_tensors"]:
        assert not (mnt / name).exists()
    assert xattr(mnt, "user.format") == "tfbundle"
    # the SavedModel's other files are ordinary files; the bundle's are not
    assert (mnt / "saved_model.pb").is_file()
    assert not (mnt / "variables" / "variables.index").exists()
    assert not (mnt / "variables" / "variables.data-00000-of-00001").exists()


@pytest.mark.parametrize("prefix", TF_PREFIXES)
def test_tf_verify_checks_crc32c(prefix):
    r = inspect("verify", "--hash", saved_model_dir(prefix))
    assert r.returncode == 0, r.stderr
    want = TF_MANIFEST["files"][prefix]["tensors"]
    got = dict(reversed(line.split("  ", 1)) for line in r.stdout.splitlines() if "  " in line)
    assert got == {n: t["sha256"] for n, t in want.items()}


def test_tf_source_forms(mount, tmp_path):
    prefix = "saved_model_half_plus_two_mkl/00000123/variables/variables"
    want = sorted(flat(n) for n in TF_MANIFEST["files"][prefix]["tensors"])
    for source in (TF / prefix, TF / f"{prefix}.index"):
        mnt = mount(source, "-o", "layout=flat")
        assert sorted(os.listdir(mnt)) == want, source
    # a directory with a `checkpoint` file naming the prefix
    ckpt = tmp_path / "ckpt"
    ckpt.mkdir()
    for f in (TF / prefix).parent.iterdir():
        shutil.copy(f, ckpt / f.name.replace("variables", "model.ckpt-7"))
    (ckpt / "checkpoint").write_text('model_checkpoint_path: "model.ckpt-7"\n'
                                     'all_model_checkpoint_paths: "model.ckpt-7"\n')
    mnt = mount(ckpt, "-o", "layout=flat")
    assert sorted(n for n in os.listdir(mnt) if n != "checkpoint") == want
    # older TF writes the absolute path of where it saved: the bundle next to the file is meant
    (ckpt / "checkpoint").write_text('model_checkpoint_path: "/tmp/train/model.ckpt-7"\n')
    mnt = mount(ckpt, "-o", "layout=flat")
    assert sorted(n for n in os.listdir(mnt) if n != "checkpoint") == want


def test_tf_names_split_at_slash(mount):
    mnt = mount(TF / "saved_model_half_plus_two_mkl/00000123", "-o", "layout=tree")
    assert (mnt / "conv2d" / "kernel").is_file()
    assert xattr(mnt / "conv2d" / "kernel", "user.shape") == "[1,1,1,1]"
    mnt = mount(TF / "saved_model_half_plus_two_tf2_cpu/00000123")
    assert (mnt / "a" / ".ATTRIBUTES" / "VARIABLE_VALUE").is_file()


def test_tf_written_bundle_with_types(mount, tmp_path):
    """A bundle written here: several dtypes, more entries than one block."""
    tensors = [(f"layer_{i:03d}/kernel", tw.DT_FLOAT, [2, 2], bytes(range(i, i + 16))) for i in range(100)]
    tensors += [("h", tw.DT_HALF, [3], b"\x00\x3c" * 3), ("i", tw.DT_INT64, [], (7).to_bytes(8, "little")),
                ("bf", tw.DT_BFLOAT16, [1], b"\x80\x3f")]
    tw.write_bundle(tmp_path / "model.ckpt", tensors)
    mnt = mount(tmp_path / "model.ckpt", "-o", "layout=flat")
    assert len(os.listdir(mnt)) == 103
    assert xattr(mnt / "h", "user.dtype") == "F16"
    assert xattr(mnt / "bf", "user.dtype") == "BF16"
    assert (mnt / "i").read_bytes() == (7).to_bytes(8, "little")
    assert (mnt / flat("layer_042/kernel")).read_bytes() == bytes(range(42, 58))
    assert inspect("verify", tmp_path / "model.ckpt").returncode == 0


def test_tf_partitioned_variable_shows_its_slices(mount, tmp_path):
    """A variable saved in two slices (rows 0-1 and 2-3 of [4,2]) and one in
    slices of both dims with a negative-free large start: each slice is a
    tensor NAME@SPEC with its spec in user.tf.slice."""
    top, bottom = bytes(range(16)), bytes(range(100, 116))
    entries = [(b"", tw.header_proto())]
    data = top + bottom
    for i, (ext, payload) in enumerate((([(0, 2), (0, -1)], top), ([(2, 2), (0, -1)], bottom))):
        entries.append((tw.slice_key("part/w", ext),
                        tw.entry_proto(tw.DT_FLOAT, [2, 2], 0, 16 * i, 16, tw.mask(tw.crc32c(payload)))))
    big = bytes(range(200, 208))
    entries.append((tw.slice_key("big", [(300, 2), (70000, 1)]),
                    tw.entry_proto(tw.DT_FLOAT, [2, 1], 0, 32, 8, tw.mask(tw.crc32c(big)))))
    data += big
    entries.append((b"big", tw.entry_proto(tw.DT_FLOAT, [302, 70001], 0, 0, 0,
                                           extra=ld(7, tw.slice_proto([(300, 2), (70000, 1)])))))
    entries.append((b"part/w", tw.entry_proto(tw.DT_FLOAT, [4, 2], 0, 0, 0,
                                              extra=ld(7, tw.slice_proto([(0, 2), (0, -1)])) +
                                              ld(7, tw.slice_proto([(2, 2), (0, -1)])))))
    entries.sort(key=lambda e: e[0])
    (tmp_path / "model.ckpt.index").write_bytes(tw.table(entries))
    (tmp_path / "model.ckpt.data-00000-of-00001").write_bytes(data)
    mnt = mount(tmp_path / "model.ckpt", "-o", "layout=tree")
    assert sorted(os.listdir(mnt / "part")) == ["w@0,2:-", "w@2,2:-"]
    assert (mnt / "part" / "w@0,2:-").read_bytes() == top
    assert (mnt / "part" / "w@2,2:-").read_bytes() == bottom
    assert xattr(mnt / "part" / "w@2,2:-", "user.tf.slice") == "2,2:-"
    assert xattr(mnt / "part" / "w@2,2:-", "user.shape") == "[2,2]"
    assert (mnt / "big@300,2:70000,1").read_bytes() == big
    assert inspect("verify", tmp_path / "model.ckpt").returncode == 0


def test_tf_verify_fails_on_a_wrong_crc32c(tmp_path):
    shutil.copytree(TF / "saved_model_half_plus_two_cpu/00000123", tmp_path / "m")
    data = tmp_path / "m/variables/variables.data-00000-of-00001"
    os.chmod(data, 0o644)
    raw = bytearray(data.read_bytes())
    raw[5] ^= 0x01  # inside tensor a2
    data.write_bytes(raw)
    r = inspect("verify", tmp_path / "m")
    assert r.returncode == 4
    lines = [line for line in r.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and 'tensor "a2": masked CRC-32C' in lines[0], r.stderr


@pytest.mark.parametrize("source,fmt,files", [
    (ONNX / "external_single", "onnx", "2 files: model.onnx and the files it refers to"),
    (TF / "saved_model_counter/00000123", "tfbundle", "2 files: variables/variables.index and the files it refers to"),
])
def test_inspect_summary_names_the_format(source, fmt, files):
    r = inspect("summary", source)
    assert r.returncode == 0, r.stderr
    assert f"format       {fmt}\n" in r.stdout
    assert f"files        {files}\n" in r.stdout
    r = inspect("summary", "--json", source)
    assert json.loads(r.stdout)["format"] == fmt
