/**
 * @file model.c
 * Opens a model from a SOURCE: finds its index or safetensors files, opens
 * and validates every shard, cross-checks the index, and serves reads.
 *
 * Shards are opened relative to the model directory's descriptor and kept
 * open, so a shard renamed or replaced while mounted keeps serving the bytes
 * that were validated. When the process is short of descriptors, the shards
 * past its budget are reopened for every read and checked to be the same
 * file (device, inode, size) they were at open.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define INDEX_NAME "model.safetensors.index.json"
/* Descriptors left for everything else (FUSE, extra files being read). */
#define FD_RESERVE 64

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static size_t fd_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return SIZE_MAX;
	return rl.rlim_cur > FD_RESERVE ? (size_t)(rl.rlim_cur - FD_RESERVE) : 0;
}

static struct wfs_model *model_new(void)
{
	struct wfs_model *m = calloc(1, sizeof(*m));
	if (m) {
		m->dirfd = -1;
		m->format = "safetensors";
	}
	return m;
}

void wfs_model_free(struct wfs_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nshards; i++)
		if (m->shards[i].fd >= 0)
			close(m->shards[i].fd);
	if (m->dirfd >= 0)
		close(m->dirfd);
	wfs_remote_free(m->remote);
	free(m->arena);
	free(m->tensors);
	free(m->dims);
	free(m->shards);
	free(m->metadata);
	free(m->index_meta);
	free(m->extras);
	free(m);
}

static int add_shard(struct wfs_model *m, const char *name, size_t len)
{
	if (m->nshards >= UINT32_MAX || WFS_GROW(m->shards, m->cap.shards, m->nshards, 1) < 0)
		return -ENOMEM;
	struct wfs_shard *s = &m->shards[m->nshards];
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (wfs_arena_add(m, name, len, &s->name) < 0)
		return -ENOMEM;
	m->nshards++;
	return 0;
}

/* Reads exactly len bytes at off from fd: 0, -EIO if the file is shorter, or -errno. */
static int read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* Opens shard i, validates its header, and keeps its descriptor when @p keep_fd. */
static int load_shard(struct wfs_model *m, uint32_t i, bool keep_fd, const struct wfs_warn *warn,
		      struct wfs_error *err)
{
	struct wfs_shard *s = &m->shards[i];
	char name[PATH_MAX];
	snprintf(name, sizeof(name), "%s", wfs_model_str(m, s->name));
	char q[WFS_QUOTE_MAX];
	int fd = openat(m->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		/* The shard was named by the index (or found by listing the directory). */
		wfs_error_add(err, "%s%sshard %s: %s", m->sharded ? wfs_model_str(m, m->index_name) : "",
			      m->sharded ? ": " : "", wfs_quote(name, strlen(name), q), strerror(e));
		return e == ENOENT || e == ENOTDIR || e == ELOOP ? WFS_EINVALID : -e;
	}
	struct stat st;
	uint8_t prefix[8];
	char *header = NULL;
	uint64_t header_len = 0;
	int rc = 0;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		wfs_error_add(err, "%s: %s", name, strerror(-rc));
		goto out;
	}
	if (!S_ISREG(st.st_mode)) {
		wfs_error_add(err, "%s: not a regular file", name);
		rc = WFS_EINVALID;
		goto out;
	}
	s->size = (uint64_t)st.st_size;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->mtime = st.st_mtim;
	if (s->size >= 8 && (rc = read_exact(fd, prefix, 8, 0)) < 0) {
		wfs_error_add(err, "%s: %s", name, strerror(-rc));
		goto out;
	}
	if ((rc = wfs_st_check_prefix(name, prefix, s->size, &header_len, err)) < 0)
		goto out;
	header = malloc(header_len);
	if (header == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	if ((rc = read_exact(fd, header, header_len, 8)) < 0) {
		wfs_error_add(err, "%s: %s", name, strerror(-rc));
		goto out;
	}
	rc = wfs_st_parse_header(m, i, name, warn, header, header_len, s->size, err);
out:
	free(header);
	if (rc == 0 && keep_fd)
		s->fd = fd;
	else
		close(fd);
	return rc;
}

/*
 * With cold caches, reading 163 headers one after another waits on the disk
 * 163 times. Asking for every shard's first MiB up front lets the kernel
 * fetch them all at once while the first ones are parsed.
 */
static void prefetch_headers(const struct wfs_model *m)
{
	if (m->nshards < 2)
		return;
	for (size_t i = 0; i < m->nshards; i++) {
		int fd = openat(m->dirfd, wfs_model_str(m, m->shards[i].name), O_RDONLY | O_CLOEXEC);
		if (fd >= 0) {
			posix_fadvise(fd, 0, 1 << 20, POSIX_FADV_WILLNEED);
			close(fd);
		}
	}
}

static int load_shards(struct wfs_model *m, const struct wfs_warn *warn, struct wfs_error *err)
{
	size_t budget = fd_budget();
	int rc = 0;
	prefetch_headers(m);
	for (uint32_t i = 0; i < m->nshards; i++) {
		int r = load_shard(m, i, i < budget, warn, err);
		if (r == -ENOMEM)
			return r;
		/* Keep going after an invalid shard so every problem is reported;
		 * an unreadable one (-errno) decides the exit status. */
		if (r < 0 && (rc == 0 || rc == WFS_EINVALID))
			rc = r;
	}
	return rc;
}

static int compare_tensors(const void *a, const void *b, void *arena)
{
	const struct wfs_tensor *x = a, *y = b;
	size_t n = x->name.len < y->name.len ? x->name.len : y->name.len;
	int c = memcmp((char *)arena + x->name.off, (char *)arena + y->name.off, n);
	return c ? c : (x->name.len > y->name.len) - (x->name.len < y->name.len);
}

int wfs_model_finish(struct wfs_model *m, struct wfs_error *err)
{
	if (m->ntensors > 1) /* qsort must not see NULL, even for 0 elements */
		qsort_r(m->tensors, m->ntensors, sizeof(*m->tensors), compare_tensors, m->arena);
	int rc = 0;
	for (size_t i = 1; i < m->ntensors; i++) {
		const struct wfs_tensor *a = &m->tensors[i - 1], *b = &m->tensors[i];
		if (compare_tensors(a, b, m->arena) == 0) {
			char q[WFS_QUOTE_MAX], qa[WFS_QUOTE_MAX], qb[WFS_QUOTE_MAX];
			const struct wfs_str sa = m->shards[a->shard].name, sb = m->shards[b->shard].name;
			wfs_error_add(err, "tensor %s is in both %s and %s",
				      wfs_quote(wfs_model_str(m, a->name), a->name.len, q),
				      wfs_quote(wfs_model_str(m, sa), sa.len, qa),
				      wfs_quote(wfs_model_str(m, sb), sb.len, qb));
			rc = WFS_EINVALID;
		}
	}
	m->total_bytes = 0;
	for (size_t i = 0; i < m->ntensors; i++)
		m->total_bytes += m->tensors[i].nbytes; /* tensors tile their files: no overflow */
	for (size_t i = 0; i < m->nshards; i++) {
		const struct timespec *t = &m->shards[i].mtime;
		if (t->tv_sec > m->newest_mtime.tv_sec ||
		    (t->tv_sec == m->newest_mtime.tv_sec && t->tv_nsec > m->newest_mtime.tv_nsec))
			m->newest_mtime = *t;
	}
	return rc;
}

ssize_t wfs_model_find(const struct wfs_model *m, const char *name, size_t len)
{
	size_t lo = 0, hi = m->ntensors;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct wfs_tensor *t = &m->tensors[mid];
		size_t n = t->name.len < len ? t->name.len : len;
		int c = memcmp(wfs_model_str(m, t->name), name, n);
		if (c == 0)
			c = (t->name.len > len) - (t->name.len < len);
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

int wfs_index_check(struct wfs_model *m, const struct wfs_index *idx, const char *label,
		    const struct wfs_warn *warn, struct wfs_error *err)
{
	bool *listed = calloc(m->ntensors ? m->ntensors : 1, 1);
	if (listed == NULL)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < idx->nentries; i++) {
		const struct wfs_index_entry *e = &idx->entries[i];
		const char *name = idx->strings.data + e->tensor.off;
		ssize_t t = wfs_model_find(m, name, e->tensor.len);
		char q[WFS_QUOTE_MAX], sq[WFS_QUOTE_MAX];
		if (t < 0 || m->tensors[t].shard != e->shard) {
			const struct wfs_str s = m->shards[e->shard].name;
			wfs_error_add(err, "%s: tensor %s: not found in shard %s named by the index", label,
				      wfs_quote(name, e->tensor.len, q),
				      wfs_quote(wfs_model_str(m, s), s.len, sq));
			rc = WFS_EINVALID;
			continue;
		}
		listed[t] = true;
	}
	for (size_t t = 0; t < m->ntensors && rc == 0; t++) {
		if (listed[t])
			continue;
		const struct wfs_tensor *x = &m->tensors[t];
		char q[WFS_QUOTE_MAX];
		wfs_warnf(warn, "%s: tensor %s is not in the index %s; shown anyway",
			  wfs_model_str(m, m->shards[x->shard].name),
			  wfs_quote(wfs_model_str(m, x->name), x->name.len, q), label);
	}
	free(listed);
	return rc;
}

static int read_small_file(int dirfd, const char *name, char **out, size_t *len, size_t limit)
{
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
	} else if ((uint64_t)st.st_size > limit) {
		rc = -EFBIG;
	} else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
	} else if ((rc = read_exact(fd, buf, (size_t)st.st_size, 0)) == 0) {
		buf[st.st_size] = '\0';
		*out = buf;
		*len = (size_t)st.st_size;
		buf = NULL;
	}
	free(buf);
	close(fd);
	return rc;
}

static int open_indexed(struct wfs_model *m, const char *index_name, const struct wfs_warn *warn,
			struct wfs_error *err)
{
	char *text = NULL;
	size_t len = 0;
	/* An index lists every tensor once: 1 GiB is far beyond any real one. */
	int rc = read_small_file(m->dirfd, index_name, &text, &len, 1u << 30);
	if (rc < 0) {
		wfs_error_add(err, "%s: %s", index_name, rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return rc == -EINVAL || rc == -EFBIG ? WFS_EINVALID : rc;
	}
	struct wfs_index idx;
	rc = wfs_index_parse(m, index_name, text, len, &idx, err);
	free(text);
	if (rc < 0)
		return rc;
	if (idx.nentries == 0)
		wfs_warnf(warn, "%s: weight_map is empty: the model has no tensors", index_name);
	m->sharded = true;
	if ((rc = wfs_arena_add(m, index_name, strlen(index_name), &m->index_name)) < 0)
		goto out;
	for (size_t i = 0; i < idx.nshards && rc == 0; i++)
		rc = add_shard(m, idx.strings.data + idx.shards[i].off, idx.shards[i].len);
	if (rc == 0)
		rc = load_shards(m, warn, err);
	if (rc == 0)
		rc = wfs_model_finish(m, err);
	if (rc == 0)
		rc = wfs_index_check(m, &idx, index_name, warn, err);
out:
	wfs_index_release(&idx);
	return rc;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every *.safetensors file of the directory, sorted; their tensors are merged. */
static int open_merged(struct wfs_model *m, const char *dirname, const struct wfs_warn *warn,
		       struct wfs_error *err)
{
	int fd = dup(m->dirfd);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (dir == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		wfs_error_add(err, "%s: %s", dirname, strerror(e));
		return -e;
	}
	char **names = NULL;
	size_t n = 0, cap = 0;
	int rc = 0;
	struct dirent *d;
	while ((d = readdir(dir)) != NULL) {
		if (!ends_with(d->d_name, ".safetensors") || d->d_name[0] == '.')
			continue;
		struct stat st;
		if (fstatat(m->dirfd, d->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		if (WFS_GROW(names, cap, n, 1) < 0 || (names[n] = strdup(d->d_name)) == NULL) {
			rc = -ENOMEM;
			break;
		}
		n++;
	}
	closedir(dir);
	if (rc == 0 && n == 0) {
		wfs_error_add(err, "%s: no model.safetensors.index.json and no *.safetensors files", dirname);
		rc = -ENOENT;
	}
	if (rc == 0) {
		qsort(names, n, sizeof(*names), compare_names);
		for (size_t i = 0; i < n && rc == 0; i++)
			rc = add_shard(m, names[i], strlen(names[i]));
	}
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	if (rc == 0)
		rc = load_shards(m, warn, err);
	if (rc == 0)
		rc = wfs_model_finish(m, err);
	return rc;
}

static bool is_dir_at(int dirfd, const char *path)
{
	struct stat st;
	return fstatat(dirfd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* Writes the names in snapshots/ to @p out, sorted, comma-separated (cut with "..."). */
static void list_snapshots(int dirfd, char *out, size_t cap)
{
	out[0] = '\0';
	int fd = openat(dirfd, "snapshots", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	char **names = NULL;
	size_t n = 0, ncap = 0;
	struct dirent *d;
	while ((d = readdir(dir)) != NULL) {
		if (d->d_name[0] == '.' || WFS_GROW(names, ncap, n, 1) < 0 || (names[n] = strdup(d->d_name)) == NULL)
			continue;
		n++;
	}
	closedir(dir);
	if (n > 1)
		qsort(names, n, sizeof(*names), compare_names);
	size_t o = 0;
	bool cut = false;
	for (size_t i = 0; i < n; i++) {
		char q[WFS_QUOTE_MAX];
		wfs_quote(names[i], strlen(names[i]), q);
		if (!cut && o + strlen(q) + 8 >= cap) {
			snprintf(out + o, cap - o, "%s...", i ? ", " : "");
			cut = true;
		} else if (!cut) {
			o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", q);
		}
		free(names[i]);
	}
	free(names);
	if (n == 0)
		snprintf(out, cap, "none");
}

/*
 * A Hugging Face cache repository (models--org--name/: blobs/, refs/,
 * snapshots/) holds no model itself: refs/main names the snapshot to open.
 * Returns a descriptor of that snapshot, -1 when @p dirfd is not such a
 * repository, or -ENOENT (said in @p err, with the snapshots there are) when
 * refs/main is missing or names a snapshot that is not there.
 */
static int hf_repo_snapshot(int dirfd, const char *source, struct wfs_error *err)
{
	char *ref = NULL;
	size_t len = 0;
	char snaps[1024];
	if (faccessat(dirfd, INDEX_NAME, F_OK, 0) == 0)
		return -1;
	if (read_small_file(dirfd, "refs/main", &ref, &len, 256) < 0) {
		if (!is_dir_at(dirfd, "snapshots") || !is_dir_at(dirfd, "blobs"))
			return -1;
		list_snapshots(dirfd, snaps, sizeof(snaps));
		wfs_error_add(err, "%s: a Hugging Face cache repository without refs/main, which names the snapshot "
			      "to mount; snapshots there: %s (mount one of %s/snapshots/REVISION)", source, snaps, source);
		return -ENOENT;
	}
	while (len && (ref[len - 1] == '\n' || ref[len - 1] == ' ' || ref[len - 1] == '\r'))
		ref[--len] = '\0';
	bool plain = len > 0;
	for (size_t i = 0; i < len; i++)
		plain &= (ref[i] >= '0' && ref[i] <= '9') || (ref[i] >= 'a' && ref[i] <= 'z') ||
			 (ref[i] >= 'A' && ref[i] <= 'Z') || ref[i] == '-' || ref[i] == '_' || ref[i] == '.';
	int fd = -1;
	if (plain && strcmp(ref, ".") && strcmp(ref, "..")) {
		char path[300];
		snprintf(path, sizeof(path), "snapshots/%s", ref);
		fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		char q[WFS_QUOTE_MAX];
		list_snapshots(dirfd, snaps, sizeof(snaps));
		wfs_error_add(err, "%s: refs/main names snapshot %s, which is not in snapshots/; snapshots there: %s "
			      "(mount one of %s/snapshots/REVISION)", source, wfs_quote(ref, len, q), snaps, source);
		fd = -ENOENT;
	}
	free(ref);
	return fd;
}

static int open_directory(struct wfs_model *m, const char *source, const struct wfs_open_options *opts,
			  struct wfs_error *err)
{
	int snap = hf_repo_snapshot(m->dirfd, source, err);
	if (snap < -1)
		return snap;
	if (snap >= 0) {
		close(m->dirfd);
		m->dirfd = snap;
	}
	int rc;
	if (faccessat(m->dirfd, INDEX_NAME, F_OK, 0) == 0)
		rc = open_indexed(m, INDEX_NAME, &opts->warn, err);
	else
		rc = open_merged(m, source, &opts->warn, err);
	if (rc < 0 || opts->no_extras)
		return rc;

	struct wfs_str *skip = malloc((m->nshards + 1) * sizeof(*skip));
	if (skip == NULL)
		return -ENOMEM;
	size_t nskip = 0;
	if (m->sharded)
		skip[nskip++] = m->index_name;
	for (size_t i = 0; i < m->nshards; i++)
		skip[nskip++] = m->shards[i].name;
	rc = wfs_extras_scan(m, skip, nskip, &opts->warn, err);
	free(skip);
	return rc;
}

static void shrink(struct wfs_model *m)
{
	/* The arrays grew by doubling; give the slack back (the model lives for days). */
	void *p;
	if (m->arena_len && (p = realloc(m->arena, m->arena_len)) != NULL) {
		m->arena = p;
		m->arena_cap = m->arena_len;
	}
	if (m->ntensors && (p = realloc(m->tensors, m->ntensors * sizeof(*m->tensors))) != NULL) {
		m->tensors = p;
		m->cap.tensors = m->ntensors;
	}
	if (m->ndims && (p = realloc(m->dims, m->ndims * sizeof(*m->dims))) != NULL) {
		m->dims = p;
		m->cap.dims = m->ndims;
	}
}

int wfs_model_open(const char *source, const struct wfs_open_options *opts,
		   struct wfs_model **out, struct wfs_error *err)
{
	static const struct wfs_open_options defaults;
	if (opts == NULL)
		opts = &defaults;
	*out = NULL;
	if (wfs_source_is_remote(source)) {
		struct wfs_model *m = model_new();
		if (m == NULL)
			return -ENOMEM;
		int rc = wfs_remote_open_model(m, source, opts, err);
		if (rc == 0)
			rc = wfs_model_finish(m, err);
		if (rc < 0) {
			wfs_model_free(m);
			return rc;
		}
		shrink(m);
		*out = m;
		return 0;
	}
	struct stat st;
	if (stat(source, &st) < 0) {
		int e = errno;
		wfs_error_add(err, "%s: %s", source, strerror(e));
		return -e;
	}
	struct wfs_model *m = model_new();
	if (m == NULL)
		return -ENOMEM;
	int rc;
	if (S_ISDIR(st.st_mode)) {
		m->dirfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dirfd < 0) {
			rc = -errno;
			wfs_error_add(err, "%s: %s", source, strerror(-rc));
			goto out;
		}
		rc = open_directory(m, source, opts, err);
	} else if (S_ISREG(st.st_mode)) {
		char *copy1 = strdup(source), *copy2 = strdup(source);
		if (copy1 == NULL || copy2 == NULL) {
			free(copy1);
			free(copy2);
			rc = -ENOMEM;
			goto out;
		}
		const char *dir = dirname(copy1), *base = basename(copy2);
		m->dirfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dirfd < 0) {
			rc = -errno;
			wfs_error_add(err, "%s: %s", dir, strerror(-rc));
		} else if (ends_with(base, ".json")) {
			rc = open_indexed(m, base, &opts->warn, err);
		} else {
			rc = add_shard(m, base, strlen(base));
			if (rc == 0)
				rc = load_shards(m, &opts->warn, err);
			if (rc == 0)
				rc = wfs_model_finish(m, err);
		}
		free(copy1);
		free(copy2);
	} else {
		wfs_error_add(err, "%s: not a directory or a regular file", source);
		rc = -EINVAL;
	}
out:
	if (rc < 0) {
		wfs_model_free(m);
		return rc;
	}
	shrink(m);
	*out = m;
	return 0;
}

int wfs_model_open_memory(const void *data, size_t size, const char *label,
			  struct wfs_model **out, struct wfs_error *err)
{
	*out = NULL;
	struct wfs_model *m = model_new();
	if (m == NULL)
		return -ENOMEM;
	uint64_t header_len = 0;
	int rc = add_shard(m, label, strlen(label));
	if (rc < 0)
		goto out;
	m->shards[0].memory = data;
	m->shards[0].size = size;
	if ((rc = wfs_st_check_prefix(label, data, size, &header_len, err)) < 0)
		goto out;
	rc = wfs_st_parse_header(m, 0, label, NULL, (const char *)data + 8, header_len, size, err);
	if (rc == 0)
		rc = wfs_model_finish(m, err);
out:
	if (rc < 0) {
		wfs_model_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

ssize_t wfs_shard_pread(const struct wfs_model *m, const struct wfs_shard *s,
			void *buf, size_t len, uint64_t off)
{
	uint64_t end;
	if (__builtin_add_overflow(off, len, &end))
		return -EINVAL;
	if (s->memory) {
		if (end > s->size)
			return -EIO;
		memcpy(buf, s->memory + off, len);
		return (ssize_t)len;
	}
	if (s->remote)
		return end > s->size ? -EIO : wfs_remote_pread(s->remote, buf, len, off);
	int fd = s->fd;
	if (fd < 0) {
		/* Out of descriptors at open: reopen, and make sure it is the same
		 * file (a replaced shard gives EIO, never the new file's bytes). A
		 * truncated one is still the same file: what is left reads, what is
		 * gone gives EIO below, as with a kept descriptor. */
		struct stat st;
		fd = openat(m->dirfd, wfs_model_str(m, s->name), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -EIO;
		if (fstat(fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
			close(fd);
			return -EIO;
		}
	}
	int rc = read_exact(fd, buf, len, off);
	if (fd != s->fd)
		close(fd);
	return rc < 0 ? rc : (ssize_t)len;
}

ssize_t wfs_tensor_view(const struct wfs_model *m, const struct wfs_tensor *t,
			size_t len, uint64_t off, struct wfs_view *v)
{
	v->count = 0;
	v->owner = NULL;
	const struct wfs_shard *s = &m->shards[t->shard];
	if (s->memory == NULL && s->remote == NULL)
		return -EAGAIN;
	if (off >= t->nbytes)
		return 0;
	if (len > t->nbytes - off)
		len = (size_t)(t->nbytes - off);
	uint64_t start = t->offset + off, end;
	if (__builtin_add_overflow(start, len, &end) || end > s->size)
		return -EIO;
	if (s->remote)
		return wfs_remote_view(s->remote, len, start, v);
	v->iov[0] = (struct iovec){.iov_base = (void *)(s->memory + start), .iov_len = len};
	v->count = 1;
	return (ssize_t)len;
}

void wfs_view_release(struct wfs_view *v)
{
	if (v->owner)
		wfs_remote_view_release(v);
	v->count = 0;
	v->owner = NULL;
}

bool wfs_source_is_remote(const char *source)
{
	static const char *const schemes[] = {"http://", "https://", "hf://", "s3://"};
	for (size_t i = 0; i < sizeof(schemes) / sizeof(schemes[0]); i++)
		if (strncmp(source, schemes[i], strlen(schemes[i])) == 0)
			return true;
	return false;
}

ssize_t wfs_extra_read(const struct wfs_model *m, const struct wfs_extra *x,
		       void *buf, size_t len, uint64_t off)
{
	(void)m;
	if (x->remote == NULL || x->is_dir)
		return -EINVAL;
	if (off >= x->size)
		return 0;
	if (len > x->size - off)
		len = (size_t)(x->size - off);
	return wfs_remote_pread(x->remote, buf, len, off);
}

ssize_t wfs_tensor_read(const struct wfs_model *m, const struct wfs_tensor *t,
			void *buf, size_t len, uint64_t off)
{
	if (off >= t->nbytes)
		return 0;
	if (len > t->nbytes - off)
		len = (size_t)(t->nbytes - off);
	return wfs_shard_pread(m, &m->shards[t->shard], buf, len, t->offset + off);
}
