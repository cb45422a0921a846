/**
 * @file wfsbench.c
 * The timing-critical readers of contrib/bench/run.sh, one program so that
 * every contender (direct pread of the shard, weightfs, squashfuse_ll) is
 * read by exactly the same code.
 *
 *   wfsbench fill FILE OFFSET LENGTH SEED      write LENGTH pseudo-random bytes
 *   wfsbench seq LIST [THREADS [CHUNK]]        read every range, CHUNK-byte reads
 *   wfsbench rand LIST COUNT SEED [SIZE]       COUNT random SIZE-byte reads
 *   wfsbench mmap PATH OFFSET LENGTH           first touch of a mapped range
 *   wfsbench prefault BYTES                    touch BYTES of memory, then free it
 *   wfsbench cached FILE...                    bytes of the files in the page cache
 *
 * LIST has one range per line: "PATH<TAB>OFFSET<TAB>LENGTH". For the direct
 * contender PATH is a shard and OFFSET the tensor's offset in it; for a mount
 * PATH is the tensor file and OFFSET is 0. The same line order (and the same
 * random choices, given the same SEED) is used for every contender, so they
 * read exactly the same bytes.
 *
 * Each mode prints one JSON object on stdout. Times are CLOCK_MONOTONIC and
 * include open() and close() of every file (opening a tensor is part of
 * reading it through a mount).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what)
{
	fprintf(stderr, "wfsbench: %s: %s\n", what, strerror(errno));
	exit(1);
}

static double now(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static uint64_t splitmix(uint64_t *s)
{
	uint64_t z = (*s += 0x9E3779B97F4A7C15ull);
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

/* ---- fill ---------------------------------------------------------------- */

static int cmd_fill(int argc, char **argv)
{
	if (argc != 6)
		return 2;
	int fd = open(argv[2], O_WRONLY | O_CREAT, 0644);
	if (fd < 0)
		die(argv[2]);
	uint64_t off = strtoull(argv[3], NULL, 10), len = strtoull(argv[4], NULL, 10);
	uint64_t seed = strtoull(argv[5], NULL, 10);
	size_t cap = 8u << 20;
	uint64_t *buf = malloc(cap);
	if (buf == NULL)
		die("malloc");
	while (len > 0) {
		size_t n = len < cap ? (size_t)len : cap;
		for (size_t i = 0; i < (n + 7) / 8; i++)
			buf[i] = splitmix(&seed);
		size_t done = 0;
		while (done < n) {
			ssize_t w = pwrite(fd, (char *)buf + done, n - done, (off_t)(off + done));
			if (w < 0)
				die("pwrite");
			done += (size_t)w;
		}
		off += n;
		len -= n;
	}
	if (close(fd) < 0)
		die("close");
	printf("{}\n");
	return 0;
}

/* ---- range lists --------------------------------------------------------- */

struct range {
	char *path;
	uint64_t off, len;
	int fd; /* used by rand */
};

static struct range *load_list(const char *file, size_t *count, uint64_t *total)
{
	FILE *f = fopen(file, "r");
	if (f == NULL)
		die(file);
	size_t n = 0, cap = 1024;
	struct range *r = malloc(cap * sizeof(*r));
	char *line = NULL;
	size_t lcap = 0;
	ssize_t l;
	*total = 0;
	while ((l = getline(&line, &lcap, f)) > 0) {
		if (line[l - 1] == '\n')
			line[--l] = '\0';
		char *t1 = strchr(line, '\t');
		char *t2 = t1 ? strchr(t1 + 1, '\t') : NULL;
		if (t2 == NULL)
			continue;
		*t1 = *t2 = '\0';
		if (n == cap)
			r = realloc(r, (cap *= 2) * sizeof(*r));
		r[n].path = strdup(line);
		r[n].off = strtoull(t1 + 1, NULL, 10);
		r[n].len = strtoull(t2 + 1, NULL, 10);
		r[n].fd = -1;
		*total += r[n].len;
		n++;
	}
	free(line);
	fclose(f);
	*count = n;
	return r;
}

/* ---- seq ----------------------------------------------------------------- */

struct seq_job {
	struct range *r;
	size_t n;
	size_t *idx; /* indices of the ranges this thread reads, in list order */
	size_t nidx;
	size_t chunk;
	uint64_t bytes;
	uint64_t check;
	double seconds;
};

/* Reads ranges in order; consecutive ranges of one file share one open. */
static void *seq_thread(void *p)
{
	struct seq_job *j = p;
	char *buf = aligned_alloc(4096, j->chunk);
	if (buf == NULL)
		die("aligned_alloc");
	memset(buf, 0, j->chunk);
	double t0 = now();
	int fd = -1;
	const char *open_path = NULL;
	for (size_t k = 0; k < j->nidx; k++) {
		const struct range *r = &j->r[j->idx[k]];
		if (open_path == NULL || strcmp(open_path, r->path) != 0) {
			if (fd >= 0)
				close(fd);
			fd = open(r->path, O_RDONLY | O_CLOEXEC);
			if (fd < 0)
				die(r->path);
			open_path = r->path;
		}
		uint64_t done = 0;
		while (done < r->len) {
			size_t want = r->len - done < j->chunk ? (size_t)(r->len - done) : j->chunk;
			ssize_t got = pread(fd, buf, want, (off_t)(r->off + done));
			if (got < 0 && errno == EINTR)
				continue;
			if (got <= 0) {
				fprintf(stderr, "wfsbench: %s: short read at %" PRIu64 "\n", r->path, done);
				exit(1);
			}
			j->check += (unsigned char)buf[0];
			done += (uint64_t)got;
		}
		j->bytes += done;
	}
	if (fd >= 0)
		close(fd);
	j->seconds = now() - t0;
	free(buf);
	return NULL;
}

static int cmd_seq(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	size_t n;
	uint64_t total;
	struct range *r = load_list(argv[2], &n, &total);
	int threads = argc > 3 ? atoi(argv[3]) : 1;
	size_t chunk = argc > 4 ? strtoul(argv[4], NULL, 10) : 1u << 20;
	if (threads < 1 || threads > 64 || chunk == 0)
		return 2;
	struct seq_job jobs[64];
	uint64_t load[64] = {0};
	for (int t = 0; t < threads; t++)
		jobs[t] = (struct seq_job){.r = r, .n = n, .idx = malloc(n * sizeof(size_t)), .chunk = chunk};
	/* Different tensors per thread: each range goes to the least-loaded thread. */
	for (size_t i = 0; i < n; i++) {
		int best = 0;
		for (int t = 1; t < threads; t++)
			if (load[t] < load[best])
				best = t;
		jobs[best].idx[jobs[best].nidx++] = i;
		load[best] += r[i].len;
	}
	pthread_t tid[64];
	double t0 = now();
	for (int t = 0; t < threads; t++)
		if (pthread_create(&tid[t], NULL, seq_thread, &jobs[t]) != 0)
			die("pthread_create");
	uint64_t bytes = 0, check = 0;
	for (int t = 0; t < threads; t++) {
		pthread_join(tid[t], NULL);
		bytes += jobs[t].bytes;
		check += jobs[t].check;
	}
	double secs = now() - t0;
	printf("{\"bytes\": %" PRIu64 ", \"seconds\": %.6f, \"MBps\": %.1f, \"files\": %zu, "
	       "\"threads\": %d, \"chunk\": %zu, \"check\": %" PRIu64 "}\n",
	       bytes, secs, (double)bytes / secs / 1e6, n, threads, chunk, check);
	return bytes == total ? 0 : 1;
}

/* ---- rand ---------------------------------------------------------------- */

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/*
 * COUNT reads of SIZE bytes at SIZE-aligned offsets inside the tensors,
 * tensors chosen with probability proportional to their size. Every file is
 * opened before the clock starts; each read is timed on its own.
 */
static int cmd_rand(int argc, char **argv)
{
	if (argc < 5)
		return 2;
	size_t n;
	uint64_t total;
	struct range *r = load_list(argv[2], &n, &total);
	size_t count = strtoul(argv[3], NULL, 10);
	uint64_t seed = strtoull(argv[4], NULL, 10);
	size_t size = argc > 5 ? strtoul(argv[5], NULL, 10) : 4096;
	uint64_t *cum = malloc(n * sizeof(uint64_t));
	uint64_t acc = 0;
	for (size_t i = 0; i < n; i++) {
		acc += r[i].len;
		cum[i] = acc;
		/* one descriptor per distinct path */
		for (size_t k = 0; k < i && r[i].fd < 0; k++)
			if (r[k].fd >= 0 && strcmp(r[k].path, r[i].path) == 0)
				r[i].fd = r[k].fd;
		if (r[i].fd < 0 && (r[i].fd = open(r[i].path, O_RDONLY | O_CLOEXEC)) < 0)
			die(r[i].path);
	}
	size_t *pick = malloc(count * sizeof(size_t));
	uint64_t *pos = malloc(count * sizeof(uint64_t));
	for (size_t k = 0; k < count; k++) {
		uint64_t x = splitmix(&seed) % acc;
		size_t lo = 0, hi = n - 1;
		while (lo < hi) {
			size_t mid = (lo + hi) / 2;
			if (cum[mid] > x)
				hi = mid;
			else
				lo = mid + 1;
		}
		pick[k] = lo;
		uint64_t slots = r[lo].len > size ? r[lo].len / size : 1;
		pos[k] = (splitmix(&seed) % slots) * size;
	}
	char *buf = aligned_alloc(4096, size < 4096 ? 4096 : size);
	double *lat = malloc(count * sizeof(double));
	uint64_t bytes = 0;
	double t0 = now();
	for (size_t k = 0; k < count; k++) {
		const struct range *x = &r[pick[k]];
		size_t want = x->len - pos[k] < size ? (size_t)(x->len - pos[k]) : size;
		double a = now();
		ssize_t got = pread(x->fd, buf, want, (off_t)(x->off + pos[k]));
		lat[k] = now() - a;
		if (got != (ssize_t)want)
			die("short random read");
		bytes += (uint64_t)got;
	}
	double secs = now() - t0;
	qsort(lat, count, sizeof(double), cmp_double);
	printf("{\"reads\": %zu, \"bytes\": %" PRIu64 ", \"seconds\": %.6f, \"iops\": %.1f, \"MBps\": %.2f, "
	       "\"p50_us\": %.2f, \"p99_us\": %.2f, \"max_us\": %.2f}\n",
	       count, bytes, secs, (double)count / secs, (double)bytes / secs / 1e6,
	       lat[count / 2] * 1e6, lat[(size_t)((double)count * 0.99)] * 1e6, lat[count - 1] * 1e6);
	return 0;
}

/* ---- mmap ---------------------------------------------------------------- */

/* Maps the range and sums the first 8 bytes of every 4 KiB page of it. */
static int cmd_mmap(int argc, char **argv)
{
	if (argc != 5)
		return 2;
	uint64_t off = strtoull(argv[3], NULL, 10), len = strtoull(argv[4], NULL, 10);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t base = off & ~(uint64_t)(page - 1);
	size_t maplen = (size_t)(off - base + len);
	double t0 = now();
	int fd = open(argv[2], O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		die(argv[2]);
	const unsigned char *m = mmap(NULL, maplen, PROT_READ, MAP_SHARED, fd, (off_t)base);
	if (m == MAP_FAILED)
		die("mmap");
	const unsigned char *p = m + (off - base);
	uint64_t sum = 0;
	for (uint64_t i = 0; i + 8 <= len; i += 4096) {
		uint64_t v;
		memcpy(&v, p + i, 8);
		sum += v;
	}
	munmap((void *)m, maplen);
	close(fd);
	double secs = now() - t0;
	printf("{\"bytes\": %" PRIu64 ", \"seconds\": %.6f, \"MBps\": %.1f, \"check\": %" PRIu64 "}\n", len,
	       secs, (double)len / secs / 1e6, sum);
	return 0;
}

/*
 * Touches every page of BYTES of anonymous memory, then frees it. On a VM
 * whose balloon reports free pages to the host, free guest memory is soon
 * unbacked and the first touch of each page costs a host fault; page cache
 * filled from such memory (every FUSE read fills the mount's) runs at a
 * fraction of its speed. Run right before a measurement, this hands the
 * kernel backed pages, the state of a machine without free page reporting.
 */
static int cmd_prefault(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	size_t len = (size_t)strtoull(argv[2], NULL, 10);
	char *p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	for (size_t i = 0; i < len; i += 4096)
		p[i] = 1;
	munmap(p, len);
	return 0;
}

/*
 * The page cache held by the files, counted with cachestat(2) (Linux 6.5),
 * which needs no mapping: it also counts files that cannot be mapped
 * (cache=none mounts answer mmap with ENODEV), where fincore cannot.
 * Prints {"bytes": N} (-1 where the kernel has no cachestat).
 */
#ifndef SYS_cachestat
#define SYS_cachestat 451
#endif
struct cs_range { uint64_t off, len; };
struct cs_stat { uint64_t cache, dirty, writeback, evicted, recently_evicted; };

static int cmd_cached(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	long long total = 0;
	long page = sysconf(_SC_PAGESIZE);
	for (int i = 2; i < argc; i++) {
		int fd = open(argv[i], O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			die(argv[i]);
		struct cs_range r = {0, 0}; /* len 0: to the end of the file */
		struct cs_stat st;
		if (syscall(SYS_cachestat, fd, &r, &st, 0) != 0) {
			if (errno == ENOSYS) {
				total = -1;
				close(fd);
				break;
			}
			die(argv[i]);
		}
		total += (long long)st.cache * page;
		close(fd);
	}
	printf("{\"bytes\": %lld}\n", total);
	return 0;
}

int main(int argc, char **argv)
{
	int rc = 2;
	if (argc >= 2 && strcmp(argv[1], "fill") == 0)
		rc = cmd_fill(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "seq") == 0)
		rc = cmd_seq(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "rand") == 0)
		rc = cmd_rand(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "mmap") == 0)
		rc = cmd_mmap(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "prefault") == 0)
		rc = cmd_prefault(argc, argv);
	else if (argc >= 2 && strcmp(argv[1], "cached") == 0)
		rc = cmd_cached(argc, argv);
	if (rc == 2)
		fprintf(stderr, "usage: wfsbench fill FILE OFFSET LENGTH SEED\n"
				"       wfsbench seq LIST [THREADS [CHUNK]]\n"
				"       wfsbench rand LIST COUNT SEED [SIZE]\n"
				"       wfsbench mmap PATH OFFSET LENGTH\n"
				"       wfsbench prefault BYTES\n"
				"       wfsbench cached FILE...\n");
	return rc;
}
