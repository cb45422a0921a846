#!/usr/bin/python3
"""Typed views benchmark (issue 12): output bytes per second of reading a
tensor through view=f32 against view=raw, and numpy.load(mmap_mode='r').sum()
through view=npy against a float32 .npy on the same disk.

Every comparison is a ratio of two contenders measured in the same round,
the order alternating every round, reported as the median over the rounds.
Each measurement mounts afresh (so the mount's page cache is empty and every
byte goes through weightfs) with the shard already in the page cache.

usage (root): contrib/bench/views.py WEIGHTFS_BINARY [ROUNDS]
Environment: BENCH_DIR (default /var/tmp/weightfs-bench-views),
VIEWS_GIB (BF16 tensor size, default 1), VIEWS_NPY_GIB (default 0.5),
BENCH_PREFAULT (bytes of memory touched and freed before every measurement,
default 3 GiB: see "Machine" in RESULTS.md, filling page cache on this VM is
otherwise bound by host page faults),
VIEWS_Q4K_GIB: decoded size of the Q4_K tensor (default 1; 0 skips the Q4_K
case, which needs a weightfs that mounts GGUF and decodes Q4_K).
"""

import json
import os
import statistics
import struct
import subprocess
import sys
import time

import numpy as np

BIN = os.path.abspath(sys.argv[1])
ROUNDS = int(sys.argv[2]) if len(sys.argv) > 2 else 5
DIR = os.environ.get("BENCH_DIR", "/var/tmp/weightfs-bench-views")
GIB = float(os.environ.get("VIEWS_GIB", "1"))
NPY_GIB = float(os.environ.get("VIEWS_NPY_GIB", "0.5"))
MNT = os.path.join(DIR, "mnt")
PREFAULT = int(os.environ.get("BENCH_PREFAULT", str(3 << 30)))
CHUNK = 1 << 20


def write_safetensors(path, name, dtype, shape, nbytes, seed):
    """One tensor of random bytes, written in 64 MiB pieces."""
    header = json.dumps({name: {"dtype": dtype, "shape": list(shape),
                                "data_offsets": [0, nbytes]}}).encode()
    header += b" " * (-len(header) % 8)
    rng = np.random.default_rng(seed)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(header)) + header)
        left = nbytes
        while left:
            n = min(left, 64 << 20)
            # BF16 patterns of ordinary numbers (no NaN), like weights
            vals = rng.standard_normal(n // 2, dtype=np.float32)
            f.write((vals.view(np.uint32) >> 16).astype("<u2").tobytes())
            left -= n


def write_gguf_q4k(path, name, rows, cols, seed):
    """A GGUF v3 file with one Q4_K tensor [rows, cols] (ne = [cols, rows]):
    random blocks whose scales d and dmin are set to 1/16, so no NaN."""
    def gstr(b):
        return struct.pack("<Q", len(b)) + b
    kv = gstr(b"general.architecture") + struct.pack("<I", 8) + gstr(b"llama")
    info = gstr(name.encode()) + struct.pack("<IQQIQ", 2, cols, rows, 12, 0)
    head = b"GGUF" + struct.pack("<IQQ", 3, 1, 1) + kv + info
    head += b"\0" * (-len(head) % 32)
    rng = np.random.default_rng(seed)
    nblocks = rows * cols // 256
    with open(path, "wb") as f:
        f.write(head)
        left = nblocks
        while left:
            n = min(left, 1 << 18)
            blocks = rng.integers(0, 256, size=(n, 144), dtype=np.uint8)
            blocks[:, 0:4] = np.frombuffer(struct.pack("<HH", 0x2C00, 0x2C00), np.uint8)
            f.write(blocks.tobytes())
            left -= n


def warm(path):
    """The source into the page cache, then memory touched and freed."""
    with open(path, "rb") as f:
        while f.read(8 << 20):
            pass
    if PREFAULT:
        a = np.ones(PREFAULT // 8)
        del a


def mount(source, *opts):
    os.makedirs(MNT, exist_ok=True)
    subprocess.run([BIN, *opts, source, MNT], check=True)


def umount():
    subprocess.run(["fusermount3", "-u", MNT], check=True)


def read_all(path):
    """Output bytes per second of reading path in 1 MiB reads."""
    buf = bytearray(CHUNK)
    total = 0
    fd = os.open(path, os.O_RDONLY)
    t0 = time.perf_counter()
    while True:
        n = os.readv(fd, [buf])
        if n == 0:
            break
        total += n
    dt = time.perf_counter() - t0
    os.close(fd)
    return total / dt, total


def npsum(path):
    t0 = time.perf_counter()
    s = float(np.load(path, mmap_mode="r").sum(dtype=np.float64))
    return time.perf_counter() - t0, s


def median_ratio(rows):
    return statistics.median(a / b for a, b in rows)


def read_case(label, source, rel, view_opts):
    """Ratio of view's output bytes/s to raw's, per round."""
    rows = []
    for r in range(ROUNDS):
        res = {}
        for which in (["view", "raw"] if r % 2 == 0 else ["raw", "view"]):
            warm(source)
            mount(source, *(view_opts if which == "view" else ["-o", "view=raw"]))
            try:
                name = rel + (".npy" if "view=npy" in view_opts and which == "view" else "")
                res[which] = read_all(os.path.join(MNT, name))
            finally:
                umount()
        rows.append((res["view"][0], res["raw"][0]))
        print(f"{label} round {r}: view {res['view'][0] / 1e9:.2f} GB/s ({res['view'][1]} B), "
              f"raw {res['raw'][0] / 1e9:.2f} GB/s ({res['raw'][1]} B)", flush=True)
    return {"case": label, "ratio": median_ratio(rows),
            "view_gbps": statistics.median(a for a, _ in rows) / 1e9,
            "raw_gbps": statistics.median(b for _, b in rows) / 1e9}


def npy_case(source, rel, f32npy, f32source):
    """Three contenders: view=npy of the BF16 tensor (decoded), the float32
    .npy on disk, and view=npy of the same float32 values stored as F32
    (served undecoded: what FUSE alone costs)."""
    rows = []
    order = ["view", "file", "f32view"]
    for r in range(ROUNDS):
        res = {}
        for which in order[r % 3:] + order[:r % 3]:
            if which == "file":
                warm(f32npy)
                res[which] = npsum(f32npy)
                continue
            src = source if which == "view" else f32source
            warm(src)
            mount(src, "-o", "view=npy")
            try:
                res[which] = npsum(os.path.join(MNT, rel + ".npy"))
            finally:
                umount()
        assert res["view"][1] == res["file"][1] == res["f32view"][1], res
        rows.append((res["file"][0], res["view"][0], res["f32view"][0]))
        print(f"npy sum round {r}: view=npy of BF16 {res['view'][0]:.3f} s, float32 .npy "
              f"{res['file'][0]:.3f} s, view=npy of F32 {res['f32view'][0]:.3f} s", flush=True)
    return {"case": "numpy.load(mmap_mode='r').sum(): view=npy of BF16 vs float32 .npy (speed ratio)",
            "ratio": statistics.median(f / v for f, v, _ in rows),
            "ratio_vs_f32_view": statistics.median(g / v for _, v, g in rows),
            "view_s": statistics.median(v for _, v, _ in rows),
            "file_s": statistics.median(f for f, _, _ in rows),
            "f32_view_s": statistics.median(g for _, _, g in rows)}


def main():
    os.makedirs(DIR, exist_ok=True)
    results = []
    n = int(GIB * (1 << 30)) // 2 // 4096 * 4096
    bf = os.path.join(DIR, f"bf16-{GIB}g.safetensors")
    if not os.path.exists(bf):
        write_safetensors(bf, "w", "BF16", (n // 4096, 4096), 2 * n, 1)
    results.append(read_case(f"read {GIB} GiB BF16: view=f32 vs view=raw (output bytes/s)",
                             bf, "w", ["-o", "view=f32"]))
    q4k_gib = float(os.environ.get("VIEWS_Q4K_GIB", "1"))
    if q4k_gib:
        gguf = os.path.join(DIR, f"q4k-{q4k_gib}g.gguf")
        rows = int(q4k_gib * (1 << 30)) // 4 // 4096
        if not os.path.exists(gguf):
            write_gguf_q4k(gguf, "w", rows, 4096, 3)
        results.append(read_case(f"read Q4_K ({q4k_gib} GiB as float32): view=f32 vs view=raw "
                                 "(output bytes/s)", gguf, "w", ["-o", "view=f32"]))
    n = int(NPY_GIB * (1 << 30)) // 2 // 4096 * 4096
    small = os.path.join(DIR, f"bf16-{NPY_GIB}g.safetensors")
    if not os.path.exists(small):
        write_safetensors(small, "w", "BF16", (n // 4096, 4096), 2 * n, 2)
    f32npy = os.path.join(DIR, f"f32-{NPY_GIB}g.npy")
    if not os.path.exists(f32npy):
        mount(small, "-o", "view=npy")
        try:
            a = np.load(os.path.join(MNT, "w.npy"))
        finally:
            umount()
        np.save(f32npy, a)
        del a
    f32source = os.path.join(DIR, f"f32-{NPY_GIB}g.safetensors")
    if not os.path.exists(f32source):
        a = np.load(f32npy, mmap_mode="r")
        header = json.dumps({"w": {"dtype": "F32", "shape": list(a.shape),
                                   "data_offsets": [0, a.nbytes]}}).encode()
        header += b" " * (-len(header) % 8)
        with open(f32source, "wb") as f:
            f.write(struct.pack("<Q", len(header)) + header)
            for i in range(0, a.shape[0], 4096):
                f.write(np.ascontiguousarray(a[i:i + 4096]).tobytes())
        del a
    results.append(npy_case(small, "w", f32npy, f32source))
    print(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
