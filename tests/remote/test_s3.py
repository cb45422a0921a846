"""s3:// against a small S3-compatible server that verifies every SigV4
signature itself (s3server.py), holding a sharded model under a prefix."""

import os

import pytest

from checks import check_all_bytes, stats
from conftest import clean_env, run
from s3server import S3Server

KEY, SECRET, REGION = "AKIDWEIGHTFSTEST", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-test-1"


@pytest.fixture
def s3(models):
    _, ms = models
    server = S3Server(KEY, SECRET, REGION, page_size=3)
    for path, data in ms["org/sharded"].files.items():
        server.put("models", "llama/v1/" + path, data)
    server.put("models", "llama/v1-other/decoy.safetensors", b"x")  # shares the prefix text only
    server.put("models", "other/file.bin", b"y")
    yield server
    server.close()


def s3_env(server, secret=SECRET, **extra):
    return clean_env(AWS_ACCESS_KEY_ID=KEY, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION=REGION,
                     AWS_ENDPOINT_URL=server.url, **extra)


def test_s3_mount_and_read(s3, models, mount):
    _, ms = models
    m = ms["org/sharded"]
    mnt = mount("s3://models/llama/v1", "-o", "chunk_size=512K", env=s3_env(s3))
    check_all_bytes(mnt, m)
    names = set(os.listdir(mnt))
    assert "decoy.safetensors" not in names and "file.bin" not in names
    # The listing was paginated (3 keys a page), with continuation tokens.
    lists = [e for e in s3.log if "list-type=2" in e[1]]
    assert len(lists) >= 3 and any("continuation-token=" in e[1] for e in lists)
    assert all(e[3] in (200, 206) for e in s3.log), [e for e in s3.log if e[3] not in (200, 206)]
    assert stats(mnt)["errors"] == 0


def test_s3_session_token(models, mount):
    _, ms = models
    server = S3Server(KEY, SECRET, REGION, session_token="FwoGZXIvYXdzEXAMPLETOKEN//+=")
    try:
        for path, data in ms["org/sharded"].files.items():
            server.put("b", "m/" + path, data)
        mnt = mount("s3://b/m/", env=s3_env(server, AWS_SESSION_TOKEN="FwoGZXIvYXdzEXAMPLETOKEN//+="))
        check_all_bytes(mnt, ms["org/sharded"])
    finally:
        server.close()


def test_s3_wrong_secret(s3, weightfs_bin, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    res = run([weightfs_bin, "s3://models/llama/v1/", mnt], s3_env(s3, secret="not-the-secret"))
    assert res.returncode == 3
    assert "HTTP 403" in res.stderr and "SignatureDoesNotMatch" in res.stderr
    assert "AWS_SECRET_ACCESS_KEY" in res.stderr
    assert "not-the-secret" not in res.stderr
    assert not os.path.ismount(mnt)


def test_s3_missing_credentials(s3, weightfs_bin, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    env = clean_env(AWS_ENDPOINT_URL=s3.url, AWS_REGION=REGION)
    res = run([weightfs_bin, "s3://models/llama/v1/", mnt], env)
    assert res.returncode == 3 and "HTTP 403" in res.stderr
    env["AWS_ACCESS_KEY_ID"] = KEY
    res = run([weightfs_bin, "s3://models/llama/v1/", mnt], env)
    assert res.returncode == 3 and "must be set together" in res.stderr


def test_s3_empty_prefix(s3, weightfs_bin, tmp_path):
    mnt = tmp_path / "m"
    mnt.mkdir()
    res = run([weightfs_bin, "s3://models/nothing-here/", mnt], s3_env(s3))
    assert res.returncode == 3
    assert "no model index and no model files" in res.stderr
