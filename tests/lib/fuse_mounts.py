"""The mount table, unmounting and waiting, for tests that mount weightfs.

unmount() always tries `fusermount3 -u` and then `-uz` if that fails, and
finds mounts in /proc/self/mountinfo, so that the mount of a daemon that
died (whose mountpoint no longer answers stat) is unmounted too.
"""

import os
import re
import signal
import subprocess
import time

TIMEOUT = 30  # seconds fusermount3 may take


def _unescape(field):
    """mountinfo writes space, tab, newline and backslash as \\ooo (octal)."""
    return re.sub(rb"\\([0-7]{3})", lambda m: bytes([int(m.group(1), 8)]), field)


def mounted(mountpoint):
    """True when mountpoint is in the mount table (also when its daemon is dead)."""
    target = os.fsencode(os.path.realpath(mountpoint))
    with open("/proc/self/mountinfo", "rb") as f:
        return any(_unescape(line.split()[4]) == target for line in f)


def fusermount(*args):
    """fusermount3 ARGS, text output captured."""
    return subprocess.run(["fusermount3", *map(str, args)], capture_output=True, text=True,
                          timeout=TIMEOUT)


def unmount(mountpoint):
    """Unmount if mounted: fusermount3 -u, then -uz on failure.
    Returns the stderr of a failed -u ('' if it worked or nothing was mounted)."""
    if not mounted(mountpoint):
        return ""
    plain = fusermount("-u", mountpoint)
    if plain.returncode == 0:
        return ""
    fusermount("-uz", mountpoint)
    return plain.stderr or f"fusermount3 -u exited {plain.returncode}"


def wait_until(predicate, timeout, interval=0.02):
    """Poll predicate until it is true or timeout seconds have passed;
    returns its last value."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(interval)
    return predicate()


def default_signals():
    """preexec_fn: a shell that starts jobs in the background ignores SIGINT
    for them, and libfuse then keeps it ignored; tests send it."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)
