"""summary and ls against the oracle in stmodel.py: the shared sample files,
and generated models in every SOURCE form (single file, merged directory,
sharded with an index, index file, Hugging Face cache)."""

import fnmatch
import json
import math
import random
import re

import pytest

import stmodel
from safetensors_dtypes import DTYPE_BITS, nbytes
from stmodel import DTYPES


def random_shape(rng, dtype):
    group = {4: 2, 6: 4}.get(DTYPE_BITS[dtype], 1)
    kind = rng.random()
    if kind < 0.08 and group == 1:
        return ()
    if kind < 0.14:
        return (0, rng.randint(1, 9))
    dims = [rng.randint(1, 9) for _ in range(rng.randint(1, 3))]
    dims[-1] *= group
    return tuple(dims)


def random_tensors(rng, count, prefix="model"):
    """(name, dtype, shape, bytes) with numbered names, every dtype."""
    out = []
    for i in range(count):
        dtype = DTYPES[i % len(DTYPES)]
        shape = random_shape(rng, dtype)
        name = f"{prefix}.layers.{rng.randint(0, 30)}.block{i}.{rng.choice(['w', 'b', 'scale'])}"
        out.append((name, dtype, shape, rng.randbytes(nbytes(dtype, shape))))
    return out


def make_sharded(directory, rng, shards=3, count=40, index_name=stmodel.INDEX, metadata=None):
    directory.mkdir(parents=True, exist_ok=True)
    tensors = random_tensors(rng, count)
    weight_map = {}
    for s in range(shards):
        part = tensors[s::shards]
        fname = f"model-{s + 1:05d}-of-{shards:05d}.safetensors"
        stmodel.write_safetensors(directory / fname, part, {"format": "pt", "shard": str(s)})
        weight_map.update({t[0]: fname for t in part})
    total = sum(len(t[3]) for t in tensors)
    meta = {"total_size": total} if metadata is None else metadata
    stmodel.write_index(directory / index_name, weight_map, meta)
    (directory / "config.json").write_text('{"model_type": "llama"}')
    return directory


def check_summary(inspect, source):
    got = inspect.json("summary", source)
    want = stmodel.read_model(source)
    params, counts = {}, {}
    for t in want.tensors.values():
        params[t.dtype] = params.get(t.dtype, 0) + t.elements
        counts[t.dtype] = counts.get(t.dtype, 0) + 1
    assert got["format"] == "safetensors"
    assert got["layout"] == want.layout
    assert got["sharded"] == (want.layout == "sharded")
    assert got["index"] == want.index
    assert got["shards"] == len(want.files)
    assert got["files"] == want.files
    assert got["tensors"] == len(want.tensors)
    assert got["total_bytes"] == sum(len(t.data) for t in want.tensors.values())
    assert got["parameters"] == params
    assert list(got["parameters"]) == [d for d in DTYPES if d in params]  # spec order
    assert got["tensors_by_dtype"] == counts
    assert got["total_parameters"] == sum(params.values())
    assert got["metadata"] == want.metadata
    assert got["index_metadata"] == want.index_metadata
    return got


def check_ls(inspect, source, *globs):
    got = inspect.json("ls", source, *globs)["tensors"]
    want = stmodel.read_model(source).tensors
    names = [n for n in want if not globs or any(fnmatch.fnmatchcase(n, g) for g in globs)]
    assert [r["name"] for r in got] == stmodel.natural_sorted(names)
    for row in got:
        t = want[row["name"]]
        assert row == {"name": t.name, "dtype": t.dtype, "shape": list(t.shape),
                       "bytes": len(t.data), "shard": t.shard, "offset": t.offset}
    return got


# --- the shared samples -----------------------------------------------------------

SAMPLE_DTYPES = {"B": "U8", "H": "U16", "I": "U32", "b": "I8", "h": "I16", "i": "I32",
                 "e": "F16", "f": "F32", "d": "F64"}


@pytest.mark.parametrize("name", sorted(SAMPLE_DTYPES) + ["overall"])
def test_samples_summary_and_ls(inspect, samples, name):
    source = samples / f"{name}.safetensors"
    got = check_summary(inspect, source)
    assert got["metadata"] == {"test": "a"}
    rows = check_ls(inspect, source)
    expect = SAMPLE_DTYPES if name == "overall" else {name: SAMPLE_DTYPES[name]}
    assert {r["name"]: r["dtype"] for r in rows} == expect
    assert all(r["shape"] == [6] for r in rows)


@pytest.mark.parametrize("name", sorted(SAMPLE_DTYPES))
def test_samples_values(inspect, samples, name):
    """range(-3, 3) cast to the dtype (unsigned types wrap)."""
    rows = inspect.json("stats", samples / f"{name}.safetensors")["tensors"]
    (row,) = rows
    bits = DTYPE_BITS[SAMPLE_DTYPES[name]]
    want = [v % (1 << bits) if SAMPLE_DTYPES[name].startswith("U") else v for v in range(-3, 3)]
    assert row["first"] == want
    assert row["count"] == 6 and row["zeros"] == 1
    assert row["min"] == min(want) and row["max"] == max(want)


def test_samples_directory_as_subdirectories(inspect, samples):
    """Ten unrelated files: each is its own model (a subdirectory of the mount)."""
    out = inspect.json("summary", samples)
    assert out["tensors"] == 9 + 9 and out["shards"] == 10


# --- generated models ------------------------------------------------------------

@pytest.mark.parametrize("seed", range(3))
def test_single_file(inspect, tmp_path, seed):
    rng = random.Random(seed)
    path = stmodel.write_safetensors(tmp_path / "model.safetensors", random_tensors(rng, 60),
                                     {"format": "pt", "note": "é \"quoted\"\n"})
    check_summary(inspect, path)
    check_ls(inspect, path)
    check_summary(inspect, tmp_path)  # the directory holding it


def test_merged_directory(inspect, tmp_path):
    rng = random.Random(7)
    tensors = random_tensors(rng, 50)
    for k in range(3):
        stmodel.write_safetensors(tmp_path / f"m-0000{k + 1}-of-00003.safetensors", tensors[k::3],
                                  {"format": "pt", f"key{k}": "v"})
    (tmp_path / "README.md").write_text("not a model")
    got = check_summary(inspect, tmp_path)
    assert got["layout"] == "merged" and got["shards"] == 3 and got["index"] is None
    assert got["metadata"] == {"format": "pt", "key0": "v", "key1": "v", "key2": "v"}
    check_ls(inspect, tmp_path)


@pytest.mark.parametrize("seed", range(2))
def test_sharded(inspect, tmp_path, seed):
    model = make_sharded(tmp_path / "m", random.Random(seed), shards=4, count=80,
                         metadata={"total_size": 123, "str": "x", "strnum": "3",
                                   "nested": {"a": [1, 2.5, None, True]}})
    got = check_summary(inspect, model)
    # The index metadata keeps its JSON types: 3 is not "3".
    assert got["index_metadata"]["total_size"] == 123
    assert got["index_metadata"]["strnum"] == "3"
    assert got["index_metadata"]["nested"] == {"a": [1, 2.5, None, True]}
    check_ls(inspect, model)
    check_ls(inspect, model / stmodel.INDEX)


def test_index_file_with_another_name(inspect, tmp_path):
    model = make_sharded(tmp_path, random.Random(3), shards=2,
                         index_name="model.fp16.safetensors.index.json")
    got = check_summary(inspect, model / "model.fp16.safetensors.index.json")
    assert got["index"] == "model.fp16.safetensors.index.json"
    check_ls(inspect, model / "model.fp16.safetensors.index.json")


def test_hugging_face_cache(inspect, tmp_path):
    model = make_sharded(tmp_path / "src", random.Random(4), shards=2)
    repo = stmodel.link_hf_cache(model, tmp_path / "hub")
    snapshot = repo / "snapshots" / "0123abcd"
    for source in (repo, snapshot):
        got = check_summary(inspect, source)
        assert got["layout"] == "sharded"
        check_ls(inspect, source)


def test_natural_order(inspect, tmp_path):
    names = [f"model.layers.{i}.w" for i in (10, 2, 0, 1, 11, 100, 9, 20)]
    names += ["lm_head.weight", "model.norm.weight", "model.embed_tokens.weight", "a01", "a1", "a2"]
    random.Random(1).shuffle(names)
    path = stmodel.write_safetensors(tmp_path / "x.safetensors",
                                     [(n, "U8", (1,), b"\x01") for n in names])
    rows = inspect.json("ls", path)["tensors"]
    assert [r["name"] for r in rows] == [
        "a1", "a01", "a2", "lm_head.weight", "model.embed_tokens.weight",
        "model.layers.0.w", "model.layers.1.w", "model.layers.2.w", "model.layers.9.w",
        "model.layers.10.w", "model.layers.11.w", "model.layers.20.w", "model.layers.100.w",
        "model.norm.weight"]
    assert [r["name"] for r in rows] == stmodel.natural_sorted(names)


def test_globs(inspect, tmp_path):
    model = make_sharded(tmp_path, random.Random(5), shards=2, count=60)
    for globs in (["model.layers.1*"], ["*.w", "*.b"], ["model.layers.?.block1?.*"],
                  ["model.layers.[0-3].*"]):
        check_ls(inspect, model, *globs)
    p = inspect.run("ls", model, "model.layers.1*", "nothing.*", check=2)
    assert 'no tensor matches "nothing.*"' in p.stderr


def test_ls_text(inspect, tmp_path):
    model = make_sharded(tmp_path, random.Random(6), shards=2, count=30)
    out = inspect.run("ls", model, check=0).stdout.splitlines()
    assert out[0].split() == ["NAME", "DTYPE", "SHAPE", "BYTES", "SHARD", "OFFSET"]
    want = stmodel.read_model(model).tensors
    names = stmodel.natural_sorted(want)
    assert len(out) == 1 + len(names)
    for line, name in zip(out[1:], names):
        t = want[name]
        shape = "[" + ",".join(map(str, t.shape)) + "]"
        assert line.split() == [name, t.dtype, shape, str(len(t.data)), t.shard, str(t.offset)]
    # The columns line up: every row is as long as the header's columns allow.
    starts = [m.start() for m in re.finditer(r"\S+", out[0])]
    for line in out[1:]:
        assert [m.start() for m in re.finditer(r"\S+", line)][1:2] == starts[1:2]


def test_summary_text(inspect, tmp_path):
    model = make_sharded(tmp_path, random.Random(8), shards=3, count=20)
    out = inspect.run("summary", model, check=0).stdout
    want = stmodel.read_model(model)
    total = sum(t.elements for t in want.tensors.values())
    assert "sharded: 3 shards, index model.safetensors.index.json" in out
    assert re.search(rf"^tensors +{len(want.tensors)}$", out, re.M)
    assert re.search(rf"^parameters +{total}\b", out, re.M)
    assert re.search(r"^index metadata\n  total_size +\d+$", out, re.M)
    assert re.search(r"^__metadata__\n  format +pt\n  shard +0$", out, re.M)


def test_deepseek_shaped_index(inspect, tmp_path):
    """Many shards and tensors: counts, and the names in natural order."""
    weight_map = {}
    shards = 12
    names = [f"model.layers.{n}.mlp.experts.{e}.{p}_proj.{w}" for n in range(3) for e in range(40)
             for p in ("gate", "up", "down") for w in ("weight", "weight_scale_inv")]
    for s in range(shards):
        part = names[s::shards]
        fname = f"model-{s + 1:05d}-of-{shards:06d}.safetensors"
        stmodel.write_safetensors(tmp_path / fname, [
            (n, "F32" if n.endswith("inv") else "F8_E4M3", (1, 1) if n.endswith("inv") else (2, 2),
             bytes(4)) for n in part])
        weight_map.update({n: fname for n in part})
    stmodel.write_index(tmp_path / stmodel.INDEX, weight_map, {"total_size": 4 * len(names)})
    got = check_summary(inspect, tmp_path)
    assert got["tensors"] == len(names) and got["shards"] == shards
    assert got["parameters"] == {"F8_E4M3": 4 * len(names) // 2, "F32": len(names) // 2}
    rows = check_ls(inspect, tmp_path)
    assert rows[0]["name"] == "model.layers.0.mlp.experts.0.down_proj.weight"
    assert rows[-1]["name"] == "model.layers.2.mlp.experts.39.up_proj.weight_scale_inv"


def test_json_is_one_document(inspect, tmp_path):
    path = stmodel.write_safetensors(tmp_path / "x.safetensors",
                                     [("a\u0001\"\\b", "F32", (1,), bytes(4))])
    for cmd in ("summary", "ls", "stats", "verify"):
        out = inspect.run(cmd, path, "--json", check=0).stdout
        assert out.endswith("\n") and out.count("\n") == 1
        json.loads(out)
    rows = inspect.json("ls", path)["tensors"]
    assert rows[0]["name"] == "a\u0001\"\\b"
    assert math.prod(rows[0]["shape"]) == 1
