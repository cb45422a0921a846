"""Assertions comparing a mounted weightfs with the oracle (expect.py)."""

import json
import os
import stat

import expect

FILE_MODE = 0o444
DIR_MODE = 0o555


def xattrs(path):
    """Every attribute listxattr names, read with getxattr."""
    return {name: os.getxattr(path, name) for name in os.listxattr(path)}


def tensor_xattrs(tensor):
    return {
        "user.dtype": tensor.dtype.encode(),
        "user.shape": expect.shape_text(tensor.shape).encode(),
        "user.name": tensor.name.encode(),
        "user.shard": tensor.shard.encode(),
        "user.offset": str(tensor.offset).encode(),
    }


def dir_xattrs(tensors):
    return {
        "user.tensors": str(len(tensors)).encode(),
        "user.nbytes": str(sum(len(t.data) for t in tensors)).encode(),
    }


def index_value(value):
    return value if isinstance(value, str) else \
        json.dumps(value, separators=(",", ":"), ensure_ascii=False)


def root_xattrs(model):
    attrs = dir_xattrs(list(model.tensors.values()))
    attrs["user.format"] = b"safetensors"
    attrs.update({f"user.metadata.{k}": v.encode() for k, v in model.metadata.items()})
    for key, value in (model.index_metadata or {}).items():
        attrs[f"user.index.{key}"] = index_value(value).encode()
    return attrs


def listing(mnt):
    """(files, directories) below mnt, as relpaths."""
    files, dirs = set(), set()
    for root, dirnames, filenames in os.walk(mnt):
        rel = os.path.relpath(root, mnt)
        prefix = "" if rel == "." else rel + "/"
        dirs.update(prefix + d for d in dirnames)
        files.update(prefix + f for f in filenames)
    return files, dirs


def read_file(path):
    with open(path, "rb") as f:
        return f.read()


def assert_mode(path, kind, mode):
    st = os.stat(path)
    assert kind(st.st_mode), f"{path}: wrong file type {oct(st.st_mode)}"
    assert stat.S_IMODE(st.st_mode) == mode, f"{path}: mode {oct(st.st_mode)}"
    assert st.st_uid == os.getuid() and st.st_gid == os.getgid(), f"{path}: owner"


def assert_tensor_file(path, tensor):
    assert_mode(path, stat.S_ISREG, FILE_MODE)
    assert os.stat(path).st_size == len(tensor.data), path
    assert read_file(path) == tensor.data, f"{path}: bytes differ from the shard"
    assert xattrs(path) == tensor_xattrs(tensor), path


def assert_listing(mnt, ns):
    files, dirs = ns.listing()
    got_files, got_dirs = listing(mnt)
    assert got_dirs == dirs
    assert got_files == files


def assert_mount_matches(mnt, model, layout="modules"):
    """Listing, every tensor file, every directory, the root and the other
    files of a mounted model against the oracle."""
    ns = expect.Namespace(model, layout)
    assert_listing(mnt, ns)
    for path, tensor in ns.files.items():
        assert_tensor_file(mnt / path, tensor)
    for path, tensors in ns.dirs.items():
        if path:
            assert_mode(mnt / path, stat.S_ISDIR, DIR_MODE)
            assert xattrs(mnt / path) == dir_xattrs(tensors), path
    assert_mode(mnt, stat.S_ISDIR, DIR_MODE)
    assert xattrs(mnt) == root_xattrs(model)
    for path, data in ns.other_files.items():
        assert read_file(mnt / path) == data, path
