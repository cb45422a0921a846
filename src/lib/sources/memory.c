/**
 * @file memory.c
 * Shards whose bytes the caller holds in memory (wfs_model_open_memory: the
 * fuzz harnesses and unit tests). Reads copy; views lend the bytes.
 */
#include <string.h>

#include "source.h"

static ssize_t memory_pread(const struct wfs_model *m, const struct wfs_shard *s, void *buf, size_t len,
			    uint64_t off)
{
	(void)m;
	if (off > s->size || len > s->size - off)
		return -EIO;
	if (len)
		memcpy(buf, s->memory + off, len);
	return (ssize_t)len;
}

static ssize_t memory_view(const struct wfs_model *m, const struct wfs_shard *s, size_t len, uint64_t off,
			   struct wfs_view *v)
{
	(void)m;
	if (off > s->size || len > s->size - off)
		return -EIO;
	v->iov[0] = (struct iovec){.iov_base = (void *)(s->memory + off), .iov_len = len};
	v->count = 1;
	return (ssize_t)len;
}

const struct wfs_source_ops wfs_source_memory = {
	.kind = "memory",
	.pread = memory_pread,
	.view = memory_view,
};
