/**
 * @file extent.c
 * Reading a tensor's bytes whatever its extent: a contiguous range of a
 * shard, elements gathered by strides, or bytes decoded into memory at
 * open. The FUSE layer and weightfs-inspect call these and nothing else.
 * No lock, no allocation: the model is immutable.
 */
#include <string.h>

#include "internal.h"
#include "sources/source.h"

ssize_t wfs_shard_pread(const struct wfs_model *m, const struct wfs_shard *s, void *buf, size_t len, uint64_t off)
{
	uint64_t end;
	if (__builtin_add_overflow(off, len, &end))
		return -EINVAL;
	if (s->source == NULL)
		return -EIO;
	return s->source->pread(m, s, buf, len, off);
}

/* The storage bytes a strided read copies from, cached a window at a time. */
#define GATHER_WINDOW 16384

struct window {
	const struct wfs_model *m;
	const struct wfs_shard *s;
	uint64_t start; /* absolute offset of buf[0] in the shard */
	size_t len;
	uint8_t buf[GATHER_WINDOW];
};

/* Copies len bytes at absolute offset pos of the shard, through the window. */
static int gather(struct window *w, uint64_t pos, uint8_t *dst, size_t len)
{
	if (len > GATHER_WINDOW) { /* a long contiguous run: read it straight */
		ssize_t n = wfs_shard_pread(w->m, w->s, dst, len, pos);
		return n < 0 ? (int)n : 0;
	}
	if (w->len == 0 || pos < w->start || pos - w->start + len > w->len) {
		size_t want = GATHER_WINDOW;
		if (w->s->size - pos < want) /* the storage lies inside the shard (checked at open) */
			want = (size_t)(w->s->size - pos);
		if (want < len)
			return -EIO;
		ssize_t n = wfs_shard_pread(w->m, w->s, w->buf, want, pos);
		if (n < 0) {
			w->len = 0;
			return (int)n;
		}
		w->start = pos;
		w->len = want;
	}
	memcpy(dst, w->buf + (pos - w->start), len);
	return 0;
}

/*
 * Reads logical bytes [off, off+len) of a STRIDED tensor: row-major element
 * order, each element taken from element 0 + sum(index[d] * stride[d]).
 * Trailing dimensions that are contiguous in storage are copied as one run.
 */
static ssize_t strided_read(const struct wfs_model *m, const struct wfs_tensor *t, uint8_t *buf, size_t len,
			    uint64_t off)
{
	const uint64_t *shape = m->dims + t->dims, *stride = m->strides + t->strides;
	const uint64_t esize = wfs_dtype_block_bytes(t->dtype);
	/* run: elements per contiguous run (a product of trailing dims with row-major strides) */
	uint64_t run = 1;
	uint32_t inner = t->ndim;
	while (inner > 0 && stride[inner - 1] == run) {
		run *= shape[inner - 1];
		inner--;
	}
	static _Thread_local struct window w;
	w.m = m;
	w.s = &m->shards[t->shard];
	w.len = 0;
	size_t done = 0;
	while (done < len) {
		uint64_t pos = off + done;
		uint64_t elem = pos / esize, within = pos % esize;
		uint64_t in_run = elem % run, rest = elem / run;
		/* storage element of the run's first element: dims [0, inner) */
		uint64_t se = 0;
		for (uint32_t d = inner; d-- > 0;) {
			se += (rest % shape[d]) * stride[d];
			rest /= shape[d];
		}
		uint64_t src = t->offset + (se + in_run) * esize + within;
		uint64_t avail = (run - in_run) * esize - within;
		size_t n = avail < len - done ? (size_t)avail : len - done;
		int rc = gather(&w, src, buf + done, n);
		if (rc < 0)
			return rc;
		done += n;
	}
	return (ssize_t)len;
}

ssize_t wfs_tensor_read(const struct wfs_model *m, const struct wfs_tensor *t, void *buf, size_t len, uint64_t off)
{
	if (off >= t->nbytes)
		return 0;
	if (len > t->nbytes - off)
		len = (size_t)(t->nbytes - off);
	switch (t->extent) {
	case WFS_EXTENT_RANGE:
		return wfs_shard_pread(m, &m->shards[t->shard], buf, len, t->offset + off);
	case WFS_EXTENT_STRIDED:
		return strided_read(m, t, buf, len, off);
	case WFS_EXTENT_MEMORY:
		memcpy(buf, m->blob + t->offset + off, len);
		return (ssize_t)len;
	default:
		return -EIO;
	}
}

ssize_t wfs_tensor_view(const struct wfs_model *m, const struct wfs_tensor *t, size_t len, uint64_t off,
			struct wfs_view *v)
{
	v->count = 0;
	v->owner = NULL;
	if (off >= t->nbytes)
		return 0;
	if (len > t->nbytes - off)
		len = (size_t)(t->nbytes - off);
	if (t->extent == WFS_EXTENT_MEMORY) {
		v->iov[0] = (struct iovec){.iov_base = m->blob + t->offset + off, .iov_len = len};
		v->count = 1;
		return (ssize_t)len;
	}
	const struct wfs_shard *s = &m->shards[t->shard];
	if (t->extent != WFS_EXTENT_RANGE || s->source == NULL || s->source->view == NULL)
		return -EAGAIN;
	return s->source->view(m, s, len, t->offset + off, v);
}

int wfs_tensor_splice_source(const struct wfs_model *m, const struct wfs_tensor *t, uint64_t off, size_t len,
			     int *fd, uint64_t *pos)
{
	const struct wfs_shard *s = &m->shards[t->shard];
	if (t->extent != WFS_EXTENT_RANGE || s->source == NULL || s->source->splice_fd == NULL ||
	    off > t->nbytes || len > t->nbytes - off)
		return -EAGAIN;
	int f = s->source->splice_fd(m, s);
	if (f < 0)
		return -EAGAIN;
	*fd = f;
	*pos = t->offset + off;
	return 0;
}

void wfs_view_release(struct wfs_view *v)
{
	if (v->owner)
		wfs_remote_view_release(v);
	v->count = 0;
	v->owner = NULL;
}
