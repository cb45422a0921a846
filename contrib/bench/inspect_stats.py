#!/usr/bin/python3
"""Benchmark of weightfs-inspect (Debian 12, Debian's python3 and python3-numpy).

    contrib/bench/inspect_stats.py [--bin PATH] [--runs 5] [--dir /var/tmp]
                                    [--results contrib/bench/RESULTS-inspect.md]

1. stats: generates a Llama-3.2-1B-shaped model (146 BF16 tensors, 1.24 B
   parameters, 2.47 GB, random values, one model.safetensors) in a temporary
   directory, then times `weightfs-inspect stats --json` against numpy doing
   the same work on the same bytes (per tensor: decode BF16, then in float64
   the count, mean, Bessel-corrected std, min and max of the finite values,
   the zeros, NaN and Inf, the first ten values), alternating the two, and
   reports the medians. numpy's results are checked against weightfs-inspect's.
2. summary: generates a DeepSeek-V3-shaped sharded model (163 shards and an
   index, 91,991 tensors of a few bytes) and times `weightfs-inspect summary`.

Both models live in one temporary directory under --dir, removed at the end
(also on failure or Ctrl-C). The page cache is warmed before every timed run,
so both contenders read from memory: the comparison is of the computation.
Wall and CPU time (user + system of the process and its threads) are both
measured: on a shared machine other jobs inflate the first, not the second.
Writes the results (machine, exact command, medians) to --results.
"""

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import struct
import subprocess
import sys
import tempfile
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
REPO = os.path.dirname(os.path.dirname(HERE))


# --- models -------------------------------------------------------------------

def llama_1b():
    """Llama-3.2-1B: 16 layers, hidden 2048, intermediate 8192, 32 heads of 64,
    8 KV heads, vocabulary 128256, tied embeddings (no lm_head)."""
    hidden, inter, q, kv, vocab = 2048, 8192, 32 * 64, 8 * 64, 128256
    t = [("model.embed_tokens.weight", [vocab, hidden])]
    for i in range(16):
        p = f"model.layers.{i}."
        t += [(p + "input_layernorm.weight", [hidden]),
              (p + "post_attention_layernorm.weight", [hidden]),
              (p + "self_attn.q_proj.weight", [q, hidden]),
              (p + "self_attn.k_proj.weight", [kv, hidden]),
              (p + "self_attn.v_proj.weight", [kv, hidden]),
              (p + "self_attn.o_proj.weight", [hidden, q]),
              (p + "mlp.gate_proj.weight", [inter, hidden]),
              (p + "mlp.up_proj.weight", [inter, hidden]),
              (p + "mlp.down_proj.weight", [hidden, inter])]
    t.append(("model.norm.weight", [hidden]))
    return t


def write_llama(path):
    """BF16 values: N(0, 0.02) for matrices, 1 + N(0, 0.02) for norms."""
    tensors = sorted(llama_1b())
    header, off = {"__metadata__": {"format": "pt"}}, 0
    for name, shape in tensors:
        n = 2 * int(np.prod(shape))
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + n]}
        off += n
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    rng = np.random.default_rng(1234)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h)
        for name, shape in tensors:
            left = int(np.prod(shape))
            while left:
                n = min(left, 1 << 24)
                x = rng.standard_normal(n, dtype=np.float32) * np.float32(0.02)
                if len(shape) == 1:
                    x += np.float32(1)
                f.write((x.view(np.uint32) >> 16).astype(np.uint16).tobytes())
                left -= n
    return off


def deepseek_v3():
    """DeepSeek-V3 names: 61 layers (3 dense), 256 routed experts, the MTP
    layer 61; FP8 weights with weight_scale_inv; shapes tiny."""
    def w(n):
        return [(n + ".weight", "F8_E4M3", [2, 2]), (n + ".weight_scale_inv", "F32", [1, 1])]

    def norm(n):
        return [(n + ".weight", "BF16", [2])]

    def layer(i):
        p = f"model.layers.{i}."
        t = norm(p + "input_layernorm") + norm(p + "post_attention_layernorm")
        for a in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"):
            t += w(p + "self_attn." + a)
        t += norm(p + "self_attn.q_a_layernorm") + norm(p + "self_attn.kv_a_layernorm")
        if i < 3:
            for m in ("gate_proj", "up_proj", "down_proj"):
                t += w(p + "mlp." + m)
            return t
        t += [(p + "mlp.gate.weight", "BF16", [2, 2]), (p + "mlp.gate.e_score_correction_bias", "F32", [2])]
        for e in range(256):
            for m in ("gate_proj", "up_proj", "down_proj"):
                t += w(p + f"mlp.experts.{e}.{m}")
        for m in ("gate_proj", "up_proj", "down_proj"):
            t += w(p + f"mlp.shared_experts.{m}")
        return t

    t = [("model.embed_tokens.weight", "BF16", [4, 2])]
    for i in range(62):
        t += layer(i)
    p = "model.layers.61."
    t += [(p + "embed_tokens.weight", "BF16", [4, 2]), (p + "enorm.weight", "BF16", [2]),
          (p + "hnorm.weight", "BF16", [2]), (p + "eh_proj.weight", "BF16", [2, 4]),
          (p + "shared_head.norm.weight", "BF16", [2]), (p + "shared_head.head.weight", "BF16", [4, 2]),
          ("model.norm.weight", "BF16", [2]), ("lm_head.weight", "BF16", [4, 2])]
    return t


def write_deepseek(directory, shards=163):
    size = {"BF16": 2, "F32": 4, "F8_E4M3": 1}
    tensors = deepseek_v3()
    per = -(-len(tensors) // shards)
    weight_map, total = {}, 0
    for s in range(shards):
        part = sorted(tensors[s * per:(s + 1) * per])
        name = f"model-{s + 1:05d}-of-{shards:06d}.safetensors"
        header, off = {"__metadata__": {"format": "pt"}}, 0
        for n, dt, shape in part:
            b = size[dt] * int(np.prod(shape))
            header[n] = {"dtype": dt, "shape": shape, "data_offsets": [off, off + b]}
            off += b
            weight_map[n] = name
        h = json.dumps(header, separators=(",", ":")).encode()
        h += b" " * (-len(h) % 8)
        with open(os.path.join(directory, name), "wb") as f:
            f.write(struct.pack("<Q", len(h)) + h + os.urandom(off))
        total += off
    with open(os.path.join(directory, "model.safetensors.index.json"), "w") as f:
        json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
    return len(tensors)


# --- numpy doing the same work ----------------------------------------------------

def numpy_stats(path):
    """What a careful Python script does, per tensor, with numpy."""
    with open(path, "rb") as f:
        (n,) = struct.unpack("<Q", f.read(8))
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    out = {}
    for name, e in header.items():
        begin, end = e["data_offsets"]
        raw = np.fromfile(path, dtype=np.uint16, count=(end - begin) // 2, offset=8 + n + begin)
        x = (raw.astype(np.uint32) << 16).view(np.float32).astype(np.float64)
        nan, inf = int(np.isnan(x).sum()), int(np.isinf(x).sum())
        fin = x if nan + inf == 0 else x[np.isfinite(x)]
        out[name] = {"count": int(x.size), "mean": float(fin.mean()), "std": float(fin.std(ddof=1)),
                     "min": float(fin.min()), "max": float(fin.max()),
                     "zeros": int(np.count_nonzero(fin == 0)), "nan": nan, "inf": inf,
                     "first": x[:10].tolist()}
    return out


# --- timing -------------------------------------------------------------------------

def timed(cmd, stdout=subprocess.DEVNULL):
    """(wall seconds, CPU seconds: user + system) of one run of cmd."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=stdout, stdin=subprocess.DEVNULL)
    wall = time.perf_counter() - t
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def warm(path):
    with open(path, "rb") as f:
        while f.read(1 << 24):
            pass


def warm_dir(directory):
    for name in os.listdir(directory):
        warm(os.path.join(directory, name))


def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    mem = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 1e9
    return f"{model}, {os.cpu_count()} cores (online: {len(os.sched_getaffinity(0))}), " \
           f"{mem:.0f} GB RAM, Linux {platform.release()}"


def check_agreement(ours, theirs):
    """weightfs-inspect and numpy agree (the benchmark compares equal work)."""
    rows = {r["name"]: r for r in ours["tensors"]}
    assert set(rows) == set(theirs), "different tensors"
    for name, t in theirs.items():
        r = rows[name]
        for k in ("count", "zeros", "nan", "inf", "min", "max", "first"):
            assert r[k] == t[k], (name, k, r[k], t[k])
        assert abs(r["mean"] - t["mean"]) <= 1e-12 * max(abs(r["min"]), abs(r["max"])), (name, "mean")
        assert abs(r["std"] - t["std"]) <= 1e-10 * t["std"], (name, "std")


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=os.path.join(REPO, "build", "src", "inspect", "weightfs-inspect"))
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--dir", default="/var/tmp")
    ap.add_argument("--results", default=os.path.join(HERE, "RESULTS-inspect.md"))
    ap.add_argument("--numpy-worker", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.numpy_worker:
        json.dump(numpy_stats(args.numpy_worker), sys.stdout)
        return 0
    if not os.access(args.bin, os.X_OK):
        sys.exit(f"{args.bin}: not found; build first (meson setup build && ninja -C build)")
    command = " ".join([os.path.relpath(sys.argv[0], REPO)] + sys.argv[1:])
    load_before = os.getloadavg()
    tmp = tempfile.mkdtemp(prefix="wfs-inspect-bench-", dir=args.dir)
    try:
        # 1. stats over a Llama-3.2-1B-shaped model
        model = os.path.join(tmp, "model.safetensors")
        t0 = time.perf_counter()
        tensor_bytes = write_llama(model)
        file_bytes = os.path.getsize(model)
        print(f"generated {model}: {file_bytes / 1e9:.2f} GB in {time.perf_counter() - t0:.0f} s",
              file=sys.stderr)
        ours_cmd = [args.bin, "stats", "--json", "--no-progress", model]
        numpy_cmd = [sys.executable, os.path.abspath(__file__), "--numpy-worker", model]
        out_ours, out_numpy = os.path.join(tmp, "ours.json"), os.path.join(tmp, "numpy.json")
        times = {"ours": [], "numpy": []}
        cpu = {"ours": [], "numpy": []}
        for r in range(args.runs):
            order = ["ours", "numpy"] if r % 2 == 0 else ["numpy", "ours"]
            for who in order:
                cmd, dest = (ours_cmd, out_ours) if who == "ours" else (numpy_cmd, out_numpy)
                warm(model)  # this machine evicts idle page cache: warm it for each contender
                with open(dest, "w") as f:
                    wall, cpus = timed(cmd, f)
                times[who].append(wall)
                cpu[who].append(cpus)
                print(f"run {r + 1}: {who} {wall:.2f} s wall, {cpus:.2f} s CPU", file=sys.stderr)
        with open(out_ours) as a, open(out_numpy) as b:
            check_agreement(json.load(a), json.load(b))
        med = {k: statistics.median(v) for k, v in times.items()}
        med_cpu = {k: statistics.median(v) for k, v in cpu.items()}
        cores = len(os.sched_getaffinity(0))
        gbs = tensor_bytes / med["ours"] / 1e9
        per_core = tensor_bytes / med_cpu["ours"] / 1e9  # bytes per CPU-second
        speedup = med["numpy"] / med["ours"]

        # 2. summary of a DeepSeek-V3-shaped index
        ds = os.path.join(tmp, "deepseek")
        os.mkdir(ds)
        ntensors = write_deepseek(ds)
        summary_cmd = [args.bin, "summary", ds]
        json_cmd = summary_cmd[:2] + ["--json"] + summary_cmd[2:]
        st, sj = [], []
        for _ in range(args.runs):
            for cmd, dest in ((summary_cmd, st), (json_cmd, sj)):
                warm_dir(ds)
                dest.append(timed(cmd))
        summary_med = statistics.median(t for t, _ in st)
        summary_json_med = statistics.median(t for t, _ in sj)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    load_after = os.getloadavg()
    version = subprocess.run([args.bin, "--version"], capture_output=True, text=True).stdout.strip()
    commit = subprocess.run(["git", "-C", REPO, "rev-parse", "--short", "HEAD"],
                            capture_output=True, text=True).stdout.strip() or "?"
    ok = lambda c: "yes" if c else "**no**"
    lines = [
        "# weightfs-inspect benchmark",
        "",
        f"Produced by `{command}` (from the repository root) on "
        f"{time.strftime('%Y-%m-%d')}, {version}, commit {commit} plus the working tree.",
        "",
        f"Machine: {machine()}. A shared virtual machine: other jobs ran at the same time "
        f"(load average {load_before[0]:.1f} before the benchmark, {load_after[0]:.1f} after, on "
        f"{os.cpu_count()} CPUs), which is why the contenders alternate, medians are reported "
        "and CPU time is given beside wall time.",
        "",
        "## stats over a Llama-3.2-1B-shaped model",
        "",
        f"146 BF16 tensors, 1,235,814,400 parameters, {tensor_bytes:,} bytes of tensors "
        f"({file_bytes / 1e9:.2f} GB file), random values, in the page cache. "
        "weightfs-inspect: `weightfs-inspect stats --json --no-progress MODEL` (one worker "
        f"per online CPU: {cores}). numpy {np.__version__} (python {platform.python_version()}): "
        "the same work per tensor (np.fromfile, BF16 to float32 to float64, count, mean, "
        "std(ddof=1), min, max, zeros, NaN, Inf, first ten values), one process; its results "
        "were checked equal to weightfs-inspect's (mean within 1e-12, std within 1e-10). "
        f"Median of {args.runs} alternating runs, wall time including process start.",
        "",
        "| contender | median wall | wall per run (s) | median CPU (user+sys) | CPU per run (s) "
        "| throughput (wall) | per CPU-second |",
        "|---|---|---|---|---|---|---|",
        f"| weightfs-inspect stats | {med['ours']:.2f} s | {' '.join(f'{t:.2f}' for t in times['ours'])} "
        f"| {med_cpu['ours']:.2f} s | {' '.join(f'{t:.2f}' for t in cpu['ours'])} "
        f"| {gbs:.2f} GB/s | {per_core:.2f} GB/s |",
        f"| numpy | {med['numpy']:.2f} s | {' '.join(f'{t:.2f}' for t in times['numpy'])} "
        f"| {med_cpu['numpy']:.2f} s | {' '.join(f'{t:.2f}' for t in cpu['numpy'])} "
        f"| {tensor_bytes / med['numpy'] / 1e9:.2f} GB/s "
        f"| {tensor_bytes / med_cpu['numpy'] / 1e9:.2f} GB/s |",
        "",
        f"Speed-up over numpy (median wall time): **{speedup:.1f}x** (target 3x: {ok(speedup >= 3)}). "
        f"Throughput per core: **{per_core:.2f} GB/s** of tensor bytes per CPU-second of "
        f"weightfs-inspect (user + system time of all its threads; target 1 GB/s: {ok(per_core >= 1)}); "
        f"by wall time over the {cores} cores, {gbs / cores:.2f} GB/s per core. The CPU time is "
        "the measure that other jobs on the machine do not inflate.",
        "",
        "## summary of a DeepSeek-V3-shaped index",
        "",
        f"163 shards and model.safetensors.index.json, {ntensors:,} tensors of 2-8 bytes "
        "(model.layers.N.mlp.experts.E.{gate,up,down}_proj.weight and .weight_scale_inv, ...), "
        f"in the page cache. Median of {args.runs} runs, wall time including process start.",
        "",
        "| command | median wall | wall per run (s) | median CPU (user+sys) |",
        "|---|---|---|---|",
        f"| `weightfs-inspect summary MODEL` | {summary_med:.3f} s | {' '.join(f'{t:.3f}' for t, _ in st)} "
        f"| {statistics.median(c for _, c in st):.3f} s |",
        f"| `weightfs-inspect summary --json MODEL` | {summary_json_med:.3f} s | "
        f"{' '.join(f'{t:.3f}' for t, _ in sj)} | {statistics.median(c for _, c in sj):.3f} s |",
        "",
        f"Target under 0.5 s: {ok(summary_med < 0.5 and summary_json_med < 0.5)}.",
        "",
    ]
    text = "\n".join(lines)
    print(text)
    with open(args.results, "w") as f:
        f.write(text)
    return 0


if __name__ == "__main__":
    sys.exit(main())
