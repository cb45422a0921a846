"""Writing safetensors models and reading them back without weightfs.

This module is the oracle of the weightfs-inspect tests: it writes files the
way the reference implementation does and reads them with the shared
writer and reader (tests/lib, Python's json module), resolves a SOURCE the
way README.md describes it, and decodes every dtype with its own code (a
generic minifloat formula, not a table shared with the C decoder). Nothing
here uses weightfs.
"""

import functools
import json
import math
import os
import struct
from dataclasses import dataclass
from pathlib import Path

import safetensors_writer
from minifloat import e8m0, minifloat  # noqa: F401 (stmodel.minifloat in the tests)
from safetensors_dtypes import DTYPE_BITS
from safetensors_reader import read_shards

DTYPES = list(DTYPE_BITS)  # in the order of the safetensors spec (and of weightfs)
INDEX = "model.safetensors.index.json"


# --- writing ----------------------------------------------------------------

def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, bytes), stored in that order.

    Written like the reference writer (compact header padded to a multiple
    of 8, __metadata__ first), except that non-ASCII characters are \\u
    escapes, so that the tool's JSON unescaping is exercised.
    """
    return safetensors_writer.write_safetensors(path, tensors, metadata, ensure_ascii=True)


def write_index(path, weight_map, metadata=None):
    obj = {"weight_map": weight_map}
    if metadata is not None:
        obj = {"metadata": metadata, "weight_map": weight_map}
    Path(path).write_text(json.dumps(obj, indent=2))
    return Path(path)


# --- reading: the oracle -------------------------------------------------------

@dataclass
class Model:
    layout: str            # single, merged, sharded
    files: list            # shard names in weightfs order
    index: str             # index file name, or None
    tensors: dict          # name -> safetensors_reader.ShardTensor
    metadata: dict         # merged __metadata__
    index_metadata: dict   # the index's "metadata" with JSON types, or None


def read_model(source):
    """Resolves SOURCE as README.md says and reads every tensor."""
    source = Path(source)
    if source.is_dir() and not (source / INDEX).exists() and (source / "refs" / "main").exists():
        source = source / "snapshots" / (source / "refs" / "main").read_text().strip()
    if source.is_dir():
        if (source / INDEX).exists():
            return read_indexed(source, INDEX)
        files = sorted(p.name for p in source.iterdir()
                       if p.name.endswith(".safetensors") and not p.name.startswith(".")
                       and p.is_file())
        return read_files(source, files, "single" if len(files) == 1 else "merged")
    if source.name.endswith(".json"):
        return read_indexed(source.parent, source.name)
    return read_files(source.parent, [source.name], "single")


def read_files(directory, files, layout):
    tensors, metadata = read_shards(directory, files)
    return Model(layout, list(files), None, tensors, metadata, None)


def read_indexed(directory, index_name):
    index = json.loads((Path(directory) / index_name).read_text())
    files = sorted(set(index["weight_map"].values()))
    model = read_files(directory, files, "sharded")
    model.index = index_name
    model.index_metadata = index.get("metadata", {})
    return model


# --- natural order ---------------------------------------------------------------

def _nat_cmp(a, b):
    """Runs of ASCII digits compare as numbers, other bytes bytewise; leading
    zeros break ties (fewer first)."""
    a, b = a.encode(), b.encode()
    i = j = 0
    tie = 0
    while i < len(a) and j < len(b):
        if 48 <= a[i] <= 57 and 48 <= b[j] <= 57:
            ei, ej = i, j
            while ei < len(a) and 48 <= a[ei] <= 57:
                ei += 1
            while ej < len(b) and 48 <= b[ej] <= 57:
                ej += 1
            na, nb = int(a[i:ei]), int(b[j:ej])
            if na != nb:
                return -1 if na < nb else 1
            za = len(a[i:ei]) - len(a[i:ei].lstrip(b"0") or b"")
            zb = len(b[j:ej]) - len(b[j:ej].lstrip(b"0") or b"")
            if tie == 0 and za != zb:
                tie = -1 if za < zb else 1
            i, j = ei, ej
            continue
        if a[i] != b[j]:
            return -1 if a[i] < b[j] else 1
        i += 1
        j += 1
    if i < len(a) or j < len(b):
        return 1 if i < len(a) else -1
    return tie


def natural_sorted(names):
    return sorted(names, key=functools.cmp_to_key(_nat_cmp))


# --- decoding, independently of the C decoder (tests/lib/minifloat.py) -------------------

INT_FORMATS = {"U8": "B", "I8": "b", "U16": "H", "I16": "h", "U32": "I", "I32": "i",
               "U64": "Q", "I64": "q"}


def decode(dtype, data):
    """Every element of data as a Python number (C64: complex)."""
    if dtype == "BOOL":
        return [1 if b else 0 for b in data]
    if dtype in INT_FORMATS:
        f = INT_FORMATS[dtype]
        return list(struct.unpack(f"<{len(data) // struct.calcsize(f)}{f}", data))
    if dtype == "F32":
        return list(struct.unpack(f"<{len(data) // 4}f", data))
    if dtype == "F64":
        return list(struct.unpack(f"<{len(data) // 8}d", data))
    if dtype == "C64":
        v = struct.unpack(f"<{len(data) // 4}f", data)
        return [complex(v[i], v[i + 1]) for i in range(0, len(v), 2)]
    if dtype == "F8_E8M0":
        return [e8m0(b) for b in data]
    if dtype in ("F16", "BF16"):
        return [minifloat(h, dtype) for h in struct.unpack(f"<{len(data) // 2}H", data)]
    if dtype == "F4":
        out = []
        for b in data:  # the low nibble is the first element
            out += [minifloat(b & 15, dtype), minifloat(b >> 4, dtype)]
        return out
    if dtype in ("F6_E2M3", "F6_E3M2"):
        stream = int.from_bytes(data, "little")  # bit i of the stream is bit i % 8 of byte i // 8
        return [minifloat((stream >> (6 * i)) & 63, dtype) for i in range(len(data) * 8 // 6)]
    return [minifloat(b, dtype) for b in data]


def pack_f6(patterns):
    """Element i at bits [6i, 6i+6) of the little-endian bit stream."""
    assert len(patterns) % 4 == 0
    stream = 0
    for i, p in enumerate(patterns):
        stream |= (p & 63) << (6 * i)
    return stream.to_bytes(len(patterns) * 6 // 8, "little")


def pack_f4(patterns):
    assert len(patterns) % 2 == 0
    return bytes((patterns[i] & 15) | (patterns[i + 1] & 15) << 4
                 for i in range(0, len(patterns), 2))


# --- statistics the slow, obvious way -------------------------------------------------

def describe(values):
    """count, zeros, nan, inf and mean/std/min/max of the finite values."""
    finite = [v for v in values if math.isfinite(v)]
    out = {
        "count": len(values),
        "zeros": sum(1 for v in finite if v == 0),
        "nan": sum(1 for v in values if math.isnan(v)),
        "inf": sum(1 for v in values if math.isinf(v)),
        "min": min(finite) if finite else None,
        "max": max(finite) if finite else None,
        "mean": math.fsum(finite) / len(finite) if finite else None,
        "std": None,
    }
    if len(finite) > 1:
        m = out["mean"]
        out["std"] = math.sqrt(math.fsum((v - m) ** 2 for v in finite) / (len(finite) - 1))
    return out


def json_number(v):
    """weightfs-inspect writes NaN and +-Inf as strings in JSON."""
    if isinstance(v, str):
        return {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}[v]
    return v


def same_value(a, b):
    """Equal numbers, NaN equal to NaN, and zeros of the same sign."""
    a, b = json_number(a), json_number(b)
    if isinstance(a, float) and math.isnan(a):
        return isinstance(b, float) and math.isnan(b)
    if a != b:
        return False
    return a != 0 or math.copysign(1, a) == math.copysign(1, b)


def link_hf_cache(model_dir, cache_root, org="org", name="model", rev="0123abcd"):
    """Lays model_dir out as a Hugging Face cache repository: blobs, a
    snapshot of symlinks into ../../blobs and refs/main. Returns the repository."""
    repo = Path(cache_root) / f"models--{org}--{name}"
    (repo / "blobs").mkdir(parents=True)
    (repo / "refs").mkdir()
    snap = repo / "snapshots" / rev
    snap.mkdir(parents=True)
    for i, f in enumerate(sorted(Path(model_dir).iterdir())):
        blob = repo / "blobs" / f"blob{i:04d}"
        blob.write_bytes(f.read_bytes())
        os.symlink(os.path.join("..", "..", "blobs", blob.name), snap / f.name)
    (repo / "refs" / "main").write_text(rev)
    return repo
