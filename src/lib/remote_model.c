/**
 * @file remote_model.c
 * Opens a remote model: lists its files, fetches the index, then every
 * shard's header in parallel, and validates them exactly as local files
 * are validated. Only metadata is fetched at mount; tensor bytes are read
 * later through the chunk cache (remote_cache.c).
 *
 * Each shard header costs one speculative range request, sized from what
 * the index says about the shard (or 1 MiB), and a second one only when
 * the header is longer. Files whose size the listing does not give are
 * probed the same way: the Content-Range of the first answer carries it.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "remote.h"
#include "sources/source.h"

#define INDEX_LIMIT (1u << 30)
#define MOUNT_PARALLEL 32
#define PROBE_MAX (1u << 20)
#define PROBE_MIN (64u << 10)
#define EXTRA_PROBE (64u << 10)

static long long mono_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct wfs_remote_file *file_new(struct wfs_remote *r, const struct wfs_listing *l, const char *path,
					uint64_t size, const char *etag)
{
	if (WFS_GROW(r->files, r->cap_files, r->nfiles, 1) < 0 || r->nfiles >= UINT32_MAX)
		return NULL;
	struct wfs_remote_file *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return NULL;
	f->r = r;
	f->id = (uint32_t)r->nfiles;
	f->size = size;
	for (size_t i = 0; i < WFS_RA_STREAMS; i++)
		f->ra[i].last = UINT64_MAX;
	f->url = wfs_listing_url(l, path);
	f->path = strdup(path);
	if (etag)
		snprintf(f->etag, sizeof(f->etag), "%s", etag);
	pthread_mutex_init(&f->etag_lock, NULL);
	r->files[r->nfiles++] = f;
	return f->url && f->path ? f : NULL;
}

static void file_free(struct wfs_remote_file *f)
{
	free(f->url);
	free(f->path);
	free(f->identity);
	free(f->ends);
	free(f->disk_dir);
	pthread_mutex_destroy(&f->etag_lock);
	free(f);
}

void wfs_remote_free(struct wfs_remote *r)
{
	if (r == NULL)
		return;
	wfs_cache_free(r->cache);
	for (size_t i = 0; i < r->nfiles; i++)
		file_free(r->files[i]);
	free(r->files);
	wfs_http_release(&r->http);
	free(r->source);
	free(r);
}

/* The ETag to check answers against; learnt from the first answer when the listing gave none. */
static void etag_get(struct wfs_remote_file *f, char *out, size_t cap)
{
	pthread_mutex_lock(&f->etag_lock);
	snprintf(out, cap, "%s", f->etag);
	pthread_mutex_unlock(&f->etag_lock);
}

static void etag_learn(struct wfs_remote_file *f, const char *etag)
{
	if (etag[0] == '\0')
		return;
	pthread_mutex_lock(&f->etag_lock);
	if (f->etag[0] == '\0')
		snprintf(f->etag, sizeof(f->etag), "%s", etag);
	pthread_mutex_unlock(&f->etag_lock);
}

int wfs_remote_fetchv(struct wfs_remote_file *f, const struct iovec *iov, size_t n, uint64_t off)
{
	size_t len = 0;
	for (size_t i = 0; i < n; i++)
		if (__builtin_add_overflow(len, iov[i].iov_len, &len))
			return -EINVAL;
	if (len == 0)
		return 0;
	char etag[sizeof(f->etag)];
	etag_get(f, etag, sizeof(etag));
	struct wfs_req q;
	memset(&q, 0, sizeof(q));
	q.url = f->url;
	q.has_range = true;
	q.first = off;
	q.last = off + len - 1;
	q.known_size = f->size;
	q.etag = etag[0] ? etag : NULL;
	q.iov = iov;
	q.cap = len;
	q.what = f->path;
	wfs_http_run(&f->r->http, &q, 1, 1);
	if (q.rc == 0)
		etag_learn(f, q.resp_etag);
	else if (!f->r->http.verbose && q.rc == -ESTALE)
		wfs_warnf(&f->r->http.warn, "remote: %s: %s", f->path, q.why);
	wfs_req_reset(&q);
	return q.rc;
}

ssize_t wfs_remote_pread(struct wfs_remote_file *f, void *buf, size_t len, uint64_t off)
{
	ssize_t n = wfs_cache_read(f->r->cache, f, buf, len, off);
	return n < 0 ? -EIO : n;
}

ssize_t wfs_remote_view(struct wfs_remote_file *f, size_t len, uint64_t off, struct wfs_view *v)
{
	return wfs_cache_view(f->r->cache, f, len, off, v);
}

void wfs_remote_view_release(struct wfs_view *v)
{
	wfs_cache_unview(v->owner, v);
}

size_t wfs_remote_stats(const struct wfs_remote *r, char *buf, size_t cap)
{
	const struct wfs_counters *s = &r->stats;
	return (size_t)snprintf(buf, cap,
				"{\"requests\":%llu,\"bytes\":%llu,\"retries\":%llu,\"redirects\":%llu,"
				"\"errors\":%llu,\"cache_hits\":%llu,\"disk_hits\":%llu,\"fetches\":%llu,"
				"\"readahead\":%llu,\"waits\":%llu,\"near\":%s,\"cache_bytes\":%zu,"
				"\"chunk_size\":%zu,\"files\":%zu}",
				atomic_load(&s->requests), atomic_load(&s->bytes), atomic_load(&s->retries),
				atomic_load(&s->redirects), atomic_load(&s->errors), atomic_load(&s->cache_hits),
				atomic_load(&s->disk_hits), atomic_load(&s->fetches), atomic_load(&s->readahead),
				atomic_load(&s->waits), wfs_http_near(&r->http) ? "true" : "false",
				r->cache ? wfs_cache_bytes(r->cache) : 0, r->chunk_size, r->nfiles);
}

/* ---- assembly ---------------------------------------------------------- */

struct probe {
	struct wfs_remote_file *f;
	uint32_t shard;     /* UINT32_MAX for an extra */
	struct wfs_req q;
};

static const struct wfs_listed *listed(const struct wfs_listing *l, const char *path)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->files[i].path, path) == 0)
			return &l->files[i];
	return NULL;
}

static int add_shard(struct wfs_model *m, const char *name)
{
	uint32_t i;
	return wfs_model_add_shard(m, name, strlen(name), &i);
}

static char *identity_of(const struct wfs_listing *l, const struct wfs_remote_file *f, enum wfs_src_kind kind)
{
	/* hf: the commit is in the prefix; s3 and http need the ETag. */
	if (kind != WFS_SRC_HF && f->etag[0] == '\0')
		return NULL;
	size_t n = strlen(l->identity_prefix) + strlen(f->path) + strlen(f->etag) + 48;
	char *id = malloc(n);
	if (id)
		snprintf(id, n, "%s%s\n%s\n%" PRIu64 "\n", l->identity_prefix, f->path, f->etag, f->size);
	return id;
}

/* Reports a failed probe of a shard or file the model needs. */
static int probe_failed(struct wfs_model *m, const char *source, const struct probe *p, struct wfs_error *err)
{
	char why[800], q[WFS_QUOTE_MAX];
	const char *name = p->f->path;
	wfs_req_error(&p->q, why, sizeof(why));
	if (p->q.rc == -ENOENT) {
		if (m->sharded)
			wfs_error_add(err, "%s: shard %s: No such file or directory (%s)", wfs_model_str(m, m->index_name),
				      wfs_quote(name, strlen(name), q), why);
		else
			wfs_error_add(err, "%s: %s: No such file or directory (%s)", source, name, why);
		return p->shard == UINT32_MAX || !m->sharded ? -ENOENT : WFS_EINVALID;
	}
	wfs_error_add(err, "%s: %s: %s", source, name, why);
	return p->q.rc == -ENOMEM ? -ENOMEM : p->q.rc == -EACCES ? -EACCES : -EIO;
}

/* The header size a shard probably has, from the names the index gives it. */
static size_t probe_size(const uint64_t *estimate, uint32_t shard)
{
	if (estimate == NULL)
		return PROBE_MAX;
	uint64_t e = estimate[shard] + 4096;
	e = (e + PROBE_MIN - 1) / PROBE_MIN * PROBE_MIN;
	return (size_t)(e < PROBE_MIN ? PROBE_MIN : e > PROBE_MAX ? PROBE_MAX : e);
}

static int load_headers(struct wfs_model *m, struct wfs_remote *r, const char *source,
			struct probe *probes, size_t np, const struct wfs_warn *warn, struct wfs_error *err)
{
	struct wfs_req *reqs = calloc(np ? np : 1, sizeof(*reqs));
	if (reqs == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < np; i++)
		reqs[i] = probes[i].q;
	wfs_http_run(&r->http, reqs, np, MOUNT_PARALLEL);
	int rc = 0;
	/* Second round: headers longer than the first request. */
	size_t *more = calloc(np ? np : 1, sizeof(*more));
	uint64_t *hlens = calloc(np ? np : 1, sizeof(*hlens));
	struct wfs_req *reqs2 = calloc(np ? np : 1, sizeof(*reqs2));
	size_t n2 = 0;
	if (more == NULL || hlens == NULL || reqs2 == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (size_t i = 0; i < np; i++) {
		struct probe *p = &probes[i];
		struct wfs_req *q = &reqs[i];
		p->q = *q;
		if (q->rc < 0) {
			int r2 = probe_failed(m, source, p, err);
			if (rc == 0 || rc == WFS_EINVALID)
				rc = r2;
			continue;
		}
		uint64_t size = p->f->size != WFS_SIZE_UNKNOWN ? p->f->size
				: q->total != WFS_SIZE_UNKNOWN ? q->total
				: q->status == 206 ? WFS_SIZE_UNKNOWN : q->len;
		if (size == WFS_SIZE_UNKNOWN) {
			wfs_error_add(err, "%s: %s: the server did not say the file's size (Content-Range */...)", source,
				      p->f->path);
			rc = rc ? rc : -EIO;
			continue;
		}
		p->f->size = size;
		etag_learn(p->f, q->resp_etag);
		if (p->shard == UINT32_MAX)
			continue;
		struct wfs_shard *s = &m->shards[p->shard];
		s->size = size;
		s->remote = p->f;
		s->source = &wfs_source_remote;
		s->mtime.tv_sec = q->mtime > 0 ? q->mtime : time(NULL);
		const char *name = wfs_model_str(m, s->name);
		uint64_t hlen = 0;
		uint8_t prefix[8] = {0};
		if (q->len >= 8)
			memcpy(prefix, q->buf, 8);
		if (wfs_st_check_prefix(name, prefix, size, &hlen, err) < 0) {
			if (rc == 0)
				rc = WFS_EINVALID;
			hlens[i] = UINT64_MAX;
			continue;
		}
		hlens[i] = hlen;
		if (8 + hlen > q->len) {
			uint8_t *b = realloc(q->buf, 8 + hlen);
			if (b == NULL) {
				rc = -ENOMEM;
				goto out;
			}
			q->buf = b;
			p->q.buf = b;
			struct wfs_req *q2 = &reqs2[n2];
			memset(q2, 0, sizeof(*q2));
			q2->url = p->f->url;
			q2->has_range = true;
			q2->first = q->len;
			q2->last = 8 + hlen - 1;
			q2->known_size = size;
			q2->etag = p->f->etag[0] ? p->f->etag : NULL;
			q2->buf = b + q->len;
			q2->cap = 8 + hlen - q->len;
			q2->what = p->f->path;
			more[n2++] = i;
		}
	}
	if (n2 && rc != -ENOMEM)
		wfs_http_run(&r->http, reqs2, n2, MOUNT_PARALLEL);
	for (size_t j = 0; j < n2; j++) {
		struct probe *p = &probes[more[j]];
		if (reqs2[j].rc < 0) {
			struct probe tmp = *p;
			tmp.q = reqs2[j];
			int r2 = probe_failed(m, source, &tmp, err);
			if (rc == 0 || rc == WFS_EINVALID)
				rc = r2;
			hlens[more[j]] = UINT64_MAX;
		}
		wfs_req_reset(&reqs2[j]);
	}
	/* Parse in shard order, so messages come in a stable order. */
	for (size_t i = 0; i < np && rc != -ENOMEM; i++) {
		struct probe *p = &probes[i];
		if (p->q.rc < 0 || p->shard == UINT32_MAX || hlens[i] == UINT64_MAX)
			continue;
		const char *name = wfs_model_str(m, m->shards[p->shard].name);
		int r2 = wfs_st_parse_header(m, p->shard, 0, name, warn, (const char *)p->q.buf + 8, (size_t)hlens[i],
					     p->f->size, err);
		if (r2 < 0 && (rc == 0 || r2 == -ENOMEM))
			rc = r2;
	}
	/* Whole small files came with the probe: keep them. */
	for (size_t i = 0; i < np && rc == 0; i++) {
		struct probe *p = &probes[i];
		if (p->q.rc == 0 && p->f->size <= p->q.len)
			wfs_cache_offer(r->cache, p->f, 0, p->q.buf, (size_t)p->f->size);
	}
out:
	for (size_t i = 0; i < np; i++) {
		wfs_req_reset(&reqs[i]);
		probes[i].q.cur_url = NULL;
	}
	free(reqs);
	free(reqs2);
	free(more);
	free(hlens);
	return rc;
}

/* Readahead stops at the end of the tensor being read: each file keeps its tensors' ends. */
static int note_tensor_ends(struct wfs_model *m)
{
	size_t *count = calloc(m->nshards ? m->nshards : 1, sizeof(*count));
	if (count == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < m->ntensors; i++)
		count[m->tensors[i].shard]++;
	int rc = 0;
	for (size_t s = 0; s < m->nshards && rc == 0; s++) {
		struct wfs_remote_file *f = m->shards[s].remote;
		if (f == NULL || count[s] == 0)
			continue;
		f->ends = malloc(count[s] * sizeof(*f->ends));
		if (f->ends == NULL)
			rc = -ENOMEM;
	}
	for (size_t i = 0; i < m->ntensors && rc == 0; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		struct wfs_remote_file *f = m->shards[t->shard].remote;
		if (f && f->ends)
			f->ends[f->nends++] = t->offset + t->nbytes;
	}
	for (size_t s = 0; s < m->nshards && rc == 0; s++) {
		struct wfs_remote_file *f = m->shards[s].remote;
		if (f == NULL || f->nends < 2)
			continue;
		/* Insertion-free: tensors tile the file, so sorting ends sorts them by offset. */
		for (size_t i = 1; i < f->nends; i++) {
			uint64_t v = f->ends[i];
			size_t j = i;
			if (v >= f->ends[j - 1])
				continue;
			size_t lo = 0, hi = i;
			while (lo < hi) {
				size_t mid = lo + (hi - lo) / 2;
				if (f->ends[mid] <= v)
					lo = mid + 1;
				else
					hi = mid;
			}
			memmove(&f->ends[lo + 1], &f->ends[lo], (i - lo) * sizeof(*f->ends));
			f->ends[lo] = v;
		}
	}
	free(count);
	return rc;
}

/* A file at the top of the listing (not hidden) whose name ends with @p suffix. */
static bool listed_top(const char *path, const char *suffix)
{
	size_t n = strlen(path), k = strlen(suffix);
	return n > k && strcmp(path + n - k, suffix) == 0 && strchr(path, '/') == NULL && path[0] != '.';
}

static bool is_shard_name(const char *path)
{
	return listed_top(path, ".safetensors");
}

static int compare_cstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int add_extra(struct wfs_model *m, const char *path, size_t len, bool is_dir, uint64_t size,
		     struct wfs_remote_file *f, struct timespec mtime)
{
	if (WFS_GROW(m->extras, m->cap.extras, m->nextras, 1) < 0)
		return -ENOMEM;
	struct wfs_extra *x = &m->extras[m->nextras];
	memset(x, 0, sizeof(*x));
	x->is_dir = is_dir;
	x->size = size;
	x->remote = f;
	x->mtime = mtime;
	if (wfs_arena_add(m, path, len, &x->path) < 0)
		return -ENOMEM;
	m->nextras++;
	return 0;
}

/* Extras with their parent directories first. */
static int add_extras(struct wfs_model *m, struct wfs_remote_file **files, size_t n, struct timespec mtime)
{
	int rc = 0;
	for (size_t i = 0; i < n && rc == 0; i++) {
		const char *path = files[i]->path;
		for (const char *slash = strchr(path, '/'); slash && rc == 0; slash = strchr(slash + 1, '/')) {
			size_t dlen = (size_t)(slash - path);
			bool have = false;
			for (size_t j = 0; j < m->nextras && !have; j++)
				have = m->extras[j].is_dir && m->extras[j].path.len == dlen &&
				       memcmp(wfs_model_str(m, m->extras[j].path), path, dlen) == 0;
			if (!have)
				rc = add_extra(m, path, dlen, true, 0, NULL, mtime);
		}
		if (rc == 0)
			rc = add_extra(m, path, strlen(path), false, files[i]->size, files[i], mtime);
	}
	return rc;
}

static int check_options(const struct wfs_remote_options *ro, size_t *chunk, size_t *cache, struct wfs_error *err)
{
	*chunk = ro->chunk_size ? ro->chunk_size : WFS_REMOTE_DEFAULT_CHUNK;
	*cache = ro->cache_size ? ro->cache_size : WFS_REMOTE_DEFAULT_CACHE;
	if (*chunk < WFS_REMOTE_MIN_CHUNK || *chunk > WFS_REMOTE_MAX_CHUNK) {
		wfs_error_add(err, "chunk_size=%zu: must be between 4K and 1G", *chunk);
		return -EINVAL;
	}
	if (*cache < *chunk) {
		wfs_error_add(err, "cache_size=%zu: must be at least chunk_size (%zu)", *cache, *chunk);
		return -EINVAL;
	}
	return 0;
}

static bool is_safetensors_listing(const struct wfs_listing *l, const struct wfs_source *src,
				   const struct wfs_open_options *opts);
static int open_remote_generic(struct wfs_model *m, struct wfs_remote *r, const struct wfs_listing *l,
			       const struct wfs_source *src, const char *source,
			       const struct wfs_open_options *opts, struct wfs_error *err);

static int open_remote(struct wfs_model *m, struct wfs_remote *r, const struct wfs_source *src, const char *source,
		       const struct wfs_open_options *opts, struct wfs_error *err)
{
	const struct wfs_warn *warn = &opts->warn;
	long long t0 = mono_ms();
	struct wfs_listing l;
	struct wfs_index idx;
	memset(&idx, 0, sizeof(idx));
	struct probe *probes = NULL;
	struct wfs_remote_file **extras = NULL;
	uint64_t *estimate = NULL;
	char **names = NULL;
	size_t nnames = 0, cap_names = 0, np = 0, nextras = 0;
	int rc = wfs_discover(r, src, source, &opts->remote, &l, err);
	if (rc < 0)
		goto out;
	if (!is_safetensors_listing(&l, src, opts)) {
		rc = open_remote_generic(m, r, &l, src, source, opts, err);
		goto out;
	}

	/* The index, when there is one. */
	if (l.index_name) {
		if (l.index_text == NULL) {
			char *url = wfs_listing_url(&l, l.index_name);
			const struct wfs_listed *li = listed(&l, l.index_name);
			struct wfs_req q;
			memset(&q, 0, sizeof(q));
			q.url = url;
			q.grow = true;
			q.limit = INDEX_LIMIT;
			q.known_size = WFS_SIZE_UNKNOWN;
			q.etag = li && li->etag ? li->etag : NULL;
			q.what = l.index_name;
			if (url)
				wfs_http_run(&r->http, &q, 1, 1);
			free(url);
			wfs_req_reset(&q);
			if (url == NULL || q.rc < 0) {
				char why[800];
				wfs_error_add(err, "%s: %s: %s", source, l.index_name,
					      url ? wfs_req_error(&q, why, sizeof(why)) : "out of memory");
				free(q.buf);
				rc = url == NULL ? -ENOMEM : q.rc == -ENOENT ? -ENOENT : q.rc == -EACCES ? -EACCES : -EIO;
				goto out;
			}
			l.index_text = (char *)q.buf;
			l.index_len = q.len;
		}
		if ((rc = wfs_index_parse(m, l.index_name, l.index_text, l.index_len, &idx, err)) < 0)
			goto out;
		m->sharded = true;
		if ((rc = wfs_arena_add(m, l.index_name, strlen(l.index_name), &m->index_name)) < 0)
			goto out;
		estimate = calloc(idx.nshards ? idx.nshards : 1, sizeof(*estimate));
		if (estimate == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		for (size_t i = 0; i < idx.nentries; i++)
			estimate[idx.entries[i].shard] += idx.entries[i].tensor.len + 160;
		for (size_t i = 0; i < idx.nshards && rc == 0; i++)
			rc = add_shard(m, idx.strings.data + idx.shards[i].off);
	} else {
		/* No index: every *.safetensors at the top, merged. */
		for (size_t i = 0; i < l.n && rc == 0; i++) {
			if (!is_shard_name(l.files[i].path))
				continue;
			if (WFS_GROW(names, cap_names, nnames, 1) < 0)
				rc = -ENOMEM;
			else
				names[nnames++] = l.files[i].path;
		}
		if (rc == 0 && nnames == 0) {
			wfs_error_add(err, "%s: no model.safetensors.index.json and no *.safetensors files", source);
			rc = -ENOENT;
		}
		if (rc == 0) {
			qsort(names, nnames, sizeof(*names), compare_cstr);
			for (size_t i = 0; i < nnames && rc == 0; i++)
				rc = add_shard(m, names[i]);
		}
	}
	if (rc < 0)
		goto out;

	/* The shards, and the other files whose size is unknown, are probed together. */
	probes = calloc(m->nshards + l.n + 1, sizeof(*probes));
	extras = calloc(l.n + 1, sizeof(*extras));
	if (probes == NULL || extras == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < m->nshards && rc == 0; i++) {
		const char *name = wfs_model_str(m, m->shards[i].name);
		const struct wfs_listed *li = listed(&l, name);
		if (l.complete && li == NULL) {
			char q[WFS_QUOTE_MAX];
			wfs_error_add(err, "%s: shard %s: No such file or directory", l.index_name,
				      wfs_quote(name, strlen(name), q));
			rc = WFS_EINVALID;
			continue;
		}
		struct wfs_remote_file *f = file_new(r, &l, name, li ? li->size : WFS_SIZE_UNKNOWN, li ? li->etag : NULL);
		size_t want = probe_size(estimate, i);
		if (f && f->size != WFS_SIZE_UNKNOWN && f->size < want)
			want = (size_t)f->size;
		uint8_t *buf = f && want ? malloc(want) : NULL;
		if (f == NULL || (want && buf == NULL)) {
			free(buf);
			rc = -ENOMEM;
			break;
		}
		struct probe *p = &probes[np++];
		p->f = f;
		p->shard = i;
		p->q.url = f->url;
		p->q.has_range = true;
		p->q.first = 0;
		p->q.last = want ? want - 1 : 0;
		p->q.known_size = f->size;
		p->q.etag = li && li->etag ? li->etag : NULL;
		p->q.buf = buf;
		p->q.cap = want;
		p->q.what = f->path;
		if (want == 0) {
			/* An empty file: nothing to ask; the prefix check reports it. */
			np--;
			m->shards[i].remote = f;
			m->shards[i].source = &wfs_source_remote;
			m->shards[i].size = 0;
			uint8_t zero[8] = {0};
			uint64_t hlen = 0;
			wfs_st_check_prefix(name, zero, 0, &hlen, err);
			rc = WFS_EINVALID;
		}
	}
	for (size_t i = 0; i < l.n && rc == 0 && !opts->no_extras; i++) {
		const struct wfs_listed *li = &l.files[i];
		bool is_index = l.index_name && strcmp(li->path, l.index_name) == 0;
		bool is_shard = false;
		for (size_t s = 0; s < m->nshards && !is_shard; s++)
			is_shard = strcmp(wfs_model_str(m, m->shards[s].name), li->path) == 0;
		if (is_index || is_shard)
			continue;
		struct wfs_remote_file *f = file_new(r, &l, li->path, li->size, li->etag);
		if (f == NULL) {
			rc = -ENOMEM;
			break;
		}
		extras[nextras++] = f;
		if (f->size != WFS_SIZE_UNKNOWN)
			continue;
		struct probe *p = &probes[np++];
		p->f = f;
		p->shard = UINT32_MAX;
		p->q.url = f->url;
		p->q.has_range = true;
		p->q.last = EXTRA_PROBE - 1;
		p->q.known_size = WFS_SIZE_UNKNOWN;
		p->q.buf = malloc(EXTRA_PROBE);
		p->q.cap = EXTRA_PROBE;
		p->q.what = f->path;
		if (p->q.buf == NULL) {
			rc = -ENOMEM;
			break;
		}
	}
	if (rc < 0)
		goto out;
	rc = load_headers(m, r, source, probes, np, warn, err);
	if (rc == -ENOENT && src->kind == WFS_SRC_HTTP && l.index_name == NULL && src->file == NULL &&
	    m->nshards == 1 && np && probes[0].q.rc == -ENOENT) {
		wfs_error_clear(err);
		wfs_error_add(err, "%s: no model.safetensors.index.json and no model.safetensors", source);
	}
	if (rc < 0)
		goto out;
	if ((rc = wfs_model_finish(m, err)) < 0)
		goto out;
	if (m->sharded && (rc = wfs_index_check(m, &idx, l.index_name, warn, err)) < 0)
		goto out;
	if ((rc = note_tensor_ends(m)) < 0)
		goto out;
	for (size_t i = 0; i < r->nfiles && rc == 0; i++) {
		struct wfs_remote_file *f = r->files[i];
		bool keyed = src->kind == WFS_SRC_HF || f->etag[0];
		if (keyed && (f->identity = identity_of(&l, f, src->kind)) == NULL)
			rc = -ENOMEM;
	}
	struct timespec mtime = {time(NULL), 0};
	if (m->nshards)
		mtime = m->shards[0].mtime;
	if (rc == 0)
		rc = add_extras(m, extras, nextras, mtime);
	if (rc == 0 && r->http.verbose)
		wfs_warnf(warn, "remote: %s: %zu shards, %zu tensors, %zu other files in %lld ms (%llu requests)",
			  source, m->nshards, m->ntensors, nextras, mono_ms() - t0,
			  (unsigned long long)atomic_load(&r->stats.requests));
out:
	if (probes)
		for (size_t i = 0; i < np; i++)
			free(probes[i].q.buf);
	free(probes);
	free(extras);
	free(estimate);
	free(names);
	wfs_index_release(&idx);
	wfs_listing_release(&l);
	return rc;
}

int wfs_remote_open_model(struct wfs_model *m, const char *source, const struct wfs_open_options *opts,
			  struct wfs_error *err)
{
	struct wfs_source src;
	size_t chunk, cache;
	int rc = check_options(&opts->remote, &chunk, &cache, err);
	if (rc < 0)
		return rc;
	uint64_t dir_limit = opts->remote.cache_dir_size ? opts->remote.cache_dir_size : WFS_REMOTE_DEFAULT_DIR_SIZE;
	if (dir_limit < chunk) {
		wfs_error_add(err, "cache_dir_size=%" PRIu64 ": must be at least chunk_size (%zu)", dir_limit, chunk);
		return -EINVAL;
	}
	if ((rc = wfs_source_parse(source, &src, err)) < 0)
		return rc;
	struct wfs_remote *r = calloc(1, sizeof(*r));
	if (r == NULL) {
		wfs_source_release(&src);
		return -ENOMEM;
	}
	m->remote = r; /* freed with the model, whatever happens next */
	r->chunk_size = chunk;
	r->source = strdup(source);
	if (r->source == NULL || (rc = wfs_http_init(&r->http, &opts->warn, opts->remote.verbose, &r->stats)) < 0) {
		wfs_source_release(&src);
		return -ENOMEM;
	}
	if ((rc = wfs_cache_new(r, cache, opts->remote.cache_dir, dir_limit, &r->cache, err)) == 0) {
		/* Formats read through the cache while opening: no readahead threads before the daemon forks. */
		rc = open_remote(m, r, &src, source, opts, err);
		wfs_cache_readahead(r->cache, true);
	}
	wfs_source_release(&src);
	return rc;
}

/* ---- other formats: resolve.c over the listing ----------------------------- */

/*
 * The remote file of @p path: made once, its size asked for with a first
 * range request when the listing does not give it (that answer's bytes
 * are kept when they are the whole file).
 */
static int remote_file_for(struct wfs_remote *r, const char *path, struct wfs_remote_file **out)
{
	const struct wfs_listing *l = r->listing;
	for (size_t i = 0; i < r->nfiles; i++)
		if (strcmp(r->files[i]->path, path) == 0) {
			*out = r->files[i];
			return 0;
		}
	const struct wfs_listed *li = listed(l, path);
	if (li == NULL && l->complete)
		return -ENOENT;
	struct wfs_remote_file *f = file_new(r, l, path, li ? li->size : WFS_SIZE_UNKNOWN, li ? li->etag : NULL);
	if (f == NULL)
		return -ENOMEM;
	if (f->size == WFS_SIZE_UNKNOWN) {
		struct wfs_req q;
		memset(&q, 0, sizeof(q));
		q.url = f->url;
		q.has_range = true;
		q.last = EXTRA_PROBE - 1;
		q.known_size = WFS_SIZE_UNKNOWN;
		q.buf = malloc(EXTRA_PROBE);
		q.cap = EXTRA_PROBE;
		q.what = f->path;
		if (q.buf == NULL)
			return -ENOMEM;
		wfs_http_run(&r->http, &q, 1, 1);
		int rc = q.rc;
		if (rc == 0) {
			f->size = q.total != WFS_SIZE_UNKNOWN ? q.total : q.status == 206 ? WFS_SIZE_UNKNOWN : q.len;
			etag_learn(f, q.resp_etag);
			if (f->size == WFS_SIZE_UNKNOWN)
				rc = -EIO;
			else if (f->size <= q.len)
				wfs_cache_offer(r->cache, f, 0, q.buf, (size_t)f->size);
		}
		free(q.buf);
		wfs_req_reset(&q);
		if (rc < 0)
			return rc == -ENOENT ? -ENOENT : rc == -ENOMEM ? -ENOMEM : -EIO;
	}
	*out = f;
	return 0;
}

int wfs_remote_open_shard(struct wfs_model *m, uint32_t i, const char *who, struct wfs_error *err)
{
	struct wfs_remote *r = m->remote;
	struct wfs_shard *s = &m->shards[i];
	char name[PATH_MAX], q[WFS_QUOTE_MAX];
	snprintf(name, sizeof(name), "%s", wfs_model_str(m, s->name));
	struct wfs_remote_file *f = NULL;
	int rc = r->listing ? remote_file_for(r, name, &f) : -ENOENT;
	if (rc < 0) {
		wfs_error_add(err, "%s%s%s: %s", who, *who ? ": " : "", wfs_quote(name, strlen(name), q),
			      rc == -ENOENT ? "No such file or directory" : strerror(-rc));
		return rc == -ENOENT ? WFS_EINVALID : rc;
	}
	s->remote = f;
	s->size = f->size;
	s->source = &wfs_source_remote;
	s->mtime.tv_sec = time(NULL);
	return 0;
}

static int rdir_list(void *ctx, const char *suffix, struct wfs_names *out)
{
	const struct wfs_listing *l = ((struct wfs_remote *)ctx)->listing;
	int rc = 0;
	for (size_t i = 0; i < l->n && rc == 0; i++)
		if (listed_top(l->files[i].path, suffix))
			rc = wfs_names_add(out, l->files[i].path);
	return rc;
}

static bool rdir_exists(void *ctx, const char *path)
{
	struct wfs_remote *r = ctx;
	struct wfs_remote_file *f;
	return listed(r->listing, path) != NULL || (!r->listing->complete && remote_file_for(r, path, &f) == 0);
}

static int rdir_read_file(void *ctx, const char *path, size_t limit, char **out, size_t *len)
{
	struct wfs_remote *r = ctx;
	const struct wfs_listing *l = r->listing;
	const struct wfs_listed *li = listed(l, path);
	if (li == NULL && l->complete)
		return -ENOENT;
	if (l->index_text && l->index_name && strcmp(path, l->index_name) == 0) {
		if ((*out = malloc(l->index_len + 1)) == NULL)
			return -ENOMEM;
		memcpy(*out, l->index_text, l->index_len);
		(*out)[l->index_len] = '\0';
		*len = l->index_len;
		return 0;
	}
	char *url = wfs_listing_url(l, path);
	if (url == NULL)
		return -ENOMEM;
	struct wfs_req q;
	memset(&q, 0, sizeof(q));
	q.url = url;
	q.grow = true;
	q.limit = limit;
	q.known_size = WFS_SIZE_UNKNOWN;
	q.etag = li && li->etag ? li->etag : NULL;
	q.what = path;
	wfs_http_run(&r->http, &q, 1, 1);
	free(url);
	wfs_req_reset(&q);
	int rc = q.rc;
	if (rc == 0) {
		char *text = realloc(q.buf, q.len + 1);
		if (text == NULL) {
			free(q.buf);
			return -ENOMEM;
		}
		text[q.len] = '\0';
		*out = text;
		*len = q.len;
		return 0;
	}
	free(q.buf);
	return rc == -ENOENT ? -ENOENT : rc == -ENOMEM ? -ENOMEM : rc == -E2BIG ? -EFBIG : -EIO;
}

static ssize_t rdir_read_head(void *ctx, const char *path, uint8_t *buf, size_t cap)
{
	struct wfs_remote_file *f;
	int rc = remote_file_for(ctx, path, &f);
	if (rc < 0)
		return rc;
	size_t n = f->size < cap ? (size_t)f->size : cap;
	ssize_t got = wfs_remote_pread(f, buf, n, 0);
	return got < 0 ? got : (ssize_t)n;
}

static const struct wfs_dir_ops remote_dir = {
	.list = rdir_list,
	.exists = rdir_exists,
	.read_file = rdir_read_file,
	.read_head = rdir_read_head,
};

/* Whether the safetensors fast path (parallel header requests) applies to this listing. */
static bool is_safetensors_listing(const struct wfs_listing *l, const struct wfs_source *src,
				   const struct wfs_open_options *opts)
{
	if (opts->format)
		return strcmp(opts->format, "safetensors") == 0;
	if (src->kind == WFS_SRC_HTTP && src->file)
		return listed_top(src->file, ".safetensors") || (l->index_name && !listed_top(l->index_name, ".bin.index.json"));
	if (l->index_name || (src->kind == WFS_SRC_HTTP && !l->complete))
		return true;
	for (size_t i = 0; i < l->n; i++)
		if (is_shard_name(l->files[i].path))
			return true;
	return false;
}

/* A remote model of another format: resolve.c's rules over the listing, reads through the cache. */
static int open_remote_generic(struct wfs_model *m, struct wfs_remote *r, const struct wfs_listing *l,
			       const struct wfs_source *src, const char *source,
			       const struct wfs_open_options *opts, struct wfs_error *err)
{
	struct wfs_dir d = {.ops = &remote_dir, .ctx = r};
	r->listing = l;
	int rc = src->kind == WFS_SRC_HTTP && src->file ? wfs_resolve_file(m, &d, src->file, opts, err)
							: wfs_resolve_dir(m, &d, source, opts, err);
	struct wfs_remote_file **extras = calloc(l->n + 1, sizeof(*extras));
	size_t nextras = 0;
	if (extras == NULL && rc == 0)
		rc = -ENOMEM;
	for (size_t i = 0; i < l->n && rc == 0 && !opts->no_extras; i++) {
		const char *path = l->files[i].path;
		bool used = m->sharded && strcmp(wfs_model_str(m, m->index_name), path) == 0;
		for (size_t s = 0; s < m->nshards && !used; s++)
			used = strcmp(wfs_model_str(m, m->shards[s].name), path) == 0;
		if (!used)
			rc = remote_file_for(r, path, &extras[nextras++]);
	}
	if (rc == 0)
		rc = note_tensor_ends(m);
	for (size_t i = 0; i < r->nfiles && rc == 0; i++) {
		struct wfs_remote_file *f = r->files[i];
		if ((src->kind == WFS_SRC_HF || f->etag[0]) && f->identity == NULL &&
		    (f->identity = identity_of(l, f, src->kind)) == NULL)
			rc = -ENOMEM;
	}
	if (rc == 0)
		rc = add_extras(m, extras, nextras, (struct timespec){time(NULL), 0});
	free(extras);
	r->listing = NULL;
	return rc;
}
