"""The binaries under test, found from the environment or the build directory.

A missing binary (or a missing /dev/fuse where the tests mount) is a loud
test failure, never a skip.
"""

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]


def weightfs_binary():
    """$WEIGHTFS_BIN, else <repo>/build/weightfs."""
    return Path(os.environ.get("WEIGHTFS_BIN", REPO / "build" / "weightfs"))


def inspect_binary():
    """$WEIGHTFS_INSPECT_BIN, else <repo>/build/src/inspect/weightfs-inspect.

    When $WEIGHTFS_INSPECT_BIN names a build directory's top level
    (build/weightfs-inspect) and only build/src/inspect/weightfs-inspect
    exists, that one is used: meson puts an executable next to its meson.build.
    """
    env = os.environ.get("WEIGHTFS_INSPECT_BIN")
    if env:
        path = Path(env)
        alt = path.parent / "src" / "inspect" / path.name
        return path if path.exists() or not alt.exists() else alt
    return REPO / "build" / "src" / "inspect" / "weightfs-inspect"


def _require_executable(path, what, variable):
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"{what} {path} is missing or not executable: build it "
                    f"(meson setup build && ninja -C build) or set {variable}")
    return path


def require_weightfs():
    """The weightfs binary, and /dev/fuse to mount with; fails the test
    session when either is missing."""
    binary = _require_executable(weightfs_binary(), "weightfs binary", "WEIGHTFS_BIN")
    if not os.path.exists("/dev/fuse"):
        pytest.fail("/dev/fuse is missing: these tests must be able to mount")
    return binary


def require_inspect():
    """The weightfs-inspect binary; fails the test session when it is missing."""
    return _require_executable(inspect_binary(), "weightfs-inspect", "WEIGHTFS_INSPECT_BIN")
