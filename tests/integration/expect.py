"""What a mount should contain, computed from the source files and the README.

load_model() resolves a SOURCE the way the README's SOURCE table says and
reads every shard with the oracle reader (tests/lib/safetensors_reader.py).
Namespace turns the tensor names into the paths of a layout following "The
namespace" section: split at dots, encode each path component, give a file
that clashes with a directory the suffix "%file". Nothing here runs weightfs.
"""

import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from safetensors_reader import read_shards

INDEX_NAME = "model.safetensors.index.json"
LAYOUTS = ("modules", "tree", "flat")
NAME_MAX = 255


@dataclass
class Model:
    tensors: dict                      # name -> safetensors_reader.ShardTensor
    metadata: dict = field(default_factory=dict)   # merged __metadata__
    index_metadata: dict = None        # the index's "metadata" object
    other_files: dict = field(default_factory=dict)  # relpath -> bytes
    other_dirs: set = field(default_factory=set)     # relpaths

    @property
    def nbytes(self):
        return sum(len(t.data) for t in self.tensors.values())


# --- SOURCE resolution and the oracle ---------------------------------------

def hf_snapshot(repo_dir):
    """The snapshot directory refs/main of a Hugging Face cache repo names."""
    revision = (Path(repo_dir) / "refs" / "main").read_text().strip()
    return Path(repo_dir) / "snapshots" / revision


def is_hf_repo(path):
    return (path / "refs" / "main").is_file() and (path / "snapshots").is_dir()


def read_index(index_path):
    index = json.loads(Path(index_path).read_text())
    shards = sorted(set(index["weight_map"].values()))
    return shards, index.get("metadata", {})


def other_entries(model_dir, hidden):
    """Files (relpath -> bytes) and directories below model_dir, symlinks
    followed, except the relpaths in hidden."""
    files, dirs = {}, set()
    for root, dirnames, filenames in os.walk(model_dir, followlinks=True):
        rel = os.path.relpath(root, model_dir)
        prefix = "" if rel == "." else rel + "/"
        dirs.update(prefix + d for d in dirnames)
        for name in filenames:
            if prefix + name not in hidden:
                files[prefix + name] = Path(root, name).read_bytes()
    return files, dirs


SPLIT_PART = re.compile(r"^(.*)-(\d+)-of-(\d+)\.safetensors$")


def directory_files(model_dir):
    """The README's rules for a directory without an index: model.safetensors
    alone, else the one file or the parts NAME-0000N-of-0000M of one model.
    Several unrelated files become subdirectories, which this oracle does not
    model (tests of that case check the paths themselves)."""
    names = sorted(p.name for p in model_dir.glob("*.safetensors") if not p.name.startswith("."))
    if "model.safetensors" in names:
        return ["model.safetensors"]
    stems = {(m.group(1), m.group(3)) for m in map(SPLIT_PART.match, names) if m}
    if len(names) == 1 or (len(stems) == 1 and all(SPLIT_PART.match(n) for n in names)):
        return names
    raise ValueError(f"{model_dir}: several unrelated files (subdirectories) are not modelled here")


def load_model(source):
    """The oracle's view of what weightfs SOURCE should show."""
    source = Path(source)
    if source.is_file():
        if source.suffix == ".json":
            shards, index_metadata = read_index(source)
            tensors, metadata = read_shards(source.parent, shards)
            return Model(tensors, metadata, index_metadata)
        tensors, metadata = read_shards(source.parent, [source.name])
        return Model(tensors, metadata)
    model_dir = hf_snapshot(source) if is_hf_repo(source) else source
    index_metadata = None
    if (model_dir / INDEX_NAME).exists():
        shards, index_metadata = read_index(model_dir / INDEX_NAME)
        hidden = set(shards) | {INDEX_NAME}
    else:
        shards = directory_files(model_dir)
        hidden = set(shards)
    tensors, metadata = read_shards(model_dir, shards)
    files, dirs = other_entries(model_dir, hidden)
    return Model(tensors, metadata, index_metadata, files, dirs)


def shape_text(shape):
    """A shape as weightfs's user.shape shows it: a JSON array without spaces."""
    return "[" + ",".join(str(d) for d in shape) + "]"


# --- the namespace ------------------------------------------------------------

def fnv1a64(data):
    h = 0xCBF29CE484222325
    for byte in data:
        h = ((h ^ byte) * 0x100000001B3) & 0xFFFFFFFFFFFFFFFF
    return h


def encode_component(component):
    """One path component as the README's encoding table writes it."""
    if component == "":
        return "%"
    if component in (".", ".."):
        return "%2E" * len(component)
    encoded = component.replace("%", "%25").replace("/", "%2F")
    raw = encoded.encode()
    if len(raw) <= NAME_MAX:
        return encoded
    cut = 237
    while raw[cut] & 0xC0 == 0x80:  # do not cut inside a UTF-8 sequence
        cut -= 1
    return raw[:cut].decode() + "%~" + format(fnv1a64(component.encode()), "016x")


def split_name(name, layout):
    """The raw path components of a tensor name in a layout."""
    parts = name.split(".")
    if layout == "flat":
        return [name]
    if layout == "tree":
        return parts
    if len(parts) <= 2:
        return [name]
    return [".".join(parts[:-2]), ".".join(parts[-2:])]


class Namespace:
    """The expected tree of a model mounted with a layout.

    files:  relpath -> Tensor
    dirs:   relpath -> list of the tensors beneath ("" is the root)
    other_files / other_dirs: the model directory's other entries that are
    not hidden by a tensor path at the root.
    """

    def __init__(self, model, layout="modules"):
        encoded = {name: [encode_component(c) for c in split_name(name, layout)]
                   for name in model.tensors}
        dir_paths = {"/".join(parts[:i]) for parts in encoded.values()
                     for i in range(1, len(parts))}
        self.path_of = {}
        for name, parts in encoded.items():
            path = "/".join(parts)
            self.path_of[name] = path + "%file" if path in dir_paths else path
        self.files = {self.path_of[n]: t for n, t in model.tensors.items()}
        self.dirs = {"": list(model.tensors.values())}
        for path, tensor in self.files.items():
            parts = path.split("/")
            for i in range(1, len(parts)):
                self.dirs.setdefault("/".join(parts[:i]), []).append(tensor)
        taken = {path.split("/")[0] for path in self.files}
        visible = lambda rel: rel.split("/")[0] not in taken
        self.other_files = {p: d for p, d in model.other_files.items() if visible(p)}
        self.other_dirs = {p for p in model.other_dirs if visible(p)}

    def listing(self):
        """(files, directories) below the root, as relpaths."""
        files = set(self.files) | set(self.other_files)
        dirs = (set(self.dirs) - {""}) | self.other_dirs
        return files, dirs
