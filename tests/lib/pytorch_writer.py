"""Writing PyTorch zip checkpoints without torch: the pickle opcodes and the
zip records are written here byte by byte, the way torch.save lays them out
(entries under one folder, stored, data padded to 64 bytes, flag bit 3 with
zero sizes in the local headers and a data descriptor, a zip64 end record),
so that tests can also write any invalid variant.

Format rules: Python's Lib/pickletools.py (opcodes), PKWARE APPNOTE.TXT
(zip records), torch/serialization.py (what data.pkl holds). Nothing here
uses weightfs.
"""

import struct
import zlib
from pathlib import Path

# dtype -> (storage class, element size)
STORAGE = {
    "F64": ("DoubleStorage", 8), "F32": ("FloatStorage", 4), "F16": ("HalfStorage", 2),
    "BF16": ("BFloat16Storage", 2), "I64": ("LongStorage", 8), "I32": ("IntStorage", 4),
    "I16": ("ShortStorage", 2), "I8": ("CharStorage", 1), "U8": ("ByteStorage", 1),
    "BOOL": ("BoolStorage", 1), "C64": ("ComplexFloatStorage", 8),
}


# --- pickle ----------------------------------------------------------------

class Pickle:
    """A protocol-2 pickle written opcode by opcode."""

    def __init__(self):
        self.out = bytearray(b"\x80\x02")  # PROTO 2

    def op(self, raw):
        self.out += raw
        return self

    def mark(self):
        return self.op(b"(")

    def glob(self, module, name):
        return self.op(b"c" + module.encode() + b"\n" + name.encode() + b"\n")

    def str(self, s):
        b = s.encode() if isinstance(s, str) else s
        return self.op(b"X" + struct.pack("<I", len(b)) + b)

    def int(self, i):
        if 0 <= i < 256:
            return self.op(b"K" + bytes([i]))
        if -2**31 <= i < 2**31:
            return self.op(b"J" + struct.pack("<i", i))
        return self.op(b"\x8a\x08" + struct.pack("<q", i))

    def float(self, f):
        return self.op(b"G" + struct.pack(">d", f))

    def tuple_of(self, items):
        self.mark()
        for i in items:
            self.int(i)
        return self.op(b"t")

    def stop(self):
        return bytes(self.op(b".").out)


def tensor_ops(p, key, dtype, numel, offset, shape, stride, storage_class=None):
    """torch._utils._rebuild_tensor_v2(('storage', torch.XStorage, key, 'cpu', numel), offset, shape, stride, False, OrderedDict())."""
    cls = storage_class or STORAGE[dtype][0]
    p.glob("torch._utils", "_rebuild_tensor_v2").mark()
    p.mark().str("storage").glob("torch", cls).str(key).str("cpu").int(numel).op(b"t").op(b"Q")
    p.int(offset).tuple_of(shape).tuple_of(stride).op(b"\x89")
    p.glob("collections", "OrderedDict").op(b")R")
    p.op(b"t").op(b"R")


# torch dtype names of _rebuild_tensor_v3 (torch/storage.py _new_dtypes and the others)
V3_DTYPE = {
    "F8_E4M3": ("float8_e4m3fn", 1), "F8_E5M2": ("float8_e5m2", 1), "U16": ("uint16", 2),
    "U32": ("uint32", 4), "U64": ("uint64", 8), "F32": ("float32", 4), "BF16": ("bfloat16", 2),
}


def tensor_v3_ops(p, key, dtype, nbytes, offset, shape, stride):
    """_rebuild_tensor_v3 over ('storage', torch.UntypedStorage, key, 'cpu', nbytes), dtype torch.<name>."""
    p.glob("torch._utils", "_rebuild_tensor_v3").mark()
    p.mark().str("storage").glob("torch", "UntypedStorage").str(key).str("cpu").int(nbytes).op(b"t").op(b"Q")
    p.int(offset).tuple_of(shape).tuple_of(stride).op(b"\x89")
    p.glob("collections", "OrderedDict").op(b")R")
    p.glob("torch", V3_DTYPE[dtype][0])
    p.op(b"t").op(b"R")


def parameter_ops(p, inner):
    """torch._utils._rebuild_parameter(inner tensor, True, OrderedDict())."""
    p.glob("torch._utils", "_rebuild_parameter").mark()
    inner(p)
    p.op(b"\x88").glob("collections", "OrderedDict").op(b")R").op(b"t").op(b"R")


def from_type_ops(p, key, dtype, numel, shape):
    """torch._tensor._rebuild_from_type_v2(_rebuild_tensor_v2, Parameter, (args...), {})."""
    p.glob("torch._tensor", "_rebuild_from_type_v2").mark()
    p.glob("torch._utils", "_rebuild_tensor_v2").glob("torch.nn.parameter", "Parameter").mark()
    p.mark().str("storage").glob("torch", STORAGE[dtype][0]).str(key).str("cpu").int(numel).op(b"t").op(b"Q")
    p.int(0).tuple_of(shape).tuple_of(row_major(shape)).op(b"\x89")
    p.glob("collections", "OrderedDict").op(b")R").op(b"t")
    p.op(b"}").op(b"t").op(b"R")


def row_major(shape):
    stride, acc = [], 1
    for d in reversed(shape):
        stride.append(acc)
        acc *= d
    return list(reversed(stride))


def state_dict_pickle(entries, metadata=None):
    """entries: list of (name, key, dtype, numel, offset, shape, stride).
    metadata: name -> int/float/str, written as plain leaves of the dict."""
    p = Pickle().glob("collections", "OrderedDict").op(b")R").mark()
    for name, key, dtype, numel, offset, shape, stride in entries:
        p.str(name)
        tensor_ops(p, key, dtype, numel, offset, shape, stride)
    for name, value in (metadata or {}).items():
        p.str(name)
        if isinstance(value, bool):
            p.op(b"\x88" if value else b"\x89")
        elif isinstance(value, int):
            p.int(value)
        elif isinstance(value, float):
            p.float(value)
        else:
            p.str(value)
    return p.op(b"u").stop()


# --- zip -----------------------------------------------------------------------

def zip_archive(entries, align=64, zip64=True, descriptor=True):
    """entries: list of (name, bytes[, method]). Returns (archive bytes,
    {name: (header offset, data offset, stored size)})."""
    out = bytearray()
    central = bytearray()
    where = {}
    for entry in entries:
        name, data = entry[0], entry[1]
        method = entry[2] if len(entry) > 2 else 0
        stored = zlib.compress(data)[2:-4] if method == 8 else data
        crc = zlib.crc32(data)
        bname = name.encode()
        header_off = len(out)
        pad = 0
        if align:
            pad = (-(header_off + 30 + len(bname) + 4)) % align
        extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad if align else b""
        flags = 0x08 if descriptor else 0
        sizes = (0, 0, 0) if descriptor else (crc, len(stored), len(data))
        out += struct.pack("<4sHHHHHIIIHH", b"PK\3\4", 45 if zip64 else 20, flags, method, 0, 0x21,
                           *sizes, len(bname), len(extra)) + bname + extra
        data_off = len(out)
        out += stored
        if descriptor:
            out += struct.pack("<4sIII", b"PK\7\x08", crc, len(stored), len(data))
        where[name] = (header_off, data_off, len(stored))
        central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\1\2", 45 if zip64 else 20, 45 if zip64 else 20,
                               flags, method, 0, 0x21, crc, len(stored), len(data), len(bname), 0, 0, 0, 0, 0,
                               header_off) + bname
    cd_off = len(out)
    out += central
    n = len(entries)
    if zip64:
        rec = len(out)
        out += struct.pack("<4sQHHIIQQQQ", b"PK\6\6", 44, 45, 45, 0, 0, n, n, len(central), cd_off)
        out += struct.pack("<4sIQI", b"PK\6\7", 0, rec, 1)
        out += struct.pack("<4sHHHHIIH", b"PK\5\6", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    else:
        out += struct.pack("<4sHHHHIIH", b"PK\5\6", 0, 0, n, n, len(central), cd_off, 0)
    return bytes(out), where


def checkpoint_bytes(tensors, folder="archive", metadata=None, extra_entries=()):
    """A torch.save-like zip of a state dict. tensors: list of (name, dtype,
    shape, raw bytes), each in its own storage. Returns (bytes, where)."""
    entries, pickled = [], []
    for i, (name, dtype, shape, raw) in enumerate(tensors):
        size = STORAGE[dtype][1]
        numel = len(raw) // size
        pickled.append((name, str(i), dtype, numel, 0, list(shape), row_major(list(shape))))
        entries.append((f"{folder}/data/{i}", raw))
    data_pkl = state_dict_pickle(pickled, metadata)
    return zip_archive([(f"{folder}/data.pkl", data_pkl)] + entries + list(extra_entries) +
                       [(f"{folder}/version", b"3\n")])


def write_checkpoint(path, tensors, metadata=None):
    path = Path(path)
    data, _ = checkpoint_bytes(tensors, folder=path.stem, metadata=metadata)
    path.write_bytes(data)
    return path
