#!/usr/bin/python3
"""GGUF (Llama-3-8B shapes, Q4_K) against a safetensors model of the same size, side by side.

    gguf_bench.py WORKDIR [--rounds N] [--seed S] [--out FILE] [--quick]

Generates the two files with gen_gguf.py (sparse, not committed), reads
both whole once so their pages are in the page cache, then each round runs both contenders in a random order (seeded) and measures:

  mount   wall time of `weightfs SOURCE MNT` (it returns once mounted), with
          the file's header in the page cache (its first 16 MiB read first)
  read    bytes per second reading every tensor file of a fresh mount whole
          (1 MiB reads, one thread), after a first untimed pass through
          another mount has brought the file's pages (holes: zeros) into
          the page cache

Prints medians, min-max and the paired ratio gguf/st per round, and writes
the Markdown table to --out. Needs root (mounts) and WEIGHTFS_BIN (default
build/weightfs). The page cache is not dropped (the machine is shared).
"""

import argparse
import random
import statistics
import time
from pathlib import Path

import gen_gguf
from twinlib import loadavg, mount, read_all, unmount





def warm(path):
    with open(path, "rb") as f:
        f.read(16 << 20)




def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--mounts", type=int, default=5, help="mounts per contender per round")
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    work = a.work.resolve()
    g, s, tensors = gen_gguf.generate(work, a.quick)
    src = {"gguf": g, "st": s}
    for path in src.values():  # every page of both files in the page cache (a hole read first costs a memset)
        with open(path, "rb") as f:
            while f.read(8 << 20):
                pass
    rng = random.Random(a.seed)
    mnt = work / "mnt"
    mnt.mkdir(exist_ok=True)
    rows = {k: {"mount": [], "read": [], "load": []} for k in src}
    for r in range(a.rounds):
        order = list(src)
        rng.shuffle(order)
        for kind in order:
            warm(src[kind])
            rows[kind]["load"].append(loadavg())
            for _ in range(a.mounts):
                rows[kind]["mount"].append(mount(src[kind], mnt))
                unmount(mnt)
            for timed in (False, True):  # the first pass brings the file's pages into the page cache
                mount(src[kind], mnt)
                n, secs = read_all(mnt)
                unmount(mnt)
            rows[kind]["read"].append(n / secs)
        print(f"round {r + 1}: order {order}, " + ", ".join(
            f"{k} mount {statistics.median(rows[k]['mount'][-a.mounts:]) * 1000:.1f} ms "
            f"read {rows[k]['read'][-1] / 1e9:.2f} GB/s" for k in src), flush=True)

    def fmt(v, scale, unit):
        return f"{statistics.median(v) * scale:.1f} {unit} ({min(v) * scale:.1f}-{max(v) * scale:.1f})"

    ratio_read = [x / y for x, y in zip(rows["gguf"]["read"], rows["st"]["read"])]
    size = {k: Path(p).stat().st_size for k, p in src.items()}
    lines = [
        f"`contrib/bench/gguf_bench.py WORKDIR --rounds {a.rounds} --mounts {a.mounts} --seed {a.seed}"
        f"{' --quick' if a.quick else ''}` ({len(tensors)} tensors; GGUF {size['gguf'] / 1e9:.2f} GB Q4_K + F32 "
        f"with a {128256 if not a.quick else 1000}-token vocabulary, safetensors {size['st'] / 1e9:.2f} GB of the "
        f"same byte sizes; contenders in random order per round, seed {a.seed}; load averages: "
        f"gguf {' '.join(rows['gguf']['load'])}, st {' '.join(rows['st']['load'])})",
        "",
        "| measure | GGUF (gguf) | safetensors (st) | gguf/st per round: median (min-max) | target |",
        "|---|---|---|---|---|",
        f"| mount, header in the page cache | {fmt(rows['gguf']['mount'], 1000, 'ms')} | "
        f"{fmt(rows['st']['mount'], 1000, 'ms')} | | GGUF < 50 ms |",
        f"| read every tensor | {fmt(rows['gguf']['read'], 1e-9, 'GB/s')} | {fmt(rows['st']['read'], 1e-9, 'GB/s')} | "
        f"{statistics.median(ratio_read):.2f}x ({min(ratio_read):.2f}-{max(ratio_read):.2f}) | >= 0.9x |",
    ]
    print("\n".join(lines))
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
