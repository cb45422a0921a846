"""Fixtures for the weightfs integration tests.

These tests mount for real. A missing binary, a missing /dev/fuse or a mount
that fails is a loud failure, never a skip.
"""

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # the shared helpers

import mounting  # noqa: E402
import repo  # noqa: E402
from fuse_mounts import unmount  # noqa: E402
from weightfs_binaries import require_weightfs  # noqa: E402


@pytest.fixture(scope="session")
def weightfs_bin():
    return require_weightfs()


@pytest.fixture
def new_mountpoint(tmp_path):
    """Factory of fresh empty directories to mount on."""
    count = 0

    def make():
        nonlocal count
        count += 1
        path = tmp_path / f"mnt{count}"
        path.mkdir()
        return path
    return make


@pytest.fixture
def mount_process(weightfs_bin, new_mountpoint):
    """mount_process(source, *opts, foreground=False) -> started Mount.
    Every mount is unmounted when the test ends, whatever happened."""
    mounts = []

    def start(source, *opts, foreground=False):
        m = mounting.Mount(weightfs_bin, source, new_mountpoint(), opts, foreground)
        mounts.append(m)
        m.start()
        return m
    yield start
    for m in reversed(mounts):
        m.stop()


@pytest.fixture
def mount(mount_process):
    """mount(source, *opts, foreground=False) -> mountpoint Path."""
    return lambda source, *opts, foreground=False: \
        mount_process(source, *opts, foreground=foreground).mountpoint


@pytest.fixture
def run_weightfs(weightfs_bin, tmp_path):
    """run_weightfs(*args) -> CompletedProcess (text stdout/stderr).
    Anything it mounted below tmp_path is unmounted afterwards."""
    yield lambda *args, **kw: mounting.run(weightfs_bin, *args, **kw)
    for path in tmp_path.iterdir():
        unmount(path)


@pytest.fixture(scope="session")
def llama_dir(tmp_path_factory):
    """The sample Llama model of contrib/make-sample-model.py (do not modify:
    copy it with shutil.copytree first)."""
    return repo.make_sample_model(tmp_path_factory.mktemp("llama") / "model")
