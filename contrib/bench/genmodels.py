#!/usr/bin/python3
"""Generate the benchmark models of contrib/bench/run.sh.

    genmodels.py WORKDIR FILLER [--quick] [--only NAME,...]

FILLER is the compiled wfsbench (its `fill` mode writes pseudo-random bytes
fast). Each model goes to WORKDIR/models/NAME/ and WORKDIR/models/NAME.stamp, which
records its parameters; a model whose stamp matches is reused as it is.
WORKDIR/models/NAME.tsv lists its tensors in shard order, one per line:

    PATH_IN_MOUNT <TAB> SHARD_PATH <TAB> OFFSET_IN_SHARD <TAB> NBYTES <TAB> NAME

PATH_IN_MOUNT follows weightfs's default `modules` layout (the last two
dot-separated components are the file name, the rest the directory).

Models (real tensor names; shapes real for the Llamas, tiny for DeepSeek):
  llama1b  Llama-3.2-1B: 16 layers, hidden 2048, intermediate 8192, 32 heads,
           8 KV heads, vocab 128256, tied embeddings; BF16; one model.safetensors
  llama8b  Llama-3-8B: 32 layers, hidden 4096, intermediate 14336, 32 heads,
           8 KV heads, vocab 128256; BF16; 4 shards of at most 5 GB + index
  dsv3     DeepSeek-V3 naming: 61 layers (3 dense) + the MTP layer 61, 256
           routed experts, 163 shards + index; 91,991 tensors of a few bytes
  tiny     one 4-byte tensor: the daemon's baseline memory
--quick shrinks every model (for developing the benchmark, not for results).
"""

import argparse
import json
import os
import struct
import subprocess
import sys

DTYPE_SIZE = {"BF16": 2, "F32": 4, "F8_E4M3": 1}


def llama(layers, hidden, inter, heads, kv_heads, vocab, tied):
    head_dim = hidden // heads
    t = [("model.embed_tokens.weight", "BF16", [vocab, hidden])]
    for i in range(layers):
        p = f"model.layers.{i}."
        t += [
            (p + "input_layernorm.weight", "BF16", [hidden]),
            (p + "post_attention_layernorm.weight", "BF16", [hidden]),
            (p + "self_attn.q_proj.weight", "BF16", [heads * head_dim, hidden]),
            (p + "self_attn.k_proj.weight", "BF16", [kv_heads * head_dim, hidden]),
            (p + "self_attn.v_proj.weight", "BF16", [kv_heads * head_dim, hidden]),
            (p + "self_attn.o_proj.weight", "BF16", [hidden, heads * head_dim]),
            (p + "mlp.gate_proj.weight", "BF16", [inter, hidden]),
            (p + "mlp.up_proj.weight", "BF16", [inter, hidden]),
            (p + "mlp.down_proj.weight", "BF16", [hidden, inter]),
        ]
    t.append(("model.norm.weight", "BF16", [hidden]))
    if not tied:
        t.append(("lm_head.weight", "BF16", [vocab, hidden]))
    return t


def deepseek(layers, dense, experts):
    """DeepSeek-V3 tensor names (FP8 weights with their weight_scale_inv),
    with tiny shapes: the metadata cases only care about the count."""
    w = lambda n: [(n + ".weight", "F8_E4M3", [16, 16]), (n + ".weight_scale_inv", "F32", [1, 1])]
    norm = lambda n: [(n + ".weight", "BF16", [16])]

    def layer(i):
        p = f"model.layers.{i}."
        t = norm(p + "input_layernorm") + norm(p + "post_attention_layernorm")
        for a in ("q_a_proj", "q_b_proj", "kv_a_proj_with_mqa", "kv_b_proj", "o_proj"):
            t += w(p + "self_attn." + a)
        t += norm(p + "self_attn.q_a_layernorm") + norm(p + "self_attn.kv_a_layernorm")
        if i < dense:
            for m in ("gate_proj", "up_proj", "down_proj"):
                t += w(p + "mlp." + m)
        else:
            t += [(p + "mlp.gate.weight", "BF16", [8, 16]),
                  (p + "mlp.gate.e_score_correction_bias", "F32", [8])]
            for e in range(experts):
                for m in ("gate_proj", "up_proj", "down_proj"):
                    t += w(p + f"mlp.experts.{e}.{m}")
            for m in ("gate_proj", "up_proj", "down_proj"):
                t += w(p + f"mlp.shared_experts.{m}")
        return t

    t = [("model.embed_tokens.weight", "BF16", [64, 16])]
    for i in range(layers):
        t += layer(i)
    # the multi-token-prediction layer
    p = f"model.layers.{layers}."
    t += layer(layers)
    t += [(p + "embed_tokens.weight", "BF16", [64, 16]), (p + "enorm.weight", "BF16", [16]),
          (p + "hnorm.weight", "BF16", [16]), (p + "eh_proj.weight", "BF16", [16, 32]),
          (p + "shared_head.norm.weight", "BF16", [16]),
          (p + "shared_head.head.weight", "BF16", [64, 16])]
    t += [("model.norm.weight", "BF16", [16]), ("lm_head.weight", "BF16", [64, 16])]
    return t


def nbytes(dtype, shape):
    n = DTYPE_SIZE[dtype]
    for d in shape:
        n *= d
    return n


def split_by_size(tensors, max_bytes):
    shards, cur, size = [], [], 0
    for t in tensors:
        b = nbytes(t[1], t[2])
        if cur and size + b > max_bytes:
            shards.append(cur)
            cur, size = [], 0
        cur.append(t)
        size += b
    shards.append(cur)
    return shards


def split_by_count(tensors, count):
    per = -(-len(tensors) // count)
    return [tensors[i:i + per] for i in range(0, len(tensors), per)]


def mount_path(name):
    parts = name.split(".")
    if len(parts) <= 2:
        return name
    return ".".join(parts[:-2]) + "/" + ".".join(parts[-2:])


def write_shard(path, tensors, filler, seed):
    """A safetensors file: tensors sorted by name, data in the same order."""
    tensors = sorted(tensors)
    header = {"__metadata__": {"format": "pt"}}
    off = 0
    for name, dtype, shape in tensors:
        b = nbytes(dtype, shape)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + b]}
        off += b
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        f.truncate(8 + len(h) + off)
    subprocess.run([filler, "fill", path, str(8 + len(h)), str(off), str(seed)], check=True,
                   stdout=subprocess.DEVNULL)
    base = 8 + len(h)
    return [(mount_path(n), path, base + header[n]["data_offsets"][0], nbytes(d, s), n)
            for n, d, s in tensors]


def make(outdir, name, shards, sharded, config, filler):
    d = os.path.join(outdir, name)
    os.makedirs(d, exist_ok=True)
    rows, weight_map, total = [], {}, 0
    for i, tensors in enumerate(shards):
        fname = (f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors" if sharded
                 else "model.safetensors")
        rows += write_shard(os.path.join(d, fname), tensors, filler, seed=1000 + i)
        for n, dt, s in tensors:
            weight_map[n] = fname
            total += nbytes(dt, s)
    if sharded:
        with open(os.path.join(d, "model.safetensors.index.json"), "w") as f:
            json.dump({"metadata": {"total_size": total},
                       "weight_map": dict(sorted(weight_map.items()))}, f, indent=2)
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(config, f, indent=2)
    with open(os.path.join(outdir, name + ".tsv"), "w") as f:
        for r in rows:
            f.write("\t".join(map(str, r)) + "\n")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("workdir")
    ap.add_argument("filler")
    ap.add_argument("--quick", action="store_true")
    ap.add_argument("--only", default="llama1b,llama8b,dsv3,tiny")
    a = ap.parse_args()
    q = a.quick
    specs = {
        "llama1b": lambda: ([llama(2 if q else 16, 1024 if q else 2048, 4096 if q else 8192,
                                   16 if q else 32, 4 if q else 8, 32000 if q else 128256, True)],
                            False, {"architectures": ["LlamaForCausalLM"], "tie_word_embeddings": True}),
        "llama8b": lambda: (split_by_size(llama(4 if q else 32, 1024 if q else 4096,
                                                 4096 if q else 14336, 16 if q else 32,
                                                 4 if q else 8, 32000 if q else 128256, False),
                                           (60 << 20) if q else 5_000_000_000),
                            True, {"architectures": ["LlamaForCausalLM"]}),
        "dsv3": lambda: (split_by_count(deepseek(8 if q else 61, 3, 32 if q else 256),
                                        16 if q else 163),
                         True, {"architectures": ["DeepseekV3ForCausalLM"]}),
        "tiny": lambda: ([[("w", "F32", [1])]], False, {}),
    }
    models = os.path.join(a.workdir, "models")
    os.makedirs(models, exist_ok=True)
    for name in a.only.split(","):
        shards, sharded, config = specs[name]()
        stamp = json.dumps({"quick": q, "shards": [[list(t) for t in s] for s in shards]})
        stamp_path = os.path.join(models, name + ".stamp")
        try:
            with open(stamp_path) as f:
                if f.read() == stamp and os.path.exists(os.path.join(models, name + ".tsv")):
                    print(f"genmodels: {name}: reusing {os.path.join(models, name)}", file=sys.stderr)
                    continue
        except FileNotFoundError:
            pass
        print(f"genmodels: {name}: writing {sum(len(s) for s in shards)} tensors "
              f"in {len(shards)} file(s)", file=sys.stderr)
        if os.path.exists(stamp_path):
            os.unlink(stamp_path)
        make(models, name, shards, sharded, config, a.filler)
        with open(stamp_path, "w") as f:
            f.write(stamp)


if __name__ == "__main__":
    main()
