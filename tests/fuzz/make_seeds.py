#!/usr/bin/python3
"""Write the seed corpora of the fuzz harnesses.

    tests/fuzz/make_seeds.py [SAMPLES_DIR]

Rewrites tests/fuzz/corpus/{header,index,names}/ from scratch: the sample
files written by the reference implementation (SAMPLES_DIR, default
tests/data/safetensors-samples), small valid files covering every
dtype, scalars, empty tensors, metadata and awkward names, and one invalid
file per problem the README lists. Only the standard library and the
safetensors writer of tests/lib are used, and the output is deterministic,
so the committed corpora can be regenerated and diffed. Seeds are named by
what they hold.
"""

import json
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
CORPUS = HERE / "corpus"

sys.path.insert(0, str(HERE.parent / "lib"))  # the shared test helpers

from safetensors_dtypes import DTYPE_BITS, nbytes  # noqa: E402
from safetensors_writer import encode_raw as raw, encode_safetensors  # noqa: E402


def st_file(tensors, metadata=None):
    """tensors: list of (name, dtype, shape); the data section's bytes are
    0, 1, 2, ... (mod 251) across the whole file."""
    sizes = [nbytes(dtype, shape) for _, dtype, shape in tensors]
    pattern = bytes(i % 251 for i in range(sum(sizes)))
    with_data, start = [], 0
    for (name, dtype, shape), n in zip(tensors, sizes):
        with_data.append((name, dtype, shape, pattern[start:start + n]))
        start += n
    return encode_safetensors(with_data, metadata)


def header_seeds(samples):
    seeds = {}
    for f in sorted(samples.glob("*.safetensors")):
        seeds["sample-" + f.stem] = f.read_bytes()

    every = [(f"t.{dt.lower()}", dt, [2] if DTYPE_BITS[dt] != 6 else [4]) for dt in DTYPE_BITS]
    seeds["valid-every-dtype"] = st_file(every, {"format": "pt"})
    seeds["valid-scalar-and-empty"] = st_file([("s", "F32", []), ("e", "BF16", [0, 7]), ("z", "U8", [3, 0])])
    seeds["valid-empty-header"] = raw(b"{}      ")
    seeds["valid-metadata-null"] = raw(b'{"__metadata__":null}')
    seeds["valid-metadata-only"] = raw(b'{"__metadata__":{"a":"b","c":"\\u00e9\\u0001"}}')
    seeds["valid-subbyte"] = st_file([("f4", "F4", [3, 2]), ("f6", "F6_E2M3", [4]), ("f6b", "F6_E3M2", [2, 4])])
    seeds["valid-llama"] = st_file([
        ("lm_head.weight", "BF16", [4, 2]),
        ("model.embed_tokens.weight", "BF16", [4, 2]),
        ("model.layers.0.self_attn.q_proj.weight", "BF16", [2, 2]),
        ("model.layers.0.self_attn.k_proj.weight", "BF16", [2, 2]),
        ("model.layers.0.mlp.up_proj.weight", "BF16", [2, 2]),
        ("model.layers.1.input_layernorm.weight", "BF16", [2]),
        ("model.norm.weight", "BF16", [2]),
    ], {"format": "pt"})
    seeds["valid-awkward-names"] = st_file([
        ("", "U8", [1]), (".", "U8", [1]), ("..", "U8", [1]), ("a..b", "U8", [1]),
        (".a.b.c", "U8", [1]), ("a.b.", "U8", [1]), ("100%", "U8", [1]), ("a/b.c/d", "U8", [1]),
        ("%2E", "U8", [1]), ("x.%file", "U8", [1]), ("\u00e9\u4e2d\U0001f600.w", "U8", [1]),
        ("tab\there", "U8", [1]), ("a.b.c.d", "U8", [1]), ("a.b", "U8", [1]), ("a.b.c", "U8", [1]),
    ])
    seeds["valid-long-names"] = st_file([
        ("x" * 300, "U8", [1]), ("m." + "y" * 260 + ".w", "U8", [1]),
        ("%" * 100, "U8", [1]), ("\u00e9" * 200, "U8", [1]), ("\U0001f600" * 70 + ".b.c", "U8", [1]),
        ("z" * 236 + "\u4e2d" + "z" * 30, "U8", [1]),
    ])
    seeds["valid-unordered-ranges"] = raw(
        b'{"b":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
        b'"a":{"data_offsets":[2,6],"shape":[1],"dtype":"F32"}}', bytes(range(6)))
    seeds["valid-whitespace"] = raw(b' {"a" : {"dtype" : "I8", "shape" : [ 1 ], "data_offsets" : [ 0 , 1 ]} }\t\n ',
                                    b"\x7f")
    seeds["valid-escapes"] = raw(b'{"\\u0061\\/\\"\\\\\\ud83d\\ude00":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}',
                                 b"\x01")

    t = '{"dtype":"%s","shape":%s,"data_offsets":%s}'
    def one(entry, data=b"", name="x"):
        return raw('{"%s":%s}' % (name, entry), data)
    seeds["bad-short-file"] = b"\x08\x00\x00"
    seeds["bad-header-len-0"] = raw(b"", header_len=0)
    seeds["bad-header-len-limit"] = raw(b"{}", header_len=100_000_001)
    seeds["bad-header-len-huge"] = raw(b"{}", header_len=2**64 - 1)
    seeds["bad-header-past-eof"] = raw(b"{}", header_len=64)
    seeds["bad-not-utf8"] = raw(b'{"\xff\xfe":1}')
    seeds["bad-not-utf8-first"] = raw(b"\xc3{}")
    seeds["bad-not-json"] = raw(b"{nope}")
    seeds["bad-not-object"] = raw(b"[1,2]")
    seeds["bad-nested-deep"] = raw(b'{"x":' + b"[" * 70 + b"]" * 70 + b"}")
    seeds["bad-trailing-bytes"] = raw(b"{} x")
    seeds["bad-duplicate-key"] = raw(b'{"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]},'
                                     b'"a":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00")
    seeds["bad-duplicate-inner-key"] = one('{"dtype":"U8","dtype":"U8","shape":[1],"data_offsets":[0,1]}', b"\x00")
    seeds["bad-metadata-not-strings"] = raw(b'{"__metadata__":{"a":1}}')
    seeds["bad-metadata-array"] = raw(b'{"__metadata__":["a"]}')
    seeds["bad-entry-not-object"] = one("[1]")
    seeds["bad-missing-dtype"] = one('{"shape":[1],"data_offsets":[0,1]}', b"\x00")
    # Other keys of a tensor entry are ignored with a warning (issue 13).
    seeds["valid-unknown-key"] = one('{"dtype":"U8","shape":[1],"data_offsets":[0,1],"k":{"q":[0]}}', b"\x00")
    seeds["bad-unknown-dtype"] = one(t % ("bf16", "[1]", "[0,2]"), b"\x00\x00")
    seeds["bad-shape-not-array"] = one(t % ("U8", '"1"', "[0,1]"), b"\x00")
    seeds["bad-shape-negative"] = one(t % ("U8", "[-1]", "[0,1]"), b"\x00")
    seeds["bad-shape-float"] = one(t % ("U8", "[2.0]", "[0,2]"), b"\x00\x00")
    seeds["bad-shape-exponent"] = one(t % ("U8", "[1e1]", "[0,10]"), bytes(10))
    seeds["bad-shape-minus-zero"] = one(t % ("U8", "[-0]", "[0,0]"))
    seeds["bad-shape-2pow64"] = one(t % ("U8", "[18446744073709551616]", "[0,1]"), b"\x00")
    seeds["bad-shape-u64max"] = one(t % ("U8", "[18446744073709551615]", "[0,1]"), b"\x00")
    seeds["bad-offsets-three"] = one(t % ("U8", "[1]", "[0,1,2]"), b"\x00")
    seeds["bad-offsets-reversed"] = one(t % ("U8", "[1]", "[12,4]"), b"\x00")
    seeds["bad-offsets-huge"] = one(t % ("U8", "[1]", "[18446744073709551614,18446744073709551615]"), b"\x00")
    seeds["bad-count-overflow"] = one(t % ("U8", "[4294967296,4294967296]", "[0,1]"), b"\x00")
    seeds["bad-bits-overflow"] = one(t % ("F64", "[2305843009213693952]", "[0,1]"), b"\x00")
    seeds["bad-length-mismatch"] = one(t % ("I32", "[2,2]", "[0,12]"), bytes(12))
    seeds["bad-subbyte-mid"] = one(t % ("F4", "[3]", "[0,1]"), b"\x00")
    seeds["bad-nul-in-name"] = one(t % ("U8", "[1]", "[0,1]"), b"\x00", name="a\\u0000b")
    seeds["bad-nul-in-key"] = one('{"dtype":"U8","shape":[1],"data_offsets":[0,1],"d\\u0000":1}', b"\x00")
    seeds["bad-gap"] = one(t % ("U8", "[1]", "[1,2]"), b"\x00\x00")
    seeds["bad-overlap"] = raw(b'{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
                               b'"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\x00\x00")
    seeds["bad-beyond-data"] = one(t % ("U8", "[4]", "[0,4]"), b"\x00")
    seeds["bad-trailing-data"] = one(t % ("U8", "[1]", "[0,1]"), b"\x00\x00")
    seeds["bad-lone-surrogate"] = raw(b'{"\\ud800":{"dtype":"U8","shape":[1],"data_offsets":[0,1]}}', b"\x00")
    seeds["bad-lone-low-surrogate-escape"] = raw(b'{"__metadata__":{"k":"\\udc00\\ud800"}}')
    seeds["bad-bom"] = raw(b'\xef\xbb\xbf{}')
    seeds["valid-metadata-nul-key"] = raw(b'{"__metadata__":{"a\\u0000b":"v","c":"d"}}')
    seeds["valid-metadata-long-keys"] = raw(b'{"__metadata__":{"' + b"k" * 242 + b'":"v","' + b"j" * 241 + b'":"w"}}')
    return seeds


def index_seeds():
    def js(obj):
        return json.dumps(obj, indent=2, ensure_ascii=False).encode()
    wm = {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
          "model.layers.0.mlp.up_proj.weight": "model-00001-of-00002.safetensors",
          "lm_head.weight": "model-00002-of-00002.safetensors"}
    seeds = {
        "valid-llama": js({"metadata": {"total_size": 1234}, "weight_map": wm}),
        "valid-metadata-kinds": js({"metadata": {"total_size": 1, "s": "x", "f": 1.5, "n": None, "b": True,
                                                  "o": {"a": [1, 2]}, "big": 18446744073709551616,
                                                  "neg": -1}, "weight_map": wm}),
        "valid-metadata-null": js({"metadata": None, "weight_map": {"a": "a.safetensors"}}),
        "valid-empty-map": js({"weight_map": {}}),
        "valid-subdirs": js({"weight_map": {"a": "sub/a.safetensors", "b": "./b.safetensors",
                                            "c": "sub//c.safetensors", "d": "\u00e9.safetensors"}}),
        "valid-extra-keys": js({"weight_map": {"a": "a.safetensors"}, "other": [1, {"x": None}]}),
        "bad-missing-map": js({"metadata": {}}),
        "bad-map-not-object": js({"weight_map": ["a"]}),
        "bad-metadata-not-object": js({"metadata": [1], "weight_map": {}}),
        "bad-shard-not-string": js({"weight_map": {"a": 1}}),
        "bad-shard-paths": js({"weight_map": {"a": "../x", "b": "/abs", "c": "a\\b", "d": "a\u0001",
                                              "e": "a/../b", "f": "", "g": "..", "h": "x/..", "i": "\u007f"}}),
        "bad-not-object": b"[]",
        "bad-not-json": b"{weight_map}",
        "bad-trailing": b'{"weight_map":{}} x',
        "bad-nested-deep": b'{"metadata":' + b"[" * 70 + b"]" * 70 + b',"weight_map":{}}',
        "bad-duplicate-key": b'{"weight_map":{"a":"a.safetensors","a":"b.safetensors"}}',
        "bad-duplicate-top": b'{"weight_map":{},"weight_map":{}}',
        "bad-nul-key": b'{"weight_map":{"a\\u0000":"a.safetensors"}}',
        "bad-not-utf8": b'{"weight_map":{"\xff":"a.safetensors"}}',
        "bad-bom": b"\xef\xbb\xbf" + js({"weight_map": {}}),
        "bad-only-dots": js({"weight_map": {"a": "./.", "b": ".//"}}),
        "edge-escapes": b'{"weight_map":{"\\u00e9\\ud83d\\ude00":"s\\/x.safetensors","\\ud800":"a"}}',
    }
    return seeds


def names_seeds():
    def names(*ns):
        return b"\x00".join(n.encode() if isinstance(n, str) else n for n in ns)
    layer = [f"model.layers.{i}.{m}.weight" for i in range(2)
             for m in ("self_attn.q_proj", "self_attn.k_proj", "mlp.up_proj", "input_layernorm")]
    return {
        "llama": names("lm_head.weight", "model.embed_tokens.weight", "model.norm.weight", *layer),
        "specials": names("", ".", "..", "...", "a..b", ".a", "a.", "%", "%25", "/", "a/b", "%2E", "%2E%2E",
                          "%file", "a%file"),
        "clash-modules": names("a.b", "a.b.c.d", "a.b%file", "a.b.c"),
        "clash-tree": names("a", "a.b", "a.b.c", "x.y", "x"),
        "long-ascii": names("x" * 255, "x" * 256, "y" * 300 + ".w", "z" * 237, "%" * 86, "%" * 85,
                            "/" * 90),
        "long-utf8": names("\u00e9" * 128, "\u4e2d" * 90, "\U0001f600" * 64, "a" + "\u00e9" * 127,
                           "ab" + "\u4e2d" * 85),
        "long-same-prefix": names("p" * 240 + "1", "p" * 240 + "2", "p" * 237 + "%~0000000000000000"),
        "invalid-utf8": names(b"\xff\xfe", b"\xc3", b"\xe4\xb8", b"a\xf0\x9f\x98" * 70),
        "deep-tree": names(".".join("abcdefghijklmnopqrstuvwxyz"), "." * 40, "a" + ".b" * 100),
    }


def write(kind, seeds):
    d = CORPUS / kind
    if d.exists():
        shutil.rmtree(d)
    d.mkdir(parents=True)
    for name, data in sorted(seeds.items()):
        (d / name).write_bytes(data)
    print(f"{d}: {len(seeds)} seeds")


def main():
    samples = Path(sys.argv[1]) if len(sys.argv) > 1 else None
    if samples is None:
        samples = HERE.parent / "data" / "safetensors-samples"
    if samples is None or not samples.is_dir():
        sys.exit("make_seeds.py: safetensors-samples not found; pass its directory")
    write("header", header_seeds(samples))
    write("index", index_seeds())
    write("names", names_seeds())


if __name__ == "__main__":
    main()
