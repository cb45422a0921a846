#!/usr/bin/python3
"""Writes a ~2 GB ONNX model with external data and a TensorFlow checkpoint
of the same size, for the mount-time benchmark (onnx_tf_mount.sh). No
frameworks: the protobuf and table bytes are written by tests/lib's
writers.

    contrib/bench/gen_onnx_tf.py DIR [GIB]

DIR/onnx/model.onnx + model.onnx.data: LAYERS transformer-like blocks of
F32 initializers (q, k, v, o, up, down, norms), all in one external file.
DIR/tf/model.ckpt.index + .data-0000N-of-00002: the same tensors, two data
shards. The tensor bytes are a repeated pseudo-random block (their values
do not matter to a mount); the bundle's CRCs are not computed (pure Python
is too slow for 2 GB), so `weightfs-inspect verify` fails on it by design.
"""

import os
import random
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "tests" / "lib"))

import onnx_writer as ow  # noqa: E402
import tfbundle_writer as tw  # noqa: E402
from protobuf_writer import ld  # noqa: E402


def layout(total_bytes):
    """(name, shape) of every tensor: blocks of a hidden size-512 model (many tensors, as mount time grows with them)."""
    hidden, ff = 512, 1408
    per_layer = [("attn.q", [hidden, hidden]), ("attn.k", [hidden, hidden]), ("attn.v", [hidden, hidden]),
                 ("attn.o", [hidden, hidden]), ("mlp.up", [ff, hidden]), ("mlp.gate", [ff, hidden]),
                 ("mlp.down", [hidden, ff]), ("norm1", [hidden]), ("norm2", [hidden])]
    layer_bytes = sum(4 * (s[0] * (s[1] if len(s) > 1 else 1)) for _, s in per_layer)
    layers = max(1, total_bytes // layer_bytes)
    out = []
    for i in range(layers):
        for n, s in per_layer:
            out.append((f"layers.{i}.{n}.weight", s))
    return out


def nbytes(shape):
    n = 4
    for d in shape:
        n *= d
    return n


class Filler:
    """Writes pseudo-random bytes quickly: one 16 MiB block, repeated."""

    def __init__(self):
        rnd = random.Random(7)
        self.block = bytes(rnd.getrandbits(8) for _ in range(1 << 16)) * 256

    def write(self, f, n):
        while n:
            k = min(n, len(self.block))
            f.write(self.block[:k])
            n -= k


def write_onnx(d, tensors, filler):
    d.mkdir(parents=True, exist_ok=True)
    inits = []
    offset = 0
    with open(d / "model.onnx.data", "wb") as f:
        for name, shape in tensors:
            n = nbytes(shape)
            filler.write(f, n)
            inits.append(ow.tensor(name, ow.FLOAT, shape, external={"location": "model.onnx.data",
                                                                    "offset": offset, "length": n}))
            offset += n
    (d / "model.onnx").write_bytes(ow.model(ow.graph(inits), producer="weightfs-bench"))
    return offset


def write_tf(d, tensors, filler):
    d.mkdir(parents=True, exist_ok=True)
    shards = 2
    half = len(tensors) // 2
    entries = [(b"", tw.header_proto(num_shards=shards))]
    total = 0
    for s in range(shards):
        part = tensors[:half] if s == 0 else tensors[half:]
        offset = 0
        with open(d / f"model.ckpt.data-{s:05d}-of-{shards:05d}", "wb") as f:
            for name, shape in part:
                n = nbytes(shape)
                filler.write(f, n)
                tf_name = name.replace(".", "/")
                entries.append((tf_name.encode(), tw.entry_proto(tw.DT_FLOAT, shape, s, offset, n, 0)))
                offset += n
        total += offset
    entries.sort(key=lambda e: e[0])
    (d / "model.ckpt.index").write_bytes(tw.table(entries, block_entries=64, restart_interval=16))
    (d / "checkpoint").write_text('model_checkpoint_path: "model.ckpt"\n')
    return total


def main():
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    d = Path(sys.argv[1])
    gib = float(sys.argv[2]) if len(sys.argv) > 2 else 2.0
    tensors = layout(int(gib * (1 << 30)))
    filler = Filler()
    a = write_onnx(d / "onnx", tensors, filler)
    b = write_tf(d / "tf", tensors, filler)
    print(f"{len(tensors)} tensors; onnx {a} bytes, tf {b} bytes in {d}")
    os.sync()


if __name__ == "__main__":
    main()
