"""The test helpers themselves (writer, oracle reader, expected namespace),
checked against fixed facts so that the mount tests compare with something
trustworthy. No weightfs involved."""

import pytest

import expect
from safetensors_reader import ShardTensor, read_safetensors
from safetensors_writer import random_tensors, write_raw, write_safetensors


@pytest.mark.parametrize("data,digest", [
    (b"", 0xCBF29CE484222325), (b"a", 0xAF63DC4C8601EC8C), (b"foobar", 0x85944171F73967E8),
])
def test_fnv1a64_reference_vectors(data, digest):
    assert expect.fnv1a64(data) == digest


@pytest.mark.parametrize("component,encoded", [
    ("q_proj.weight", "q_proj.weight"), ("", "%"), (".", "%2E"), ("..", "%2E%2E"),
    ("...", "..."), ("a%b", "a%25b"), ("a/b", "a%2Fb"), ("%2F", "%252F"),
    ("x" * 255, "x" * 255),
])
def test_encode_component(component, encoded):
    assert expect.encode_component(component) == encoded


def test_encode_long_component():
    encoded = expect.encode_component("\u00e9" * 150)
    assert len(encoded.encode()) == 236 + 2 + 16
    assert encoded.startswith("\u00e9" * 118 + "%~")


def test_writer_and_reader_round_trip(tmp_path):
    spec = {"b": ("F16", (2, 3)), "a": ("F4", (4,)), "s": ("I64", ()), "e": ("U8", (0, 7))}
    tensors = random_tensors(spec)
    path = write_safetensors(tmp_path / "m.safetensors", tensors, {"k": "v"})
    parsed = read_safetensors(path)
    assert list(parsed.tensors) == ["b", "a", "s", "e"]
    assert parsed.metadata == {"k": "v"}
    raw = path.read_bytes()
    for name, (dtype, shape, data) in tensors.items():
        t = parsed.tensors[name]
        assert (t.dtype, t.shape, t.data) == (dtype, shape, data)
        assert raw[t.offset:t.offset + len(data)] == data
    assert (parsed.tensors["b"].offset - 8) % 8 == 0, "header padded to a multiple of 8"


def test_reader_rejects_a_gap(tmp_path):
    header = b'{"x":{"dtype":"U8","shape":[2],"data_offsets":[2,4]}}'
    with pytest.raises(ValueError):
        read_safetensors(write_raw(tmp_path / "g.safetensors", header, b"\0" * 4))


def test_writer_refuses_wrong_lengths(tmp_path):
    with pytest.raises(ValueError):
        write_safetensors(tmp_path / "w.safetensors", {"x": ("F32", (2,), b"\0" * 4)})


def test_modules_namespace_of_llama(llama_dir):
    ns = expect.Namespace(expect.load_model(llama_dir), "modules")
    files, dirs = ns.listing()
    assert "model.layers.1.self_attn/q_proj.weight" in files
    assert "lm_head.weight" in files and "config.json" in files
    assert dirs == {"model"} | {f"model.layers.{i}.{m}" for i in (0, 1)
                                for m in ("self_attn", "mlp")} | {"model.layers.0", "model.layers.1"}
    assert len(ns.dirs["model.layers.0"]) == 2  # the two layernorms


def test_clash_gets_file_suffix():
    t = lambda name: ShardTensor(name, "U8", (1,), "m.safetensors", 8, b"\0")
    model = expect.Model({n: t(n) for n in ("a.b", "a.b.c.d")})
    assert expect.Namespace(model, "modules").path_of == {"a.b": "a.b%file", "a.b.c.d": "a.b/c.d"}
    assert expect.Namespace(model, "tree").path_of == {"a.b": "a/b%file", "a.b.c.d": "a/b/c/d"}
    assert expect.Namespace(model, "flat").path_of == {"a.b": "a.b", "a.b.c.d": "a.b.c.d"}
