/**
 * @file source.h
 * Where a shard's bytes come from: one interface for a local file, bytes
 * held in memory and a file over HTTP (squashfuse's sqfs_fd_t, libarchive's
 * client callbacks). Formats and the read path ask a shard's source for
 * bytes and never look at what is behind it.
 */
#ifndef WEIGHTFS_SOURCE_H
#define WEIGHTFS_SOURCE_H

#include "../internal.h"

struct wfs_source_ops {
	const char *kind; /**< "local", "memory", "remote" */
	/** Reads exactly @p len bytes at @p off: @p len, or a negative errno (-EIO when the file is shorter now). */
	ssize_t (*pread)(const struct wfs_model *m, const struct wfs_shard *s, void *buf, size_t len, uint64_t off);
	/**
	 * Optional: lends exactly @p len bytes at @p off without copying
	 * (wfs_tensor_view): @p len, -EAGAIN when they cannot be lent, or -EIO.
	 */
	ssize_t (*view)(const struct wfs_model *m, const struct wfs_shard *s, size_t len, uint64_t off,
			struct wfs_view *v);
	/** Optional: a descriptor kept open to splice from, or -1. */
	int (*splice_fd)(const struct wfs_model *m, const struct wfs_shard *s);
	/**
	 * Optional: a hint that @p len bytes at @p off will be read soon
	 * (posix_fadvise WILLNEED), so that many small reads scattered over a
	 * file (a zip's local headers) are fetched together rather than one
	 * by one. Never fails; nothing is read into the caller's memory.
	 */
	void (*willneed)(const struct wfs_model *m, const struct wfs_shard *s, uint64_t off, uint64_t len);
	/** Optional: releases what the shard holds (its descriptor). */
	void (*close)(struct wfs_shard *s);
};

extern const struct wfs_source_ops wfs_source_local;
extern const struct wfs_source_ops wfs_source_memory;
extern const struct wfs_source_ops wfs_source_remote;

/**
 * Opens the local file @p name (relative to m->dirfd) as shard @p s: checks
 * it is a regular file, records its size and identity, and keeps its
 * descriptor when @p keep_fd. 0, WFS_EINVALID (missing, not a regular file)
 * with a message in @p err naming @p who (the index, or ""), or -errno.
 */
int wfs_source_local_open(struct wfs_model *m, struct wfs_shard *s, bool keep_fd, const char *who,
			  struct wfs_error *err);

#endif
