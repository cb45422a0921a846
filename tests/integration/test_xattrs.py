"""Extended attributes: values, listxattr/getxattr agreement, ENODATA, ERANGE."""

import ctypes
import errno
import json
import os
import subprocess

import pytest

import checks
import expect
from safetensors_writer import random_tensors, write_safetensors

INDEX_METADATA = {"total_size": None,  # filled in with the real total
                  "format": "pt",
                  "nested": {"a": [1, 2], "b": True},
                  "list": [3, "x"],
                  "none": None,
                  "count": 7}
SHARDS = {
    "s1.safetensors": ({"x.layers.0.mlp.w": ("F32", (2, 3)), "x.layers.0.mlp.b": ("F32", (3,))},
                       {"format": "pt", "first": "1", "empty": ""}),
    "s2.safetensors": ({"x.layers.1.mlp.w": ("BF16", (4, 3)), "head": ("U8", (5,))},
                       {"format": "pt", "second": "2"}),
}

libc = ctypes.CDLL(None, use_errno=True)


@pytest.fixture
def indexed_dir(tmp_path):
    model_dir = tmp_path / "model"
    model_dir.mkdir()
    weight_map, total = {}, 0
    for seed, (shard, (spec, metadata)) in enumerate(SHARDS.items()):
        tensors = random_tensors(spec, seed)
        write_safetensors(model_dir / shard, tensors, metadata)
        weight_map.update({name: shard for name in tensors})
        total += sum(len(data) for _, _, data in tensors.values())
    index = {"metadata": dict(INDEX_METADATA, total_size=total), "weight_map": weight_map}
    (model_dir / expect.INDEX_NAME).write_text(json.dumps(index, indent=2))
    return model_dir


@pytest.fixture
def indexed(mount, indexed_dir):
    """(mountpoint, oracle model) of the indexed two-shard model."""
    return mount(indexed_dir), expect.load_model(indexed_dir)


def getxattr_raw(path, name, size):
    """getxattr(2) with a buffer of size bytes: (return value, errno, bytes)."""
    buf = ctypes.create_string_buffer(max(size, 1))
    ret = libc.getxattr(os.fsencode(path), name.encode(), buf if size else None,
                        ctypes.c_size_t(size))
    return ret, ctypes.get_errno(), buf.raw[:max(ret, 0)]


def listxattr_raw(path, size):
    buf = ctypes.create_string_buffer(max(size, 1))
    ret = libc.listxattr(os.fsencode(path), buf if size else None, ctypes.c_size_t(size))
    return ret, ctypes.get_errno(), buf.raw[:max(ret, 0)]


def test_whole_mount_matches_oracle(indexed):
    checks.assert_mount_matches(*indexed)


def test_root_attributes_literally(indexed):
    mnt, model = indexed
    attrs = checks.xattrs(mnt)
    assert attrs["user.format"] == b"safetensors"
    assert attrs["user.index.total_size"] == str(model.nbytes).encode()
    assert attrs["user.index.format"] == b"pt"
    assert attrs["user.index.nested"] == b'{"a":[1,2],"b":true}'
    assert attrs["user.index.list"] == b'[3,"x"]'
    assert attrs["user.index.none"] == b"null"
    assert attrs["user.index.count"] == b"7"
    assert attrs["user.metadata.first"] == b"1"
    assert attrs["user.metadata.second"] == b"2"
    assert attrs["user.metadata.format"] == b"pt"
    assert attrs["user.metadata.empty"] == b""
    assert attrs["user.tensors"] == b"4"


def test_tensor_attributes_literally(indexed):
    mnt, model = indexed
    tensor = model.tensors["x.layers.1.mlp.w"]
    attrs = checks.xattrs(mnt / "x.layers.1" / "mlp.w")
    assert attrs == {"user.dtype": b"BF16", "user.shape": b"[4,3]",
                     "user.name": b"x.layers.1.mlp.w", "user.shard": b"s2.safetensors",
                     "user.offset": str(tensor.offset).encode()}


def test_directory_attributes_literally(indexed):
    mnt, _ = indexed
    assert checks.xattrs(mnt / "x.layers.0") == {"user.tensors": b"2", "user.nbytes": b"36"}


@pytest.mark.parametrize("where,name", [
    ("x.layers.0/mlp.w", "user.nope"),
    ("x.layers.0/mlp.w", "user.tensors"),
    ("x.layers.0/mlp.w", "user.format"),
    ("x.layers.0/mlp.w", "user.dtype.x"),
    ("x.layers.0", "user.dtype"),
    ("x.layers.0", "user.format"),
    ("", "user.metadata.nope"),
    ("", "user.metadata."),
    ("", "user.index.nope"),
    ("", "user.dtype"),
    ("", "user.FORMAT"),
])
def test_unknown_attribute_is_enodata(indexed, where, name):
    mnt, _ = indexed
    with pytest.raises(OSError) as err:
        os.getxattr(mnt / where, name)
    assert err.value.errno == errno.ENODATA


@pytest.mark.parametrize("where,name", [
    ("x.layers.0/mlp.w", "user.shape"), ("x.layers.0/mlp.w", "user.name"),
    ("x.layers.0", "user.nbytes"), ("", "user.format"), ("", "user.index.nested"),
])
def test_getxattr_size_query_and_erange(indexed, where, name):
    mnt, _ = indexed
    path = mnt / where
    value = os.getxattr(path, name)
    assert len(value) > 1
    assert getxattr_raw(path, name, 0)[0] == len(value)
    ret, err, _ = getxattr_raw(path, name, 1)
    assert (ret, err) == (-1, errno.ERANGE)
    assert getxattr_raw(path, name, len(value))[::2] == (len(value), value)


@pytest.mark.parametrize("where", ["x.layers.0/mlp.w", "x.layers.0", ""])
def test_listxattr_size_query_and_erange(indexed, where):
    mnt, _ = indexed
    path = mnt / where
    size, _, _ = listxattr_raw(path, 0)
    ret, names_errno, _ = listxattr_raw(path, 1)
    assert (ret, names_errno) == (-1, errno.ERANGE)
    ret, _, raw = listxattr_raw(path, size)
    assert ret == size
    assert raw.endswith(b"\0")
    assert set(raw[:-1].split(b"\0")) == {n.encode() for n in os.listxattr(path)}
    assert len(raw[:-1].split(b"\0")) == len(os.listxattr(path)), "duplicate names"


def test_getfattr_tool(indexed):
    mnt, _ = indexed
    out = subprocess.run(["getfattr", "--only-values", "-n", "user.shape",
                          str(mnt / "x.layers.0" / "mlp.b")],
                         capture_output=True, check=True).stdout
    assert out == b"[3]"
    dump = subprocess.run(["getfattr", "-d", str(mnt / "head")],
                          capture_output=True, text=True, check=True).stdout
    assert 'user.dtype="U8"' in dump
    assert 'user.name="head"' in dump
