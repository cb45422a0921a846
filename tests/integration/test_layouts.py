"""SOURCE forms (sharded directory, merged directory, index file, Hugging Face
cache) and layouts (modules, tree, flat), each against the oracle."""

import errno
import hashlib
import json
import os
import shutil

import pytest

import checks
import expect
from safetensors_writer import random_tensors, write_safetensors

SHARD1 = "model-00001-of-00002.safetensors"
SHARD2 = "model-00002-of-00002.safetensors"
PARAMS = b'{"dim": 64, "n_layers": 2}\n'


@pytest.fixture
def llama_with_extras(tmp_path, llama_dir):
    """The sample Llama model plus files that must appear unchanged at the
    root: a README, original/params.json and a .safetensors the index does
    not name."""
    model_dir = tmp_path / "llama"
    shutil.copytree(llama_dir, model_dir)
    (model_dir / "README.md").write_text("# tiny llama\n")
    (model_dir / "original").mkdir()
    (model_dir / "original" / "params.json").write_bytes(PARAMS)
    write_safetensors(model_dir / "consolidated.safetensors",
                      random_tensors({"not.shown": ("U8", (3,))}))
    return model_dir


def make_hf_cache(root, snapshots, main):
    """A Hugging Face cache repo: snapshots maps revision -> model directory
    whose files become snapshots/REV/<relpath> -> ../../blobs/<sha256>."""
    repo = root / "models--org--tiny"
    (repo / "blobs").mkdir(parents=True)
    for revision, model_dir in snapshots.items():
        for source in sorted(p for p in model_dir.rglob("*") if p.is_file()):
            data = source.read_bytes()
            blob = repo / "blobs" / hashlib.sha256(data).hexdigest()
            blob.write_bytes(data)
            link = repo / "snapshots" / revision / source.relative_to(model_dir)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(os.path.relpath(blob, link.parent))
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text(main)
    return repo


@pytest.fixture
def hf_repo(tmp_path, llama_with_extras):
    """A cache repo whose refs/main names the Llama snapshot; an older
    snapshot holds a different model."""
    old = tmp_path / "old"
    old.mkdir()
    write_safetensors(old / "model.safetensors",
                      random_tensors({"old.weight": ("F32", (2,))}))
    return make_hf_cache(tmp_path / "hub", {"0123abc": old, "4567def": llama_with_extras},
                         main="4567def")


@pytest.mark.parametrize("layout", expect.LAYOUTS)
def test_sharded_directory(mount, llama_with_extras, layout):
    mnt = mount(llama_with_extras, "-o", f"layout={layout}")
    checks.assert_mount_matches(mnt, expect.load_model(llama_with_extras), layout)


@pytest.mark.parametrize("opts", [[], ["-o", "layout=modules"]], ids=["default", "explicit"])
def test_modules_layout_paths_from_readme(mount, llama_dir, opts):
    mnt = mount(llama_dir, *opts)
    assert sorted(os.listdir(mnt / "model.layers.0.self_attn")) == \
        ["k_proj.weight", "o_proj.weight", "q_proj.weight", "v_proj.weight"]
    assert (mnt / "model" / "embed_tokens.weight").is_file()
    assert (mnt / "lm_head.weight").is_file()
    assert sorted(p.name for p in mnt.glob("model.layers.*.mlp")) == \
        ["model.layers.0.mlp", "model.layers.1.mlp"]


def test_tree_layout_paths_from_readme(mount, llama_dir):
    mnt = mount(llama_dir, "-o", "layout=tree")
    assert sorted(os.listdir(mnt)) == ["config.json", "generation_config.json",
                                       "lm_head", "model"]
    assert sorted(os.listdir(mnt / "model" / "layers")) == ["0", "1"]
    assert (mnt / "model" / "layers" / "0" / "self_attn" / "q_proj" / "weight").is_file()


def test_flat_layout_paths_from_readme(mount, llama_dir):
    mnt = mount(llama_dir, "-o", "layout=flat")
    names = set(os.listdir(mnt))
    assert "model.layers.0.self_attn.q_proj.weight" in names
    assert all((mnt / n).is_file() for n in names)
    assert len(names) == 21 + 2  # 21 tensors, config.json, generation_config.json


def test_other_files_appear_and_shards_do_not(mount, llama_with_extras):
    mnt = mount(llama_with_extras)
    names = set(os.listdir(mnt))
    assert not {SHARD1, SHARD2, expect.INDEX_NAME} & names
    for rel in ("config.json", "generation_config.json", "README.md",
                "original/params.json", "consolidated.safetensors"):
        assert checks.read_file(mnt / rel) == (llama_with_extras / rel).read_bytes(), rel
    with pytest.raises(OSError) as err:
        os.open(mnt / "config.json", os.O_WRONLY)
    assert err.value.errno == errno.EROFS


def test_index_file_given_directly(tmp_path, mount, llama_dir):
    model_dir = tmp_path / "fp16"
    model_dir.mkdir()
    for shard in (SHARD1, SHARD2):
        shutil.copy(llama_dir / shard, model_dir / shard)
    index = model_dir / "model.fp16.safetensors.index.json"
    shutil.copy(llama_dir / expect.INDEX_NAME, index)
    checks.assert_mount_matches(mount(index), expect.load_model(index))


def test_single_shard_file_given_directly(mount, llama_dir):
    source = llama_dir / SHARD2
    checks.assert_mount_matches(mount(source), expect.load_model(source))


def test_directory_of_parts_without_index_is_merged(tmp_path, mount):
    model_dir = tmp_path / "merged"
    model_dir.mkdir()
    parts = {"m-00001-of-00003.safetensors": {"enc.layers.0.w": ("F16", (4, 4)), "enc.norm": ("F32", (4,))},
             "m-00002-of-00003.safetensors": {"dec.layers.0.w": ("F16", (4, 4)), "dec.norm": ("F32", (4,))},
             "m-00003-of-00003.safetensors": {"head.w": ("BF16", (8, 4))}}
    for seed, (name, spec) in enumerate(parts.items()):
        write_safetensors(model_dir / name, random_tensors(spec, seed),
                          {"part": name} if seed == 0 else {"other": name})
    (model_dir / "notes.txt").write_text("not a model\n")
    model = expect.load_model(model_dir)
    assert len(model.tensors) == 5 and "notes.txt" in model.other_files
    checks.assert_mount_matches(mount(model_dir), model)


@pytest.mark.parametrize("layout", ["modules", "tree"])
def test_hf_snapshot_directory(mount, hf_repo, layout):
    snapshot = hf_repo / "snapshots" / "4567def"
    mnt = mount(snapshot, "-o", f"layout={layout}")
    checks.assert_mount_matches(mnt, expect.load_model(snapshot), layout)


def test_hf_repo_directory_follows_refs_main(mount, hf_repo):
    mnt = mount(hf_repo)
    model = expect.load_model(hf_repo)
    assert "old.weight" not in model.tensors and len(model.tensors) == 21
    checks.assert_mount_matches(mnt, model)
    assert os.getxattr(mnt / "lm_head.weight", "user.shard") == SHARD2.encode()


def test_tensor_missing_from_index_is_shown(tmp_path, mount, llama_dir):
    model_dir = tmp_path / "partial"
    shutil.copytree(llama_dir, model_dir)
    index = json.loads((model_dir / expect.INDEX_NAME).read_text())
    del index["weight_map"]["model.norm.weight"]
    (model_dir / expect.INDEX_NAME).write_text(json.dumps(index))
    mnt = mount(model_dir)
    model = expect.load_model(model_dir)
    assert "model.norm.weight" in model.tensors
    checks.assert_mount_matches(mnt, model)


def test_file_whose_name_a_tensor_takes_is_hidden(tmp_path, mount, llama_dir):
    model_dir = tmp_path / "clash"
    shutil.copytree(llama_dir, model_dir)
    (model_dir / "lm_head.weight").write_text("a file, not the tensor\n")
    (model_dir / "model").write_text("a file, not the directory\n")
    mnt = mount(model_dir)
    model = expect.load_model(model_dir)
    assert checks.read_file(mnt / "lm_head.weight") == model.tensors["lm_head.weight"].data
    assert (mnt / "model").is_dir()
    checks.assert_mount_matches(mnt, model)


def test_mtimes_follow_the_shards(tmp_path, mount, llama_dir):
    model_dir = tmp_path / "mtimes"
    shutil.copytree(llama_dir, model_dir)
    os.utime(model_dir / SHARD1, (1_600_000_000, 1_600_000_000))
    os.utime(model_dir / SHARD2, (1_700_000_000, 1_700_000_000))
    mnt = mount(model_dir)
    assert os.stat(mnt / "model" / "embed_tokens.weight").st_mtime == 1_600_000_000
    assert os.stat(mnt / "lm_head.weight").st_mtime == 1_700_000_000
    assert os.stat(mnt).st_mtime == 1_700_000_000
