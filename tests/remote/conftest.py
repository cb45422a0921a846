"""Fixtures of the remote tests: a generated Hub layout served by nginx on
loopback, a fault proxy, an S3 server that checks signatures, and mounts
with their own environment.

Nothing here skips: a missing binary, nginx that cannot start or a mount
that fails is a test failure.
"""

import os
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "lib"))  # the shared helpers

import hub  # noqa: E402
import servers  # noqa: E402
from faultproxy import FaultProxy  # noqa: E402
from fuse_mounts import unmount  # noqa: E402
from weightfs_binaries import require_weightfs  # noqa: E402

TIMEOUT = 60


def clean_env(**extra):
    """The environment of a weightfs run: no real credentials or endpoints leak in."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("AWS_", "HF_", "HUGGING_FACE")) and k not in ("http_proxy", "https_proxy",
                                                                               "HTTP_PROXY", "HTTPS_PROXY")}
    env["HF_HOME"] = "/nonexistent-weightfs-test"
    env.update({k: str(v) for k, v in extra.items()})
    return env


def run(args, env, timeout=TIMEOUT):
    return subprocess.run([str(a) for a in args], env=env, stdin=subprocess.DEVNULL,
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=timeout, text=True)


@pytest.fixture(scope="session")
def weightfs_bin():
    return require_weightfs()


@pytest.fixture(scope="session")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("hub")
    return root, hub.make_hub(root)


@pytest.fixture(scope="session")
def nginx(models, tmp_path_factory):
    root, _ = models
    server = servers.Nginx(root, tmp_path_factory.mktemp("nginx")).start()
    yield server
    server.stop()


@pytest.fixture
def proxy(nginx):
    p = FaultProxy(nginx.port)
    yield p
    p.close()


@pytest.fixture
def mount(weightfs_bin, tmp_path):
    """mount(source, *opts, env=...) -> mountpoint; unmounted at the end."""
    mounts = []

    def start(source, *opts, env=None):
        mnt = tmp_path / f"mnt{len(mounts)}"
        mnt.mkdir()
        mounts.append(mnt)
        res = run([weightfs_bin, *opts, source, mnt], env or clean_env())
        if res.returncode != 0 or not os.path.ismount(mnt):
            pytest.fail(f"weightfs {' '.join(opts)} {source} exited {res.returncode}:\n{res.stderr}")
        return mnt
    yield start
    for m in reversed(mounts):
        unmount(m)
