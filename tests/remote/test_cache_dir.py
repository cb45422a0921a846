"""The disk chunk cache (-o cache_dir) under a size limit (-o cache_dir_size):
least recently used chunks are removed, the directory stays within its
limit, and mounts sharing one directory never read a torn chunk."""

import os
import random
import threading
import time

from checks import check_all_bytes, stats, tensor_path
from conftest import clean_env, run

CHUNK = 64 << 10
BIG = "model.layers.0.mlp.up_proj.weight"  # 6 MiB, 96 chunks


def hf_env(nginx):
    return clean_env(HF_ENDPOINT=nginx.url)


def chunk_files(cache):
    """{path: size} of the chunk files in the cache directory."""
    out = {}
    for d in cache.iterdir():
        if d.is_dir():
            for f in d.iterdir():
                if f.name.isdigit():
                    out[f] = f.stat().st_size
    return out


def read_uncached(path):
    """The file's bytes, read by weightfs: the kernel's page cache of the
    file is dropped first (it would answer a second read itself)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        return os.read(fd, os.fstat(fd).st_size + 1)
    finally:
        os.close(fd)


def check_chunks_on_disk(cache, model):
    """Every chunk file holds exactly its bytes of its file (no torn chunk)."""
    for d in cache.iterdir():
        if not d.is_dir():
            continue
        identity = (d / "identity").read_text()
        paths = [p for p in model.files if f"\n{p}\n" in "\n" + identity or identity.endswith(p)]
        lines = identity.split("\n")
        path = next(p for p in model.files if p in lines)
        assert path in paths
        data = model.files[path]
        for f in d.iterdir():
            if f.name.isdigit():
                k = int(f.name)
                assert f.read_bytes() == data[k * CHUNK:(k + 1) * CHUNK], f"{f}: not chunk {k} of {path}"


def test_cache_dir_size_is_kept(nginx, models, mount, tmp_path):
    _, ms = models
    m = ms["org/sharded"]
    cache = tmp_path / "cache"
    limit = 1 << 20
    opts = f"cache_dir={cache},cache_dir_size={limit},chunk_size=64K,cache_size=256K"
    mnt = mount("hf://org/sharded", "-o", opts, env=hf_env(nginx))
    check_all_bytes(mnt, m)
    s = stats(mnt)
    assert s["fetches"] * CHUNK > 4 * limit  # far more was written than may be kept
    # While mounted: within the limit, give or take the chunks being written
    # by the 16 readahead threads while the last trim ran.
    assert sum(chunk_files(cache).values()) <= limit + 16 * CHUNK
    check_chunks_on_disk(cache, m)
    # A mount trims what it finds when it opens the cache.
    mnt2 = mount("hf://org/sharded", "-o", opts, env=hf_env(nginx))
    assert 0 < sum(chunk_files(cache).values()) <= limit
    check_all_bytes(mnt2, m)


def test_least_recently_used_go_first(nginx, models, mount, tmp_path):
    """A tensor read again and again keeps its chunks; one read once loses them."""
    _, ms = models
    m = ms["org/sharded"]
    cache = tmp_path / "cache"
    opts = f"cache_dir={cache},cache_dir_size=2M,chunk_size=64K,cache_size=64K"
    env = hf_env(nginx)
    mnt = mount("hf://org/sharded", "-o", opts, env=env)
    hot, cold = "lm_head.weight", "model.embed_tokens.weight"   # 64000 and 38400 bytes: one chunk each
    want = m.tensors()
    assert tensor_path(mnt, cold).read_bytes() == want[cold][4]
    fd = os.open(tensor_path(mnt, BIG), os.O_RDONLY)
    try:
        os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_RANDOM)  # no kernel readahead: weightfs sees each read
        for i in range(BIG_READS):
            # 4 new chunks, which push the hot chunk out of the 1-chunk memory
            # cache; then the hot tensor again: a disk hit, which refreshes it.
            assert os.pread(fd, 256 << 10, i * (256 << 10)) == want[BIG][4][i * (256 << 10):(i + 1) * (256 << 10)]
            assert read_uncached(tensor_path(mnt, hot)) == want[hot][4]
    finally:
        os.close(fd)
    before = stats(mnt)
    assert before["disk_hits"] >= BIG_READS - 1, before
    mark = nginx.mark()
    mnt2 = mount("hf://org/sharded", "-o", opts, env=env)
    assert tensor_path(mnt2, hot).read_bytes() == want[hot][4]
    s = stats(mnt2)
    assert s["disk_hits"] >= 1 and s["fetches"] == 0, s
    assert tensor_path(mnt2, cold).read_bytes() == want[cold][4]
    assert stats(mnt2)["fetches"] >= 1  # its chunk was removed
    assert any(e["range"] for e in nginx.since(mark))


BIG_READS = 16  # 16 x 256 KiB = 4 MiB through a 2 MiB cache


def test_two_mounts_share_one_cache_without_torn_chunks(nginx, models, mount, tmp_path):
    """Two mounts, one cache directory with a limit far below the model: both
    read random ranges for a few seconds while each writes, reads and trims
    the shared directory. Every byte read is right, no read fails, and every
    chunk file left is whole."""
    _, ms = models
    m = ms["org/sharded"]
    cache = tmp_path / "cache"
    opts = f"cache_dir={cache},cache_dir_size=768K,chunk_size=64K,cache_size=128K"
    env = hf_env(nginx)
    mnts = [mount("hf://org/sharded", "-o", opts, env=env) for _ in range(2)]
    tensors = [(n, t[4]) for n, t in m.tensors().items() if len(t[4]) > 0]
    problems = []
    reads = [0]
    deadline = time.monotonic() + float(os.environ.get("WEIGHTFS_SHARED_CACHE_SECONDS", "6"))

    def reader(mnt, seed):
        rng = random.Random(seed)
        while time.monotonic() < deadline and len(problems) < 5:
            name, data = rng.choice(tensors)
            off = rng.randrange(len(data))
            n = rng.randrange(1, min(len(data) - off, 300 << 10) + 1)
            try:
                fd = os.open(tensor_path(mnt, name), os.O_RDONLY)
                try:
                    got = os.pread(fd, n, off)
                finally:
                    os.close(fd)
            except OSError as e:
                problems.append(f"{mnt.name} {name} [{off}:{off + n}]: {e}")
                continue
            if got != data[off:off + n]:
                problems.append(f"{mnt.name} {name} [{off}:{off + n}]: wrong bytes")
            reads[0] += 1

    threads = [threading.Thread(target=reader, args=(mnt, i * 2 + j))
               for i, mnt in enumerate(mnts) for j in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not problems, problems
    assert reads[0] > 50
    s = [stats(mnt) for mnt in mnts]
    assert all(x["errors"] == 0 for x in s), s
    assert all(x["disk_hits"] > 0 for x in s), s     # each read chunks from the shared disk cache
    assert sum(x["fetches"] for x in s) * CHUNK > 2 * (768 << 10)   # and the limit forced removals
    check_chunks_on_disk(cache, m)


def test_cache_dir_size_smaller_than_a_chunk_is_refused(nginx, weightfs_bin, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    res = run([weightfs_bin, "-o", f"cache_dir={tmp_path / 'c'},cache_dir_size=1K",
               "hf://org/sharded", mnt], hf_env(nginx))
    assert res.returncode == 3
    assert "cache_dir_size=1024: must be at least chunk_size" in res.stderr
    res = run([weightfs_bin, "-o", "cache_dir_size=lots", "hf://org/sharded", mnt], hf_env(nginx))
    assert res.returncode == 2 and "cache_dir_size=lots: expected a size" in res.stderr


def test_only_its_own_files_are_removed(nginx, models, mount, tmp_path):
    """A cache_dir pointed at a folder with other files: those are never removed."""
    _, ms = models
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / "notes.txt").write_bytes(b"n" * (2 << 20))
    (cache / "12345").write_bytes(b"d" * (1 << 20))
    (cache / "sub").mkdir()
    (cache / "sub" / "7").write_bytes(b"s" * (1 << 20))
    mnt = mount("hf://org/sharded", "-o", f"cache_dir={cache},cache_dir_size=512K,chunk_size=64K",
                env=hf_env(nginx))
    check_all_bytes(mnt, ms["org/sharded"])
    assert (cache / "notes.txt").stat().st_size == 2 << 20
    assert (cache / "12345").exists() and (cache / "sub" / "7").exists()


def test_memory_hits_refresh_the_disk_copy(nginx, models, mount, tmp_path):
    """A chunk served from memory is in use: its disk file's mtime moves
    (at most once a second), so a trim does not take it for unused."""
    _, ms = models
    m = ms["org/sharded"]
    cache = tmp_path / "cache"
    mnt = mount("hf://org/sharded", "-o", f"cache_dir={cache},chunk_size=64K", env=hf_env(nginx))
    hot = "lm_head.weight"
    want = m.tensors()[hot][4]
    assert read_uncached(tensor_path(mnt, hot)) == want
    files = {p: p.stat().st_mtime_ns for p in chunk_files(cache) if "00003" in p.parent.joinpath("identity").read_text().split("\n")[-4]}
    assert files, list(chunk_files(cache))
    time.sleep(1.2)
    before = stats(mnt)
    assert read_uncached(tensor_path(mnt, hot)) == want
    after = stats(mnt)
    assert after["cache_hits"] > before["cache_hits"] and after["disk_hits"] == before["disk_hits"]
    assert all(p.stat().st_mtime_ns > t for p, t in files.items()), "the disk copy was not refreshed"
