"""PyTorch checkpoints over hf:// and https:// (nginx on loopback): a
repository with only .bin shards and their index, one checkpoint named by its
URL, and a repository whose .bin files are the model next to other files.
The zip's end records, central directory and data.pkl come by range; the
tensors' bytes must equal torch's manifest (tests/data/pytorch-samples)."""

import hashlib
import json
import os
from pathlib import Path

import pytest

import hub
from conftest import clean_env
from testdata import PYTORCH_SAMPLES

MANIFEST = json.loads((PYTORCH_SAMPLES / "manifest.json").read_text())["files"]
SHARDS = ["pytorch_model-00001-of-00003.bin", "pytorch_model-00002-of-00003.bin",
          "pytorch_model-00003-of-00003.bin"]


def hf_env(nginx):
    return clean_env(HF_ENDPOINT=nginx.url)


@pytest.fixture(scope="module")
def pytorch_models(models):
    root, _ = models
    files = {name: (PYTORCH_SAMPLES / name).read_bytes() for name in SHARDS + ["pytorch_model.bin.index.json"]}
    return {
        "sharded": hub.Model(root, "org/pt-sharded", {**files, "config.json": b"{}\n"}, sizes=True),
        "single": hub.Model(root, "org/pt-single", {
            "checkpoint.pt": (PYTORCH_SAMPLES / "checkpoint.pt").read_bytes(),
            "tokenizer.bin": b"not a checkpoint\n"}, sizes=False),
    }


def check(mnt, manifest_files):
    n = 0
    for f in manifest_files:
        for name, t in MANIFEST[f]["tensors"].items():
            p = Path(mnt) / name
            assert hashlib.sha256(p.read_bytes()).hexdigest() == t["sha256"], name
            assert os.getxattr(p, "user.dtype").decode() == t["dtype"]
            assert json.loads(os.getxattr(p, "user.shape")) == t["shape"]
            n += 1
    return n


def test_sharded_bin_repository(nginx, pytorch_models, mount):
    mark = nginx.mark()
    mnt = mount("hf://org/pt-sharded", "-o", "layout=flat", "-o", "chunk_size=65536", env=hf_env(nginx))
    fetched = [e for e in nginx.since(mark) if e["uri"].endswith(".bin")]
    # Lazily: only ranges of the shards at mount time, never a whole file.
    assert fetched and all(e["status"] == 206 for e in fetched), fetched
    assert os.getxattr(mnt, "user.format") == b"pytorch"
    assert sorted(os.listdir(mnt))[0] == "config.json"
    assert check(mnt, SHARDS) == len(MANIFEST["pytorch_model.bin"]["tensors"])
    assert os.getxattr(mnt / "model.norm.weight", "user.shard") == b"pytorch_model-00003-of-00003.bin"


def test_one_checkpoint_by_url(nginx, pytorch_models, mount):
    url = nginx.url + pytorch_models["sharded"].url_path() + "pytorch_model-00002-of-00003.bin"
    mnt = mount(url, "-o", "layout=flat")
    check(mnt, ["pytorch_model-00002-of-00003.bin"])


def test_index_by_url(nginx, pytorch_models, mount):
    url = nginx.url + pytorch_models["sharded"].url_path() + "pytorch_model.bin.index.json"
    mnt = mount(url, "-o", "layout=flat")
    check(mnt, SHARDS)


def test_checkpoint_dict_repository(nginx, pytorch_models, mount):
    """Sizes not in the listing: learnt from the first range answer. A .bin
    that is not a checkpoint stays an ordinary file."""
    mnt = mount("hf://org/pt-single", env=hf_env(nginx))
    assert (mnt / "tokenizer.bin").read_bytes() == b"not a checkpoint\n"
    assert os.getxattr(mnt, "user.metadata.epoch") == str(MANIFEST["checkpoint.pt"]["non_tensor_leaves"]["epoch"]).encode()
    out = mount("hf://org/pt-single", "-o", "layout=flat", env=hf_env(nginx))
    check(out, ["checkpoint.pt"])
