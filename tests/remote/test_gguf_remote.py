"""GGUF models over hf:// (nginx on loopback): a single file, a split and a
repository of several quantizations mount lazily, with the header and KV
section fetched by range and tensors' bytes equal to the manifest of
tests/data/gguf-samples."""

import hashlib
import json
import os
from pathlib import Path

import pytest

import hub
from conftest import clean_env
from testdata import GGUF_SAMPLES

MANIFEST = json.loads((GGUF_SAMPLES / "manifest.json").read_text())["files"]


def hf_env(nginx):
    return clean_env(HF_ENDPOINT=nginx.url)


@pytest.fixture(scope="module")
def gguf_models(models):
    root, _ = models
    split = {p.name: p.read_bytes() for p in (GGUF_SAMPLES / "split").iterdir()}
    return {
        "single": hub.Model(root, "org/gguf", {"model.gguf": (GGUF_SAMPLES / "model.gguf").read_bytes(),
                                                "README.md": b"a GGUF\n"}, sizes=True),
        "split": hub.Model(root, "org/gguf-split", split, sizes=False),
        "quants": hub.Model(root, "org/gguf-quants", {
            "Q_mixed.gguf": (GGUF_SAMPLES / "model.gguf").read_bytes(),
            "vocab.gguf": (GGUF_SAMPLES / "vocab" / "ggml-vocab-llama-spm.gguf").read_bytes()}, sizes=True),
    }


def check(mnt, tensors):
    for name, t in tensors.items():
        p = Path(mnt) / name
        assert hashlib.sha256(p.read_bytes()).hexdigest() == t["sha256"], name
        assert os.getxattr(p, "user.dtype").decode() == t["type"]
        assert json.loads(os.getxattr(p, "user.ggml_ne")) == t["ne"]


def test_single_file(nginx, gguf_models, mount):
    mark = nginx.mark()
    mnt = mount("hf://org/gguf", "-o", "layout=flat", "-o", "chunk_size=65536", env=hf_env(nginx))
    log = nginx.since(mark)
    fetched = [e for e in log if e["uri"].endswith("model.gguf")]
    # The header (3,392 bytes here) comes by range, in 64 KiB chunks with the
    # cache's readahead: well under half of the 936,960-byte file.
    assert fetched and all(e["status"] == 206 for e in fetched), fetched
    got = sum(int(e["range"].split("-")[1]) - int(e["range"].split("=")[1].split("-")[0]) + 1 for e in fetched)
    assert got < (GGUF_SAMPLES / "model.gguf").stat().st_size // 2, fetched
    assert os.getxattr(mnt, "user.format") == b"gguf"
    assert os.getxattr(mnt, "user.gguf.general.architecture") == b"llama"
    assert (mnt / "README.md").read_bytes() == b"a GGUF\n"
    check(mnt, MANIFEST["model.gguf"]["tensors"])


def test_split(nginx, gguf_models, mount):
    mnt = mount("hf://org/gguf-split", "-o", "layout=flat", env=hf_env(nginx))
    tensors = {}
    for name, f in MANIFEST.items():
        if name.startswith("split/"):
            tensors.update(f["tensors"])
    check(mnt, tensors)
    assert os.getxattr(mnt, "user.gguf.split.count") == b"3"


def test_several_quantizations(nginx, gguf_models, mount):
    mnt = mount("hf://org/gguf-quants", "-o", "layout=flat", env=hf_env(nginx))
    assert sorted(os.listdir(mnt)) == ["Q_mixed", "vocab"]
    check(mnt / "Q_mixed", MANIFEST["model.gguf"]["tensors"])
    omitted = json.loads(os.getxattr(mnt / "vocab", "user.gguf.omitted"))
    assert omitted["tokenizer.ggml.tokens"]["count"] == 32000
