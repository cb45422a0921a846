"""Running as a service: sd_notify(READY=1) for systemd's Type=notify, and
-o logfile=PATH for a daemonized mount on a machine without syslog.

The notify tests listen on a NOTIFY_SOCKET of their own (an AF_UNIX datagram
socket, as systemd does) and check that READY=1 arrives only once the mount
answers, and STOPPING=1 when it ends.
"""

import json
import os
import shutil
import socket
import subprocess
import time

import mounting
from fuse_mounts import default_signals, unmount, wait_until
from testdata import SAFETENSORS_SAMPLES

OVERALL = SAFETENSORS_SAMPLES / "overall.safetensors"


class NotifyListener:
    """A NOTIFY_SOCKET: collects the datagrams a service sends."""

    def __init__(self, path):
        self.path = str(path)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.sock.bind(self.path)

    def receive(self, timeout):
        """The next message (bytes), or None after timeout seconds."""
        self.sock.settimeout(timeout)
        try:
            return self.sock.recv(4096)
        except socket.timeout:
            return None

    def close(self):
        self.sock.close()


def start_foreground(weightfs_bin, source, mnt, env, log):
    with open(log, "wb") as err, open(os.devnull, "rb") as null:
        return subprocess.Popen([str(weightfs_bin), "-f", str(source), str(mnt)], stdin=null,
                                stdout=err, stderr=err, env=env, preexec_fn=default_signals)


def test_notify_ready_once_mounted_and_stopping(weightfs_bin, tmp_path):
    listener = NotifyListener(tmp_path / "notify.sock")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = dict(os.environ, NOTIFY_SOCKET=listener.path)
    proc = start_foreground(weightfs_bin, OVERALL, mnt, env, tmp_path / "stderr")
    try:
        msg = listener.receive(timeout=20)
        assert msg is not None, f"no READY=1 within 20 s: {(tmp_path / 'stderr').read_text()}"
        assert b"READY=1" in msg.split(b"\n")
        # Ready means ready: the mount answers at the moment of the message.
        assert os.path.ismount(mnt)
        assert sorted(os.listdir(mnt)) == sorted("BHIbdefhi")
        assert unmount(mnt) == ""
        assert listener.receive(timeout=20) == b"STOPPING=1"
        assert proc.wait(timeout=30) == 0
    finally:
        unmount(mnt)
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        listener.close()


def test_no_notify_socket_sends_nothing_and_mounts(weightfs_bin, tmp_path):
    """Without NOTIFY_SOCKET nothing is sent (a socket path nobody gave is never used)."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = {k: v for k, v in os.environ.items() if k != "NOTIFY_SOCKET"}
    proc = start_foreground(weightfs_bin, OVERALL, mnt, env, tmp_path / "stderr")
    try:
        assert wait_until(lambda: os.path.ismount(mnt), 20)
        assert unmount(mnt) == ""
        assert proc.wait(timeout=30) == 0
        assert (tmp_path / "stderr").read_text() == ""
    finally:
        unmount(mnt)
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def model_with_warnings(root):
    """overall.safetensors behind an index that lists only B: the other
    eight tensors are shown with a warning each."""
    root.mkdir()
    shutil.copy(OVERALL, root / "model.safetensors")
    (root / "model.safetensors.index.json").write_text(
        json.dumps({"weight_map": {"B": "model.safetensors"}}))
    return root


def test_logfile_of_a_daemonized_mount(weightfs_bin, tmp_path):
    source = model_with_warnings(tmp_path / "model")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "weightfs.log"
    log.write_text("earlier line\n")
    r = mounting.run(weightfs_bin, "-o", f"logfile={log}", source, mnt)
    try:
        assert r.returncode == 0, r.stderr
        assert os.path.ismount(mnt)
        # Warnings before the mount reach the terminal and the file.
        assert "tensor \"i\" is not in the index" in r.stderr
        text = log.read_text()
        assert text.startswith("earlier line\n"), "the log is appended to, not truncated"
        lines = text.splitlines()[1:]
        assert any("warning: " in ln and "tensor \"i\" is not in the index" in ln for ln in lines), text
        assert any(ln.endswith(f"serving {mnt}") for ln in lines), text
        for ln in lines:  # "2026-01-01T00:00:00Z weightfs[PID]: ..."
            stamp, _, rest = ln.partition(" ")
            assert len(stamp) == 20 and stamp.endswith("Z") and rest.startswith("weightfs["), ln
        assert unmount(mnt) == ""
        assert wait_until(lambda: f"{mnt} unmounted; exiting" in log.read_text(), 20), log.read_text()
    finally:
        unmount(mnt)


def test_logfile_that_cannot_be_opened_is_a_usage_error(weightfs_bin, tmp_path):
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    bad = tmp_path / "no-such-dir" / "log"
    r = mounting.run(weightfs_bin, "-o", f"logfile={bad}", OVERALL, mnt)
    assert r.returncode == 2
    assert f"logfile={bad}: No such file or directory" in r.stderr
    assert not os.path.ismount(mnt)


def test_logfile_in_the_foreground_keeps_stderr(weightfs_bin, tmp_path):
    source = model_with_warnings(tmp_path / "model")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    log = tmp_path / "weightfs.log"
    m = mounting.Mount(weightfs_bin, source, mnt, ["-o", f"logfile={log}"], foreground=True)
    m.start()
    try:
        time.sleep(0.2)
        assert "tensor \"i\" is not in the index" in m.stderr()
        assert "tensor \"i\" is not in the index" in log.read_text()
    finally:
        assert m.stop() == 0
