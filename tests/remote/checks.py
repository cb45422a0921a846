"""Comparisons of a mount against the generated model (the oracle)."""

import json
import os
from pathlib import Path


def tensor_path(mnt, name):
    """The modules layout: the last two components are the file name."""
    parts = name.split(".")
    if len(parts) <= 2:
        return Path(mnt) / name
    return Path(mnt) / ".".join(parts[:-2]) / ".".join(parts[-2:])


def check_all_bytes(mnt, model):
    tensors = model.tensors()
    assert tensors
    for name, (_shard, _dtype, _shape, _off, data) in tensors.items():
        got = tensor_path(mnt, name).read_bytes()
        assert got == data, f"tensor {name}: bytes differ"
    for path, data in model.extras().items():
        assert (Path(mnt) / path).read_bytes() == data, f"file {path}: bytes differ"


def stats(mnt):
    return json.loads(os.getxattr(str(mnt), "user.remote.stats"))
