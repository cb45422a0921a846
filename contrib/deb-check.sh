#!/bin/bash
# contrib/deb-check.sh [WORKDIR]: builds the Debian package from the tracked
# files of this checkout (dpkg-buildpackage -us -uc -b, in WORKDIR or a
# temporary folder, never beside the checkout), checks it with lintian
# (no errors), installs it with apt-get, and checks the installed package:
# /usr/bin/weightfs mounts the sample model (directly, and through
# mount -t fuse.weightfs), man -w finds both pages, the bash completion is
# in place. The package is removed again at the end (WFS_KEEP_DEB=1 keeps
# it). Prints "ok: ..." or "FAIL: ..." per check; exits 1 if any failed.
# Debian 12, as root.
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
. "$repo/contrib/deps.sh"
work=${1:-$(mktemp -d /var/tmp/weightfs-deb.XXXXXX)}
fails=0
ok() { echo "ok: $*"; }
fail() { echo "FAIL: $*"; fails=$((fails + 1)); }

wfs_install_missing dpkg-dev debhelper fakeroot lintian man-db bash-completion \
	meson ninja-build pkg-config libfuse3-dev libjson-c-dev libcurl4-openssl-dev libsystemd-dev || {
	fail "build dependencies could not be installed"
	exit 1
}

mkdir -p "$work/src"
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | tar -C "$work/src" -xf -
if (cd "$work/src" && dpkg-buildpackage -us -uc -b) >"$work/build.log" 2>&1; then
	ok "dpkg-buildpackage -us -uc -b"
else
	tail -30 "$work/build.log"
	fail "dpkg-buildpackage -us -uc -b (log: $work/build.log)"
	exit 1
fi
deb=$(ls "$work"/weightfs_*_*.deb | grep -v dbgsym | head -1)
out=$(lintian --fail-on error "$work"/weightfs_*.changes 2>&1)
rc=$?
out=$(echo "$out" | grep -v 'running with root privileges')
if [ $rc -eq 0 ]; then
	ok "lintian: no errors ($(echo "$out" | grep -c '^W:') warnings)"
else
	echo "$out" | head -20
	fail "lintian reports errors"
fi

if wfs_apt install -y -qq --no-install-recommends "$deb" >/dev/null; then
	ok "apt-get install ./$(basename "$deb")"
else
	fail "apt-get install $deb"
	exit 1
fi
[ "$(dpkg-query -W -f='${Status}' weightfs 2>/dev/null)" = "install ok installed" ] &&
	ok "dpkg: weightfs installed" || fail "dpkg: weightfs not installed"

sample=$repo/tests/data/safetensors-samples/overall.safetensors
mnt=$work/mnt
mkdir -p "$mnt"
want=$(/usr/bin/python3 -c 'import numpy as np; import sys; sys.stdout.write(np.arange(-3, 3).astype("<f4").tobytes().hex())')
if /usr/bin/weightfs "$sample" "$mnt" && [ "$(od -An -tx1 -v "$mnt/f" | tr -d ' \n')" = "$want" ] &&
	[ "$(getfattr --absolute-names --only-values -n user.dtype "$mnt/f")" = F32 ]; then
	ok "/usr/bin/weightfs mounts the sample model; f has the right bytes and dtype"
else
	fail "/usr/bin/weightfs mount of $sample"
fi
fusermount3 -u "$mnt" 2>/dev/null
if mount -t fuse.weightfs -o layout=flat "$sample" "$mnt" && [ -f "$mnt/B" ] &&
	grep -q " $mnt fuse.weightfs " /proc/mounts; then
	ok "mount -t fuse.weightfs (mount.fuse3 finds /usr/bin/weightfs)"
else
	fail "mount -t fuse.weightfs"
fi
umount "$mnt" 2>/dev/null || fusermount3 -uz "$mnt" 2>/dev/null
if [ "$(/usr/bin/weightfs-inspect ls --json "$sample" | /usr/bin/python3 -c 'import json,sys; print(len(json.load(sys.stdin)["tensors"]))')" = 9 ]; then
	ok "/usr/bin/weightfs-inspect lists the sample's 9 tensors"
else
	fail "/usr/bin/weightfs-inspect ls"
fi
for page in weightfs weightfs-inspect; do
	p=$(man -w "$page" 2>&1)
	[ "$p" = "/usr/share/man/man1/$page.1.gz" ] && ok "man -w $page: $p" || fail "man -w $page: $p"
done
comp=$(pkg-config --variable=completionsdir bash-completion 2>/dev/null || echo /usr/share/bash-completion/completions)
for c in weightfs weightfs-inspect; do
	if [ -f "$comp/$c" ] && bash -c ". '$comp/$c' && complete -p $c" >/dev/null 2>&1; then
		ok "bash completion $comp/$c"
	else
		fail "bash completion $comp/$c"
	fi
done

if [ "${WFS_KEEP_DEB:-0}" != 1 ]; then
	wfs_apt purge -y -qq weightfs >/dev/null || fail "apt-get purge weightfs"
fi
[ -z "${1:-}" ] && rm -rf "$work"
[ "$fails" -eq 0 ]
