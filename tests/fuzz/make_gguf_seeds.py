#!/usr/bin/python3
"""Writes tests/fuzz/corpus/gguf/: small GGUF seeds made from the fixtures.

Each fixture of tests/data/gguf-samples is read (a minimal reader of the
layout in ggml's docs/gguf.md) and written again small: every KV kept, arrays
cut to their first 8 items, every tensor kept with its ggml type but one
block along ne[0] (ne = [block]), its bytes the first bytes of the original.
Deterministic, standard library only:

    /usr/bin/python3 tests/fuzz/make_gguf_seeds.py
"""
import os
import struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SAMPLES = os.path.join(ROOT, "tests", "data", "gguf-samples")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus", "gguf")

# ggml type id: (elements per block, bytes per block), for the fixtures' types
BLOCKS = {0: (1, 4), 1: (1, 2), 30: (1, 2), 2: (32, 18), 3: (32, 20), 6: (32, 22), 7: (32, 24),
          8: (32, 34), 11: (256, 110), 12: (256, 144), 14: (256, 210), 34: (256, 54), 35: (256, 66)}
SIZES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}


class Reader:
    def __init__(self, data):
        self.d, self.p = data, 0

    def take(self, n):
        b = self.d[self.p:self.p + n]
        self.p += n
        return b

    def u32(self):
        return struct.unpack("<I", self.take(4))[0]

    def u64(self):
        return struct.unpack("<Q", self.take(8))[0]

    def string(self):
        return self.take(self.u64())


def read_value(r, t, cut):
    """The value's encoding, with arrays cut to 8 items when cut."""
    if t == 8:
        s = r.string()
        return struct.pack("<Q", len(s)) + s
    if t == 9:
        it, n = r.u32(), r.u64()
        items = [read_value(r, it, cut) for _ in range(n)]
        if cut:
            items = items[:8]
        return struct.pack("<IQ", it, len(items)) + b"".join(items)
    return r.take(SIZES[t])


def shrink(data):
    r = Reader(data)
    magic, version, n_t, n_kv = r.take(4), r.u32(), r.u64(), r.u64()
    out = bytearray(magic + struct.pack("<IQQ", version, n_t, n_kv))
    align = 32
    for _ in range(n_kv):
        key = r.string()
        t = r.u32()
        v = read_value(r, t, True)
        if key == b"general.alignment":
            align = struct.unpack("<I", v)[0]
        out += struct.pack("<Q", len(key)) + key + struct.pack("<I", t) + v
    infos = []
    for _ in range(n_t):
        name = r.string()
        nd = r.u32()
        ne = [r.u64() for _ in range(nd)]
        typ, off = r.u32(), r.u64()
        infos.append((name, typ, off))
    start = r.p + (-r.p) % align
    data_out = bytearray()
    for name, typ, off in infos:
        be, bb = BLOCKS[typ]
        data_out += b"\0" * ((-len(data_out)) % align)
        out += struct.pack("<Q", len(name)) + name + struct.pack("<IQIQ", 1, be, typ, len(data_out))
        data_out += data[start + off:start + off + bb]
    if infos:
        out += b"\0" * ((-len(out)) % align)
        out += data_out
    return bytes(out)


def main():
    os.makedirs(OUT, exist_ok=True)
    for rel in ["model.gguf", "split/model-00001-of-00003.gguf", "split/model-00002-of-00003.gguf",
                "split/model-00003-of-00003.gguf", "vocab/ggml-vocab-bert-bge.gguf",
                "vocab/ggml-vocab-llama-spm.gguf", "vocab/ggml-vocab-phi-3.gguf"]:
        with open(os.path.join(SAMPLES, rel), "rb") as f:
            seed = shrink(f.read())
        name = "fixture-" + os.path.basename(rel).replace(".gguf", "")
        with open(os.path.join(OUT, name), "wb") as f:
            f.write(seed)
        # and the same cut just before its data section / in its KV section
        with open(os.path.join(OUT, name + "-cut"), "wb") as f:
            f.write(seed[:len(seed) * 2 // 3])


if __name__ == "__main__":
    main()
