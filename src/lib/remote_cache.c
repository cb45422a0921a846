/**
 * @file remote_cache.c
 * The chunk cache of remote files: memory, then disk, then the network.
 *
 * Reads are served in aligned chunks of chunk_size bytes (the last chunk
 * of a file is shorter). Design, and the one lock it takes:
 *
 * - One mutex guards the hash table of chunks (key: file id, chunk index),
 *   the LRU list, the byte count, the readahead queue and each file's
 *   readahead state. It is never held during I/O or a copy: a reader takes
 *   a reference to a chunk under the lock and copies after unlocking.
 * - A chunk is LOADING (in the table, its bytes being fetched by exactly
 *   one thread), READY or FAILED. A reader that finds it LOADING waits on
 *   the condition variable, so a chunk is fetched once however many
 *   threads want it; a chunk still waiting in the readahead queue is taken
 *   over by the reader instead of waited for. A FAILED chunk leaves the
 *   table at once: the next read tries again, and this one returns EIO.
 * - References: the table holds one, and so does every reader, the loader
 *   and the readahead queue. Eviction (least recently used first) removes
 *   READY chunks that only the table references, until the bytes held are
 *   under cache_size; chunks being read or loaded are never freed under a
 *   reader, so the cache may exceed its size while all are in use, and
 *   shrinks back as they are released.
 *   The chunk that needed the room takes over an evicted buffer of its
 *   length, so a full cache streams without allocating.
 * - Readahead: when a read continues one of a file's sequential streams
 *   (a chunk at or right after the stream's last one; up to WFS_RA_STREAMS
 *   readers of one file are followed at once), the next chunks are queued,
 *   the window doubling
 *   from 2 up to 16 (and at most a quarter of the cache; 2 from a near
 *   server, see NEAR_WINDOW), but never more than one chunk past the end of
 *   the tensor being read, so reading one tensor fetches that tensor's
 *   chunks and at most one more (where the next tensor starts, which a
 *   sequential reader wants next). Worker threads (started at the first
 *   readahead, after the daemon has forked) fetch them; one is woken, and
 *   one that leaves chunks queued wakes the next. Readahead is off while the model is opened (formats read
 *   headers through the cache then), so no thread exists before the fork.
 * - Drop-behind: a chunk that a sequential reader has moved past is marked
 *   spent and goes to the end of the LRU list, behind the chunks spent
 *   before it. Once more than a readahead window of spent chunks trail the
 *   reader, the next chunk loaded takes over the oldest one's buffer, even
 *   while the cache is not full. Streaming a file so holds two windows and
 *   a few chunks, not cache_size of memory that every mount would have to
 *   fault in afresh; a second sequential reader up to a window behind the
 *   first finds its chunks, one further behind fetches again what it
 *   passed. Chunks read out of order keep their place, and a spent chunk
 *   read again is an ordinary one.
 * - Disk (cache_dir): one directory per file identity, named by a hash of
 *   it, holding the identity itself (checked on use: a hash collision
 *   disables the disk cache for that file, never serves its bytes) and one
 *   file per chunk, written to a temporary name and renamed, so a chunk
 *   file is always complete. The identity is the commit (hf://) or the
 *   ETag (s3://, https://), the path and the size, plus the chunk size:
 *   bytes of another version of a file can never be served. Files without
 *   such an identity (an HTTP server that sends no ETag) are not disk-cached.
 * - Disk size (cache_dir_size): a chunk file's mtime is when it was last
 *   used (written, read from disk, or, at most once a second, served from
 *   memory: futimens/utimensat), so the oldest mtimes are the least
 *   recently used chunks. Each cache keeps an estimate of the directory's
 *   bytes (a scan at open, plus what it wrote since its last scan); past
 *   the limit, the writer scans the directory and removes the least
 *   recently used chunk files until 7/8 of the limit remain. Several mounts
 *   may share one directory: a trim holds an exclusive flock on
 *   DIR/.lock (one trimmer at a time; a mount that finds it taken leaves
 *   the work to the holder); chunks appear only by rename, so a reader
 *   opens a whole chunk or none, and a chunk removed while another mount
 *   reads it stays readable through that mount's open descriptor. Only
 *   files the cache itself names (digits, and its own stale temporaries)
 *   in directories it names (16 hex digits, '-', digits) are ever removed.
 */
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

#define MAX_WORKERS 16
#define MAX_WINDOW 16
/*
 * Chunks read ahead from a near, fast server (wfs_http_near): there the
 * machine, not the network, limits a read, and more fetches at once only
 * compete with the reader for the CPUs and their caches: from nginx on
 * loopback, a 1 GiB tensor read in 0.42-0.49 s with 2 ahead and in
 * 0.54-1.09 s with 16 (contrib/bench/RESULTS-remote.md).
 */
#define NEAR_WINDOW 2
/*
 * Readahead from other servers tops the window up MAX_GROUP chunks at a
 * time (a quarter of the window, when it is smaller), and a worker fetches
 * consecutive queued chunks with one request: fewer, larger requests. At
 * 20 ms round trip a 1 GiB tensor read in 0.83-0.93 s in 69 requests,
 * against 1.11-1.23 s in 259 (contrib/bench/RESULTS-remote.md), while a
 * random read still fetches one chunk. Not with a disk cache, which holds
 * single chunks.
 */
#define MAX_GROUP 4
/* A chunk served from memory refreshes its disk file's mtime at most this often. */
#define TOUCH_MS 1000

enum chunk_state { LOADING, READY, FAILED };

struct chunk {
	struct wfs_remote_file *f;
	uint64_t k;
	uint8_t *data;
	size_t len;
	int refs;
	long long touched_ms; /* when its disk file's mtime was last set (cache_dir_size) */
	enum chunk_state state;
	int err;
	bool in_table, queued, readahead;
	bool spent; /* a sequential reader has moved past it: the first to be evicted */
	struct chunk *hnext;
	struct chunk *prev, *next; /* LRU, READY chunks in the table */
	struct chunk *qnext;
};

struct wfs_cache {
	struct wfs_remote *r;
	pthread_mutex_t lock;
	pthread_cond_t changed;
	pthread_cond_t work;
	struct chunk **table;
	size_t nbuckets;
	struct chunk lru; /* sentinel: lru.next is the most recently used */
	struct chunk *spent_newest; /* the spent chunks are the last nspent of the LRU list; this is the first of them */
	size_t nspent;
	size_t bytes, capacity;
	char *dir;
	struct chunk *qhead, *qtail;
	pthread_t workers[MAX_WORKERS];
	size_t nworkers;
	bool stop;
	uint64_t reads;       /* reads planned so far: the clock of the readahead streams */
	unsigned window;      /* chunks of readahead; 0 while the model is opened (no threads before the fork) */
	unsigned window_on;   /* the window once the model is open */
	bool disk_warned;
	uint64_t dir_limit;   /* cache_dir_size */
	uint64_t dir_bytes;   /* estimate: the last scan plus our writes since */
	bool trimming;        /* a thread of ours is trimming */
};

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static size_t bucket(const struct wfs_cache *c, uint32_t id, uint64_t k)
{
	uint64_t h = ((uint64_t)id * 0x9e3779b97f4a7c15ULL) ^ (k * 0xc2b2ae3d27d4eb4fULL);
	return (size_t)((h ^ (h >> 29)) % c->nbuckets);
}

static struct chunk *find(struct wfs_cache *c, const struct wfs_remote_file *f, uint64_t k)
{
	for (struct chunk *x = c->table[bucket(c, f->id, k)]; x; x = x->hnext)
		if (x->f == f && x->k == k)
			return x;
	return NULL;
}

/* Takes @p x out of the LRU list (and of the spent chunks at its end). */
static void lru_unlink(struct wfs_cache *c, struct chunk *x)
{
	if (x->spent) {
		if (c->spent_newest == x)
			c->spent_newest = c->nspent > 1 ? x->next : NULL;
		c->nspent--;
		x->spent = false;
	}
	if (x->prev) {
		x->prev->next = x->next;
		x->next->prev = x->prev;
		x->prev = x->next = NULL;
	}
}

static void table_remove(struct wfs_cache *c, struct chunk *x)
{
	struct chunk **pp = &c->table[bucket(c, x->f->id, x->k)];
	while (*pp && *pp != x)
		pp = &(*pp)->hnext;
	if (*pp)
		*pp = x->hnext;
	x->in_table = false;
	c->bytes -= x->len;
	lru_unlink(c, x);
}

static void lru_front(struct wfs_cache *c, struct chunk *x)
{
	lru_unlink(c, x);
	x->next = c->lru.next;
	x->prev = &c->lru;
	c->lru.next->prev = x;
	c->lru.next = x;
}

/*
 * Drop-behind: puts @p x, which a sequential reader has moved past, at the
 * end of the LRU list, before the chunks spent earlier, so that these are
 * the last ones in the order they were passed: the oldest is evicted first.
 */
static void mark_spent(struct wfs_cache *c, struct chunk *x)
{
	lru_unlink(c, x);
	struct chunk *after = c->spent_newest ? c->spent_newest : &c->lru;
	x->next = after;
	x->prev = after->prev;
	after->prev->next = x;
	after->prev = x;
	x->spent = true;
	c->spent_newest = x;
	c->nspent++;
}

static void chunk_unref(struct chunk *x)
{
	if (--x->refs == 0) {
		free(x->data);
		free(x);
	}
}

/* The most chunks readahead fetches ahead of a reader now. */
static unsigned ahead_limit(struct wfs_cache *c)
{
	return c->window > NEAR_WINDOW && wfs_http_near(&c->r->http) ? NEAR_WINDOW : c->window;
}

/*
 * Frees least recently used chunks that nobody is reading until @p extra
 * more bytes fit. The buffer of the first one freed that is exactly
 * @p extra bytes long is returned instead of freed, for the chunk that
 * needs the room: a fresh 4 MiB buffer costs 1,024 page faults, each
 * zeroing a page, on the first write into it (a fifth of the daemon's time
 * when streaming, by perf), and a full cache frees one chunk for every
 * chunk it loads.
 */
static uint8_t *evict(struct wfs_cache *c, size_t extra)
{
	uint8_t *reuse = NULL;
	/*
	 * Drop-behind: the buffer of the oldest spent chunk before fresh memory,
	 * once more than a readahead window of them trail the reader (a second
	 * reader up to a window behind the first still finds its chunks).
	 */
	size_t n = c->nspent;
	for (struct chunk *y = c->lru.prev; n > ahead_limit(c) && y->spent; y = y->prev, n--) {
		if (y->refs == 1 && y->len == extra && y->data != NULL) {
			table_remove(c, y);
			reuse = y->data;
			y->data = NULL;
			chunk_unref(y);
			break;
		}
	}
	struct chunk *x = c->lru.prev;
	while (x != &c->lru && c->bytes + extra > c->capacity) {
		struct chunk *prev = x->prev;
		if (x->refs == 1) {
			table_remove(c, x);
			if (reuse == NULL && x->len == extra && x->data != NULL) {
				reuse = x->data;
				x->data = NULL;
			}
			chunk_unref(x);
		}
		x = prev;
	}
	return reuse;
}

static size_t chunk_len(const struct wfs_cache *c, const struct wfs_remote_file *f, uint64_t k)
{
	uint64_t cs = c->r->chunk_size, start = k * cs;
	return (size_t)(f->size - start < cs ? f->size - start : cs);
}

/* A new LOADING chunk in the table, referenced by the table and the caller. NULL on ENOMEM. */
static struct chunk *insert(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t k)
{
	struct chunk *x = calloc(1, sizeof(*x));
	if (x == NULL)
		return NULL;
	x->f = f;
	x->k = k;
	x->len = chunk_len(c, f, k);
	x->refs = 2;
	x->state = LOADING;
	x->in_table = true;
	x->data = evict(c, x->len); /* NULL unless an evicted chunk's buffer fits */
	size_t b = bucket(c, f->id, k);
	x->hnext = c->table[b];
	c->table[b] = x;
	c->bytes += x->len;
	return x;
}

/*
 * Memory for a chunk's bytes. A chunk of whole 2 MiB pages is aligned to
 * them and offered to transparent huge pages (where the system allows them
 * on request): the kernel then pins and copies it in 2 MiB pieces when it
 * writes a reply from it, not 4 KiB ones. Freed with free().
 */
#define HUGE_PAGE (2u << 20)
static uint8_t *chunk_alloc(size_t len)
{
	if (len < HUGE_PAGE || len % HUGE_PAGE != 0)
		return malloc(len ? len : 1);
	void *p = NULL;
	if (posix_memalign(&p, HUGE_PAGE, len) != 0)
		return NULL;
	(void)madvise(p, len, MADV_HUGEPAGE); /* a hint: refused, it changes nothing */
	return p;
}

/* ---- disk ------------------------------------------------------------- */

static int write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	while (len) {
		ssize_t n = read(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -1;
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Writes @p len bytes to @p path through a temporary name. */
static int write_atomic(const char *path, const void *data, size_t len)
{
	char tmp[4200];
	snprintf(tmp, sizeof(tmp), "%s.tmp.%ld.%lx", path, (long)getpid(), (unsigned long)pthread_self());
	int fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -1;
	int rc = write_all(fd, data, len);
	if (close(fd) < 0)
		rc = -1;
	if (rc == 0 && rename(tmp, path) < 0)
		rc = -1;
	if (rc < 0)
		unlink(tmp);
	return rc;
}

static void disk_warn(struct wfs_cache *c, const char *what, const char *path)
{
	pthread_mutex_lock(&c->lock);
	bool first = !c->disk_warned;
	c->disk_warned = true;
	pthread_mutex_unlock(&c->lock);
	if (first)
		wfs_warnf(&c->r->http.warn, "cache_dir: %s %s: %s; chunks that cannot be written are not kept",
			  what, path, strerror(errno));
}

/* The file's directory in the disk cache, checked against its identity; NULL if none. */
static const char *disk_dir(struct wfs_cache *c, struct wfs_remote_file *f)
{
	int state = __atomic_load_n(&f->disk_state, __ATOMIC_ACQUIRE);
	if (state != 0)
		return state > 0 ? f->disk_dir : NULL;
	if (c->dir == NULL || f->identity == NULL) {
		__atomic_store_n(&f->disk_state, -1, __ATOMIC_RELEASE);
		return NULL;
	}
	char path[4096], idpath[4200];
	size_t idlen = strlen(f->identity);
	snprintf(path, sizeof(path), "%s/%016" PRIx64 "-%zu", c->dir, wfs_fnv1a64(f->identity, idlen),
		 c->r->chunk_size);
	snprintf(idpath, sizeof(idpath), "%s/identity", path);
	int result = -1;
	if (mkdir(path, 0700) < 0 && errno != EEXIST) {
		disk_warn(c, "mkdir", path);
	} else {
		int fd = open(idpath, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			if (write_atomic(idpath, f->identity, idlen) == 0)
				result = 1;
			else
				disk_warn(c, "write", idpath);
		} else {
			struct stat st;
			char *have = malloc(idlen + 1);
			if (have && fstat(fd, &st) == 0 && (size_t)st.st_size == idlen &&
			    read_all(fd, have, idlen) == 0 && memcmp(have, f->identity, idlen) == 0)
				result = 1;
			else
				wfs_warnf(&c->r->http.warn, "cache_dir: %s holds another file; %s is not disk-cached",
					  path, f->path);
			free(have);
			close(fd);
		}
	}
	pthread_mutex_lock(&c->lock);
	if (f->disk_state == 0) {
		if (result > 0 && (f->disk_dir = strdup(path)) == NULL)
			result = -1;
		__atomic_store_n(&f->disk_state, result, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&c->lock);
	return f->disk_state > 0 ? f->disk_dir : NULL;
}

static bool disk_read(struct wfs_cache *c, struct chunk *x)
{
	const char *dir = disk_dir(c, x->f);
	if (dir == NULL)
		return false;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%" PRIu64, dir, x->k);
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	struct stat st;
	bool ok = fstat(fd, &st) == 0 && (uint64_t)st.st_size == x->len && read_all(fd, x->data, x->len) == 0;
	if (ok)
		futimens(fd, NULL); /* most recently used (cache_dir_size); best effort */
	close(fd);
	return ok;
}

/* ---- disk size ---------------------------------------------------------- */

struct disk_entry {
	struct timespec used;
	uint64_t size;
	char *path;
};

static bool all_digits(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A directory name of ours: 16 lowercase hex digits, '-', the chunk size. */
static bool our_dir_name(const char *s)
{
	for (int i = 0; i < 16; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return s[16] == '-' && all_digits(s + 17);
}

static int older_first(const void *a, const void *b)
{
	const struct disk_entry *x = a, *y = b;
	if (x->used.tv_sec != y->used.tv_sec)
		return x->used.tv_sec < y->used.tv_sec ? -1 : 1;
	return x->used.tv_nsec < y->used.tv_nsec ? -1 : x->used.tv_nsec > y->used.tv_nsec;
}

/*
 * The chunk files under the cache directory (appended to *@p v), and their
 * bytes. Temporaries of a writer that died (older than an hour) are removed.
 */
static int disk_scan(const char *root, struct disk_entry **v, size_t *n, size_t *cap, uint64_t *total)
{
	DIR *top = opendir(root);
	if (top == NULL)
		return -errno;
	int rc = 0;
	time_t now = time(NULL);
	struct dirent *d;
	while (rc == 0 && (d = readdir(top)) != NULL) {
		if (!our_dir_name(d->d_name))
			continue;
		char dir[4200];
		snprintf(dir, sizeof(dir), "%s/%s", root, d->d_name);
		DIR *sub = opendir(dir);
		if (sub == NULL)
			continue; /* removed meanwhile, or not a directory */
		struct dirent *e;
		while (rc == 0 && (e = readdir(sub)) != NULL) {
			bool chunk = all_digits(e->d_name);
			if (!chunk && strstr(e->d_name, ".tmp.") == NULL)
				continue;
			struct stat st;
			if (fstatat(dirfd(sub), e->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0 || !S_ISREG(st.st_mode))
				continue;
			if (!chunk) {
				if (now - st.st_mtime > 3600)
					unlinkat(dirfd(sub), e->d_name, 0);
				continue;
			}
			if (*n == *cap) {
				size_t ncap = *cap ? *cap * 2 : 256;
				struct disk_entry *nv = ncap > SIZE_MAX / sizeof(*nv) ? NULL : realloc(*v, ncap * sizeof(*nv));
				if (nv == NULL) {
					rc = -ENOMEM;
					break;
				}
				*v = nv;
				*cap = ncap;
			}
			size_t len = strlen(dir) + strlen(e->d_name) + 2;
			char *path = malloc(len);
			if (path == NULL) {
				rc = -ENOMEM;
				break;
			}
			snprintf(path, len, "%s/%s", dir, e->d_name);
			(*v)[(*n)++] = (struct disk_entry){st.st_mtim, (uint64_t)st.st_size, path};
			*total += (uint64_t)st.st_size;
		}
		closedir(sub);
	}
	closedir(top);
	return rc;
}

/*
 * Brings the cache directory under its limit: removes the least recently
 * used chunk files until 7/8 of cache_dir_size remain, holding DIR/.lock
 * exclusively. Returns the bytes it left, or UINT64_MAX if another
 * process holds the lock (it is trimming) or the scan failed.
 */
static uint64_t disk_trim(struct wfs_cache *c)
{
	char lockpath[4200];
	snprintf(lockpath, sizeof(lockpath), "%s/.lock", c->dir);
	int lfd = open(lockpath, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
	if (lfd < 0) {
		disk_warn(c, "open", lockpath);
		return UINT64_MAX;
	}
	if (flock(lfd, LOCK_EX | LOCK_NB) < 0) {
		close(lfd);
		return UINT64_MAX;
	}
	struct disk_entry *v = NULL;
	size_t n = 0, cap = 0;
	uint64_t total = 0;
	int rc = disk_scan(c->dir, &v, &n, &cap, &total);
	if (rc == 0 && total > c->dir_limit) {
		uint64_t target = c->dir_limit - c->dir_limit / 8;
		qsort(v, n, sizeof(*v), older_first);
		for (size_t i = 0; i < n && total > target; i++)
			if (unlink(v[i].path) == 0 || errno == ENOENT)
				total -= v[i].size;
	}
	for (size_t i = 0; i < n; i++)
		free(v[i].path);
	free(v);
	flock(lfd, LOCK_UN);
	close(lfd);
	return rc == 0 ? total : UINT64_MAX;
}

/* After our writes took the estimate past the limit: trim, once at a time. */
static void disk_maybe_trim(struct wfs_cache *c)
{
	pthread_mutex_lock(&c->lock);
	bool go = c->dir && c->dir_bytes > c->dir_limit && !c->trimming;
	if (go)
		c->trimming = true;
	pthread_mutex_unlock(&c->lock);
	if (!go)
		return;
	uint64_t left = disk_trim(c);
	pthread_mutex_lock(&c->lock);
	if (left != UINT64_MAX)
		c->dir_bytes = left;
	c->trimming = false;
	pthread_mutex_unlock(&c->lock);
}

static void disk_write(struct wfs_cache *c, struct chunk *x)
{
	const char *dir = disk_dir(c, x->f);
	if (dir == NULL)
		return;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%" PRIu64, dir, x->k);
	if (write_atomic(path, x->data, x->len) < 0) {
		disk_warn(c, "write", path);
		return;
	}
	pthread_mutex_lock(&c->lock);
	c->dir_bytes += x->len;
	pthread_mutex_unlock(&c->lock);
}

/* ---- loading ------------------------------------------------------------ */

/*
 * Loads chunks xs[0..n) of one file, consecutive, with one request (n > 1
 * only for readahead without a disk cache: see MAX_GROUP), and publishes
 * each: READY, or FAILED with the error. Drops the caller's references
 * unless @p keep_ref.
 */
static void load(struct wfs_cache *c, struct chunk **xs, size_t n, bool keep_ref)
{
	int rc = 0;
	struct iovec iov[MAX_GROUP];
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (xs[i]->data == NULL)
			xs[i]->data = chunk_alloc(xs[i]->len);
		if (xs[i]->data == NULL)
			rc = -ENOMEM;
		iov[i] = (struct iovec){.iov_base = xs[i]->data, .iov_len = xs[i]->len};
	}
	if (rc == 0 && n == 1 && disk_read(c, xs[0])) {
		atomic_fetch_add(&c->r->stats.disk_hits, 1);
	} else if (rc == 0) {
		rc = wfs_remote_fetchv(xs[0]->f, iov, n, xs[0]->k * c->r->chunk_size);
		for (size_t i = 0; i < n && rc == 0; i++) {
			atomic_fetch_add(&c->r->stats.fetches, 1);
			if (xs[i]->readahead)
				atomic_fetch_add(&c->r->stats.readahead, 1);
			disk_write(c, xs[i]);
		}
	}
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < n; i++) {
		struct chunk *x = xs[i];
		if (rc == 0) {
			x->touched_ms = mono_ms();
			x->state = READY;
			if (x->in_table)
				lru_front(c, x);
		} else {
			x->state = FAILED;
			x->err = rc;
			if (x->in_table) {
				table_remove(c, x);
				chunk_unref(x);
			}
		}
		if (!keep_ref)
			chunk_unref(x);
	}
	pthread_cond_broadcast(&c->changed);
	pthread_mutex_unlock(&c->lock);
	/* After the chunks are published: nobody waits for the trim. */
	disk_maybe_trim(c);
}

/* The first queued chunk (lock held); the queue's reference becomes the caller's. */
static struct chunk *pop(struct wfs_cache *c)
{
	struct chunk *x = c->qhead;
	c->qhead = x->qnext;
	if (c->qhead == NULL)
		c->qtail = NULL;
	x->queued = false;
	x->qnext = NULL;
	return x;
}

static void *worker(void *arg)
{
	struct wfs_cache *c = arg;
	pthread_mutex_lock(&c->lock);
	for (;;) {
		while (!c->stop && c->qhead == NULL)
			pthread_cond_wait(&c->work, &c->lock);
		if (c->stop)
			break;
		/* The first chunk queued, and the ones queued after it that follow it in its file. */
		struct chunk *xs[MAX_GROUP];
		size_t n = 0;
		xs[n++] = pop(c);
		while (c->dir == NULL && n < MAX_GROUP && c->qhead != NULL && c->qhead->f == xs[0]->f &&
		       c->qhead->k == xs[n - 1]->k + 1)
			xs[n++] = pop(c);
		if (c->qhead != NULL)
			pthread_cond_signal(&c->work); /* the rest for another worker */
		pthread_mutex_unlock(&c->lock);
		load(c, xs, n, false); /* the queue's references are now ours */
		pthread_mutex_lock(&c->lock);
	}
	pthread_mutex_unlock(&c->lock);
	return NULL;
}

/* Takes @p x out of the readahead queue (lock held); the queue's reference becomes the caller's. */
static void dequeue(struct wfs_cache *c, struct chunk *x)
{
	struct chunk **pp = &c->qhead, *prev = NULL;
	while (*pp && *pp != x) {
		prev = *pp;
		pp = &(*pp)->qnext;
	}
	if (*pp == NULL)
		return;
	*pp = x->qnext;
	if (c->qtail == x)
		c->qtail = prev;
	x->queued = false;
	x->qnext = NULL;
}

/* The end of the tensor holding byte @p off of @p f (its size when no tensor does). */
static uint64_t tensor_end(const struct wfs_remote_file *f, uint64_t off)
{
	size_t lo = 0, hi = f->nends;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		if (f->ends[mid] <= off)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo < f->nends ? f->ends[lo] : f->size;
}

/*
 * The stream of @p f that a read of chunks @p k0..@p k1 continues (it starts
 * at or right after the stream's last chunk), or NULL after starting a new
 * one in place of the least recently used stream (lock held).
 */
static struct wfs_ra_stream *stream_of(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t k0, uint64_t k1,
				       uint64_t end)
{
	struct wfs_ra_stream *oldest = &f->ra[0];
	c->reads++;
	for (size_t i = 0; i < WFS_RA_STREAMS; i++) {
		struct wfs_ra_stream *s = &f->ra[i];
		if (s->last != UINT64_MAX && k0 + 1 >= s->last && k0 <= s->last + 1) {
			s->used = c->reads;
			return s;
		}
		if (s->used < oldest->used)
			oldest = s;
	}
	*oldest = (struct wfs_ra_stream){.last = k1, .end = end, .streak = 0, .used = c->reads};
	return NULL;
}

/* Notes a read of chunks k0..k1 (lock held) and queues readahead when it continues a stream. */
static void plan_readahead(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t off, uint64_t end)
{
	uint64_t k0 = off / c->r->chunk_size, k1 = (end - 1) / c->r->chunk_size;
	struct wfs_ra_stream *s = stream_of(c, f, k0, k1, end);
	if (s == NULL)
		return;
	/* Forward (or the kernel's readahead slightly out of order); a read again of the same bytes is not. */
	if (off >= s->end && s->streak < 16)
		s->streak++;
	if (end > s->end)
		s->end = end;
	if (k1 > s->last)
		s->last = k1;
	if (c->window == 0 || s->streak == 0)
		return;
	if (k0 > 0 && s->streak >= 2) {
		/* The reader has moved on from chunk k0 - 1 (drop-behind). */
		struct chunk *b = find(c, f, k0 - 1);
		if (b != NULL && b->state == READY && b->in_table && !b->spent)
			mark_spent(c, b);
	}
	unsigned ahead = 1u << (s->streak < 4 ? s->streak : 4);
	if (ahead > ahead_limit(c))
		ahead = ahead_limit(c);
	/* Up to the chunk after the one where the tensor ends: the next tensor's start. */
	uint64_t limit = tensor_end(f, end - 1);
	uint64_t last = (limit - 1) / c->r->chunk_size + 1;
	if (last > (f->size - 1) / c->r->chunk_size)
		last = (f->size - 1) / c->r->chunk_size;
	uint64_t stop = s->last + ahead < last ? s->last + ahead : last;
	unsigned batch = ahead / 4 < 1 ? 1 : ahead / 4 > MAX_GROUP ? MAX_GROUP : ahead / 4;
	if (batch > 1 && c->dir == NULL && stop == s->last + ahead && find(c, f, s->last + 1) != NULL) {
		/* The next chunk is on its way: wait until a whole group is missing. */
		unsigned missing = 0;
		for (uint64_t k = s->last + 2; k <= stop; k++)
			missing += find(c, f, k) == NULL;
		if (missing < batch)
			return;
	}
	bool queued = false;
	for (uint64_t k = s->last + 1; k <= stop; k++) {
		if (find(c, f, k))
			continue;
		struct chunk *x = insert(c, f, k);
		if (x == NULL)
			break;
		x->queued = x->readahead = true;
		if (c->qtail)
			c->qtail->qnext = x;
		else
			c->qhead = x;
		c->qtail = x;
		queued = true;
	}
	if (!queued)
		return;
	size_t want = c->window < MAX_WORKERS ? c->window : MAX_WORKERS;
	while (c->nworkers < want && pthread_create(&c->workers[c->nworkers], NULL, worker, c) == 0)
		c->nworkers++;
	if (c->nworkers == 0) {
		/* No thread: the queued chunks are loaded by whoever reads them. */
		return;
	}
	/* One worker; it wakes the next if it leaves chunks queued (waking all costs a context switch each). */
	pthread_cond_signal(&c->work);
}

/* A chunk used from memory is used: its disk file is not the least recently used. */
static void disk_touch(struct wfs_cache *c, struct chunk *x)
{
	if (__atomic_load_n(&x->f->disk_state, __ATOMIC_ACQUIRE) <= 0)
		return;
	char path[4200];
	snprintf(path, sizeof(path), "%s/%" PRIu64, disk_dir(c, x->f), x->k);
	utimensat(AT_FDCWD, path, NULL, 0); /* gone (trimmed): nothing to refresh */
}

/* A READY chunk with a reference for the caller, or NULL with *rc set. */
static struct chunk *get(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t k, int *rc)
{
	bool touch = false;
	pthread_mutex_lock(&c->lock);
	struct chunk *x = find(c, f, k);
	if (x == NULL) {
		x = insert(c, f, k);
		pthread_mutex_unlock(&c->lock);
		if (x == NULL) {
			*rc = -ENOMEM;
			return NULL;
		}
		load(c, &x, 1, true);
		pthread_mutex_lock(&c->lock);
	} else {
		x->refs++;
		if (x->state == LOADING && x->queued) {
			dequeue(c, x);
			pthread_mutex_unlock(&c->lock);
			x->readahead = false;
			load(c, &x, 1, false); /* drops the queue's reference; ours remains */
			pthread_mutex_lock(&c->lock);
		} else if (x->state == LOADING) {
			atomic_fetch_add(&c->r->stats.waits, 1);
			while (x->state == LOADING)
				pthread_cond_wait(&c->changed, &c->lock);
		} else if (x->state == READY) {
			atomic_fetch_add(&c->r->stats.cache_hits, 1);
			if (x->in_table)
				lru_front(c, x); /* a spent chunk read again is an ordinary one */
			long long now = mono_ms();
			if (c->dir && now - x->touched_ms >= TOUCH_MS) {
				x->touched_ms = now;
				touch = true;
			}
		}
	}
	if (x->state != READY) {
		*rc = x->err ? x->err : -EIO;
		chunk_unref(x);
		x = NULL;
	}
	pthread_mutex_unlock(&c->lock);
	if (touch && x)
		disk_touch(c, x);
	return x;
}

/* Checks a read of [off, off + len) and plans readahead for it; the end, or 0 if out of bounds. */
static uint64_t start_read(struct wfs_cache *c, struct wfs_remote_file *f, size_t len, uint64_t off)
{
	uint64_t end;
	if (__builtin_add_overflow(off, len, &end) || end > f->size)
		return 0;
	pthread_mutex_lock(&c->lock);
	plan_readahead(c, f, off, end);
	pthread_mutex_unlock(&c->lock);
	return end;
}

/*
 * Chunk k of a read of [off, end), with a reference for the caller (see
 * unpin), and in @p slice the part of it the read wants. NULL on failure.
 */
static struct chunk *pin_slice(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t k, uint64_t off,
			       uint64_t end, struct iovec *slice)
{
	int rc = 0;
	struct chunk *x = get(c, f, k, &rc);
	if (x == NULL) {
		atomic_fetch_add(&c->r->stats.errors, 1);
		if (c->r->http.verbose)
			wfs_warnf(&c->r->http.warn, "remote: %s: read of bytes %" PRIu64 "-%" PRIu64 " failed: %s",
				  f->path, off, end - 1, strerror(-rc));
		return NULL;
	}
	uint64_t cstart = k * c->r->chunk_size;
	uint64_t from = off > cstart ? off - cstart : 0;
	uint64_t to = end - cstart < x->len ? end - cstart : x->len;
	slice->iov_base = x->data + from;
	slice->iov_len = (size_t)(to - from);
	return x;
}

/*
 * Chunks in use are never freed, so a cache whose chunks were all being read
 * can exceed its size; once they are released (lock held), it shrinks back.
 */
static void trim(struct wfs_cache *c)
{
	if (c->bytes > c->capacity)
		free(evict(c, 0));
}

static void unpin(struct wfs_cache *c, struct chunk *x)
{
	pthread_mutex_lock(&c->lock);
	chunk_unref(x);
	trim(c);
	pthread_mutex_unlock(&c->lock);
}

ssize_t wfs_cache_read(struct wfs_cache *c, struct wfs_remote_file *f, void *buf, size_t len, uint64_t off)
{
	if (len == 0)
		return 0;
	uint64_t end = start_read(c, f, len, off), cs = c->r->chunk_size;
	if (end == 0)
		return -EIO;
	uint8_t *out = buf;
	for (uint64_t k = off / cs; k <= (end - 1) / cs; k++) {
		struct iovec slice;
		struct chunk *x = pin_slice(c, f, k, off, end, &slice);
		if (x == NULL)
			return -EIO;
		memcpy(out, slice.iov_base, slice.iov_len);
		out += slice.iov_len;
		unpin(c, x);
	}
	return (ssize_t)len;
}

ssize_t wfs_cache_view(struct wfs_cache *c, struct wfs_remote_file *f, size_t len, uint64_t off,
		       struct wfs_view *v)
{
	v->count = 0;
	v->owner = c;
	if (len == 0)
		return 0;
	uint64_t cs = c->r->chunk_size, last;
	if (__builtin_add_overflow(off, len - 1, &last) || last / cs - off / cs >= WFS_VIEW_PARTS)
		return -EAGAIN;
	uint64_t end = start_read(c, f, len, off);
	if (end == 0)
		return -EIO;
	for (uint64_t k = off / cs; k <= (end - 1) / cs; k++) {
		struct chunk *x = pin_slice(c, f, k, off, end, &v->iov[v->count]);
		if (x == NULL)
			return -EIO; /* wfs_cache_unview releases what is pinned */
		v->pins[v->count++] = x;
	}
	return (ssize_t)len;
}

void wfs_cache_unview(struct wfs_cache *c, struct wfs_view *v)
{
	pthread_mutex_lock(&c->lock);
	for (size_t i = 0; i < v->count; i++)
		chunk_unref(v->pins[i]);
	trim(c);
	pthread_mutex_unlock(&c->lock);
	v->count = 0;
}

void wfs_cache_offer(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t off, const void *data, size_t len)
{
	if (off != 0 || len != f->size || len == 0 || len > c->r->chunk_size || len > c->capacity / 4)
		return;
	pthread_mutex_lock(&c->lock);
	if (find(c, f, 0) == NULL) {
		struct chunk *x = insert(c, f, 0);
		uint8_t *copy = x ? (x->data ? x->data : malloc(len)) : NULL;
		if (x && copy) {
			memcpy(copy, data, len);
			x->data = copy;
			x->state = READY;
			lru_front(c, x);
			x->refs--; /* only the table holds it */
		} else if (x) {
			table_remove(c, x);
			x->refs = 1;
			chunk_unref(x);
		}
	}
	pthread_mutex_unlock(&c->lock);
}

int wfs_cache_new(struct wfs_remote *r, size_t capacity, const char *dir, uint64_t dir_limit,
		  struct wfs_cache **out, struct wfs_error *err)
{
	struct wfs_cache *c = calloc(1, sizeof(*c));
	if (c == NULL)
		return -ENOMEM;
	c->r = r;
	c->capacity = capacity;
	c->dir_limit = dir_limit;
	c->lru.next = c->lru.prev = &c->lru;
	c->nbuckets = 4096;
	c->table = calloc(c->nbuckets, sizeof(*c->table));
	/* Readahead may hold a quarter of the cache. */
	size_t w = capacity / 4 / r->chunk_size;
	c->window_on = (unsigned)(w > MAX_WINDOW ? MAX_WINDOW : w);
	pthread_mutex_init(&c->lock, NULL);
	pthread_cond_init(&c->changed, NULL);
	pthread_cond_init(&c->work, NULL);
	*out = c;
	if (c->table == NULL)
		return -ENOMEM;
	if (dir && *dir) {
		if (mkdir(dir, 0700) < 0 && errno != EEXIST) {
			wfs_error_add(err, "cache_dir=%s: %s", dir, strerror(errno));
			return -errno;
		}
		/* Absolute: the daemon changes to / when it detaches. */
		c->dir = realpath(dir, NULL);
		if (c->dir == NULL) {
			wfs_error_add(err, "cache_dir=%s: %s", dir, strerror(errno));
			return -errno;
		}
		struct stat st;
		if (stat(c->dir, &st) < 0 || !S_ISDIR(st.st_mode) || access(c->dir, W_OK | X_OK) < 0) {
			wfs_error_add(err, "cache_dir=%s: not a writable directory", dir);
			return -ENOTDIR;
		}
		/* What earlier mounts left, trimmed if over the limit (it may have shrunk). */
		uint64_t left = disk_trim(c);
		c->dir_bytes = left == UINT64_MAX ? 0 : left;
	}
	return 0;
}

void wfs_cache_free(struct wfs_cache *c)
{
	if (c == NULL)
		return;
	pthread_mutex_lock(&c->lock);
	c->stop = true;
	pthread_cond_broadcast(&c->work);
	pthread_mutex_unlock(&c->lock);
	for (size_t i = 0; i < c->nworkers; i++)
		pthread_join(c->workers[i], NULL);
	/* Nothing runs now: drop the queue and the table. */
	while (c->qhead) {
		struct chunk *x = c->qhead;
		c->qhead = x->qnext;
		x->refs--; /* the queue's */
	}
	for (size_t b = 0; c->table && b < c->nbuckets; b++) {
		struct chunk *x = c->table[b];
		while (x) {
			struct chunk *next = x->hnext;
			free(x->data);
			free(x);
			x = next;
		}
	}
	free(c->table);
	free(c->dir);
	pthread_mutex_destroy(&c->lock);
	pthread_cond_destroy(&c->changed);
	pthread_cond_destroy(&c->work);
	free(c);
}

size_t wfs_cache_bytes(struct wfs_cache *c)
{
	pthread_mutex_lock(&c->lock);
	size_t n = c->bytes;
	pthread_mutex_unlock(&c->lock);
	return n;
}

void wfs_cache_readahead(struct wfs_cache *c, bool on)
{
	pthread_mutex_lock(&c->lock);
	c->window = on ? c->window_on : 0;
	pthread_mutex_unlock(&c->lock);
}
