"""A single .safetensors file mounted: bytes, sizes, modes, mmap, statfs,
read-only behaviour."""

import errno
import fcntl
import json
import math
import os
import shutil
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

import checks
import expect
from safetensors_writer import layout_tensors, random_tensors, write_raw, write_safetensors

F_SETPIPE_SZ = 1031  # fcntl.F_SETPIPE_SZ, which Python 3.11 does not name on every build

BASIC = {
    "model.embed_tokens.weight": ("BF16", (32, 8)),
    "model.layers.0.self_attn.q_proj.weight": ("F32", (8, 8)),
    "model.layers.0.mlp.down_proj.weight": ("F16", (8, 16)),
    "model.norm.weight": ("F32", (8,)),
    "lm_head.weight": ("BF16", (32, 8)),
    "big.blob": ("U8", (600_001,)),   # several FUSE reads, odd length
    "scalar": ("F64", ()),
    "empty.weight": ("F32", (0, 7)),
}
METADATA = {"format": "pt", "note": "basic model", "empty": ""}
SHARD_MTIME = 1_500_000_000

# (offset, length) windows, relative to the tensor size when negative.
READ_WINDOWS = [(0, 1), (1, 1), (3, 7), (1, 4096), (4095, 2), (4096, 4097),
                (131071, 131075), (-1, 10), (-3, 2), ("size", 5), ("past", 5)]


@pytest.fixture
def basic_file(tmp_path):
    path = write_safetensors(tmp_path / "model.safetensors",
                             random_tensors(BASIC), METADATA)
    os.utime(path, (SHARD_MTIME, SHARD_MTIME))
    return path


@pytest.fixture
def basic_model(basic_file):
    return expect.load_model(basic_file)


@pytest.fixture
def basic_mount(mount, basic_file):
    return mount(basic_file)


def tensor_path(mnt, model, name, layout="modules"):
    return mnt / expect.Namespace(model, layout).path_of[name]


def read_window(size, offset, length):
    """Resolve a READ_WINDOWS entry to an absolute (offset, length)."""
    if offset == "size":
        return size, length
    if offset == "past":
        return size + 100, length
    return (offset if offset >= 0 else max(size + offset, 0)), length


def test_single_file_matches_oracle(basic_mount, basic_model):
    checks.assert_mount_matches(basic_mount, basic_model)


def compact(header):
    return json.dumps(header, separators=(",", ":"), ensure_ascii=False)


# Valid headers the reference writer would not produce: name -> header -> text.
HEADER_VARIANTS = {
    "unpadded": compact,
    "null-metadata": lambda h: compact({"__metadata__": None, **h}),
    "metadata-last": lambda h: compact({**h, "__metadata__": {"k": "v"}}),
    "entries-reversed": lambda h: compact(dict(reversed(h.items()))),
    "keys-reordered": lambda h: compact({n: dict(reversed(e.items())) for n, e in h.items()}),
    "pretty-ascii-escapes-trailing-spaces": lambda h: json.dumps(h, indent=2) + "     ",
}


@pytest.mark.parametrize("variant", HEADER_VARIANTS)
def test_accepted_header_variants(mount, tmp_path, variant):
    spec = {"enc.layers.0.w": ("F32", (2, 3)), "caf\u00e9.w": ("U8", (3,)), "s": ("I16", ())}
    header, body = layout_tensors(random_tensors(spec))
    path = write_raw(tmp_path / "v.safetensors", HEADER_VARIANTS[variant](header), body)
    checks.assert_mount_matches(mount(path), expect.load_model(path))


@pytest.mark.parametrize("opts", [
    [], ["-s"], ["-o", "io=copy"], ["-o", "io=splice"], ["-o", "readahead_kb=0"],
    ["-o", "readahead_kb=64,max_threads=2"], ["-o", "io=splice", "-s"],
    ["-o", "max_read=65536"], ["-o", "io=splice,max_read=65536"], ["-o", "io=copy,max_read=4096"],
], ids=lambda o: " ".join(o) or "default")
def test_pread_at_odd_offsets(mount, basic_file, basic_model, opts):
    mnt = mount(basic_file, *opts)
    for name, tensor in basic_model.tensors.items():
        fd = os.open(tensor_path(mnt, basic_model, name), os.O_RDONLY)
        try:
            for window in READ_WINDOWS:
                offset, length = read_window(len(tensor.data), *window)
                assert os.pread(fd, length, offset) == tensor.data[offset:offset + length], \
                    f"{name}: pread({length}, {offset})"
        finally:
            os.close(fd)


def pipe_holds(nbytes):
    """Whether this process can grow a pipe to nbytes (as the daemon tries)."""
    r, w = os.pipe()
    try:
        return fcntl.fcntl(r, F_SETPIPE_SZ, nbytes) >= nbytes
    except OSError:
        return False
    finally:
        os.close(r)
        os.close(w)


def mount_max_read(mnt):
    """The max_read option of the mount at mnt, None when it has none."""
    with open("/proc/self/mountinfo") as f:
        for line in f:
            fields = line.split()
            if fields[4] == str(mnt):
                opts = fields[fields.index("-") + 3].split(",")
                return next((int(o[9:]) for o in opts if o.startswith("max_read=")), None)
    raise AssertionError(f"{mnt} is not mounted")


SPLICE_OVERHEAD = 3 * 4096 + 16  # a spliced reply: the data, its header, three pages


@pytest.mark.parametrize("opts", [[], ["-o", "io=splice"], ["-o", "io=copy"], ["-o", "max_read=65536"]],
                         ids=lambda o: " ".join(o) or "default")
def test_read_size_follows_io(mount, basic_file, basic_model, opts):
    """Splicing (io=splice) caps reads at 512 KiB where a pipe cannot hold a
    1 MiB read; copying (the default), or a max_read the user gave, is left
    as it is."""
    mnt = mount(basic_file, *opts)
    splicing = "io=splice" in opts
    if "max_read=65536" in " ".join(opts):
        want = 65536
    elif splicing and not pipe_holds((1 << 20) + SPLICE_OVERHEAD) and pipe_holds((1 << 19) + SPLICE_OVERHEAD):
        want = 1 << 19
    else:
        want = None
    assert mount_max_read(mnt) == want
    big = tensor_path(mnt, basic_model, "big.blob")
    assert checks.read_file(big) == basic_model.tensors["big.blob"].data


def test_foreground_mount_serves_the_same_bytes(mount, basic_file, basic_model):
    mnt = mount(basic_file, foreground=True)
    for name, tensor in basic_model.tensors.items():
        assert checks.read_file(tensor_path(mnt, basic_model, name)) == tensor.data


def test_sequential_reads_in_odd_chunks(basic_mount, basic_model):
    tensor = basic_model.tensors["big.blob"]
    chunks = []
    with open(tensor_path(basic_mount, basic_model, "big.blob"), "rb", buffering=0) as f:
        while chunk := f.read(12_289):
            chunks.append(chunk)
    assert b"".join(chunks) == tensor.data


def test_concurrent_reads(basic_mount, basic_model):
    paths = {name: tensor_path(basic_mount, basic_model, name) for name in basic_model.tensors}

    def read(name):
        return name, checks.read_file(paths[name])
    with ThreadPoolExecutor(8) as pool:
        results = list(pool.map(read, list(paths) * 4))
    for name, data in results:
        assert data == basic_model.tensors[name].data, name


def test_copy_with_shutil(basic_mount, basic_model, tmp_path):
    """shutil.copyfile uses sendfile on Linux."""
    copy = tmp_path / "copy"
    shutil.copyfile(tensor_path(basic_mount, basic_model, "big.blob"), copy)
    assert copy.read_bytes() == basic_model.tensors["big.blob"].data


def test_scalar_tensor(basic_mount):
    path = basic_mount / "scalar"
    assert os.stat(path).st_size == 8
    assert os.getxattr(path, "user.shape") == b"[]"


def test_empty_tensor(basic_mount):
    path = basic_mount / "empty.weight"
    assert os.stat(path).st_size == 0
    assert checks.read_file(path) == b""
    assert os.getxattr(path, "user.shape") == b"[0,7]"


def test_tensor_mtime_is_the_shard_mtime(basic_mount):
    assert os.stat(basic_mount / "model" / "norm.weight").st_mtime == SHARD_MTIME
    assert os.stat(basic_mount).st_mtime == SHARD_MTIME


def test_inode_numbers_are_stable(basic_mount):
    path = basic_mount / "model.layers.0.self_attn" / "q_proj.weight"
    first = os.stat(path).st_ino
    os.listdir(basic_mount / "model.layers.0.self_attn")
    assert os.stat(path).st_ino == first
    assert os.stat(basic_mount / "model" / "norm.weight").st_ino != first


def test_missing_names_are_enoent(basic_mount):
    for missing in ("nope", "model/nope.weight", "model.layers.0.self_attn/q_proj",
                    "model.safetensors"):
        with pytest.raises(FileNotFoundError):
            os.stat(basic_mount / missing)


NUMPY_DTYPES = {"BF16": "<u2", "F32": "<f4", "F16": "<f2", "U8": "u1", "F64": "<f8"}


@pytest.mark.parametrize("name", [n for n in BASIC if math.prod(BASIC[n][1])])
def test_numpy_fromfile(basic_mount, basic_model, name):
    tensor = basic_model.tensors[name]
    dtype = NUMPY_DTYPES[tensor.dtype]
    got = np.fromfile(tensor_path(basic_mount, basic_model, name), dtype=dtype)
    assert got.tobytes() == tensor.data
    assert got.size == math.prod(tensor.shape)


@pytest.mark.parametrize("name", ["model.embed_tokens.weight", "big.blob", "scalar"])
def test_numpy_memmap(basic_mount, basic_model, name):
    tensor = basic_model.tensors[name]
    mapped = np.memmap(tensor_path(basic_mount, basic_model, name),
                       dtype=NUMPY_DTYPES[tensor.dtype], mode="r", shape=tensor.shape)
    content, shape = mapped.tobytes(), mapped.shape
    del mapped  # unmap before the teardown unmounts
    assert content == tensor.data
    assert shape == tensor.shape


def test_statfs(basic_mount, basic_model):
    st = os.statvfs(basic_mount)
    assert st.f_files == len(basic_model.tensors)
    assert st.f_frsize > 0
    assert st.f_blocks == -(-basic_model.nbytes // st.f_frsize), \
        "size (f_blocks * f_frsize) must be the model's bytes, rounded up to a block"


NORM = "model/norm.weight"  # model.norm.weight in the modules layout
LAYER_DIR = "model.layers.0.self_attn"
EROFS_OPERATIONS = {
    "open-wronly": lambda m: os.open(m / NORM, os.O_WRONLY),
    "open-rdwr": lambda m: os.open(m / NORM, os.O_RDWR),
    "open-trunc": lambda m: os.open(m / NORM, os.O_WRONLY | os.O_TRUNC),
    "create": lambda m: os.open(m / "new", os.O_WRONLY | os.O_CREAT, 0o644),
    "create-in-dir": lambda m: os.open(m / LAYER_DIR / "new", os.O_WRONLY | os.O_CREAT, 0o644),
    "mkdir": lambda m: os.mkdir(m / "newdir"),
    "rename": lambda m: os.rename(m / NORM, m / "renamed"),
    "unlink": lambda m: os.unlink(m / NORM),
    "rmdir": lambda m: os.rmdir(m / LAYER_DIR),
    "symlink": lambda m: os.symlink("model/norm.weight", m / "link"),
    "link": lambda m: os.link(m / NORM, m / "hardlink"),
    "truncate": lambda m: os.truncate(m / NORM, 0),
    "chmod": lambda m: os.chmod(m / NORM, 0o644),
    "utime": lambda m: os.utime(m / NORM, (0, 0)),
    "setxattr": lambda m: os.setxattr(m / NORM, "user.dtype", b"F32"),
    "setxattr-new": lambda m: os.setxattr(m / NORM, "user.new", b"1"),
    "setxattr-root": lambda m: os.setxattr(m, "user.format", b"x"),
    "removexattr": lambda m: os.removexattr(m / NORM, "user.dtype"),
}


@pytest.mark.parametrize("operation", EROFS_OPERATIONS)
def test_writes_fail_with_erofs(basic_mount, basic_model, operation):
    with pytest.raises(OSError) as err:
        EROFS_OPERATIONS[operation](basic_mount)
    assert err.value.errno == errno.EROFS, f"{operation}: {err.value}"
    assert checks.read_file(basic_mount / NORM) == basic_model.tensors["model.norm.weight"].data
