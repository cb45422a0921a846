"""-o cache=none: tensor files are read with direct I/O.

Every read must still give exactly the shard's bytes (under each io mode,
read size and max_read), other files keep the page cache, and a shared
mmap of a tensor file fails with ENODEV, as the README says, without
hanging or hurting the mount. cache=page (the default) stays mappable.
"""

import ctypes
import errno
import os
import subprocess
import sys

import numpy as np
import pytest

import checks
import expect
from safetensors_writer import random_tensors, write_safetensors

SPEC = {
    "model.embed_tokens.weight": ("BF16", (64, 8)),
    "model.layers.0.mlp.up_proj.weight": ("F32", (8, 16)),
    # larger than 8 MiB, odd length: one 8 MiB read becomes several
    # requests (answered in parallel with async direct I/O), and the last
    # request ends inside a page
    "big.blob": ("U8", ((9 << 20) + 12_345,)),
    "mid.blob": ("U8", (600_001,)),
    "scalar": ("F64", ()),
    "empty.weight": ("F32", (0, 7)),
}
CONFIG = b'{"architectures": ["LlamaForCausalLM"], "hidden_size": 8}\n'

IO_MODES = [
    ["-o", "cache=none"],
    ["-o", "cache=none,io=copy"],
    ["-o", "cache=none,io=auto"],
    ["-o", "cache=none,io=splice"],
    ["-o", "cache=none,io=splice", "-s"],
    ["-o", "cache=none,io=copy,max_read=65536"],
    ["-o", "cache=none,io=splice,max_read=65536"],
    ["-o", "cache=none,io=copy,max_read=4096", "-s"],
]
# Sizes of the reads a reader issues: tiny, page-sized and not, FUSE's
# 128 KiB and 1 MiB, larger than one request, and the whole file at once.
READ_SIZES = [1, 4095, 4096, 12_289, 131_072, 1 << 20, (8 << 20) + 3, "all"]


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory):
    d = tmp_path_factory.mktemp("cache") / "model"
    d.mkdir()
    write_safetensors(d / "model.safetensors", random_tensors(SPEC, seed=15), {"format": "pt"})
    (d / "config.json").write_bytes(CONFIG)
    return d


@pytest.fixture(scope="module")
def oracle(model_dir):
    return expect.load_model(model_dir)


def paths(mnt, oracle):
    ns = expect.Namespace(oracle, "modules")
    return {t.name: mnt / p for p, t in ns.files.items()}


def read_all(path, size):
    """The whole file in reads of size bytes (unbuffered), as a reader would."""
    return read_from(path, size, 0)


def read_from(path, size, start):
    """The file from start to its end in reads of size bytes (unbuffered)."""
    chunks = []
    with open(path, "rb", buffering=0) as f:
        f.seek(start)
        while True:
            chunk = f.read(size)
            if not chunk:
                break
            chunks.append(chunk)
    return b"".join(chunks)


# Every direct read is a request to the daemon: small reads cover the start
# and the end of a file, not a 9 MiB file one byte at a time.
READS_PER_CHECK = 64


def check_reads(path, data, size):
    if size == "all":
        assert checks.read_file(path) == data
        return
    span = READS_PER_CHECK * size
    with open(path, "rb", buffering=0) as f:
        head = b"".join(iter(lambda: f.read(size) if f.tell() < span else b"", b""))
    assert head == data[:span], f"first {span} bytes"
    tail_start = max(0, len(data) - span)
    assert read_from(path, size, tail_start) == data[tail_start:], f"from {tail_start} to the end"


@pytest.mark.parametrize("opts", IO_MODES, ids=lambda o: " ".join(o))
def test_reads_are_byte_exact(mount, model_dir, oracle, opts):
    mnt = mount(model_dir, *opts)
    for name, path in paths(mnt, oracle).items():
        data = oracle.tensors[name].data
        for size in READ_SIZES:
            try:
                check_reads(path, data, size)
            except AssertionError as e:
                raise AssertionError(f"{name}: reads of {size} bytes under {opts}: {e}") from None
    assert (mnt / "config.json").read_bytes() == CONFIG


@pytest.mark.parametrize("opts", [["-o", "cache=none"], ["-o", "cache=none,io=splice"]],
                         ids=lambda o: " ".join(o))
def test_pread_at_odd_offsets(mount, model_dir, oracle, opts):
    """Reads that start and end anywhere, including past the end."""
    mnt = mount(model_dir, *opts)
    path = paths(mnt, oracle)["big.blob"]
    data = oracle.tensors["big.blob"].data
    size = len(data)
    windows = [(0, 1), (1, 4096), (4095, 2), (131_071, 131_075), ((1 << 20) - 1, (2 << 20) + 7),
               (size - 5, 4096), (size - 1, 1), (size, 10), (size + 4096, 10), (7, size + 100)]
    fd = os.open(path, os.O_RDONLY)
    try:
        for offset, length in windows:
            assert os.pread(fd, length, offset) == data[offset:offset + length], (offset, length)
    finally:
        os.close(fd)


def test_whole_mount_matches_oracle(mount, model_dir, oracle):
    checks.assert_mount_matches(mount(model_dir, "-o", "cache=none"), oracle)


def test_concurrent_readers(mount, model_dir, oracle):
    """Four threads reading the same file in 1 MiB steps at once."""
    from concurrent.futures import ThreadPoolExecutor
    mnt = mount(model_dir, "-o", "cache=none")
    path = paths(mnt, oracle)["big.blob"]
    data = oracle.tensors["big.blob"].data
    with ThreadPoolExecutor(4) as pool:
        results = list(pool.map(lambda s: read_all(path, s), [1 << 20, 65_536, 300_000, 1 << 20]))
    assert all(r == data for r in results)


# A separate process maps the file, so that a hang would be a timeout here
# and a crash would not take the test runner with it.
MAP_SHARED = """
import mmap, os, sys
fd = os.open(sys.argv[1], os.O_RDONLY)
try:
    m = mmap.mmap(fd, 0, flags=mmap.MAP_SHARED, prot=mmap.PROT_READ)
except OSError as e:
    print(e.errno)
    sys.exit(0)
sys.stdout.write("mapped " + m[:16].hex())
"""


def map_shared(path):
    proc = subprocess.run([sys.executable, "-c", MAP_SHARED, str(path)],
                          capture_output=True, text=True, timeout=30)
    assert proc.returncode == 0, proc.stderr
    return proc.stdout.strip()


def test_shared_mmap_fails_with_enodev(mount_process, model_dir, oracle):
    m = mount_process(model_dir, "-o", "cache=none", foreground=True)
    files = paths(m.mountpoint, oracle)
    for name in ("big.blob", "model.embed_tokens.weight"):
        assert map_shared(files[name]) == str(errno.ENODEV), name
    # the mount is unharmed: it still reads, and the daemon still runs
    assert checks.read_file(files["big.blob"]) == oracle.tensors["big.blob"].data
    assert m.proc.poll() is None
    # said once, at mount, with the error a reader gets
    notices = [line for line in m.stderr().splitlines() if "ENODEV" in line]
    assert len(notices) == 1 and "cache=none" in notices[0], m.stderr()


def test_numpy_memmap_fails_read_only_and_works_copy_on_write(mount, model_dir, oracle):
    mnt = mount(model_dir, "-o", "cache=none")
    tensor = oracle.tensors["model.embed_tokens.weight"]
    path = paths(mnt, oracle)[tensor.name]
    with pytest.raises(OSError) as exc:
        np.memmap(path, dtype="<u2", mode="r", shape=tensor.shape)
    assert exc.value.errno == errno.ENODEV
    # a private mapping (mode "c") is allowed and reads the right bytes
    mapped = np.memmap(path, dtype="<u2", mode="c", shape=tensor.shape)
    content = mapped.tobytes()
    del mapped
    assert content == tensor.data
    # np.fromfile reads: it works
    assert np.fromfile(path, dtype="<u2").tobytes() == tensor.data


# cachestat(2) (Linux 6.5): how much of a file is in the page cache, without
# mapping it (a cache=none tensor file cannot be mapped, so mincore cannot).
SYS_CACHESTAT = 451  # x86_64 and the other architectures with the common table


class CachestatRange(ctypes.Structure):
    _fields_ = [("off", ctypes.c_uint64), ("len", ctypes.c_uint64)]


class Cachestat(ctypes.Structure):
    _fields_ = [(n, ctypes.c_uint64) for n in
                ("nr_cache", "nr_dirty", "nr_writeback", "nr_evicted", "nr_recently_evicted")]


def cached_pages(fd):
    """Pages of the open file fd in the page cache. Measured on the reader's
    own descriptor: opening the file again could drop its pages (an open
    without keep_cache does)."""
    libc = ctypes.CDLL(None, use_errno=True)
    cs = Cachestat()
    rng = CachestatRange(0, 0)  # len 0: to the end of the file
    if libc.syscall(SYS_CACHESTAT, fd, ctypes.byref(rng), ctypes.byref(cs), 0) != 0:
        err = ctypes.get_errno()
        if err == errno.ENOSYS:
            pytest.skip("this kernel has no cachestat(2) (Linux 6.5)")
        raise OSError(err, os.strerror(err))
    return cs.nr_cache


def test_reads_leave_no_page_cache_in_the_mount(mount, model_dir, oracle):
    """What cache=none is for: a tensor read through the mount is not kept a
    second time in the mount's page cache. cache=page keeps it (which also
    shows that the measure sees the mount's pages)."""
    data = oracle.tensors["big.blob"].data
    pages = {}
    for mode in ("none", "page"):
        mnt = mount(model_dir, "-o", f"cache={mode}")
        fd = os.open(paths(mnt, oracle)["big.blob"], os.O_RDONLY)
        try:
            got = b"".join(iter(lambda: os.read(fd, 1 << 20), b""))
            pages[mode] = cached_pages(fd)
        finally:
            os.close(fd)
        assert got == data
    assert pages["none"] == 0
    assert pages["page"] * 4096 >= len(data) // 2, pages


def test_other_files_keep_the_page_cache(mount, model_dir):
    """config.json is not a tensor: it stays cached, so a shared map works."""
    mnt = mount(model_dir, "-o", "cache=none")
    assert map_shared(mnt / "config.json") == "mapped " + CONFIG[:16].hex()


@pytest.mark.parametrize("opts", [[], ["-o", "cache=page"]], ids=lambda o: " ".join(o) or "default")
def test_cache_page_maps_tensors(mount, model_dir, oracle, opts):
    mnt = mount(model_dir, *opts)
    path = paths(mnt, oracle)["big.blob"]
    assert map_shared(path) == "mapped " + oracle.tensors["big.blob"].data[:16].hex()


def test_bad_cache_value_is_a_usage_error(run_weightfs, model_dir, new_mountpoint):
    result = run_weightfs("-o", "cache=sometimes", model_dir, new_mountpoint())
    assert result.returncode == 2
    assert "cache=sometimes" in result.stderr and "page or none" in result.stderr


def test_help_names_both_cache_modes(run_weightfs):
    out = run_weightfs("--help").stdout
    assert "cache=page|none" in out and "ENODEV" in out
