#!/bin/bash
# contrib/bench/onnx_tf_mount.sh: mount time of a ~2 GB ONNX model with
# external data and of a TensorFlow checkpoint of the same size, with their
# files in the page cache (issue 11: under 100 ms each).
#
#   contrib/bench/onnx_tf_mount.sh [DIR] [RUNS]    (default /var/tmp/weightfs-bench-onnxtf, 10)
#
# Needs build/weightfs (meson setup build && ninja -C build) and root or
# fuse access. Generates the models once (gen_onnx_tf.py), reads every file
# once so it is cached, then times RUNS mounts of each: from starting
# `weightfs SOURCE MNT` until it returns with the mount in place (it
# returns only then), unmounting between runs. Prints min / median / max.
set -eu
cd "$(dirname "$0")/../.."
dir=${1:-/var/tmp/weightfs-bench-onnxtf}
runs=${2:-10}
bin=${WEIGHTFS:-build/weightfs}
[ -f "$dir/onnx/model.onnx" ] && [ -f "$dir/tf/model.ckpt.index" ] || /usr/bin/python3 contrib/bench/gen_onnx_tf.py "$dir"
cat "$dir"/onnx/* "$dir"/tf/* >/dev/null
mnt=$(mktemp -d /tmp/weightfs-bench-mnt.XXXXXX)
trap 'fusermount3 -u "$mnt" 2>/dev/null || true; rmdir "$mnt"' EXIT
for case in onnx:"$dir/onnx" tf:"$dir/tf"; do
	name=${case%%:*} src=${case#*:}
	times=()
	for _ in $(seq "$runs"); do
		t0=$(date +%s%N)
		"$bin" "$src" "$mnt"
		t1=$(date +%s%N)
		n=$(ls "$mnt" | wc -l)
		# on a loaded machine the kernel may list the mount a moment later
		for _ in 1 2 3 4 5 6 7 8 9 10; do fusermount3 -u "$mnt" 2>/dev/null && break; sleep 0.2; done
		times+=($(( (t1 - t0) / 1000 )))
	done
	sorted=($(printf '%s\n' "${times[@]}" | sort -n))
	size=$(du -sb "$src" | cut -f1)
	printf '%-5s %s bytes, %s top-level entries: mount min %.1f ms, median %.1f ms, max %.1f ms (%d runs)\n' \
		"$name" "$size" "$n" "$(echo "${sorted[0]} / 1000" | bc -l)" \
		"$(echo "${sorted[$((runs / 2))]} / 1000" | bc -l)" "$(echo "${sorted[$((runs - 1))]} / 1000" | bc -l)" "$runs"
done
