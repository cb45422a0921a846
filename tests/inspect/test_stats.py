"""stats against numpy (F64, F32, F16, integers, C64) and against the
independent decoder of stmodel.py (BF16, the FP8 family, F4, F6, BOOL):
every bit pattern of the 8-bit and smaller types, all 65536 of F16 and
BF16, and tensors large enough to span several 4 MiB chunks.

Tolerances (also in weightfs-inspect(1)): counts, zeros, NaN, Inf, min, max
and the first values are exact; the mean is within 1e-12 of the largest
finite magnitude, the standard deviation within 1e-10 of itself.
"""

import math
import random
import struct

import numpy as np
import pytest

import stmodel
from safetensors_dtypes import nbytes

MEAN_TOL = 1e-12
STD_TOL = 1e-10


def stats_of(inspect, path, *args):
    rows = inspect.json("stats", path, *args)["tensors"]
    return {r["name"]: r for r in rows}


def check_row(row, values, exact_ints=False):
    """row (JSON of one tensor) against the Python values of its elements."""
    want = stmodel.describe(values)
    assert row["count"] == want["count"]
    assert row["zeros"] == want["zeros"]
    assert row["nan"] == want["nan"]
    assert row["inf"] == want["inf"]
    assert row["min"] == want["min"]
    assert row["max"] == want["max"]
    if want["mean"] is None:
        assert row["mean"] is None and row["std"] is None
        return
    scale = max(abs(want["min"]), abs(want["max"]))
    assert abs(row["mean"] - want["mean"]) <= MEAN_TOL * scale, (row["mean"], want["mean"])
    if want["std"] is None:
        assert row["std"] is None
    else:
        assert abs(row["std"] - want["std"]) <= STD_TOL * want["std"] + 1e-300, (row["std"], want["std"])
    first = values[:10]
    assert len(row["first"]) == len(first)
    for got, exp in zip(row["first"], first):
        assert stmodel.same_value(got, exp), (row["first"], first)
    if exact_ints:
        assert all(isinstance(v, int) for v in row["first"])


def check_numpy(row, arr):
    """row against numpy doing the same work on the same values (float64)."""
    x = arr.astype(np.float64).ravel()
    fin = x[np.isfinite(x)]
    assert row["count"] == x.size
    assert row["nan"] == int(np.isnan(x).sum())
    assert row["inf"] == int(np.isinf(x).sum())
    assert row["zeros"] == int((fin == 0).sum())
    if fin.size == 0:
        assert row["mean"] is None and row["min"] is None
        return
    if np.issubdtype(arr.dtype, np.integer):
        assert row["min"] == int(arr.min()) and row["max"] == int(arr.max())
    else:
        assert row["min"] == float(fin.min()) and row["max"] == float(fin.max())
    scale = float(np.abs(fin).max())
    assert abs(row["mean"] - float(fin.mean())) <= MEAN_TOL * scale
    if fin.size > 1:
        std = float(fin.std(ddof=1))
        assert abs(row["std"] - std) <= STD_TOL * std + 1e-300
    else:
        assert row["std"] is None
    first = arr.ravel()[:10].tolist()
    assert [stmodel.json_number(v) for v in row["first"]] == pytest.approx(first, nan_ok=True, rel=0, abs=0)


NUMPY = {"F64": np.float64, "F32": np.float32, "F16": np.float16,
         "I8": np.int8, "U8": np.uint8, "I16": np.int16, "U16": np.uint16,
         "I32": np.int32, "U32": np.uint32, "I64": np.int64, "U64": np.uint64}


def random_array(rng, dtype, shape):
    np_t = NUMPY[dtype]
    if np.issubdtype(np_t, np.integer):
        info = np.iinfo(np_t)
        return rng.integers(info.min, info.max, size=shape, dtype=np_t, endpoint=True)
    return (rng.standard_normal(size=shape) * 3 + 0.5).astype(np_t)


@pytest.mark.parametrize("dtype", list(NUMPY))
def test_against_numpy(inspect, tmp_path, dtype):
    rng = np.random.default_rng(sum(map(ord, dtype)))
    arrays = {
        "big": random_array(rng, dtype, (3, 1037)),
        "vec": random_array(rng, dtype, (17,)),
        "one": random_array(rng, dtype, (1,)),
        "scalar": random_array(rng, dtype, ()),
        "empty": random_array(rng, dtype, (0, 5)),
    }
    if dtype in ("F16", "F32", "F64"):
        special = random_array(rng, dtype, (100,))
        special[[3, 50]] = np.nan
        special[7] = np.inf
        special[8] = -np.inf
        special[9] = -0.0
        arrays["special"] = special
        arrays["allnan"] = np.full((4,), np.nan, dtype=NUMPY[dtype])
        arrays["offset"] = (1e4 + rng.standard_normal(3000) * 1e-2).astype(NUMPY[dtype])
    path = stmodel.write_safetensors(tmp_path / "x.safetensors",
                                     [(n, dtype, a.shape, a.tobytes()) for n, a in arrays.items()])
    rows = stats_of(inspect, path)
    for name, arr in arrays.items():
        check_numpy(rows[name], arr)
        assert rows[name]["shape"] == list(arr.shape)


def test_integer_extremes_are_exact(inspect, tmp_path):
    i64 = np.array([np.iinfo(np.int64).min, np.iinfo(np.int64).max, 0, -1, 2**53 + 1], dtype=np.int64)
    u64 = np.array([2**64 - 1, 0, 2**63, 2**53 + 1], dtype=np.uint64)
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", [
        ("i", "I64", i64.shape, i64.tobytes()), ("u", "U64", u64.shape, u64.tobytes())])
    rows = stats_of(inspect, path)
    assert rows["i"]["min"] == -2**63 and rows["i"]["max"] == 2**63 - 1
    assert rows["i"]["first"] == [int(v) for v in i64]
    assert rows["u"]["min"] == 0 and rows["u"]["max"] == 2**64 - 1
    assert rows["u"]["first"] == [int(v) for v in u64]
    assert rows["u"]["mean"] == pytest.approx(float(u64.astype(np.float64).mean()), rel=1e-15)


def windows(patterns, width=10):
    return [patterns[i:i + width] for i in range(0, len(patterns), width)]


@pytest.mark.parametrize("dtype", ["F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ",
                                   "F8_E5M2FNUZ", "U8", "I8", "BOOL"])
def test_every_byte(inspect, tmp_path, dtype):
    """Every one of the 256 patterns, ten per tensor so that each is shown."""
    tensors = [(f"w{k}", dtype, (len(w),), bytes(w)) for k, w in enumerate(windows(list(range(256))))]
    tensors.append(("all", dtype, (256,), bytes(range(256))))
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    rows = stats_of(inspect, path)
    for name, _, _, data in tensors:
        check_row(rows[name], stmodel.decode(dtype, data), exact_ints=dtype in ("U8", "I8", "BOOL"))
    special = {"F8_E5M2": (6, 2), "F8_E4M3": (2, 0), "F8_E8M0": (1, 0),
               "F8_E4M3FNUZ": (1, 0), "F8_E5M2FNUZ": (1, 0)}
    if dtype in special:
        assert (rows["all"]["nan"], rows["all"]["inf"]) == special[dtype]
    if dtype == "F8_E4M3":
        assert rows["all"]["max"] == 448 and rows["all"]["min"] == -448
    if dtype == "F8_E4M3FNUZ":
        assert rows["all"]["max"] == 240 and rows["all"]["zeros"] == 1  # no -0
    if dtype == "F8_E8M0":
        assert rows["all"]["min"] == 2.0 ** -127 and rows["all"]["max"] == 2.0 ** 127


def test_every_f4_byte(inspect, tmp_path):
    """F4: every byte (so every pair of nibbles); the low nibble comes first."""
    data = bytes(range(256))
    tensors = [(f"w{k}", "F4", (10,), data[i:i + 5]) for k, i in enumerate(range(0, 255, 5))]
    tensors += [("last", "F4", (2,), data[255:]), ("all", "F4", (512,), data)]
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    rows = stats_of(inspect, path)
    for name, _, _, d in tensors:
        check_row(rows[name], stmodel.decode("F4", d))
    assert rows["w0"]["first"][:4] == [0, 0, 0.5, 0]  # byte 0x01: low nibble 1 = 0.5 first
    assert rows["all"]["max"] == 6 and rows["all"]["min"] == -6
    assert rows["all"]["zeros"] == 64 and rows["all"]["nan"] == 0


@pytest.mark.parametrize("dtype", ["F6_E2M3", "F6_E3M2"])
def test_every_f6_pattern_at_every_position(inspect, tmp_path, dtype):
    groups = [[(v + 16 * p) % 64 for p in range(4)] for v in range(64)]
    tensors = [(f"g{v}", dtype, (4,), stmodel.pack_f6(g)) for v, g in enumerate(groups)]
    flat = [p for g in groups for p in g]
    tensors += [("all", dtype, (256,), stmodel.pack_f6(flat)),
                ("ten", dtype, (12,), stmodel.pack_f6(list(range(7, 19))))]
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    rows = stats_of(inspect, path)
    for name, _, _, d in tensors:
        values = stmodel.decode(dtype, d)
        check_row(rows[name], values)
    for v, g in enumerate(groups):
        assert rows[f"g{v}"]["first"] == [stmodel.minifloat(p, dtype) for p in g]
    top = 7.5 if dtype == "F6_E2M3" else 28.0
    assert rows["all"]["max"] == top and rows["all"]["min"] == -top


@pytest.mark.parametrize("dtype", ["BF16", "F16"])
def test_every_16_bit_pattern(inspect, tmp_path, dtype):
    patterns = list(range(65536))
    data = struct.pack("<65536H", *patterns)
    tensors = [(f"w{k:05d}", dtype, (len(w),), struct.pack(f"<{len(w)}H", *w))
               for k, w in enumerate(windows(patterns))]
    tensors.append(("all", dtype, (65536,), data))
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    rows = stats_of(inspect, path)
    values = stmodel.decode(dtype, data)
    for k, w in enumerate(windows(patterns)):
        got = rows[f"w{k:05d}"]["first"]
        assert all(stmodel.same_value(a, values[p]) for a, p in zip(got, w)), (k, got)
    check_row(rows["all"], values)
    if dtype == "F16":
        check_numpy(rows["all"], np.frombuffer(data, np.float16))


def test_complex(inspect, tmp_path):
    rng = np.random.default_rng(5)
    c = (rng.standard_normal(2001) + 1j * (rng.standard_normal(2001) * 4 - 1)).astype(np.complex64)
    c[5] = complex(np.nan, 1)
    c[6] = complex(2, np.inf)
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", [("c", "C64", c.shape, c.tobytes())])
    row = stats_of(inspect, path)["c"]
    assert row["count"] == 2001
    check_numpy({**row["real"], "count": 2001, "first": [v[0] for v in row["first"]]}, c.real)
    check_numpy({**row["imag"], "count": 2001, "first": [v[1] for v in row["first"]]}, c.imag)
    assert len(row["first"]) == 10


def test_bool_any_nonzero_byte_is_true(inspect, tmp_path):
    path = stmodel.write_safetensors(tmp_path / "x.safetensors",
                                     [("b", "BOOL", (5,), bytes([0, 1, 2, 255, 0]))])
    row = stats_of(inspect, path)["b"]
    assert row["first"] == [0, 1, 1, 1, 0]
    assert row["zeros"] == 2 and row["min"] == 0 and row["max"] == 1 and row["mean"] == 0.6


# --- several chunks ----------------------------------------------------------------

def f4_numpy(data):
    lut = np.array([stmodel.minifloat(p, "F4") for p in range(16)])
    b = np.frombuffer(data, np.uint8)
    out = np.empty(2 * b.size)
    out[0::2] = lut[b & 15]
    out[1::2] = lut[b >> 4]
    return out


def f6_numpy(data, dtype):
    lut = np.array([stmodel.minifloat(p, dtype) for p in range(64)])
    g = np.frombuffer(data, np.uint8).reshape(-1, 3).astype(np.uint32)
    v = g[:, 0] | g[:, 1] << 8 | g[:, 2] << 16
    return lut[np.stack([(v >> (6 * k)) & 63 for k in range(4)], axis=1).ravel()]


def bf16_numpy(data):
    return (np.frombuffer(data, np.uint16).astype(np.uint32) << 16).view(np.float32)


def test_large_tensors_span_chunks(inspect, tmp_path):
    """Tensors of 5-14 MB: chunk boundaries must fall on element groups and
    the combined result must not depend on the number of threads."""
    rng = np.random.default_rng(11)
    f32 = rng.standard_normal(3_500_001).astype(np.float32) * 0.02 + 0.001
    bf = rng.integers(0, 65536, 3_000_000, dtype=np.uint16)
    bf[(bf & 0x7F80) == 0x7F80] = 0x3F80  # finite values only
    f4 = rng.integers(0, 256, 2_600_000, dtype=np.uint8).tobytes()
    f6 = rng.integers(0, 256, 3 * 1_500_001, dtype=np.uint8).tobytes()
    f8 = rng.integers(0, 256, 9_000_000, dtype=np.uint8).tobytes()
    tensors = [("f32", "F32", f32.shape, f32.tobytes()), ("bf16", "BF16", bf.shape, bf.tobytes()),
               ("f4", "F4", (len(f4) * 2,), f4), ("f6", "F6_E3M2", (len(f6) // 3 * 4,), f6),
               ("e4m3", "F8_E4M3", (len(f8),), f8)]
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    one = inspect.run("stats", path, "--json", "-j", "1", check=0).stdout
    three = inspect.run("stats", path, "--json", "-j", "3", check=0).stdout
    assert one == three
    rows = stats_of(inspect, path)
    check_numpy(rows["f32"], f32)
    check_numpy(rows["bf16"], bf16_numpy(bf.tobytes()))
    check_numpy(rows["f4"], f4_numpy(f4))
    check_numpy(rows["f6"], f6_numpy(f6, "F6_E3M2"))
    lut = np.array([stmodel.minifloat(p, "F8_E4M3") for p in range(256)])
    check_numpy(rows["e4m3"], lut[np.frombuffer(f8, np.uint8)])


def test_text_output(inspect, tmp_path):
    a = np.array([1.5, -2, 0, np.nan, 3, 4, 5, 6, 7, 8, 9], dtype=np.float32)
    c = np.array([1 + 2j, 3 - 4j], dtype=np.complex64)
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", [
        ("layer.10.w", "F32", a.shape, a.tobytes()), ("layer.2.w", "F32", (0,), b""),
        ("c", "C64", c.shape, c.tobytes()), ("i", "I8", (3,), bytes([255, 0, 7]))])
    out = inspect.run("stats", path, check=0).stdout.splitlines()
    assert out == [
        "c  C64 [2]",
        "  count 2",
        "  real: mean 2  std 1.41421  min 1  max 3  zeros 0  nan 0  inf 0",
        "  imag: mean -1  std 4.24264  min -4  max 2  zeros 0  nan 0  inf 0",
        "  first 1+2j 3-4j",
        "i  I8 [3]",
        "  count 3",
        "  mean 2  std 4.3589  min -1  max 7  zeros 1  nan 0  inf 0",
        "  first -1 0 7",
        "layer.2.w  F32 [0]",
        "  count 0",
        "  mean -  std -  min -  max -  zeros 0  nan 0  inf 0",
        "  first",
        "layer.10.w  F32 [11]",
        "  count 11",
        "  mean 4.15  std 3.55942  min -2  max 9  zeros 1  nan 1  inf 0",
        "  first 1.5 -2 0 nan 3 4 5 6 7 8 ...",
    ]


def test_globs_select(inspect, tmp_path):
    names = [f"m.{i}.w" for i in range(12)]
    path = stmodel.write_safetensors(tmp_path / "x.safetensors",
                                     [(n, "U8", (1,), bytes([i])) for i, n in enumerate(names)])
    rows = inspect.json("stats", path, "m.1*.w")["tensors"]
    assert [r["name"] for r in rows] == ["m.1.w", "m.10.w", "m.11.w"]
    inspect.run("stats", path, "x*", check=2)


def test_random_dtypes_against_decoder(inspect, tmp_path):
    """Random bytes of every non-numpy dtype, against the Python decoder."""
    rng = random.Random(3)
    tensors = []
    for dtype in ("BF16", "F8_E5M2", "F8_E4M3", "F8_E8M0", "F8_E4M3FNUZ", "F8_E5M2FNUZ",
                  "F4", "F6_E2M3", "F6_E3M2"):
        for k, n in enumerate((4, 8, 1000, 4100)):
            shape = (n,)
            tensors.append((f"{dtype}.{k}", dtype, shape, rng.randbytes(nbytes(dtype, shape))))
    path = stmodel.write_safetensors(tmp_path / "x.safetensors", tensors)
    rows = stats_of(inspect, path)
    for name, dtype, _, data in tensors:
        check_row(rows[name], stmodel.decode(dtype, data))
    assert math.isfinite(rows["BF16.3"]["std"])
