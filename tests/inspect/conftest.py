"""Fixtures of the weightfs-inspect tests: the binary under test and a way to run it.

The binary is $WEIGHTFS_INSPECT_BIN, else build/src/inspect/weightfs-inspect.
When $WEIGHTFS_INSPECT_BIN names a build directory's top level
(build/weightfs-inspect) and only build/src/inspect/weightfs-inspect exists,
that one is used: meson puts an executable next to its meson.build. A
missing binary is a loud failure, never a skip.
"""

import json
import os
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SAMPLES = REPO.parent / "shared" / "data" / "safetensors-samples"


def inspect_binary():
    env = os.environ.get("WEIGHTFS_INSPECT_BIN")
    if env:
        path = Path(env)
        alt = path.parent / "src" / "inspect" / path.name
        return path if path.exists() or not alt.exists() else alt
    return REPO / "build" / "src" / "inspect" / "weightfs-inspect"


@pytest.fixture(scope="session")
def binary():
    path = inspect_binary()
    if not (path.is_file() and os.access(path, os.X_OK)):
        pytest.fail(f"weightfs-inspect {path} is missing: build it (meson setup build && "
                    "ninja -C build) or set WEIGHTFS_INSPECT_BIN")
    return path


class Inspect:
    def __init__(self, path):
        self.path = path

    def run(self, *args, check=None, timeout=120):
        """Runs the tool; check=N asserts the exit status N."""
        p = subprocess.run([str(self.path), *map(str, args)], capture_output=True,
                           text=True, timeout=timeout, stdin=subprocess.DEVNULL)
        if check is not None:
            assert p.returncode == check, (
                f"exit {p.returncode}, expected {check}\nstdout: {p.stdout[-3000:]}\n"
                f"stderr: {p.stderr[-3000:]}")
        return p

    def json(self, *args, status=0):
        p = self.run(*args, "--json", check=status)
        return json.loads(p.stdout)


@pytest.fixture(scope="session")
def inspect(binary):
    return Inspect(binary)


@pytest.fixture(scope="session")
def samples():
    if not SAMPLES.is_dir():
        pytest.fail(f"{SAMPLES} is missing (the shared test data)")
    return SAMPLES
