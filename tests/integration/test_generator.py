"""contrib/make-sample-model.py writes a plausible, deterministic Llama model
(checked with the oracle reader; no weightfs involved)."""

import json
import struct

import numpy as np
import pytest

from repo import make_sample_model
from safetensors_reader import read_safetensors

SHARDS = ["model-00001-of-00002.safetensors", "model-00002-of-00002.safetensors"]
LAYER_TENSORS = ["input_layernorm.weight", "post_attention_layernorm.weight",
                 "self_attn.q_proj.weight", "self_attn.k_proj.weight",
                 "self_attn.v_proj.weight", "self_attn.o_proj.weight",
                 "mlp.gate_proj.weight", "mlp.up_proj.weight", "mlp.down_proj.weight"]


def llama_names(layers):
    names = {"model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"}
    names.update(f"model.layers.{i}.{t}" for i in range(layers) for t in LAYER_TENSORS)
    return names


def read_json(path):
    return json.loads(path.read_text())


@pytest.fixture(scope="module")
def three_layers(tmp_path_factory):
    return make_sample_model(tmp_path_factory.mktemp("gen") / "m", "--layers", "3")


def test_default_model_files(llama_dir):
    assert sorted(p.name for p in llama_dir.iterdir()) == sorted(
        SHARDS + ["config.json", "generation_config.json", "model.safetensors.index.json"])
    assert read_json(llama_dir / "config.json")["num_hidden_layers"] == 2


def test_index_matches_shards(three_layers):
    index = read_json(three_layers / "model.safetensors.index.json")
    assert set(index["weight_map"]) == llama_names(3)
    assert set(index["weight_map"].values()) == set(SHARDS)
    total = 0
    for shard in SHARDS:
        parsed = read_safetensors(three_layers / shard)
        assert parsed.metadata == {"format": "pt"}
        assert {n for n, s in index["weight_map"].items() if s == shard} == set(parsed.tensors)
        total += sum(len(t.data) for t in parsed.tensors.values())
    assert index["metadata"] == {"total_size": total}


def test_shapes_follow_the_config(three_layers):
    config = read_json(three_layers / "config.json")
    hidden, heads = config["hidden_size"], config["num_attention_heads"]
    head_dim = hidden // heads
    tensors = {}
    for shard in SHARDS:
        tensors.update(read_safetensors(three_layers / shard).tensors)
    assert config["num_hidden_layers"] == 3 and config["model_type"] == "llama"
    assert tensors["model.embed_tokens.weight"].shape == (config["vocab_size"], hidden)
    assert tensors["model.layers.2.self_attn.k_proj.weight"].shape == \
        (config["num_key_value_heads"] * head_dim, hidden)
    assert tensors["model.layers.0.mlp.down_proj.weight"].shape == \
        (hidden, config["intermediate_size"])
    assert {t.dtype for t in tensors.values()} == {"BF16"}


def test_headers_are_padded_and_metadata_first(llama_dir):
    for shard in SHARDS:
        raw = (llama_dir / shard).read_bytes()
        (length,) = struct.unpack_from("<Q", raw)
        assert length % 8 == 0
        assert raw[8:8 + length].startswith(b'{"__metadata__":{"format":"pt"}')


def test_values_are_plausible_bf16(llama_dir):
    parsed = read_safetensors(llama_dir / SHARDS[1])
    as_f32 = lambda t: (np.frombuffer(t.data, "<u2").astype("<u4") << 16).view("<f4")
    norm = as_f32(parsed.tensors["model.norm.weight"])
    head = as_f32(parsed.tensors["lm_head.weight"])
    assert np.all(norm == 1.0)
    assert np.all(np.isfinite(head)) and 0.005 < head.std() < 0.05


def test_deterministic(tmp_path, llama_dir):
    again = make_sample_model(tmp_path / "again")
    for path in llama_dir.iterdir():
        assert (again / path.name).read_bytes() == path.read_bytes(), path.name
