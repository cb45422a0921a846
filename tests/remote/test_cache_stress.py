"""Stress of the remote chunk cache (src/lib/remote_cache.c).

Many threads read one model at once through a cache of small chunks and
little memory, so that eviction, drop-behind (a spent chunk's buffer taken
by the next chunk inserted), readahead and grouped readahead requests (one
ranged request scattered over up to 4 chunks) all happen together:
sequential readers of the same and of different tensors, readers at random
offsets and lengths biased to chunk boundaries, a loader reading whole
tensors. Against nginx directly ("near") and through the fault proxy with
latency on every request ("far", so groups form), with faults injected
while grouped requests are in flight, and with a disk cache shared by two
mounts; and the daemon stopped while grouped requests are in flight.

Every byte read is compared with the model. A read may fail, with EIO and
nothing else, only while faults are injected. A read that does not return
within HANG_SECONDS is a hang: the daemon's threads are printed (gdb) and
the daemon is killed. The daemon runs in the foreground with its stderr in
a file, so that a crash, a non-zero exit at unmount or a sanitizer report
fails the test: run the ASan build with WEIGHTFS_BIN=build-asan/weightfs.
user.remote.stats is sampled all along: its cache_bytes must stay within
cache_size plus the chunks that can be in use, and within cache_size once
the mount is idle again.

WEIGHTFS_STRESS_SECONDS (default 4) is how long each test hammers.
"""

import errno
import json
import os
import random
import re
import signal
import subprocess
import threading
import time
from pathlib import Path

import pytest

import hub
from checks import stats, tensor_path
from conftest import clean_env
from faultproxy import Rule
from fuse_mounts import unmount, wait_until
from safetensors_writer import encode_safetensors

SECONDS = float(os.environ.get("WEIGHTFS_STRESS_SECONDS", "4"))
HANG_SECONDS = 40        # a persistent fault takes ~3-5 s of retries to become EIO
BIG = "model.layers.0.mlp.up_proj.weight"   # 6 MiB in org/sharded's second shard
FUSE_THREADS = 10        # libfuse's default max_threads
VIEW_PARTS = 4           # WFS_VIEW_PARTS: chunks one FUSE read pins at most
MAX_WINDOW = 16
EXTRA = "file:"          # Oracle names of files that are not tensors
EXTRAS = ("tokenizer.json", "config.json")
FILES = "files=" + ",".join(EXTRAS)   # what an https:// mount shows besides the model (last in -o)
SANITIZER = re.compile(r"AddressSanitizer|LeakSanitizer|UndefinedBehaviorSanitizer|runtime error:")


def size(text):
    n, unit = re.fullmatch(r"(\d+)([KMG]?)", text).groups()
    return int(n) << {"": 0, "K": 10, "M": 20, "G": 30}[unit]


# --- the daemon ----------------------------------------------------------------


class Daemon:
    """weightfs -f with its stderr in a file: a crash or a sanitizer report is seen."""

    def __init__(self, binary, source, mnt, log, opts, env):
        self.mnt, self.log, self.opts = Path(mnt), Path(log), opts
        env = dict(env)
        env.setdefault("ASAN_OPTIONS", "halt_on_error=1:detect_leaks=1")
        env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
        with open(self.log, "wb") as err:
            self.proc = subprocess.Popen([str(binary), "-f", *opts, source, str(mnt)], stdin=subprocess.DEVNULL,
                                         stdout=err, stderr=err, env=env)
        if not wait_until(lambda: os.path.ismount(mnt) or self.proc.poll() is not None, 30) \
                or not os.path.ismount(mnt):
            self.kill()
            pytest.fail(f"weightfs {' '.join(opts)} {source} did not mount:\n{self.stderr()}")

    def stderr(self):
        return self.log.read_text(errors="replace")

    def stats(self):
        return stats(self.mnt)

    def threads(self):
        """Every thread's stack (gdb), for a hang report."""
        res = subprocess.run(["gdb", "-p", str(self.proc.pid), "-batch", "-ex", "thread apply all bt"],
                             capture_output=True, text=True, timeout=120)
        return "\n".join(ln for ln in res.stdout.splitlines() if ln.startswith(("#", "Thread")))

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(timeout=30)
        unmount(self.mnt)

    def check_alive(self):
        assert self.proc.poll() is None, f"weightfs died (status {self.proc.returncode}):\n{self.stderr()[-20000:]}"
        assert not SANITIZER.search(self.stderr()), f"sanitizer report:\n{self.stderr()[-20000:]}"

    def finish(self):
        """Unmount; the daemon must exit 0 with no sanitizer report."""
        self.check_alive()
        problem = unmount(self.mnt)
        try:
            status = self.proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self.kill()
            pytest.fail(f"weightfs did not exit after unmount ({problem}):\n{self.stderr()[-20000:]}")
        text = self.stderr()
        assert status == 0 and not SANITIZER.search(text), \
            f"weightfs exited {status} after unmount:\n{text[-20000:]}"


@pytest.fixture
def daemon(weightfs_bin, tmp_path):
    """daemon(source, *opts, env=...) -> Daemon; killed at the end if a test left it running."""
    started = []

    def start(source, *opts, env=None):
        n = len(started)
        mnt = tmp_path / f"mnt{n}"
        mnt.mkdir()
        d = Daemon(weightfs_bin, source, mnt, tmp_path / f"weightfs{n}.log", list(opts), env or clean_env())
        started.append(d)
        return d
    yield start
    for d in reversed(started):
        d.kill()


# --- the model -----------------------------------------------------------------


class Oracle:
    """The model's tensors (and some other files), and where wrong bytes came from."""

    def __init__(self, model, extras=()):
        self.model = model
        self.tensors = model.tensors()   # name -> (shard, dtype, shape, offset in shard, bytes)
        for path in extras:              # other files, read through the cache too
            self.tensors[EXTRA + path] = (path, None, None, 0, model.files[path])
        self.names = sorted(self.tensors)

    def data(self, name):
        return self.tensors[name][4]

    @staticmethod
    def path(mnt, name):
        return Path(mnt) / name[len(EXTRA):] if name.startswith(EXTRA) else tensor_path(mnt, name)

    def in_shard(self, name):
        """The names in @name's shard, in the order of their bytes."""
        shard = self.tensors[name][0]
        return sorted((n for n in self.names if self.tensors[n][0] == shard and not n.startswith(EXTRA)),
                      key=lambda n: self.tensors[n][3])

    def explain(self, name, off, got, n=None):
        """Why got (read at tensor offset off, n bytes asked for) differs from the model."""
        want = self.data(name)[off:off + (len(got) if n is None else n)]
        i = next((i for i, (a, b) in enumerate(zip(got, want)) if a != b), min(len(got), len(want)))
        shard, _, _, toff, _ = self.tensors[name]
        at = toff + off + i
        text = (f"{name} bytes {off}-{off + len(got) - 1} (shard {shard} bytes {toff + off}-): "
                f"{len(got)} bytes, {len(want)} wanted; first difference at shard byte {at}")
        probe = got[i:i + 48]
        if len(probe) >= 16:
            if probe.count(0) == len(probe):
                text += "; the bytes there are zeros"
            for path, blob in self.model.files.items():
                where = blob.find(probe)
                if where >= 0:
                    text += f"; they are {path}'s bytes at {where} (shift {where - at})"
                    break
            else:
                text += "; they are nowhere in the model"
        return text


# --- readers --------------------------------------------------------------------


class Hammer:
    """Reader threads until a deadline; wrong bytes, unexpected errors and hangs are recorded."""

    def __init__(self, daemon, oracle, chunk, allow_eio=False):
        self.d, self.o, self.chunk = daemon, oracle, chunk
        self.allow_eio = allow_eio
        self.lock = threading.Lock()
        self.errors, self.eio, self.short, self.reads, self.bytes = [], 0, 0, 0, 0
        self.busy = {}   # thread name -> (what, since)
        self.threads = []
        self.deadline = None

    def error(self, text):
        with self.lock:
            if len(self.errors) < 20:
                self.errors.append(text)

    def pread(self, fd, name, off, n):
        """Reads n bytes at off of tensor name and checks them; the bytes, or None."""
        me = threading.current_thread().name
        self.busy[me] = (f"pread({name}, {n}, {off})", time.monotonic())
        try:
            got = os.pread(fd, n, off)
        except OSError as e:
            if e.errno == errno.EIO and self.allow_eio:
                with self.lock:
                    self.eio += 1
                return None
            self.error(f"{me}: pread of {n} bytes at {off} of {name}: {e}")
            return None
        finally:
            self.busy.pop(me, None)
        data = self.o.data(name)
        want = min(n, max(0, len(data) - off))
        if self.allow_eio and len(got) < want and got == data[off:off + len(got)]:
            # The kernel splits a read into requests of at most 1 MiB (of the
            # buffer's pages); when a later one fails, it returns the bytes
            # before it: a short read of right bytes, as POSIX allows.
            with self.lock:
                self.short += 1
            return got
        if len(got) != want or got != data[off:off + want]:
            self.error(f"{me}: wrong bytes: {self.o.explain(name, off, got, n)}")
            return None
        with self.lock:
            self.reads += 1
            self.bytes += len(got)
        return got

    def open(self, name):
        return os.open(self.o.path(self.d.mnt, name), os.O_RDONLY)

    def running(self):
        return time.monotonic() < self.deadline

    # The kinds of reader.

    def sequential(self, name, piece, start=0):
        """Reads name in pieces of @piece bytes from @start to its end, again and again."""
        fd = self.open(name)
        try:
            size = len(self.o.data(name))
            pos = start
            while self.running():
                self.pread(fd, name, pos, piece)
                pos += piece
                if pos >= size:
                    pos = 0
        finally:
            os.close(fd)

    def backward(self, name, piece):
        """Reads name in pieces of @piece bytes from its end to its start, again
        and again: the chunk it reads next is the one drop-behind marks spent."""
        fd = self.open(name)
        try:
            size = len(self.o.data(name))
            pos = size
            while self.running():
                pos = pos - piece if pos > 0 else size - piece
                self.pread(fd, name, max(0, pos), piece if pos >= 0 else piece + pos)
        finally:
            os.close(fd)

    def loader(self, names):
        """Reads whole tensors in order (a model loader): every tensor of a
        shard in turn, in reads of 16 chunks (at most 1 MiB, the largest FUSE
        read), which a FUSE thread copies chunk by chunk."""
        piece = min(16 * self.chunk, 1 << 20)
        while self.running():
            for name in names:
                fd = self.open(name)
                try:
                    for pos in range(0, len(self.o.data(name)), piece):
                        if not self.running():
                            return
                        self.pread(fd, name, pos, piece)
                finally:
                    os.close(fd)

    def random(self, names, seed):
        """Reads at random offsets and lengths, mostly across chunk boundaries."""
        rng = random.Random(seed)
        weights = [max(1, len(self.o.data(n)) >> 12) for n in names]
        fds = {n: self.open(n) for n in names}
        cs = self.chunk
        lengths = [1, 2, 511, 4096, cs - 1, cs, cs + 1, 2 * cs + 7, 3 * cs, 4 * cs + 1, 200_000, 1 << 20]
        try:
            while self.running():
                name = rng.choices(names, weights)[0]
                data = self.o.data(name)
                if not data:
                    continue
                toff = self.o.tensors[name][3]
                first = -(-toff // cs) * cs - toff          # the first chunk boundary in the tensor
                if rng.random() < 0.7 and first < len(data):
                    b = first + cs * rng.randrange(0, (len(data) - first) // cs + 1)
                    off = min(max(0, b + rng.randint(-700, 700)), len(data) - 1)
                else:
                    off = rng.randrange(len(data))
                self.pread(fds[name], name, off, rng.choice(lengths))
        finally:
            for fd in fds.values():
                os.close(fd)

    # Running them.

    def add(self, target, *args):
        t = threading.Thread(target=self._guard, args=(target, args), daemon=True,
                             name=f"{target.__name__}{len(self.threads)}")
        self.threads.append(t)

    def _guard(self, target, args):
        try:
            target(*args)
        except Exception as e:  # noqa: BLE001 - every failure of a reader is reported
            self.error(f"{threading.current_thread().name}: {type(e).__name__}: {e}")

    def run(self, seconds, during=None):
        """Runs the readers for @seconds (and during(hammer) in this thread meanwhile)."""
        self.deadline = time.monotonic() + seconds
        for t in self.threads:
            t.start()
        if during:
            during(self)
        limit = self.deadline + HANG_SECONDS
        for t in self.threads:
            t.join(max(0.0, limit - time.monotonic()))
        stuck = [t.name for t in self.threads if t.is_alive()]
        if stuck:
            now = time.monotonic()
            ops = {k: f"{v[0]} for {now - v[1]:.1f} s" for k, v in list(self.busy.items())}
            try:
                stacks = self.d.threads()
            except Exception as e:  # noqa: BLE001
                stacks = f"(gdb failed: {e})"
            self.d.kill()
            pytest.fail(f"hang: readers {stuck} still reading {HANG_SECONDS} s after the deadline: {ops}\n"
                        f"daemon threads:\n{stacks}\nstderr:\n{self.d.stderr()[-5000:]}")
        self.d.check_alive()
        assert not self.errors, "\n".join(self.errors)
        assert self.reads > 0


def mixed_readers(h, o, seed):
    """The readers of the tests of org/sharded: 9 threads."""
    big = len(o.data(BIG))
    second = o.in_shard(BIG)                      # BIG, then the two tensors after it
    third = o.in_shard("lm_head.weight")
    h.add(h.sequential, BIG, 64 << 10)
    h.add(h.sequential, BIG, 64 << 10, (big // 2) // 4096 * 4096)
    h.add(h.sequential, BIG, 100_000, 12345)
    h.add(h.backward, BIG, 40_000)
    h.add(h.sequential, "model.layers.1.mlp.up_proj.weight", 4096)
    h.add(h.loader, second + third + [EXTRA + p for p in EXTRAS])
    h.add(h.random, [BIG] + second[1:] + third, seed)
    h.add(h.random, [BIG], seed + 1)
    h.add(h.random, o.names, seed + 2)


TRIPLET = [f"model.layers.{i}.w.weight" for i in range(3)]   # the 3 MiB tensors of org/stress-triplets


def triplet_readers(h, o, seed):
    """The readers of org/stress-triplets, 9 threads. Readahead state is
    kept per file, and a read elsewhere in a file resets it: the first file
    has one sequential reader alone (its readahead, in groups, always runs);
    the second has readers in each other's way (two sequential at other
    offsets and piece sizes, one backward, one at random); the third a
    loader, a sequential reader of 4 KiB pieces and a random one; one more
    reads at random across the second and third."""
    w, names = TRIPLET, o.in_shard
    h.add(h.sequential, w[0], 64 << 10)
    h.add(h.sequential, w[1], 64 << 10, 64 << 10)
    h.add(h.sequential, w[1], 96 << 10, 1 << 20)
    h.add(h.backward, w[1], 40_000)
    h.add(h.random, names(w[1]), seed)
    h.add(h.loader, names(w[2]))
    h.add(h.sequential, w[2], 4096, 2 << 20)
    h.add(h.random, names(w[2]), seed + 1)
    h.add(h.random, names(w[1]) + names(w[2]), seed + 2)


# --- stats ------------------------------------------------------------------------


class StatsWatch:
    """Samples user.remote.stats in a thread; cache_bytes must stay within @bound."""

    KEYS = {"requests", "bytes", "retries", "redirects", "errors", "cache_hits", "disk_hits", "fetches",
            "readahead", "waits", "near", "cache_bytes", "chunk_size", "files"}

    def __init__(self, d, bound):
        self.d, self.bound = d, bound
        self.max = 0
        self.samples = 0
        self.problems = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self):
        last = None
        while not self.stop.wait(0.05):
            try:
                s = self.d.stats()
            except OSError as e:
                self.problems.append(f"getxattr user.remote.stats: {e}")
                return
            if set(s) != self.KEYS or not isinstance(s["near"], bool):
                self.problems.append(f"stats: unexpected fields {s}")
            self.samples += 1
            self.max = max(self.max, s["cache_bytes"])
            if s["cache_bytes"] > self.bound:
                self.problems.append(f"cache_bytes {s['cache_bytes']} > {self.bound}: {s}")
            if last:
                for k in ("requests", "bytes", "fetches", "cache_hits", "errors", "retries", "readahead"):
                    if s[k] < last[k]:
                        self.problems.append(f"{k} went down: {last[k]} -> {s[k]}")
            last = s
            if len(self.problems) > 5:
                return

    def check(self):
        self.stop.set()
        self.thread.join(10)
        assert not self.problems, "\n".join(self.problems)
        assert self.samples > 0


def in_use_bound(cache_size, chunk, readers, files=5):
    """cache_size plus the chunks that may be in use: each FUSE request pins up
    to VIEW_PARTS chunks and may be loading one more; readahead queues up to a
    window (at most a quarter of the cache, 16) per file (5 at most here)."""
    window = min(MAX_WINDOW, cache_size // 4 // chunk)
    return cache_size + chunk * (min(readers, FUSE_THREADS) * (VIEW_PARTS + 1) + files * window)


def check_idle_within(d, o, cache_size, chunk, name=BIG):
    """Once idle, a few reads of chunks far apart (each a miss or a hit, no
    readahead) leave the cache within cache_size: a miss inserts one chunk
    after evicting what nobody uses."""
    time.sleep(0.5)
    data = o.data(name)
    fd = os.open(o.path(d.mnt, name), os.O_RDONLY)
    try:
        spots = list(range(0, len(data), 5 * chunk))
        random.Random(3).shuffle(spots)
        for s in spots[:24]:
            assert os.pread(fd, 1, s) == data[s:s + 1]
    finally:
        os.close(fd)
    held = d.stats()["cache_bytes"]
    assert held <= cache_size, f"{held} bytes cached when idle, cache_size {cache_size}: {d.stats()}"


def verify_everything(d, o):
    """Every tensor, read in order in pieces of 4 chunks (readahead keeps
    ahead of such a reader), is right."""
    piece = 4 * d.stats()["chunk_size"]
    for name in o.names:
        with open(o.path(d.mnt, name), "rb", buffering=0) as f:
            got = b"".join(iter(lambda: f.read(piece), b""))
        assert got == o.data(name), f"after the stress: {o.explain(name, 0, got)}"


# --- proxy --------------------------------------------------------------------------


def far(proxy, delay=0.01):
    """Every request through the proxy late by @delay: the server is not near."""
    proxy.add("latency", count=None, ranged=False, delay=delay)


def inject(proxy, kind, match, count):
    """A fault rule ahead of the latency rule (the proxy applies the first that matches)."""
    rule = Rule(kind, match, count, True)
    with proxy.lock:
        proxy.rules.insert(0, rule)
    return rule


def grouped(proxy, path_part, chunk, since=0):
    """The ranges asked of files matching path_part from request @since on
    (after the mount's own reads of headers), how many spanned several
    chunks, and the most chunks one spanned."""
    ranges = [r for p, r in list(proxy.requests)[since:] if path_part in p and r]
    spans = []
    for r in ranges:
        a, b = (int(x) for x in re.fullmatch(r"bytes=(\d+)-(\d+)", r).groups())
        assert a % chunk == 0, f"a request not at a chunk's start: {r}"
        spans.append((b - a) // chunk + 1)
    return ranges, sum(1 for s in spans if s > 1), max(spans, default=0)


def sharded(models):
    return models[1]["org/sharded"]


@pytest.fixture(scope="module")
def triplets(models):
    """org/stress-triplets, added to the hub nginx serves: three shards laid
    out alike (a 3 MiB tensor, then a 70000-byte one), so that chunks of the
    same index of different files are queued for readahead side by side."""
    root, _ = models
    rng = random.Random(7)
    files, weight_map = {}, {}
    for i in range(3):
        shard = f"model-0000{i + 1}-of-00003.safetensors"
        ts = [(f"model.layers.{i}.w.weight", "U8", [(3 << 20) + 12345], rng.randbytes((3 << 20) + 12345)),
              (f"model.layers.{i}.b.weight", "U8", [70000], rng.randbytes(70000))]
        files[shard] = encode_safetensors(ts, {"format": "pt"})
        weight_map.update({t[0]: shard for t in ts})
    files["model.safetensors.index.json"] = json.dumps({"weight_map": weight_map}).encode()
    files["config.json"] = b'{"hidden_size": 64}\n'
    return hub.Model(root, "org/stress-triplets", files, sizes=False)


# --- the tests --------------------------------------------------------------------------


@pytest.mark.parametrize("chunk,cache", [("64K", "1M"), ("16K", "1M"), ("64K", "4M")])
def test_far_concurrent_reads(proxy, triplets, daemon, chunk, cache):
    """Through the proxy, 10 ms late on every request (far: readahead of up
    to 16 chunks, several per request), 9 threads read three files alike
    through a small cache with cache=none (see triplet_readers): every byte
    right, no error, no hang, no crash; requests of 2-4 chunks were made and
    none longer; cache_bytes within cache_size plus the chunks in use, and
    within cache_size when idle after a few misses."""
    m = triplets
    o = Oracle(m)
    far(proxy)
    cs, cap = size(chunk), size(cache)
    d = daemon(proxy.url + m.url_path(), "-o", f"chunk_size={chunk},cache_size={cache},cache=none",
               env=clean_env())
    assert d.stats()["near"] is False
    mounted_at = len(proxy.requests)
    h = Hammer(d, o, cs)
    triplet_readers(h, o, seed=11)
    watch = StatsWatch(d, in_use_bound(cap, cs, len(h.threads)))
    h.run(SECONDS)
    watch.check()
    ranges, multi, widest = grouped(proxy, ".safetensors", cs, mounted_at)
    print(f"{len(ranges)} requests, {multi} of several chunks; {h.reads} reads; peak cache_bytes {watch.max}")
    assert multi > 0, f"no grouped request among {len(ranges)}: {ranges[:40]}"
    assert widest <= 4, f"a request of {widest} chunks: {ranges}"
    check_idle_within(d, o, cap, cs, name=TRIPLET[1])
    verify_everything(d, o)
    s = d.stats()
    assert s["near"] is False and s["errors"] == 0, s
    d.finish()


@pytest.mark.parametrize("chunk,cache", [("64K", "1M"), ("16K", "256K")])
def test_near_concurrent_reads(nginx, models, daemon, chunk, cache):
    """Straight to nginx (near: 2 chunks ahead), the 9 readers of
    mixed_readers (4 of them in the 6 MiB tensor, the others in the tensors
    around it, in the other shards and in tokenizer.json) through a small
    cache with cache=none: every byte right, no error, no hang, no crash;
    cache_bytes within cache_size plus the chunks in use, and within
    cache_size when idle after a few misses."""
    m = sharded(models)
    o = Oracle(m, EXTRAS)
    cs, cap = size(chunk), size(cache)
    d = daemon("hf://org/sharded", "-o", f"chunk_size={chunk},cache_size={cache},cache=none",
               env=clean_env(HF_ENDPOINT=nginx.url))
    h = Hammer(d, o, cs)
    mixed_readers(h, o, seed=21)
    watch = StatsWatch(d, in_use_bound(cap, cs, len(h.threads)))
    h.run(SECONDS)
    watch.check()
    assert d.stats()["near"] is True, d.stats()
    check_idle_within(d, o, cap, cs)
    verify_everything(d, o)
    assert d.stats()["errors"] == 0
    d.finish()


OUTAGE_SECONDS = 4  # longer than 6 attempts take at least (~1.6 s): requests end in EIO


def test_far_faults_mid_stream(proxy, triplets, daemon):
    """Far server, the 9 readers of triplet_readers through a small cache,
    and faults while grouped requests are in flight: every 0.2 s a
    cut connection, a short body, an HTTP 500 or a wrong Content-Range for
    the next 1-3 requests, and in the middle 4 s of every request cut
    mid-body (partial bodies scattered into the chunks' buffers; grouped
    chunks fail together after the retries, and readers waiting on them get
    EIO). Reads return the right bytes or EIO, never wrong bytes or another
    error; no hang, no crash; some reads did get EIO; once the faults stop,
    everything reads right."""
    m = triplets
    o = Oracle(m)
    far(proxy)
    cs, cap = 64 << 10, 1 << 20
    d = daemon(proxy.url + m.url_path(), "-o", "chunk_size=64K,cache_size=1M,cache=none", env=clean_env())
    shard = ".safetensors"
    mounted_at = len(proxy.requests)
    h = Hammer(d, o, cs, allow_eio=True)
    triplet_readers(h, o, seed=31)
    watch = StatsWatch(d, in_use_bound(cap, cs, len(h.threads)))
    rules = []

    def faults(h):
        rng = random.Random(32)
        outage = time.monotonic() + SECONDS * 0.4
        while h.running():
            if outage and time.monotonic() >= outage:
                outage = None
                rule = inject(proxy, "cut", shard, None)
                rules.append(rule)
                time.sleep(OUTAGE_SECONDS)
                with proxy.lock:
                    proxy.rules.remove(rule)
                continue
            rules.append(inject(proxy, rng.choice(["cut", "short", "500", "badrange"]), shard, rng.randint(1, 3)))
            time.sleep(0.2)

    h.run(SECONDS + OUTAGE_SECONDS, during=faults)
    watch.check()
    proxy.clear()
    far(proxy)
    s = d.stats()
    print(f"faults: {sum(r.hits for r in rules)} injected, {h.eio} reads EIO, {h.short} short, {h.reads} right; {s}")
    assert h.eio > 0 and s["errors"] > 0 and s["retries"] > 0, (h.eio, s)
    ranges, multi, widest = grouped(proxy, shard, cs, mounted_at)
    print(f"{len(ranges)} requests, {multi} of several chunks")
    assert widest <= 4, ranges
    assert multi > 0, f"no grouped request among {len(ranges)}"
    # The server is well again: everything reads right, also at random.
    verify_everything(d, o)
    h2 = Hammer(d, o, cs)
    triplet_readers(h2, o, seed=33)
    h2.run(min(SECONDS, 3))
    check_idle_within(d, o, cap, cs, name=TRIPLET[1])
    d.finish()


def test_cache_dir_two_mounts(proxy, models, daemon, tmp_path):
    """Two mounts of the far server share one disk cache (-o cache_dir, with
    a cache_dir_size of 1 MiB so that both trim all along) and each has the
    9 readers of mixed_readers through a small memory cache, with a transient fault now and
    then: every byte right, no error, no hang, no crash; no request spans
    more than one chunk (no grouping with a disk cache); every chunk file
    left holds its chunk's bytes; a third mount then reads everything right
    from the directory."""
    m = sharded(models)
    o = Oracle(m, EXTRAS)
    far(proxy)
    cs, cap = 64 << 10, 1 << 20
    cache = tmp_path / "chunks"
    opts = ("-o", f"chunk_size=64K,cache_size=1M,cache=none,cache_dir={cache},cache_dir_size=1M,{FILES}")
    d1 = daemon(proxy.url + m.url_path(), *opts, env=clean_env())
    d2 = daemon(proxy.url + m.url_path(), *opts, env=clean_env())
    mounted_at = len(proxy.requests)
    shard = o.tensors[BIG][0]
    h1, h2 = Hammer(d1, o, cs), Hammer(d2, o, cs)
    mixed_readers(h1, o, seed=41)
    mixed_readers(h2, o, seed=42)
    w1 = StatsWatch(d1, in_use_bound(cap, cs, len(h1.threads)))
    w2 = StatsWatch(d2, in_use_bound(cap, cs, len(h2.threads)))

    def second(h):
        # A fault every second (a count of 1): retried, never EIO.
        box = {}

        def run2():
            try:
                h2.run(SECONDS)
            except BaseException as e:  # noqa: BLE001 - reported below
                box["e"] = e
        t = threading.Thread(target=run2, daemon=True)
        t.start()
        rng = random.Random(43)
        while h.running():
            inject(proxy, rng.choice(["cut", "short", "500"]), shard, 1)
            time.sleep(1.0)
        t.join(SECONDS + HANG_SECONDS + 60)
        assert not t.is_alive(), "the second mount's readers did not finish"
        if "e" in box:
            raise box["e"]

    h1.run(SECONDS, during=second)
    w1.check()
    w2.check()
    ranges, multi, widest = grouped(proxy, shard, cs, mounted_at)
    assert multi == 0, f"grouped requests with a disk cache: {[r for r in ranges][:20]}"
    for d in (d1, d2):
        assert d.stats()["errors"] == 0, d.stats()
    for d in (d1, d2):
        check_idle_within(d, o, cap, cs)
        d.finish()
    files = 0
    for sub in cache.iterdir():
        if not sub.is_dir():
            continue
        lines = (sub / "identity").read_text().split("\n")
        path = next(p for p in m.files if p in lines)
        for f in sub.iterdir():
            if f.name.isdigit():
                k = int(f.name)
                assert f.read_bytes() == m.files[path][k * cs:(k + 1) * cs], f"{f}: not chunk {k} of {path}"
                files += 1
    assert files > 0
    # A third mount reads from the directory first the tensor whose chunks
    # were read last (before its own writes make it trim them), then all.
    d3 = daemon(proxy.url + m.url_path(), *opts, env=clean_env())
    assert o.path(d3.mnt, BIG).read_bytes() == o.data(BIG)
    assert d3.stats()["disk_hits"] > 0, d3.stats()
    verify_everything(d3, o)
    d3.finish()


def test_cache_shrinks_back_when_idle(nginx, models, daemon):
    """The cache "may briefly exceed its size while all are in use" (the
    header of remote_cache.c): 8 threads read the 6 MiB tensor at once in
    unaligned 1 MiB pieces through 1 MiB chunks and a 1 MiB cache, so each
    read pins 2 chunks and the cache must exceed its size; once the readers
    are done and the mount has been idle for 0.5 s (nothing in use),
    cache_bytes is within cache_size again, not the peak it reached."""
    m = sharded(models)
    o = Oracle(m)
    cs = cap = 1 << 20
    d = daemon("hf://org/sharded", "-o", "chunk_size=1M,cache_size=1M,cache=none",
               env=clean_env(HF_ENDPOINT=nginx.url))
    h = Hammer(d, o, cs)
    size_ = len(o.data(BIG))
    for i in range(8):
        h.add(h.sequential, BIG, 1 << 20, (i * 777_777) % size_)
    watch = StatsWatch(d, in_use_bound(cap, cs, len(h.threads)))
    h.run(min(SECONDS, 2))
    watch.check()
    time.sleep(0.5)
    idle = d.stats()
    assert idle["cache_bytes"] <= cap, \
        f"peak {watch.max}, {idle['cache_bytes']} bytes held when idle; cache_size {cap}: {idle}"
    d.finish()


def test_stop_while_grouped_requests_fly(proxy, models, daemon):
    """Far server (50 ms per request), a sequential reader of the 6 MiB
    tensor (so that grouped readahead requests are in flight) and 4 random
    readers of the other files through a small cache; SIGTERM to the daemon:
    it exits 0 within 30 s with no sanitizer report, and every read that
    returned before returned the right bytes (after: an error)."""
    m = sharded(models)
    o = Oracle(m, EXTRAS)
    far(proxy, 0.05)
    d = daemon(proxy.url + m.url_path(), "-o", f"chunk_size=64K,cache_size=2M,cache=none,{FILES}", env=clean_env())
    mounted_at = len(proxy.requests)
    stop = threading.Event()
    wrong = []

    def reader(names, seed):
        rng = random.Random(seed)
        fds = {n: os.open(o.path(d.mnt, n), os.O_RDONLY) for n in names}
        pos = 0
        try:
            while not stop.is_set():
                name = rng.choice(names)
                data = o.data(name)
                pos = pos + 65536 if len(names) == 1 else rng.randrange(len(data))
                pos %= len(data)
                got = os.pread(fds[name], 65536, pos)
                if got != data[pos:pos + len(got)]:
                    wrong.append(o.explain(name, pos, got))
        except OSError:
            pass                         # the daemon is gone
        for fd in fds.values():
            try:
                os.close(fd)
            except OSError:
                pass

    others = [n for n in o.names if o.tensors[n][0] != o.tensors[BIG][0] and o.data(n)]
    threads = [threading.Thread(target=reader, args=([BIG], 0), daemon=True)]
    threads += [threading.Thread(target=reader, args=(others, i), daemon=True) for i in range(1, 5)]
    for t in threads:
        t.start()
    time.sleep(1.5)
    d.proc.send_signal(signal.SIGTERM)
    try:
        status = d.proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        stacks = d.threads()
        d.kill()
        pytest.fail(f"weightfs still running 30 s after SIGTERM:\n{stacks}")
    stop.set()
    for t in threads:
        t.join(10)
    ranges, multi, _ = grouped(proxy, o.tensors[BIG][0], 64 << 10, mounted_at)
    assert multi > 0, ranges[:20]
    assert not wrong, wrong[:5]
    text = d.stderr()
    assert status == 0 and not SANITIZER.search(text), f"exit {status}:\n{text[-20000:]}"
