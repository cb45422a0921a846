"""Invalid models and bad command lines: `weightfs SOURCE MNT` must exit with
the README's code, print the README's message fragment on a line naming the
file, and mount nothing."""

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Optional

import pytest

import expect
from safetensors_writer import random_tensors, write_raw, write_safetensors

BAD = "bad.safetensors"
GOOD = "good.safetensors"
INDEX = expect.INDEX_NAME
MNT = "<MNT>"  # replaced with a fresh mountpoint
NOT_INTEGER = "is not a non-negative integer"
BAD_SHARD_PATH = "is not a relative path inside the model directory"
EXIT_USAGE, EXIT_SOURCE, EXIT_INVALID, EXIT_MOUNT = 2, 3, 4, 5


@dataclass(frozen=True)
class Case:
    id: str
    build: Callable[[Path], list]  # case directory -> arguments (with MNT)
    code: int = EXIT_INVALID
    fragments: tuple = ()          # each a str, or a tuple of alternatives
    file: Optional[str] = BAD      # the file the problem line must name


# --- builders ------------------------------------------------------------

def tensor(name="x", dtype="U8", shape="[4]", offsets="[0,4]", extra=""):
    """One raw header member, written by hand so that anything can be wrong."""
    return f'"{name}":{{"dtype":"{dtype}","shape":{shape},"data_offsets":{offsets}{extra}}}'


def members(*parts):
    return "{" + ",".join(parts) + "}"


def header(text, data=b"\0" * 4, header_len=None):
    """bad.safetensors with a raw header (str or bytes) and data section."""
    return lambda d: [write_raw(d / BAD, text, data, header_len), MNT]


def bad_tensor(data=b"\0" * 4, **fields):
    return header(members(tensor(**fields)), data)


def raw_file(content):
    def build(d):
        (d / BAD).write_bytes(content)
        return [d / BAD, MNT]
    return build


def sparse_header_over_limit(d):
    """A header length of 100,000,001 in a file that really is that long
    (sparse), so that only the limit is wrong."""
    path = d / BAD
    path.write_bytes(struct.pack("<Q", 100_000_001) + b"{")
    os.truncate(path, 8 + 100_000_001)
    return [path, MNT]


def write_good(path, names=("x",)):
    spec = {name: ("U8", (4,)) for name in names}
    return write_safetensors(path, random_tensors(spec))


def index_dir(index, shards=None, source=None):
    """A model directory with an index (dict, or raw str) and valid shards
    (file name -> tensor names; default good.safetensors holding x).
    SOURCE is the directory unless a file name is given."""
    def build(d):
        for shard, names in (shards if shards is not None else {GOOD: ("x",)}).items():
            write_good(d / shard, names)
        text = index if isinstance(index, str) else json.dumps(index)
        (d / INDEX).write_text(text)
        return [d / (source or ""), MNT]
    return build


def weight_map(mapping, **extra):
    return {"weight_map": mapping, **extra}


def index_naming_invalid_shard(d):
    write_raw(d / BAD, members(tensor(dtype="Q7")), b"\0" * 4)
    (d / INDEX).write_text(json.dumps(weight_map({"x": BAD})))
    return [d, MNT]


def directory_without_model(d):
    (d / "config.json").write_text("{}")
    return [d, MNT]


def outside_shard(shard_name):
    """An index naming a valid shard outside (or by an absolute path to)
    the model directory."""
    def build(d):
        model_dir = d / "model"
        model_dir.mkdir()
        write_good(d / "x.safetensors")
        shard = str(d / "x.safetensors") if shard_name == "ABS" else shard_name
        (model_dir / INDEX).write_text(json.dumps(weight_map({"x": shard})))
        return [model_dir, MNT]
    return build


def merged_dir(files):
    """A directory without index holding valid files (name -> tensors)."""
    def build(d):
        for name, names in files.items():
            write_good(d / name, names)
        return [d, MNT]
    return build


def cli(*args):
    """Arguments around a valid model: SRC is replaced by it."""
    def build(d):
        source = write_good(d / GOOD)
        return [source if a == "SRC" else a for a in args]
    return build


def mountpoint_is_a_file(d):
    source = write_good(d / GOOD)
    (d / "file").write_text("not a directory\n")
    return [source, d / "file"]


def nested(depth):
    return "[" * depth + "]" * depth


# --- the cases -----------------------------------------------------------

CASES = [
    # the 8-byte length and the header's bytes
    Case("header-length-0", header(b"", b"", header_len=0), fragments=("header length is 0",)),
    Case("file-of-7-bytes", raw_file(b"\x02\0\0\0\0\0\0"),
         fragments=("shorter than the 8-byte header length",)),
    Case("empty-file", raw_file(b""), fragments=("shorter than the 8-byte header length",)),
    Case("header-past-eof", header("{}", b"", header_len=1000),
         fragments=("runs past the end of the file",)),
    Case("header-length-2^64-1", header("{}", b"", header_len=2**64 - 1),
         fragments=(("exceeds the limit of 100000000 bytes", "runs past the end of the file"),)),
    Case("header-over-limit", sparse_header_over_limit,
         fragments=("exceeds the limit of 100000000 bytes",)),
    Case("non-utf8", header(b'{"x\xff":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}'),
         fragments=("header is not valid UTF-8",)),
    Case("utf8-surrogate", header(b'{"\xed\xa0\x80":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}'),
         fragments=("header is not valid UTF-8",)),
    Case("utf8-overlong", header(b'{"\xc0\xaf":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}}'),
         fragments=("header is not valid UTF-8",)),
    Case("not-json", header('{"x":{"dtype":'), fragments=("header is not valid JSON",)),
    Case("json-array", header("[1,2]", b""), fragments=("header is not a JSON object",)),
    Case("bytes-after-object", header(members(tensor()) + " 1"),
         fragments=("unexpected bytes after the header's JSON object",)),
    Case("nul-padding", header(members(tensor()) + "\0\0\0"),
         fragments=("unexpected bytes after the header's JSON object",)),
    Case("nested-10000-deep", header(members(tensor(shape=nested(10_000))), b""),
         fragments=("nested more than 64 levels deep",)),
    Case("nested-100-deep", header(members(tensor(shape=nested(100))), b""),
         fragments=("nested more than 64 levels deep",)),
    # keys
    Case("duplicate-tensor", header(members(tensor(), tensor())), fragments=('duplicate key "x"',)),
    Case("duplicate-key-in-entry", bad_tensor(extra=',"dtype":"U8"'),
         fragments=('duplicate key "dtype"',)),
    Case("duplicate-key-in-metadata",
         header(members('"__metadata__":{"k":"a","k":"b"}', tensor())),
         fragments=('duplicate key "k"',)),
    Case("duplicate-metadata", header(members('"__metadata__":{}', '"__metadata__":{}', tensor())),
         fragments=('duplicate key "__metadata__"',)),
    Case("metadata-non-string", header(members('"__metadata__":{"k":1}', tensor())),
         fragments=("__metadata__ must be null or an object of strings",)),
    Case("metadata-array", header(members('"__metadata__":["a"]', tensor())),
         fragments=("__metadata__ must be null or an object of strings",)),
    Case("entry-not-object", header('{"x":5}', b""), fragments=('tensor "x": entry is not an object',)),
    Case("missing-data_offsets", header('{"x":{"dtype":"U8","shape":[4]}}'),
         fragments=('tensor "x": missing "data_offsets"',)),
    Case("missing-dtype", header('{"x":{"shape":[4],"data_offsets":[0,4]}}'),
         fragments=('tensor "x": missing "dtype"',)),
    # (an unknown key in a tensor entry is accepted with a warning: test_conformance.py)
    Case("lone-high-surrogate-escape", header(members(tensor(name="a\\ud800"))),
         fragments=("header is not valid UTF-8", "unpaired surrogate")),
    Case("lone-low-surrogate-escape", header(members(tensor(name="\\udc00b"))),
         fragments=("header is not valid UTF-8", "unpaired surrogate")),
    Case("reversed-surrogate-pair", header(members(tensor(name="\\udc00\\ud800"))),
         fragments=("header is not valid UTF-8", "unpaired surrogate")),
    Case("nul-in-name", header(members(tensor(name="a\\u0000b"))),
         fragments=("contains a NUL byte",)),
    # dtypes
    Case("unknown-dtype", bad_tensor(dtype="Q7"), fragments=('tensor "x": unknown dtype "Q7"',)),
    Case("lowercase-dtype", bad_tensor(dtype="bf16", shape="[2]"),
         fragments=('tensor "x": unknown dtype "bf16"',)),
    Case("sub-byte-mid-byte", bad_tensor(dtype="F4", shape="[3]", offsets="[0,2]", data=b"\0\0"),
         fragments=('tensor "x": F4 [3] is 12 bits, not a whole number of bytes',)),
    Case("f6-mid-byte", bad_tensor(dtype="F6_E2M3", shape="[2]", offsets="[0,2]", data=b"\0\0"),
         fragments=('tensor "x": F6_E2M3 [2] is 12 bits, not a whole number of bytes',)),
    # numbers
    Case("shape-not-array", bad_tensor(shape="4"),
         fragments=('tensor "x": shape must be an array of non-negative integers',)),
    Case("negative-shape", bad_tensor(shape="[-1]"), fragments=("-1 " + NOT_INTEGER,)),
    Case("float-shape", bad_tensor(shape="[2.0]", offsets="[0,2]", data=b"\0\0"),
         fragments=("2.0 " + NOT_INTEGER,)),
    Case("exponent-shape", bad_tensor(shape="[1e1]", offsets="[0,10]", data=b"\0" * 10),
         fragments=(NOT_INTEGER,)),
    Case("minus-zero-shape", bad_tensor(shape="[-0]", offsets="[0,0]", data=b""),
         fragments=(NOT_INTEGER,)),
    Case("string-number-shape", bad_tensor(shape='["4"]'),
         fragments=((NOT_INTEGER, "shape must be an array of non-negative integers"),)),
    Case("2^64-in-shape", bad_tensor(shape="[18446744073709551616]"),
         fragments=("18446744073709551616 does not fit in 64 bits",)),
    Case("2^64-in-offsets", bad_tensor(offsets="[0,18446744073709551616]"),
         fragments=("18446744073709551616 does not fit in 64 bits",)),
    Case("negative-offset", bad_tensor(offsets="[-1,4]"), fragments=("-1 " + NOT_INTEGER,)),
    Case("one-offset", bad_tensor(offsets="[4]"),
         fragments=('tensor "x": data_offsets must be an array of two non-negative integers',)),
    Case("three-offsets", bad_tensor(offsets="[0,4,4]"),
         fragments=('tensor "x": data_offsets must be an array of two non-negative integers',)),
    Case("element-count-overflow",
         bad_tensor(shape="[4294967296,4294967296,2]", offsets="[0,0]", data=b""),
         fragments=('tensor "x": element count of shape', "overflows 64 bits")),
    Case("byte-count-overflow", bad_tensor(dtype="F64", shape="[4611686018427387904]",
                                           offsets="[0,0]", data=b""),
         fragments=('tensor "x"',)),
    # data offsets and the data section
    Case("reversed-offsets", bad_tensor(shape="[8]", offsets="[12,4]", data=b"\0" * 12),
         fragments=('tensor "x": data_offsets [12,4] are reversed',)),
    Case("length-mismatch", bad_tensor(dtype="I32", shape="[2,2]", offsets="[0,12]", data=b"\0" * 12),
         fragments=('tensor "x": data_offsets [0,12] do not match I32 [2,2] (16 bytes)',)),
    Case("gap", header(members(tensor(), tensor("y", offsets="[8,12]")), b"\0" * 12),
         fragments=("belong to no tensor",)),
    Case("gap-at-start", bad_tensor(offsets="[4,8]", data=b"\0" * 8),
         fragments=("belong to no tensor",)),
    Case("overlap", header(members(tensor(shape="[8]", offsets="[0,8]"),
                                   tensor("y", shape="[8]", offsets="[4,12]")), b"\0" * 12),
         fragments=("overlap tensor",)),
    Case("trailing-bytes", bad_tensor(data=b"\0" * 6), fragments=("bytes after the last tensor",)),
    Case("truncated-data", bad_tensor(shape="[8]", offsets="[0,8]"),
         fragments=("run past the end of the data section",)),
    # indexes
    Case("index-with-bom", index_dir("\ufeff" + json.dumps(weight_map({"x": GOOD}))),
         fragments=("starts with a UTF-8 byte order mark",), file=INDEX),
    Case("index-lone-surrogate", index_dir('{"weight_map":{"x\\udc00":"good.safetensors"}}'),
         fragments=("unpaired surrogate",), file=INDEX),
    Case("index-shard-only-dots", index_dir(weight_map({"x": "./."})),
         fragments=(BAD_SHARD_PATH,), file=INDEX),
    Case("index-missing-shard", index_dir(weight_map({"x": "missing.safetensors"}), {}),
         fragments=('shard "missing.safetensors": No such file or directory',), file=INDEX),
    Case("index-json-source-missing-shard",
         index_dir(weight_map({"x": GOOD, "y": "missing.safetensors"}), source=INDEX),
         fragments=('shard "missing.safetensors": No such file or directory',), file=INDEX),
    Case("index-absolute-shard", outside_shard("ABS"), fragments=(BAD_SHARD_PATH,), file=INDEX),
    Case("index-dotdot-shard", outside_shard("../x.safetensors"),
         fragments=('shard "../x.safetensors" ' + BAD_SHARD_PATH,), file=INDEX),
    Case("index-inner-dotdot-shard", index_dir(weight_map({"x": "sub/../" + GOOD})),
         fragments=(BAD_SHARD_PATH,), file=INDEX),
    Case("index-backslash-shard", index_dir(weight_map({"x": "sub\\" + GOOD})),
         fragments=(BAD_SHARD_PATH,), file=INDEX),
    Case("index-control-char-shard", index_dir(weight_map({"x": "a\nb.safetensors"})),
         fragments=(BAD_SHARD_PATH,), file=INDEX),
    Case("index-tensor-not-in-shard", index_dir(weight_map({"x": GOOD, "ghost": GOOD})),
         fragments=(f'tensor "ghost": not found in shard "{GOOD}" named by the index',), file=None),
    Case("index-without-weight_map", index_dir({"metadata": {"total_size": 4}}),
         fragments=('"weight_map" is missing',), file=INDEX),
    Case("index-not-json", index_dir('{"weight_map": {'), fragments=("not valid JSON",), file=INDEX),
    Case("index-duplicate-key", index_dir(f'{{"weight_map":{{"x":"{GOOD}","x":"{GOOD}"}}}}'),
         fragments=('duplicate key "x"',), file=INDEX),
    Case("index-metadata-not-object", index_dir(weight_map({"x": GOOD}, metadata=[1])),
         fragments=("metadata",), file=INDEX),
    Case("index-names-invalid-shard", index_naming_invalid_shard,
         fragments=('tensor "x": unknown dtype "Q7"',), file=BAD),
    Case("index-tensor-in-two-shards",
         index_dir(weight_map({"x": "a.safetensors", "y": "b.safetensors"}),
                   {"a.safetensors": ("x",), "b.safetensors": ("x", "y")}),
         fragments=('tensor "x" is in both',), file=None),
    Case("parts-tensor-in-two-files",
         merged_dir({"m-00001-of-00002.safetensors": ("x", "y"), "m-00002-of-00002.safetensors": ("x",)}),
         fragments=('tensor "x" is in both',), file=None),
    # SOURCE
    Case("nonexistent-source", lambda d: [d / "nonexistent", MNT], code=EXIT_SOURCE,
         fragments=("nonexistent",), file=None),
    Case("empty-directory", lambda d: [d, MNT], code=EXIT_SOURCE,
         fragments=("no model index and no model files",), file=None),
    Case("directory-without-model", directory_without_model, code=EXIT_SOURCE,
         fragments=("no model index and no model files",), file=None),
    # command line and mountpoint
    Case("missing-mountpoint", cli("SRC"), code=EXIT_USAGE, file=None),
    Case("no-arguments", cli(), code=EXIT_USAGE, file=None),
    Case("extra-argument", cli("SRC", MNT, "extra"), code=EXIT_USAGE, file=None),
    Case("unknown-option", cli("--bogus", "SRC", MNT), code=EXIT_USAGE, file=None),
    Case("unknown-layout", cli("-o", "layout=bogus", "SRC", MNT), code=EXIT_USAGE, file=None),
    Case("bad-readahead", cli("-o", "readahead_kb=lots", "SRC", MNT), code=EXIT_USAGE, file=None),
    Case("unknown-io", cli("-o", "io=mmap", "SRC", MNT), code=EXIT_USAGE, file=None),
    Case("nonexistent-mountpoint", cli("SRC", "/nonexistent/weightfs-mnt"),
         code=EXIT_MOUNT, file=None),
    Case("mountpoint-is-a-file", mountpoint_is_a_file, code=EXIT_MOUNT, file=None),
]


def problem_lines(stderr):
    return [line for line in stderr.splitlines() if line.strip()]


def line_reports(line, case):
    """Whether one output line carries every fragment of the case (and the
    file name before the first of them)."""
    positions = []
    for fragment in case.fragments:
        alternatives = fragment if isinstance(fragment, tuple) else (fragment,)
        found = [line.find(a) for a in alternatives if a in line]
        if not found:
            return False
        positions.append(min(found))
    if case.file is None:
        return True
    named = line.find(case.file + ": ")
    return named != -1 and named < min(positions, default=len(line))


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_invalid_input(run_weightfs, new_mountpoint, tmp_path, case):
    case_dir = tmp_path / "case"
    case_dir.mkdir()
    mnt = new_mountpoint()
    args = [mnt if a == MNT else a for a in case.build(case_dir)]
    result = run_weightfs(*args)
    assert not os.path.ismount(mnt), "an invalid input must not be mounted"
    assert result.returncode == case.code, result.stderr
    assert problem_lines(result.stderr), "an error must be explained on stderr"
    if case.fragments:
        assert any(line_reports(line, case) for line in problem_lines(result.stderr)), \
            f"no line of stderr has {case.fragments} (naming {case.file}):\n{result.stderr}"


def test_there_are_enough_cases():
    assert len([c for c in CASES if c.code == EXIT_INVALID]) >= 25


def test_one_line_per_problem(run_weightfs, new_mountpoint, tmp_path):
    path = write_raw(tmp_path / BAD, members(
        tensor("x", dtype="Q7"), tensor("y", dtype="bf16", offsets="[4,8]")), b"\0" * 8)
    result = run_weightfs(path, new_mountpoint())
    assert result.returncode == EXIT_INVALID
    lines = problem_lines(result.stderr)
    assert any('tensor "x": unknown dtype "Q7"' in line for line in lines), result.stderr
    assert any('tensor "y": unknown dtype "bf16"' in line for line in lines), result.stderr


def test_at_most_50_problem_lines(run_weightfs, new_mountpoint, tmp_path):
    bad = [tensor(f"t{i}", dtype="Q7", offsets=f"[{4 * i},{4 * i + 4}]") for i in range(80)]
    path = write_raw(tmp_path / BAD, members(*bad), b"\0" * 320)
    result = run_weightfs(path, new_mountpoint())
    assert result.returncode == EXIT_INVALID
    reported = [line for line in problem_lines(result.stderr) if "unknown dtype" in line]
    assert 2 <= len(reported) <= 50, result.stderr
