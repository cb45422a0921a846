"""The dtypes of the safetensors format and the byte length of a tensor.

Written from the format's description (the README's dtype table), not taken
from weightfs's C tables, so that the tests check those tables.
"""

import math

# Bits per element of every dtype the README lists, in the order of the
# safetensors specification (which is also weightfs's order).
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
