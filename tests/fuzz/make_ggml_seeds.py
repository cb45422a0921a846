#!/usr/bin/python3
"""Write the seed corpus of fuzz_ggml_decode: tests/fuzz/corpus/ggml_decode/.

    tests/fuzz/make_ggml_seeds.py

Seeds: the first 584 bytes (two Q8_K blocks, several blocks of every other
type) of each quantized tensor of tests/data/gguf-samples/model.gguf, named
by its ggml type, so the fuzzer starts from real scales and quants; and
all-zero and all-one bytes (zero scales; NaN half scales). Deterministic,
standard library only.
"""
import json
from pathlib import Path

HERE = Path(__file__).resolve().parent
SAMPLES = HERE.parent / "data" / "gguf-samples"
OUT = HERE / "corpus" / "ggml_decode"
SEED_BYTES = 584


def main():
    manifest = json.loads((SAMPLES / "manifest.json").read_text(encoding="utf-8"))
    model = (SAMPLES / "model.gguf").read_bytes()
    OUT.mkdir(parents=True, exist_ok=True)
    for old in OUT.iterdir():
        old.unlink()
    seen = set()
    for name, t in manifest["files"]["model.gguf"]["tensors"].items():
        if t["type"] in ("F32", "F16", "BF16") or t["type"] in seen:
            continue
        seen.add(t["type"])
        start = t["file_offset"]
        n = min(SEED_BYTES, t["nbytes"])
        (OUT / ("fixture-" + t["type"])).write_bytes(model[start:start + n])
    (OUT / "zeros").write_bytes(bytes(SEED_BYTES))
    (OUT / "ones").write_bytes(b"\xff" * SEED_BYTES)
    print("%s: %d seeds" % (OUT, len(list(OUT.iterdir()))))


if __name__ == "__main__":
    main()
