"""Fixtures for the fault-injection tests (helpers in faultlib.py).

These tests mount for real (as root, with /dev/fuse). A missing binary, a
missing /dev/fuse or a mount that fails is a loud failure, never a skip.
Every mount is unmounted in teardown: fusermount3 -u, then -uz on failure,
and a daemon that will not exit is killed.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # the shared helpers

from faultlib import Daemon, Reader  # noqa: E402
from weightfs_binaries import require_weightfs  # noqa: E402


# --- fixtures ----------------------------------------------------------------

@pytest.fixture(scope="session")
def weightfs_bin():
    return require_weightfs()


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
