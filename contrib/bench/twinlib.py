"""What the side-by-side format benchmarks (formats.py, gguf_bench.py) share:
mounting and unmounting with the weightfs under test, reading a whole
mount, the load average, and the memory prefault. Needs root for mounts."""

import mmap
import os
import subprocess
import time
from pathlib import Path

WEIGHTFS = os.environ.get("WEIGHTFS_BIN", str(Path(__file__).resolve().parents[2] / "build" / "weightfs"))


def mount(source, mnt):
    """Seconds `weightfs SOURCE MNT` took (it returns once mounted). A failed
    attempt, as when the last unmount is still being torn down, is retried
    and not counted."""
    for _ in range(5):
        t0 = time.perf_counter()
        r = subprocess.run([WEIGHTFS, str(source), str(mnt)], stdin=subprocess.DEVNULL)
        took = time.perf_counter() - t0
        if r.returncode == 0:
            return took
        time.sleep(0.5)
    raise SystemExit(f"weightfs {source} {mnt} failed 5 times (exit {r.returncode})")


def unmount(mnt):
    subprocess.run(["fusermount3", "-u", str(mnt)], check=True)


def read_all(mnt):
    """Every file under mnt read whole, 1 MiB at a time: (bytes, seconds)."""
    total = 0
    t0 = time.perf_counter()
    for root, _, files in os.walk(mnt):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                while True:
                    b = os.read(fd, 1 << 20)
                    if not b:
                        break
                    total += len(b)
            finally:
                os.close(fd)
    return total, time.perf_counter() - t0


def loadavg():
    return Path("/proc/loadavg").read_text().split()[0]


def prefault(gib):
    """Touches and frees GIB GiB, so the reads that follow fill memory the VM
    holds (this VM hands freed memory back to its host; see RESULTS.md)."""
    if gib <= 0:
        return
    buf = mmap.mmap(-1, gib << 30)
    for off in range(0, gib << 30, 4096):
        buf[off] = 1
    buf.close()
