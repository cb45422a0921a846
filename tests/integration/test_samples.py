"""The reference implementation's sample files (see
tests/data/README.md): names, dtypes, shapes, metadata and values."""

import os

import numpy as np
import pytest

import checks
import expect
from testdata import SAFETENSORS_SAMPLES

SAMPLES = SAFETENSORS_SAMPLES

# tensor (= file) name -> (safetensors dtype, numpy dtype)
SAMPLE_DTYPES = {"B": ("U8", "<u1"), "H": ("U16", "<u2"), "I": ("U32", "<u4"),
                 "b": ("I8", "<i1"), "h": ("I16", "<i2"), "i": ("I32", "<i4"),
                 "e": ("F16", "<f2"), "f": ("F32", "<f4"), "d": ("F64", "<f8")}


def sample_values(name):
    """range(-3, 3) cast to the sample's dtype, little-endian."""
    return np.arange(-3, 3).astype(SAMPLE_DTYPES[name][1]).tobytes()


def assert_sample_tensor(mnt, name):
    path = mnt / name
    assert checks.read_file(path) == sample_values(name)
    assert os.getxattr(path, "user.dtype") == SAMPLE_DTYPES[name][0].encode()
    assert os.getxattr(path, "user.shape") == b"[6]"
    assert os.getxattr(path, "user.name") == name.encode()


def assert_sample_metadata(mnt):
    assert os.getxattr(mnt, "user.metadata.test") == b"a"
    assert os.getxattr(mnt, "user.format") == b"safetensors"


@pytest.mark.parametrize("name", list(SAMPLE_DTYPES))
def test_single_sample(mount, name):
    source = SAMPLES / f"{name}.safetensors"
    mnt = mount(source)
    assert os.listdir(mnt) == [name]
    assert_sample_tensor(mnt, name)
    assert_sample_metadata(mnt)
    checks.assert_mount_matches(mnt, expect.load_model(source))


def test_overall_sample(mount):
    source = SAMPLES / "overall.safetensors"
    mnt = mount(source)
    assert sorted(os.listdir(mnt)) == sorted(SAMPLE_DTYPES)
    for name in SAMPLE_DTYPES:
        assert_sample_tensor(mnt, name)
    assert_sample_metadata(mnt)
    checks.assert_mount_matches(mnt, expect.load_model(source))


@pytest.mark.parametrize("layout", expect.LAYOUTS)
def test_samples_directory_as_subdirectories(mount, tmp_path, layout):
    """The ten sample files are unrelated models (no index, no model.safetensors,
    no NAME-0000N-of-0000M parts): each is a subdirectory named after its file,
    with its own user.format and metadata, and none clashes with another."""
    model_dir = tmp_path / "samples"
    model_dir.mkdir()
    for name in [*SAMPLE_DTYPES, "overall"]:
        (model_dir / f"{name}.safetensors").symlink_to(SAMPLES / f"{name}.safetensors")
    (model_dir / "notes.txt").write_text("not a model\n")
    mnt = mount(model_dir, "-o", f"layout={layout}")
    assert sorted(os.listdir(mnt)) == sorted([*SAMPLE_DTYPES, "overall", "notes.txt"])
    for name in SAMPLE_DTYPES:
        assert os.listdir(mnt / name) == [name]
        assert_sample_tensor(mnt / name, name)
        assert_sample_metadata(mnt / name)
        assert os.getxattr(mnt / name / name, "user.shard") == f"{name}.safetensors".encode()
        assert_sample_tensor(mnt / "overall", name)
    assert os.getxattr(mnt / "overall", "user.tensors") == b"9"
    assert (mnt / "notes.txt").read_text() == "not a model\n"
    # The root is no group: it has no metadata of its own.
    assert "user.metadata.test" not in os.listxattr(mnt)
