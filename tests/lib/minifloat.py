"""Small floats decoded from their textbook definitions, independently of
weightfs's C decoder: the oracle of the typed-view and inspect tests.

Sources: the OCP 8-bit floating point specification (E4M3, E5M2), the OCP
Microscaling (MX) specification (E2M1 = F4, E2M3, E3M2, E8M0), the FNUZ
definitions (bias one higher, no infinities, 0x80 is the only NaN), IEEE 754
binary16 (F16) and bfloat16 (BF16).
"""
import math

# name -> (exponent bits, mantissa bits, bias, kind of special values):
# "ieee" all-ones exponent is Inf/NaN; "fn" only all-ones exponent and
# mantissa is NaN; "fnuz" only negative zero's pattern is NaN; "none" none.
MINIFLOATS = {
    "F8_E5M2": (5, 2, 15, "ieee"),
    "F8_E4M3": (4, 3, 7, "fn"),
    "F8_E4M3FNUZ": (4, 3, 8, "fnuz"),
    "F8_E5M2FNUZ": (5, 2, 16, "fnuz"),
    "F16": (5, 10, 15, "ieee"),
    "BF16": (8, 7, 127, "ieee"),
    "F4": (2, 1, 1, "none"),
    "F6_E2M3": (2, 3, 1, "none"),
    "F6_E3M2": (3, 2, 3, "none"),
}


def minifloat(bits, dtype):
    """The value of one bit pattern of dtype (a key of MINIFLOATS)."""
    ebits, mbits, bias, special = MINIFLOATS[dtype]
    sign = (bits >> (ebits + mbits)) & 1
    exp = (bits >> mbits) & ((1 << ebits) - 1)
    man = bits & ((1 << mbits) - 1)
    top = (1 << ebits) - 1
    if special == "ieee" and exp == top:
        return math.nan if man else (-math.inf if sign else math.inf)
    if special == "fn" and exp == top and man == (1 << mbits) - 1:
        return math.nan
    if special == "fnuz" and sign and exp == 0 and man == 0:
        return math.nan
    if exp == 0:
        value = (man / (1 << mbits)) * 2.0 ** (1 - bias)
    else:
        value = (1 + man / (1 << mbits)) * 2.0 ** (exp - bias)
    return -value if sign else value


def e8m0(bits):
    """The value of an F8_E8M0 scale: a power of two, 0xFF is NaN."""
    return math.nan if bits == 0xFF else 2.0 ** (bits - 127)
