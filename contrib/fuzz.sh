#!/bin/sh
# Build the libFuzzer harnesses, replay every committed input, fuzz each
# target for a while, and print how many inputs each one ran.
#
#   contrib/fuzz.sh [SECONDS_PER_TARGET]     (default 30)
#
# Installs nothing: it needs clang and libclang-rt-14-dev (Debian), meson and
# ninja, json-c and fuse3 headers (contrib/deps.sh or contrib/test.sh install
# them). The build directory is build-fuzz/, configured with clang, ASan and
# UBSan (every UBSan finding aborts), and the library instrumented for the
# fuzzer. New inputs found while fuzzing go to build-fuzz/corpus/TARGET/,
# crashes to build-fuzz/artifacts/TARGET/; copy a crash to
# tests/fuzz/regressions/TARGET/ to keep it replayed forever.
#
# For a long run of one target (as recorded in tests/fuzz/README.md):
#   build-fuzz/tests/fuzz/fuzz_header -dict=tests/fuzz/safetensors.dict \
#       -runs=10000000 build-fuzz/corpus/header tests/fuzz/corpus/header
#
# Exit status: 0 when every replay and every fuzzing run found nothing.
set -eu

seconds=${1:-30}
case $seconds in
''|*[!0-9]*) echo "usage: $0 [SECONDS_PER_TARGET]" >&2; exit 2 ;;
esac

cd "$(dirname "$0")/.."
root=$(pwd)
build=$root/build-fuzz
targets="header index names ggml_decode protobuf onnx tftable gguf zip pickle"

for tool in clang meson ninja; do
	command -v $tool >/dev/null 2>&1 || {
		echo "fuzz.sh: $tool is missing (apt-get install clang libclang-rt-14-dev meson ninja-build)" >&2
		exit 1
	}
done

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false \
		-Dc_args='-fsanitize=fuzzer-no-link -fno-sanitize-recover=all' \
		-Dc_link_args=-fsanitize=fuzzer-no-link
fi
ninja -C "$build" $(for t in $targets; do printf 'tests/fuzz/fuzz_%s ' "$t"; done)

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=""
summary=""

# 1. Replay: every seed and every regression input, each on its own so that
#    every failing one is named.
for t in $targets; do
	bin=$build/tests/fuzz/fuzz_$t
	n=0
	for f in tests/fuzz/corpus/$t/* tests/fuzz/regressions/$t/*; do
		[ -f "$f" ] || continue
		n=$((n + 1))
		if ! "$bin" "$f" >"$build/replay.log" 2>&1; then
			echo "fuzz.sh: fuzz_$t fails on $f:" >&2
			grep -a -m 5 -E 'runtime error|ERROR|invariant' "$build/replay.log" >&2 || tail -5 "$build/replay.log" >&2
			failed="$failed $f"
		fi
	done
	echo "fuzz_$t: replayed $n committed inputs"
done

# 2. Fuzz each target for the given time, starting from its seeds.
if [ "$seconds" -gt 0 ]; then
	for t in $targets; do
		bin=$build/tests/fuzz/fuzz_$t
		mkdir -p "$build/corpus/$t" "$build/artifacts/$t"
		log=$build/fuzz-$t.log
		status=0
		case $t in
		protobuf|onnx|tftable) dict=-dict=tests/fuzz/protobuf.dict ;;
		gguf) dict=-dict=tests/fuzz/gguf.dict ;;
		zip|pickle) dict=-dict=tests/fuzz/$t.dict ;;
		*) dict=-dict=tests/fuzz/safetensors.dict ;;
		esac
		"$bin" "$dict" -max_total_time="$seconds" \
			-print_final_stats=1 -timeout=25 -rss_limit_mb=2048 \
			-artifact_prefix="$build/artifacts/$t/" \
			"$build/corpus/$t" "tests/fuzz/corpus/$t" >"$log" 2>&1 || status=$?
		execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
		if [ "$status" -ne 0 ]; then
			echo "fuzz.sh: fuzz_$t crashed (exit $status); input in $build/artifacts/$t/:" >&2
			grep -a -m 5 -E 'runtime error|ERROR|invariant' "$log" >&2 || tail -20 "$log" >&2
			failed="$failed fuzz_$t"
		fi
		summary="$summary
fuzz_$t: ${execs:-?} executions in ${seconds} s, exit $status"
	done
fi

echo "$summary" | sed '/^$/d'
if [ -n "$failed" ]; then
	echo "fuzz.sh: FAILED:$failed" >&2
	exit 1
fi
echo "fuzz.sh: no crash"
