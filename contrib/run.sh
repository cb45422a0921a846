#!/bin/bash
# contrib/run.sh [SOURCE]: install what is missing, build, and mount SOURCE
# (default: a small generated Llama-shaped sample model) on ./mnt, then show
# what to try. Debian 12, as root.
set -euo pipefail
repo=$(cd "$(dirname "$0")/.." && pwd)
cd "$repo"
. contrib/deps.sh

wfs_install_missing "${WFS_BUILD_DEPS[@]}"
wfs_build build

if [ $# -ge 1 ]; then
	source=$1
else
	source=$repo/sample-model
	if [ ! -f "$source/model.safetensors.index.json" ]; then
		/usr/bin/python3 contrib/make-sample-model.py "$source"
	fi
fi

mnt=$repo/mnt
mkdir -p "$mnt"
if mountpoint -q "$mnt"; then
	fusermount3 -u "$mnt"
fi
build/weightfs "$source" "$mnt"

first=$mnt/model.layers.0.self_attn/q_proj.weight
[ -f "$first" ] || first=$(find "$mnt" -type f -name '*.weight' | sort | head -1)
cat <<MSG

Mounted $source on $mnt. Try:

  ls $mnt
  ls $mnt/model.layers.0.self_attn
  getfattr -d ${first:-$mnt/FILE}
  getfattr -d $mnt                       # format, metadata, totals
  dd if=${first:-$mnt/FILE} bs=2 count=4 status=none | hexdump -C
  /usr/bin/python3 -c "import numpy as np; print(np.fromfile('${first:-$mnt/FILE}', np.uint16)[:10])"
  df -h $mnt

Other layouts: fusermount3 -u $mnt && build/weightfs -o layout=tree $source $mnt
Every tensor as a .npy file that numpy loads (BF16, FP8, FP4/FP6 decoded to float32):
  fusermount3 -u $mnt && build/weightfs -o view=npy $source $mnt
  /usr/bin/python3 -c "import numpy as np; a = np.load('${first:-$mnt/FILE}.npy', mmap_mode='r'); print(a.dtype, a.shape, a.ravel()[:4])"
Other formats (the project's test files, written by torch, gguf-py, onnx, TensorFlow):
  contrib/run.sh tests/data/pytorch-samples/checkpoint.pt
  contrib/run.sh tests/data/gguf-samples/split        # a GGUF split in 3 parts
  contrib/run.sh tests/data/onnx-samples/external_single
  contrib/run.sh tests/data/tf-samples/saved_model_half_plus_two_mkl/00000123
Unmount:       fusermount3 -u $mnt
MSG
