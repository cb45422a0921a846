"""Paths of the repository under test and its sample-model generator."""

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
MAKE_SAMPLE_MODEL = REPO / "contrib" / "make-sample-model.py"


def weightfs_binary():
    """The binary under test: $WEIGHTFS_BIN, else <repo>/build/weightfs."""
    return Path(os.environ.get("WEIGHTFS_BIN", REPO / "build" / "weightfs"))


def make_sample_model(outdir, *args):
    """Run contrib/make-sample-model.py OUTDIR [args]; returns OUTDIR."""
    subprocess.run([sys.executable, str(MAKE_SAMPLE_MODEL), str(outdir), *args],
                   check=True, timeout=60)
    return outdir
