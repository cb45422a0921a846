"""Protocol buffers wire format, written by hand (no protobuf package):
enough to build ONNX ModelProtos and TensorFlow BundleEntryProtos for tests
and benchmarks, including broken ones."""

import struct

VARINT, I64, LEN, I32 = 0, 1, 2, 5


def varint(v):
    if v < 0:
        v &= (1 << 64) - 1  # negative int32/int64: ten-byte two's complement
    out = bytearray()
    while True:
        b = v & 0x7F
        v >>= 7
        if v:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def tag(field, wire):
    return varint(field << 3 | wire)


def uint(field, v):
    return tag(field, VARINT) + varint(v)


def ld(field, payload):
    """A length-delimited field (bytes, string, sub-message, packed values)."""
    if isinstance(payload, str):
        payload = payload.encode()
    return tag(field, LEN) + varint(len(payload)) + payload


def fixed32(field, v):
    return tag(field, I32) + struct.pack("<I", v)


def packed_varints(field, values):
    return ld(field, b"".join(varint(v) for v in values))
