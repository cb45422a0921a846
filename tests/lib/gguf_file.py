"""A small GGUF reader and writer for the tests (the layout of ggml's
docs/gguf.md: little-endian; magic, version, tensor count, KV count; KVs;
tensor infos; data section aligned to general.alignment, default 32).

The reader returns where every field is, so that tests can mutate a valid
file at exactly the byte they mean; the writer makes files that may be
wrong on purpose. Standard library only.
"""

import struct
from dataclasses import dataclass, field

UINT8, INT8, UINT16, INT16, UINT32, INT32, FLOAT32, BOOL, STRING, ARRAY, UINT64, INT64, FLOAT64 = range(13)
SCALAR = {UINT8: "<B", INT8: "<b", UINT16: "<H", INT16: "<h", UINT32: "<I", INT32: "<i",
          FLOAT32: "<f", BOOL: "<?", UINT64: "<Q", INT64: "<q", FLOAT64: "<d"}

# ggml type id: (name, elements per block, bytes per block) for the types the tests write
GGML = {0: ("F32", 1, 4), 1: ("F16", 1, 2), 2: ("Q4_0", 32, 18), 8: ("Q8_0", 32, 34),
        12: ("Q4_K", 256, 144), 14: ("Q6_K", 256, 210), 30: ("BF16", 1, 2)}


@dataclass
class KV:
    key: str
    type: int
    at: int          # offset of the key's length
    value_at: int    # offset of the value (arrays: of the item type)


@dataclass
class Info:
    name: str
    at: int          # offset of the name's length
    n_dims_at: int
    ne: list
    type_at: int
    type: int
    offset_at: int
    offset: int


@dataclass
class Parsed:
    version: int
    n_tensors: int
    n_kv: int
    kvs: list = field(default_factory=list)
    infos: list = field(default_factory=list)
    infos_end: int = 0
    alignment: int = 32
    data_offset: int = 0


class _R:
    def __init__(self, data):
        self.d, self.p = data, 0

    def unpack(self, fmt):
        v = struct.unpack_from(fmt, self.d, self.p)[0]
        self.p += struct.calcsize(fmt)
        return v

    def string(self):
        n = self.unpack("<Q")
        s = self.d[self.p:self.p + n]
        self.p += n
        return s.decode()

    def value(self, t):
        if t == STRING:
            return self.string()
        if t == ARRAY:
            it, n = self.unpack("<I"), self.unpack("<Q")
            return [self.value(it) for _ in range(n)]
        return self.unpack(SCALAR[t])


def parse(data):
    r = _R(data)
    assert data[:4] == b"GGUF"
    r.p = 4
    g = Parsed(r.unpack("<I"), r.unpack("<Q"), r.unpack("<Q"))
    for _ in range(g.n_kv):
        at = r.p
        key = r.string()
        t = r.unpack("<I")
        kv = KV(key, t, at, r.p)
        v = r.value(t)
        if key == "general.alignment":
            g.alignment = v
        g.kvs.append(kv)
    for _ in range(g.n_tensors):
        at = r.p
        name = r.string()
        nd_at = r.p
        nd = r.unpack("<I")
        ne = [r.unpack("<Q") for _ in range(nd)]
        t_at = r.p
        t = r.unpack("<I")
        o_at = r.p
        g.infos.append(Info(name, at, nd_at, ne, t_at, t, o_at, r.unpack("<Q")))
    g.infos_end = r.p
    g.data_offset = (r.p + g.alignment - 1) // g.alignment * g.alignment
    return g


def _value(t, v, item_type=None):
    if t == STRING:
        b = v.encode() if isinstance(v, str) else v
        return struct.pack("<Q", len(b)) + b
    if t == ARRAY:
        it, items = v
        return struct.pack("<IQ", it, len(items)) + b"".join(_value(it, x) for x in items)
    return struct.pack(SCALAR[t], v)


def kv(key, t, v):
    """One encoded KV: v is a scalar, a str, or (item_type, [items]) for ARRAY."""
    k = key.encode() if isinstance(key, str) else key
    return struct.pack("<Q", len(k)) + k + struct.pack("<I", t) + _value(t, v)


def info(name, ne, ggml_type, offset):
    n = name.encode() if isinstance(name, str) else name
    return (struct.pack("<Q", len(n)) + n + struct.pack("<I", len(ne)) +
            b"".join(struct.pack("<Q", x) for x in ne) + struct.pack("<IQ", ggml_type, offset))


def nbytes(ne, ggml_type):
    _, be, bb = GGML[ggml_type]
    n = 1
    for x in ne:
        n *= x
    return n // be * bb


def write(kvs=(), tensors=(), alignment=32, version=3):
    """A GGUF file: kvs are encoded KVs (kv()), tensors (name, ne, ggml_type)
    laid out in order, each at the next aligned offset, with bytes i % 251."""
    body = b"".join(kvs)
    infos, off = [], 0
    for name, ne, t in tensors:
        off = (off + alignment - 1) // alignment * alignment
        infos.append(info(name, ne, t, off))
        off += nbytes(ne, t)
    head = b"GGUF" + struct.pack("<IQQ", version, len(tensors), len(kvs)) + body + b"".join(infos)
    out = bytearray(head)
    if tensors:
        out += b"\0" * (-len(out) % alignment)
        start = len(out)
        for (name, ne, t), i in zip(tensors, infos):
            o = struct.unpack_from("<Q", i, len(i) - 8)[0]
            n = nbytes(ne, t)
            if start + o + n - len(out) > 1 << 24:
                break  # absurd sizes (overflow tests): no data at all
            out += b"\0" * (start + o - len(out))
            out += bytes(x % 251 for x in range(n))
    return bytes(out)
