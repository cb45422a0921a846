"""s3:// against @20minutes/s3rver 4.x, a third-party S3 implementation that
verifies every AWS Signature V4 (installed from npm by contrib/test.sh with
`npm ci` from tests/remote/s3rver/package-lock.json), holding a sharded model
under a prefix. The refusals of credentials it checks (wrong secret, unknown
key id) come from it.

The small Python server of s3server.py stays for what s3rver cannot be made
to do: pages of 3 keys (pagination), refusing unsigned requests (s3rver
allows anonymous access), checking a session token, and refusing a request
signed for another region (s3rver signs with whatever region the request
names), each with the error AWS itself answers."""

import os

import pytest

from checks import check_all_bytes, stats
from conftest import clean_env, run
from s3server import S3Server
from servers import S3rver

KEY, SECRET, REGION = "AKIDWEIGHTFSTEST", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY", "eu-test-1"
HINT = "check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN and AWS_REGION"


@pytest.fixture(scope="module")
def s3(models, tmp_path_factory):
    """s3rver with the sharded model under models/llama/v1/, and decoys."""
    _, ms = models
    root = tmp_path_factory.mktemp("s3rver")
    src = root / "model"
    for path, data in ms["org/sharded"].files.items():
        (src / path).parent.mkdir(parents=True, exist_ok=True)
        (src / path).write_bytes(data)
    (root / "decoy").mkdir()
    (root / "decoy" / "decoy.safetensors").write_bytes(b"x")
    (root / "other").mkdir()
    (root / "other" / "file.bin").write_bytes(b"y")
    server = S3rver(KEY, SECRET, {"models/llama/v1/": src, "models/llama/v1-other/": root / "decoy",
                                  "models/other/": root / "other"}, root / "store").start()
    yield server
    server.stop()


def s3_env(server, secret=SECRET, key=KEY, region=REGION, **extra):
    return clean_env(AWS_ACCESS_KEY_ID=key, AWS_SECRET_ACCESS_KEY=secret, AWS_REGION=region,
                     AWS_ENDPOINT_URL=server.url, **extra)


def refused(weightfs_bin, tmp_path, env, source="s3://models/llama/v1/"):
    mnt = tmp_path / "m"
    mnt.mkdir(exist_ok=True)
    res = run([weightfs_bin, source, mnt], env)
    assert not os.path.ismount(mnt)
    assert res.returncode == 3, res.stderr
    return res.stderr


# --- against s3rver ------------------------------------------------------------

def test_s3_mount_and_read(s3, models, mount):
    _, ms = models
    mnt = mount("s3://models/llama/v1", "-o", "chunk_size=512K", env=s3_env(s3))
    check_all_bytes(mnt, ms["org/sharded"])
    names = set(os.listdir(mnt))
    assert "decoy.safetensors" not in names and "file.bin" not in names
    assert stats(mnt)["errors"] == 0


def test_s3_session_token_is_sent_signed(s3, models, mount):
    """s3rver recomputes the signature over every header the request says it
    signed: a token sent (x-amz-security-token) and signed still verifies."""
    _, ms = models
    mnt = mount("s3://models/llama/v1/", env=s3_env(s3, AWS_SESSION_TOKEN="FwoGZXIvYXdzEXAMPLETOKEN//+="))
    check_all_bytes(mnt, ms["org/sharded"])


def test_s3_wrong_secret(s3, weightfs_bin, tmp_path):
    err = refused(weightfs_bin, tmp_path, s3_env(s3, secret="not-the-secret"))
    assert "HTTP 403 (forbidden): SignatureDoesNotMatch: The request signature we calculated " \
           "does not match the signature you provided" in err
    assert HINT in err
    assert "not-the-secret" not in err
    assert err.count("\n") == 1, err  # one line, not a dump


def test_s3_wrong_key_id(s3, weightfs_bin, tmp_path):
    err = refused(weightfs_bin, tmp_path, s3_env(s3, key="AKIDNOSUCHKEY"))
    assert "HTTP 403 (forbidden): InvalidAccessKeyId: The AWS Access Key Id you provided " \
           "does not exist in our records" in err
    assert HINT in err
    assert SECRET not in err


def test_s3_half_credentials(s3, weightfs_bin, tmp_path):
    env = clean_env(AWS_ENDPOINT_URL=s3.url, AWS_REGION=REGION, AWS_ACCESS_KEY_ID=KEY)
    assert "must be set together" in refused(weightfs_bin, tmp_path, env)


def test_s3_empty_prefix(s3, weightfs_bin, tmp_path):
    err = refused(weightfs_bin, tmp_path, s3_env(s3), "s3://models/nothing-here/")
    assert "no model index and no model files" in err


def test_s3_no_such_bucket(s3, weightfs_bin, tmp_path):
    err = refused(weightfs_bin, tmp_path, s3_env(s3), "s3://no-such-bucket/m/")
    assert "HTTP 404" in err and "NoSuchBucket" in err


# --- what s3rver cannot be made to do: the mock ----------------------------------

@pytest.fixture
def mock(models):
    _, ms = models
    server = S3Server(KEY, SECRET, REGION, page_size=3)
    for path, data in ms["org/sharded"].files.items():
        server.put("models", "llama/v1/" + path, data)
    server.put("models", "llama/v1-other/decoy.safetensors", b"x")
    yield server
    server.close()


def test_mock_listing_is_paginated(mock, models, mount):
    _, ms = models
    mnt = mount("s3://models/llama/v1", env=s3_env(mock))
    check_all_bytes(mnt, ms["org/sharded"])
    lists = [e for e in mock.log if "list-type=2" in e[1]]
    assert len(lists) >= 3 and any("continuation-token=" in e[1] for e in lists)
    assert all(e[3] in (200, 206) for e in mock.log), [e for e in mock.log if e[3] not in (200, 206)]


def test_mock_unsigned_request_refused(mock, weightfs_bin, tmp_path):
    env = clean_env(AWS_ENDPOINT_URL=mock.url, AWS_REGION=REGION)
    assert "HTTP 403" in refused(weightfs_bin, tmp_path, env)


def test_mock_session_token_checked(models, mount, weightfs_bin, tmp_path):
    _, ms = models
    token = "FwoGZXIvYXdzEXAMPLETOKEN//+="
    server = S3Server(KEY, SECRET, REGION, session_token=token)
    try:
        for path, data in ms["org/sharded"].files.items():
            server.put("b", "m/" + path, data)
        mnt = mount("s3://b/m/", env=s3_env(server, AWS_SESSION_TOKEN=token))
        check_all_bytes(mnt, ms["org/sharded"])
        err = refused(weightfs_bin, tmp_path, s3_env(server, AWS_SESSION_TOKEN="expired"), "s3://b/m/")
        assert "HTTP 403 (forbidden): InvalidToken:" in err and HINT in err
        assert "expired" not in err.replace("HTTP", "")  # the token is never printed
        err = refused(weightfs_bin, tmp_path, s3_env(server), "s3://b/m/")
        assert "InvalidToken" in err
    finally:
        server.close()


def test_mock_region_mismatch(mock, weightfs_bin, tmp_path):
    err = refused(weightfs_bin, tmp_path, s3_env(mock, region="us-east-1"))
    assert "HTTP 400: AuthorizationHeaderMalformed: The authorization header is malformed; " \
           "the region 'us-east-1' is wrong; expecting 'eu-test-1'" in err
    assert HINT in err
