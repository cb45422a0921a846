"""Fixtures for the fault-injection tests (helpers in faultlib.py).

These tests mount for real (as root, with /dev/fuse). A missing binary, a
missing /dev/fuse or a mount that fails is a loud failure, never a skip.
Every mount is unmounted in teardown: fusermount3 -u, then -uz on failure,
and a daemon that will not exit is killed.
"""

import os
from pathlib import Path

import pytest

from faultlib import REPO, Daemon, Reader


# --- fixtures ----------------------------------------------------------------

@pytest.fixture(scope="session")
def weightfs_bin():
    binary = Path(os.environ.get("WEIGHTFS_BIN", REPO / "build" / "weightfs"))
    if not (binary.is_file() and os.access(binary, os.X_OK)):
        pytest.fail(f"weightfs binary {binary} is missing or not executable: build it "
                    "(meson setup build && meson compile -C build) or set WEIGHTFS_BIN")
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse is missing: these tests must be able to mount")
    return binary


@pytest.fixture
def daemon(weightfs_bin, tmp_path):
    """daemon(source, *opts, nofile=None, mountpoint=None) -> started Daemon
    (weightfs -f). Every daemon is unmounted and reaped when the test ends."""
    started = []

    def start(source, *opts, nofile=None, mountpoint=None):
        mnt = Path(mountpoint) if mountpoint else tmp_path / f"mnt{len(started)}"
        mnt.mkdir(exist_ok=True)
        d = Daemon(weightfs_bin, source, mnt, opts, nofile)
        started.append(d)
        return d.start()
    yield start
    for d in reversed(started):
        d.stop()


@pytest.fixture
def readers(tmp_path):
    """readers(mountpoint, tensors, seconds, n=1, **options) -> [Reader];
    all are killed when the test ends."""
    made = []

    def start(mountpoint, tensors, seconds, n=1, **options):
        group = [Reader(tmp_path, mountpoint, tensors, seconds, seed=len(made) + i, **options)
                 for i in range(n)]
        made.extend(group)
        for r in group:
            r.wait_ready()
        return group
    yield start
    for r in made:
        r.kill()
