/**
 * @file table.h
 * Reading a LevelDB-format table held in memory (TensorFlow's tensor
 * bundle `.index` is one): the 48-byte footer (metaindex and index block
 * handles, padding, the table magic), the index block whose values are
 * the data blocks' handles, and each data block's entries (prefix-
 * compressed keys, restart points), every block checked against its
 * trailer (compression type, masked CRC-32C). Snappy-compressed blocks are
 * uncompressed with Debian's libsnappy.
 *
 * Keys must sort strictly after their predecessor (bytewise) across the
 * whole table; handles lie inside the file before the footer; restart
 * arrays lie inside their block and point at entries that share nothing.
 */
#ifndef WEIGHTFS_TF_TABLE_H
#define WEIGHTFS_TF_TABLE_H

#include <stddef.h>
#include <stdint.h>

#include "weightfs/error.h"

#define WFS_TFT_FOOTER_LEN 48
#define WFS_TFT_MAGIC 0xdb4775248b80fb57ull
#define WFS_TFT_TRAILER_LEN 5
/** The largest block accepted, stored or uncompressed (TensorFlow writes ~8 KiB blocks). */
#define WFS_TFT_MAX_BLOCK (64u << 20)

/** Receives each entry in key order; @p key and @p value are valid only during the call. 0 to go on, else a negative errno. */
typedef int (*wfs_tft_entry_fn)(void *ctx, const uint8_t *key, size_t key_len, const uint8_t *value,
				size_t value_len, struct wfs_error *err);

/**
 * Reads every entry of the table in the @p size bytes at @p file. Problems
 * go to @p err prefixed with @p label. Returns 0, WFS_EINVALID, -ENOMEM, or
 * what @p fn returned.
 */
int wfs_tft_read(const uint8_t *file, size_t size, const char *label, wfs_tft_entry_fn fn, void *ctx,
		 struct wfs_error *err);

#endif
