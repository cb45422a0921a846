"""A tiny safetensors writer and an independent reader (the tests' oracle).

Nothing here uses weightfs: the reader parses the file with Python's json
module and is what every mount is compared with. The writer can produce both
valid files and, through write_raw(), any byte sequence for invalid ones.
"""

import json
import math
import random
import struct
from dataclasses import dataclass
from pathlib import Path

# Bits per element of every dtype the README lists.
DTYPE_BITS = {
    "BOOL": 8, "U8": 8, "I8": 8,
    "F8_E5M2": 8, "F8_E4M3": 8, "F8_E8M0": 8, "F8_E4M3FNUZ": 8, "F8_E5M2FNUZ": 8,
    "I16": 16, "U16": 16, "F16": 16, "BF16": 16,
    "I32": 32, "U32": 32, "F32": 32,
    "I64": 64, "U64": 64, "F64": 64, "C64": 64,
    "F4": 4, "F6_E2M3": 6, "F6_E3M2": 6,
}


def nbytes(dtype, shape):
    """Byte length of a tensor; the shape must end on a byte."""
    bits = DTYPE_BITS[dtype] * math.prod(shape)
    if bits % 8:
        raise ValueError(f"{dtype} {list(shape)} is not a whole number of bytes")
    return bits // 8


def shape_text(shape):
    """A shape as weightfs's user.shape shows it: a JSON array without spaces."""
    return "[" + ",".join(str(d) for d in shape) + "]"


@dataclass(frozen=True)
class StTensor:
    name: str
    dtype: str
    shape: tuple
    offset: int  # absolute offset of the first byte in the file
    data: bytes


@dataclass(frozen=True)
class StFile:
    metadata: dict  # the __metadata__ strings ({} when absent or null)
    tensors: dict   # name -> StTensor, in header order


# --- writer ---------------------------------------------------------------

def encode_header(obj, pad=True):
    """Compact UTF-8 JSON, padded with spaces to a multiple of 8 like the
    reference writer."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()
    return text + b" " * (-len(text) % 8 if pad else 0)


def write_raw(path, header, data=b"", header_len=None):
    """Write an 8-byte length, the header bytes (str is UTF-8 encoded) and
    data. header_len overrides the length field (for invalid files)."""
    if isinstance(header, str):
        header = header.encode()
    length = len(header) if header_len is None else header_len
    path = Path(path)
    path.write_bytes(struct.pack("<Q", length) + header + data)
    return path


def layout_tensors(tensors, metadata=None):
    """The header object and data section of tensors (name -> (dtype, shape,
    bytes)), stored in the given order.

    The byte length of each tensor is checked against its dtype and shape so
    that a test cannot write an invalid file by accident.
    """
    header = {} if metadata is None else {"__metadata__": metadata}
    offset = 0
    for name, (dtype, shape, data) in tensors.items():
        if len(data) != nbytes(dtype, shape):
            raise ValueError(f"{name}: {len(data)} bytes for {dtype} {list(shape)}")
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    return header, b"".join(data for _, _, data in tensors.values())


def write_safetensors(path, tensors, metadata=None, pad=True):
    """Write a valid file like the reference writer (compact header)."""
    header, body = layout_tensors(tensors, metadata)
    return write_raw(path, encode_header(header, pad), body)


def random_tensors(spec, seed=0):
    """name -> (dtype, shape) becomes name -> (dtype, shape, random bytes)."""
    rng = random.Random(seed)
    return {name: (dtype, tuple(shape), rng.randbytes(nbytes(dtype, shape)))
            for name, (dtype, shape) in spec.items()}


# --- oracle reader --------------------------------------------------------

def _unique_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def read_safetensors(path):
    """Parse a valid safetensors file; raise ValueError on anything else."""
    raw = Path(path).read_bytes()
    (length,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8:8 + length].decode("utf-8"),
                        object_pairs_hook=_unique_pairs)
    start = 8 + length
    metadata = header.pop("__metadata__", None) or {}
    tensors = {}
    for name, entry in header.items():
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if end - begin != nbytes(entry["dtype"], shape):
            raise ValueError(f"{name}: length does not match dtype and shape")
        tensors[name] = StTensor(name, entry["dtype"], shape, start + begin,
                                 raw[start + begin:start + end])
    ranges = sorted((t.offset, t.offset + len(t.data)) for t in tensors.values())
    expected_start = start
    for begin, end in ranges:
        if begin != expected_start:
            raise ValueError(f"{path}: data ranges do not tile the data section")
        expected_start = end
    if expected_start != len(raw):
        raise ValueError(f"{path}: data section does not end at the end of the file")
    return StFile(metadata, tensors)
