"""Where the test data lives: inside the repository, under tests/data/.

Every suite reads its fixture files from here, never from a folder beside
the checkout, so that a fresh clone passes with nothing next to it
(contrib/test.sh runs the suites from a copy of the tracked
files with the checkout's folder hidden, which checks that).
"""

from pathlib import Path

DATA = Path(__file__).resolve().parents[1] / "data"
SAFETENSORS_SAMPLES = DATA / "safetensors-samples"
GGUF_SAMPLES = DATA / "gguf-samples"
PYTORCH_SAMPLES = DATA / "pytorch-samples"
