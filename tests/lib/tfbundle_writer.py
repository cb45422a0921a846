"""TensorFlow tensor bundles written by hand: a LevelDB-format table
(blocks with prefix-compressed keys and restart points, block trailers with
masked CRC-32C, the 48-byte footer) holding a BundleHeaderProto under key
"" and a BundleEntryProto per tensor; plus the data shard. Uncompressed
blocks only. For tests (valid and broken bundles) and benchmarks."""

import struct

from protobuf_writer import fixed32, ld, uint, varint

MAGIC = 0xDB4775248B80FB57
DT_FLOAT, DT_DOUBLE, DT_INT32, DT_UINT8 = 1, 2, 3, 4
DT_STRING, DT_INT64, DT_BFLOAT16, DT_HALF = 7, 9, 14, 19


def _crc_table():
    table = []
    for i in range(256):
        c = i
        for _ in range(8):
            c = (c >> 1) ^ 0x82F63B78 if c & 1 else c >> 1
        table.append(c)
    return table


_TABLE = _crc_table()


def crc32c(data, crc=0):
    crc ^= 0xFFFFFFFF
    for b in data:
        crc = _TABLE[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def mask(crc):
    return (((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF


def block(entries, restart_interval=16, compression=0):
    """A block's bytes and its 5-byte trailer: entries are (key, value) bytes, sorted."""
    out = bytearray()
    restarts = []
    prev = b""
    for i, (k, v) in enumerate(entries):
        shared = 0
        if i % restart_interval == 0:
            restarts.append(len(out))
        else:
            while shared < min(len(k), len(prev)) and k[shared] == prev[shared]:
                shared += 1
        out += varint(shared) + varint(len(k) - shared) + varint(len(v)) + k[shared:] + v
        prev = k
    if not restarts:
        restarts.append(0)
    for r in restarts:
        out += struct.pack("<I", r)
    out += struct.pack("<I", len(restarts))
    trailer = bytes([compression]) + struct.pack("<I", mask(crc32c(bytes([compression]), crc32c(out))))
    return bytes(out), trailer


def handle(offset, size):
    return varint(offset) + varint(size)


def table(entries, block_entries=64, restart_interval=16):
    """A whole table: data blocks of block_entries entries each, the
    metaindex block (empty), the index block, the footer."""
    out = bytearray()
    index = []
    for i in range(0, max(len(entries), 1), block_entries):
        chunk = entries[i:i + block_entries]
        data, trailer = block(chunk, restart_interval)
        # the separator: at least every key of its block (the largest, even when they are not sorted)
        index.append((max(k for k, _ in chunk) if chunk else b"", handle(len(out), len(data))))
        out += data + trailer
    meta, trailer = block([])
    meta_handle = handle(len(out), len(meta))
    out += meta + trailer
    idx, trailer = block(index, 1)
    index_handle = handle(len(out), len(idx))
    out += idx + trailer
    footer = meta_handle + index_handle
    footer += b"\0" * (40 - len(footer)) + struct.pack("<Q", MAGIC)
    return bytes(out + footer)


def header_proto(num_shards=1, endianness=0, producer=1):
    return uint(1, num_shards) + uint(2, endianness) + ld(3, uint(1, producer))


def shape_proto(dims):
    return b"".join(ld(2, uint(1, d)) for d in dims)


def entry_proto(dtype, dims, shard_id, offset, size, crc=None, extra=b""):
    out = uint(1, dtype) + ld(2, shape_proto(dims))
    if shard_id:
        out += uint(3, shard_id)
    if offset:
        out += uint(4, offset)
    out += uint(5, size)
    if crc is not None:
        out += fixed32(6, crc)
    return out + extra


def write_bundle(prefix, tensors, header=None, entries_extra=None, compute_crc=True):
    """Writes PREFIX.index and PREFIX.data-00000-of-00001 for tensors: a list
    of (name, dtype, dims, bytes). Returns the table entries written."""
    data = bytearray()
    entries = [(b"", header if header is not None else header_proto())]
    for name, dtype, dims, payload in sorted(tensors, key=lambda t: t[0].encode()):
        crc = mask(crc32c(payload)) if compute_crc else 0
        entries.append((name.encode(), entry_proto(dtype, dims, 0, len(data), len(payload), crc)))
        data += payload
    if entries_extra:
        entries = sorted(entries + entries_extra, key=lambda e: e[0])
    with open(f"{prefix}.index", "wb") as f:
        f.write(table(entries))
    with open(f"{prefix}.data-00000-of-00001", "wb") as f:
        f.write(data)
    return entries


# ---- partitioned variables: OrderedCode slice keys ----

def _num_increasing(v):
    body = v.to_bytes((v.bit_length() + 7) // 8, "big") if v else b""
    return bytes([len(body)]) + body


def _string(s):
    out = bytearray()
    for b in s:
        out += b"\x00\xff" if b == 0 else b"\xff\x00" if b == 0xFF else bytes([b])
    return bytes(out) + b"\x00\x01"


def _signed_increasing(v):
    x = ~v if v < 0 else v
    length = 1
    while x >= 1 << (7 * length - 1):
        length += 1
    bits = 8 * length
    header = ((1 << length) - 1) << (bits - length)
    enc = header | x
    if v < 0:
        enc ^= (1 << bits) - 1
    return enc.to_bytes(length, "big")


def slice_key(name, extents):
    """The key of one slice: extents are (start, length), length -1 for a whole dimension."""
    out = _num_increasing(0) + _string(name.encode()) + _num_increasing(len(extents))
    for start, length in extents:
        out += _signed_increasing(start) + _signed_increasing(length)
    return out


def slice_proto(extents):
    from protobuf_writer import ld as _ld, uint as _uint
    out = b""
    for start, length in extents:
        ext = (_uint(1, start) if start else b"") + (_uint(2, length) if length != -1 else b"")
        out += _ld(1, ext)
    return out
