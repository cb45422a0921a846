"""The command line: --help, --version, foreground mode, signals, mount
options as the kernel sees them."""

import os
import signal
import subprocess

import pytest

import checks
import expect
import mounting
from fuse_mounts import unmount, wait_until
from safetensors_writer import random_tensors, write_safetensors


@pytest.fixture
def small_file(tmp_path):
    spec = {"model.layers.0.mlp.up_proj.weight": ("F16", (4, 8)), "lm_head.weight": ("F32", (3,))}
    return write_safetensors(tmp_path / "small.safetensors",
                             random_tensors(spec), {"format": "pt"})


def mount_entry(mountpoint):
    """(fstype, options) of mountpoint in /proc/self/mounts."""
    with open("/proc/self/mounts") as f:
        for line in f:
            _, where, fstype, options, *_ = line.split()
            if where == str(mountpoint):
                return fstype, options.split(",")
    raise AssertionError(f"{mountpoint} not in /proc/self/mounts")


@pytest.mark.parametrize("flag", ["--help", "-h"])
def test_help(run_weightfs, flag):
    result = run_weightfs(flag)
    assert result.returncode == 0, result.stderr
    assert "layout" in result.stdout + result.stderr


@pytest.mark.parametrize("flag", ["--version", "-V"])
def test_version(run_weightfs, flag):
    result = run_weightfs(flag)
    assert result.returncode == 0, result.stderr
    assert (result.stdout + result.stderr).strip()


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
def test_signal_unmounts_foreground_daemon(mount_process, small_file, sig):
    m = mount_process(small_file, foreground=True)
    os.kill(m.proc.pid, sig)
    assert m.proc.wait(timeout=mounting.TIMEOUT) == 0, m.stderr()
    assert not os.path.ismount(m.mountpoint)


def test_fusermount_ends_foreground_daemon(mount_process, small_file):
    m = mount_process(small_file, foreground=True)
    assert m.stop() == 0, m.stderr()
    assert not os.path.ismount(m.mountpoint)


def test_debug_logs_requests(mount_process, small_file):
    m = mount_process(small_file, "-d", foreground=True)
    before = len(m.stderr())
    os.listdir(m.mountpoint)
    os.stat(m.mountpoint / "lm_head.weight")
    assert wait_until(lambda: len(m.stderr()) > before, 5), \
        "-d must log every FUSE request"


def test_mount_is_read_only_with_default_permissions(mount, small_file):
    fstype, options = mount_entry(mount(small_file))
    assert fstype.startswith("fuse")
    assert "ro" in options
    assert "default_permissions" in options


def test_fsname_option_is_passed_to_libfuse(mount, small_file):
    mnt = mount(small_file, "-o", "fsname=tinymodel")
    with open("/proc/self/mounts") as f:
        assert any(line.split()[:2] == ["tinymodel", str(mnt)] for line in f)


def test_combined_options(mount, small_file):
    mnt = mount(small_file, "-o", "layout=tree,readahead_kb=0,io=splice", "-s")
    model = expect.load_model(small_file)
    checks.assert_mount_matches(mnt, model, "tree")


@pytest.mark.parametrize("opts,kib", [([], 1024), (["-o", "readahead_kb=64"], 64)],
                         ids=["default", "64"])
def test_readahead(mount, small_file, opts, kib):
    dev = os.stat(mount(small_file, *opts)).st_dev
    bdi = f"/sys/class/bdi/{os.major(dev)}:{os.minor(dev)}/read_ahead_kb"
    with open(bdi) as f:
        assert int(f.read()) == kib


def test_relative_paths(run_weightfs, small_file):
    """The daemon may chdir; relative SOURCE and MOUNTPOINT must still work."""
    (small_file.parent / "rel").mkdir()
    result = run_weightfs(small_file.name, "rel", cwd=small_file.parent)
    assert result.returncode == 0, result.stderr
    model = expect.load_model(small_file)
    checks.assert_mount_matches(small_file.parent / "rel", model)


def test_mount_fuse3_helper(weightfs_bin, small_file, new_mountpoint):
    """What `mount -t fuse.weightfs` and fstab run: mount.fuse3 finds
    `weightfs` on PATH and passes SOURCE, MOUNTPOINT and -o options."""
    mnt = new_mountpoint()
    env = dict(os.environ, PATH=f"{os.path.dirname(weightfs_bin)}:{os.environ['PATH']}")
    result = subprocess.run(["/sbin/mount.fuse3", str(small_file), str(mnt), "-t", "weightfs",
                             "-o", "layout=flat,nosuid,nodev"],
                            env=env, stdin=subprocess.DEVNULL, capture_output=True, text=True,
                            timeout=mounting.TIMEOUT)
    try:
        assert result.returncode == 0, result.stderr
        assert sorted(os.listdir(mnt)) == ["lm_head.weight", "model.layers.0.mlp.up_proj.weight"]
        fstype, options = mount_entry(mnt)
        assert fstype == "fuse.weightfs"
        assert "ro" in options and "nosuid" in options
    finally:
        unmount(mnt)
