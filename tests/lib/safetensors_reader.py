"""An independent safetensors reader: the oracle the tests compare weightfs
with. The header is parsed with Python's json module; nothing here uses
weightfs. Anything but a valid file is a ValueError.
"""

import json
import math
import struct
from dataclasses import dataclass
from pathlib import Path

from safetensors_dtypes import nbytes


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


def _unique_pairs(pairs):
    keys = [k for k, _ in pairs]
    if len(keys) != len(set(keys)):
        raise ValueError(f"duplicate key in {keys}")
    return dict(pairs)


def parse_safetensors(raw, what="the file"):
    """Parse the bytes of a valid safetensors file; what names it in errors."""
    (length,) = struct.unpack_from("<Q", raw)
    header = json.loads(raw[8:8 + length].decode("utf-8"), object_pairs_hook=_unique_pairs)
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
            raise ValueError(f"{what}: data ranges do not tile the data section")
        expected_start = end
    if expected_start != len(raw):
        raise ValueError(f"{what}: data section does not end at the end of the file")
    return StFile(metadata, tensors)


def read_safetensors(path):
    """Parse a valid safetensors file; raise ValueError on anything else."""
    return parse_safetensors(Path(path).read_bytes(), str(path))


@dataclass(frozen=True)
class ShardTensor:
    """A tensor of a model of several files (shards)."""
    name: str
    dtype: str
    shape: tuple
    shard: str     # file name relative to the model directory
    offset: int    # absolute offset of the first byte in the shard
    data: bytes

    @property
    def elements(self):
        return math.prod(self.shape)


def read_shards(directory, shards):
    """The tensors (name -> ShardTensor) and merged __metadata__ (the first
    shard holding a key wins) of the named shards of directory, in order."""
    tensors, metadata = {}, {}
    for shard in shards:
        parsed = read_safetensors(Path(directory) / shard)
        for key, value in parsed.metadata.items():
            metadata.setdefault(key, value)
        for t in parsed.tensors.values():
            assert t.name not in tensors, f"test bug: {t.name} in two shards"
            tensors[t.name] = ShardTensor(t.name, t.dtype, t.shape, shard, t.offset, t.data)
    return tensors, metadata
