/**
 * @file zip.h
 * The zip container of PyTorch checkpoints (torch.save since 1.6,
 * torch.jit.save), read by range: the end records and the central
 * directory, then each entry's local header, so a remote file is never
 * fetched whole.
 *
 * Format rules are from PKWARE's APPNOTE.TXT (6.3.x): 4.3.16 end of central
 * directory record, 4.3.15 zip64 end of central directory locator, 4.3.14
 * zip64 end of central directory record, 4.3.12 central directory header,
 * 4.3.7 local file header, 4.5.3 zip64 extended information extra field,
 * 4.4.4 general purpose flag bit 3 (sizes in a data descriptor: torch's
 * PyTorchStreamWriter sets it and writes zero CRC and sizes in the local
 * header, so the central directory is what counts).
 *
 * What is refused, each with one message: no end record, a central
 * directory or local header outside the file or beyond its limits, a
 * local header that disagrees with its central directory entry (name,
 * method, sizes when bit 3 is clear), entries that overlap or run into
 * the central directory, duplicate names, encrypted entries, methods other
 * than stored (0) and deflate (8), multi-disk archives.
 */
#ifndef WEIGHTFS_PT_ZIP_H
#define WEIGHTFS_PT_ZIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/error.h"

/** Reads exactly @p len bytes at @p off: 0, or a negative errno. */
typedef int (*wfs_zip_pread_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/** Optional: a hint that @p len bytes at @p off will be read soon (never fails). */
typedef void (*wfs_zip_willneed_fn)(void *ctx, uint64_t off, uint64_t len);

/** Most entries an archive may have (a Llama-3-405B shard has a few hundred). */
#define WFS_ZIP_MAX_ENTRIES (1u << 20)
/** Most bytes of central directory read into memory. */
#define WFS_ZIP_MAX_CD (64u << 20)

struct wfs_zip_entry {
	const char *name;      /**< into wfs_zip.names, NUL-terminated (names hold no NUL) */
	size_t name_len;
	uint64_t header_offset; /**< the local header */
	uint64_t data_offset;   /**< the entry's first byte (after the local header) */
	uint64_t csize;         /**< bytes stored */
	uint64_t usize;         /**< bytes once inflated (== csize when stored) */
	uint32_t crc32;
	uint16_t method;        /**< 0 stored, 8 deflate */
	uint16_t flags;
};

struct wfs_zip {
	struct wfs_zip_entry *entries; /**< sorted by name */
	size_t nentries;
	char *names;
	uint64_t cd_offset;            /**< where the central directory starts: entries end before it */
	size_t prefix_len;             /**< the shared top-level folder, with its '/' ("archive/") */
};

/**
 * Reads the end records, the central directory and every local header of a
 * zip of @p size bytes through @p pread, and checks them (see the file
 * comment), and that every name starts with one shared top-level folder.
 * @p willneed (or NULL) is told about every local header first, so that
 * their reads, one per entry scattered over the file, are fetched together.
 * Returns 0, WFS_EINVALID with one line in @p err (prefixed with @p label),
 * -ENOMEM, or the error of @p pread.
 */
int wfs_zip_open(struct wfs_zip *z, uint64_t size, wfs_zip_pread_fn pread, wfs_zip_willneed_fn willneed,
		 void *ctx, const char *label, struct wfs_error *err);

/** The entry called prefix + @p rel (the part after the top-level folder), or NULL. */
const struct wfs_zip_entry *wfs_zip_find(const struct wfs_zip *z, const char *rel, size_t rel_len);

/**
 * Reads entry @p e whole into a new buffer (*out, free(); *out_len bytes):
 * stored, or deflate inflated with zlib. Refuses an entry of more than
 * @p max bytes and a CRC-32 that does not match. 0, WFS_EINVALID, -ENOMEM,
 * or the error of @p pread.
 */
int wfs_zip_read(const struct wfs_zip *z, const struct wfs_zip_entry *e, size_t max, wfs_zip_pread_fn pread,
		 void *ctx, const char *label, uint8_t **out, size_t *out_len, struct wfs_error *err);

void wfs_zip_free(struct wfs_zip *z);

#endif
