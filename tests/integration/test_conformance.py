"""Conformance and everyday use (issue 13): what real model directories and
real users hit. Attributes the kernel cannot return, tensor entries with
keys the reference implementation ignores, shard paths spelt two ways,
Hugging Face cache repositories without a usable refs/main, and the checks
made before mounting (mountpoint, /dev/fuse, readahead, uid/gid/umask)."""

import json
import os
import posixpath
import re
import stat
import subprocess
from pathlib import Path

import pytest

import checks
import expect
from fuse_mounts import mounted, unmount
from safetensors_writer import encode_header, random_tensors, write_raw, write_safetensors
from weightfs_binaries import inspect_binary

EXIT_USAGE, EXIT_SOURCE, EXIT_MOUNT = 2, 3, 5
XATTR_NAME_MAX, XATTR_LIST_MAX = 255, 65536
OWN_ROOT_ATTRS = ["user.tensors", "user.nbytes", "user.format"]


def warnings(stderr):
    return [line for line in stderr.splitlines() if line.startswith("weightfs: warning: ")]


def inspect(*args):
    return subprocess.run([str(inspect_binary()), *map(str, args)], capture_output=True,
                          text=True, timeout=60, stdin=subprocess.DEVNULL)


def model_with_metadata(tmp_path, metadata):
    path = tmp_path / "meta.safetensors"
    write_safetensors(path, random_tensors({"a.weight": ("F32", (2,))}), metadata)
    return path


def expected_root_names(metadata_keys):
    """The names listxattr should give: ours, then each metadata key in file
    order whose name the kernel can take and that still fits the list."""
    names, used = [], 0
    for name in OWN_ROOT_ATTRS + [f"user.metadata.{k}" for k in metadata_keys]:
        raw = name.encode()
        if b"\0" in raw or len(raw) > XATTR_NAME_MAX or used + len(raw) + 1 > XATTR_LIST_MAX:
            continue
        names.append(name)
        used += len(raw) + 1
    return names


def assert_listed_names_read(mnt, names):
    for name in names:
        os.getxattr(mnt, name)  # every listed name can be read


# --- attributes -----------------------------------------------------------------

def test_metadata_key_too_long_for_an_xattr_name_is_not_listed(run_weightfs, new_mountpoint, tmp_path):
    long_key, longest_key = "k" * 242, "j" * 241  # user.metadata. + key: 256 and 255 bytes
    metadata = {long_key: "long", longest_key: "fits", "format": "pt"}
    source = model_with_metadata(tmp_path, metadata)
    mnt = new_mountpoint()
    result = run_weightfs(source, mnt)
    assert result.returncode == 0, result.stderr
    names = os.listxattr(mnt)
    assert names == expected_root_names(metadata)
    assert f"user.metadata.{longest_key}" in names and f"user.metadata.{long_key}" not in names
    assert_listed_names_read(mnt, names)
    assert os.getxattr(mnt, f"user.metadata.{longest_key}") == b"fits"
    assert any(long_key[:100] in line and "256 bytes" in line and "255" in line
               for line in warnings(result.stderr)), result.stderr
    summary = inspect("summary", "--json", source)
    assert summary.returncode == 0, summary.stderr
    assert long_key in json.loads(summary.stdout)["metadata"]


def test_index_metadata_key_too_long_for_an_xattr_name_is_not_listed(run_weightfs, new_mountpoint, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    write_safetensors(model / "a.safetensors", random_tensors({"w": ("U8", (2,))}))
    long_key, longest_key = "i" * 245, "h" * 244  # user.index. + key: 256 and 255 bytes
    index = {"metadata": {long_key: 1, longest_key: "x"}, "weight_map": {"w": "a.safetensors"}}
    (model / expect.INDEX_NAME).write_text(json.dumps(index))
    mnt = new_mountpoint()
    result = run_weightfs(model, mnt)
    assert result.returncode == 0, result.stderr
    names = os.listxattr(mnt)
    assert names == OWN_ROOT_ATTRS + [f"user.index.{longest_key}"]
    assert_listed_names_read(mnt, names)
    assert any(long_key[:100] in line and "256 bytes" in line for line in warnings(result.stderr)), \
        result.stderr


def test_root_name_list_stays_within_the_kernel_limit(run_weightfs, new_mountpoint, tmp_path):
    keys = [f"quant.layer{i:05d}.scale" for i in range(1800)]
    source = model_with_metadata(tmp_path, {k: "0.5" for k in keys})
    mnt = new_mountpoint()
    result = run_weightfs(source, mnt)
    assert result.returncode == 0, result.stderr
    names = os.listxattr(mnt)  # E2BIG before
    assert names[:3] == OWN_ROOT_ATTRS
    assert names == expected_root_names(keys)
    assert len(names) - 3 < len(keys)
    assert_listed_names_read(mnt, names)
    assert os.getxattr(mnt, "user.format") == b"safetensors"
    with pytest.raises(OSError):
        os.getxattr(mnt, f"user.metadata.{keys[-1]}")
    assert any("listxattr limit of 65536 bytes" in line for line in warnings(result.stderr)), result.stderr
    assert any("more attributes not offered" in line for line in warnings(result.stderr))


def test_nul_byte_in_a_metadata_key_mounts_without_that_key(run_weightfs, new_mountpoint, tmp_path):
    tensors = random_tensors({"a.weight": ("U8", (3,))})
    header = encode_header({"__metadata__": {"bad\u0000key": "v", "format": "pt"},
                            "a.weight": {"dtype": "U8", "shape": [3], "data_offsets": [0, 3]}},
                           ensure_ascii=True)
    assert b"\\u0000" in header
    source = write_raw(tmp_path / "nul.safetensors", header, tensors["a.weight"][2])
    mnt = new_mountpoint()
    result = run_weightfs(source, mnt)
    assert result.returncode == 0, result.stderr
    names = os.listxattr(mnt)
    assert names == OWN_ROOT_ATTRS + ["user.metadata.format"]
    assert_listed_names_read(mnt, names)
    assert (mnt / "a.weight").read_bytes() == tensors["a.weight"][2]
    assert any('"bad\\x00key"' in line and "NUL" in line for line in warnings(result.stderr)), result.stderr


# --- parsing --------------------------------------------------------------------

def test_unknown_tensor_keys_are_ignored_with_one_warning(run_weightfs, new_mountpoint, tmp_path):
    tensors = random_tensors({"a.weight": ("F32", (2,)), "b.weight": ("U8", (3,))})
    header = {
        "a.weight": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8], "quant_scale": [1, 2]},
        "b.weight": {"layout": "nc", "dtype": "U8", "shape": [3], "data_offsets": [8, 11]},
    }
    source = write_raw(tmp_path / "extra.safetensors", encode_header(header),
                       tensors["a.weight"][2] + tensors["b.weight"][2])
    mnt = new_mountpoint()
    result = run_weightfs(source, mnt)
    assert result.returncode == 0, result.stderr
    checks.assert_mount_matches(mnt, expect.load_model(source))
    lines = warnings(result.stderr)
    assert len(lines) == 1, result.stderr
    assert 'unknown key "quant_scale" ignored (2 such keys' in lines[0]
    assert "extra.safetensors" in lines[0]
    # verify accepts it with the warning; --strict reports it as a problem
    plain = inspect("verify", source)
    assert plain.returncode == 0 and "unknown key" in plain.stderr, plain.stderr
    strict = inspect("verify", "--strict", source)
    assert strict.returncode == 4 and 'unknown key "quant_scale"' in strict.stderr, strict.stderr


def test_empty_weight_map_warns(run_weightfs, new_mountpoint, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / expect.INDEX_NAME).write_text('{"metadata": {}, "weight_map": {}}')
    mnt = new_mountpoint()
    result = run_weightfs(model, mnt)
    assert result.returncode == 0, result.stderr
    assert any("weight_map is empty" in line for line in warnings(result.stderr)), result.stderr
    assert os.getxattr(mnt, "user.tensors") == b"0"


# --- shard paths ------------------------------------------------------------------

@pytest.fixture
def unnormalised_model(tmp_path):
    """An index naming x.safetensors as "./x.safetensors" and "x.safetensors",
    and s/y.safetensors as "s//y.safetensors" and "./s/./y.safetensors"."""
    model = tmp_path / "model"
    (model / "s").mkdir(parents=True)
    x = random_tensors({"x.a": ("U8", (2,)), "x.b": ("F32", (1,))}, seed=1)
    y = random_tensors({"y.a": ("U8", (5,)), "y.b": ("I16", (2,))}, seed=2)
    write_safetensors(model / "x.safetensors", x)
    write_safetensors(model / "s" / "y.safetensors", y)
    weight_map = {"x.a": "./x.safetensors", "x.b": "x.safetensors",
                  "y.a": "s//y.safetensors", "y.b": "./s/./y.safetensors"}
    (model / expect.INDEX_NAME).write_text(json.dumps({"weight_map": weight_map}))
    return model, weight_map


def test_shard_paths_are_normalised(mount, unnormalised_model):
    model, weight_map = unnormalised_model
    mnt = mount(model)
    # neither shard shows as an ordinary file, each tensor once
    assert sorted(os.listdir(mnt)) == sorted([*weight_map, "s"])
    assert os.listdir(mnt / "s") == []
    for name, shard in weight_map.items():
        assert os.getxattr(mnt / name, "user.shard").decode() == posixpath.normpath(shard)
    verify = inspect("verify", "--strict", model)
    assert verify.returncode == 0, verify.stderr


def test_only_dot_slash_shard_path(mount, tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    tensors = random_tensors({"w": ("U8", (4,))})
    write_safetensors(model / "x.safetensors", tensors)
    (model / expect.INDEX_NAME).write_text(json.dumps({"weight_map": {"w": "./x.safetensors"}}))
    mnt = mount(model)
    assert os.listdir(mnt) == ["w"]
    assert os.getxattr(mnt / "w", "user.shard") == b"x.safetensors"
    assert (mnt / "w").read_bytes() == tensors["w"][2]
    verify = inspect("verify", "--strict", model)
    assert verify.returncode == 0 and "not named by the index" not in verify.stderr, verify.stderr


# --- Hugging Face cache repositories ------------------------------------------------

def hf_repo_without_main(tmp_path):
    repo = tmp_path / "models--org--name"
    for sub in ("blobs", "snapshots/1111aaaa", "snapshots/2222bbbb"):
        (repo / sub).mkdir(parents=True)
    write_safetensors(repo / "snapshots" / "2222bbbb" / "model.safetensors",
                      random_tensors({"w": ("U8", (1,))}))
    return repo


def test_hf_repo_without_refs_main(run_weightfs, new_mountpoint, tmp_path):
    repo = hf_repo_without_main(tmp_path)
    result = run_weightfs(repo, new_mountpoint())
    assert result.returncode == EXIT_SOURCE, result.stderr
    assert "without refs/main" in result.stderr
    assert '"1111aaaa", "2222bbbb"' in result.stderr
    assert "no *.safetensors" not in result.stderr


def test_hf_repo_refs_main_names_a_missing_snapshot(run_weightfs, new_mountpoint, tmp_path):
    repo = hf_repo_without_main(tmp_path)
    (repo / "refs").mkdir()
    (repo / "refs" / "main").write_text("3333cccc\n")
    result = run_weightfs(repo, new_mountpoint())
    assert result.returncode == EXIT_SOURCE, result.stderr
    assert 'refs/main names snapshot "3333cccc", which is not in snapshots/' in result.stderr
    assert '"1111aaaa", "2222bbbb"' in result.stderr
    inspected = inspect("summary", repo)
    assert inspected.returncode == EXIT_SOURCE and "3333cccc" in inspected.stderr


# --- mounting ----------------------------------------------------------------------

@pytest.fixture
def small_model(tmp_path):
    return write_safetensors(tmp_path / "small.safetensors",
                             random_tensors({"a.b.c": ("U8", (4,)), "d": ("F32", (1,))}))


def mounts_at(path):
    target = os.fsencode(os.path.realpath(path))
    with open("/proc/self/mountinfo", "rb") as f:
        return sum(1 for line in f if line.split()[4] == target)


def test_refuses_a_mountpoint_with_a_fuse_mount(mount, run_weightfs, small_model):
    mnt = mount(small_model)
    result = run_weightfs(small_model, mnt)
    assert result.returncode == EXIT_MOUNT, result.stderr
    assert "already has a FUSE mount" in result.stderr and "fusermount3 -u" in result.stderr
    assert mounts_at(mnt) == 1


def test_refuses_a_dead_fuse_mount_with_advice(mount_process, run_weightfs, small_model):
    m = mount_process(small_model, foreground=True)
    m.proc.kill()
    m.proc.wait()
    result = run_weightfs(small_model, m.mountpoint)
    assert result.returncode == EXIT_MOUNT, result.stderr
    # stat may still be answered from the kernel's cache, or fail with ENOTCONN
    assert "already has a FUSE mount" in result.stderr or \
        "Transport endpoint is not connected" in result.stderr, result.stderr
    assert f"fusermount3 -u {m.mountpoint}" in result.stderr
    assert mounts_at(m.mountpoint) == 1


def test_refuses_a_non_empty_mountpoint_unless_nonempty(run_weightfs, new_mountpoint, small_model):
    mnt = new_mountpoint()
    (mnt / "kept.txt").write_text("mine\n")
    result = run_weightfs(small_model, mnt)
    assert result.returncode == EXIT_MOUNT, result.stderr
    assert "is not empty" in result.stderr and "-o nonempty" in result.stderr
    assert not mounted(mnt)
    result = run_weightfs("-o", "nonempty", small_model, mnt)
    assert result.returncode == 0, result.stderr
    try:
        assert sorted(os.listdir(mnt)) == ["a", "d"]
    finally:
        unmount(mnt)
    assert (mnt / "kept.txt").read_text() == "mine\n"


def test_missing_mountpoint_prints_one_line(run_weightfs, small_model):
    result = run_weightfs(small_model, "/nonexistent/weightfs-mnt")
    assert result.returncode == EXIT_MOUNT
    assert result.stderr.splitlines() == \
        ["weightfs: mountpoint /nonexistent/weightfs-mnt: No such file or directory"]


def in_mount_namespace(script, *args, timeout=60):
    """Runs a shell script as root in a private mount namespace (whatever it
    mounts there disappears with it)."""
    return subprocess.run(["unshare", "--mount", "--propagation", "private", "sh", "-c", script,
                           "sh", *map(str, args)], capture_output=True, text=True, timeout=timeout,
                          stdin=subprocess.DEVNULL)


def test_missing_dev_fuse_says_what_to_install(weightfs_bin, new_mountpoint, small_model):
    r = in_mount_namespace('mount -t tmpfs none /dev && "$1" "$2" "$3"; echo "exit=$?"',
                           weightfs_bin, small_model, new_mountpoint())
    assert "exit=5" in r.stdout, r.stdout + r.stderr
    assert "weightfs: /dev/fuse: No such file or directory" in r.stderr
    assert "fuse3" in r.stderr and "modprobe fuse" in r.stderr


def test_unopenable_dev_fuse_says_what_to_check(weightfs_bin, new_mountpoint, small_model, tmp_path):
    blocker = tmp_path / "no-fuse"
    blocker.write_bytes(b"")
    blocker.chmod(0)
    # Root without the capabilities that bypass file modes, as a locked-down container runs.
    r = in_mount_namespace('mount --bind "$4" /dev/fuse && setpriv --bounding-set '
                           '-dac_override,-dac_read_search "$1" "$2" "$3"; echo "exit=$?"',
                           weightfs_bin, small_model, new_mountpoint(), blocker)
    assert "exit=5" in r.stdout, r.stdout + r.stderr
    assert "/dev/fuse cannot be opened: Permission denied" in r.stderr, r.stderr
    assert "crw-rw-rw-" in r.stderr


READAHEAD_SCRIPT = """
mount -o remount,bind,ro /sys || exit 9
bin=$1 mnt=$2; shift 2
"$bin" -f "$@" "$mnt" &
pid=$!
i=0
while ! mountpoint -q "$mnt" && [ $i -lt 200 ]; do sleep 0.05; i=$((i+1)); done
mountpoint -q "$mnt" && echo mounted
sleep 0.5
fusermount3 -u "$mnt"
wait $pid
echo "exit=$?"
"""


@pytest.mark.parametrize("given", [False, True], ids=["default", "readahead_kb=2048"])
def test_readahead_warning_only_when_asked(weightfs_bin, new_mountpoint, small_model, given):
    # A read-only /sys (in a namespace of our own) refuses the readahead, as it does for a user.
    opts = ["-o", "readahead_kb=2048"] if given else []
    r = in_mount_namespace(READAHEAD_SCRIPT, weightfs_bin, new_mountpoint(), *opts, small_model)
    assert "mounted" in r.stdout and "exit=0" in r.stdout, r.stdout + r.stderr
    said = [line for line in r.stderr.splitlines() if "readahead_kb" in line]
    if given:
        assert said and "readahead_kb=2048 not applied" in said[0], r.stderr
    else:
        assert said == [], r.stderr


def test_uid_gid_umask(mount, small_model):
    mnt = mount(small_model, "-o", "uid=1234,gid=4321,umask=027")
    for path, mode in ((mnt, 0o550), (mnt / "a", 0o550), (mnt / "a" / "b.c", 0o440), (mnt / "d", 0o440)):
        st = os.stat(path)
        assert (st.st_uid, st.st_gid, stat.S_IMODE(st.st_mode)) == (1234, 4321, mode), path
    assert (mnt / "d").read_bytes() == Path(small_model).read_bytes()[-4:]


@pytest.mark.parametrize("opt", ["umask=1000", "umask=9", "uid=abc", "gid=-", "uid=-1"])
def test_uid_gid_umask_bad_values(run_weightfs, new_mountpoint, small_model, opt):
    mnt = new_mountpoint()
    result = run_weightfs("-o", opt, small_model, mnt)
    assert result.returncode == EXIT_USAGE, result.stderr
    assert not mounted(mnt)


# --- weightfs-inspect ----------------------------------------------------------------

# Names that need escaping in text output, and one that merely looks escaped.
AWKWARD = {
    "a\nb": ("U8", (1,)),
    "a\\x0ab": ("U8", (2,)),
    "back\\slash": ("U8", (3,)),
    "cr\rhere": ("U8", (4,)),
    "tab\there": ("U8", (5,)),
    "plain.name": ("U8", (6,)),
}


@pytest.fixture
def awkward_model(tmp_path):
    tensors = random_tensors(AWKWARD, seed=5)
    return write_safetensors(tmp_path / "awkward.safetensors", tensors), tensors


def test_text_output_escaping_is_reversible(awkward_model):
    source, _ = awkward_model
    ls = inspect("ls", source)
    assert ls.returncode == 0, ls.stderr
    names = [line.split("  ")[0] for line in ls.stdout.splitlines()[1:]]
    assert len(set(names)) == len(AWKWARD)
    assert "a\\x0ab" in names and "a\\\\x0ab" in names and "back\\\\slash" in names

    def unescape(text):
        return re.sub(r"\\(\\|x[0-9a-f]{2})",
                      lambda m: "\\" if m.group(1) == "\\" else chr(int(m.group(1)[1:], 16)), text)
    assert sorted(unescape(n) for n in names) == sorted(AWKWARD)


def test_hash_lines_are_exactly_sha256sum_output(awkward_model, tmp_path):
    source, tensors = awkward_model
    files = tmp_path / "files"
    files.mkdir()
    for name, (_, _, data) in tensors.items():
        (files / name).write_bytes(data)
    want = subprocess.run(["sha256sum", "--", *sorted(tensors)], cwd=files, capture_output=True,
                          check=True).stdout.decode().splitlines()
    got = inspect("verify", "--hash", source)
    assert got.returncode == 0, got.stderr
    assert sorted(got.stdout.splitlines()) == sorted(want)
    assert any(line.startswith("\\") for line in want)  # the test covers the escaped form
    assert "valid: 6 tensors" in got.stderr and "valid" not in got.stdout
    check = subprocess.run(["sha256sum", "-c", "--strict", "-"], cwd=files, input=got.stdout.encode(),
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr


@pytest.fixture
def nested_model(tmp_path):
    """Names that become directories, clash with directories (%file), need
    encoding (%, /) or escaping in a checksum file (backslash)."""
    spec = {"model.layers.0.mlp.up_proj.weight": ("F32", (2, 3)),
            "model.layers.0.mlp.down_proj.weight": ("BF16", (3,)),
            "model.layers.10.attn.q": ("U8", (5,)),
            "model.norm.weight": ("F16", (4,)),
            "a.b": ("U8", (1,)), "a.b.c.d": ("U8", (2,)),
            "odd/name.100%.w": ("U8", (3,)), "back\\slash.x.y": ("I16", (2,)),
            "lm_head.weight": ("U8", (7,))}
    return write_safetensors(tmp_path / "nested.safetensors", random_tensors(spec, seed=3))


@pytest.mark.parametrize("layout", expect.LAYOUTS)
def test_sha256sum_check_inside_a_mount_of_each_layout(mount, nested_model, tmp_path, layout):
    mnt = mount(nested_model, "-o", f"layout={layout}")
    opt = "--paths" if layout == "modules" else f"--paths={layout}"
    sums = inspect("verify", "--hash", opt, nested_model)
    assert sums.returncode == 0, sums.stderr
    assert len(sums.stdout.splitlines()) == 9
    check = subprocess.run(["sha256sum", "-c", "--strict", "-"], cwd=mnt, input=sums.stdout.encode(),
                           capture_output=True)
    assert check.returncode == 0, (check.stdout + check.stderr).decode(errors="replace")
    assert check.stdout.decode().count(": OK\n") == 9
    # and the oracle's paths, not only sha256sum's opinion
    ns = expect.Namespace(expect.load_model(nested_model), layout)
    listed = sorted(line.split("  ", 1)[1] for line in sums.stdout.splitlines() if "\\" not in line)
    assert listed == sorted(p for p in ns.files if "\\" not in p)


def test_paths_needs_hash_and_a_layout(nested_model):
    assert inspect("verify", "--paths", nested_model).returncode == EXIT_USAGE
    bad = inspect("verify", "--hash", "--paths=bogus", nested_model)
    assert bad.returncode == EXIT_USAGE and "expected modules, tree or flat" in bad.stderr


def test_inspect_paths_inside_a_mount(mount, nested_model):
    mnt = mount(nested_model, "-o", "layout=tree")
    direct = inspect("stats", nested_model, "model.norm.weight")
    inside = inspect("stats", mnt / "model" / "norm" / "weight")
    assert inside.returncode == 0, inside.stderr
    assert inside.stdout == direct.stdout and "inside a weightfs mount" in inside.stderr
    ls = inspect("ls", mnt / "model" / "layers")
    assert ls.returncode == 0, ls.stderr
    assert [line.split()[0] for line in ls.stdout.splitlines()[1:]] == [
        "model.layers.0.mlp.down_proj.weight", "model.layers.0.mlp.up_proj.weight",
        "model.layers.10.attn.q"]
    hashes = inspect("verify", "--hash", "--paths=tree", mnt / "model")
    assert hashes.returncode == 0, hashes.stderr
    assert len(hashes.stdout.splitlines()) == 4
    check = subprocess.run(["sha256sum", "-c", "--strict", "-"], cwd=mnt, input=hashes.stdout.encode(),
                           capture_output=True)
    assert check.returncode == 0, check.stdout + check.stderr
    root = inspect("ls", mnt)
    assert root.returncode == 0 and root.stdout == inspect("ls", nested_model).stdout
    summary = inspect("summary", mnt / "model")
    assert summary.returncode == EXIT_USAGE and f"summary {nested_model}" in summary.stderr
    both = inspect("ls", mnt / "model", "x*")
    assert both.returncode == EXIT_USAGE and "not both" in both.stderr


def test_inspect_an_ordinary_file_inside_a_mount(mount, tmp_path):
    """A file of the model directory is shown as it is: inspect reads it as itself."""
    model = tmp_path / "model"
    (model / "original").mkdir(parents=True)
    write_safetensors(model / "model.safetensors", random_tensors({"w": ("U8", (1,))}))
    write_safetensors(model / "original" / "consolidated.safetensors",
                      random_tensors({"other.weight": ("U8", (2,))}))
    mnt = mount(model)
    r = inspect("ls", mnt / "original" / "consolidated.safetensors")
    assert r.returncode == 0, r.stderr
    assert [line.split()[0] for line in r.stdout.splitlines()[1:]] == ["other.weight"]
    assert "weightfs mount" not in r.stderr
    r = inspect("ls", mnt / "original")  # a directory of the model directory, read as one
    assert r.returncode == 0, r.stderr
    assert [line.split()[0] for line in r.stdout.splitlines()[1:]] == ["other.weight"]


# --- item 8: which files of a directory make the model ------------------------

def test_model_safetensors_wins_over_consolidated(mount, tmp_path):
    """Mistral's two layouts of one model: transformers loads model.safetensors;
    consolidated.safetensors is then an ordinary file, not a second name set."""
    d = tmp_path / "mistral"
    d.mkdir()
    write_safetensors(d / "model.safetensors", random_tensors({"model.norm.weight": ("F32", (4,))}, 1))
    write_safetensors(d / "consolidated.safetensors", random_tensors({"norm.weight": ("F32", (4,))}, 2))
    mnt = mount(d)
    assert sorted(os.listdir(mnt)) == ["consolidated.safetensors", "model"]
    assert (mnt / "consolidated.safetensors").read_bytes() == (d / "consolidated.safetensors").read_bytes()
    checks.assert_mount_matches(mnt, expect.load_model(d))


def test_parts_without_an_index_are_one_model(mount, tmp_path):
    d = tmp_path / "parts"
    d.mkdir()
    write_safetensors(d / "model-00001-of-00002.safetensors", random_tensors({"a.weight": ("F16", (2, 2))}, 1))
    write_safetensors(d / "model-00002-of-00002.safetensors", random_tensors({"b.weight": ("F16", (3,))}, 2))
    mnt = mount(d)
    assert sorted(os.listdir(mnt)) == ["a.weight", "b.weight"]
    checks.assert_mount_matches(mnt, expect.load_model(d))


def test_a_missing_part_is_named(run_weightfs, new_mountpoint, tmp_path):
    d = tmp_path / "gap"
    d.mkdir()
    for k in (1, 3):
        write_safetensors(d / f"m-0000{k}-of-00003.safetensors", random_tensors({f"t{k}": ("F32", (1,))}, k))
    p = run_weightfs(d, new_mountpoint())
    assert p.returncode == 4
    assert 'part 2 of 3 is missing ("m-00002-of-00003.safetensors")' in p.stderr


def test_unrelated_files_are_subdirectories(mount, tmp_path):
    d = tmp_path / "unrelated"
    d.mkdir()
    write_safetensors(d / "base.safetensors", random_tensors({"w": ("F32", (2,))}, 1), {"k": "base"})
    write_safetensors(d / "tuned.safetensors", random_tensors({"w": ("F32", (2,))}, 2), {"k": "tuned"})
    mnt = mount(d)
    assert sorted(os.listdir(mnt)) == ["base", "tuned"]
    for stem in ("base", "tuned"):
        want = expect.load_model(d / f"{stem}.safetensors")
        assert (mnt / stem / "w").read_bytes() == bytes(want.tensors["w"].data)
        assert os.getxattr(mnt / stem, "user.metadata.k") == stem.encode()
        assert os.getxattr(mnt / stem, "user.format") == b"safetensors"
    assert "user.metadata.k" not in os.listxattr(mnt)


def test_several_indexes_are_named(run_weightfs, new_mountpoint, tmp_path):
    """diffusers keeps variants side by side: weightfs does not guess."""
    d = tmp_path / "variants"
    d.mkdir()
    write_safetensors(d / "m.safetensors", random_tensors({"w": ("F32", (2,))}, 1))
    for idx in ("diffusion_pytorch_model.safetensors.index.json",
                "diffusion_pytorch_model.fp16.safetensors.index.json"):
        (d / idx).write_text(json.dumps({"weight_map": {"w": "m.safetensors"}}))
    mnt = new_mountpoint()
    p = run_weightfs(d, mnt)
    assert p.returncode == 4
    assert ("the directory has 2 indexes (diffusion_pytorch_model.fp16.safetensors.index.json, "
            "diffusion_pytorch_model.safetensors.index.json): give the one to mount as SOURCE") in p.stderr
    # ... and giving one works
    p = run_weightfs(d / "diffusion_pytorch_model.safetensors.index.json", mnt)
    assert p.returncode == 0, p.stderr
    assert os.listdir(mnt) == ["w"]
    unmount(mnt)


def test_an_ordinary_file_named_like_a_subdirectory_is_hidden(run_weightfs, new_mountpoint, tmp_path):
    d = tmp_path / "clash"
    d.mkdir()
    write_safetensors(d / "a.safetensors", random_tensors({"w": ("F32", (2,))}, 1))
    write_safetensors(d / "b.safetensors", random_tensors({"w": ("F32", (2,))}, 2))
    (d / "a").write_text("notes, not the model\n")
    mnt = new_mountpoint()
    p = run_weightfs(d, mnt)
    assert p.returncode == 0, p.stderr
    try:
        assert sorted(os.listdir(mnt)) == ["a", "b"]
        assert (mnt / "a").is_dir() and os.listdir(mnt / "a") == ["w"]
        assert any("a is hidden" in line for line in warnings(p.stderr)), p.stderr
    finally:
        unmount(mnt)
