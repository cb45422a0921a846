"""Running weightfs: mounting (daemon or -f in the background), unmounting.

A mount that cannot be made is a test failure, never a skip. Unmounting
always happens (fuse_mounts.unmount: `fusermount3 -u`, then `-uz` if that
fails).
"""

import os
import subprocess
import tempfile
from pathlib import Path

import pytest

from fuse_mounts import default_signals, unmount, wait_until


TIMEOUT = 30          # seconds any single weightfs command may take
MOUNT_WAIT = 10       # seconds a -f daemon may take to mount


def run(binary, *args, timeout=TIMEOUT, cwd=None):
    """Run weightfs to completion; stdout and stderr go through files so
    that a daemon keeping them open cannot block us."""
    with open(os.devnull, "rb") as stdin, \
            _tempfile("out") as out, _tempfile("err") as err:
        proc = subprocess.run([str(binary), *map(str, args)], stdin=stdin,
                              stdout=out, stderr=err, timeout=timeout, cwd=cwd)
        return subprocess.CompletedProcess(proc.args, proc.returncode,
                                           _contents(out), _contents(err))


def _tempfile(suffix):
    return tempfile.TemporaryFile(prefix="weightfs-", suffix=suffix)


def _contents(f):
    f.seek(0)
    return f.read().decode(errors="replace")


class Mount:
    """One weightfs mount. As a context manager it mounts on entry and
    unmounts on exit; start()/stop() do the same by hand.

    Without foreground, `weightfs [opts] SOURCE MNT` must exit 0 with the
    mount already in place. With foreground, `weightfs -f ...` runs in the
    background and we poll os.path.ismount.
    """

    def __init__(self, binary, source, mountpoint, opts=(), foreground=False):
        self.binary = binary
        self.source = Path(source)
        self.mountpoint = Path(mountpoint)
        self.opts = [str(o) for o in opts]
        self.foreground = foreground
        self.proc = None
        self.stderr_path = self.mountpoint.with_name(self.mountpoint.name + ".stderr")

    def start(self):
        if self.foreground:
            self._start_foreground()
        else:
            self._start_daemon()
        return self.mountpoint

    def _start_daemon(self):
        result = run(self.binary, *self.opts, self.source, self.mountpoint)
        if result.returncode != 0:
            pytest.fail(f"weightfs {self.opts} {self.source} exited "
                        f"{result.returncode}, not 0:\n{result.stderr}")
        if not os.path.ismount(self.mountpoint):
            pytest.fail(f"weightfs exited 0 but {self.mountpoint} is not mounted "
                        f"(it must return only once the mount is ready):\n{result.stderr}")

    def _start_foreground(self):
        with open(self.stderr_path, "wb") as err, open(os.devnull, "rb") as null:
            self.proc = subprocess.Popen(
                [str(self.binary), "-f", *self.opts, str(self.source), str(self.mountpoint)],
                stdin=null, stdout=err, stderr=err, preexec_fn=default_signals)
        mounted = wait_until(lambda: os.path.ismount(self.mountpoint)
                             or self.proc.poll() is not None, MOUNT_WAIT)
        if not (mounted and os.path.ismount(self.mountpoint)):
            self.stop()
            pytest.fail(f"weightfs -f {self.source} did not mount "
                        f"(exit status {self.proc.returncode}):\n{self.stderr()}")

    def stderr(self):
        return self.stderr_path.read_text(errors="replace") if self.stderr_path.exists() else ""

    def stop(self):
        """Unmount, then reap a foreground daemon. Returns its exit status
        (None for a daemonized mount)."""
        problem = unmount(self.mountpoint)
        if self.proc is None:
            return None
        try:
            return self.proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
            pytest.fail(f"weightfs -f did not exit after unmount {problem}:\n{self.stderr()}")

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
