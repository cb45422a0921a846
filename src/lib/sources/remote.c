/**
 * @file remote.c
 * Shards fetched over HTTP by range (remote_*.c): reads and views go
 * through the session's chunk cache.
 */
#include "source.h"

static ssize_t remote_pread(const struct wfs_model *m, const struct wfs_shard *s, void *buf, size_t len,
			    uint64_t off)
{
	(void)m;
	if (off > s->size || len > s->size - off)
		return -EIO;
	return wfs_remote_pread(s->remote, buf, len, off);
}

static ssize_t remote_view(const struct wfs_model *m, const struct wfs_shard *s, size_t len, uint64_t off,
			   struct wfs_view *v)
{
	(void)m;
	if (off > s->size || len > s->size - off)
		return -EIO;
	return wfs_remote_view(s->remote, len, off, v);
}

const struct wfs_source_ops wfs_source_remote = {
	.kind = "remote",
	.pread = remote_pread,
	.view = remote_view,
};
