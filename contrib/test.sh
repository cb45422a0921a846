#!/bin/bash
# contrib/test.sh: install what is missing, build, and run every test:
#   1. C unit tests (meson test)
#   2. integration tests that mount for real (pytest, Debian's python3)
#   3. the same unit and integration tests in an ASan+UBSan build (leaks on)
#   4. the fuzz corpora replayed, and each fuzz target run for a short time
# Builds go to build-test/ and build-asan/ (never build/, which
# contrib/run.sh may have configured differently) and treat warnings as
# errors. The pytest suites run from a copy of the repository's tracked
# files in a temporary folder, with the checkout's own folder hidden by an
# empty tmpfs in a private mount namespace, so a test that reads anything
# beside the repository (a sibling data folder, /work/...) or a file not committed
# fails here as it would in a fresh clone. The last line is
# "N passed, M failed" over all of them. Debian 12, as root.
#
# Also: meson install into a temporary root, and the Debian package built,
# checked with lintian, installed with apt-get, used and purged
# (contrib/deb-check.sh).
#
# Environment: FUZZ_SECONDS (per target, default 15), WEIGHTFS_SKIP_ASAN=1,
# WEIGHTFS_SKIP_DEB=1, WEIGHTFS_SOAK_SECONDS (longer soak in the fault tests).
set -uo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. contrib/deps.sh

if ! wfs_install_missing "${WFS_BUILD_DEPS[@]}" "${WFS_TEST_DEPS[@]}"; then
	echo "the packages the tests need could not be installed"
	echo "0 passed, 1 failed"
	exit 1
fi
# Modules the tests need: fuse (mounting) and nothing else.
modprobe fuse 2>/dev/null || true

passed=0
failed=0
logs=$(mktemp -d /tmp/weightfs-test.XXXXXX)

# Adds the counts of a pytest summary line ("3 passed, 1 failed, 2 errors").
count_pytest() {
	local p f
	read -r p f < <(awk '{
		for (i = 2; i <= NF; i++) {
			w = $i; gsub(/[,;=]/, "", w)
			if (w == "passed") p += $(i - 1)
			if (w == "failed" || w == "error" || w == "errors") f += $(i - 1)
		}
	} END { print p + 0, f + 0 }' <<<"$1")
	passed=$((passed + p))
	failed=$((failed + f))
}

# Runs meson test in build dir $1 and adds its counts.
run_unit() {
	local dir=$1 out ok fail
	out=$(meson test -C "$dir" --print-errorlogs 2>&1)
	echo "$out" | grep -E '^ *[0-9]+/[0-9]+ |^(Ok|Fail|Timeout|Expected Fail|Unexpected Pass):' | sed 's/^/  /'
	ok=$(echo "$out" | awk '/^Ok:/ {print $2}')
	fail=$(echo "$out" | awk '/^(Fail|Timeout|Unexpected Pass):/ {s += $NF} END {print s + 0}')
	if [ -z "$ok" ]; then
		echo "$out" | tail -20
		fail=$((fail + 1))
		ok=0
	fi
	passed=$((passed + ok))
	failed=$((failed + fail))
}

# A copy of the tracked files of the repository (as a clone has them, with
# uncommitted edits) in $clean/weightfs, and the binaries under test in
# $clean/bin-*: the pytest suites run there.
clean=$(mktemp -d /var/tmp/weightfs-clean.XXXXXX)
mkdir "$clean/weightfs"
git -C "$repo" ls-files -z | tar -C "$repo" --null -T - -cf - | tar -C "$clean/weightfs" -xf -
# What the tests' private mount namespace hides: the folder that holds the
# checkout (and whatever lies beside it), unless the copy is inside it.
# Where that folder is a system one (/, /tmp), only a shared/ beside the
# checkout is hidden.
hide=$(dirname "$repo")
case "$hide" in
/ | /tmp | /var | /var/tmp) hide=$hide/shared ;;
esac
case "$clean/" in "$hide"/*) hide= ;; esac
[ -d "$hide" ] && [ "$hide" != / ] || hide=

# Copies the binaries of build dir $1 to $clean/bin-$1.
stage_bins() {
	mkdir -p "$clean/bin-$1"
	cp "$repo/$1/weightfs" "$repo/$1/src/inspect/weightfs-inspect" "$clean/bin-$1/"
}

# Runs each pytest suite that exists in the clean copy, with extra
# environment "$@". Suites run separately: each has its own conftest and
# helper modules.
run_pytest() {
	local s out summary
	for s in tests/integration tests/inspect tests/faults tests/remote; do
		[ -d "$clean/weightfs/$s" ] || continue
		echo "  -- $s"
		out=$(cd "$clean/weightfs" && env "$@" unshare --mount --propagation private \
			/bin/sh -c '[ -z "$1" ] || mount -t tmpfs -o ro,mode=0555 weightfs-hidden "$1" || exit 99
				shift; exec "$@"' sh "$hide" \
			/usr/bin/python3 -m pytest -q -p no:cacheprovider "$s" </dev/null 2>&1)
		echo "$out" | grep -vE '^\.+|^$|^[.sxEF]+ +\[ *[0-9]+%\]$' | tail -40 | sed 's/^/  /'
		summary=$(echo "$out" | grep -E '(passed|failed|error)' | tail -1)
		if [ -z "$summary" ]; then
			echo "  pytest printed no summary for $s"
			failed=$((failed + 1))
		else
			count_pytest "$summary"
		fi
	done
}

echo "== build"
if ! wfs_build build-test -Dwerror=true; then
	echo "build failed"
	echo "0 passed, 1 failed"
	exit 1
fi
stage_bins build-test

echo "== unit tests"
run_unit build-test

# The S3 tests' server: @20minutes/s3rver from npm, at the versions of the
# committed lock file. Debian's nodejs and npm, unless node and npm are
# there already (a nodejs that bundles npm conflicts with Debian's npm).
echo "== npm ci (tests/remote/s3rver)"
if ! { command -v node && command -v npm; } >/dev/null; then
	wfs_install_missing nodejs npm
fi
if out=$(cd "$clean/weightfs/tests/remote/s3rver" && npm ci --no-audit --no-fund --loglevel=error 2>&1); then
	echo "  installed @20minutes/s3rver $(node -p 'require("'"$clean"'/weightfs/tests/remote/s3rver/node_modules/@20minutes/s3rver/package.json").version' 2>/dev/null)"
else
	echo "$out" | tail -20 | sed 's/^/  /'
	echo "  npm ci failed: the S3 tests will fail"
	failed=$((failed + 1))
fi

echo "== integration tests (from $clean/weightfs${hide:+, $hide hidden})"
run_pytest WEIGHTFS_BIN="$clean/bin-build-test/weightfs" WEIGHTFS_INSPECT_BIN="$clean/bin-build-test/weightfs-inspect"

echo "== meson install"
dest=$clean/destdir
if meson install -C build-test --destdir "$dest" >"$logs/install.log" 2>&1; then
	missing=
	for f in bin/weightfs bin/weightfs-inspect share/man/man1/weightfs.1 share/man/man1/weightfs-inspect.1 \
		share/bash-completion/completions/weightfs share/bash-completion/completions/weightfs-inspect; do
		[ -f "$dest/usr/local/$f" ] || missing+=" $f"
	done
	if [ -z "$missing" ] && MANPATH="$dest/usr/local/share/man" man -w weightfs >/dev/null 2>&1; then
		echo "  ok: binaries, man pages (man -w finds them) and completion installed"
		passed=$((passed + 1))
	else
		echo "  FAIL: not installed:${missing:- (man -w weightfs fails)}"
		failed=$((failed + 1))
	fi
else
	tail -20 "$logs/install.log" | sed 's/^/  /'
	failed=$((failed + 1))
fi

# Building, installing and removing the .deb takes about a minute.
if [ "${WEIGHTFS_SKIP_DEB:-0}" != 1 ]; then
	echo "== Debian package (build, lintian, apt-get install, mount with /usr/bin/weightfs, purge)"
	out=$(contrib/deb-check.sh "$clean/deb" 2>&1)
	echo "$out" | sed 's/^/  /'
	ok=$(grep -c '^ok: ' <<<"$out")
	bad=$(grep -c '^FAIL: ' <<<"$out")
	[ "$ok" -eq 0 ] && [ "$bad" -eq 0 ] && bad=1
	passed=$((passed + ok))
	failed=$((failed + bad))
fi

if [ "${WEIGHTFS_SKIP_ASAN:-0}" != 1 ]; then
	echo "== ASan + UBSan build"
	if CC=clang wfs_build build-asan -Dwerror=true -Db_sanitize=address,undefined -Db_lundef=false; then
		san="halt_on_error=1:abort_on_error=0:print_stacktrace=1:log_path=$logs/san"
		export ASAN_OPTIONS="detect_leaks=1:$san" UBSAN_OPTIONS="$san" LSAN_OPTIONS="$san"
		run_unit build-asan
		stage_bins build-asan
		run_pytest WEIGHTFS_BIN="$clean/bin-build-asan/weightfs" \
			WEIGHTFS_INSPECT_BIN="$clean/bin-build-asan/weightfs-inspect" WEIGHTFS_SOAK_SECONDS=5
		unset ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS
		# The daemon's stderr is /dev/null once mounted: its reports are in the logs.
		if ls "$logs"/san* >/dev/null 2>&1; then
			echo "  sanitizer reports:"
			cat "$logs"/san* | head -60 | sed 's/^/  /'
			failed=$((failed + 1))
		else
			echo "  no sanitizer reports"
			passed=$((passed + 1))
		fi
	else
		echo "  sanitizer build failed"
		failed=$((failed + 1))
	fi
fi

if [ -x contrib/fuzz.sh ]; then
	echo "== fuzzing"
	if out=$(contrib/fuzz.sh "${FUZZ_SECONDS:-15}" 2>&1); then
		echo "$out" | tail -15 | sed 's/^/  /'
		passed=$((passed + 1))
	else
		echo "$out" | tail -40 | sed 's/^/  /'
		failed=$((failed + 1))
	fi
fi

rm -rf "$logs" "$clean"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
