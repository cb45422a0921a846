"""verify: the invalid inputs the mount rejects are rejected with the same
messages (README.md, Validation) and exit codes; --hash gives the SHA-256
of every tensor's bytes; the extra consistency checks are warnings."""

import hashlib
import json

import pytest

import stmodel
from safetensors_writer import write_raw

T = '"t":{"dtype":"I32","shape":[2,2],"data_offsets":[0,16]}'


def header_file(path, header, data=bytes(16), header_len=None):
    return write_raw(path, header, data, header_len)


# (id, header text or bytes, data, header_len, message fragment)
INVALID_FILES = [
    ("short", None, b"\x01\x02", None, "shorter than the 8-byte header length"),
    ("zero_length", "", b"", 0, "header length is 0"),
    ("huge_length", "{}", b"", 100_000_001, "exceeds the limit of 100000000 bytes"),
    ("past_end", "{}", b"", 64, "runs past the end of the file"),
    ("not_utf8", b'{"\xff":1}', b"", None, "header is not valid UTF-8"),
    ("not_json", "{oops", b"", None, "header is not valid JSON"),
    ("not_object", "[1, 2]", b"", None, "header is not a JSON object"),
    ("deep", '{"a":' * 70 + "1" + "}" * 70, b"", None, "nested more than 64 levels deep"),
    ("trailing_json", "{} {}", b"", None, "unexpected bytes after the header's JSON object"),
    ("duplicate", "{" + T + "," + T + "}", bytes(16), None, 'duplicate key "t"'),
    ("metadata", '{"__metadata__":{"a":1}}', b"", None, "__metadata__ must be null or an object of strings"),
    ("entry", '{"t":3}', b"", None, 'tensor "t": entry is not an object'),
    ("missing", '{"t":{"shape":[1],"data_offsets":[0,1]}}', b"\0", None, 'tensor "t": missing "dtype"'),
    ("unknown_dtype", '{"t":{"dtype":"bf16","shape":[1],"data_offsets":[0,2]}}', b"\0\0", None,
     'tensor "t": unknown dtype "bf16"'),
    ("shape", '{"t":{"dtype":"U8","shape":"x","data_offsets":[0,1]}}', b"\0", None,
     'tensor "t": shape must be an array of non-negative integers'),
    ("negative", '{"t":{"dtype":"U8","shape":[-1],"data_offsets":[0,1]}}', b"\0", None,
     "-1 is not a non-negative integer"),
    ("float", '{"t":{"dtype":"U8","shape":[2.0],"data_offsets":[0,2]}}', b"\0\0", None,
     "2.0 is not a non-negative integer"),
    ("too_big", '{"t":{"dtype":"U8","shape":[18446744073709551616],"data_offsets":[0,1]}}', b"\0",
     None, "18446744073709551616 does not fit in 64 bits"),
    ("offsets", '{"t":{"dtype":"U8","shape":[1],"data_offsets":[0]}}', b"\0", None,
     'tensor "t": data_offsets must be an array of two non-negative integers'),
    ("reversed", '{"t":{"dtype":"U8","shape":[8],"data_offsets":[12,4]}}', bytes(12), None,
     'tensor "t": data_offsets [12,4] are reversed'),
    ("overflow", '{"t":{"dtype":"U8","shape":[4294967296,4294967296],"data_offsets":[0,1]}}',
     b"\0", None, 'tensor "t": element count of shape [4294967296,4294967296] overflows 64 bits'),
    ("mismatch", '{"t":{"dtype":"I32","shape":[2,2],"data_offsets":[0,12]}}', bytes(12), None,
     'tensor "t": data_offsets [0,12] do not match I32 [2,2] (16 bytes)'),
    ("mid_byte", '{"t":{"dtype":"F4","shape":[3],"data_offsets":[0,2]}}', b"\0\0", None,
     'tensor "t": F4 [3] is 12 bits, not a whole number of bytes'),
    ("nul", '{"a\\u0000b":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0", None,
     "contains a NUL byte"),
    ("gap", '{"t":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\0\0", None, "belong to no tensor"),
    ("overlap", '{"t":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
     '"u":{"dtype":"U8","shape":[2],"data_offsets":[1,3]}}', b"\0\0\0", None, 'overlap tensor'),
    ("past_data", '{"t":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}', b"\0\0", None,
     "run past the end of the data section"),
    ("trailing", '{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\0\0", None,
     "bytes after the last tensor"),
]


@pytest.mark.parametrize("case", INVALID_FILES, ids=[c[0] for c in INVALID_FILES])
def test_invalid_file(inspect, tmp_path, case):
    name, header, data, header_len, fragment = case
    path = tmp_path / "bad.safetensors"
    if header is None:
        path.write_bytes(data)
    else:
        write_raw(path, header, data, header_len)
    p = inspect.run("verify", path, check=4)
    assert fragment in p.stderr
    assert p.stderr.startswith("weightfs-inspect: bad.safetensors: ")
    assert p.stdout == ""
    out = inspect.json("verify", path, status=4)
    assert out["valid"] is False and out["exit_code"] == 4
    assert any(fragment in line for line in out["problems"])
    # The other commands refuse it the same way.
    for cmd in ("summary", "ls", "stats"):
        assert fragment in inspect.run(cmd, path, check=4).stderr


def good_shards(directory):
    directory.mkdir(exist_ok=True)
    stmodel.write_safetensors(directory / "s1.safetensors", [("a", "U8", (2,), b"\1\2"), ("b", "F32", (1,), bytes(4))])
    stmodel.write_safetensors(directory / "s2.safetensors", [("c", "I8", (3,), b"\1\2\3")])
    return directory


INVALID_INDEXES = [
    ("no_weight_map", {"metadata": {}}, '"weight_map" is missing'),
    ("bad_path", {"weight_map": {"a": "../s1.safetensors"}},
     'shard "../s1.safetensors" is not a relative path inside the model directory'),
    ("missing_shard", {"weight_map": {"a": "s1.safetensors", "b": "s1.safetensors",
                                      "c": "s2.safetensors", "d": "s3.safetensors"}},
     'shard "s3.safetensors": No such file or directory'),
    ("wrong_shard", {"weight_map": {"a": "s2.safetensors", "b": "s1.safetensors", "c": "s2.safetensors"}},
     'tensor "a": not found in shard "s2.safetensors" named by the index'),
    ("metadata_not_object", {"metadata": [], "weight_map": {"a": "s1.safetensors"}}, "metadata"),
]


@pytest.mark.parametrize("case", INVALID_INDEXES, ids=[c[0] for c in INVALID_INDEXES])
def test_invalid_index(inspect, tmp_path, case):
    _, index, fragment = case
    model = good_shards(tmp_path / "m")
    (model / stmodel.INDEX).write_text(json.dumps(index))
    p = inspect.run("verify", model, check=4)
    assert fragment in p.stderr


def test_tensor_in_two_files(inspect, tmp_path):
    model = tmp_path / "m"
    model.mkdir()
    stmodel.write_safetensors(model / "m-00001-of-00002.safetensors", [("c", "I8", (3,), b"\1\2\3")])
    stmodel.write_safetensors(model / "m-00002-of-00002.safetensors", [("c", "I8", (1,), b"\1")])
    p = inspect.run("verify", model, check=4)
    assert 'tensor "c" is in both "m-00001-of-00002.safetensors" and "m-00002-of-00002.safetensors"' in p.stderr


def test_unreadable_sources(inspect, tmp_path):
    p = inspect.run("verify", tmp_path / "nope", check=3)
    assert "No such file or directory" in p.stderr
    (tmp_path / "empty").mkdir()
    p = inspect.run("verify", tmp_path / "empty", check=3)
    assert "no model index and no model files" in p.stderr
    out = inspect.json("verify", tmp_path / "nope", status=3)
    assert out["valid"] is False and out["exit_code"] == 3


def test_valid_and_hashes(inspect, tmp_path):
    model = good_shards(tmp_path / "m")
    stmodel.write_index(model / stmodel.INDEX, {"a": "s1.safetensors", "b": "s1.safetensors",
                                                 "c": "s2.safetensors"}, {"total_size": 9})
    p = inspect.run("verify", model, check=0)
    assert p.stdout == "valid: 3 tensors in 2 files, 9 bytes\n" and p.stderr == ""
    want = {n: hashlib.sha256(t.data).hexdigest() for n, t in stmodel.read_model(model).tensors.items()}
    p = inspect.run("verify", model, "--hash", check=0)
    # stdout is a clean checksum file; the verdict goes to stderr
    assert p.stdout.splitlines() == [f"{want[n]}  {n}" for n in ("a", "b", "c")]
    assert p.stderr == "weightfs-inspect: valid: 3 tensors in 2 files, 9 bytes\n"
    p = inspect.run("verify", model, "--hash", "b", "c*", check=0)
    assert p.stdout.splitlines() == [f"{want[n]}  {n}" for n in ("b", "c")]
    out = inspect.json("verify", "--hash", model)
    assert out["valid"] and out["problems"] == [] and out["warnings"] == []
    assert out["tensors"] == 3 and out["files"] == 2 and out["total_bytes"] == 9
    assert out["hashed_all"] is True
    assert out["sha256"] == [{"name": n, "bytes": len(stmodel.read_model(model).tensors[n].data),
                              "sha256": want[n]} for n in ("a", "b", "c")]


def test_hash_of_large_tensors(inspect, tmp_path):
    """Tensors of several 4 MiB reads, on several threads, in natural order."""
    import random
    rng = random.Random(9)
    tensors = [(f"t.{i}", "U8", (n,), rng.randbytes(n)) for i, n in
               enumerate([9_000_000, 0, 1, 4 * 1024 * 1024, 4 * 1024 * 1024 + 1, 63, 64, 65])]
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    out = inspect.json("verify", "--hash", "-j", "3", path)
    assert [h["name"] for h in out["sha256"]] == [f"t.{i}" for i in range(8)]
    for h, (_, _, _, data) in zip(out["sha256"], tensors):
        assert h["sha256"] == hashlib.sha256(data).hexdigest()


def test_warnings_and_strict(inspect, tmp_path):
    model = good_shards(tmp_path / "m")
    # total_size is wrong, s3.safetensors is not named.
    stmodel.write_index(model / stmodel.INDEX, {"a": "s1.safetensors", "b": "s1.safetensors",
                                                 "c": "s2.safetensors"}, {"total_size": 10})
    stmodel.write_safetensors(model / "s3.safetensors", [("z", "U8", (1,), b"\0")])
    p = inspect.run("verify", model, check=0)
    assert "warning: model.safetensors.index.json: metadata total_size 10 differs from the 9 bytes" in p.stderr
    assert "warning: s3.safetensors: not named by the index" in p.stderr
    assert p.stdout.endswith("with warnings\n")
    out = inspect.json("verify", model)
    assert out["valid"] and len(out["warnings"]) == 2
    p = inspect.run("verify", "--strict", model, check=4)
    assert "total_size 10 differs" in p.stderr
    # "b" is in a shard the index names, but not in the index: shown, with a warning.
    stmodel.write_index(model / stmodel.INDEX, {"a": "s1.safetensors", "c": "s2.safetensors"},
                        {"total_size": 9})
    (model / "s3.safetensors").unlink()
    p = inspect.run("verify", model, check=0)
    assert 'tensor "b" is not in the index' in p.stderr
    assert inspect.json("summary", model)["tensors"] == 3


def test_unknown_key_is_a_warning_and_strict_makes_it_a_problem(inspect, tmp_path):
    """The reference implementation loads entries with other keys (issue 13)."""
    path = tmp_path / "k.safetensors"
    header = b'{"t":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"k":1}}'
    path.write_bytes(len(header).to_bytes(8, "little") + header + b"\0")
    p = inspect.run("verify", path, check=0)
    assert 'tensor "t": unknown key "k" ignored' in p.stderr and p.stdout.endswith("with warnings\n")
    p = inspect.run("verify", "--strict", path, check=4)
    assert 'tensor "t": unknown key "k" ignored' in p.stderr
    out = inspect.json("verify", "--strict", path, status=4)
    assert any('unknown key "k"' in line for line in out["problems"])
