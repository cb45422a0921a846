"""The repository's sample-model generator."""

import subprocess
import sys

from weightfs_binaries import REPO

MAKE_SAMPLE_MODEL = REPO / "contrib" / "make-sample-model.py"


def make_sample_model(outdir, *args):
    """Run contrib/make-sample-model.py OUTDIR [args]; returns OUTDIR."""
    subprocess.run([sys.executable, str(MAKE_SAMPLE_MODEL), str(outdir), *args],
                   check=True, timeout=60)
    return outdir
