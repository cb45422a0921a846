"""Writing safetensors files: valid ones the way the reference writer does,
and, through encode_raw() and write_raw(), any byte sequence for invalid ones.

Tensors are given as a list of (name, dtype, shape, data) or as a dict
name -> (dtype, shape, data); they are stored in that order. Nothing here
uses weightfs.
"""

import json
import random
import struct
from collections.abc import Mapping
from pathlib import Path

from safetensors_dtypes import nbytes


def encode_header(obj, pad=True, ensure_ascii=False):
    """Compact JSON, padded with spaces to a multiple of 8 like the reference
    writer. ensure_ascii writes every non-ASCII character as a \\u escape."""
    text = json.dumps(obj, separators=(",", ":"), ensure_ascii=ensure_ascii).encode()
    return text + b" " * (-len(text) % 8 if pad else 0)


def encode_raw(header, data=b"", header_len=None):
    """An 8-byte little-endian length, the header bytes (str is UTF-8
    encoded) and data. header_len overrides the length field (for invalid
    files)."""
    if isinstance(header, str):
        header = header.encode()
    length = len(header) if header_len is None else header_len
    return struct.pack("<Q", length) + header + data


def write_raw(path, header, data=b"", header_len=None):
    """Write encode_raw(header, data, header_len) to path; returns the Path."""
    path = Path(path)
    path.write_bytes(encode_raw(header, data, header_len))
    return path


def _entries(tensors):
    if isinstance(tensors, Mapping):
        return [(name, *rest) for name, rest in tensors.items()]
    return list(tensors)


def layout_tensors(tensors, metadata=None):
    """The header object (__metadata__ first when given) and the data section
    of tensors, stored in the given order.

    The byte length of each tensor is checked against its dtype and shape so
    that a test cannot write an invalid file by accident.
    """
    entries = _entries(tensors)
    header = {} if metadata is None else {"__metadata__": metadata}
    offset = 0
    for name, dtype, shape, data in entries:
        if len(data) != nbytes(dtype, shape):
            raise ValueError(f"{name}: {len(data)} bytes for {dtype} {list(shape)}")
        header[name] = {"dtype": dtype, "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    return header, b"".join(data for _, _, _, data in entries)


def encode_safetensors(tensors, metadata=None, pad=True, ensure_ascii=False):
    """The bytes of a valid file holding tensors."""
    header, body = layout_tensors(tensors, metadata)
    return encode_raw(encode_header(header, pad, ensure_ascii), body)


def write_safetensors(path, tensors, metadata=None, pad=True, ensure_ascii=False):
    """Write a valid file holding tensors; returns the Path."""
    path = Path(path)
    path.write_bytes(encode_safetensors(tensors, metadata, pad, ensure_ascii))
    return path


def random_tensors(spec, seed=0):
    """name -> (dtype, shape) becomes name -> (dtype, shape, random bytes)."""
    rng = random.Random(seed)
    return {name: (dtype, tuple(shape), rng.randbytes(nbytes(dtype, shape)))
            for name, (dtype, shape) in spec.items()}
