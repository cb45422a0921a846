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
	apt-get update -qq </dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
}

# What building and mounting needs.
WFS_BUILD_DEPS=(gcc libc6-dev libfuse3-dev fuse3 libjson-c-dev meson ninja-build pkg-config
	python3 python3-numpy attr libcurl4-openssl-dev zlib1g-dev)
# What the tests need on top.
WFS_TEST_DEPS=(clang libclang-rt-14-dev python3-pytest nginx-light iproute2)

# Configures (once) and builds the build directory $1 with meson options $2...
# Quiet unless something fails.
wfs_build() {
	local dir=$1 out
	shift
	if [ ! -f "$dir/build.ninja" ]; then
		out=$(meson setup "$dir" "$@" 2>&1) || { echo "$out" >&2; return 1; }
	fi
	out=$(ninja -C "$dir" 2>&1) || { echo "$out" | tail -60 >&2; return 1; }
}
