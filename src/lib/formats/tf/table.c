/**
 * @file table.c
 * A LevelDB-format table reader over bytes in memory (table.h), after the
 * format as documented in leveldb's doc/table_format.md.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <snappy-c.h>

#include "../../cursor.h"
#include "../crc32c.h"
#include "table.h"

struct handle {
	uint64_t offset, size;
};

struct reader {
	const uint8_t *file;
	size_t size;
	size_t limit;          /* blocks lie before this (the footer's start) */
	const char *label;
	struct wfs_error *err;
	uint8_t *prev;         /* the last key seen, for the order check */
	size_t prev_len, prev_cap;
	bool have_prev;
};

static int fail(struct reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int fail(struct reader *r, const char *fmt, ...)
{
	char msg[512];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wfs_error_add(r->err, "%s: %s", r->label, msg);
	return WFS_EINVALID;
}

/* A BlockHandle: two varints. */
static bool read_handle(struct wfs_cursor *c, struct handle *h)
{
	h->offset = wfs_cur_varint(c);
	h->size = wfs_cur_varint(c);
	return !c->bad;
}

/*
 * Checks block @p h (what, for messages) and its trailer, and returns its
 * contents in *data and *len: in the file, or uncompressed into *owned (free()).
 */
static int load_block(struct reader *r, const char *what, struct handle h, const uint8_t **data, size_t *len,
		      uint8_t **owned)
{
	*owned = NULL;
	if (h.offset > r->limit || h.size > r->limit - h.offset ||
	    WFS_TFT_TRAILER_LEN > r->limit - h.offset - h.size)
		return fail(r, "%s block handle (offset %llu, size %llu) is past the end of the table (%zu bytes before the footer)",
			    what, (unsigned long long)h.offset, (unsigned long long)h.size, r->limit);
	if (h.size > WFS_TFT_MAX_BLOCK)
		return fail(r, "%s block of %llu bytes is larger than %u", what, (unsigned long long)h.size,
			    WFS_TFT_MAX_BLOCK);
	const uint8_t *p = r->file + h.offset;
	uint8_t type = p[h.size];
	uint32_t stored = wfs_ld32(p + h.size + 1);
	uint32_t actual = wfs_crc32c_mask(wfs_crc32c_extend(wfs_crc32c(p, (size_t)h.size), &type, 1));
	if (stored != actual)
		return fail(r, "%s block at offset %llu: checksum 0x%08x, computed 0x%08x", what,
			    (unsigned long long)h.offset, stored, actual);
	if (type == 0) {
		*data = p;
		*len = (size_t)h.size;
		return 0;
	}
	if (type != 1)
		return fail(r, "%s block at offset %llu: compression type %u is neither none (0) nor snappy (1)", what,
			    (unsigned long long)h.offset, type);
	size_t out_len;
	if (snappy_uncompressed_length((const char *)p, (size_t)h.size, &out_len) != SNAPPY_OK)
		return fail(r, "%s block at offset %llu: not valid snappy data", what, (unsigned long long)h.offset);
	if (out_len > WFS_TFT_MAX_BLOCK)
		return fail(r, "%s block at offset %llu uncompresses to %zu bytes, more than %u", what,
			    (unsigned long long)h.offset, out_len, WFS_TFT_MAX_BLOCK);
	uint8_t *out = malloc(out_len ? out_len : 1);
	if (out == NULL)
		return -ENOMEM;
	size_t got = out_len;
	if (snappy_uncompress((const char *)p, (size_t)h.size, (char *)out, &got) != SNAPPY_OK || got != out_len) {
		free(out);
		return fail(r, "%s block at offset %llu: not valid snappy data", what, (unsigned long long)h.offset);
	}
	*owned = out;
	*data = out;
	*len = out_len;
	return 0;
}

static int compare(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0; /* an empty key may have no buffer yet */
	if (c)
		return c;
	return alen < blen ? -1 : alen > blen;
}

struct block_iter {
	const uint8_t *data;
	size_t len;
	size_t entries_end;    /* where the restart array begins */
	uint32_t nrestarts;
	struct wfs_cursor c;
	uint8_t *key;          /* the current key, rebuilt from shared prefixes */
	size_t key_len, key_cap;
	const uint8_t *value;
	size_t value_len;
};

/* Checks the restart array; positions the iterator at the first entry. */
static int block_begin(struct reader *r, const char *what, uint64_t at, const uint8_t *data, size_t len,
		       struct block_iter *it)
{
	memset(it, 0, sizeof(*it));
	if (len < 4)
		return fail(r, "%s block at offset %llu: %zu bytes, too short for its restart count", what,
			    (unsigned long long)at, len);
	uint32_t n = wfs_ld32(data + len - 4);
	if (n == 0 || n > (len - 4) / 4)
		return fail(r, "%s block at offset %llu: restart count %u out of range for %zu bytes", what,
			    (unsigned long long)at, n, len);
	size_t end = len - 4 - (size_t)n * 4;
	uint32_t last = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t off = wfs_ld32(data + end + (size_t)i * 4);
		if ((i == 0 && off != 0) || (i > 0 && off <= last) || off >= (end ? end : 1))
			return fail(r, "%s block at offset %llu: restart point %u (%u) out of range or out of order",
				    what, (unsigned long long)at, i, off);
		last = off;
	}
	it->data = data;
	it->len = len;
	it->entries_end = end;
	it->nrestarts = n;
	it->c = wfs_cursor_make(data, end);
	return 0;
}

/* Reads the next entry: 1, 0 at the end, or WFS_EINVALID / -ENOMEM. */
static int block_next(struct reader *r, const char *what, uint64_t at, struct block_iter *it, uint32_t *restart)
{
	if (wfs_cur_left(&it->c) == 0)
		return 0;
	size_t here = wfs_cur_offset(&it->c);
	uint64_t shared = wfs_cur_varint(&it->c);
	uint64_t unshared = wfs_cur_varint(&it->c);
	uint64_t vlen = wfs_cur_varint(&it->c);
	if (it->c.bad)
		return fail(r, "%s block at offset %llu: entry at %zu: truncated varint", what, (unsigned long long)at,
			    here);
	if (shared > it->key_len)
		return fail(r, "%s block at offset %llu: entry at %zu shares %llu bytes of a %zu-byte key", what,
			    (unsigned long long)at, here, (unsigned long long)shared, it->key_len);
	/* At a restart point the key is whole. */
	if (*restart < it->nrestarts && wfs_ld32(it->data + it->entries_end + (size_t)*restart * 4) == here) {
		if (shared != 0)
			return fail(r, "%s block at offset %llu: entry at restart point %zu shares %llu bytes", what,
				    (unsigned long long)at, here, (unsigned long long)shared);
		(*restart)++;
	}
	const uint8_t *delta = wfs_cur_take(&it->c, unshared);
	const uint8_t *value = wfs_cur_take(&it->c, vlen);
	if (it->c.bad)
		return fail(r, "%s block at offset %llu: entry at %zu: key or value past the end of the entries",
			    what, (unsigned long long)at, here);
	size_t klen = (size_t)shared + (size_t)unshared; /* both below the block size */
	if (klen > it->key_cap) {
		size_t cap = klen < 64 ? 64 : klen * 2;
		uint8_t *k = realloc(it->key, cap);
		if (k == NULL)
			return -ENOMEM;
		it->key = k;
		it->key_cap = cap;
	}
	if (unshared)
		memcpy(it->key + shared, delta, (size_t)unshared);
	it->key_len = klen;
	it->value = value;
	it->value_len = (size_t)vlen;
	return 1;
}

static int remember_key(struct reader *r, const uint8_t *key, size_t len)
{
	if (len > r->prev_cap) {
		size_t cap = len < 64 ? 64 : len * 2;
		uint8_t *k = realloc(r->prev, cap);
		if (k == NULL)
			return -ENOMEM;
		r->prev = k;
		r->prev_cap = cap;
	}
	if (len)
		memcpy(r->prev, key, len);
	r->prev_len = len;
	r->have_prev = true;
	return 0;
}

/* Every entry of one data block, in order; each key after the previous, none after @p sep. */
static int read_data_block(struct reader *r, struct handle h, const uint8_t *sep, size_t sep_len,
			   wfs_tft_entry_fn fn, void *ctx)
{
	const uint8_t *data;
	size_t len;
	uint8_t *owned;
	int rc = load_block(r, "data", h, &data, &len, &owned);
	if (rc)
		return rc;
	struct block_iter it;
	uint32_t restart = 0;
	if ((rc = block_begin(r, "data", h.offset, data, len, &it)) == 0) {
		while ((rc = block_next(r, "data", h.offset, &it, &restart)) == 1) {
			if (r->have_prev && compare(it.key, it.key_len, r->prev, r->prev_len) <= 0) {
				rc = fail(r, "data block at offset %llu: a key does not sort after its predecessor (%zu-byte key)",
					  (unsigned long long)h.offset, it.key_len);
				break;
			}
			if (compare(it.key, it.key_len, sep, sep_len) > 0) {
				rc = fail(r, "data block at offset %llu: a key sorts after the index's separator for its block",
					  (unsigned long long)h.offset);
				break;
			}
			if ((rc = remember_key(r, it.key, it.key_len)) != 0)
				break;
			if ((rc = fn(ctx, it.key ? it.key : (const uint8_t *)"", it.key_len, it.value, it.value_len, r->err)) != 0)
				break;
		}
		if (rc == 0 && restart != it.nrestarts && it.entries_end)
			rc = fail(r, "data block at offset %llu: restart point %u is not at an entry",
				  (unsigned long long)h.offset, restart);
	}
	free(it.key);
	free(owned);
	return rc;
}

int wfs_tft_read(const uint8_t *file, size_t size, const char *label, wfs_tft_entry_fn fn, void *ctx,
		 struct wfs_error *err)
{
	struct reader r = {.file = file, .size = size, .label = label, .err = err};
	if (size < WFS_TFT_FOOTER_LEN)
		return fail(&r, "%zu bytes: too short for a table footer (48 bytes)", size);
	const uint8_t *footer = file + size - WFS_TFT_FOOTER_LEN;
	if (wfs_ld64(footer + 40) != WFS_TFT_MAGIC)
		return fail(&r, "not a LevelDB-format table (no table magic in the last 8 bytes)");
	r.limit = size - WFS_TFT_FOOTER_LEN;
	struct wfs_cursor fc = wfs_cursor_make(footer, 40);
	struct handle meta, index;
	if (!read_handle(&fc, &meta) || !read_handle(&fc, &index))
		return fail(&r, "table footer: truncated block handle");

	/* The metaindex block: checked, not used (TensorFlow writes it empty). */
	const uint8_t *data;
	size_t len;
	uint8_t *owned;
	int rc = load_block(&r, "metaindex", meta, &data, &len, &owned);
	if (rc)
		return rc;
	free(owned);

	if ((rc = load_block(&r, "index", index, &data, &len, &owned)) != 0)
		return rc;
	struct block_iter it;
	uint32_t restart = 0;
	uint8_t *prev_sep = NULL;
	size_t prev_sep_len = 0;
	bool have_sep = false;
	uint64_t next_data = 0;
	if ((rc = block_begin(&r, "index", index.offset, data, len, &it)) == 0) {
		while ((rc = block_next(&r, "index", index.offset, &it, &restart)) == 1) {
			if (have_sep && compare(it.key, it.key_len, prev_sep, prev_sep_len) <= 0) {
				rc = fail(&r, "index block: a key does not sort after its predecessor");
				break;
			}
			uint8_t *s = realloc(prev_sep, it.key_len ? it.key_len : 1);
			if (s == NULL) {
				rc = -ENOMEM;
				break;
			}
			prev_sep = s;
			if (it.key_len)
				memcpy(prev_sep, it.key, it.key_len);
			prev_sep_len = it.key_len;
			have_sep = true;
			struct wfs_cursor hc = wfs_cursor_make(it.value, it.value_len);
			struct handle h;
			if (!read_handle(&hc, &h) || wfs_cur_left(&hc) != 0) {
				rc = fail(&r, "index block: a value is not one block handle");
				break;
			}
			/* Data blocks are written one after the other: a handle that goes back
			 * (or repeats a block) would make reading cost more than the file's size. */
			if (h.offset < next_data) {
				rc = fail(&r, "index block: data block handle (offset %llu) overlaps or precedes the previous data block",
					  (unsigned long long)h.offset);
				break;
			}
			if ((rc = read_data_block(&r, h, prev_sep, prev_sep_len, fn, ctx)) != 0)
				break;
			next_data = h.offset + h.size + WFS_TFT_TRAILER_LEN; /* inside the file: checked by load_block */
		}
		if (rc == 0 && restart != it.nrestarts && it.entries_end)
			rc = fail(&r, "index block: restart point %u is not at an entry", restart);
	}
	free(prev_sep);
	free(it.key);
	free(owned);
	free(r.prev);
	return rc;
}
