"""Fixtures of the weightfs-inspect tests: the binary under test and a way to run it.

The binary is $WEIGHTFS_INSPECT_BIN, else build/src/inspect/weightfs-inspect
(weightfs_binaries.inspect_binary). A missing binary is a loud failure,
never a skip.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # the shared helpers

from testdata import SAFETENSORS_SAMPLES as SAMPLES  # noqa: E402
from weightfs_binaries import require_inspect  # noqa: E402


@pytest.fixture(scope="session")
def binary():
    return require_inspect()


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
        pytest.fail(f"{SAMPLES} is missing (tests/data/safetensors-samples, part of the repository)")
    return SAMPLES
