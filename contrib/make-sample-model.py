#!/usr/bin/python3
"""Write a small, deterministic Llama-architecture model in safetensors format.

    make-sample-model.py OUTDIR [--layers N] [--seed S]

OUTDIR receives what a Hugging Face checkpoint of a sharded Llama model holds:
config.json, generation_config.json, model.safetensors.index.json and two BF16
shards, model-00001-of-00002.safetensors and model-00002-of-00002.safetensors.
The tensor names are the real Llama ones; the dimensions are tiny (hidden 64,
intermediate 128, 4 attention heads, 2 key/value heads, vocabulary 256).

Only the Python standard library and numpy are used: the safetensors files are
written by hand the way the reference writer does it (8-byte little-endian
header length, JSON header with "__metadata__" first, padded with spaces to a
multiple of 8, tensors sorted by name, data in the same order).
"""

import argparse
import json
import os
import struct
import sys

import numpy as np

HIDDEN = 64
INTERMEDIATE = 128
HEADS = 4
KV_HEADS = 2
HEAD_DIM = HIDDEN // HEADS
VOCAB = 256
SHARDS = ("model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors")
INDEX = "model.safetensors.index.json"


def layer_shapes(layer):
    """Name -> shape of the tensors of one decoder layer."""
    p = f"model.layers.{layer}."
    return {
        p + "input_layernorm.weight": (HIDDEN,),
        p + "post_attention_layernorm.weight": (HIDDEN,),
        p + "self_attn.q_proj.weight": (HEADS * HEAD_DIM, HIDDEN),
        p + "self_attn.k_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
        p + "self_attn.v_proj.weight": (KV_HEADS * HEAD_DIM, HIDDEN),
        p + "self_attn.o_proj.weight": (HIDDEN, HEADS * HEAD_DIM),
        p + "mlp.gate_proj.weight": (INTERMEDIATE, HIDDEN),
        p + "mlp.up_proj.weight": (INTERMEDIATE, HIDDEN),
        p + "mlp.down_proj.weight": (HIDDEN, INTERMEDIATE),
    }


def shard_plan(layers):
    """The name -> shape maps of the two shards: the first half of the layers
    (with the embedding) in the first, the rest (with the head) in the second."""
    first = {"model.embed_tokens.weight": (VOCAB, HIDDEN)}
    second = {}
    for layer in range(layers):
        (first if layer < layers // 2 else second).update(layer_shapes(layer))
    second["model.norm.weight"] = (HIDDEN,)
    second["lm_head.weight"] = (VOCAB, HIDDEN)
    return first, second


def bf16_bytes(values):
    """float32 values truncated to bfloat16, as little-endian bytes."""
    bits = np.asarray(values, dtype="<f4").view("<u4") >> 16
    return bits.astype("<u2").tobytes()


def tensor_values(rng, name, shape):
    if name.endswith("layernorm.weight") or name == "model.norm.weight":
        return np.ones(shape, dtype=np.float32)
    return rng.normal(0.0, 0.02, size=shape).astype(np.float32)


def safetensors_bytes(tensors, metadata):
    """A safetensors file holding tensors (name -> (shape, bf16 bytes))."""
    header = {"__metadata__": metadata}
    offset = 0
    for name in sorted(tensors):
        shape, data = tensors[name]
        header[name] = {"dtype": "BF16", "shape": list(shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    body = b"".join(tensors[name][1] for name in sorted(tensors))
    return struct.pack("<Q", len(text)) + text + body


def config(layers):
    return {
        "architectures": ["LlamaForCausalLM"],
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": 1,
        "eos_token_id": 2,
        "head_dim": HEAD_DIM,
        "hidden_act": "silu",
        "hidden_size": HIDDEN,
        "initializer_range": 0.02,
        "intermediate_size": INTERMEDIATE,
        "max_position_embeddings": 256,
        "mlp_bias": False,
        "model_type": "llama",
        "num_attention_heads": HEADS,
        "num_hidden_layers": layers,
        "num_key_value_heads": KV_HEADS,
        "pretraining_tp": 1,
        "rms_norm_eps": 1e-05,
        "rope_scaling": None,
        "rope_theta": 10000.0,
        "tie_word_embeddings": False,
        "torch_dtype": "bfloat16",
        "transformers_version": "4.44.0",
        "use_cache": True,
        "vocab_size": VOCAB,
    }


def generation_config():
    return {"_from_model_config": True, "bos_token_id": 1, "eos_token_id": 2,
            "transformers_version": "4.44.0"}


def write_json(path, obj):
    with open(path, "w", encoding="utf-8") as f:
        json.dump(obj, f, indent=2, sort_keys=True)
        f.write("\n")


def write_model(outdir, layers, seed):
    os.makedirs(outdir, exist_ok=True)
    rng = np.random.default_rng(seed)
    weight_map = {}
    total_size = 0
    for shard, plan in zip(SHARDS, shard_plan(layers)):
        tensors = {}
        for name in sorted(plan):
            data = bf16_bytes(tensor_values(rng, name, plan[name]))
            tensors[name] = (plan[name], data)
            weight_map[name] = shard
            total_size += len(data)
        with open(os.path.join(outdir, shard), "wb") as f:
            f.write(safetensors_bytes(tensors, {"format": "pt"}))
    write_json(os.path.join(outdir, INDEX),
               {"metadata": {"total_size": total_size}, "weight_map": weight_map})
    write_json(os.path.join(outdir, "config.json"), config(layers))
    write_json(os.path.join(outdir, "generation_config.json"), generation_config())


def main(argv):
    parser = argparse.ArgumentParser(
        description="Write a small deterministic Llama model (two BF16 safetensors shards).")
    parser.add_argument("outdir", metavar="OUTDIR")
    parser.add_argument("--layers", type=int, default=2, help="decoder layers (default 2)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default 0)")
    args = parser.parse_args(argv)
    if args.layers < 1:
        parser.error("--layers must be at least 1")
    write_model(args.outdir, args.layers, args.seed)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
