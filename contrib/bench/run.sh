#!/bin/bash
# contrib/bench/run.sh: the weightfs performance benchmark (Debian 12, root).
#
# Generates its models, runs every case side by side against the direct
# pread of the shard and against squashfuse_ll on an uncompressed squashfs
# image of the same tensor files, and prints one table. Every comparison is a
# ratio of two contenders measured in the same round, reported as the median
# over the rounds with its range. The contenders' order is shuffled in every
# round (seeded: BENCH_SEED, recorded in machine.json and in an "order" row
# per round): on this VM a contender run right after another is fast or slow
# for reasons of memory history, so a fixed order would bias the ratios.
# Every row records the load average (load1) at its measurement.
#
# Environment:
#   BENCH_DIR=/var/tmp/weightfs-bench  models, images, mountpoints, raw results
#   BENCH_RUNS=5                        rounds per case (medians over these)
#   BENCH_QUICK=1                       small models, 3 rounds: for development
#   BENCH_CASES="seq mmap rand par meta tech flows proof"   which cases to run
#   BENCH_SEED=N                        seed of the contenders' order (default:
#                                       the time; recorded)
#   BENCH_SQUASHFS=0                    leave squashfuse_ll out (no images)
#   BENCH_SEQ_MODELS="llama1b llama8b"  models of the sequential case (1)
#   BENCH_SEQ_CONTENDERS="direct weightfs wfs-none wfs-none-splice squashfuse"
#                                       contenders of the sequential case; also
#                                       bound-page, bound-direct, bound-map:
#                                       fusebound.c, a FUSE daemon that does no
#                                       work (answers from a static buffer, or
#                                       from a mapping of the model's one shard),
#                                       with and without direct I/O: the most
#                                       any daemon can do on this kernel
#   BENCH_MODELS="llama1b llama8b dsv3 tiny"  models to generate (the cases
#                                       skip the others; meta needs all)
#   BENCH_APPEND=1                      add to the raw results instead of starting anew
#   BENCH_KEEP=1                        keep the generated models and images
#   BENCH_PREFAULT=BYTES                memory touched and freed before every
#                                       measurement (default 3 GiB, what one
#                                       llama1b pass fills; 0: none).
#                                       See "Machine" in RESULTS.md: on a VM
#                                       that reports free pages to the host,
#                                       filling any page cache is otherwise
#                                       bound by host page faults.
#   WEIGHTFS=/path/to/weightfs          the binary (default: build the repo)
#
# Output: $BENCH_DIR/out/{raw.jsonl,results.json,table.md}; a full run
# (not BENCH_QUICK) also copies results.json to contrib/bench/results.json.
set -euo pipefail
export LC_ALL=C

here=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$here/../.." && pwd)
BENCH_DIR=${BENCH_DIR:-/var/tmp/weightfs-bench}
QUICK=${BENCH_QUICK:-0}
if [ "$QUICK" = 1 ]; then RUNS=${BENCH_RUNS:-3}; else RUNS=${BENCH_RUNS:-5}; fi
CASES=${BENCH_CASES:-"seq mmap rand par meta tech flows proof"}
SEED=${BENCH_SEED:-$(date +%s)}
SQUASHFS=${BENCH_SQUASHFS:-1}
KEEP=${BENCH_KEEP:-0}
PREFAULT=${BENCH_PREFAULT:-$((3 << 30))}
SEQ_MODELS=${BENCH_SEQ_MODELS:-"llama1b llama8b"}
SEQ_CONTENDERS=${BENCH_SEQ_CONTENDERS:-"direct weightfs wfs-none wfs-none-splice squashfuse"}
RAND_COUNT=$([ "$QUICK" = 1 ] && echo 2000 || echo 20000)

[ "$(id -u)" -eq 0 ] || { echo "run.sh: must run as root (drop_caches, mounts)" >&2; exit 1; }

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }

# ---- dependencies and build --------------------------------------------------

DEPS=(gcc libc6-dev libfuse3-dev fuse3 libjson-c-dev meson ninja-build pkg-config
	python3 python3-numpy attr squashfuse squashfs-tools strace ltrace util-linux libcap2-bin)
missing=()
for p in "${DEPS[@]}"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq </dev/null
	apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null >/dev/null
fi

mkdir -p "$BENCH_DIR"/{bin,mnt/wfs,mnt/sqfs,mnt/bound,img,out}
OUT=$BENCH_DIR/out
RAW=$OUT/raw.jsonl
[ "${BENCH_APPEND:-0}" = 1 ] || : >"$RAW"

if [ -z "${WEIGHTFS:-}" ]; then
	[ -f "$repo/build/build.ninja" ] || meson setup "$repo/build" "$repo" >/dev/null
	ninja -C "$repo/build" weightfs >/dev/null || {
		[ -x "$repo/build/weightfs" ] || exit 1
		log "warning: rebuilding failed, using the existing $repo/build/weightfs"
	}
	WEIGHTFS=$repo/build/weightfs
fi
# A private copy: the binary in the work tree may be rebuilt during the run.
cp "$WEIGHTFS" "$BENCH_DIR/bin/weightfs"
WFS=$BENCH_DIR/bin/weightfs
cc -O2 -Wall -Wextra -pthread -o "$BENCH_DIR/bin/wfsbench" "$here/wfsbench.c"
cc -O2 -Wall -Wextra -shared -fPIC -o "$BENCH_DIR/bin/callcount.so" "$here/callcount.c" -ldl
# shellcheck disable=SC2046
cc -O2 -Wall -Wextra -o "$BENCH_DIR/bin/fusebound" "$here/fusebound.c" $(pkg-config --cflags --libs fuse3)
FB=$BENCH_DIR/bin/fusebound
RD=$BENCH_DIR/bin/wfsbench
PY=/usr/bin/python3

# ---- cleanup -------------------------------------------------------------------

PIPE_MAX_ORIG=$(cat /proc/sys/fs/pipe-max-size)
unmount() {
	local m=$1 i
	for i in 1 2 3 4 5; do
		mountpoint -q "$m" || return 0
		fusermount3 -u "$m" 2>/dev/null && return 0
		sleep 0.2
	done
	fusermount3 -uz "$m" 2>/dev/null || true
}
cleanup() {
	unmount "$BENCH_DIR/mnt/wfs"
	unmount "$BENCH_DIR/mnt/sqfs"
	unmount "$BENCH_DIR/mnt/bound"
	echo "$PIPE_MAX_ORIG" >/proc/sys/fs/pipe-max-size
	if [ "$KEEP" != 1 ]; then
		rm -rf "$BENCH_DIR/models" "$BENCH_DIR/img"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# ---- models, images, range lists ----------------------------------------------

MODELS=${BENCH_MODELS:-"llama1b llama8b dsv3 tiny"}
log "models in $BENCH_DIR/models"
"$PY" "$here/genmodels.py" "$BENCH_DIR" "$RD" --only "$(echo $MODELS | tr ' ' ,)" $([ "$QUICK" = 1 ] && echo --quick)
M=$BENCH_DIR/models
MW=$BENCH_DIR/mnt/wfs
MS=$BENCH_DIR/mnt/sqfs
MB=$BENCH_DIR/mnt/bound

src_of() { echo "$M/$1"; }
shards_of() { cut -f2 "$M/$1.tsv" | uniq; }

wfs_mount() { # MODEL [weightfs options...]
	local model=$1
	shift
	"$WFS" "$@" "$(src_of "$model")" "$MW"
}

# The squashfs image is made from the weightfs mount itself: the same tree,
# the same file contents, no extracted copy on disk. Uncompressed, as asked.
for model in ${MODELS/tiny/}; do
	[ "$SQUASHFS" = 1 ] || break
	img=$BENCH_DIR/img/$model.sqfs
	if [ ! -f "$img" ] || [ "$img" -ot "$M/$model.stamp" ]; then
		log "squashfs image of $model"
		rm -f "$img"
		wfs_mount "$model"
		mksquashfs "$MW" "$img.tmp" -noI -noD -noF -noX -quiet -no-progress >/dev/null
		unmount "$MW"
		mv "$img.tmp" "$img"
	fi
done

for model in $MODELS; do
	awk -F'\t' '{print $2"\t"$3"\t"$4}' "$M/$model.tsv" >"$M/$model.direct.lst"
	awk -F'\t' -v m="$MW" '{print m"/"$1"\t0\t"$4}' "$M/$model.tsv" >"$M/$model.weightfs.lst"
	awk -F'\t' -v m="$MS" '{print m"/"$1"\t0\t"$4}' "$M/$model.tsv" >"$M/$model.squashfuse.lst"
	# fusebound's one file at the tensors' offsets in the shard (bound-map maps the one shard)
	awk -F'\t' -v f="$MB/f" '{print f"\t"$3"\t"$4}' "$M/$model.tsv" >"$M/$model.bound.lst"
done

# ---- contenders ---------------------------------------------------------------
#
# direct      pread of the tensor's byte range from the shard
# weightfs    the default options (or those of a variant below)
# squashfuse  squashfuse_ll on the uncompressed image
# Variants of weightfs (technique sweep) are "wfs-..." names.

declare -A VOPTS=(
	[weightfs]=""
	[wfs-copy]="-o io=copy"
	[wfs-splice]="-o io=splice"
	[wfs-splice-pipe2m]="-o io=splice"
	[wfs-auto-pipe2m]=""
	[wfs-ra128]="-o readahead_kb=128"
	[wfs-ra4096]="-o readahead_kb=4096"
	[wfs-splice-pipe2m-ra4096]="-o io=splice,readahead_kb=4096"
	[wfs-1thread]="-s"
	[wfs-none]="-o cache=none"
	[wfs-none-splice]="-o cache=none,io=splice"
)
# Variants mounted with /proc/sys/fs/pipe-max-size raised to 2 MiB (restored
# at unmount): what a 1 MiB splice needs (1 MiB + header + 3 pages, rounded
# up to a power of two). With the system's 1 MiB, io=splice splices 512 KiB
# reads (max_read=524288) instead; io=auto (the default) always copies.
declare -A VPIPE=([wfs-splice-pipe2m]=2097152 [wfs-auto-pipe2m]=2097152 [wfs-splice-pipe2m-ra4096]=2097152)

list_of() { # CONTENDER MODEL
	case $1 in
	direct) echo "$M/$2.direct.lst" ;;
	squashfuse*) echo "$M/$2.squashfuse.lst" ;;
	bound-*) echo "$M/$2.bound.lst" ;;
	*) echo "$M/$2.weightfs.lst" ;;
	esac
}

backing_of() { # CONTENDER MODEL: the files whose page cache the contender reads
	case $1 in
	squashfuse*) echo "$BENCH_DIR/img/$2.sqfs" ;;
	*) shards_of "$2" ;;
	esac
}

bdi_of() { # MOUNTPOINT: the sysfs readahead file of a FUSE mount
	local dev
	dev=$(awk -v m="$1" '$5 == m {d = $3} END {print d}' /proc/self/mountinfo)
	echo "/sys/class/bdi/$dev/read_ahead_kb"
}

c_mount() { # CONTENDER MODEL
	local c=$1 model=$2
	case $c in
	direct) ;;
	squashfuse)
		squashfuse_ll "$BENCH_DIR/img/$model.sqfs" "$MS"
		stat "$MS" >/dev/null
		;;
	squashfuse-ra1024)
		squashfuse_ll "$BENCH_DIR/img/$model.sqfs" "$MS"
		stat "$MS" >/dev/null
		echo 1024 >"$(bdi_of "$MS")"
		;;
	bound-page | bound-direct)
		local direct=()
		[ "$c" = bound-direct ] && direct=(-o direct)
		"$FB" "${direct[@]}" \
			-o size="$(awk -F'\t' '$3 + $4 > n {n = $3 + $4} END {printf "%.0f", n}' "$M/$model.tsv")" "$MB"
		;;
	bound-map)
		[ "$(shards_of "$model" | wc -l)" = 1 ] || { log "bound-map needs a model of one shard"; exit 1; }
		"$FB" -o direct -o map="$(shards_of "$model")" "$MB"
		;;
	*)
		echo "${VPIPE[$c]:-$PIPE_MAX_ORIG}" >/proc/sys/fs/pipe-max-size
		# shellcheck disable=SC2086
		wfs_mount "$model" ${VOPTS[$c]}
		;;
	esac
}

c_umount() {
	case $1 in
	direct) ;;
	squashfuse*) unmount "$MS" ;;
	bound-*) unmount "$MB" ;;
	*)
		unmount "$MW"
		echo "$PIPE_MAX_ORIG" >/proc/sys/fs/pipe-max-size
		;;
	esac
}

drop_caches() {
	sync
	echo 3 >/proc/sys/vm/drop_caches
}

warm() { # CONTENDER MODEL: read the backing files into the page cache
	local f
	for f in $(backing_of "$1" "$2"); do
		cat "$f" >/dev/null
	done
}

# The contenders of one round in a random order, drawn from BENCH_SEED and
# KEY (case/model/round), so that a run can be repeated in the same order;
# squashfuse contenders are left out with BENCH_SQUASHFS=0.
shuffled() { # KEY WORDS...
	local key=$1 w words=()
	shift
	for w in "$@"; do
		[[ $SQUASHFS = 0 && $w == squashfuse* ]] || words+=("$w")
	done
	"$PY" -c 'import random, sys; a = sys.argv[2:]; random.Random(sys.argv[1]).shuffle(a); print(*a)' \
		"$SEED/$key" "${words[@]}"
}

# The order of a round: shuffled, and recorded as a row of its own.
round_order() { # CASE MODEL RUN WORDS...
	local case=$1 model=$2 run=$3 o
	shift 3
	o=$(shuffled "$case/$model/$run" "$@")
	record "{\"order\": \"$o\"}" case "$case" model "$model" state order contender order run "$run"
	echo "$o"
}

record() { # JSON LABELS...: appends the JSON object with the labels and the load average added
	local json=$1 labels=""
	shift
	while [ $# -gt 0 ]; do
		labels+="\"$1\": \"$2\", "
		shift 2
	done
	labels+="\"load1\": $(cut -d' ' -f1 /proc/loadavg), "
	echo "{${labels}${json#\{}" >>"$RAW"
}

now() { echo "$EPOCHREALTIME"; }
since() { awk -v a="$1" -v b="$EPOCHREALTIME" 'BEGIN {printf "%.6f", b - a}'; }

# Every timed command runs through this: memory first touched and freed
# (BENCH_PREFAULT), then the command, at once.
timed() {
	[ "$PREFAULT" -gt 0 ] && "$RD" prefault "$PREFAULT"
	"$@"
}

largest_tensor() { # MODEL: "NAME_IN_MOUNT SHARD OFFSET NBYTES" of the largest tensor
	sort -t$'\t' -k4,4n "$M/$1.tsv" | tail -1 | awk -F'\t' '{print $1, $2, $3, $4}'
}

# ---- case 1: sequential read of every tensor, 1 MiB reads --------------------

case_seq() {
	local model c r
	for model in $SEQ_MODELS; do
		for ((r = 1; r <= RUNS; r++)); do
			for c in $(round_order seq "$model" "$r" $SEQ_CONTENDERS); do
				log "seq $model round $r $c"
				c_mount "$c" "$model"
				drop_caches
				record "$(timed "$RD" seq "$(list_of "$c" "$model")")" case seq model "$model" state cold contender "$c" run "$r"
				c_umount "$c"
				drop_caches
				warm "$c" "$model"
				c_mount "$c" "$model"
				record "$(timed "$RD" seq "$(list_of "$c" "$model")")" case seq model "$model" state shard_warm contender "$c" run "$r"
				record "$(timed "$RD" seq "$(list_of "$c" "$model")")" case seq model "$model" state warm contender "$c" run "$r"
				c_umount "$c"
			done
		done
	done
}

# ---- technique sweep: the same sequential read with each read-path option ------

case_tech() {
	local model=llama1b c r
	local variants=(direct weightfs wfs-copy wfs-splice wfs-splice-pipe2m wfs-ra128 wfs-ra4096
		wfs-1thread wfs-none wfs-none-splice squashfuse-ra1024)
	for ((r = 1; r <= RUNS; r++)); do
		for c in $(round_order tech "$model" "$r" "${variants[@]}"); do
			log "tech round $r $c"
			c_mount "$c" "$model"
			drop_caches
			record "$(timed "$RD" seq "$(list_of "$c" "$model")")" case tech model "$model" state cold contender "$c" run "$r"
			c_umount "$c"
			drop_caches
			warm "$c" "$model"
			c_mount "$c" "$model"
			record "$(timed "$RD" seq "$(list_of "$c" "$model")")" case tech model "$model" state shard_warm contender "$c" run "$r"
			c_umount "$c"
		done
	done
}

# ---- case 2: mmap first touch and numpy.memmap of the largest tensor ----------

case_mmap() {
	local model=llama1b c r state tool name shard off len path o json
	read -r name shard off len <<<"$(largest_tensor $model)"
	for ((r = 1; r <= RUNS; r++)); do
		for state in cold shard_warm; do
			for tool in mmap numpy; do
				for c in $(round_order "$tool-$state" "$model" "$r" direct weightfs squashfuse); do
					log "mmap $state $tool round $r $c"
					drop_caches
					[ "$state" = cold ] || warm "$c" "$model"
					c_mount "$c" "$model"
					case $c in
					direct) path=$shard o=$off ;;
					squashfuse) path=$MS/$name o=0 ;;
					*) path=$MW/$name o=0 ;;
					esac
					if [ "$tool" = mmap ]; then
						json=$(timed "$RD" mmap "$path" "$o" "$len")
					else
						json=$(timed "$PY" "$here/npmemmap.py" "$path" "$o" "$len")
					fi
					record "$json" case "$tool" model "$model" state "$state" contender "$c" run "$r"
					c_umount "$c"
				done
			done
		done
	done
}

# ---- case 3: 4 KiB random reads across all tensors -----------------------------

case_rand() {
	local model=llama1b c r state
	for ((r = 1; r <= RUNS; r++)); do
		for state in cold shard_warm; do
			for c in $(round_order "rand-$state" "$model" "$r" direct weightfs squashfuse); do
				log "rand $state round $r $c"
				drop_caches
				[ "$state" = cold ] || warm "$c" "$model"
				c_mount "$c" "$model"
				record "$(timed "$RD" rand "$(list_of "$c" "$model")" "$RAND_COUNT" 42 4096)" \
					case rand model "$model" state "$state" contender "$c" run "$r"
				c_umount "$c"
			done
		done
	done
}

# ---- case 4: 4 parallel readers of different tensors ---------------------------

case_par() {
	local model=llama1b c r state
	for ((r = 1; r <= RUNS; r++)); do
		for state in cold shard_warm; do
			for c in $(round_order "par-$state" "$model" "$r" direct weightfs squashfuse); do
				log "par $state round $r $c"
				drop_caches
				[ "$state" = cold ] || warm "$c" "$model"
				c_mount "$c" "$model"
				record "$(timed "$RD" seq "$(list_of "$c" "$model")" 4)" \
					case par model "$model" state "$state" contender "$c" run "$r"
				c_umount "$c"
			done
		done
	done
}

# ---- case 5: metadata ------------------------------------------------------------

daemon_pid() { # MOUNTPOINT: the pid of the FUSE daemon serving it
	local p
	for p in /proc/[0-9]*; do
		if { tr '\0' ' ' <"$p/cmdline"; } 2>/dev/null | grep -qF -- " $1"; then
			case $(readlink "$p/exe" 2>/dev/null) in
			"$WFS" | */squashfuse_ll) echo "${p#/proc/}" && return 0 ;;
			esac
		fi
	done
	return 1
}

rss_kb() { awk '/^VmRSS/ {print $2}' "/proc/$1/status"; }

meta_mount() { # CONTENDER MODEL STATE: mounts, prints the seconds until a tensor answers stat
	local c=$1 model=$2 state=$3 first t0 mnt
	first=$(head -1 "$M/$model.tsv" | cut -f1)
	[ "$c" = weightfs ] && mnt=$MW || mnt=$MS
	if [ "$state" = cold ]; then drop_caches; fi
	t0=$(now)
	c_mount "$c" "$model"
	stat "$mnt/$first" >/dev/null
	since "$t0"
}

case_meta() {
	local model c r state mnt secs pid n rss rss2 t0 tiny_rss
	for ((r = 1; r <= RUNS; r++)); do
		# the daemon's size with a one-tensor model: the baseline of memory per tensor
		wfs_mount tiny
		stat "$MW" >/dev/null
		record "{\"rss_kb\": $(rss_kb "$(daemon_pid "$MW")")}" case meta_baseline model tiny state warm contender weightfs run "$r"
		unmount "$MW"
		for model in llama1b llama8b dsv3; do
			for c in $(round_order meta "$model" "$r" weightfs squashfuse); do
				log "meta $model round $r $c"
				[ "$c" = weightfs ] && mnt=$MW || mnt=$MS
				for state in cold warm; do
					secs=$(meta_mount "$c" "$model" "$state")
					pid=$(daemon_pid "$mnt")
					rss=$(rss_kb "$pid")
					record "{\"seconds\": $secs, \"rss_kb\": $rss}" case mount model "$model" state "$state" contender "$c" run "$r"
					c_umount "$c"
				done
				# each walk on a fresh mount (shards in the page cache)
				c_mount "$c" "$model"
				t0=$(now)
				n=$(find "$mnt" -type f | wc -l)
				record "{\"seconds\": $(since "$t0"), \"files\": $n}" case find model "$model" state fresh_mount contender "$c" run "$r"
				t0=$(now)
				n=$(find "$mnt" -type f | wc -l)
				record "{\"seconds\": $(since "$t0"), \"files\": $n}" case find model "$model" state second contender "$c" run "$r"
				c_umount "$c"
				c_mount "$c" "$model"
				t0=$(now)
				n=$(ls -lR "$mnt" | wc -l)
				record "{\"seconds\": $(since "$t0"), \"lines\": $n}" case ls_lR model "$model" state fresh_mount contender "$c" run "$r"
				c_umount "$c"
				c_mount "$c" "$model"
				pid=$(daemon_pid "$mnt")
				rss=$(rss_kb "$pid")
				t0=$(now)
				n=$( (cd "$mnt" && getfattr -R -d . 2>/dev/null) | grep -c '^user\.' || true)
				secs=$(since "$t0")
				rss2=$(rss_kb "$pid")
				record "{\"seconds\": $secs, \"xattrs\": $n, \"rss_kb_mount\": $rss, \"rss_kb_after\": $rss2}" \
					case getfattr model "$model" state fresh_mount contender "$c" run "$r"
				c_umount "$c"
			done
		done
	done
}

# ---- user-level flows, each against the same work on the shards directly ------
#
# sha256     sha256sum of every tensor file of the mount (sorted), against
#            sha256sum of the shard files (the same bytes and the headers)
# cp         cp -r of layer 0's directories (model.layers.0, .self_attn, .mlp)
#            into tmpfs, against dd of the same byte ranges of the shard
# fromfile   numpy.fromfile of the largest tensor (the 525 MB embedding)
# memmap     numpy.memmap of it (mode "r") and a full sum: not with
#            cache=none, where a shared map fails with ENODEV
# inspect    weightfs-inspect stats of the whole model (it reads the shards
#            itself: no mount, so it is its own baseline)
#
# Each is timed cold (caches dropped) and with the shards in the page cache
# (shard_warm, mount fresh). After each, the page cache it leaves is
# recorded: /proc/meminfo Cached before and after (cached_delta_MB: the
# whole machine's, which other jobs move too), the shards' bytes in the page
# cache (shard_MB) and the tensor files' own page cache through the mount
# (mount_MB), both with cachestat(2) (wfsbench cached), which also counts
# the files of cache=none mounts that fincore cannot map. Each file is
# opened to be measured, and an open of a cache=none file drops its pages
# (no keep_cache), so there mount_MB is 0 by construction; the integration
# test test_reads_leave_no_page_cache_in_the_mount measures on the reader's
# own descriptor instead.

FLOW_CONTENDERS=${BENCH_FLOW_CONTENDERS:-"direct weightfs wfs-none"}
FLOWS=${BENCH_FLOWS:-"sha256 cp fromfile memmap inspect"}
INSPECT=${WEIGHTFS_INSPECT:-$repo/build/src/inspect/weightfs-inspect}

cached_kb() { awk '/^Cached:/ {print $2}' /proc/meminfo; }
cached_bytes() { # FILES...: bytes of them in the page cache
	"$RD" cached "$@" | sed 's/[^0-9-]//g'
}
mb() { awk -v b="$1" 'BEGIN {printf "%.1f", b / 1e6}'; }

flow_run() { # FLOW CONTENDER MODEL: the timed command's JSON (seconds, check)
	local flow=$1 c=$2 model=$3 t0 out name shard off len dst
	read -r name shard off len <<<"$(largest_tensor "$model")"
	dst=/dev/shm/wfs-bench-cp
	rm -rf "$dst"
	mkdir -p "$dst"
	[ "$PREFAULT" -gt 0 ] && "$RD" prefault "$PREFAULT"
	t0=$(now)
	case $flow/$c in
	sha256/direct) out=$(shards_of "$model" | xargs sha256sum | sha256sum | cut -c1-16) ;;
	sha256/*) out=$(cd "$MW" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16) ;;
	cp/direct)
		awk -F'\t' '$5 ~ /^model\.layers\.0\./ {print $2, $3, $4, $5}' "$M/$model.tsv" |
			while read -r s o l n; do
				dd if="$s" of="$dst/$n" iflag=skip_bytes,count_bytes skip="$o" count="$l" bs=1M status=none
			done
		out=$(cat "$dst"/* | wc -c)
		;;
	cp/*)
		cp -r "$MW/model.layers.0" "$MW/model.layers.0.self_attn" "$MW/model.layers.0.mlp" "$dst/"
		out=$(find "$dst" -type f -exec cat {} + | wc -c)
		;;
	fromfile/direct | memmap/direct)
		out=$("$PY" "$here/npmemmap.py" "$shard" "$off" "$len" "$flow")
		;;
	fromfile/* | memmap/*) out=$("$PY" "$here/npmemmap.py" "$MW/$name" 0 "$len" "$flow") ;;
	inspect/*) out=$("$INSPECT" stats --json --no-progress "$(src_of "$model")" | sha256sum | cut -c1-16) ;;
	esac
	local secs
	secs=$(since "$t0")
	rm -rf "$dst"
	if [[ $out == \{* ]]; then # npmemmap.py: its own timing excludes python's start
		echo "$out" | "$PY" -c 'import json, sys; d = json.load(sys.stdin); print(json.dumps({"seconds": d["seconds"], "check": d["check"]}))'
	else
		echo "{\"seconds\": $secs, \"check\": \"$out\"}"
	fi
}

flow_bytes() { # FLOW MODEL: bytes of tensors the flow reads
	case $1 in
	sha256 | inspect) awk -F'\t' '{s += $4} END {printf "%d", s}' "$M/$2.tsv" ;;
	cp) awk -F'\t' '$5 ~ /^model\.layers\.0\./ {s += $4} END {printf "%d", s}' "$M/$2.tsv" ;;
	*) largest_tensor "$2" | awk '{print $4}' ;;
	esac
}

case_flows() {
	local model=llama1b flow c r state json before after sh_before sh_after mnt_b bytes secs cs
	for ((r = 1; r <= RUNS; r++)); do
		for flow in $FLOWS; do
			case $flow in
			inspect) cs=inspect ;;
			memmap) cs=$(round_order "flow-$flow" "$model" "$r" ${FLOW_CONTENDERS/wfs-none/}) ;;
			*) cs=$(round_order "flow-$flow" "$model" "$r" $FLOW_CONTENDERS) ;;
			esac
			bytes=$(flow_bytes "$flow" "$model")
			for state in cold shard_warm; do
				for c in $cs; do
					log "flow $flow $state round $r $c"
					drop_caches
					[ "$state" = cold ] || warm direct "$model"
					[[ $c == direct || $c == inspect ]] || c_mount "$c" "$model"
					before=$(cached_kb)
					sh_before=$(cached_bytes $(shards_of "$model"))
					json=$(flow_run "$flow" "$c" "$model")
					after=$(cached_kb)
					sh_after=$(cached_bytes $(shards_of "$model"))
					mnt_b=null
					if [[ $c != direct && $c != inspect ]]; then
						mnt_b=$(cd "$MW" && find . -type f -print0 | xargs -0 "$RD" cached |
							sed 's/[^0-9-]//g' | awk '{s += $1} END {printf "%d", s}')
					fi
					[[ $c == direct || $c == inspect ]] || c_umount "$c"
					secs=$(echo "$json" | "$PY" -c 'import json, sys; print(json.load(sys.stdin)["seconds"])')
					record "${json%\}}, \"bytes\": $bytes, \"MBps\": $(awk -v b="$bytes" -v s="$secs" 'BEGIN {printf "%.1f", b / s / 1e6}'), \"cached_delta_MB\": $(mb $(((after - before) * 1024))), \"shard_MB\": $(mb "$sh_after"), \"shard_growth_MB\": $(mb $((sh_after - sh_before))), \"mount_MB\": $([ "$mnt_b" = null ] && echo null || mb "$mnt_b")}" \
						case "flow-$flow" model "$model" state "$state" contender "$c" run "$r"
				done
			done
		done
	done
}

# ---- proofs: what the read path calls, and whether splice really splices -------

# Traces the daemon of $MW while FILES are read with their pages dropped; the
# trace command is $TRACE (its output file is $2).
traced_read() { # TRACE_CMD OUTFILE FILES...
	local trace=$1 outf=$2 pid tp
	shift 2
	pid=$(daemon_pid "$MW")
	echo 1 >/proc/sys/vm/drop_caches
	local rc=0
	$trace -p "$pid" -o "$outf" &
	tp=$!
	sleep 2
	cat "$@" >/dev/null || rc=$?
	sleep 1
	kill -INT "$tp" 2>/dev/null || true
	wait "$tp" || true
	return "$rc"
}

case_proof() {
	local model=llama1b files=() p pid tp v mode what name shard off len
	local P=$OUT/proof
	rm -rf "$P"
	mkdir -p "$P"
	read -r -a files <<<"$(awk -F'\t' -v m="$MW" '$1 ~ /mlp/ {print m"/"$1}' "$M/$model.tsv" | head -12 | tr '\n' ' ')"
	# 1. A test hook (callcount.so, LD_PRELOAD) counts allocations, locks and
	#    pread64/splice calls by calling object while the daemon serves reads
	#    of pages dropped from the cache, after a warm-up that gives every
	#    request thread its buffer.
	for v in weightfs wfs-splice wfs-splice-pipe2m; do
		log "proof: call counts $v"
		echo "${VPIPE[$v]:-$PIPE_MAX_ORIG}" >/proc/sys/fs/pipe-max-size
		# shellcheck disable=SC2086
		CALLCOUNT_OUT=$P/callcount-$v.json LD_PRELOAD=$BENCH_DIR/bin/callcount.so \
			"$WFS" ${VOPTS[$v]} "$(src_of "$model")" "$MW"
		pid=$(daemon_pid "$MW")
		"$RD" seq "$M/$model.weightfs.lst" 4 >/dev/null
		"$RD" seq "$M/$model.weightfs.lst" 1 >/dev/null
		echo 1 >/proc/sys/vm/drop_caches
		kill -USR1 "$pid"
		cat "${files[@]}" >/dev/null
		kill -USR2 "$pid"
		sleep 0.5
		c_umount "$v"
	done
	# 1b. The same from outside: ltrace of the calls weightfs's own code makes
	#     (its executable's PLT); every pread64 is one read request.
	#     copy is the default; splice is the wfs-splice variant (512 KiB
	#     reads at the system's pipe-max-size).
	#     ltrace's breakpoints sometimes kill a multi-threaded tracee (the
	#     mount then answers ENOTCONN): such an attempt is retried, up to 3.
	local try
	for mode in copy splice; do
		[ "$mode" = copy ] && v=weightfs || v=wfs-splice
		for try in 1 2 3; do
			log "proof: ltrace io=$mode (attempt $try)"
			c_mount "$v" "$model"
			"$RD" seq "$M/$model.weightfs.lst" 4 >/dev/null
			"$RD" seq "$M/$model.weightfs.lst" 1 >/dev/null
			if traced_read "ltrace -f -c -e malloc+calloc+realloc+free+posix_memalign+aligned_alloc+pthread_mutex_lock+pthread_mutex_trylock+pthread_rwlock_rdlock+pthread_rwlock_wrlock+pthread_spin_lock+pread64+fstat+fstat64+fuse_reply_buf+fuse_reply_data" \
				"$P/ltrace-weightfs-$mode.txt" "${files[@]}" 2>/dev/null; then
				c_umount "$v"
				break
			fi
			log "proof: the daemon died under ltrace"
			echo "attempt $try: the daemon died under ltrace" >>"$P/ltrace-failures.txt"
			c_umount "$v"
		done
	done
	# 2. strace: the system calls per request, copy and splice, with pipe-max-size
	#    as the system has it and raised to 2 MiB, for io=auto (the default)
	#    and io=splice.
	for v in weightfs wfs-splice wfs-auto-pipe2m wfs-splice-pipe2m; do
		log "proof: strace $v"
		c_mount "$v" "$model"
		"$RD" seq "$M/$model.weightfs.lst" 4 >/dev/null
		traced_read "strace -f -c" "$P/strace-c-$v.txt" "${files[@]}"
		traced_read "strace -f -e trace=pread64,splice,vmsplice,writev,fcntl,futex,mmap,munmap,brk" \
			"$P/strace-$v.txt" "${files[@]}"
		c_umount "$v"
	done
	# 3. request sizes seen by the daemon: sequential reads and mmap first touch
	read -r name shard off len <<<"$(largest_tensor $model)"
	for v in weightfs wfs-ra128 wfs-ra4096; do
		log "proof: request sizes $v"
		c_mount "$v" "$model"
		pid=$(daemon_pid "$MW")
		cat "$shard" >/dev/null
		for what in seq mmap; do
			echo 1 >/proc/sys/vm/drop_caches
			strace -f -p "$pid" -e trace=pread64,splice -o "$P/sizes-$v-$what.txt" &
			tp=$!
			sleep 2
			cat "$shard" >/dev/null
			if [ "$what" = seq ]; then
				cat "$MW/$name" >/dev/null
			else
				"$RD" mmap "$MW/$name" 0 "$len" >/dev/null
			fi
			sleep 1
			kill -INT "$tp"
			wait "$tp" || true
		done
		c_umount "$v"
	done
	# squashfuse_ll, for comparison
	squashfuse_ll "$BENCH_DIR/img/$model.sqfs" "$MS"
	stat "$MS" >/dev/null
	pid=$(daemon_pid "$MS")
	for what in seq mmap; do
		cat "$BENCH_DIR/img/$model.sqfs" >/dev/null
		echo 1 >/proc/sys/vm/drop_caches
		cat "$BENCH_DIR/img/$model.sqfs" >/dev/null
		strace -f -p "$pid" -e trace=pread64,read -o "$P/sizes-squashfuse-$what.txt" &
		tp=$!
		sleep 2
		if [ "$what" = seq ]; then
			cat "$MS/$name" >/dev/null
		else
			"$RD" mmap "$MS/$name" 0 "$len" >/dev/null
		fi
		sleep 1
		kill -INT "$tp"
		wait "$tp" || true
	done
	unmount "$MS"
	# 4. splice must not take the shard's pages out of its page cache
	log "proof: shard residency after splice"
	echo 2097152 >/proc/sys/fs/pipe-max-size
	cat "$shard" >/dev/null
	wfs_mount "$model" -o io=splice
	{
		echo "before: $(fincore --noheadings --output PAGES "$shard")"
		cat "$MW/$name" >/dev/null
		echo "after:  $(fincore --noheadings --output PAGES "$shard")"
	} >"$P/splice-residency.txt"
	unmount "$MW"
	echo "$PIPE_MAX_ORIG" >/proc/sys/fs/pipe-max-size
	"$PY" "$here/summarize.py" --proof "$P" >"$P/summary.json"
}

# ---- run -------------------------------------------------------------------------

{
	echo "{\"kernel\": \"$(uname -r)\", \"cpus\": $(nproc), \"mem_kb\": $(awk '/MemTotal/ {print $2}' /proc/meminfo),"
	echo " \"cpu\": \"$(awk -F': ' '/model name/ {print $2; exit}' /proc/cpuinfo)\","
	echo " \"disk\": \"$(df --output=source "$BENCH_DIR" | tail -1)\","
	echo " \"weightfs\": \"$("$WFS" --version | head -1)\", \"git\": \"$(git -C "$repo" describe --always --dirty 2>/dev/null || echo unknown)\","
	echo " \"squashfuse\": \"$(dpkg-query -W -f='${Version}' squashfuse)\", \"pipe_max_size\": $PIPE_MAX_ORIG,"
	echo " \"seed\": $SEED, \"squashfs\": $SQUASHFS, \"load_at_start\": \"$(cut -d' ' -f1-3 /proc/loadavg)\","
	echo " \"quick\": $QUICK, \"runs\": $RUNS, \"rand_count\": $RAND_COUNT, \"prefault_bytes\": $PREFAULT,"
	echo " \"date\": \"$(date -u +%FT%TZ)\"}"
} >"$OUT/machine.json"

for c in $CASES; do
	log "case $c"
	"case_$c"
done

"$PY" "$here/summarize.py" "$OUT" | tee "$OUT/table.md"
if [ "$QUICK" != 1 ]; then
	cp "$OUT/results.json" "$here/results.json"
fi
log "raw results: $RAW; results: $OUT/results.json"
[ "$KEEP" = 1 ] && log "models and images kept in $BENCH_DIR/models and $BENCH_DIR/img"
exit 0
