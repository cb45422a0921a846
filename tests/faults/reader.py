#!/usr/bin/python3
"""A reader process for the fault tests: random reads of tensor files, every
byte checked against the shard the tensor came from.

    reader.py SPEC.json

SPEC is a JSON object:
  files:     [[mount_path, shard_path, offset, nbytes], ...]
  seconds:   how long to read (stops early on the first error if stop_on_error)
  seed:      random seed
  direct:    open the tensor files with O_DIRECT, so every read reaches the
             daemon instead of the page cache
  drop_every: when not direct, drop the files' cached pages every N reads
             (posix_fadvise DONTNEED) so that the daemon keeps being asked
  max_len:   largest read, in bytes
  stop_on_error: stop at the first failed read (and report its errno)
  hold_open: open every file once at the start and keep it open (otherwise
             each read opens and closes its file)

The expected bytes are read from the shard files once, at start. The reader
prints "ready" on stdout once its files are open and it is about to read, and
a JSON report when it stops: reads, bytes, errors (errno name -> count),
first_error, mismatch_count and mismatches (up to 5 described, short
reads included), short_reads.
"""

import errno
import json
import os
import random
import sys
import time


def main():
    spec = json.load(open(sys.argv[1]))
    rng = random.Random(spec.get("seed", 0))
    files = spec["files"]
    max_len = spec.get("max_len", 1 << 20)
    direct = spec.get("direct", False)
    drop_every = spec.get("drop_every", 0)
    stop_on_error = spec.get("stop_on_error", False)
    hold = spec.get("hold_open", True)

    expected = []
    shard_fds = {}
    for path, shard, offset, nbytes in files:
        if shard not in shard_fds:
            shard_fds[shard] = os.open(shard, os.O_RDONLY)
        expected.append(os.pread(shard_fds[shard], nbytes, offset))
    for fd in shard_fds.values():
        os.close(fd)

    flags = os.O_RDONLY | (os.O_DIRECT if direct else 0)
    fds = [os.open(f[0], flags) for f in files] if hold else None
    report = {"reads": 0, "bytes": 0, "errors": {}, "first_error": None,
              "mismatches": [], "mismatch_count": 0, "short_reads": 0}
    print("ready", flush=True)

    deadline = time.monotonic() + spec["seconds"]
    while time.monotonic() < deadline:
        i = rng.randrange(len(files))
        data = expected[i]
        size = len(data)
        if size == 0:
            off, length = 0, rng.randrange(1, 4096)
        else:
            off = rng.randrange(size)
            length = rng.randrange(1, max_len + 1)
            if rng.random() < 0.2:
                off = 0
            if rng.random() < 0.2:
                length = size - off
        try:
            fd = fds[i] if hold else os.open(files[i][0], flags)
            try:
                got = os.pread(fd, length, off)
                if drop_every and report["reads"] % drop_every == 0:
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            finally:
                if not hold:
                    os.close(fd)
        except OSError as e:
            name = errno.errorcode.get(e.errno, str(e.errno))
            report["errors"][name] = report["errors"].get(name, 0) + 1
            if report["first_error"] is None:
                report["first_error"] = name
            if stop_on_error:
                break
            continue
        report["reads"] += 1
        report["bytes"] += len(got)
        want = data[off:off + length]
        if got != want:
            if len(got) < len(want) and got == want[:len(got)]:
                report["short_reads"] += 1
                what = "short"
            else:
                what = "different"
                report["mismatch_count"] += 1
            if len(report["mismatches"]) < 5:
                report["mismatches"].append(
                    f"{files[i][0]}: [{off},+{length}) {what}: {len(got)} bytes, "
                    f"expected {len(want)}")
    if fds:
        for fd in fds:
            try:
                os.close(fd)
            except OSError:
                pass
    print(json.dumps(report), flush=True)


if __name__ == "__main__":
    main()
