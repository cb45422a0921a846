"""Readahead of remote chunks: how far ahead of a sequential reader chunks
are fetched (2 from a near server, up to 16 from a far one, there several
with one request), and that a chunk the reader has moved past gives its
memory to the next one (drop-behind), so streaming a file holds a few
chunks, not the file."""

import os
import re
import threading
import time

from checks import stats, tensor_path
from conftest import clean_env

BIG = "model.layers.0.mlp.up_proj.weight"   # 6 MiB in org/sharded
CHUNK = 64 << 10


def read_sequentially(path, upto=None, size=CHUNK):
    """The file's bytes (its first @upto bytes), read in @size pieces in order."""
    out = []
    with open(path, "rb", buffering=0) as f:
        while upto is None or sum(map(len, out)) < upto:
            b = f.read(size if upto is None else min(size, upto - sum(map(len, out))))
            if not b:
                break
            out.append(b)
    return b"".join(out)


def chunks_fetched(ranges, chunk, max_group=1):
    """Chunk indexes of "bytes=A-B" ranges, each of whole aligned chunks
    (at most @max_group of them: consecutive readahead chunks are fetched
    with one request)."""
    out = set()
    for r in ranges:
        a, b = (int(x) for x in re.fullmatch(r"bytes=(\d+)-(\d+)", r).groups())
        assert a % chunk == 0 and b - a < max_group * chunk, r
        out.update(range(a // chunk, b // chunk + 1))
    return out


def big_tensor(models):
    _, ms = models
    m = ms["org/sharded"]
    shard, _dtype, _shape, off, data = m.tensors()[BIG]
    return m, shard, off, data


def test_streaming_holds_a_few_chunks(nginx, models, mount):
    """A 6 MiB tensor (96 chunks) streamed (cache=none: every 64 KiB read
    reaches the daemon) through a cache that could hold all of it: the
    cache keeps about the readahead window ahead of the reader and a window
    of chunks behind it (2 each from this near server), a few chunks more
    at the tensor's end, not the 96; and every byte was right, also when
    read again (the chunks dropped behind are fetched again)."""
    m, _shard, _off, data = big_tensor(models)
    mnt = mount("hf://org/sharded", "-o", f"chunk_size={CHUNK},cache_size=16M,cache=none",
                env=clean_env(HF_ENDPOINT=nginx.url))
    path = tensor_path(mnt, BIG)
    before = stats(mnt)["cache_bytes"]   # what the mount read: the shards' headers
    assert read_sequentially(path) == data
    window = 2 if stats(mnt)["near"] else 16
    # a quarter of the tensor, with room to spare; without drop-behind all 96 chunks stay
    bound = before + max(len(data) // 4, (3 * window + 4) * CHUNK)
    held = stats(mnt)["cache_bytes"]
    assert before < held <= bound, f"{held} bytes held after streaming {len(data)} ({before} before)"
    assert read_sequentially(path) == data
    assert stats(mnt)["cache_bytes"] <= bound


def test_random_reads_are_not_dropped(nginx, models, mount):
    """Reads that are not sequential keep their chunks: reading them again
    costs no request (cache=none: every read reaches the daemon)."""
    m, _shard, off, data = big_tensor(models)
    mnt = mount("hf://org/sharded", "-o", f"chunk_size={CHUNK},cache_size=16M,cache=none",
                env=clean_env(HF_ENDPOINT=nginx.url))
    path = tensor_path(mnt, BIG)
    spots = [5 * CHUNK, 70 * CHUNK, 20 * CHUNK, 90 * CHUNK, 40 * CHUNK]
    fd = os.open(path, os.O_RDONLY)
    try:
        for s in spots:
            assert os.pread(fd, 100, s) == data[s:s + 100]
        before = stats(mnt)["requests"]
        for s in spots:
            assert os.pread(fd, 100, s) == data[s:s + 100]
        assert stats(mnt)["requests"] == before
    finally:
        os.close(fd)


def test_near_server_reads_two_chunks_ahead(nginx, models, mount):
    """nginx on loopback answers within 1 ms: "near", and a sequential
    reader gets at most 2 chunks fetched ahead of the last one it read."""
    m, shard, off, data = big_tensor(models)
    mnt = mount("hf://org/sharded", "-o", f"chunk_size={CHUNK},cache=none",
                env=clean_env(HF_ENDPOINT=nginx.url))
    # "near" is the quickest first byte of any answer: a busy machine may
    # delay some, so a few more small reads (requests) before it is checked.
    for name in [n for n, t in m.tensors().items() if t[0] != shard and len(t[4]) < CHUNK][:8]:
        if stats(mnt)["near"]:
            break
        assert tensor_path(mnt, name).read_bytes() == m.tensors()[name][4]
    assert stats(mnt)["near"] is True
    mark = nginx.mark()
    upto = 8 * CHUNK
    assert read_sequentially(tensor_path(mnt, BIG), upto) == data[:upto]
    time.sleep(0.3)
    log = [e for e in nginx.since(mark) if e["uri"].endswith("/" + shard)]
    got = chunks_fetched([e["range"] for e in log], CHUNK, max_group=2)
    last_read = (off + upto - 1) // CHUNK
    assert max(got) <= last_read + 2, (sorted(got), last_read)
    assert set(range(off // CHUNK, last_read + 1)) <= got


def test_far_server_reads_further_ahead(proxy, models, mount):
    """Every answer 20 ms late: not near, and the readahead window grows
    past 2 chunks (to at most 16) ahead of a sequential reader."""
    m, shard, off, data = big_tensor(models)
    proxy.add("latency", count=None, ranged=False, delay=0.02)
    mnt = mount("hf://org/sharded", "-o", f"chunk_size={CHUNK},cache=none",
                env=clean_env(HF_ENDPOINT=proxy.url))
    assert stats(mnt)["near"] is False
    upto = 8 * CHUNK
    start = len(proxy.requests)
    assert read_sequentially(tensor_path(mnt, BIG), upto) == data[:upto]
    time.sleep(0.5)
    ranges = [r for p, r in proxy.requests[start:] if p.endswith("/" + shard) and r]
    got = chunks_fetched(ranges, CHUNK, max_group=4)
    last_read = (off + upto - 1) // CHUNK
    assert last_read + 8 <= max(got) <= last_read + 16, (sorted(got), last_read)
    # Readahead tops the window up a group at a time: some requests carry several chunks.
    assert any(int(b) - int(a) >= CHUNK for a, b in (r[6:].split("-") for r in ranges)), ranges


def test_parallel_readers_of_one_file_each_get_readahead(proxy, models, mount):
    """Four threads read a quarter each of the 6 MiB tensor, in order and at
    once, through a proxy that delays every answer 20 ms: each is a
    sequential stream of its own, so most chunks are fetched ahead of their
    reader (with one readahead state per file the four reset each other and
    none was), every byte right."""
    m, _shard, _off, data = big_tensor(models)
    proxy.add("latency", count=None, ranged=False, delay=0.02)
    mnt = mount("hf://org/sharded", "-o", f"chunk_size={CHUNK},cache=none",
                env=clean_env(HF_ENDPOINT=proxy.url))
    path = tensor_path(mnt, BIG)
    quarter = len(data) // 4
    wrong = []

    def read_quarter(i):
        lo, hi = i * quarter, (i + 1) * quarter if i < 3 else len(data)
        fd = os.open(path, os.O_RDONLY)
        try:
            for pos in range(lo, hi, CHUNK):
                n = min(CHUNK, hi - pos)
                if os.pread(fd, n, pos) != data[pos:pos + n]:
                    wrong.append((i, pos))
        finally:
            os.close(fd)

    threads = [threading.Thread(target=read_quarter, args=(i,)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not any(t.is_alive() for t in threads), "a reader hung"
    assert wrong == []
    s = stats(mnt)
    assert s["readahead"] >= len(data) // CHUNK // 2, s
