# Sourced by the contrib scripts: installs the Debian packages named in
# $@ that are not installed yet. Debian packages only; nothing else is
# downloaded.
wfs_install_missing() {
	local missing=()
	local pkg
	for pkg in "$@"; do
		dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" ||
			missing+=("$pkg")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	if [ "$(id -u)" -ne 0 ]; then
		echo "missing packages: ${missing[*]} (run as root, or install them)" >&2
		return 1
	fi
	echo "installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	wfs_apt update -qq || return 1
	wfs_apt install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# apt-get "$@", waiting (up to WFS_APT_WAIT seconds, default 1800) while
# another apt or dpkg (unattended-upgrades, a second script) holds a lock,
# instead of failing at once.
wfs_apt() {
	local wait=${WFS_APT_WAIT:-1800} start=$SECONDS out rc said=0
	while :; do
		out=$(apt-get -o DPkg::Lock::Timeout=60 "$@" </dev/null 2>&1)
		rc=$?
		if [ $rc -eq 0 ] || ! grep -qE 'Could not get lock|Unable to (acquire|lock)' <<<"$out"; then
			[ $rc -eq 0 ] || echo "$out" | tail -20 >&2
			[ $rc -eq 0 ] && [ -n "$out" ] && echo "$out" | grep -E '^(E|W):' >&2
			return $rc
		fi
		if [ $((SECONDS - start)) -ge "$wait" ]; then
			echo "$out" | tail -5 >&2
			echo "apt is still locked by another process after ${wait}s; giving up" >&2
			return 1
		fi
		[ $said -eq 1 ] || echo "waiting for another apt/dpkg to release its lock..." >&2
		said=1
		sleep 5
	done
}

# What building and mounting needs.
WFS_BUILD_DEPS=(gcc libc6-dev libfuse3-dev fuse3 libjson-c-dev meson ninja-build pkg-config
	python3 python3-numpy attr libcurl4-openssl-dev libsystemd-dev libsnappy-dev zlib1g-dev)
# What the tests need on top.
WFS_TEST_DEPS=(clang libclang-rt-14-dev python3-pytest nginx-light iproute2 groff-base)

# Configures (once) and builds the build directory $1 with meson options $2...
# Quiet unless something fails.
wfs_build() {
	local dir=$1 out
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		out=$(meson setup "$dir" "$@" 2>&1) || { echo "$out" >&2; return 1; }
	elif [ $# -gt 0 ]; then
		# Configured before, maybe with other options: insist on these.
		out=$(meson configure "$dir" "$@" 2>&1) || { echo "$out" >&2; return 1; }
	fi
	out=$(ninja -C "$dir" 2>&1) || { echo "$out" | tail -60 >&2; return 1; }
}
