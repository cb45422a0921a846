"""Generated models laid out as a Hugging Face Hub endpoint on disk:

    ROOT/api/models/ORG/NAME/revision/main      the model API (static JSON)
    ROOT/ORG/NAME/resolve/COMMIT/PATH           the files

nginx serves ROOT; the same directory COMMIT/ is also the "local copy".
"""

import hashlib
import json
import os
import random
from pathlib import Path

from safetensors_dtypes import nbytes
from safetensors_reader import parse_safetensors
from safetensors_writer import encode_safetensors


class Model:
    def __init__(self, root, repo, files, sizes):
        self.repo = repo
        self.files = files                      # path -> bytes
        self.sha = hashlib.sha1(repo.encode() + b"".join(
            p.encode() + b for p, b in sorted(files.items()))).hexdigest()
        self.dir = Path(root) / repo / "resolve" / self.sha
        for path, data in files.items():
            p = self.dir / path
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        api = Path(root) / "api" / "models" / repo / "revision"
        api.mkdir(parents=True, exist_ok=True)
        siblings = []
        for path in sorted(files):
            s = {"rfilename": path}
            if sizes:
                s["size"] = len(files[path])
            siblings.append(s)
        (api / "main").write_text(json.dumps({"id": repo, "sha": self.sha, "siblings": siblings}))

    def url_path(self):
        return f"/{self.repo}/resolve/{self.sha}/"

    def tensors(self):
        """name -> (shard, dtype, shape, absolute offset, bytes) over every shard."""
        out = {}
        for path, data in self.files.items():
            if path.endswith(".safetensors") and "/" not in path:
                for name, t in parse_safetensors(data, path).tensors.items():
                    out[name] = (path, t.dtype, t.shape, t.offset, t.data)
        return out

    def extras(self):
        shards = {p for p in self.files if p.endswith(".safetensors") and "/" not in p}
        return {p: b for p, b in self.files.items()
                if p not in shards and p != "model.safetensors.index.json"}


def _rand(rng, n):
    return rng.randbytes(n)


def sharded_files(seed=1, big=6 << 20):
    """Three shards through an index, odd sizes, several dtypes, a scalar, an
    empty tensor, one multi-chunk tensor; other files incl. a subdirectory."""
    rng = random.Random(seed)
    shards = {
        "model-00001-of-00003.safetensors": [
            ("model.embed_tokens.weight", "BF16", [300, 64], None),
            ("model.norm.weight", "F32", [64], None),
            ("model.scalar", "F32", [], None),
            ("model.empty", "F16", [0, 7], None),
        ] + [(f"model.layers.{i}.self_attn.q_proj.weight", "F16", [33, 17], None) for i in range(12)],
        "model-00002-of-00003.safetensors": [
            ("model.layers.0.mlp.up_proj.weight", "U8", [big], None),
            ("model.layers.0.mlp.down_proj.weight", "I32", [1000, 3], None),
            ("model.layers.0.mlp.gate_proj.weight", "F64", [777], None),
        ],
        "model-00003-of-00003.safetensors": [
            ("lm_head.weight", "BF16", [500, 64], None),
            ("model.layers.1.mlp.up_proj.weight", "I64", [12345], None),
        ],
    }
    files, weight_map, total = {}, {}, 0
    for shard, ts in shards.items():
        full = [(n, d, s, _rand(rng, nbytes(d, s))) for n, d, s, _ in ts]
        files[shard] = encode_safetensors(full, {"format": "pt"})
        for n, d, s, b in full:
            weight_map[n] = shard
            total += len(b)
    files["model.safetensors.index.json"] = json.dumps(
        {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2).encode()
    files["config.json"] = b'{"architectures": ["LlamaForCausalLM"], "hidden_size": 64}\n'
    files["tokenizer.json"] = json.dumps({"vocab": {f"t{i}": i for i in range(12000)}}).encode()
    files["original/params.json"] = b'{"dim": 64}\n'
    files[".gitattributes"] = b"*.safetensors filter=lfs diff=lfs merge=lfs -text\n"
    files["README.md"] = b"# test model\n"
    files["empty.txt"] = b""
    return files


def single_files(seed=2):
    rng = random.Random(seed)
    ts = [("w.a", "F32", [1000, 10], None), ("w.b", "U8", [70000], None), ("bias", "F16", [3], None)]
    full = [(n, d, s, _rand(rng, nbytes(d, s))) for n, d, s, _ in ts]
    return {"model.safetensors": encode_safetensors(full), "config.json": b'{"x": 1}\n'}


def big_header_files(seed=4):
    """A header longer than the first speculative request: its __metadata__
    (which the index does not show) is 300 KB."""
    rng = random.Random(seed)
    ts = [(f"h.{i}.weight", "F32", [5, 3], _rand(rng, 60)) for i in range(20)]
    shard = encode_safetensors(ts, {"note": "x" * 300000})
    return {"model-00001-of-00001.safetensors": shard,
            "model.safetensors.index.json": json.dumps(
                {"weight_map": {t[0]: "model-00001-of-00001.safetensors" for t in ts}}).encode()}


def make_hub(root):
    os.makedirs(root, exist_ok=True)
    models = {
        "org/sharded": Model(root, "org/sharded", sharded_files(), sizes=False),
        "org/single": Model(root, "org/single", single_files(), sizes=True),
        "org/redir": Model(root, "org/redir", sharded_files(seed=3, big=3 << 20), sizes=False),
        "org/bigheader": Model(root, "org/bigheader", big_header_files(), sizes=False),
    }
    return models
