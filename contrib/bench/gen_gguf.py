#!/usr/bin/python3
"""Writes a GGUF of Llama-3-8B shapes with Q4_K blocks, and its safetensors twin.

    gen_gguf.py WORKDIR [--quick]

WORKDIR/gguf/Meta-Llama-3-8B-Q4_K.gguf: GGUF v3 as llama.cpp writes it for
Llama-3-8B Q4_K (32 blocks, n_embd 4096, n_ff 14336, 32 heads / 8 KV heads,
vocab 128256): 291 tensors, Q4_K (256 elements in 144 bytes) for the
matrices and F32 for the norms, ~4.6 GB; the usual general.*, llama.* and
tokenizer.ggml.* KVs, with a token list of 128,256 strings, their types and
280,147 merges (synthetic text, real sizes: the KV section is ~8 MB, as in
the Hub's Llama-3 GGUFs).

WORKDIR/st/model.safetensors: the same tensors under their Hugging Face
names, with the same byte sizes (U8), so both mounts serve the same bytes.

Tensor bytes are holes (sparse files; all-zero Q4_K blocks are valid
blocks): the kernel serves them from memory without a disk, so what a read
measures is weightfs's path. Nothing here is committed; a stamp file skips
writing again.
"""

import argparse
import json
import struct
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent.parent / "tests" / "lib"))
import gguf_file as gf  # noqa: E402

Q4_K, F32 = 12, 0
HF = {"token_embd": "model.embed_tokens", "output_norm": "model.norm", "output": "lm_head",
      "attn_norm": "input_layernorm", "attn_q": "self_attn.q_proj", "attn_k": "self_attn.k_proj",
      "attn_v": "self_attn.v_proj", "attn_output": "self_attn.o_proj", "ffn_norm": "post_attention_layernorm",
      "ffn_gate": "mlp.gate_proj", "ffn_up": "mlp.up_proj", "ffn_down": "mlp.down_proj"}


def shapes(quick):
    """(gguf name, hf name, ne, ggml type) in llama.cpp's order."""
    layers, embd, ff, heads, kv, vocab = 32, 4096, 14336, 32, 8, 128256
    if quick:
        layers, embd, ff, vocab = 2, 256, 512, 1000
    kvd = embd // heads * kv
    t = [("token_embd.weight", [embd, vocab], Q4_K)]
    for i in range(layers):
        p = f"blk.{i}."
        t += [(p + "attn_norm.weight", [embd], F32), (p + "attn_q.weight", [embd, embd], Q4_K),
              (p + "attn_k.weight", [embd, kvd], Q4_K), (p + "attn_v.weight", [embd, kvd], Q4_K),
              (p + "attn_output.weight", [embd, embd], Q4_K), (p + "ffn_norm.weight", [embd], F32),
              (p + "ffn_gate.weight", [embd, ff], Q4_K), (p + "ffn_up.weight", [embd, ff], Q4_K),
              (p + "ffn_down.weight", [ff, embd], Q4_K)]
    t += [("output_norm.weight", [embd], F32), ("output.weight", [embd, vocab], Q4_K)]
    out = []
    for name, ne, typ in t:
        parts = name.split(".")
        if parts[0] == "blk":
            hf = f"model.layers.{parts[1]}.{HF[parts[2]]}.weight"
        else:
            hf = HF[parts[0]] + ".weight"
        out.append((name, hf, ne, typ))
    return out, dict(layers=layers, embd=embd, ff=ff, heads=heads, kv=kv, vocab=vocab)


def kvs(cfg):
    tokens = [f"tok{i:06d}" for i in range(cfg["vocab"])]
    merges = [f"t{i % 9973} k{i // 9973}" for i in range(cfg["vocab"] * 280147 // 128256)]
    s, a = gf.STRING, gf.ARRAY
    return [
        gf.kv("general.architecture", s, "llama"),
        gf.kv("general.name", s, "Meta Llama 3 8B (weightfs bench, synthetic)"),
        gf.kv("general.file_type", gf.UINT32, 15),
        gf.kv("general.quantization_version", gf.UINT32, 2),
        gf.kv("llama.block_count", gf.UINT32, cfg["layers"]),
        gf.kv("llama.context_length", gf.UINT32, 8192),
        gf.kv("llama.embedding_length", gf.UINT32, cfg["embd"]),
        gf.kv("llama.feed_forward_length", gf.UINT32, cfg["ff"]),
        gf.kv("llama.attention.head_count", gf.UINT32, cfg["heads"]),
        gf.kv("llama.attention.head_count_kv", gf.UINT32, cfg["kv"]),
        gf.kv("llama.rope.freq_base", gf.FLOAT32, 500000.0),
        gf.kv("llama.attention.layer_norm_rms_epsilon", gf.FLOAT32, 1e-5),
        gf.kv("llama.vocab_size", gf.UINT32, cfg["vocab"]),
        gf.kv("llama.rope.dimension_count", gf.UINT32, 128),
        gf.kv("tokenizer.ggml.model", s, "gpt2"),
        gf.kv("tokenizer.ggml.pre", s, "llama-bpe"),
        gf.kv("tokenizer.ggml.tokens", a, (s, tokens)),
        gf.kv("tokenizer.ggml.token_type", a, (gf.INT32, [1] * cfg["vocab"])),
        gf.kv("tokenizer.ggml.merges", a, (s, merges)),
        gf.kv("tokenizer.ggml.bos_token_id", gf.UINT32, 128000),
        gf.kv("tokenizer.ggml.eos_token_id", gf.UINT32, 128001),
        gf.kv("tokenizer.chat_template", s, "{% for m in messages %}{{ m['content'] }}{% endfor %}"),
    ]


def nbytes(ne, typ):
    n = 1
    for x in ne:
        n *= x
    return n // 256 * 144 if typ == Q4_K else n * 4


def write_gguf(path, tensors, cfg):
    kv_list = kvs(cfg)
    body = b"".join(kv_list)
    infos, off = [], 0
    for name, _, ne, typ in tensors:
        off += -off % 32
        infos.append(gf.info(name, ne, typ, off))
        off += nbytes(ne, typ)
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), len(kv_list)) + body + b"".join(infos)
    head += b"\0" * (-len(head) % 32)
    with open(path, "wb") as f:
        f.write(head)
        f.truncate(len(head) + off)  # the data: a hole
    return len(head) + off


def write_safetensors(path, tensors):
    header, off = {}, 0
    for _, hf, ne, typ in tensors:
        n = nbytes(ne, typ)
        header[hf] = {"dtype": "U8", "shape": [n], "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        f.truncate(8 + len(text) + off)
    return 8 + len(text) + off


def generate(work, quick):
    tensors, cfg = shapes(quick)
    stamp = work / ".stamp-gguf"
    want = f"llama3-8b-q4_k quick={quick}"
    g = work / "gguf" / "Meta-Llama-3-8B-Q4_K.gguf"
    s = work / "st" / "model.safetensors"
    if not (stamp.exists() and stamp.read_text() == want and g.exists() and s.exists()):
        g.parent.mkdir(parents=True, exist_ok=True)
        s.parent.mkdir(parents=True, exist_ok=True)
        write_gguf(g, tensors, cfg)
        write_safetensors(s, tensors)
        stamp.write_text(want)
    return g, s, tensors


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("work", type=Path)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    g, s, tensors = generate(a.work.resolve(), a.quick)
    print(f"{g}: {g.stat().st_size} bytes, {len(tensors)} tensors\n{s}: {s.stat().st_size} bytes")


if __name__ == "__main__":
    main()
