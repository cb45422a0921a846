/**
 * @file pytorch.h
 * What the zip archive reader (archive.c) and the legacy stream reader
 * (legacy.c) share once a pickle is parsed: turning what the walk finds
 * into the model's tensors and metadata.
 */
#ifndef WEIGHTFS_PT_PYTORCH_H
#define WEIGHTFS_PT_PYTORCH_H

#include <limits.h>

#include "../format.h"
#include "walk.h"

/** One PyTorch file being opened. */
struct wfs_pt_file {
	struct wfs_build *b;
	uint32_t shard;
	char label[PATH_MAX];   /**< the shard's name, for messages (the arena moves) */
	struct wfs_error *err;
	/**
	 * Where storage @p s lies: absolute offset and length in bytes of its
	 * bytes in the shard. 0, or WFS_EINVALID with a message naming @p name.
	 */
	int (*find_storage)(struct wfs_pt_file *f, const struct wfs_pt_storage *s, const char *name, size_t name_len,
			    uint64_t *base, uint64_t *bytes);
	void *impl;             /**< the reader's own state */
	const char *what;       /**< the pickle being walked, for messages ("data.pkl") */
};

/** wfs_zip_pread_fn over the shard: reads through wfs_shard_pread. */
int wfs_pt_pread(void *file, void *buf, size_t len, uint64_t off);

/** wfs_zip_willneed_fn over the shard (wfs_build_willneed). */
void wfs_pt_willneed(void *file, uint64_t off, uint64_t len);

/** Reports a read error of the shard as one line; returns @p rc. */
int wfs_pt_read_error(struct wfs_pt_file *f, int rc);

/**
 * Walks pickle @p p from @p top (with @p opts; root from the open options
 * unless @p no_root) and adds every tensor (RANGE when contiguous, STRIDED
 * with user.stride otherwise; user.offset is element 0's absolute offset)
 * and metadata leaf (WFS_KV_METADATA) to the model.
 */
int wfs_pt_add_pickle(struct wfs_pt_file *f, const struct wfs_pickle *p, uint32_t top, bool script,
		      const char *prefix, bool no_root);

/** Adds root xattr user.pytorch.archive = @p kind ("zip", "torchscript", "legacy") once per group. */
int wfs_pt_set_archive(struct wfs_pt_file *f, const char *kind);

/** Opens a zip archive (torch.save >= 1.6, torch.jit.save): data.pkl, data/KEY, constants.pkl. */
int wfs_pt_open_zip(struct wfs_pt_file *f);

/** Opens a legacy (torch < 1.6) stream: magic, protocol, sys_info, object, storage keys, storages. */
int wfs_pt_open_legacy(struct wfs_pt_file *f);

/** The first bytes of a legacy stream: PROTO 2, LONG1 of 10 bytes, the magic number 0x1950a86a20f9469cfc6c. */
extern const uint8_t wfs_pt_legacy_magic[14];

#endif
