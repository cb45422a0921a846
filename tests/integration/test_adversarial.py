"""Crafted models that are valid but hostile (issue 4's adversarial corpus
beyond test_invalid.py): they must mount, with every tensor where the
README's naming rules put it, checked against the oracle."""

import errno
import os

import pytest

import expect
from safetensors_writer import random_tensors, write_safetensors


def test_100k_zero_size_tensors(mount, tmp_path):
    """100,000 empty tensors all at data offset 0, plus one real one."""
    tensors = {f"z.{i}.w": ("F32", (0, 7), b"") for i in range(100_000)}
    tensors["real.w"] = ("U8", (3,), b"abc")
    source = write_safetensors(tmp_path / "zeros.safetensors", tensors)
    mnt = mount(source, "-o", "layout=flat")
    names = os.listdir(mnt)
    assert len(names) == 100_001
    assert os.statvfs(mnt).f_files == 100_001
    assert os.path.getsize(mnt / "z.99999.w") == 0
    assert os.getxattr(mnt / "z.99999.w", "user.shape") == b"[0,7]"
    assert (mnt / "real.w").read_bytes() == b"abc"


@pytest.mark.parametrize("layout", expect.LAYOUTS)
def test_100000_byte_name(mount, tmp_path, layout):
    """A name of 100,000 bytes without dots: hashed to a valid file name in
    every layout, with its bytes intact. The kernel cannot return an
    attribute value over 64 KiB, so user.name is not offered for it."""
    name = "n" * 100_000
    tensors = random_tensors({name: ("I16", (5,)), "short.w": ("U8", (1,))})
    source = write_safetensors(tmp_path / "long.safetensors", tensors)
    mnt = mount(source, "-o", f"layout={layout}")
    long_files = [f for f in os.listdir(mnt) if f.startswith("nnn")]
    assert len(long_files) == 1 and len(long_files[0].encode()) <= 255
    path = mnt / long_files[0]
    assert long_files[0] == expect.encode_component(name)
    assert path.read_bytes() == tensors[name][2]
    assert os.getxattr(path, "user.shape") == b"[5]"
    assert "user.name" not in os.listxattr(path)
    with pytest.raises(OSError) as e:
        os.getxattr(path, "user.name")
    assert e.value.errno == errno.ENODATA
    short = {"modules": "short.w", "flat": "short.w", "tree": "short/w"}[layout]
    assert (mnt / short).read_bytes() == tensors["short.w"][2]


@pytest.mark.parametrize("layout,file_a,file_ab", [
    ("modules", "a", "a.b"),      # two components or fewer: both at the root
    ("flat", "a", "a.b"),
    ("tree", "a%file", "a/b"),    # "a.b" needs directory a: the file a moves aside
])
def test_a_together_with_a_b(mount, tmp_path, layout, file_a, file_ab):
    tensors = random_tensors({"a": ("U8", (2,)), "a.b": ("U8", (3,))})
    source = write_safetensors(tmp_path / "ab.safetensors", tensors)
    mnt = mount(source, "-o", f"layout={layout}")
    assert (mnt / file_a).read_bytes() == tensors["a"][2]
    assert (mnt / file_ab).read_bytes() == tensors["a.b"][2]
    assert os.getxattr(mnt / file_a, "user.name") == b"a"
