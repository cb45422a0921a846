"""weightfs-inspect on GGUF models: summary (architecture, parameters per
ggml type, bits per weight, every KV in --json), stats of dequantized
values against the manifest of tests/data/gguf-samples (ggml's reference
dequantizer), types not decoded said as such, and diff of two quantizations
and of a GGUF against safetensors (built-in llama names, --map)."""

import hashlib
import json
import struct
import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))
import gguf_file as gf  # noqa: E402
from safetensors_writer import write_safetensors  # noqa: E402
from testdata import GGUF_SAMPLES as SAMPLES  # noqa: E402

MANIFEST = json.loads((SAMPLES / "manifest.json").read_text())["files"]
MODEL = SAMPLES / "model.gguf"


def compact(v):
    return json.dumps(v, ensure_ascii=False, separators=(",", ":"))


def test_summary_json(inspect):
    out = inspect.json("summary", MODEL)
    f = MANIFEST["model.gguf"]
    assert out["format"] == "gguf" and out["architecture"] == "llama"
    params = {}
    for t in f["tensors"].values():
        params[t["type"]] = params.get(t["type"], 0) + t["n_elements"]
    assert out["parameters"] == params
    total = sum(t["nbytes"] for t in f["tensors"].values())
    assert out["total_bytes"] == total
    assert out["bits_per_weight"] == pytest.approx(total * 8 / sum(params.values()))
    meta = out["metadata"]
    for key, m in f["metadata"].items():
        if m["type"] == "ARRAY":
            assert meta[key] == m["value"] or [struct.pack("<f", x) for x in meta[key]] == \
                [struct.pack("<f", x) for x in m["value"]], key
        elif m["type"] in ("FLOAT32",):
            assert struct.pack("<f", meta[key]) == struct.pack("<f", m["value"]), key
        else:
            assert meta[key] == m["value"], key


@pytest.mark.parametrize("vocab", ["ggml-vocab-bert-bge", "ggml-vocab-llama-spm", "ggml-vocab-phi-3"])
def test_summary_json_has_every_kv_in_full(inspect, vocab):
    """The token lists are far over the xattr limit: --json still has them whole."""
    out = inspect.json("summary", SAMPLES / "vocab" / f"{vocab}.gguf")
    meta = out["metadata"]
    f = MANIFEST[f"vocab/{vocab}.gguf"]["metadata"]
    omitted = meta.pop("gguf.omitted")
    assert "tokenizer.ggml.tokens" in omitted
    assert set(meta) == set(f)
    for key, m in f.items():
        if m["type"] == "ARRAY" and "sha256_compact_json" in m:
            assert len(meta[key]) == m["count"]
            assert hashlib.sha256(compact(meta[key]).encode()).hexdigest() == m["sha256_compact_json"], key


def test_summary_text(inspect):
    out = inspect.run("summary", MODEL, check=0).stdout
    assert "format       gguf" in out
    assert "architecture llama" in out
    assert "bits/weight  6.24" in out
    assert "  Q4_K       262144 in 2 tensors" in out
    assert "llama.block_count" in out


def test_stats_agree_with_reference_dequantizer(inspect):
    out = inspect.json("stats", MODEL)
    tensors = MANIFEST["model.gguf"]["tensors"]
    got = {t["name"]: t for t in out["tensors"]}
    assert set(got) == set(tensors)
    for name, t in tensors.items():
        s, ref = got[name], t["dequant_stats"]
        assert s["dtype"] == t["type"]
        assert s["count"] == t["n_elements"]
        assert s["min"] == ref["min"] and s["max"] == ref["max"], name
        assert s["mean"] == pytest.approx(ref["mean"], rel=1e-9, abs=1e-12), name
        assert s["first"][:4] == ref["first4"], name


def iq_file(tmp_path):
    path = tmp_path / "iq.gguf"
    gf.GGML[16] = ("IQ2_XXS", 256, 66)
    path.write_bytes(gf.write([gf.kv("general.architecture", gf.STRING, "llama")],
                              [("blk.0.attn_q.weight", [256, 2], 16), ("f", [4], 0)]))
    return path


def test_stats_says_which_types_are_not_decoded(inspect, tmp_path):
    path = iq_file(tmp_path)
    out = inspect.json("stats", path)
    t = {x["name"]: x for x in out["tensors"]}
    assert t["blk.0.attn_q.weight"]["decoded"] is False
    assert t["blk.0.attn_q.weight"]["dtype"] == "IQ2_XXS" and "mean" not in t["blk.0.attn_q.weight"]
    assert "decoded" not in t["f"]
    text = inspect.run("stats", path, check=0).stdout
    assert "not decoded: weightfs does not dequantize IQ2_XXS" in text


# ---- diff --------------------------------------------------------------------

def q8_0(x):
    """ggml's Q8_0 (block_q8_0: f16 d, 32 int8; ggml-quants.c quantize_row_q8_0_ref)."""
    blocks = x.reshape(-1, 32).astype(np.float32)
    amax = np.abs(blocks).max(axis=1)
    d = amax / 127
    inv = np.where(d != 0, 1 / np.where(d != 0, d, 1), 0)
    q = np.round(blocks * inv[:, None]).astype(np.int8)
    d16 = d.astype(np.float16)
    raw = b"".join(d16[i].tobytes() + q[i].tobytes() for i in range(len(q)))
    return raw, (q.astype(np.float32) * d16.astype(np.float32)[:, None]).reshape(x.shape)


def gguf_with(path, tensors):
    """A GGUF of (name, ne, ggml_type, raw bytes) laid out at 32-byte offsets."""
    infos, data, off = [], b"", 0
    for name, ne, t, raw in tensors:
        data += b"\0" * (-len(data) % 32)
        infos.append(gf.info(name, ne, t, len(data)))
        data += raw
    head = b"GGUF" + struct.pack("<IQQ", 3, len(tensors), 1) + gf.kv("general.architecture", gf.STRING, "llama") + \
        b"".join(infos)
    path.write_bytes(head + b"\0" * (-len(head) % 32) + data)
    return path


def test_diff_two_quantizations(inspect, tmp_path):
    x = np.random.default_rng(7).standard_normal((4, 64)).astype(np.float32)
    raw, deq = q8_0(x)
    a = gguf_with(tmp_path / "f32.gguf", [("blk.0.ffn_up.weight", [64, 4], 0, x.tobytes())])
    b = gguf_with(tmp_path / "q8.gguf", [("blk.0.ffn_up.weight", [64, 4], 8, raw)])
    out = inspect.json("diff", a, b)
    [t] = out["tensors"]
    assert (t["dtype_a"], t["dtype_b"], t["status"]) == ("F32", "Q8_0", "different")
    d = np.abs(x.astype(np.float64) - deq.astype(np.float64))
    assert t["max_abs_diff"] == pytest.approx(d.max(), rel=1e-12)
    assert t["mean_abs_diff"] == pytest.approx(d.mean(), rel=1e-9)
    assert "max|a-b|" in inspect.run("diff", a, b, check=0).stdout


def hf_twin(tmp_path):
    """The safetensors a GGUF of model.gguf's F32 and Q8_0 tensors came from (Hugging Face names)."""
    data = MODEL.read_bytes()
    p = gf.parse(data)
    tensors = {}
    hf = {"blk.0.attn_norm.weight": "model.layers.0.input_layernorm.weight",
          "output_norm.weight": "model.norm.weight",
          "blk.1.ffn_up.weight": "model.layers.1.mlp.up_proj.weight"}
    for i in p.infos:
        if i.name not in hf:
            continue
        n = MANIFEST["model.gguf"]["tensors"][i.name]
        raw = data[p.data_offset + i.offset:p.data_offset + i.offset + n["nbytes"]]
        if n["type"] == "Q8_0":
            b = np.frombuffer(raw, np.uint8).reshape(-1, 34)
            d = b[:, :2].copy().view(np.float16).astype(np.float32)
            q = b[:, 2:].copy().view(np.int8).astype(np.float32)
            raw = (q * d).astype(np.float32).tobytes()
        tensors[hf[i.name]] = ("F32", n["shape"], raw)
    return write_safetensors(tmp_path / "model.safetensors", tensors), hf


def test_diff_gguf_against_safetensors_with_llama_names(inspect, tmp_path):
    st, hf = hf_twin(tmp_path)
    out = inspect.json("diff", MODEL, st)
    by = {t["name"]: t for t in out["tensors"]}
    for g, h in hf.items():
        assert by[g]["name_b"] == h
        assert by[g]["status"] in ("identical", "equal"), by[g]
    assert by["blk.1.ffn_up.weight"]["status"] == "equal"  # Q8_0 against its float32 values
    assert out["summary"]["only_b"] == 0 and out["summary"]["only_a"] == 22 - 3
    # and the other way round
    back = inspect.json("diff", st, MODEL)
    assert {t["name"] for t in back["tensors"] if t["status"] in ("identical", "equal")} == set(hf.values())


def test_diff_with_map_file(inspect, tmp_path):
    st, hf = hf_twin(tmp_path)
    m = tmp_path / "names.txt"
    m.write_text("# gguf  hf\n" + "".join(f"{h}\t{g}\n" for g, h in hf.items() if g != "output_norm.weight"))
    out = inspect.json("diff", "--map", m, st, MODEL)
    same = {t["name"]: t.get("name_b") for t in out["tensors"] if t["status"] in ("identical", "equal")}
    assert same == {h: g for g, h in hf.items() if g != "output_norm.weight"}
    bad = tmp_path / "bad.txt"
    bad.write_text("a b c\n")
    r = inspect.run("diff", "--map", bad, st, MODEL, check=2)
    assert "line 1: expected two names" in r.stderr
    assert "does not take --map" in inspect.run("stats", "--map", m, MODEL, check=2).stderr


def test_summary_of_a_directory_of_several_files(inspect, tmp_path):
    """Each file is a group: its metadata under "groups"; the top-level "metadata"
    merges them (the first file wins a key) without repeating a key."""
    import shutil
    for name in ("A", "B"):
        shutil.copy(MODEL, tmp_path / f"{name}.gguf")
    shutil.copy(SAMPLES / "vocab" / "ggml-vocab-phi-3.gguf", tmp_path / "vocab.gguf")
    r = inspect.run("summary", "--json", tmp_path, check=0)
    keys = []
    out = json.loads(r.stdout, object_pairs_hook=lambda p: (keys.append([k for k, _ in p]), dict(p))[1])
    assert all(len(k) == len(set(k)) for k in keys)
    assert out["metadata"]["general.architecture"] == "llama"  # A's, the first
    g = out["groups"]
    assert sorted(g) == ["A", "B", "vocab"]
    assert g["A"]["tensors"] == 22 and g["A"]["architecture"] == "llama" and g["A"]["format"] == "gguf"
    assert g["vocab"]["tensors"] == 0 and g["vocab"]["architecture"] == "phi3"
    assert g["B"]["metadata"]["general.name"] == "weightfs tiny llama"
    text = inspect.run("summary", tmp_path, check=0).stdout
    assert "models       A/  gguf, 22 tensors, llama" in text


def test_ls_of_several_models(inspect, tmp_path):
    """A directory of two quantizations: ls lists one model after the other,
    with the subdirectory each is in (MODEL, "model" in --json)."""
    for stem in ("Q8", "Q4"):
        (tmp_path / f"{stem}.gguf").write_bytes(MODEL.read_bytes())
    want = sorted(MANIFEST["model.gguf"]["tensors"])
    out = inspect.json("ls", tmp_path)["tensors"]
    assert [t["model"] for t in out] == ["Q4"] * len(want) + ["Q8"] * len(want)
    assert sorted(t["name"] for t in out[:len(want)]) == want
    assert all(t["shard"] == t["model"] + ".gguf" for t in out)
    lines = inspect.run("ls", tmp_path, check=0).stdout.splitlines()
    assert lines[0].split()[:2] == ["MODEL", "NAME"]
    assert [line.split()[0] for line in lines[1:]] == ["Q4"] * len(want) + ["Q8"] * len(want)
    # One model's tensors keep "model" out of --json.
    assert "model" not in inspect.json("ls", MODEL)["tensors"][0]
