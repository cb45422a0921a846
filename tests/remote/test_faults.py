"""Fault injection between weightfs and nginx: every fault ends in the
right bytes (after retries) or in EIO, never in wrong bytes, and the daemon
stays up."""

import errno
import os
import time

import pytest

from checks import stats, tensor_path

BIG = "model.layers.0.mlp.up_proj.weight"


@pytest.fixture
def faulty(proxy, models, mount):
    """A mount of org/sharded through the proxy (https form), 256 KiB chunks."""
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount(proxy.url + m.url_path(), "-o", "chunk_size=256K,files=config.json")
    return mnt, m, proxy


def big_bytes(m):
    return m.tensors()[BIG][4]


def still_up(mnt, m):
    assert os.path.ismount(mnt)
    assert tensor_path(mnt, "lm_head.weight").read_bytes() == m.tensors()["lm_head.weight"][4]


@pytest.mark.parametrize("kind", ["500", "503", "cut", "short", "badrange"])
def test_transient_fault_is_retried(faulty, kind):
    mnt, m, proxy = faulty
    rule = proxy.add(kind, match=".safetensors", count=2)
    assert tensor_path(mnt, BIG).read_bytes() == big_bytes(m)
    assert rule.hits == 2
    s = stats(mnt)
    assert s["retries"] >= 2 and s["errors"] == 0
    still_up(mnt, m)


def test_latency(faulty):
    mnt, m, proxy = faulty
    proxy.add("latency", match=".safetensors", count=None, delay=0.05)
    assert tensor_path(mnt, BIG).read_bytes() == big_bytes(m)
    assert stats(mnt)["errors"] == 0


def test_429_honours_retry_after(faulty):
    mnt, m, proxy = faulty
    rule = proxy.add("429", match=".safetensors", count=1, after=1)
    t0 = time.monotonic()
    assert tensor_path(mnt, "model.layers.1.mlp.up_proj.weight").read_bytes() == \
        m.tensors()["model.layers.1.mlp.up_proj.weight"][4]
    assert time.monotonic() - t0 >= 0.9
    assert rule.hits == 1 and stats(mnt)["retries"] >= 1


@pytest.mark.parametrize("kind", ["500", "cut", "short", "badrange"])
def test_persistent_fault_is_eio(faulty, kind):
    mnt, m, proxy = faulty
    proxy.add(kind, match=".safetensors", count=None)
    with pytest.raises(OSError) as e:
        tensor_path(mnt, "model.layers.0.mlp.down_proj.weight").read_bytes()
    assert e.value.errno == errno.EIO
    assert stats(mnt)["errors"] >= 1
    proxy.clear()
    # The same file reads fine once the server is well again; the daemon is up.
    assert tensor_path(mnt, "model.layers.0.mlp.down_proj.weight").read_bytes() == \
        m.tensors()["model.layers.0.mlp.down_proj.weight"][4]
    still_up(mnt, m)


def test_changed_etag_is_eio(faulty):
    mnt, m, proxy = faulty
    proxy.add("etag", match=".safetensors", count=None)
    t0 = time.monotonic()
    with pytest.raises(OSError) as e:
        tensor_path(mnt, BIG).read_bytes()
    assert e.value.errno == errno.EIO
    assert time.monotonic() - t0 < 5, "a changed file is not retried"
    proxy.clear()
    still_up(mnt, m)


def test_changed_size_is_eio(proxy, models, mount, tmp_path):
    """The file is replaced by a longer one: Content-Range says another size."""
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount(proxy.url + m.url_path(), "-o", "chunk_size=256K")
    shard = m.tensors()[BIG][0]
    path = m.dir / shard
    original = path.read_bytes()
    try:
        path.write_bytes(original + b"x" * 10)
        with pytest.raises(OSError) as e:
            tensor_path(mnt, BIG).read_bytes()
        assert e.value.errno == errno.EIO
    finally:
        path.write_bytes(original)


def test_mount_retries_metadata(proxy, models, mount):
    _, ms = models
    m = ms["org/sharded"]
    proxy.add("503", match="index.json", count=2, ranged=False)
    proxy.add("cut", match=".safetensors", count=2)
    mnt = mount(proxy.url + m.url_path(), "-o", "files=config.json")
    check_all_bytes_subset(mnt, m)
    assert stats(mnt)["retries"] >= 4


def check_all_bytes_subset(mnt, m):
    for name, t in m.tensors().items():
        assert tensor_path(mnt, name).read_bytes() == t[4]


def test_mount_fails_cleanly_when_server_fails(proxy, models, weightfs_bin, tmp_path):
    from conftest import clean_env, run
    _, ms = models
    m = ms["org/sharded"]
    proxy.add("500", match="", count=None, ranged=False)
    mnt = tmp_path / "m"
    mnt.mkdir()
    res = run([weightfs_bin, proxy.url + m.url_path(), mnt], clean_env())
    assert res.returncode == 3
    assert "HTTP 500" in res.stderr
    assert not os.path.ismount(mnt)


def test_everything_under_random_faults(proxy, models, mount):
    """Soak: faults on a third of the requests; every byte read is right or EIO."""
    import random
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount(proxy.url + m.url_path(), "-o", "chunk_size=64K,cache_size=1M")
    rng = random.Random(5)
    kinds = ["500", "503", "cut", "short", "badrange", "latency"]
    seconds = float(os.environ.get("WEIGHTFS_SOAK_SECONDS", "8"))
    deadline = time.monotonic() + seconds
    good = 0
    names = list(m.tensors())
    while time.monotonic() < deadline:
        proxy.clear()
        for _ in range(3):
            proxy.add(rng.choice(kinds), match=".safetensors", count=1, delay=0.02)
        name = rng.choice(names)
        data = m.tensors()[name][4]
        try:
            with open(tensor_path(mnt, name), "rb", buffering=0) as f:
                off = rng.randrange(0, max(1, len(data)))
                f.seek(off)
                got = f.read(rng.randrange(1, 300000))
            assert got == data[off:off + len(got)]
            good += 1
        except OSError as e:
            assert e.errno == errno.EIO
    proxy.clear()
    assert good > 0
    check_all_bytes_subset(mnt, m)


def test_mount_says_it_is_retrying_after_2s(proxy, models, weightfs_bin, tmp_path):
    """A server answering 429 (Retry-After: 4) at mount: after 2 s the mount
    says on stderr which URL is failing and how, then mounts."""
    from conftest import clean_env, run
    from fuse_mounts import unmount
    _, ms = models
    m = ms["org/sharded"]
    proxy.add("429", match="index.json", count=1, ranged=False, after=4)
    mnt = tmp_path / "m"
    mnt.mkdir()
    try:
        res = run([weightfs_bin, proxy.url + m.url_path(), mnt], clean_env())
        assert res.returncode == 0, res.stderr
        notice = [ln for ln in res.stderr.splitlines() if "still retrying" in ln]
        assert len(notice) == 1, res.stderr
        assert notice[0].startswith(f"weightfs: warning: remote: http://127.0.0.1:{proxy.port}/")
        assert "model.safetensors.index.json: HTTP 429 for 2 s; still retrying (attempt 2 of 6)" in notice[0]
        assert "answered after 2 attempts" in res.stderr
    finally:
        unmount(mnt)


def test_brief_retries_are_silent(proxy, models, weightfs_bin, tmp_path):
    from conftest import clean_env, run
    from fuse_mounts import unmount
    _, ms = models
    m = ms["org/sharded"]
    proxy.add("503", match="index.json", count=2, ranged=False)
    mnt = tmp_path / "m"
    mnt.mkdir()
    try:
        res = run([weightfs_bin, proxy.url + m.url_path(), mnt], clean_env())
        assert res.returncode == 0 and res.stderr == "", res.stderr
    finally:
        unmount(mnt)


def test_foreground_read_says_it_is_retrying(proxy, models, weightfs_bin, tmp_path):
    """With -f, a read whose chunk keeps failing is reported on stderr after 2 s."""
    import subprocess
    from conftest import clean_env
    from fuse_mounts import unmount, wait_until
    _, ms = models
    m = ms["org/sharded"]
    mnt = tmp_path / "m"
    mnt.mkdir()
    log = tmp_path / "stderr"
    with open(log, "wb") as err:
        proc = subprocess.Popen([str(weightfs_bin), "-f", "-o", "chunk_size=256K",
                                 proxy.url + m.url_path(), str(mnt)], stdin=subprocess.DEVNULL,
                                stdout=err, stderr=err, env=clean_env())
    try:
        assert wait_until(lambda: os.path.ismount(mnt), 20), log.read_text()
        proxy.add("429", match=".safetensors", count=1, after=4)
        assert tensor_path(mnt, BIG).read_bytes() == big_bytes(m)
        text = log.read_text()
        assert "still retrying" in text and "HTTP 429" in text and f"127.0.0.1:{proxy.port}" in text, text
    finally:
        unmount(mnt)
        proc.wait(timeout=30)
