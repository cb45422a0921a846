"""hf:// and https:// mounts of models served by nginx on loopback.

(The "https" form is tested with plain http:// on loopback: TLS would need
a certificate authority the tests make up, and the code path is the same.)
"""

import errno
import json
import os
import subprocess

import pytest

from checks import check_all_bytes, stats, tensor_path
from conftest import clean_env, run
from fuse_mounts import unmount, wait_until
from safetensors_reader import parse_safetensors
from weightfs_binaries import inspect_binary

MiB = 1 << 20


def hf_env(nginx, **extra):
    return clean_env(HF_ENDPOINT=nginx.url, **extra)


def test_hf_every_byte(nginx, models, mount):
    _, ms = models
    mnt = mount("hf://org/sharded", env=hf_env(nginx))
    check_all_bytes(mnt, ms["org/sharded"])
    s = stats(mnt)
    assert s["errors"] == 0 and s["retries"] == 0
    assert s["requests"] > 0 and s["bytes"] > 0


def test_hf_layout_and_xattrs(nginx, models, mount):
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount("hf://org/sharded", env=hf_env(nginx))
    names = set(os.listdir(mnt))
    # Every other file of the repository is at the root; the index and shards are not.
    assert {"config.json", "tokenizer.json", "original", ".gitattributes", "README.md", "empty.txt"} <= names
    assert "model.safetensors.index.json" not in names
    assert not any(n.endswith(".safetensors") for n in names)
    assert (mnt / "empty.txt").stat().st_size == 0
    t = tensor_path(mnt, "model.layers.0.mlp.up_proj.weight")
    shard, dtype, shape, off, data = m.tensors()["model.layers.0.mlp.up_proj.weight"]
    assert os.getxattr(t, "user.dtype") == dtype.encode()
    assert os.getxattr(t, "user.shard") == shard.encode()
    assert os.getxattr(t, "user.offset") == str(off).encode()
    assert t.stat().st_size == len(data)
    assert "user.remote.stats" in os.listxattr(mnt)
    total = json.loads(m.files["model.safetensors.index.json"])["metadata"]["total_size"]
    assert os.getxattr(mnt, "user.index.total_size") == str(total).encode()


def test_hf_single_file_with_sizes(nginx, models, mount):
    _, ms = models
    mnt = mount("hf://org/single", env=hf_env(nginx))
    check_all_bytes(mnt, ms["org/single"])


def test_revision_is_pinned_to_the_commit(nginx, models, mount):
    _, ms = models
    m = ms["org/sharded"]
    mark = nginx.mark()
    mount("hf://org/sharded@main", env=hf_env(nginx))
    log = nginx.since(mark)
    assert log[0]["uri"] == "/api/models/org/sharded/revision/main"
    files = [e for e in log[1:]]
    assert files and all(e["uri"].startswith(f"/org/sharded/resolve/{m.sha}/") for e in files)


def test_mount_fetches_only_metadata(nginx, models, mount):
    """Mount: the API, the index, one request per shard header (the headers
    are small) and one per other file of unknown size. No tensor data."""
    _, ms = models
    m = ms["org/sharded"]
    mark = nginx.mark()
    mount("hf://org/sharded", env=hf_env(nginx))
    log = nginx.since(mark)
    shards = [e for e in log if e["uri"].endswith(".safetensors")]
    assert len(shards) == 3
    for e in shards:
        assert e["range"].startswith("bytes=0-") and e["status"] == 206
        assert int(e["range"].split("-")[1]) < (1 << 20)
    assert sum(1 for e in log if e["uri"].endswith("index.json")) == 1
    assert len(log) == 1 + 1 + 3 + len(m.extras())


def ranges_of(log, shard):
    out = []
    for e in log:
        if e["uri"].endswith("/" + shard):
            assert e["status"] == 206, e
            a, b = e["range"].split("=")[1].split("-")
            out.append((int(a), int(b)))
    return sorted(out)


@pytest.mark.parametrize("name", ["model.layers.0.mlp.up_proj.weight", "model.layers.1.mlp.up_proj.weight",
                                  "model.layers.0.mlp.down_proj.weight"])
def test_reading_one_tensor_fetches_its_range(nginx, models, mount, name):
    """The access log: that tensor's chunks (plus at most one chunk of
    readahead), nothing else."""
    _, ms = models
    m = ms["org/sharded"]
    chunk = MiB
    mnt = mount("hf://org/sharded", "-o", f"chunk_size={chunk}", env=hf_env(nginx))
    shard, _dtype, _shape, off, data = m.tensors()[name]
    mark = nginx.mark()
    assert tensor_path(mnt, name).read_bytes() == data
    log = nginx.since(mark)
    assert log, "nothing was fetched"
    assert all(e["uri"].endswith("/" + shard) for e in log), log
    ranges = ranges_of(log, shard)
    lo = off // chunk * chunk
    hi = -(-(off + len(data)) // chunk) * chunk + chunk  # one chunk of readahead allowed
    fetched = 0
    for a, b in ranges:
        assert lo <= a and b < hi, (ranges, lo, hi)
        assert a % chunk == 0
        fetched += b - a + 1
    # Each byte once: no chunk fetched twice.
    assert len(set(ranges)) == len(ranges)
    assert fetched <= len(data) + 3 * chunk


def test_https_form_with_files(nginx, models, mount):
    _, ms = models
    m = ms["org/sharded"]
    url = nginx.url + m.url_path()
    mnt = mount(url, "-o", "files=config.json,original/params.json,tokenizer.json")
    for name, (_s, _d, _sh, _o, data) in m.tensors().items():
        assert tensor_path(mnt, name).read_bytes() == data
    assert (mnt / "config.json").read_bytes() == m.files["config.json"]
    assert (mnt / "original" / "params.json").read_bytes() == m.files["original/params.json"]
    assert (mnt / "tokenizer.json").read_bytes() == m.files["tokenizer.json"]
    assert not (mnt / "README.md").exists()


def test_https_single_file_and_no_index(nginx, models, mount):
    _, ms = models
    m = ms["org/single"]
    base = nginx.url + m.url_path()
    for source in (base, base + "model.safetensors"):
        mnt = mount(source)
        for name, (_s, _d, _sh, _o, data) in m.tensors().items():
            assert tensor_path(mnt, name).read_bytes() == data


def test_https_index_url(nginx, models, mount):
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount(nginx.url + m.url_path() + "model.safetensors.index.json")
    check = m.tensors()["lm_head.weight"][4]
    assert tensor_path(mnt, "lm_head.weight").read_bytes() == check


def test_errors(nginx, weightfs_bin, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    res = run([weightfs_bin, "hf://org/missing", mnt], hf_env(nginx))
    assert res.returncode == 3, res.stderr
    assert "hf://org/missing: model API: HTTP 404" in res.stderr
    res = run([weightfs_bin, nginx.url + "/nowhere/", mnt], clean_env())
    assert res.returncode == 3
    assert "no model.safetensors.index.json and no model.safetensors" in res.stderr
    res = run([weightfs_bin, "hf://bad name", mnt], clean_env())
    assert res.returncode == 3 and "expected hf://ORG/NAME" in res.stderr
    res = run([weightfs_bin, "http://127.0.0.1:1/x/", mnt], clean_env())
    assert res.returncode == 3 and "127.0.0.1:1" in res.stderr and "onnect" in res.stderr
    res = run([weightfs_bin, "-o", "chunk_size=1", "hf://org/single", mnt], hf_env(nginx))
    assert res.returncode != 0 and "chunk_size" in res.stderr
    assert not os.path.ismount(mnt)


def test_token_only_to_the_hub(nginx, models, mount):
    """The bearer token goes to the endpoint; the redirect to the CDN (another
    origin) is followed without it."""
    _, ms = models
    m = ms["org/redir"]
    mark = nginx.mark()
    mnt = mount("hf://org/redir", env=hf_env(nginx, HF_TOKEN="hf_secret_test_token"))
    check_all_bytes(mnt, m)
    log = nginx.since(mark)
    hub = [e for e in log if e["port"] == nginx.port]
    cdn = [e for e in log if e["port"] == nginx.cdn_port]
    assert hub and cdn
    assert all(e["auth"] == "Bearer hf_secret_test_token" for e in hub)
    assert all(e["auth"] == "" for e in cdn)
    assert any(e["status"] == 302 for e in hub)
    assert stats(mnt)["redirects"] > 0


def test_token_file(nginx, tmp_path, mount):
    home = tmp_path / "hfhome"
    home.mkdir()
    (home / "token").write_text("hf_from_file\n")
    env = hf_env(nginx)
    env["HF_HOME"] = str(home)
    mark = nginx.mark()
    mount("hf://org/single", env=env)
    log = nginx.since(mark)
    assert log and all(e["auth"] == "Bearer hf_from_file" for e in log)


def test_token_never_printed(nginx, weightfs_bin, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = hf_env(nginx, HF_TOKEN="hf_do_not_print_me")
    res = run([weightfs_bin, "hf://org/missing", mnt], env)
    assert res.returncode == 3
    assert "hf_do_not_print_me" not in res.stderr + res.stdout
    # Verbose, foreground: every request is logged, the token is not.
    proc = subprocess.Popen([str(weightfs_bin), "-d", "hf://org/single", str(mnt)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    try:
        wait_until(lambda: os.path.ismount(mnt) or proc.poll() is not None, 20, 0.05)
        assert os.path.ismount(mnt)
        (mnt / "config.json").read_bytes()
    finally:
        unmount(mnt)
        out = proc.communicate(timeout=20)[0].decode(errors="replace")
    assert "remote: GET" in out
    assert "hf_do_not_print_me" not in out


def test_disk_cache_is_reused(nginx, models, mount, tmp_path):
    _, ms = models
    m = ms["org/sharded"]
    cache = tmp_path / "cache"
    env = hf_env(nginx)
    mnt = mount("hf://org/sharded", "-o", f"cache_dir={cache},chunk_size=1M", env=env)
    check_all_bytes(mnt, m)
    assert stats(mnt)["fetches"] > 0
    mark = nginx.mark()
    mnt2 = mount("hf://org/sharded", "-o", f"cache_dir={cache},chunk_size=1M", env=env)
    check_all_bytes(mnt2, m)
    s = stats(mnt2)
    assert s["fetches"] == 0 and s["disk_hits"] > 0
    log = nginx.since(mark)
    # Only the mount's metadata requests: no chunk was fetched again.
    assert all(not e["range"] or e["range"].startswith("bytes=0-") for e in log), log


def test_disk_cache_never_serves_another_version(nginx, tmp_path, mount):
    """Same path and size, other bytes, new ETag: the cache must not answer."""
    import hub as hubmod
    import servers
    root = tmp_path / "root"
    model = hubmod.Model(root, "org/v", hubmod.single_files(seed=7), sizes=True)
    server = servers.Nginx(root, tmp_path / "ng").start()
    try:
        cache = tmp_path / "cache"
        url = server.url + model.url_path()
        mnt = mount(url, "-o", f"cache_dir={cache}")
        check = {n: t[4] for n, t in model.tensors().items()}
        for n, data in check.items():
            assert tensor_path(mnt, n).read_bytes() == data
        subprocess.run(["fusermount3", "-u", str(mnt)], check=True)
        # New content of the same size (nginx's ETag has the mtime in it).
        v2 = hubmod.single_files(seed=8)
        (model.dir / "model.safetensors").write_bytes(v2["model.safetensors"])
        os.utime(model.dir / "model.safetensors", (1e9, 1e9))
        mnt2 = mount(url, "-o", f"cache_dir={cache}")
        for n, t in parse_safetensors(v2["model.safetensors"]).tensors.items():
            assert tensor_path(mnt2, n).read_bytes() == t.data
        assert stats(mnt2)["disk_hits"] == 0
    finally:
        server.stop()


def test_small_cache_still_correct(nginx, models, mount):
    _, ms = models
    mnt = mount("hf://org/sharded", "-o", "chunk_size=64K,cache_size=256K", env=hf_env(nginx))
    check_all_bytes(mnt, ms["org/sharded"])


@pytest.mark.parametrize("cache", ["page", "none"])
def test_parallel_readers_small_cache(nginx, models, mount, cache):
    """A cache of 4 chunks under 8 readers: chunks are evicted (and their
    buffers reused by the next chunk) while others are being read."""
    import concurrent.futures
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount("hf://org/sharded", "-o", f"chunk_size=64K,cache_size=256K,cache={cache}", env=hf_env(nginx))
    items = list(m.tensors().items())

    def read(item):
        name, t = item
        with open(tensor_path(mnt, name), "rb", buffering=0) as f:
            chunks = []
            while chunk := f.read(50_000):
                chunks.append(chunk)
        return name, b"".join(chunks) == t[4]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(read, items * 3))
    assert [n for n, ok in results if not ok] == []


def test_parallel_readers(nginx, models, mount):
    import concurrent.futures
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount("hf://org/sharded", "-o", "chunk_size=256K", env=hf_env(nginx))
    items = list(m.tensors().items())

    def read(item):
        name, t = item
        with open(tensor_path(mnt, name), "rb") as f:
            return name, f.read() == t[4]
    with concurrent.futures.ThreadPoolExecutor(8) as ex:
        results = list(ex.map(read, items * 3))
    assert all(ok for _n, ok in results)


def test_inspect_summary_matches_local(nginx, models, tmp_path):
    """weightfs-inspect uses wfs_model_open, so it reads hf:// too."""
    b = inspect_binary()
    if not (b.is_file() and os.access(b, os.X_OK)):
        pytest.skip(f"{b} is not built (weightfs-inspect is optional here)")
    _, ms = models
    m = ms["org/sharded"]
    remote = run([b, "summary", "hf://org/sharded"], hf_env(nginx))
    local = run([b, "summary", m.dir], clean_env())
    assert remote.returncode == 0, remote.stderr
    assert local.returncode == 0, local.stderr
    assert remote.stdout.replace("hf://org/sharded", "SOURCE") == local.stdout.replace(str(m.dir), "SOURCE")


def test_eio_is_not_enoent(nginx, models, mount):
    """A read that cannot be served is EIO (here: the server goes away)."""
    import servers
    _, ms = models
    m = ms["org/single"]
    root = m.dir.parents[3]
    server = servers.Nginx(root, m.dir.parents[4] / "ng-eio").start()
    # Chunks smaller than the file, so the mount's probe does not hold all of it.
    mnt = mount(server.url + m.url_path(), "-o", "chunk_size=16K")
    server.stop()
    with pytest.raises(OSError) as e:
        tensor_path(mnt, "w.b").read_bytes()
    assert e.value.errno == errno.EIO
    assert os.path.ismount(mnt) and os.listdir(mnt)


def test_long_header_takes_a_second_request(nginx, models, mount):
    _, ms = models
    m = ms["org/bigheader"]
    mark = nginx.mark()
    mnt = mount("hf://org/bigheader", env=hf_env(nginx))
    log = [e for e in nginx.since(mark) if e["uri"].endswith(".safetensors")]
    assert len(log) == 2, log
    first_end = int(log[0]["range"].split("-")[1])
    size = len(m.files["model-00001-of-00001.safetensors"])
    assert log[1]["range"] == f"bytes={first_end + 1}-{size - 20 * 60 - 1}"  # the rest of the header
    check_all_bytes(mnt, m)
