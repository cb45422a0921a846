"""Every dtype of the README's list, including sub-byte ones ending on a byte."""

import os

import pytest

import checks
import expect
from safetensors_dtypes import DTYPE_BITS
from safetensors_writer import random_tensors, write_safetensors

SHAPES_BY_BITS = {8: (3, 2), 16: (5,), 32: (2, 2), 64: (3,),
                  4: (2, 3),   # 24 bits
                  6: (4,)}     # 24 bits
DTYPE_SPEC = {f"dtype.{dtype}": (dtype, SHAPES_BY_BITS[bits])
              for dtype, bits in DTYPE_BITS.items()}
EXPECTED_BYTES = {"BOOL": 6, "U8": 6, "I8": 6, "F8_E5M2": 6, "F8_E4M3": 6, "F8_E8M0": 6,
                  "F8_E4M3FNUZ": 6, "F8_E5M2FNUZ": 6, "I16": 10, "U16": 10, "F16": 10,
                  "BF16": 10, "I32": 16, "U32": 16, "F32": 16, "I64": 24, "U64": 24,
                  "F64": 24, "C64": 24, "F4": 3, "F6_E2M3": 3, "F6_E3M2": 3}


@pytest.fixture
def dtypes_file(tmp_path):
    tensors = random_tensors(DTYPE_SPEC)
    # BOOL data must be 0 or 1 to be a plausible file.
    dtype, shape, data = tensors["dtype.BOOL"]
    tensors["dtype.BOOL"] = (dtype, shape, bytes(b & 1 for b in data))
    return write_safetensors(tmp_path / "dtypes.safetensors", tensors)


def test_every_readme_dtype_is_covered():
    assert set(EXPECTED_BYTES) == set(DTYPE_BITS)


def test_all_dtypes_match_oracle(mount, dtypes_file):
    checks.assert_mount_matches(mount(dtypes_file), expect.load_model(dtypes_file))


@pytest.mark.parametrize("dtype", list(EXPECTED_BYTES))
def test_dtype_file(mount, dtypes_file, dtype):
    tensor = expect.load_model(dtypes_file).tensors[f"dtype.{dtype}"]
    path = mount(dtypes_file) / f"dtype.{dtype}"
    assert os.stat(path).st_size == EXPECTED_BYTES[dtype]
    assert checks.read_file(path) == tensor.data
    assert os.getxattr(path, "user.dtype") == dtype.encode()
    assert os.getxattr(path, "user.shape") == expect.shape_text(tensor.shape).encode()
