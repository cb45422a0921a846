"""Invalid and hostile PyTorch files: each is generated here (from the
fixtures by mutation, or written with tests/lib/pytorch_writer.py, or as a
few bytes), and `weightfs FILE MNT` must exit 4 with exactly one line on
stderr that names the file and says what is wrong, and mount nothing."""

import json
import os
import struct
from pathlib import Path

import pytest

from pytorch_writer import Pickle, tensor_ops, zip_archive

SAMPLES = Path(__file__).resolve().parents[1] / "data" / "pytorch-samples"
EXIT_INVALID = 4
F32_24 = bytes(range(24))  # six F32 values


# --- builders ---------------------------------------------------------------

def state_dict(*items, proto=b""):
    """A data.pkl: a dict of (name, writer) items, writer(p) writes the value."""
    p = Pickle().op(proto).op(b"}(")
    for name, value in items:
        p.str(name)
        value(p)
    return p.op(b"u").stop()


def tensor(key="0", dtype="F32", numel=6, offset=0, shape=(2, 3), stride=(3, 1), cls=None):
    return lambda p: tensor_ops(p, key, dtype, numel, offset, list(shape), list(stride), cls)


def checkpoint(data_pkl=None, storages=((("0"), F32_24),), folder="archive", extra=(), data_method=0):
    """A zip checkpoint: data.pkl (default: one F32 [2,3] tensor 'w') and its storages."""
    if data_pkl is None:
        data_pkl = state_dict(("w", tensor()))
    entries = [(f"{folder}/data.pkl", data_pkl)]
    entries += [(f"{folder}/data/{k}", raw, data_method) for k, raw in storages]
    entries += list(extra) + [(f"{folder}/version", b"3\n")]
    return zip_archive(entries)


def cd_entry(buf, name):
    """Offset of the central directory header of entry @name."""
    at = bytes(buf).rfind(name.encode())
    assert at > 46 and buf[at - 46:at - 42] == b"PK\1\2"
    return at - 46


def patch(buf, off, fmt, *values):
    buf = bytearray(buf)
    struct.pack_into(fmt, buf, off, *values)
    return bytes(buf)


def zip_mutation(fn):
    """fn(buf, where) -> mutated bytes of the default checkpoint."""
    def build():
        buf, where = checkpoint()
        return fn(buf, where)
    return build


def pickle_bytes(body):
    """A data.pkl of raw opcodes after PROTO 2."""
    return lambda: checkpoint(b"\x80\x02" + body)[0]


def data_pkl(pkl, **kw):
    return lambda: checkpoint(pkl, **kw)[0]


def legacy_mutation(fn):
    return lambda: fn(bytearray((SAMPLES / "legacy_format.pt").read_bytes()))


def fixture_mutation(name, fn):
    return lambda: fn(bytearray((SAMPLES / name).read_bytes()))


def legacy_little_endian_false(b):
    at = bytes(b).find(b"little_endian")
    assert b[at + len(b"little_endian") + 2] == 0x88  # BINPUT n, then NEWTRUE
    b[at + len(b"little_endian") + 2] = 0x89
    return bytes(b)


def legacy_count(b):
    """The first storage's int64 element count (where the manifest says it is) made wrong."""
    manifest = json.loads((SAMPLES / "manifest.json").read_text())
    at = manifest["files"]["legacy_format.pt"]["tensors"]["steps"]["storage"]["numel_prefix_offset"]
    assert struct.unpack_from("<q", b, at)[0] == 3
    b[at:at + 8] = struct.pack("<q", 999)
    return bytes(b)


def top_level_tensor():
    p = Pickle()
    tensor()(p)
    return p.stop()


def nested_tuples(n):
    return b"K\x00" + b"\x85" * n + b"."


def shared_reference_bomb(levels=40):
    """L0 = {'x': 1}; Ln = {'a': Ln-1, 'b': Ln-1}: 2^40 names from 40 dicts."""
    body = b"}q\x00X\x01\x00\x00\x00xK\x01s0"
    for i in range(1, levels + 1):
        body += b"}(X\x01\x00\x00\x00ah" + bytes([i - 1]) + b"X\x01\x00\x00\x00bh" + bytes([i - 1]) + b"uq" + bytes([i]) + b"0"
    return body + b"h" + bytes([levels]) + b"."


def rebuild(fn_module, fn_name, args_writer):
    def w(p):
        p.glob(fn_module, fn_name).mark()
        args_writer(p)
        p.op(b"t").op(b"R")
    return w


def zip64_locator_outside(buf, where):
    at = bytes(buf).rfind(b"PK\6\7")
    return patch(buf, at + 8, "<Q", len(buf) * 4)


def move_cd(buf, where):
    at = bytes(buf).rfind(b"PK\6\6")
    return patch(buf, at + 48, "<Q", len(buf) + 100)


CASES = {
    # --- the zip container
    "truncated-zip": (fixture_mutation("views.pt", lambda b: bytes(b[:1000])), "end of central directory"),
    "truncated-to-header": (fixture_mutation("views.pt", lambda b: bytes(b[:40])), "end of central directory"),
    "empty-file": (lambda: b"", "not a PyTorch checkpoint"),
    "not-a-checkpoint": (lambda: b"hello, world\n" * 4, "not a PyTorch checkpoint"),
    "entry-past-the-end": (zip_mutation(lambda b, w: patch(b, cd_entry(b, "archive/data/0") + 42, "<I",
                                                            len(b) + 10)), "outside the entries"),
    "entry-size-past-the-end": (zip_mutation(lambda b, w: patch(b, cd_entry(b, "archive/data/0") + 20, "<II",
                                                                 1 << 30, 1 << 30)), "run past the entries"),
    "overlapping-entries": (zip_mutation(lambda b, w: patch(b, cd_entry(b, "archive/data.pkl") + 20, "<II",
                                                             w["archive/data.pkl"][2] + 64,
                                                             w["archive/data.pkl"][2] + 64)), "overlap"),
    "local-header-other-name": (zip_mutation(lambda b, w: patch(b, w["archive/data/0"][0] + 30, "<1s", b"X")),
                                "disagrees with the central directory"),
    "local-header-other-method": (zip_mutation(lambda b, w: patch(b, w["archive/data/0"][0] + 8, "<H", 8)),
                                  "disagrees with the central directory"),
    "no-local-header": (zip_mutation(lambda b, w: patch(b, w["archive/data/0"][0], "<4s", b"XXXX")),
                        "no local header"),
    "compressed-tensor-entry": (lambda: checkpoint(data_method=8)[0], "is compressed"),
    "unknown-method": (zip_mutation(lambda b, w: patch(patch(b, cd_entry(b, "archive/version") + 10, "<H", 12),
                                                       w["archive/version"][0] + 8, "<H", 12)),
                       "compression method 12"),
    "encrypted-entry": (zip_mutation(lambda b, w: patch(b, cd_entry(b, "archive/data/0") + 8, "<H", 9)),
                        "encrypted"),
    "duplicate-entry": (lambda: zip_archive([("archive/data.pkl", state_dict(("w", tensor()))),
                                             ("archive/data/0", F32_24), ("archive/data/0", F32_24)])[0],
                        "appears twice"),
    "entries-in-two-folders": (lambda: checkpoint(extra=[("other/x", b"1")])[0], "is not in the folder"),
    "no-data-pkl": (lambda: zip_archive([("archive/data/0", F32_24), ("archive/version", b"3\n")])[0],
                    "no data.pkl"),
    "zip64-locator-outside": (zip_mutation(zip64_locator_outside), "zip64"),
    "central-directory-outside": (zip_mutation(move_cd), "central directory"),
    "crc-mismatch": (zip_mutation(lambda b, w: patch(b, cd_entry(b, "archive/data.pkl") + 16, "<I", 0xdeadbeef)),
                     "CRC-32"),
    "big-endian-byteorder": (lambda: checkpoint(extra=[("archive/byteorder", b"big")])[0], "byteorder"),
    # --- tensors and storages
    "view-past-storage": (data_pkl(state_dict(("w", tensor(offset=1)))), "past its storage"),
    "stride-past-storage": (data_pkl(state_dict(("w", tensor(stride=(4, 1))))), "past its storage"),
    "negative-size": (data_pkl(state_dict(("w", tensor(shape=(-2, 3))))), "negative"),
    "negative-stride": (data_pkl(state_dict(("w", tensor(stride=(3, -1))))), "negative"),
    "negative-offset": (data_pkl(state_dict(("w", tensor(offset=-4)))), "storage offset"),
    "overflowing-size": (data_pkl(state_dict(("w", tensor(shape=(1 << 62, 1 << 62))))), "overflows"),
    "overflowing-stride": (data_pkl(state_dict(("w", tensor(shape=(3, 3), stride=((1 << 63) - 1, 1))))),
                           "overflow"),
    "overflowing-offset": (data_pkl(state_dict(("w", tensor(offset=(1 << 63) - 1)))), "overflows"),
    "too-many-dims": (data_pkl(state_dict(("w", tensor(shape=(1,) * 65, stride=(1,) * 65)))), "dimensions"),
    "sizes-strides-differ": (data_pkl(state_dict(("w", tensor(stride=(1,))))), "strides"),
    "missing-storage": (data_pkl(state_dict(("w", tensor(key="99")))), "has no zip entry"),
    "storage-size-mismatch": (data_pkl(state_dict(("w", tensor(numel=7)))), "does not fill"),
    "quantized-storage": (data_pkl(state_dict(("w", tensor(cls="QInt8Storage")))), "quantized"),
    "unknown-storage-class": (data_pkl(state_dict(("w", tensor(cls="FooStorage")))), "unknown storage class"),
    "quantized-rebuild": (data_pkl(state_dict(("w", rebuild("torch._utils", "_rebuild_qtensor",
                                                            lambda p: p.int(0))))), "not supported"),
    "top-level-tensor": (data_pkl(top_level_tensor()), "without a name"),
    "duplicate-keys": (data_pkl(state_dict(("w", tensor()), ("w", tensor()))), "duplicate key"),
    "flattened-duplicate": (data_pkl(Pickle().op(b"}(").str("a.b").op(b"N").str("a").op(b"}(").str("b")
                                     .op(b"Nu").op(b"u").stop()), "duplicate key"),
    "name-with-nul": (data_pkl(state_dict(("w\0x", tensor()))), "NUL"),
    "name-not-utf8": (data_pkl(state_dict((b"w\xff", tensor()))), "UTF-8"),
    "metadata-key-with-nul": (data_pkl(state_dict(("w", tensor()), ("a\0b", lambda p: p.int(1)))), "NUL"),
    "metadata-key-not-utf8": (data_pkl(state_dict(("w", tensor()), (b"\xc0\x80", lambda p: p.int(1)))),
                              "not valid UTF-8"),
    # --- the pickle machine
    "unknown-opcode": (pickle_bytes(b"}\xff."), "unknown pickle opcode 0xff"),
    "inst-opcode": (pickle_bytes(b"(ios\nsystem\n."), "INST"),
    "ext1-opcode": (pickle_bytes(b"\x82\x01."), "EXT1"),
    "nested-tuple-bomb": (pickle_bytes(nested_tuples(5000)), "nested deeper"),
    "shared-reference-bomb": (pickle_bytes(shared_reference_bomb()), "shared references"),
    "items-bomb": (pickle_bytes(b"K\x01q\x000]" + (b"(" + b"h\x00" * 60000 + b"e") * 150 + b"."), "items"),
    "mark-bomb": (pickle_bytes(b"(" * 5000 + b"."), "MARKs nested deeper"),
    "memo-never-stored": (pickle_bytes(b"h\x05."), "memo index 5 was never stored"),
    "memo-index-huge": (pickle_bytes(b"}r\xff\xff\xff\x7f."), "exceeds the limit"),
    "huge-binunicode": (pickle_bytes(b"X\xf0\xff\xff\xff" + b"a" * 8 + b"."), "exceeds the limit"),
    "binunicode-past-the-end": (pickle_bytes(b"X\x00\x00\x10\x00" + b"a" * 8 + b"."), "past the end"),
    "huge-binunicode8": (pickle_bytes(b"\x8d" + struct.pack("<Q", 1 << 62) + b"."), "exceeds the limit"),
    "no-stop": (pickle_bytes(b"}(X\x01\x00\x00\x00w"), "without STOP"),
    "stack-underflow": (pickle_bytes(b"t."), "no MARK"),
    "setitems-without-dict": (pickle_bytes(b"K\x01(K\x01K\x02u."), "not a dict"),
    "reduce-of-non-global": (pickle_bytes(b"))R."), "not a GLOBAL"),
    "protocol-1": (lambda: checkpoint(b"\x80\x01}.")[0], "protocol 1"),
    "stop-with-two-values": (pickle_bytes(b"}}."), "STOP"),
    # --- the legacy stream
    "legacy-truncated": (legacy_mutation(lambda b: bytes(b[:-10])), "past the end of the file"),
    "legacy-cut-in-pickles": (legacy_mutation(lambda b: bytes(b[:300])), "object"),
    "legacy-big-endian": (legacy_mutation(legacy_little_endian_false), "little_endian"),
    "legacy-count-mismatch": (legacy_mutation(legacy_count), "elements"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_invalid_pytorch(tmp_path, run_weightfs, case):
    build, fragment = CASES[case]
    name = "bad.pt"
    (tmp_path / name).write_bytes(build())
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_weightfs(tmp_path / name, mnt)
    lines = [l for l in r.stderr.splitlines() if l.strip()]
    assert r.returncode == EXIT_INVALID, f"exit {r.returncode}:\n{r.stderr}"
    assert not os.path.ismount(mnt)
    assert len(lines) == 1, f"not one line:\n{r.stderr}"
    assert name in lines[0], lines[0]
    assert fragment in lines[0], lines[0]
    assert "\ufffd" not in lines[0], "the message is not valid UTF-8"


def test_there_are_enough_cases():
    assert len(CASES) >= 30


def test_compressed_data_pkl_is_read(tmp_path, mount):
    """A deflated data.pkl (allowed; torch stores it, other writers may not) is inflated."""
    pkl = state_dict(("w", tensor()))
    buf, _ = zip_archive([("archive/data.pkl", pkl, 8), ("archive/data/0", F32_24), ("archive/version", b"3\n")])
    (tmp_path / "ok.pt").write_bytes(buf)
    mnt = Path(mount(tmp_path / "ok.pt"))
    assert (mnt / "w").read_bytes() == F32_24


def test_plain_zip_without_zip64_or_descriptor(tmp_path, mount):
    pkl = state_dict(("w", tensor()))
    buf, _ = zip_archive([("x/data.pkl", pkl), ("x/data/0", F32_24)], align=0, zip64=False, descriptor=False)
    (tmp_path / "ok.bin").write_bytes(buf)
    mnt = Path(mount(tmp_path / "ok.bin"))
    assert (mnt / "w").read_bytes() == F32_24
