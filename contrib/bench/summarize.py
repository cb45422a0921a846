#!/usr/bin/python3
"""Turn the raw results of contrib/bench/run.sh into one table and a JSON file.

    summarize.py OUTDIR          reads OUTDIR/raw.jsonl, OUTDIR/machine.json and
                                 OUTDIR/proof/summary.json; writes
                                 OUTDIR/results.json (the table's rows as text,
                                 and every raw measurement as numbers under
                                 "measurements"); prints the table (Markdown)
    summarize.py --proof DIR     condenses the ltrace/strace files of DIR to JSON

Ratios are "weightfs speed / other speed" (above 1: weightfs is faster),
computed per round from the two contenders measured in that round (paired),
then the median over the rounds, with the range of the per-round ratios in
brackets. Throughputs are medians over the rounds. The load column is the
1-minute load average recorded with the rows of each table row (median and
range); run.sh shuffles the contenders' order per round (seed in
machine.json), so no contender always follows the same one.
"""
import collections
import json
import os
import re
import statistics
import sys

MB = 1e6


def median(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def load(path):
    rows = []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    return rows


def by_round(rows, case, model, state, metric):
    """{run: {contender: value}} for one case/model/state."""
    out = collections.defaultdict(dict)
    for r in rows:
        if r["case"] == case and r["model"] == model and r["state"] == state and metric in r:
            out[r["run"]][r["contender"]] = r[metric]
    return out


def paired(rounds, a, b, higher_is_better=True):
    """The per-round ratios of a to b (above 1: a is better)."""
    ratios = []
    for vals in rounds.values():
        if a in vals and b in vals and vals[a] and vals[b]:
            ratios.append(vals[a] / vals[b] if higher_is_better else vals[b] / vals[a])
    return ratios


def speed_ratio(rounds, a, b, higher_is_better=True):
    ratios = paired(rounds, a, b, higher_is_better)
    return median(ratios), len(ratios)


def fr(ratios):
    """A paired ratio as "median x [min-max]"."""
    if not ratios:
        return "—"
    m = median(ratios)
    if len(ratios) == 1:
        return f"{m:.2f}x"
    return f"{m:.2f}x [{min(ratios):.2f}–{max(ratios):.2f}]"


def load_of(rows, **match):
    """Median and range of load1 over the rows with these labels."""
    loads = [r["load1"] for r in rows if "load1" in r and r.get("state") != "order"
             and all(r.get(k) == v for k, v in match.items())]
    if not loads:
        return "—"
    return f"{median(loads):.1f} [{min(loads):.1f}–{max(loads):.1f}]"


def med(rounds, c):
    return median([v[c] for v in rounds.values() if c in v])


def fmt(x, unit="", digits=0):
    if x is None:
        return "—"
    return f"{x:,.{digits}f}{unit}"


def kib2mib(x):
    return None if x is None else x / 1024


def fx(x):
    return "—" if x is None else f"{x:.2f}x"


class Table:
    def __init__(self):
        self.rows = []
        self.json = []

    def add(self, case, model, state, measure, vals, ratios, target="", verdict="", extra=None, load="—"):
        self.rows.append([case, model, state, measure, *vals, *ratios, target, verdict, load])
        rec = {"case": case, "model": model, "state": state, "measure": measure,
               "direct": vals[0], "weightfs": vals[1], "squashfuse_ll": vals[2],
               "weightfs_vs_direct": ratios[0], "weightfs_vs_squashfuse_ll": ratios[1],
               "target": target, "verdict": verdict}
        if extra:
            rec.update(extra)
        self.json.append(rec)

    def markdown(self):
        head = ["case", "model", "state", "measure", "direct", "weightfs", "squashfuse_ll",
                "weightfs/direct", "weightfs/squashfuse_ll", "target", "met?", "load"]
        out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        for r in self.rows:
            out.append("| " + " | ".join(str(x) for x in r) + " |")
        return "\n".join(out)


def minmax(xs):
    return [min(xs), max(xs)] if xs else None


# Issue 15: cache=none against the default mount (and direct), by state.
CACHE_NONE_TARGETS = {"cold": (1.2, None), "shard_warm": (2.5, 0.2)}
VARIANT_OPTS = {"wfs-none": "-o cache=none", "wfs-none-splice": "-o cache=none,io=splice",
                "wfs-copy": "-o io=copy", "wfs-splice": "-o io=splice",
                # fusebound.c: a FUSE daemon that does no work, the bound of any daemon
                "bound-page": "no-work daemon, page cache",
                "bound-direct": "no-work daemon, direct I/O",
                "bound-map": "no-work daemon, direct I/O, replies from a mapping of the shard"}


def verdict(ok):
    return "" if ok is None else ("yes" if ok else "**no**")


def seq_rows(t, rows, case, label, models):
    targets = {"cold": (0.85, None), "shard_warm": (0.5, 1.0), "warm": (0.9, None)}
    names = {"cold": "1a cold", "shard_warm": "1b shard warm, mount cold", "warm": "1c warm"}
    for model in models:
        for state in ("cold", "shard_warm", "warm"):
            rd = by_round(rows, case, model, state, "MBps")
            if not rd:
                continue
            rdir, _ = speed_ratio(rd, "weightfs", "direct")
            rsq, _ = speed_ratio(rd, "weightfs", "squashfuse")
            td, ts = targets[state]
            tgt = f">= {td}x direct" + (f", >= {ts}x squashfuse_ll" if ts else "")
            ok = None if rdir is None else (rdir >= td and (ts is None or (rsq or 0) >= ts))
            load = load_of(rows, case=case, model=model, state=state)
            t.add(label, model, names[state], "MB/s",
                  [fmt(med(rd, "direct")), fmt(med(rd, "weightfs")), fmt(med(rd, "squashfuse"))],
                  [fr(paired(rd, "weightfs", "direct")), fr(paired(rd, "weightfs", "squashfuse"))],
                  tgt, verdict(ok),
                  {"rounds": len(rd), "ratio_direct": rdir, "ratio_squashfuse": rsq,
                   "ratio_direct_range": minmax(paired(rd, "weightfs", "direct")),
                   "ratio_squashfuse_range": minmax(paired(rd, "weightfs", "squashfuse"))}, load)
            # cache=none variants: against direct and against the default, same rounds
            for c in sorted({c for v in rd.values() for c in v if c.startswith(("wfs-", "bound-"))}):
                vd = paired(rd, c, "direct")
                vw = paired(rd, c, "weightfs")
                tgt, ok = "", None
                # against the no-work daemon: in its other mode, or weightfs's own mode
                ref = {"bound-direct": "bound-page", "bound-map": "bound-page",
                       "wfs-none": "bound-direct", "wfs-none-splice": "bound-direct"}.get(c)
                vb = paired(rd, c, ref) if ref else []
                if c == "wfs-none" and state in CACHE_NONE_TARGETS:
                    tw, tdir = CACHE_NONE_TARGETS[state]
                    tgt = f">= {tw}x default" + (f", >= {tdir}x direct" if tdir else "")
                    ok = bool(vw) and median(vw) >= tw and (tdir is None or (bool(vd) and median(vd) >= tdir))
                t.add(f"{label}: {c} ({VARIANT_OPTS.get(c, '')})", model, names[state], "MB/s",
                      [fmt(med(rd, "direct")), fmt(med(rd, c)), fmt(med(rd, "squashfuse"))],
                      [fr(vd), fr(paired(rd, c, "squashfuse"))],
                      f"vs default: {fr(vw)}" + (f"; vs {ref}: {fr(vb)}" if vb else "") +
                      (f"; target {tgt}" if tgt else ""), verdict(ok),
                      {"variant": c, "ratio_vs_default": median(vw) if vw else None,
                       "ratio_vs_default_range": minmax(vw), "ratio_direct": median(vd) if vd else None,
                       "ratio_direct_range": minmax(vd), "vs": ref, "ratio_vs": median(vb) if vb else None,
                       "ratio_vs_range": minmax(vb)}, load)


def main():
    if sys.argv[1] == "--proof":
        print(json.dumps(proof(sys.argv[2]), indent=1))
        return
    outdir = sys.argv[1]
    rows = load(os.path.join(outdir, "raw.jsonl"))
    with open(os.path.join(outdir, "machine.json")) as f:
        machine = json.load(f)
    t = Table()
    seq_rows(t, rows, "seq", "1 sequential 1 MiB", ("llama1b", "llama8b"))

    for case, label in (("mmap", "2 mmap first touch"), ("numpy", "2 numpy.memmap sum")):
        for state in ("cold", "shard_warm"):
            rd = by_round(rows, case, "llama1b", state, "MBps")
            if not rd:
                continue
            rdir, _ = speed_ratio(rd, "weightfs", "direct")
            rsq, _ = speed_ratio(rd, "weightfs", "squashfuse")
            tgt = ">= 0.5x direct" if case == "mmap" else ""
            ok = None if case != "mmap" or rdir is None else rdir >= 0.5
            t.add(label, "llama1b", state.replace("_", " "), "MB/s",
                  [fmt(med(rd, "direct")), fmt(med(rd, "weightfs")), fmt(med(rd, "squashfuse"))],
                  [fx(rdir), fx(rsq)], tgt, verdict(ok))

    for state in ("cold", "shard_warm"):
        for metric, label, hib in (("iops", "reads/s", True), ("p50_us", "p50 µs", False),
                                   ("p99_us", "p99 µs", False)):
            rd = by_round(rows, "rand", "llama1b", state, metric)
            if not rd:
                continue
            rdir, _ = speed_ratio(rd, "weightfs", "direct", hib)
            rsq, _ = speed_ratio(rd, "weightfs", "squashfuse", hib)
            ok = None if metric != "iops" or rsq is None else rsq >= 1.0
            t.add("3 random 4 KiB", "llama1b", state.replace("_", " "), label,
                  [fmt(med(rd, "direct"), digits=0 if hib else 1), fmt(med(rd, "weightfs"), digits=0 if hib else 1),
                   fmt(med(rd, "squashfuse"), digits=0 if hib else 1)],
                  [fx(rdir), fx(rsq)], ">= 1.0x squashfuse_ll" if metric == "iops" else "", verdict(ok))

    for state in ("cold", "shard_warm"):
        rd = by_round(rows, "par", "llama1b", state, "MBps")
        if rd:
            t.add("4 four parallel readers", "llama1b", state.replace("_", " "), "MB/s",
                  [fmt(med(rd, "direct")), fmt(med(rd, "weightfs")), fmt(med(rd, "squashfuse"))],
                  [fx(speed_ratio(rd, "weightfs", "direct")[0]),
                   fx(speed_ratio(rd, "weightfs", "squashfuse")[0])])

    base = median([r["rss_kb"] for r in rows if r["case"] == "meta_baseline"])
    ntensors = {}
    for model in ("llama1b", "llama8b", "dsv3"):
        p = os.path.join(os.path.dirname(outdir.rstrip("/")), "models", model + ".tsv")
        if os.path.exists(p):
            with open(p) as f:
                ntensors[model] = sum(1 for _ in f)
    for model in ("llama1b", "llama8b", "dsv3"):
        big = model == "dsv3"
        for state in ("cold", "warm"):
            rd = by_round(rows, "mount", model, state, "seconds")
            if rd:
                w = med(rd, "weightfs")
                t.add("5 mount until a tensor answers", model, f"{state} caches", "ms",
                      ["—", fmt(w and w * 1000, digits=1), fmt((med(rd, "squashfuse") or 0) * 1000, digits=1)],
                      ["—", fx(speed_ratio(rd, "weightfs", "squashfuse", False)[0])],
                      "< 500 ms" if big else "", verdict(w < 0.5) if big and w else "")
        rd = by_round(rows, "mount", model, "warm", "rss_kb")
        if rd:
            w = med(rd, "weightfs")
            per = ((w - base) * 1024 / ntensors[model]) if (w and base and model in ntensors) else None
            t.add("5 daemon RSS after mount", model, "", "MiB",
                  ["—", fmt(kib2mib(w), digits=1), fmt(kib2mib(med(rd, "squashfuse")), digits=1)],
                  ["—", "—"], "< 32 MiB" if big else "", verdict(w < 32 * 1024) if big and w else "",
                  {"bytes_per_tensor_above_baseline": per, "baseline_rss_kb": base,
                   "tensors": ntensors.get(model)})
            if per is not None:
                # RSS varies by ~0.2 MiB between mounts: below the baseline is noise
                t.add("5 memory per tensor", model, f"(RSS - {base / 1024:.1f} MiB 1-tensor baseline) / {ntensors[model]:,}",
                      "bytes", ["—", fmt(per) if per >= 0 else "< 0 (noise)", "—"], ["—", "—"])
        rd = by_round(rows, "getfattr", model, "fresh_mount", "rss_kb_after")
        if rd:
            w = med(rd, "weightfs")
            t.add("5 daemon RSS after every xattr", model, "", "MiB",
                  ["—", fmt(kib2mib(w), digits=1), fmt(kib2mib(med(rd, "squashfuse")), digits=1)],
                  ["—", "—"], "< 32 MiB" if big else "", verdict(w < 32 * 1024) if big and w else "")
        for case, state, label, tgt in (("find", "fresh_mount", "find -type f \\| wc -l", "< 1 s"),
                                        ("find", "second", "find again (dentries cached)", ""),
                                        ("ls_lR", "fresh_mount", "ls -lR", ""),
                                        ("getfattr", "fresh_mount", "getfattr -R -d", "")):
            rd = by_round(rows, case, model, state, "seconds")
            if not rd:
                continue
            w = med(rd, "weightfs")
            if w is None:
                continue
            count = median([r.get("files") or r.get("lines") or r.get("xattrs") for r in rows
                            if r["case"] == case and r["model"] == model and r["contender"] == "weightfs"])
            t.add(f"5 {label}", model, f"{count:,.0f} " + {"find": "files", "ls_lR": "lines", "getfattr": "xattrs"}[case],
                  "ms", ["—", fmt(w * 1000, digits=1), fmt((med(rd, "squashfuse") or 0) * 1000, digits=1)],
                  ["—", fx(speed_ratio(rd, "weightfs", "squashfuse", False)[0])],
                  tgt if big and tgt else "", verdict(w < 1.0) if big and tgt else "")

    # technique sweep: every variant against direct and against the default, same round
    for state in ("cold", "shard_warm"):
        rd = by_round(rows, "tech", "llama1b", state, "MBps")
        if not rd:
            continue
        variants = sorted({c for v in rd.values() for c in v}, key=lambda c: (c != "direct", c))
        for c in variants:
            if c == "direct":
                continue
            vd, _ = speed_ratio(rd, c, "direct")
            vw, _ = speed_ratio(rd, c, "weightfs")
            t.add(f"technique: {c}", "llama1b", state.replace("_", " "), "MB/s",
                  [fmt(med(rd, "direct")), fmt(med(rd, c)), "—"],
                  [fr(paired(rd, c, "direct")), "—"], f"vs default weightfs: {fr(paired(rd, c, 'weightfs'))}", "",
                  {"variant": c, "ratio_vs_default": vw}, load_of(rows, case="tech", state=state))

    flows = flow_table(rows)

    proof_path = os.path.join(outdir, "proof", "summary.json")
    proof_data = None
    if os.path.exists(proof_path):
        with open(proof_path) as f:
            proof_data = json.load(f)
    with open(os.path.join(outdir, "results.json"), "w") as f:
        json.dump({"machine": machine, "table": t.json, "flows": flows["json"], "proof": proof_data,
                   "measurements": rows}, f, indent=1)
    print(t.markdown())
    if flows["json"]:
        print()
        print("User-level flows (llama1b), each against the same work on the shards directly:")
        print()
        print(flows["markdown"])
    if proof_data:
        print()
        print("Read-path proof (calls counted while serving reads, after warm-up):")
        print("```")
        print(json.dumps(proof_data, indent=1))
        print("```")


# ---- user-level flows -----------------------------------------------------------

FLOW_NAMES = {
    "flow-sha256": "sha256sum of every tensor file (direct: of the shard)",
    "flow-cp": "cp -r of layer 0's directories (direct: dd of its ranges)",
    "flow-fromfile": "numpy.fromfile of the 525 MB embedding",
    "flow-memmap": "numpy.memmap + sum of the 525 MB embedding",
    "flow-inspect": "weightfs-inspect stats of the model (reads the shards)",
}
CONTENDER_NAMES = {"direct": "direct", "weightfs": "weightfs (cache=page)",
                   "wfs-none": "weightfs -o cache=none", "inspect": "weightfs-inspect"}


def flow_table(rows):
    head = ["flow", "state", "contender", "median s", "MB/s", "vs direct", "vs cache=page",
            "Cached grew (MB, whole machine)", "shards cached (MB)", "mount's own cache (MB)", "rounds", "load"]
    out = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    recs = []
    for case in FLOW_NAMES:
        for state in ("cold", "shard_warm"):
            rd = by_round(rows, case, "llama1b", state, "seconds")
            if not rd:
                continue
            contenders = [c for c in CONTENDER_NAMES if any(c in v for v in rd.values())]
            for c in contenders:
                mine = [r for r in rows if r["case"] == case and r["state"] == state and r["contender"] == c
                        and "seconds" in r]
                own = [r["mount_MB"] for r in mine if r.get("mount_MB") is not None]
                vd = paired(rd, c, "direct", False) if c not in ("direct", "inspect") else []
                vw = paired(rd, c, "weightfs", False) if c not in ("weightfs", "direct", "inspect") else []
                checks = sorted({str(r.get("check")) for r in mine})
                rec = {"flow": case[5:], "state": state, "contender": c,
                       "seconds": med(rd, c), "MBps": median([r["MBps"] for r in mine]),
                       "speed_vs_direct": median(vd) if vd else None, "speed_vs_direct_range": minmax(vd),
                       "speed_vs_cache_page": median(vw) if vw else None, "speed_vs_cache_page_range": minmax(vw),
                       "cached_delta_MB": median([r["cached_delta_MB"] for r in mine]),
                       "shard_MB": median([r["shard_MB"] for r in mine]),
                       "mount_own_MB": median(own) if own else None,
                       "rounds": len(mine), "checks": checks}
                recs.append(rec)
                out.append("| " + " | ".join([
                    FLOW_NAMES[case], state.replace("_", " "), CONTENDER_NAMES[c],
                    fmt(rec["seconds"], digits=2), fmt(rec["MBps"]), fr(vd), fr(vw),
                    fmt(rec["cached_delta_MB"]), fmt(rec["shard_MB"]),
                    "—" if c in ("direct", "inspect") else fmt(rec["mount_own_MB"]),
                    str(len(mine)), load_of(rows, case=case, state=state, contender=c)]) + " |")
    return {"markdown": "\n".join(out), "json": recs}


# ---- proof files -------------------------------------------------------------

def ltrace_counts(path):
    """ltrace -c output: {function: calls}."""
    out = {}
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(\S+)", line)
            if m:
                out[m.group(2)] = int(m.group(1))
    return out


def strace_c_counts(path):
    out = {}
    if not os.path.exists(path):
        return None
    with open(path) as f:
        for line in f:
            m = re.match(r"\s*[\d.]+\s+[\d.]+\s+\d+\s+(\d+)\s+(?:\d+\s+)?(\w+)\s*$", line)
            if m and m.group(2) != "total":
                out[m.group(2)] = int(m.group(1))
    return out


def strace_sizes(path, calls=("pread64", "splice")):
    """{call: {result size: count}} from an strace -f log."""
    out = collections.defaultdict(collections.Counter)
    if not os.path.exists(path):
        return None
    with open(path) as f:
        text = f.read()
    # join "<unfinished ...>" / "<... resumed>" pairs well enough: results are on the resumed line
    for m in re.finditer(r"(\w+)\((?:[^\n]*?)\)\s+=\s+(-?\d+)", text):
        if m.group(1) in calls:
            out[m.group(1)][int(m.group(2))] += 1
    for m in re.finditer(r"<\.\.\. (\w+) resumed>[^\n]*=\s+(-?\d+)", text):
        if m.group(1) in calls:
            out[m.group(1)][int(m.group(2))] += 1
    return {k: dict(sorted(v.items(), key=lambda kv: -kv[1])[:6]) | {"calls": sum(v.values())}
            for k, v in out.items()}


def proof(d):
    res = {}
    for v in ("weightfs", "wfs-splice", "wfs-splice-pipe2m"):
        p = os.path.join(d, f"callcount-{v}.json")
        if os.path.exists(p):
            with open(p) as f:
                counts = json.load(f)
            res[f"callcount_{v}"] = {who: {k: n for k, n in c.items() if n}
                                     for who, c in counts.items()}
    for mode in ("copy", "splice"):
        res[f"ltrace_weightfs_code_io_{mode}"] = ltrace_counts(os.path.join(d, f"ltrace-weightfs-{mode}.txt"))
    for v in ("weightfs", "wfs-splice", "wfs-auto-pipe2m", "wfs-splice-pipe2m"):
        res[f"strace_c_{v}"] = strace_c_counts(os.path.join(d, f"strace-c-{v}.txt"))
        res[f"strace_sizes_{v}"] = strace_sizes(os.path.join(d, f"strace-{v}.txt"),
                                                ("pread64", "splice", "writev", "fcntl"))
    for v in ("weightfs", "wfs-ra128", "wfs-ra4096", "squashfuse"):
        for what in ("seq", "mmap"):
            res[f"request_sizes_{v}_{what}"] = strace_sizes(os.path.join(d, f"sizes-{v}-{what}.txt"),
                                                            ("pread64", "read", "splice"))
    p = os.path.join(d, "splice-residency.txt")
    if os.path.exists(p):
        with open(p) as f:
            res["splice_shard_residency_pages"] = f.read().split("\n")[:2]
    return res


if __name__ == "__main__":
    main()
