/**
 * @file model.c
 * The model under construction and once built: its shards, tensors and
 * metadata in compact arrays. Which files make the model is resolve.c's
 * (local) or remote_model.c's (HTTP) business; what a file holds is its
 * format's (formats/); where bytes come from is the sources' (sources/).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "formats/format.h"
#include "sources/source.h"

/* Descriptors left for everything else (FUSE, extra files being read). */
#define FD_RESERVE 64

struct wfs_model *wfs_model_new(void)
{
	struct wfs_model *m = calloc(1, sizeof(*m));
	if (m == NULL)
		return NULL;
	m->dirfd = -1;
	m->format = "safetensors";
	m->sep = '.';
	/* Group 0: the root. */
	if (WFS_GROW(m->groups, m->cap.groups, 0, 1) < 0) {
		free(m);
		return NULL;
	}
	m->groups[0] = (struct wfs_group){.format = NULL};
	m->ngroups = 1;
	return m;
}

void wfs_model_free(struct wfs_model *m)
{
	if (m == NULL)
		return;
	for (size_t i = 0; i < m->nshards; i++)
		if (m->shards[i].source && m->shards[i].source->close)
			m->shards[i].source->close(&m->shards[i]);
	if (m->dirfd >= 0)
		close(m->dirfd);
	wfs_remote_free(m->remote);
	free(m->arena);
	free(m->tensors);
	free(m->dims);
	free(m->strides);
	free(m->blob);
	free(m->groups);
	free(m->shards);
	free(m->metadata);
	free(m->index_meta);
	free(m->extras);
	free(m);
}

int wfs_model_add_shard(struct wfs_model *m, const char *name, size_t len, uint32_t *out)
{
	if (m->nshards >= UINT32_MAX || WFS_GROW(m->shards, m->cap.shards, m->nshards, 1) < 0)
		return -ENOMEM;
	struct wfs_shard *s = &m->shards[m->nshards];
	memset(s, 0, sizeof(*s));
	s->fd = -1;
	if (wfs_arena_add(m, name, len, &s->name) < 0)
		return -ENOMEM;
	*out = (uint32_t)m->nshards++;
	return 0;
}

static size_t fd_budget(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		return SIZE_MAX;
	return rl.rlim_cur > FD_RESERVE ? (size_t)(rl.rlim_cur - FD_RESERVE) : 0;
}

int wfs_model_open_shard(struct wfs_model *m, uint32_t i, const char *who, struct wfs_error *err)
{
	struct wfs_shard *s = &m->shards[i];
	if (m->remote)
		return wfs_remote_open_shard(m, i, who, err);
	if (m->dirfd < 0) {
		char q[WFS_QUOTE_MAX];
		wfs_error_add(err, "%s: a model held in memory cannot refer to other files",
			      wfs_quote(wfs_model_str(m, s->name), s->name.len, q));
		return WFS_EINVALID;
	}
	return wfs_source_local_open(m, s, i < fd_budget(), who, err);
}

static int compare_tensors(const void *a, const void *b, void *arena)
{
	const struct wfs_tensor *x = a, *y = b;
	if (x->group != y->group)
		return x->group < y->group ? -1 : 1;
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
			if (a->shard == b->shard)
				wfs_error_add(err, "%s: tensor %s appears twice", wfs_quote(wfs_model_str(m, sa), sa.len, qa),
					      wfs_quote(wfs_model_str(m, a->name), a->name.len, q));
			else
				wfs_error_add(err, "tensor %s is in both %s and %s",
					      wfs_quote(wfs_model_str(m, a->name), a->name.len, q),
					      wfs_quote(wfs_model_str(m, sa), sa.len, qa),
					      wfs_quote(wfs_model_str(m, sb), sb.len, qb));
			rc = WFS_EINVALID;
		}
	}
	m->total_bytes = 0;
	for (size_t i = 0; i < m->ntensors; i++) /* strided views may repeat bytes: saturate */
		if (__builtin_add_overflow(m->total_bytes, m->tensors[i].nbytes, &m->total_bytes))
			m->total_bytes = UINT64_MAX;
	for (size_t i = 0; i < m->nshards; i++) {
		const struct timespec *t = &m->shards[i].mtime;
		if (t->tv_sec > m->newest_mtime.tv_sec ||
		    (t->tv_sec == m->newest_mtime.tv_sec && t->tv_nsec > m->newest_mtime.tv_nsec))
			m->newest_mtime = *t;
	}
	return rc;
}

ssize_t wfs_model_find_in(const struct wfs_model *m, uint32_t group, const char *name, size_t len)
{
	size_t lo = 0, hi = m->ntensors;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct wfs_tensor *t = &m->tensors[mid];
		int c = (t->group > group) - (t->group < group);
		if (c == 0) {
			size_t n = t->name.len < len ? t->name.len : len;
			c = memcmp(wfs_model_str(m, t->name), name, n);
			if (c == 0)
				c = (t->name.len > len) - (t->name.len < len);
		}
		if (c == 0)
			return (ssize_t)mid;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}

ssize_t wfs_model_find(const struct wfs_model *m, const char *name, size_t len)
{
	return wfs_model_find_in(m, 0, name, len);
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
	if (m->blob_len && (p = realloc(m->blob, m->blob_len)) != NULL) {
		m->blob = p;
		m->cap.blob = m->blob_len;
	}
}

int wfs_model_open(const char *source, const struct wfs_open_options *opts,
		   struct wfs_model **out, struct wfs_error *err)
{
	static const struct wfs_open_options defaults;
	if (opts == NULL)
		opts = &defaults;
	*out = NULL;
	if (opts->format && wfs_format_find(opts->format) == NULL) {
		char names[256];
		wfs_format_names(names, sizeof(names));
		wfs_error_add(err, "format=%s: unknown format (known: %s)", opts->format, names);
		return -EINVAL;
	}
	struct wfs_model *m = wfs_model_new();
	if (m == NULL)
		return -ENOMEM;
	/* Both finish the model (sort, duplicates, totals) themselves. */
	int rc = wfs_source_is_remote(source) ? wfs_remote_open_model(m, source, opts, err)
					       : wfs_resolve_local(m, source, opts, err);
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
	struct wfs_model *m = wfs_model_new();
	if (m == NULL)
		return -ENOMEM;
	uint32_t shard;
	int rc = wfs_model_add_shard(m, label, strlen(label), &shard);
	if (rc < 0)
		goto out;
	m->shards[shard].source = &wfs_source_memory;
	m->shards[shard].memory = data;
	m->shards[shard].size = size;
	const struct wfs_format *f = wfs_format_probe(data, size < WFS_PROBE_LEN ? size : WFS_PROBE_LEN, label, NULL);
	if (f == NULL)
		f = wfs_formats[0]; /* say what is wrong in the first format's terms */
	m->format = f->name;
	static const struct wfs_open_options defaults;
	struct wfs_build b = {.m = m, .opts = &defaults};
	rc = f->open(&b, shard, err);
	if (rc == 0 && f->finish)
		rc = f->finish(&b, err);
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
