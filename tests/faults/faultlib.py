"""Helpers of the fault-injection tests: model builders, a foreground daemon
(weightfs -f) whose pid the tests can signal, and reader processes
(reader.py) that check every byte they read.

A mount that fails is a loud test failure, never a skip. Daemon.stop()
always unmounts (fusermount3 -u, then -uz on failure) and reaps the daemon,
killing it if it will not exit.
"""

import json
import os
import random
import resource
import select
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import pytest

from fuse_mounts import default_signals, fusermount, mounted, unmount, wait_until
from safetensors_writer import encode_header, layout_tensors, write_raw

READER = Path(__file__).resolve().parent / "reader.py"
TIMEOUT = 20       # seconds for any one command, mount or daemon exit


# --- models -------------------------------------------------------------------

@dataclass(frozen=True)
class Tensor:
    name: str
    shard: Path     # the shard file it lives in
    offset: int     # absolute offset of its first byte in the shard
    data: bytes

    @property
    def nbytes(self):
        return len(self.data)


def write_safetensors(path, tensors, metadata=None):
    """tensors: list of (name, dtype, shape, data). Writes the file the way
    the reference writer does (metadata {"format": "pt"} unless given) and
    returns name -> Tensor."""
    header, body = layout_tensors(tensors, metadata or {"format": "pt"})
    text = encode_header(header)
    path = write_raw(path, text, body)
    start = 8 + len(text)
    return {name: Tensor(name, path, start + header[name]["data_offsets"][0], data)
            for name, _, _, data in tensors}


@dataclass
class Model:
    dir: Path
    tensors: dict   # name -> Tensor, in file order
    shards: list    # shard paths, in index order

    def in_shard(self, shard):
        return [t for t in self.tensors.values() if t.shard == Path(shard)]


def make_model(root, nshards, per_shard, sizes, seed=0, index=True):
    """A sharded model in root: nshards files of per_shard tensors each, the
    k-th tensor of a shard having sizes[k % len(sizes)] bytes (U8 [n]), and
    an index naming every tensor. Names are "s{shard}.t{k}.w"."""
    rng = random.Random(seed)
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    width = max(5, len(str(nshards)))
    tensors, shards, weight_map = {}, [], {}
    for s in range(nshards):
        shard = root / f"model-{s + 1:0{width}d}-of-{nshards:0{width}d}.safetensors"
        spec = []
        for k in range(per_shard):
            n = sizes[k % len(sizes)]
            spec.append((f"s{s}.t{k}.w", "U8", [n], rng.randbytes(n)))
        written = write_safetensors(shard, spec)
        tensors.update(written)
        shards.append(shard)
        for name in written:
            weight_map[name] = shard.name
    if index:
        total = sum(t.nbytes for t in tensors.values())
        (root / "model.safetensors.index.json").write_text(json.dumps(
            {"metadata": {"total_size": total}, "weight_map": weight_map}, indent=1))
    return Model(root, tensors, shards)


# --- mounting ----------------------------------------------------------------

def child_setup(nofile):
    """preexec_fn: SIGINT as default, and RLIMIT_NOFILE soft = hard = nofile
    when given (what `ulimit -n` does)."""
    def apply():
        default_signals()
        if nofile:
            resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))
    return apply


class Daemon:
    """weightfs -f [opts] SOURCE MOUNTPOINT, run in the background."""

    def __init__(self, binary, source, mountpoint, opts=(), nofile=None):
        self.binary = binary
        self.source = Path(source)
        self.mountpoint = Path(mountpoint)
        self.opts = [str(o) for o in opts]
        self.nofile = nofile
        self.proc = None
        self.log = self.mountpoint.with_name(self.mountpoint.name + ".log")

    @property
    def pid(self):
        return self.proc.pid

    def start(self):
        with open(self.log, "wb") as log, open(os.devnull, "rb") as null:
            self.proc = subprocess.Popen(
                [str(self.binary), "-f", *self.opts, str(self.source), str(self.mountpoint)],
                stdin=null, stdout=log, stderr=log,
                preexec_fn=child_setup(self.nofile))
        ok = wait_until(lambda: mounted(self.mountpoint) or self.proc.poll() is not None, TIMEOUT)
        if not (ok and mounted(self.mountpoint)):
            self.stop()
            pytest.fail(f"weightfs -f {' '.join(self.opts)} {self.source} did not mount "
                        f"(exit status {self.proc.returncode}):\n{self.stderr()}")
        # The mount is in the table before INIT is answered: wait until it is.
        if not wait_until(lambda: self._answers(), TIMEOUT):
            self.stop()
            pytest.fail(f"the mount of {self.source} does not answer:\n{self.stderr()}")
        return self

    def _answers(self):
        try:
            os.stat(self.mountpoint)
            return True
        except OSError:
            return self.proc.poll() is not None

    def alive(self):
        return self.proc is not None and self.proc.poll() is None

    def stderr(self):
        return self.log.read_text(errors="replace") if self.log.exists() else ""

    def rss_kib(self):
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        raise RuntimeError("no VmRSS")

    def wait(self, timeout=TIMEOUT):
        """The daemon's exit status, or None if it is still running after timeout."""
        try:
            return self.proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            return None

    def stop(self):
        """Unmount (-u, then -uz), then reap the daemon, killing it if it
        does not exit. Returns its exit status."""
        if self.proc is None:
            return None
        unmount(self.mountpoint)
        status = self.wait()
        if status is None:
            self.proc.kill()
            status = self.proc.wait()
            if mounted(self.mountpoint):
                fusermount("-uz", self.mountpoint)
        return status


# --- readers -----------------------------------------------------------------

class Reader:
    """A reader.py process over some tensors of a mount."""

    def __init__(self, tmp, mountpoint, tensors, seconds, seed=0, **options):
        self.spec = Path(tmp) / f"reader-{id(self)}.json"
        files = [[str(Path(mountpoint) / t.name), str(t.shard), t.offset, t.nbytes]
                 for t in tensors]
        self.spec.write_text(json.dumps({"files": files, "seconds": seconds, "seed": seed,
                                         **options}))
        self.proc = subprocess.Popen([sys.executable, str(READER), str(self.spec)],
                                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)

    def wait_ready(self, timeout=TIMEOUT):
        ready, _, _ = select.select([self.proc.stdout], [], [], timeout)
        line = self.proc.stdout.readline() if ready else "(nothing: it hangs)"
        if line.strip() != "ready":
            self.proc.kill()
            pytest.fail(f"reader did not start: {line!r} {self.proc.stderr.read()}")

    def result(self, timeout):
        """The reader's report; fails the test if it hangs past timeout."""
        try:
            out, err = self.proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate()
            pytest.fail(f"a reader hung for more than {timeout} s")
        lines = out.strip().splitlines()
        if self.proc.returncode != 0 or not lines:
            pytest.fail(f"reader failed ({self.proc.returncode}):\n{out}\n{err}")
        return json.loads(lines[-1])

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()
