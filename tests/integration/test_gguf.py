"""GGUF models mounted for real, against the manifest of the fixtures
(tests/data/gguf-samples, written by gguf-py; see its README): bytes,
types, ne and shapes, KV xattrs; single files, a split opened from any part
or its directory, vocab-only files, a directory of unrelated .gguf files;
and hostile inputs, each refused with exit 4 and one line naming the file.
"""

import hashlib
import json
import os
import shutil
import struct
from pathlib import Path

import pytest

import gguf_file as gf
from testdata import GGUF_SAMPLES as SAMPLES
MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())
FILES = MANIFEST["files"]
EXIT_INVALID = 4
XATTR_MAX = 65536


def xattrs(path):
    return {k: os.getxattr(path, k) for k in os.listxattr(path)}


def sha256(path):
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_tensors(mnt, manifest_tensors):
    """Every tensor of the manifest: bytes, dtype, shape (row-major), ggml_ne, and nothing else."""
    shown = {p.name for p in Path(mnt).iterdir() if p.is_file()}
    assert shown == set(manifest_tensors)
    for name, t in manifest_tensors.items():
        path = Path(mnt) / name
        assert path.stat().st_size == t["nbytes"], name
        assert sha256(path) == t["sha256"], name
        a = xattrs(path)
        assert a["user.dtype"].decode() == t["type"], name
        assert json.loads(a["user.shape"]) == t["shape"], name
        assert t["shape"] == list(reversed(t["ne"]))
        assert json.loads(a["user.ggml_ne"]) == t["ne"], name
        assert a["user.name"].decode() == name


def same_value(text, m):
    """A user.gguf.KEY value against the manifest's type and value."""
    t = m["type"]
    if t == "STRING":
        return text.decode() == m["value"]
    if t == "BOOL":
        return text.decode() == ("true" if m["value"] else "false")
    if t in ("FLOAT32", "FLOAT64"):
        fmt = "<f" if t == "FLOAT32" else "<d"
        return struct.pack(fmt, float(text)) == struct.pack(fmt, m["value"])
    if t == "ARRAY":
        got = json.loads(text)
        if "value" not in m:  # long arrays: count, first items, sha256 of the compact JSON
            if m["item_type"] not in ("FLOAT32", "FLOAT64"):
                if hashlib.sha256(text).hexdigest() != m["sha256_compact_json"]:
                    return False
            return len(got) == m["count"] and same_value(json.dumps(got[:len(m["first"])]).encode(),
                                                         dict(m, value=m["first"]))
        if m["item_type"] in ("FLOAT32", "FLOAT64"):
            fmt = "<f" if m["item_type"] == "FLOAT32" else "<d"
            return [struct.pack(fmt, x) for x in got] == [struct.pack(fmt, x) for x in m["value"]]
        return got == m["value"]
    return int(text) == m["value"] and text.decode() == str(m["value"])


def check_kvs(attrs, manifest_meta):
    """Every KV is user.gguf.KEY, or too long for an xattr and named in user.gguf.omitted."""
    omitted = json.loads(attrs.get("user.gguf.omitted", b"{}"))
    keys = {k[len("user.gguf."):] for k in attrs if k.startswith("user.gguf.") and k != "user.gguf.omitted"}
    assert keys | set(omitted) == set(manifest_meta)
    assert not keys & set(omitted)
    for key, m in manifest_meta.items():
        if key in omitted:
            o = omitted[key]
            assert o["type"] == m["type"] and o["length"] > XATTR_MAX
            if m["type"] == "ARRAY":
                assert (o["item_type"], o["count"]) == (m["item_type"], m["count"])
            continue
        assert same_value(attrs["user.gguf." + key], m), key


def test_model_gguf(mount):
    mnt = mount(SAMPLES / "model.gguf", "-o", "layout=flat")
    f = FILES["model.gguf"]
    check_tensors(mnt, f["tensors"])
    attrs = xattrs(mnt)
    assert attrs["user.format"] == b"gguf"
    check_kvs(attrs, f["metadata"])
    assert "user.gguf.omitted" not in attrs


def test_modules_layout_splits_at_dots(mount):
    mnt = mount(SAMPLES / "model.gguf")
    assert (mnt / "blk.0" / "attn_q.weight").is_file()
    assert (mnt / "token_embd.weight").is_file()


def split_tensors():
    out = {}
    for name, f in FILES.items():
        if name.startswith("split/"):
            out.update(f["tensors"])
    return out


@pytest.mark.parametrize("source", ["split/model-00001-of-00003.gguf", "split/model-00002-of-00003.gguf",
                                    "split/model-00003-of-00003.gguf", "split"])
def test_split(mount, source):
    mnt = mount(SAMPLES / source, "-o", "layout=flat")
    tensors = split_tensors()
    assert len(tensors) == 22
    check_tensors(mnt, tensors)
    # The same tensors, bytes and all, as the single file.
    assert {n: t["sha256"] for n, t in tensors.items()} == \
        {n: t["sha256"] for n, t in FILES["model.gguf"]["tensors"].items()}
    attrs = xattrs(mnt)
    check_kvs(attrs, FILES["split/model-00001-of-00003.gguf"]["metadata"])
    shards = {xattrs(mnt / n)["user.shard"].decode() for n in tensors}
    assert shards == {f"model-0000{i}-of-00003.gguf" for i in (1, 2, 3)}


def test_vocab_files(mount):
    mnt = mount(SAMPLES / "vocab")
    names = sorted(p.name for p in mnt.iterdir())
    assert names == ["ggml-vocab-bert-bge", "ggml-vocab-llama-spm", "ggml-vocab-phi-3"]
    for name in names:
        sub = mnt / name
        assert list(sub.iterdir()) == []
        attrs = xattrs(sub)
        check_kvs(attrs, FILES[f"vocab/{name}.gguf"]["metadata"])
        assert "tokenizer.ggml.tokens" in json.loads(attrs["user.gguf.omitted"])


@pytest.mark.parametrize("vocab", ["ggml-vocab-bert-bge", "ggml-vocab-llama-spm", "ggml-vocab-phi-3"])
def test_vocab_file_alone(mount, vocab):
    f = FILES[f"vocab/{vocab}.gguf"]
    size = (SAMPLES / "vocab" / f"{vocab}.gguf").stat().st_size
    assert f["tensor_count"] == 0 and f["data_offset"] >= size  # past the end: valid
    mnt = mount(SAMPLES / "vocab" / f"{vocab}.gguf")
    assert list(mnt.iterdir()) == []
    check_kvs(xattrs(mnt), f["metadata"])


def test_directory_of_unrelated_files(mount, tmp_path):
    d = tmp_path / "repo"
    d.mkdir()
    shutil.copy(SAMPLES / "model.gguf", d / "Q_mixed.gguf")
    shutil.copy(SAMPLES / "vocab" / "ggml-vocab-phi-3.gguf", d / "vocab.gguf")
    for p in (SAMPLES / "split").iterdir():
        shutil.copy(p, d / p.name)
    (d / "README.md").write_text("hello\n")
    mnt = mount(d, "-o", "layout=flat")
    assert sorted(p.name for p in mnt.iterdir()) == ["Q_mixed", "README.md", "model", "vocab"]
    check_tensors(mnt / "Q_mixed", FILES["model.gguf"]["tensors"])
    check_tensors(mnt / "model", split_tensors())
    check_kvs(xattrs(mnt / "Q_mixed"), FILES["model.gguf"]["metadata"])
    check_kvs(xattrs(mnt / "model"), FILES["split/model-00001-of-00003.gguf"]["metadata"])
    check_kvs(xattrs(mnt / "vocab"), FILES["vocab/ggml-vocab-phi-3.gguf"]["metadata"])
    assert (mnt / "README.md").read_text() == "hello\n"


# ---- hostile inputs -------------------------------------------------------

MODEL = (SAMPLES / "model.gguf").read_bytes()
PARSED = gf.parse(MODEL)


def mutate(at, new):
    b = bytearray(MODEL)
    b[at:at + len(new)] = new
    return bytes(b)


def info_of(name):
    return next(i for i in PARSED.infos if i.name == name)


def kv_of(key):
    return next(k for k in PARSED.kvs if k.key == key)


Q = struct.pack
SMALL = [("a", [32], 0)]
CASES = {
    # truncated everywhere
    "empty": (b"", "too short for a GGUF file"),
    "magic-only": (b"GGUF", "the file ends"),
    "cut-in-counts": (MODEL[:20], "the file ends (at 20 bytes) inside the GGUF header"),
    "cut-in-kvs": (MODEL[:kv_of("tokenizer.ggml.tokens").value_at + 40], "35 KVs and 22 tensor infos cannot fit"),
    "cut-in-key": (MODEL[:kv_of("general.name").at + 10], "KV count 35 cannot fit"),
    "cut-in-infos": (MODEL[:info_of("blk.1.ffn_up.weight").type_at], "blk.1.ffn_up.weight"),
    "cut-before-data": (MODEL[:PARSED.infos_end + 5], "past the end of the file"),
    "cut-in-data": (MODEL[:len(MODEL) - 100000], "tensors end past it (truncated?)"),
    "cut-in-last-tensor": (MODEL[:len(MODEL) - 1000], "tensor \"output.weight\": 6720 bytes at offset"),
    # header fields
    "bad-magic": (b"GGUG" + MODEL[4:], "not a GGUF file"),
    "version-1": (mutate(4, Q("<I", 1)), "version 1 is not supported"),
    "version-99": (mutate(4, Q("<I", 99)), "version 99 is not supported"),
    "big-endian": (mutate(4, Q(">I", 3)), "big-endian"),
    "tensor-count-2^64-1": (mutate(8, Q("<Q", 2**64 - 1)), "tensor count 18446744073709551615 cannot fit"),
    "kv-count-2^63": (mutate(16, Q("<Q", 2**63)), "KV count 9223372036854775808 cannot fit"),
    "kv-count-one-more": (mutate(16, Q("<Q", PARSED.n_kv + 1)), "tensor info"),
    # KVs
    "key-length-past-end": (mutate(kv_of("general.name").at, Q("<Q", 2**63 + 5)), "string length 9223372036854775813"),
    "string-length-past-end": (mutate(kv_of("general.name").value_at, Q("<Q", 10**12)), "string length 1000000000000"),
    "unknown-value-type": (mutate(kv_of("general.name").at + 8 + len("general.name"), Q("<I", 13)), "unknown value type 13"),
    "unknown-array-item-type": (mutate(kv_of("tokenizer.ggml.tokens").value_at, Q("<I", 77)), "array of unknown value type 77"),
    "array-count-2^62": (mutate(kv_of("tokenizer.ggml.scores").value_at + 4, Q("<Q", 2**62)), "array item count 4611686018427387904 cannot fit"),
    "nested-10000": (gf.write([gf.kv("a", gf.UINT32, 1)]).replace(b"\x01\x00\x00\x00", b"") +
                     b"", None),  # replaced below
    "duplicate-key": (gf.write([gf.kv("k", gf.UINT32, 1), gf.kv("k", gf.UINT32, 2)]), "key \"k\" appears more than once"),
    "key-not-utf8": (gf.write([gf.kv(b"k\xff", gf.UINT32, 1)]), "not valid UTF-8"),
    "key-with-nul": (gf.write([gf.kv(b"k\0j", gf.UINT32, 1)]), "NUL"),
    "string-not-utf8": (gf.write([gf.kv("k", gf.STRING, b"\xc3\x28")]), "not valid UTF-8"),
    "bool-2": (gf.write([gf.kv("k", gf.UINT8, 2)]).replace(b"\x00\x00\x00\x00\x02", b"\x07\x00\x00\x00\x02"), "bool value 2"),
    "alignment-not-power-of-two": (gf.write([gf.kv("general.alignment", gf.UINT32, 48)], SMALL), "48 is not a power of two"),
    "alignment-zero": (gf.write([gf.kv("general.alignment", gf.UINT32, 0)], SMALL), "0 is not a power of two"),
    "alignment-wrong-type": (gf.write([gf.kv("general.alignment", gf.UINT64, 32)], SMALL), "type UINT64, not UINT32"),
    # tensor infos
    "unknown-ggml-type": (mutate(info_of("blk.0.attn_q.weight").type_at, Q("<I", 4)), "tensor \"blk.0.attn_q.weight\": unknown ggml type 4"),
    "ggml-type-2^32-1": (mutate(info_of("output.weight").type_at, Q("<I", 2**32 - 1)), "unknown ggml type 4294967295"),
    "n-dims-5": (mutate(info_of("token_embd.weight").n_dims_at, Q("<I", 5)), "n_dims 5 is more than GGML_MAX_DIMS"),
    "n-dims-2^32-1": (mutate(info_of("token_embd.weight").n_dims_at, Q("<I", 2**32 - 1)), "n_dims 4294967295"),
    "ne-2^63": (mutate(info_of("output_norm.weight").n_dims_at + 4, Q("<Q", 2**63)), "ne[0] = 9223372036854775808 is not below 2^63"),
    "ne-overflow": (gf.write([], [("a", [2**32, 2**32], 0)]), "overflows 2^63"),
    "ne0-not-block-multiple": (gf.write([], [("a", [16, 2], 2)]), "ne[0] = 16 is not a multiple of the Q4_0 block size 32"),
    "misaligned-offset": (mutate(info_of("blk.0.attn_q.weight").offset_at,
                                 Q("<Q", info_of("blk.0.attn_q.weight").offset + 16)), "is not a multiple of the alignment 32"),
    "overlapping-tensors": (mutate(info_of("blk.0.attn_k.weight").offset_at,
                                   Q("<Q", info_of("blk.0.attn_q.weight").offset)), "overlaps tensor"),
    "tensor-past-end": (mutate(info_of("output.weight").offset_at, Q("<Q", len(MODEL))), "run past the end of the file"),
    "offset-2^64-32": (mutate(info_of("output.weight").offset_at, Q("<Q", 2**64 - 32)), "offset 18446744073709551584"),
    "duplicate-tensor-name": (gf.write([], [("a", [8], 0), ("a", [8], 0)]), "tensor \"a\" appears more than once"),
    "tensor-name-nul": (gf.write([], [("a\0b", [8], 0)]), "NUL"),
    "tensor-name-empty": (gf.write([], [("", [8], 0)]), "empty tensor name"),
    "data-past-end": (gf.write([], [("a", [8], 0)])[:gf.parse(gf.write([], [("a", [8], 0)])).infos_end],
                      "the data section would begin at byte 64, past the end of the file (57 bytes)"),
    "split-keys-in-unsplit-name": (gf.write([gf.kv("split.no", gf.UINT16, 0), gf.kv("split.count", gf.UINT16, 3)], SMALL),
                                   "not named NAME-00001-of-00003.gguf"),
    "split-no-not-below-count": (gf.write([gf.kv("split.no", gf.UINT16, 3), gf.kv("split.count", gf.UINT16, 3)], SMALL),
                                 "split.no 3 is not below split.count 3"),
}


def nested(depth):
    body = b""
    for i in range(depth):
        body += Q("<I", gf.ARRAY) + Q("<Q", 1)
    body += Q("<I", gf.UINT8) + Q("<Q", 0)
    return b"GGUF" + Q("<IQQ", 3, 0, 1) + Q("<Q", 1) + b"k" + Q("<I", gf.ARRAY) + body


CASES["nested-10000"] = (nested(10000), "arrays nested more than 8 deep")


def refused(run_weightfs, tmp_path, path, fragment, name):
    mnt = tmp_path / "mnt"
    mnt.mkdir(exist_ok=True)
    r = run_weightfs(path, mnt)
    lines = r.stderr.splitlines()
    assert r.returncode == EXIT_INVALID, r.stderr
    assert len(lines) == 1, r.stderr
    assert fragment in lines[0], r.stderr
    assert name in lines[0], r.stderr
    assert not os.path.ismount(mnt)


@pytest.mark.parametrize("case", sorted(CASES))
def test_hostile(run_weightfs, tmp_path, case):
    data, fragment = CASES[case]
    path = tmp_path / "bad.gguf"
    path.write_bytes(data)
    refused(run_weightfs, tmp_path, path, fragment, "bad.gguf")


def test_hostile_count():
    assert len(CASES) >= 25


# ---- splits that do not fit together --------------------------------------

def copy_split(tmp_path):
    d = tmp_path / "split"
    shutil.copytree(SAMPLES / "split", d)
    return d


def test_split_part_missing(run_weightfs, tmp_path):
    d = copy_split(tmp_path)
    (d / "model-00002-of-00003.gguf").unlink()
    refused(run_weightfs, tmp_path, d / "model-00001-of-00003.gguf", "part 2 of 3 is missing", "model-00001-of-00003.gguf")


def test_split_part_of_another_position(run_weightfs, tmp_path):
    d = copy_split(tmp_path)
    shutil.copy(d / "model-00003-of-00003.gguf", d / "model-00002-of-00003.gguf")
    refused(run_weightfs, tmp_path, d, "the name says part 2 of 3, but its keys say part 3 of 3",
            "model-00002-of-00003.gguf")


def test_split_part_of_another_model(run_weightfs, tmp_path):
    """Part 2 replaced by part 2 of another 3-part split (other tensors)."""
    d = copy_split(tmp_path)
    other = gf.write([gf.kv("split.no", gf.UINT16, 1), gf.kv("split.count", gf.UINT16, 3),
                      gf.kv("split.tensors.count", gf.INT32, 5)], [("x.weight", [32], 0)])
    (d / "model-00002-of-00003.gguf").write_bytes(other)
    refused(run_weightfs, tmp_path, d, "split.tensors.count is 22, but the 3 parts hold 15 tensors",
            "model-00001-of-00003.gguf")


def test_split_tensor_in_two_parts(run_weightfs, tmp_path):
    d = copy_split(tmp_path)
    part3 = bytearray((d / "model-00003-of-00003.gguf").read_bytes())
    p3 = gf.parse(bytes(part3))
    p2 = gf.parse((d / "model-00002-of-00003.gguf").read_bytes())
    # Rename a tensor of part 3 to a name of part 2 of the same length.
    a = p3.infos[0]
    b = next(i for i in p2.infos if len(i.name) == len(a.name))
    part3[a.at + 8:a.at + 8 + len(a.name)] = b.name.encode()
    (d / "model-00003-of-00003.gguf").write_bytes(bytes(part3))
    refused(run_weightfs, tmp_path, d, f"tensor \"{b.name}\" is in both", "model-0000")


def test_split_named_but_without_keys(run_weightfs, tmp_path):
    d = tmp_path / "d"
    d.mkdir()
    (d / "m-00001-of-00002.gguf").write_bytes(gf.write([], [("t1", [8], 0)]))
    (d / "m-00002-of-00002.gguf").write_bytes(gf.write([gf.kv("split.no", gf.UINT16, 1),
                                                        gf.kv("split.count", gf.UINT16, 2)], [("t2", [8], 0)]))
    refused(run_weightfs, tmp_path, d, "named as part 1 of 2 of a split, but it has no split.no", "m-00001-of-00002.gguf")
