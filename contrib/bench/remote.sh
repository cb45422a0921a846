#!/bin/bash
# contrib/bench/remote.sh: remote models (hf://) against nginx on loopback.
#
#   1. sequential read of every tensor of a ~0.9 GiB sharded model through
#      the mount, against one curl process fetching the same byte ranges
#      (same order, one connection) in the same run; no added latency
#   2. with 20 ms of added round-trip time: mounting a DeepSeek-V3-scale
#      index (163 shards, 93,696 tiny tensors)
#   3. with 20 ms of added round-trip time: reading one 1 GiB tensor,
#      against a single curl of that range
#
# Each measurement is the median of RUNS (default 5) runs, alternating
# weightfs and curl. Latency is added by a small delay proxy (built from the
# C source below) that holds every byte 10 ms in each direction and every
# new connection one round trip: this kernel has no sch_netem, so
# `tc qdisc ... netem` cannot be used. Everything listens on 127.0.0.1 only.
#
# Usage: contrib/bench/remote.sh            (as root, after building build/)
# Environment: RUNS, BUILD (build directory), KEEP=1 keeps the work directory,
# PARTS (default "1 2 3": which measurements to run), BASELINE (another
# weightfs binary, e.g. of an older revision, also timed in measurement 1, in
# the same rounds; also in measurement 3), PREFAULT (bytes of memory touched and freed before every
# timed read, default 2 GiB, 0 for none: see BENCH_PREFAULT in run.sh),
# VARIANT (weightfs options, e.g. "-o cache=none": the same binary mounted
# with them is also timed in measurements 1 and 3, in the same rounds;
# default "-o cache=none", "" for none), SEED (the order of the contenders,
# shuffled per round; default the time). Every run's 1-minute load average
# is recorded beside its times.
set -euo pipefail
repo=$(cd "$(dirname "$0")/../.." && pwd)
build=${BUILD:-$repo/build}
runs=${RUNS:-5}
variant=${VARIANT--o cache=none}
seed=${SEED:-$(date +%s)}
parts=" ${PARTS:-1 2 3} "
wfs=$build/weightfs
[ -x "$wfs" ] || { echo "build weightfs first ($wfs)" >&2; exit 1; }
command -v nginx >/dev/null || [ -x /usr/sbin/nginx ] || { echo "apt-get install nginx-light" >&2; exit 1; }
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

work=$(mktemp -d /tmp/wfs-remote-bench.XXXXXX)
pids=()
cleanup() {
	for m in "$work"/mnt*; do
		mountpoint -q "$m" 2>/dev/null && fusermount3 -u "$m"
	done
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	wait 2>/dev/null || true
	[ "${KEEP:-0}" = 1 ] || rm -rf "$work"
}
trap cleanup EXIT

echo "== generating models in $work" >&2
/usr/bin/python3 - "$work/root" <<'PY'
import json, os, struct, sys, hashlib
root = sys.argv[1]

def write_st(path, tensors, fill):
    """tensors: [(name, dtype, shape, nbytes)]; data written in 16 MiB pieces."""
    hdr, off = {}, 0
    for name, dtype, shape, n in tensors:
        hdr[name] = {"dtype": dtype, "shape": shape, "data_offsets": [off, off + n]}
        off += n
    text = json.dumps(hdr, separators=(",", ":")).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text)
        left = off
        while left:
            k = min(left, 16 << 20)
            f.write(fill(k))
            left -= k

def hub(repo, files_dir_writer):
    sha = hashlib.sha1(repo.encode()).hexdigest()
    d = os.path.join(root, repo, "resolve", sha)
    os.makedirs(d, exist_ok=True)
    names = files_dir_writer(d)
    api = os.path.join(root, "api", "models", repo, "revision")
    os.makedirs(api, exist_ok=True)
    json.dump({"sha": sha, "siblings": [{"rfilename": n} for n in sorted(names)]},
              open(os.path.join(api, "main"), "w"))

# 1. a Llama-like model of ~0.9 GiB in 4 shards
def seq(d):
    MiB = 1 << 20
    ts = [("model.embed_tokens.weight", "BF16", [32768, 1024], 64 * MiB)]
    for i in range(16):
        p = f"model.layers.{i}."
        ts += [(p + f"self_attn.{x}_proj.weight", "BF16", [1024, 2048], 4 * MiB) for x in "qkvo"]
        ts += [(p + f"mlp.{x}_proj.weight", "BF16", [2816, 2048], 11 * MiB) for x in ("gate", "up", "down")]
        ts += [(p + f"{x}.weight", "BF16", [4096], 8192) for x in ("input_layernorm", "post_attention_layernorm")]
    ts += [("model.norm.weight", "BF16", [4096], 8192), ("lm_head.weight", "BF16", [32768, 1024], 64 * MiB)]
    shards, wm, names = [ts[0:30], ts[30:65], ts[65:100], ts[100:]], {}, []
    for i, s in enumerate(shards):
        n = f"model-{i + 1:05d}-of-{len(shards):05d}.safetensors"
        write_st(os.path.join(d, n), s, os.urandom)
        names.append(n)
        for t in s:
            wm[t[0]] = n
    json.dump({"metadata": {}, "weight_map": wm}, open(os.path.join(d, "model.safetensors.index.json"), "w"))
    return names + ["model.safetensors.index.json"]

# 2. DeepSeek-V3-scale index: 163 shards, 61 layers x 256 experts x 6 tiny tensors
def dsv3(d):
    ts = []
    for l in range(61):
        for e in range(256):
            for p in ("gate_proj", "up_proj", "down_proj"):
                base = f"model.layers.{l}.mlp.experts.{e}.{p}."
                ts.append((base + "weight", "F8_E4M3", [4, 4], 16))
                ts.append((base + "weight_scale_inv", "F32", [1, 1], 4))
    per = -(-len(ts) // 163)
    wm, names = {}, []
    for i in range(163):
        part = ts[i * per:(i + 1) * per]
        n = f"model-{i + 1:05d}-of-000163.safetensors"
        write_st(os.path.join(d, n), part, lambda k: b"\x01" * k)
        names.append(n)
        for t in part:
            wm[t[0]] = n
    json.dump({"metadata": {"total_size": sum(t[3] for t in ts)}, "weight_map": wm},
              open(os.path.join(d, "model.safetensors.index.json"), "w"), indent=2)
    open(os.path.join(d, "config.json"), "w").write('{"model_type": "deepseek_v3"}\n')
    print(f"dsv3: {len(ts)} tensors, index {os.path.getsize(os.path.join(d, 'model.safetensors.index.json'))} bytes",
          file=sys.stderr)
    return names + ["model.safetensors.index.json", "config.json"]

# 3. one 1 GiB tensor
def big(d):
    write_st(os.path.join(d, "model.safetensors"),
             [("big.weight", "U8", [1 << 30], 1 << 30), ("small.bias", "F32", [256], 1024)], os.urandom)
    return ["model.safetensors"]

hub("bench/seq", seq)
hub("bench/dsv3", dsv3)
hub("bench/big", big)
PY

free_port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

echo "== nginx" >&2
port=$(free_port)
mkdir -p "$work/nginx/tmp"
cat >"$work/nginx/nginx.conf" <<EOF
user root;
daemon off;
worker_processes 2;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log warn;
events { worker_connections 1024; }
http {
    default_type application/octet-stream;
    sendfile on;
    tcp_nopush on;
    keepalive_requests 100000;
    access_log off;
    client_body_temp_path $work/nginx/tmp/b; proxy_temp_path $work/nginx/tmp/p;
    fastcgi_temp_path $work/nginx/tmp/f; uwsgi_temp_path $work/nginx/tmp/u; scgi_temp_path $work/nginx/tmp/s;
    server { listen 127.0.0.1:$port; root $work/root; location /api/ { default_type application/json; } }
}
EOF
"$NGINX" -p "$work/nginx" -c "$work/nginx/nginx.conf" &
pids+=($!)

echo "== delay proxy" >&2
cat >"$work/delayproxy.c" <<'C'
/* delayproxy LISTEN UPSTREAM MS: a TCP relay holding every byte MS ms in each
 * direction (and each new connection 2*MS, one handshake), with 64 MiB of
 * buffering per direction. Threads: one reader and one writer per direction. */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int up_port, delay_ms;
struct blk { long long t; size_t n; struct blk *next; char d[]; };
struct dir { int src, dst; pthread_mutex_t m; pthread_cond_t c; struct blk *h, *t; size_t bytes; int eof; struct conn *conn; };
struct conn { struct dir a, b; int refs; pthread_mutex_t m; };
static long long now_us(void) { struct timespec ts; clock_gettime(CLOCK_MONOTONIC, &ts); return ts.tv_sec * 1000000LL + ts.tv_nsec / 1000; }
static void sleep_until(long long t) { long long d = t - now_us(); if (d > 0) { struct timespec ts = {d / 1000000, (d % 1000000) * 1000}; nanosleep(&ts, NULL); } }
static void *reader(void *p) {
	struct dir *x = p;
	for (;;) {
		struct blk *b = malloc(sizeof(*b) + 262144);
		ssize_t n = read(x->src, b->d, 262144);
		pthread_mutex_lock(&x->m);
		while (x->bytes > (64u << 20)) pthread_cond_wait(&x->c, &x->m);
		if (n <= 0) { free(b); x->eof = 1; pthread_cond_broadcast(&x->c); pthread_mutex_unlock(&x->m); return NULL; }
		b->t = now_us() + delay_ms * 1000LL; b->n = (size_t)n; b->next = NULL;
		if (x->t) x->t->next = b; else x->h = b;
		x->t = b; x->bytes += (size_t)n;
		pthread_cond_broadcast(&x->c);
		pthread_mutex_unlock(&x->m);
	}
}
static void done(struct conn *c) {
	pthread_mutex_lock(&c->m);
	int last = --c->refs == 0;
	pthread_mutex_unlock(&c->m);
	if (last) { close(c->a.src); close(c->a.dst); free(c); }
}
static void *writer(void *p) {
	struct dir *x = p;
	for (;;) {
		pthread_mutex_lock(&x->m);
		while (!x->h && !x->eof) pthread_cond_wait(&x->c, &x->m);
		struct blk *b = x->h;
		if (!b) { pthread_mutex_unlock(&x->m); break; }
		x->h = b->next; if (!x->h) x->t = NULL;
		x->bytes -= b->n;
		pthread_cond_broadcast(&x->c);
		pthread_mutex_unlock(&x->m);
		sleep_until(b->t);
		size_t off = 0;
		while (off < b->n) { ssize_t w = write(x->dst, b->d + off, b->n - off); if (w <= 0) break; off += (size_t)w; }
		free(b);
	}
	shutdown(x->dst, SHUT_WR);
	done(x->conn);
	return NULL;
}
static void start(struct dir *x, int src, int dst, struct conn *c) {
	x->src = src; x->dst = dst; x->conn = c;
	pthread_mutex_init(&x->m, NULL); pthread_cond_init(&x->c, NULL);
	pthread_t t;
	pthread_create(&t, NULL, reader, x); pthread_detach(t);
	pthread_create(&t, NULL, writer, x); pthread_detach(t);
}
static void *serve(void *p) {
	int cfd = (int)(long)p, one = 1;
	int ufd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(up_port)};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	sleep_until(now_us() + 2 * delay_ms * 1000LL); /* the handshake's round trip */
	if (connect(ufd, (struct sockaddr *)&sa, sizeof(sa)) < 0) { close(cfd); close(ufd); return NULL; }
	setsockopt(ufd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	setsockopt(cfd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	struct conn *c = calloc(1, sizeof(*c));
	c->refs = 2; pthread_mutex_init(&c->m, NULL);
	c->a.src = cfd; c->a.dst = ufd;
	start(&c->a, cfd, ufd, c);
	start(&c->b, ufd, cfd, c);
	return NULL;
}
int main(int argc, char **argv) {
	if (argc != 4) return 2;
	up_port = atoi(argv[2]); delay_ms = atoi(argv[3]);
	int s = socket(AF_INET, SOCK_STREAM, 0), one = 1;
	setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(atoi(argv[1]))};
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (bind(s, (struct sockaddr *)&sa, sizeof(sa)) < 0 || listen(s, 512) < 0) { perror("listen"); return 1; }
	for (;;) {
		int c = accept(s, NULL, NULL);
		if (c < 0) continue;
		pthread_t t;
		pthread_create(&t, NULL, serve, (void *)(long)c); pthread_detach(t);
	}
}
C
cc -O2 -pthread -o "$work/delayproxy" "$work/delayproxy.c"
cc -O2 -pthread -o "$work/wfsbench" "$repo/contrib/bench/wfsbench.c"
prefault=${PREFAULT:-$((2 << 30))}
prefault() { [ "$prefault" -gt 0 ] && "$work/wfsbench" prefault "$prefault"; return 0; }
dport=$(free_port)
"$work/delayproxy" "$dport" "$port" 10 &
pids+=($!)
for p in $port $dport; do
	for _ in $(seq 100); do curl -s -o /dev/null "http://127.0.0.1:$p/" && break; sleep 0.05; done
done

# The files in the page cache, so nginx serves from memory in every run.
find "$work/root" -type f -exec cat {} + >/dev/null

median() { sort -g | awk '{a[NR]=$1} END {print (NR == 0 ? "nan" : NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}'; }
now() { date +%s.%N; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN {printf "%.3f\n", b - a}'; }
n=0
load1() { cut -d' ' -f1 /proc/loadavg; }
# CPU time, which other jobs on the machine do not inflate as they do wall
# time: of a command (user + system, from /usr/bin/time into $work/cpu) and
# of the daemon serving a mountpoint (from /proc, in seconds).
cpu_of() { /usr/bin/time -f '%U %S' -o "$work/cpu.t" "$@"; awk '{print $1 + $2}' "$work/cpu.t" >"$work/cpu"; }
# CPU time of the whole machine (every process: nginx, the delay relay, the
# reader, the daemon, curl; user + system + interrupts, not steal), in seconds: on 2
# vCPUs, a run cannot take less wall time than half of it.
machine_cpu() { awk -v hz="$(getconf CLK_TCK)" '$1 == "cpu" {printf "%.2f\n", ($2 + $3 + $4 + $7 + $8) / hz; exit}' /proc/stat; }
daemon_cpu() {
	local pid
	pid=$(pgrep -f -- " $1\$" | head -1)
	[ -n "$pid" ] && awk -v hz="$(getconf CLK_TCK)" '{print ($14 + $15) / hz}' "/proc/$pid/stat" || echo nan
}
# The contenders of round $1 of measurement $2 in a seeded random order.
shuffled() {
	local key=$1
	shift
	/usr/bin/python3 -c 'import random, sys; a = sys.argv[2:]; random.Random(sys.argv[1]).shuffle(a); print(*a)' "$seed/$key" "$@"
}
contenders() { # what runs in every round of measurements 1 and 3
	echo curl wfs
	[ -n "$variant" ] && echo var
	[ -n "${BASELINE:-}" ] && echo base
	return 0
}
mount_hf() { # endpoint port, repo, opts... -> prints mountpoint (WFS_BIN: another binary)
	local ep=$1 repo=$2; shift 2
	n=$((n + 1))
	local mnt=$work/mnt$n
	mkdir -p "$mnt"
	HF_ENDPOINT="http://127.0.0.1:$ep" HF_HOME=/nonexistent "${WFS_BIN:-$wfs}" "$@" "hf://$repo" "$mnt" >&2
	echo "$mnt"
}

sha_of() { /usr/bin/python3 -c 'import hashlib,sys; print(hashlib.sha1(sys.argv[1].encode()).hexdigest())' "$1"; }

# ---- 1. sequential read, no added latency --------------------------------
echo "== 1. sequential read of every tensor (loopback, no added latency)" >&2
seqsha=$(sha_of bench/seq)
/usr/bin/python3 - "$work/root/bench/seq/resolve/$seqsha" "http://127.0.0.1:$port/bench/seq/resolve/$seqsha" \
	"$work/seq.curlrc" "$work/seq.files" <<'PY'
import json, struct, sys, os
d, url, rc, files = sys.argv[1:]
wm = json.load(open(os.path.join(d, "model.safetensors.index.json")))["weight_map"]
items = []
for shard in sorted(set(wm.values())):
    b = open(os.path.join(d, shard), "rb").read(1 << 20)
    n = struct.unpack("<Q", b[:8])[0]
    h = json.loads(b[8:8 + n])
    for name, t in h.items():
        if name != "__metadata__":
            items.append((shard, 8 + n + t["data_offsets"][0], 8 + n + t["data_offsets"][1], name))
items.sort()
with open(rc, "w") as f:
    f.write("next\n".join(f'url = "{url}/{shard}"\nrange = "{a}-{b - 1}"\noutput = "/dev/null"\n'
                           for shard, a, b, name in items))
with open(files, "w") as f:
    for shard, a, b, name in items:
        p = name.split(".")
        f.write((name if len(p) <= 2 else ".".join(p[:-2]) + "/" + ".".join(p[-2:])) + "\n")
print(f"{len(items)} tensors, {sum(b - a for _, a, b, _ in items)} bytes", file=sys.stderr)
PY
seq_bytes=$(awk -F'"' '/^range/ {split($2, r, "-"); s += r[2] - r[1] + 1} END {print s}' "$work/seq.curlrc")
: >"$work/seq.curl" ; : >"$work/seq.wfs"; : >"$work/seq.mount"; : >"$work/seq.base"; : >"$work/seq.var"
: >"$work/rounds.txt"
read_all_tensors() { # mountpoint
	(cd "$1" && xargs -d '\n' -a "$work/seq.files" cat >/dev/null)
}
export -f read_all_tensors
export work
for i in $(seq "$runs"); do
	[[ $parts == *" 1 "* ]] || break
	order=$(shuffled "1/$i" $(contenders))
	for c in $order; do
		case $c in
		curl)
			prefault; m0=$(machine_cpu); t=$(now); cpu_of curl -s --config "$work/seq.curlrc"; s=$(since "$t")
			cpu=$(cat "$work/cpu"); m1=$(machine_cpu)
			;;
		*)
			t=$(now)
			# shellcheck disable=SC2086
			case $c in
			wfs) mnt=$(mount_hf "$port" bench/seq) ;;
			var) mnt=$(mount_hf "$port" bench/seq $variant) ;;
			base) mnt=$(WFS_BIN=$BASELINE mount_hf "$port" bench/seq) ;;
			esac
			[ "$c" = wfs ] && since "$t" >>"$work/seq.mount"
			d0=$(daemon_cpu "$mnt")
			prefault; m0=$(machine_cpu); t=$(now); cpu_of bash -c 'read_all_tensors "$1"' _ "$mnt"; s=$(since "$t")
			m1=$(machine_cpu)
			cpu=$(awk -v r="$(cat "$work/cpu")" -v a="$d0" -v b="$(daemon_cpu "$mnt")" 'BEGIN {print r + b - a}')
			fusermount3 -u "$mnt"
			;;
		esac
		echo "$s" >>"$work/seq.$c"
		echo "1 $i $c $s $(load1) $cpu $(awk -v a="$m0" -v b="$m1" 'BEGIN {print b - a}')" >>"$work/rounds.txt"
	done
done

# ---- 2. DeepSeek-V3-scale mount, 20 ms RTT ----------------------------------
echo "== 2. mount of a DeepSeek-V3-scale index (20 ms RTT)" >&2
: >"$work/dsv3.mount"
ntens=0
for i in $(seq "$runs"); do
	[[ $parts == *" 2 "* ]] || break
	t=$(now); mnt=$(mount_hf "$dport" bench/dsv3); since "$t" >>"$work/dsv3.mount"
	ntens=$(getfattr --absolute-names --only-values -n user.tensors "$mnt")
	fusermount3 -u "$mnt"
done

# ---- 3. one 1 GiB tensor, 20 ms RTT -------------------------------------------
echo "== 3. one 1 GiB tensor (20 ms RTT)" >&2
bigsha=$(sha_of bench/big)
bigfile=$work/root/bench/big/resolve/$bigsha/model.safetensors
hl=$(/usr/bin/python3 -c 'import struct,sys; print(struct.unpack("<Q", open(sys.argv[1],"rb").read(8))[0])' "$bigfile")
a=$((8 + hl)); b=$((8 + hl + (1 << 30) - 1))
: >"$work/big.curl"; : >"$work/big.wfs"; : >"$work/big.base"; : >"$work/big.var"
stats=
for i in $(seq "$runs"); do
	[[ $parts == *" 3 "* ]] || break
	order=$(shuffled "3/$i" $(contenders))
	for c in $order; do
		case $c in
		curl)
			prefault; m0=$(machine_cpu); t=$(now)
			cpu_of curl -s -r "$a-$b" -o /dev/null "http://127.0.0.1:$dport/bench/big/resolve/$bigsha/model.safetensors"
			s=$(since "$t"); cpu=$(cat "$work/cpu"); m1=$(machine_cpu)
			;;
		*)
			# shellcheck disable=SC2086
			case $c in
			wfs) mnt=$(mount_hf "$dport" bench/big) ;;
			var) mnt=$(mount_hf "$dport" bench/big $variant) ;;
			base) mnt=$(WFS_BIN=$BASELINE mount_hf "$dport" bench/big) ;;
			esac
			d0=$(daemon_cpu "$mnt")
			prefault; m0=$(machine_cpu); t=$(now); cpu_of cat "$mnt/big.weight" >/dev/null; s=$(since "$t")
			m1=$(machine_cpu)
			cpu=$(awk -v r="$(cat "$work/cpu")" -v a="$d0" -v b="$(daemon_cpu "$mnt")" 'BEGIN {print r + b - a}')
			[ "$c" = wfs ] && stats=$(getfattr --absolute-names --only-values -n user.remote.stats "$mnt")
			fusermount3 -u "$mnt"
			;;
		esac
		echo "$s" >>"$work/big.$c"
		echo "3 $i $c $s $(load1) $cpu $(awk -v a="$m0" -v b="$m1" 'BEGIN {print b - a}')" >>"$work/rounds.txt"
	done
done

m_seq_curl=$(median <"$work/seq.curl"); m_seq_wfs=$(median <"$work/seq.wfs"); m_seq_mount=$(median <"$work/seq.mount")
m_dsv3=$(median <"$work/dsv3.mount")
m_big_curl=$(median <"$work/big.curl"); m_big_wfs=$(median <"$work/big.wfs")
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {if (b + 0 > 0) printf "%.2f", a / b; else printf "-"}'; }
# Paired: the ratio A/B of the same round, median [min-max] over the rounds.
paired() { # MEASUREMENT A B
	awk -v m="$1" -v a="$2" -v b="$3" '$1 == m && $3 == a {x[$2] = $4} $1 == m && $3 == b {y[$2] = $4}
		END {for (r in x) if (r in y && y[r] > 0) print x[r] / y[r]}' "$work/rounds.txt" |
		sort -g | awk '{v[NR] = $1} END {if (NR == 0) {print "-"; exit}
			m = NR % 2 ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
			printf "%.2f [%.2f-%.2f]", m, v[1], v[NR]}'
}
loads() { awk -v m="$1" '$1 == m {print $5}' "$work/rounds.txt" | sort -g | awk '{v[NR] = $1} END {if (NR) printf "%.1f [%.1f-%.1f]", v[int((NR + 1) / 2)], v[1], v[NR]; else print "-"}'; }
m_seq_var=$(median <"$work/seq.var"); m_big_var=$(median <"$work/big.var")
cpus() { awk -v m="$1" -v c="$2" '$1 == m && $3 == c {print $6}' "$work/rounds.txt" | median; }
mcpus() { awk -v m="$1" -v c="$2" '$1 == m && $3 == c {print $7}' "$work/rounds.txt" | median; }
mbps() { awk -v n="$1" -v t="$2" 'BEGIN {if (t + 0 > 0) printf "%.0f", n / t / 1048576; else printf "-"}'; }
cat <<EOF

| measurement | weightfs | curl | ratio | target |
|---|---|---|---|---|
| 1. sequential read of every tensor, $(mbps "$seq_bytes" 1) MiB, loopback | $m_seq_wfs s ($(mbps "$seq_bytes" "$m_seq_wfs") MiB/s) | $m_seq_curl s ($(mbps "$seq_bytes" "$m_seq_curl") MiB/s) | $(ratio "$m_seq_curl" "$m_seq_wfs")x curl's speed | >= 0.9x |
| 2. mount, $ntens tensors in 163 shards, 20 ms RTT | $m_dsv3 s | | | < 1 s |
| 3. one 1 GiB tensor, 20 ms RTT | $m_big_wfs s ($(mbps $((1 << 30)) "$m_big_wfs") MiB/s) | $m_big_curl s ($(mbps $((1 << 30)) "$m_big_curl") MiB/s) | $(ratio "$m_big_wfs" "$m_big_curl")x curl's time | <= 1.2x |

Paired ratios (per round, median [range]), load average (1 min) median [range] over the runs:

| measurement | weightfs speed / curl's | weightfs \`$variant\` speed / curl's | \`$variant\` / default | load |
|---|---|---|---|---|
| 1. sequential, loopback | $(paired 1 curl wfs) | $(paired 1 curl var) | $(paired 1 wfs var) | $(loads 1) |
| 3. one 1 GiB tensor, 20 ms RTT (time: curl's / weightfs's) | $(paired 3 curl wfs) | $(paired 3 curl var) | $(paired 3 wfs var) | $(loads 3) |

CPU seconds (median; weightfs: the reader plus the daemon while reading; curl: curl):
measurement 1: curl $(cpus 1 curl), weightfs $(cpus 1 wfs), \`$variant\` $(cpus 1 var);
measurement 3: curl $(cpus 3 curl), weightfs $(cpus 3 wfs), \`$variant\` $(cpus 3 var).
CPU seconds of the whole machine during the read (median; every process, the server and the relay too;
on $(nproc) CPUs a read takes at least this divided by $(nproc)):
measurement 1: curl $(mcpus 1 curl), weightfs $(mcpus 1 wfs), \`$variant\` $(mcpus 1 var);
measurement 3: curl $(mcpus 3 curl), weightfs $(mcpus 3 wfs), \`$variant\` $(mcpus 3 var).
Per run (measurement, round, contender, seconds, load, CPU seconds, machine CPU seconds): see $work/rounds.txt, printed below.

With \`$variant\`: measurement 1 $m_seq_var s, runs [$(paste -sd' ' "$work/seq.var")]; measurement 3 $m_big_var s, runs [$(paste -sd' ' "$work/big.var")]. Seed $seed.

Medians of $runs runs, each timed read right after touching and freeing $prefault bytes of memory.
Mount of the sequential model (loopback): $m_seq_mount s.
$([ -n "${BASELINE:-}" ] && echo "Baseline $BASELINE: measurement 1 $(median <"$work/seq.base") s, runs [$(paste -sd' ' "$work/seq.base")]; measurement 3 $(median <"$work/big.base") s, runs [$(paste -sd' ' "$work/big.base")].")
Runs (s): seq curl [$(paste -sd' ' "$work/seq.curl")], seq weightfs [$(paste -sd' ' "$work/seq.wfs")],
dsv3 mount [$(paste -sd' ' "$work/dsv3.mount")], 1 GiB curl [$(paste -sd' ' "$work/big.curl")],
1 GiB weightfs [$(paste -sd' ' "$work/big.wfs")].
Last 1 GiB read: user.remote.stats = $stats

\`\`\`
$(cat "$work/rounds.txt")
\`\`\`
EOF
