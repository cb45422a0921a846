#!/usr/bin/python3
"""PyTorch checkpoints against their safetensors twin, side by side.

    formats.py WORKDIR [--rounds N] [--seed S] [--out FILE] [--quick]

Writes two models of the Llama-3-8B shapes (32 layers, hidden 4096,
intermediate 14336, vocab 128256, BF16, 291 tensors, 16 GB) into WORKDIR:

  st/  model-0000N-of-00004.safetensors + model.safetensors.index.json
  pt/  pytorch_model-0000N-of-00004.bin + pytorch_model.bin.index.json
       (zip archives as torch.save lays them out: data.pkl, one stored
       data/N entry per tensor padded to 64 bytes, zip64 records; the
       pickle is tests/lib/pytorch_writer.py's)

with the same tensors in the same shards. Tensor bytes are holes (sparse
files): the kernel serves them as zeros without a disk, so both mounts read
from memory and what is measured is weightfs's path, not the disk's.

Each round runs the contenders in a random order (seeded; the seed is in
the output), after one warm-up round that is not counted, and measures, with
the files' metadata in the page cache:

  mount   wall time of `weightfs SOURCE MNT` (it returns once mounted)
  read    bytes per second reading every tensor file of the mount whole
          (1 MiB reads), with the kernel's caches dropped first and --prefault
          GiB of memory touched and freed right before (this VM hands freed
          memory back to its host, and the first touch of it is slow: see
          RESULTS.md; both contenders get the same)

Prints medians, min-max and the paired ratio pt/st per round, and writes
the Markdown table to --out. Needs root (drop_caches, mounts) and
WEIGHTFS_BIN (default build/weightfs).
"""

import argparse
import json
import os
import random
import statistics
import struct
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests" / "lib"))
sys.path.insert(0, str(HERE))
from pytorch_writer import row_major, state_dict_pickle  # noqa: E402
from twinlib import loadavg, mount, prefault, read_all, unmount  # noqa: E402



def llama8b(quick):
    layers, hidden, inter, heads, kv, vocab = (32, 4096, 14336, 32, 8, 128256)
    if quick:
        layers, hidden, inter, vocab = 2, 256, 512, 1000
    hd = hidden // heads
    t = [("model.embed_tokens.weight", [vocab, hidden])]
    for i in range(layers):
        p = f"model.layers.{i}."
        t += [(p + "input_layernorm.weight", [hidden]), (p + "post_attention_layernorm.weight", [hidden]),
              (p + "self_attn.q_proj.weight", [heads * hd, hidden]),
              (p + "self_attn.k_proj.weight", [kv * hd, hidden]),
              (p + "self_attn.v_proj.weight", [kv * hd, hidden]),
              (p + "self_attn.o_proj.weight", [hidden, heads * hd]),
              (p + "mlp.gate_proj.weight", [inter, hidden]), (p + "mlp.up_proj.weight", [inter, hidden]),
              (p + "mlp.down_proj.weight", [hidden, inter])]
    t += [("model.norm.weight", [hidden]), ("lm_head.weight", [vocab, hidden])]
    return t


def nbytes(shape):
    n = 2
    for d in shape:
        n *= d
    return n


def split(tensors, parts):
    total = sum(nbytes(s) for _, s in tensors)
    shards, cur, size = [], [], 0
    for t in tensors:
        if cur and size + nbytes(t[1]) > total / parts and len(shards) < parts - 1:
            shards.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += nbytes(t[1])
    return shards + [cur]


def write_safetensors(path, tensors):
    header, off = {}, 0
    for name, shape in tensors:
        header[name] = {"dtype": "BF16", "shape": shape, "data_offsets": [off, off + nbytes(shape)]}
        off += nbytes(shape)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + off)  # the data: a hole


def write_pytorch(path, tensors):
    """A torch.save-like zip, streamed: local headers with sizes (no data
    descriptor), data as holes, zip64 extra fields where offsets pass 4 GiB."""
    folder = Path(path).stem
    pickled = [(name, str(i), "BF16", nbytes(shape) // 2, 0, shape, row_major(shape))
               for i, (name, shape) in enumerate(tensors)]
    entries = [(f"{folder}/data.pkl", state_dict_pickle(pickled))]
    entries += [(f"{folder}/data/{i}", nbytes(shape)) for i, (_, shape) in enumerate(tensors)]
    entries += [(f"{folder}/version", b"3\n")]
    central = bytearray()
    with open(path, "wb") as f:
        pos = 0
        for name, data in entries:
            size = data if isinstance(data, int) else len(data)
            crc = 0 if isinstance(data, int) else __import__("zlib").crc32(data)
            bname = name.encode()
            pad = (-(pos + 30 + len(bname) + 4)) % 64
            extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad
            local = struct.pack("<4sHHHHHIIIHH", b"PK\3\4", 45, 0, 0, 0, 0x21, crc, size, size,
                                len(bname), len(extra)) + bname + extra
            f.seek(pos)
            f.write(local)
            if not isinstance(data, int):
                f.write(data)
            header_off = pos
            pos += len(local) + size
            big = header_off >= 0xFFFFFFFF
            z64 = struct.pack("<HHQ", 0x0001, 8, header_off) if big else b""
            central += struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\1\2", 45, 45, 0, 0, 0, 0x21, crc, size, size,
                                   len(bname), len(z64), 0, 0, 0, 0,
                                   0xFFFFFFFF if big else header_off) + bname + z64
        f.seek(pos)
        cd_off = pos
        f.write(central)
        rec = cd_off + len(central)
        n = len(entries)
        f.write(struct.pack("<4sQHHIIQQQQ", b"PK\6\6", 44, 45, 45, 0, 0, n, n, len(central), cd_off))
        f.write(struct.pack("<4sIQI", b"PK\6\7", 0, rec, 1))
        f.write(struct.pack("<4sHHHHIIH", b"PK\5\6", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0))


def generate(work, quick):
    tensors = llama8b(quick)
    shards = split(tensors, 4)
    for kind, ext, index, stem in (("st", "safetensors", "model.safetensors.index.json", "model"),
                                   ("pt", "bin", "pytorch_model.bin.index.json", "pytorch_model")):
        d = work / kind
        stamp = d / ".stamp"
        want = f"llama8b quick={quick}"
        if stamp.exists() and stamp.read_text() == want:
            continue
        d.mkdir(parents=True, exist_ok=True)
        weight_map = {}
        for i, shard in enumerate(shards):
            name = f"{stem}-{i + 1:05d}-of-00004.{ext}"
            (write_safetensors if kind == "st" else write_pytorch)(d / name, shard)
            weight_map.update({t: name for t, _ in shard})
        total = sum(nbytes(s) for _, s in tensors)
        (d / index).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))
        stamp.write_text(want)
    return tensors


def drop_caches():
    subprocess.run(["sync"], check=True)
    Path("/proc/sys/vm/drop_caches").write_text("3\n")


def warm(d):
    """The files' first and last MiB (headers, zip directories) in the page cache."""
    for p in d.iterdir():
        with open(p, "rb") as f:
            f.read(1 << 20)
            size = os.fstat(f.fileno()).st_size
            f.seek(max(0, size - (1 << 20)))
            f.read()












def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--out", type=Path)
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--prefault", type=int, default=3, help="GiB touched before each read (default 3)")
    a = ap.parse_args()
    work = a.work.resolve()
    tensors = generate(work, a.quick)
    rng = random.Random(a.seed)
    mnt = work / "mnt"
    mnt.mkdir(exist_ok=True)
    rows = {k: {"mount": [], "read": [], "load": []} for k in ("st", "pt")}
    for r in range(-1, a.rounds):  # round -1: warm-up, not counted
        order = ["st", "pt"]
        rng.shuffle(order)
        for kind in order:
            warm(work / kind)
            rows[kind]["load"].append(loadavg())
            rows[kind]["mount"].append(mount(work / kind, mnt))
            unmount(mnt)
            drop_caches()
            warm(work / kind)
            mount(work / kind, mnt)
            prefault(a.prefault)
            n, secs = read_all(mnt)
            unmount(mnt)
            rows[kind]["read"].append(n / secs)
        if r < 0:
            for k in rows.values():
                for v in k.values():
                    v.pop()
            print(f"warm-up round: order {order}", flush=True)
            continue
        print(f"round {r + 1}: order {order}, " + ", ".join(
            f"{k} mount {rows[k]['mount'][-1] * 1000:.1f} ms read {rows[k]['read'][-1] / 1e9:.2f} GB/s"
            for k in ("st", "pt")), flush=True)

    def fmt(v, scale, unit):
        return f"{statistics.median(v) * scale:.1f} {unit} ({min(v) * scale:.1f}-{max(v) * scale:.1f})"

    ratio_mount = [p / s for p, s in zip(rows["pt"]["mount"], rows["st"]["mount"])]
    ratio_read = [p / s for p, s in zip(rows["pt"]["read"], rows["st"]["read"])]
    lines = [
        f"`contrib/bench/formats.py WORKDIR --rounds {a.rounds} --seed {a.seed} --prefault {a.prefault}"
        f"{' --quick' if a.quick else ''}` ({len(tensors)} tensors, "
        f"{sum(nbytes(s) for _, s in tensors) / 1e9:.1f} GB, 4 shards; contenders in random order per round, "
        f"seed {a.seed}; load averages at each mount: st {' '.join(rows['st']['load'])}, "
        f"pt {' '.join(rows['pt']['load'])})",
        "",
        "| measure | safetensors (st) | pytorch .bin (pt) | pt/st per round: median (min-max) | target |",
        "|---|---|---|---|---|",
        f"| mount, files' metadata cached | {fmt(rows['st']['mount'], 1000, 'ms')} | "
        f"{fmt(rows['pt']['mount'], 1000, 'ms')} | {statistics.median(ratio_mount):.2f}x "
        f"({min(ratio_mount):.2f}-{max(ratio_mount):.2f}) | <= 2x |",
        f"| read every tensor | {fmt(rows['st']['read'], 1e-9, 'GB/s')} | {fmt(rows['pt']['read'], 1e-9, 'GB/s')} | "
        f"{statistics.median(ratio_read):.2f}x ({min(ratio_read):.2f}-{max(ratio_read):.2f}) | >= 0.9x |",
    ]
    print("\n".join(lines))
    if a.out:
        a.out.write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
