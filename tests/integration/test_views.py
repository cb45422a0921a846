"""Typed views (-o view=npy, view=f32, npy_float=f16): every dtype read
through numpy.load (whole and memory-mapped), compared bit for bit with a
decoder written here from the formats' definitions, not from weightfs's
tables; byte ranges at odd offsets, mmap, concurrent readers; scalars,
empty tensors, long headers; names, sizes and xattrs.
"""

import concurrent.futures
import hashlib
import json
import math
import mmap
import os
import random
import struct
import subprocess

import numpy as np
import pytest

from minifloat import MINIFLOATS, e8m0, minifloat
from safetensors_dtypes import DTYPE_BITS
from safetensors_writer import random_tensors, write_safetensors

# ---- the independent decoder (tests/lib/minifloat.py), checked first --------

NAN32 = 0x7FC00000  # what a NaN of a format without payloads becomes
NAN16 = 0x7E00


# Published values, to check that decoder before trusting it.
F4_TABLE = [0.0, 0.5, 1.0, 1.5, 2.0, 3.0, 4.0, 6.0]
KNOWN = [("F8_E4M3", 0x7E, 448.0), ("F8_E4M3", 0x01, 2.0 ** -9), ("F8_E5M2", 0x7B, 57344.0),
         ("F8_E5M2", 0x7C, math.inf), ("F8_E4M3FNUZ", 0x7F, 240.0), ("F8_E5M2FNUZ", 0x7F, 57344.0),
         ("F8_E5M2FNUZ", 0x01, 2.0 ** -17), ("F6_E2M3", 0x1F, 7.5), ("F6_E3M2", 0x1F, 28.0),
         ("F6_E2M3", 0x01, 0.125), ("F6_E3M2", 0x01, 0.0625)]


def test_decoder_matches_published_values():
    for nibble in range(16):
        v = F4_TABLE[nibble & 7]
        assert minifloat(nibble, "F4") == (-v if nibble & 8 else v)
    for dtype, bits, value in KNOWN:
        assert minifloat(bits, dtype) == value, (dtype, hex(bits))
    for dtype in ("F8_E4M3FNUZ", "F8_E5M2FNUZ"):
        assert math.isnan(minifloat(0x80, dtype))
    assert math.isnan(minifloat(0x7F, "F8_E4M3")) and math.isnan(minifloat(0xFF, "F8_E4M3"))
    assert e8m0(127) == 1.0 and e8m0(0) == 2.0 ** -127 and math.isnan(e8m0(255))


def elements(dtype, data):
    """The stored bit patterns of a small-float tensor, element by element
    (F4: low nibble first; F6: bits [6i, 6i+6) of the little-endian stream)."""
    if DTYPE_BITS[dtype] == 8:
        return list(data)
    if dtype == "F4":
        return [x for b in data for x in (b & 15, b >> 4)]
    stream = int.from_bytes(data, "little")
    return [(stream >> (6 * i)) & 63 for i in range(len(data) * 8 // 6)]


def values(dtype, data):
    """Python floats of a small-float tensor (NaN as math.nan)."""
    if dtype == "F8_E8M0":
        return [e8m0(b) for b in data]
    return [minifloat(b, dtype) for b in elements(dtype, data)]


def to_bits(vals, np_float, nan_bits):
    """Floats as the bit patterns of np_float, every NaN as nan_bits; checks
    each value is exact in that type."""
    uint = np.uint32 if np_float is np.float32 else np.uint16
    arr = np.array(vals, dtype=np.float64)
    out = arr.astype(np_float)
    finite = np.isfinite(arr)
    assert np.array_equal(out[finite].astype(np.float64), arr[finite]), "not exact"
    bits = out.view(uint).copy()
    bits[np.isnan(arr)] = nan_bits
    return bits


NATIVE = {"BOOL": "|b1", "U8": "|u1", "I8": "|i1", "I16": "<i2", "U16": "<u2", "F16": "<f2",
          "I32": "<i4", "U32": "<u4", "F32": "<f4", "I64": "<i8", "U64": "<u8", "F64": "<f8",
          "C64": "<c8"}
HALF_EXACT = {"F8_E5M2", "F8_E4M3", "F8_E4M3FNUZ", "F8_E5M2FNUZ", "F4", "F6_E2M3", "F6_E3M2"}
FLOATING = {"F16", "BF16", "F32", "F64"} | set(MINIFLOATS) | {"F8_E8M0"}


def expected_npy(dtype, shape, data, f16=False):
    """(numpy dtype, bytes of the data) that view=npy must show."""
    if dtype in NATIVE:
        return np.dtype(NATIVE[dtype]), data
    if dtype == "BF16":
        bits = np.frombuffer(data, "<u2").astype(np.uint32) << 16
        return np.dtype("<f4"), bits.astype("<u4").tobytes()
    if f16 and dtype in HALF_EXACT:
        return np.dtype("<f2"), to_bits(values(dtype, data), np.float16, NAN16).astype("<u2").tobytes()
    return np.dtype("<f4"), to_bits(values(dtype, data), np.float32, NAN32).astype("<u4").tobytes()


def expected_f32(dtype, data):
    """(user.dtype, bytes) that view=f32 must show."""
    if dtype not in FLOATING or dtype == "F32":
        return dtype, data
    if dtype == "F16":
        return "F32", np.frombuffer(data, "<f2").astype("<f4").tobytes()
    if dtype == "F64":  # rounded to nearest; beyond the float range: infinity
        with np.errstate(over="ignore"):
            return "F32", np.frombuffer(data, "<f8").astype("<f4").tobytes()
    return "F32", expected_npy(dtype, None, data)[1]


# ---- fixtures ------------------------------------------------------------------

# Shapes whose element count is a whole number of F4 and F6 groups.
SHAPES = {8: (3, 4), 16: (5, 3), 32: (2, 6), 64: (4, 3), 4: (2, 6), 6: (3, 4)}


def every_dtype():
    spec = {f"t.{d}": (d, SHAPES[b]) for d, b in DTYPE_BITS.items()}
    tensors = random_tensors(spec, seed=12)
    # every bit pattern of the 8-bit types once, so every table entry is read
    for d, b in DTYPE_BITS.items():
        if b == 8 and d != "BOOL":
            tensors[f"all.{d}"] = (d, (16, 16), bytes(range(256)))
    tensors["all.F4"] = ("F4", (256,), bytes(range(128)))
    tensors["all.F6_E2M3"] = ("F6_E2M3", (64,), bytes(range(48)))
    tensors["all.F6_E3M2"] = ("F6_E3M2", (64,), bytes(range(48)))
    tensors["all.BF16"] = ("BF16", (256, 256), struct.pack("<65536H", *range(65536)))
    tensors["all.F16"] = ("F16", (65536,), struct.pack("<65536H", *range(65536)))
    b = tensors["t.BOOL"]
    tensors["t.BOOL"] = (b[0], b[1], bytes(x & 1 for x in b[2]))
    return tensors


@pytest.fixture(scope="module")
def model(tmp_path_factory):
    tensors = every_dtype()
    path = write_safetensors(tmp_path_factory.mktemp("views") / "m.safetensors", tensors)
    return path, tensors


def npy_path(mnt, name):
    return mnt / f"{name}.npy"


# ---- view=npy -------------------------------------------------------------------

@pytest.mark.parametrize("f16", [False, True])
def test_npy_every_dtype(mount, model, f16):
    path, tensors = model
    opts = ["-o", "view=npy"] + (["-o", "npy_float=f16"] if f16 else [])
    mnt = mount(path, *opts)
    for name, (dtype, shape, data) in tensors.items():
        want_dtype, want = expected_npy(dtype, shape, data, f16)
        p = npy_path(mnt, name)
        for arr in (np.load(p), np.load(p, mmap_mode="r")):
            assert arr.dtype == want_dtype, name
            assert arr.shape == tuple(shape), name
            assert np.ascontiguousarray(arr).tobytes() == want, name
        raw = p.read_bytes()
        assert raw[:8] == b"\x93NUMPY\x01\x00"
        hlen = struct.unpack("<H", raw[8:10])[0]
        assert (10 + hlen) % 64 == 0 and raw[10 + hlen - 1:10 + hlen] == b"\n"
        assert os.stat(p).st_size == 10 + hlen + len(want)
        assert os.getxattr(p, "user.stored_dtype") == dtype.encode()
        assert os.getxattr(p, "user.name") == name.encode()
        shown = {"<f4": "F32", "<f2": "F16"}.get(want_dtype.str, dtype)
        assert os.getxattr(p, "user.dtype") == shown.encode()


def test_npy_f16_is_half_only_where_exact(mount, model):
    path, _ = model
    mnt = mount(path, "-o", "view=npy", "-o", "npy_float=f16")
    assert np.load(npy_path(mnt, "all.F8_E4M3")).dtype == np.float16
    assert np.load(npy_path(mnt, "all.F6_E3M2")).dtype == np.float16
    # BF16 and E8M0 have 8 exponent bits: a half cannot hold them
    assert np.load(npy_path(mnt, "all.BF16")).dtype == np.float32
    assert np.load(npy_path(mnt, "all.F8_E8M0")).dtype == np.float32


def test_npy_scalar_empty_and_long_header(mount, tmp_path):
    ndim = 23000  # a shape text past 65535 bytes: NPY 2.0
    tensors = {
        "scalar.bf": ("BF16", (), b"\x80\x3f"),
        "scalar.f32": ("F32", (), struct.pack("<f", 2.5)),
        "empty.bf": ("BF16", (0, 7), b""),
        "empty.i8": ("I8", (3, 0), b""),
        "empty.e4": ("F8_E4M3", (0,), b""),
        "many.dims": ("BF16", (1,) * ndim, b"\x00\x40"),
    }
    mnt = mount(write_safetensors(tmp_path / "s.safetensors", tensors), "-o", "view=npy")
    for p in (npy_path(mnt, "scalar.bf"), npy_path(mnt, "scalar.f32")):
        for a in (np.load(p), np.load(p, mmap_mode="r")):
            assert a.shape == () and a.dtype == np.float32
    assert np.load(npy_path(mnt, "scalar.bf")) == 1.0
    assert np.load(npy_path(mnt, "scalar.f32")) == 2.5
    assert np.load(npy_path(mnt, "empty.bf")).shape == (0, 7)
    assert np.load(npy_path(mnt, "empty.i8")).shape == (3, 0)
    assert np.load(npy_path(mnt, "empty.e4")).dtype == np.float32
    p = npy_path(mnt, "many.dims")
    raw = p.read_bytes()
    assert raw[6:8] == b"\x02\x00"
    assert (12 + struct.unpack("<I", raw[8:12])[0]) % 64 == 0
    # numpy makes no array of more than 32 dimensions, but reads the header
    with open(p, "rb") as f:
        assert np.lib.format.read_magic(f) == (2, 0)
        shape, fortran, dt = np.lib.format.read_array_header_2_0(f, max_header_size=200000)
        assert shape == (1,) * ndim and not fortran and dt == np.float32
        assert f.tell() % 64 == 0 and f.read() == struct.pack("<f", 2.0)


def test_npy_names_and_directories(mount, llama_dir):
    raw = mount(llama_dir)
    npy = mount(llama_dir, "-o", "view=npy")
    for dirpath, dirs, files in os.walk(raw):
        rel = os.path.relpath(dirpath, raw)
        got_dirs, got_files = [], []
        for e in os.scandir(npy / rel):
            (got_dirs if e.is_dir() else got_files).append(e.name)
        assert sorted(got_dirs) == sorted(dirs)
        tensors = {f for f in files if "user.dtype" in os.listxattr(os.path.join(dirpath, f))}
        others = set(files) - tensors
        assert sorted(got_files) == sorted([f + ".npy" for f in tensors] + list(others))
        for f in others:  # config.json and friends unchanged
            assert (npy / rel / f).read_bytes() == open(os.path.join(dirpath, f), "rb").read()


# ---- byte ranges, mmap, concurrency --------------------------------------------------

@pytest.fixture(scope="module")
def big(tmp_path_factory):
    rng = random.Random(7)
    tensors = {
        "big.bf16": ("BF16", (1000, 300), rng.randbytes(600000)),
        "big.f6": ("F6_E2M3", (4096, 37), rng.randbytes(4096 * 37 * 3 // 4)),
        "big.f4": ("F4", (77, 1002), rng.randbytes(77 * 501)),
        "big.e5": ("F8_E5M2", (333333,), rng.randbytes(333333)),
        "big.f32": ("F32", (70001,), rng.randbytes(280004)),
    }
    return write_safetensors(tmp_path_factory.mktemp("big") / "b.safetensors", tensors), tensors


def ranges(size, rng, count=300):
    out = [(0, size), (1, 3), (size - 1, 1), (size - 3, 10), (63, 2), (64, 1), (127, 130)]
    for _ in range(count):
        a = rng.randrange(size)
        out.append((a, rng.choice([1, 2, 3, 5, 7, 13, 4095, 4097, 65537, 300001])))
    return out


@pytest.mark.parametrize("view", ["npy", "f32"])
def test_odd_ranges_equal_slices(mount, big, view):
    path, tensors = big
    mnt = mount(path, "-o", f"view={view}")
    rng = random.Random(view)
    for name, (dtype, shape, data) in tensors.items():
        p = mnt / (name + ".npy" if view == "npy" else name)
        whole = p.read_bytes()
        if view == "npy":
            want_dtype, want = expected_npy(dtype, shape, data)
            assert whole.endswith(want)
        else:
            want = expected_f32(dtype, data)[1]
            assert whole == want
        with open(p, "rb") as f:
            fd = f.fileno()
            for a, n in ranges(len(whole), rng):
                assert os.pread(fd, n, a) == whole[a:a + n], (name, a, n)
            with mmap.mmap(fd, 0, mmap.MAP_SHARED, mmap.PROT_READ) as mm:
                for a, n in ranges(len(whole), rng, 50):
                    assert mm[a:a + n] == whole[a:a + n], (name, a, n)


def test_concurrent_readers(mount, big):
    path, tensors = big
    mnt = mount(path, "-o", "view=npy")
    wholes = {}
    for name in tensors:
        wholes[name] = npy_path(mnt, name).read_bytes()

    def reader(seed):
        rng = random.Random(seed)
        names = list(tensors)
        bad = 0
        for _ in range(200):
            name = rng.choice(names)
            whole = wholes[name]
            a = rng.randrange(len(whole))
            n = rng.randrange(1, 200000)
            with open(npy_path(mnt, name), "rb") as f:
                bad += os.pread(f.fileno(), n, a) != whole[a:a + n]
        return bad

    # drop the page cache of the mount's files so that reads reach weightfs
    for name in tensors:
        fd = os.open(npy_path(mnt, name), os.O_RDONLY)
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        os.close(fd)
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        assert sum(pool.map(reader, range(8))) == 0


# ---- view=f32 ------------------------------------------------------------------------

def test_f32_sizes_bytes_and_xattrs(mount, model):
    path, tensors = model
    mnt = mount(path, "-o", "view=f32")
    for name, (dtype, shape, data) in tensors.items():
        p = mnt / name
        shown, want = expected_f32(dtype, data)
        assert os.stat(p).st_size == len(want), name
        assert p.read_bytes() == want, name
        assert os.getxattr(p, "user.dtype") == shown.encode()
        assert os.getxattr(p, "user.stored_dtype") == dtype.encode()
        assert os.getxattr(p, "user.shape") == ("[" + ",".join(map(str, shape)) + "]").encode()
        if shown == "F32":
            a = np.fromfile(p, "<f4").reshape(shape)
            assert a.tobytes() == want


def test_raw_view_is_unchanged(mount, model):
    path, tensors = model
    for opts in ([], ["-o", "view=raw"]):
        mnt = mount(path, *opts)
        for name, (dtype, shape, data) in tensors.items():
            assert (mnt / name).read_bytes() == data
            assert "user.stored_dtype" not in os.listxattr(mnt / name)


def test_directory_totals_are_view_sizes(mount, model):
    path, tensors = model
    mnt = mount(path, "-o", "view=f32", "-o", "layout=tree")
    want = sum(len(expected_f32(d, data)[1]) for name, (d, s, data) in tensors.items()
               if name.startswith("t."))
    assert os.getxattr(mnt / "t", "user.nbytes") == str(want).encode()


@pytest.mark.parametrize("opts,fragment", [
    (["-o", "view=png"], "view=png: expected raw, npy or f32"),
    (["-o", "view=npy", "-o", "npy_float=f8"], "npy_float=f8: expected f32 or f16"),
    (["-o", "npy_float=f16"], "npy_float=f16 needs view=npy"),
])
def test_bad_options(run_weightfs, model, tmp_path, opts, fragment):
    mnt = tmp_path / "bad"
    mnt.mkdir()
    r = run_weightfs(*opts, model[0], mnt)
    assert r.returncode == 2 and fragment in r.stderr


# ---- types of other formats: I4, U4, C128 (an ONNX model) ------------------------

def test_onnx_nibbles_and_complex128(mount, tmp_path):
    from onnx_writer import COMPLEX128, graph, model, tensor
    INT4, UINT4 = 22, 21  # onnx.proto TensorProto.DataType
    i4 = bytes([0x8F, 0x70, 0x21])  # elements -1, -8, 0, 7, 1, 2 (low nibble first)
    u4 = bytes([0x8F, 0x70])        # 15, 8, 0, 7
    c128 = struct.pack("<4d", 1.5, -2.5, 1e300, -0.0)
    g = graph([tensor("q.i4", INT4, [2, 3], raw=i4), tensor("q.u4", UINT4, [4], raw=u4),
               tensor("q.c128", COMPLEX128, [2], raw=c128)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model(g))

    def nibbles(data, signed):
        out = [x for b in data for x in (b & 15, b >> 4)]
        return [x - 16 if signed and x >= 8 else x for x in out]

    mnt = mount(path, "-o", "view=npy")
    for p in (mnt / "q.i4.npy",):
        for a in (np.load(p), np.load(p, mmap_mode="r")):
            assert a.dtype == np.int8 and a.shape == (2, 3)
            assert a.ravel().tolist() == nibbles(i4, True) == [-1, -8, 0, 7, 1, 2]
    a = np.load(mnt / "q.u4.npy")
    assert a.dtype == np.uint8 and a.tolist() == nibbles(u4, False)
    a = np.load(mnt / "q.c128.npy", mmap_mode="r")
    assert a.dtype == np.complex128 and a.tobytes() == c128
    assert os.getxattr(mnt / "q.i4.npy", "user.dtype") == b"I8"
    assert os.getxattr(mnt / "q.i4.npy", "user.stored_dtype") == b"I4"

    mnt = mount(path, "-o", "view=f32")  # integers and complex keep their bytes
    for name, data, dtype in (("q.i4", i4, b"I4"), ("q.u4", u4, b"U4"), ("q.c128", c128, b"C128")):
        assert (mnt / name).read_bytes() == data
        assert os.getxattr(mnt / name, "user.dtype") == dtype


# ---- GGUF (the fixtures' manifest: sha256 of the dequantized float32) ------------

from testdata import GGUF_SAMPLES  # noqa: E402


def gguf_manifest():
    with open(GGUF_SAMPLES / "manifest.json") as f:
        return json.load(f)["files"]["model.gguf"]["tensors"]


@pytest.mark.parametrize("view", ["npy", "f32"])
def test_gguf_every_type(mount, view):
    """Every tensor of model.gguf (F32, F16, BF16, Q4_0 ... Q6_K, TQ1_0,
    TQ2_0): the values are the ones ggml's reference dequantizer gives."""
    tensors = gguf_manifest()
    mnt = mount(GGUF_SAMPLES / "model.gguf", "-o", f"view={view}", "-o", "layout=flat")
    types = set()
    for name, t in tensors.items():
        types.add(t["type"])
        if view == "npy":
            p = mnt / (name + ".npy")
            want = np.float16 if t["type"] == "F16" else np.float32  # F16 is numpy's own
            for a in (np.load(p), np.load(p, mmap_mode="r")):
                assert a.shape == tuple(t["shape"]) and a.dtype == want, name
                got = hashlib.sha256(a.astype("<f4").tobytes()).hexdigest()
                assert got == t["dequant_f32_sha256"], (name, t["type"])
        else:
            p = mnt / name
            assert os.stat(p).st_size == 4 * t["n_elements"]
            assert hashlib.sha256(p.read_bytes()).hexdigest() == t["dequant_f32_sha256"], name
            assert os.getxattr(p, "user.dtype") == b"F32"
        assert os.getxattr(p, "user.stored_dtype") == t["type"].encode()
        assert os.getxattr(p, "user.shape") == json.dumps(t["shape"], separators=(",", ":")).encode()
    assert {"Q4_0", "Q8_0", "Q4_K", "Q6_K", "TQ2_0"} <= types


def test_gguf_odd_ranges(mount):
    """Reads that cut ggml blocks (32 and 256 elements) anywhere."""
    tensors = gguf_manifest()
    mnt = mount(GGUF_SAMPLES / "model.gguf", "-o", "view=npy", "-o", "layout=flat")
    rng = random.Random(5)
    for name in tensors:
        p = mnt / (name + ".npy")
        whole = p.read_bytes()
        with open(p, "rb") as f:
            for a, n in ranges(len(whole), rng, 60):
                assert os.pread(f.fileno(), n, a) == whole[a:a + n], (name, a, n)


def write_gguf(path, tensors):
    """A GGUF v3 file (alignment 32) with tensors [(name, ggml type id,
    row-major shape, bytes)]."""
    def gstr(b):
        return struct.pack("<Q", len(b)) + b
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 1)
    head += gstr(b"general.architecture") + struct.pack("<I", 8) + gstr(b"llama")
    offset, body = 0, b""
    for name, type_id, shape, data in tensors:
        head += gstr(name.encode()) + struct.pack("<I", len(shape))
        head += b"".join(struct.pack("<Q", d) for d in reversed(shape))  # ne: innermost first
        head += struct.pack("<IQ", type_id, offset)
        body += data + b"\0" * (-len(data) % 32)
        offset += len(data) + (-len(data) % 32)
    head += b"\0" * (-len(head) % 32)
    path.write_bytes(head + body)
    return path


def test_undecoded_type_is_bytes_with_one_warning(run_weightfs, tmp_path):
    """IQ2_XXS (a grid-based type the library does not dequantize): a uint8
    .npy of the stored bytes in view=npy, the stored bytes in view=f32, and
    the type named in one warning at mount."""
    rng = random.Random(3)
    iq = rng.randbytes(2 * 66)  # two IQ2_XXS blocks of 256 values
    iq1 = rng.randbytes(50)     # one IQ1_S block
    q8 = struct.pack("<e", 0.5) + bytes(range(32))  # one Q8_0 block: 0.5 * q
    path = write_gguf(tmp_path / "m.gguf", [("a.iq", 16, (2, 256), iq), ("a.iq1", 19, (256,), iq1),
                                            ("a.q8", 8, (32,), q8)])
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    r = run_weightfs("-o", "view=npy", path, mnt)
    assert r.returncode == 0, r.stderr
    warnings = [line for line in r.stderr.splitlines() if "not decoded" in line]
    assert len(warnings) == 1 and "IQ2_XXS" in warnings[0] and "IQ1_S" in warnings[0], r.stderr
    for name, data, dtype in (("a.iq", iq, b"IQ2_XXS"), ("a.iq1", iq1, b"IQ1_S")):
        for a in (np.load(mnt / f"{name}.npy"), np.load(mnt / f"{name}.npy", mmap_mode="r")):
            assert a.dtype == np.uint8 and a.shape == (len(data),) and a.tobytes() == data
        assert os.getxattr(mnt / f"{name}.npy", "user.dtype") == b"U8"
        assert os.getxattr(mnt / f"{name}.npy", "user.stored_dtype") == dtype
    a = np.load(mnt / "a.q8.npy")
    assert a.dtype == np.float32 and a.tolist() == [0.5 * q for q in range(32)]
    subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
    r = run_weightfs("-o", "view=f32", path, mnt)
    assert r.returncode == 0 and "view=f32: IQ2_XXS, IQ1_S not decoded" in r.stderr, r.stderr
    assert (mnt / "a.iq").read_bytes() == iq
    assert os.getxattr(mnt / "a.iq", "user.dtype") == b"IQ2_XXS"
    assert (mnt / "a.q8").read_bytes() == np.array([0.5 * q for q in range(32)], "<f4").tobytes()


# ---- PyTorch (strided extents): a view reads gathered elements ---------------------

@pytest.mark.parametrize("sample", ["views.pt", "dtypes.pt"])
def test_pytorch_views_equal_decoded_raw(mount, sample):
    """Every tensor of torch's own files (slices, transposes, expand with
    stride 0, every dtype torch stores): view=npy and view=f32 show what the
    decoder here computes from the raw view's bytes (which the PyTorch
    suite checks against torch)."""
    from testdata import DATA
    path = DATA / "pytorch-samples" / sample
    raw = mount(path, "-o", "layout=flat")
    npy = mount(path, "-o", "layout=flat", "-o", "view=npy")
    f32 = mount(path, "-o", "layout=flat", "-o", "view=f32")
    names = [n for n in os.listdir(raw) if "user.dtype" in os.listxattr(raw / n)]
    assert names
    for name in names:
        dtype = os.getxattr(raw / name, "user.dtype").decode()
        shape = tuple(json.loads(os.getxattr(raw / name, "user.shape")))
        data = (raw / name).read_bytes()
        want_dtype, want = expected_npy(dtype, shape, data)
        for a in (np.load(npy / f"{name}.npy"), np.load(npy / f"{name}.npy", mmap_mode="r")):
            assert a.dtype == want_dtype and a.shape == shape, name
            assert np.ascontiguousarray(a).tobytes() == want, name
        assert (f32 / name).read_bytes() == expected_f32(dtype, data)[1], name
