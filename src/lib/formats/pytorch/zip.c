/**
 * @file zip.c
 * Reads a zip archive's directory by range and checks it (see zip.h).
 */
#include "zip.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "../../cursor.h"
#include "../../internal.h"

#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

enum {
	EOCD_LEN = 22,          /* APPNOTE 4.3.16, without the comment */
	EOCD_MAX_COMMENT = 65535,
	Z64_LOCATOR_LEN = 20,   /* 4.3.15 */
	Z64_EOCD_LEN = 56,      /* 4.3.14, without the extensible data */
	CDH_LEN = 46,           /* 4.3.12 */
	LFH_LEN = 30,           /* 4.3.7 */
};

static const uint8_t SIG_EOCD[4] = {'P', 'K', 5, 6};
static const uint8_t SIG_Z64_LOCATOR[4] = {'P', 'K', 6, 7};
static const uint8_t SIG_Z64_EOCD[4] = {'P', 'K', 6, 6};
static const uint8_t SIG_CDH[4] = {'P', 'K', 1, 2};
static const uint8_t SIG_LFH[4] = {'P', 'K', 3, 4};

/* What the end records say. */
struct zip_end {
	uint64_t entries;
	uint64_t cd_size;
	uint64_t cd_offset;
	uint64_t end_of_entries; /* the first byte after the central directory's room */
};

static int read_at(wfs_zip_pread_fn pread, void *ctx, void *buf, size_t len, uint64_t off)
{
	return len ? pread(ctx, buf, len, off) : 0;
}

/* Finds the end of central directory record (and zip64 records) in the file's tail. */
static int find_end(uint64_t size, wfs_zip_pread_fn pread, void *ctx, const char *label, struct zip_end *end,
		    struct wfs_error *err)
{
	if (size < EOCD_LEN) {
		wfs_error_add(err, "%s: %llu bytes is too short for a zip archive (no end of central directory record)",
			      label, (unsigned long long)size);
		return WFS_EINVALID;
	}
	/* The last 4 KiB hold the record unless a long comment follows it; else the most it can take. */
	const size_t most = EOCD_LEN + EOCD_MAX_COMMENT + Z64_LOCATOR_LEN;
	uint8_t *tail = NULL;
	size_t tail_len = 0, at = SIZE_MAX;
	uint64_t tail_off = 0;
	for (size_t want = 4096; at == SIZE_MAX && tail_len < size && tail_len < most; want = most) {
		tail_len = size < want ? (size_t)size : want;
		tail_off = size - tail_len;
		free(tail);
		tail = malloc(tail_len);
		if (tail == NULL)
			return -ENOMEM;
		int rc = read_at(pread, ctx, tail, tail_len, tail_off);
		if (rc < 0) {
			free(tail);
			return rc;
		}
		/* The last record whose comment ends exactly at the end of the file. */
		for (size_t i = tail_len - EOCD_LEN + 1; i-- > 0;) {
			/* (with room before it for a zip64 locator, unless the file or the widest tail starts there) */
			if (memcmp(tail + i, SIG_EOCD, 4) == 0 && i + EOCD_LEN + wfs_ld16(tail + i + 20) == tail_len &&
			    (i >= Z64_LOCATOR_LEN || tail_off == 0 || want == most)) {
				at = i;
				break;
			}
		}
	}
	int rc;
	if (at == SIZE_MAX) {
		free(tail);
		wfs_error_add(err, "%s: no zip end of central directory record (truncated, or not a zip archive)",
			      label);
		return WFS_EINVALID;
	}
	const uint8_t *r = tail + at;
	uint16_t disk = wfs_ld16(r + 4), cd_disk = wfs_ld16(r + 6);
	uint64_t disk_entries = wfs_ld16(r + 8);
	end->entries = wfs_ld16(r + 10);
	end->cd_size = wfs_ld32(r + 12);
	end->cd_offset = wfs_ld32(r + 16);
	end->end_of_entries = tail_off + at;

	/* A zip64 locator just before it points at the zip64 record, which then counts. */
	if (at >= Z64_LOCATOR_LEN && memcmp(r - Z64_LOCATOR_LEN, SIG_Z64_LOCATOR, 4) == 0) {
		const uint8_t *loc = r - Z64_LOCATOR_LEN;
		uint64_t rec = wfs_ld64(loc + 8);
		uint64_t loc_off = end->end_of_entries - Z64_LOCATOR_LEN;
		uint64_t rec_end;
		if (wfs_ld32(loc + 4) != 0 || wfs_ld32(loc + 16) > 1) {
			free(tail);
			wfs_error_add(err, "%s: zip archive spans several disks", label);
			return WFS_EINVALID;
		}
		if (__builtin_add_overflow(rec, Z64_EOCD_LEN, &rec_end) || rec_end > loc_off) {
			free(tail);
			wfs_error_add(err, "%s: zip64 end of central directory record at %llu lies outside the file",
				      label, (unsigned long long)rec);
			return WFS_EINVALID;
		}
		uint8_t z[Z64_EOCD_LEN];
		rc = read_at(pread, ctx, z, sizeof(z), rec);
		if (rc < 0) {
			free(tail);
			return rc;
		}
		if (memcmp(z, SIG_Z64_EOCD, 4) != 0) {
			free(tail);
			wfs_error_add(err, "%s: no zip64 end of central directory record at offset %llu", label,
				      (unsigned long long)rec);
			return WFS_EINVALID;
		}
		disk = wfs_ld32(z + 16) ? 1 : 0;
		cd_disk = wfs_ld32(z + 20) ? 1 : 0;
		disk_entries = wfs_ld64(z + 24);
		end->entries = wfs_ld64(z + 32);
		end->cd_size = wfs_ld64(z + 40);
		end->cd_offset = wfs_ld64(z + 48);
		end->end_of_entries = rec;
	}
	free(tail);
	if ((disk != 0 && disk != 0xffff) || (cd_disk != 0 && cd_disk != 0xffff) || disk_entries != end->entries) {
		wfs_error_add(err, "%s: zip archive spans several disks", label);
		return WFS_EINVALID;
	}
	uint64_t cd_end;
	if (__builtin_add_overflow(end->cd_offset, end->cd_size, &cd_end) || cd_end > end->end_of_entries) {
		wfs_error_add(err, "%s: zip central directory [%llu,+%llu) runs past its end record at %llu", label,
			      (unsigned long long)end->cd_offset, (unsigned long long)end->cd_size,
			      (unsigned long long)end->end_of_entries);
		return WFS_EINVALID;
	}
	if (end->entries > WFS_ZIP_MAX_ENTRIES || end->cd_size > WFS_ZIP_MAX_CD) {
		wfs_error_add(err, "%s: zip central directory of %llu entries and %llu bytes exceeds the limits "
			      "(%u entries, %u bytes)", label, (unsigned long long)end->entries,
			      (unsigned long long)end->cd_size, WFS_ZIP_MAX_ENTRIES, WFS_ZIP_MAX_CD);
		return WFS_EINVALID;
	}
	if (end->entries * CDH_LEN > end->cd_size) {
		wfs_error_add(err, "%s: zip central directory of %llu bytes cannot hold %llu entries", label,
			      (unsigned long long)end->cd_size, (unsigned long long)end->entries);
		return WFS_EINVALID;
	}
	return 0;
}

/* Applies a zip64 extended information extra field (4.5.3) to the fields that were saturated. */
static bool apply_zip64_extra(const uint8_t *extra, size_t len, uint64_t *usize, uint64_t *csize, uint64_t *offset)
{
	struct wfs_cursor c = wfs_cursor_make(extra, len);
	while (wfs_cur_left(&c) >= 4) {
		uint16_t id = wfs_cur_u16le(&c);
		uint16_t n = wfs_cur_u16le(&c);
		const uint8_t *body = wfs_cur_take(&c, n);
		if (body == NULL)
			return false;
		if (id != 0x0001)
			continue;
		struct wfs_cursor b = wfs_cursor_make(body, n);
		if (*usize == 0xffffffffu)
			*usize = wfs_cur_u64le(&b);
		if (*csize == 0xffffffffu)
			*csize = wfs_cur_u64le(&b);
		if (offset && *offset == 0xffffffffu)
			*offset = wfs_cur_u64le(&b);
		return !b.bad;
	}
	return true;
}

static int compare_names(const void *a, const void *b)
{
	const struct wfs_zip_entry *x = a, *y = b;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(x->name, y->name, n);
	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

static int compare_offsets(const void *a, const void *b)
{
	const struct wfs_zip_entry *const *x = a, *const *y = b;
	return ((*x)->header_offset > (*y)->header_offset) - ((*x)->header_offset < (*y)->header_offset);
}

/* Parses the central directory into z->entries (names into z->names). */
static int parse_cd(struct wfs_zip *z, const uint8_t *cd, const struct zip_end *end, const char *label,
		    struct wfs_error *err)
{
	z->entries = calloc(end->entries ? end->entries : 1, sizeof(*z->entries));
	z->names = malloc(end->cd_size + 1);
	if (z->entries == NULL || z->names == NULL)
		return -ENOMEM;
	size_t names_len = 0;
	struct wfs_cursor c = wfs_cursor_make(cd, end->cd_size);
	for (uint64_t i = 0; i < end->entries; i++) {
		size_t at = wfs_cur_offset(&c);
		const uint8_t *h = wfs_cur_take(&c, CDH_LEN);
		if (h == NULL || memcmp(h, SIG_CDH, 4) != 0) {
			wfs_error_add(err, "%s: zip central directory entry %llu at offset %llu is not a central "
				      "directory header", label, (unsigned long long)i,
				      (unsigned long long)(end->cd_offset + at));
			return WFS_EINVALID;
		}
		struct wfs_zip_entry *e = &z->entries[i];
		e->flags = wfs_ld16(h + 8);
		e->method = wfs_ld16(h + 10);
		e->crc32 = wfs_ld32(h + 16);
		e->csize = wfs_ld32(h + 20);
		e->usize = wfs_ld32(h + 24);
		uint16_t name_len = wfs_ld16(h + 28), extra_len = wfs_ld16(h + 30), comment_len = wfs_ld16(h + 32);
		uint16_t disk = wfs_ld16(h + 34);
		e->header_offset = wfs_ld32(h + 42);
		const uint8_t *name = wfs_cur_take(&c, name_len);
		const uint8_t *extra = wfs_cur_take(&c, extra_len);
		if (c.bad || !wfs_cur_skip(&c, comment_len)) {
			wfs_error_add(err, "%s: zip central directory entry %llu runs past the central directory",
				      label, (unsigned long long)i);
			return WFS_EINVALID;
		}
		const char *shown = QUOTE_LEN((const char *)name, name_len);
		if (memchr(name, '\0', name_len) != NULL || name_len == 0) {
			wfs_error_add(err, "%s: zip entry %llu has an empty name or a NUL in its name", label,
				      (unsigned long long)i);
			return WFS_EINVALID;
		}
		if (!apply_zip64_extra(extra, extra_len, &e->usize, &e->csize, &e->header_offset)) {
			wfs_error_add(err, "%s: zip entry %s: malformed zip64 extra field", label, shown);
			return WFS_EINVALID;
		}
		if (disk != 0 && disk != 0xffff) {
			wfs_error_add(err, "%s: zip entry %s is on disk %u", label, shown, disk);
			return WFS_EINVALID;
		}
		if (e->flags & 0x41) {
			wfs_error_add(err, "%s: zip entry %s is encrypted", label, shown);
			return WFS_EINVALID;
		}
		if (e->method != 0 && e->method != 8) {
			wfs_error_add(err, "%s: zip entry %s uses compression method %u (only stored and deflate are read)",
				      label, shown, e->method);
			return WFS_EINVALID;
		}
		if (e->method == 0 && e->csize != e->usize) {
			wfs_error_add(err, "%s: zip entry %s is stored but its sizes differ (%llu and %llu bytes)", label,
				      shown, (unsigned long long)e->csize, (unsigned long long)e->usize);
			return WFS_EINVALID;
		}
		memcpy(z->names + names_len, name, name_len);
		z->names[names_len + name_len] = '\0';
		e->name = (const char *)(uintptr_t)names_len; /* an offset until names stop moving */
		e->name_len = name_len;
		names_len += name_len + 1;
		if (names_len > end->cd_size + 1) /* cannot happen: names are inside the directory */
			return -ENOMEM;
	}
	for (uint64_t i = 0; i < end->entries; i++)
		z->entries[i].name = z->names + (uintptr_t)z->entries[i].name;
	z->nentries = (size_t)end->entries;
	return 0;
}

/* Reads entry @p e's local header, checks it against the central directory, and sets data_offset. */
#define LFH_BUF (LFH_LEN + 2 * 65535 + 128) /* a local header with the longest name and extra field */

static int check_local(struct wfs_zip_entry *e, const struct zip_end *end, wfs_zip_pread_fn pread, void *ctx,
		       uint8_t *buf, const char *label, struct wfs_error *err)
{
	const char *shown = QUOTE_LEN(e->name, e->name_len);
	uint64_t lfh_end;
	if (__builtin_add_overflow(e->header_offset, LFH_LEN, &lfh_end) || lfh_end > end->cd_offset) {
		wfs_error_add(err, "%s: zip entry %s: local header at %llu lies outside the entries (they end at %llu)",
			      label, shown, (unsigned long long)e->header_offset, (unsigned long long)end->cd_offset);
		return WFS_EINVALID;
	}
	/* The header with room for its name and up to 128 bytes of extra field, in one read. */
	size_t first = LFH_LEN + e->name_len + 128;
	if (first > end->cd_offset - e->header_offset)
		first = (size_t)(end->cd_offset - e->header_offset);
	int rc = read_at(pread, ctx, buf, first, e->header_offset);
	if (rc < 0)
		return rc;
	const uint8_t *h = buf;
	if (memcmp(h, SIG_LFH, 4) != 0) {
		wfs_error_add(err, "%s: zip entry %s: no local header at offset %llu", label, shown,
			      (unsigned long long)e->header_offset);
		return WFS_EINVALID;
	}
	uint16_t flags = wfs_ld16(h + 6), method = wfs_ld16(h + 8);
	uint32_t crc = wfs_ld32(h + 14);
	uint64_t csize = wfs_ld32(h + 18), usize = wfs_ld32(h + 22);
	uint16_t name_len = wfs_ld16(h + 26), extra_len = wfs_ld16(h + 28);
	uint64_t data, data_end;
	if (__builtin_add_overflow(lfh_end, (uint64_t)name_len + extra_len, &data) ||
	    __builtin_add_overflow(data, e->csize, &data_end) || data_end > end->cd_offset) {
		wfs_error_add(err, "%s: zip entry %s: its %llu bytes run past the entries (they end at %llu)", label,
			      shown, (unsigned long long)e->csize, (unsigned long long)end->cd_offset);
		return WFS_EINVALID;
	}
	const uint8_t *var = buf + LFH_LEN;
	size_t var_len = (size_t)name_len + extra_len;
	if (LFH_LEN + var_len > first && (rc = read_at(pread, ctx, buf + first, LFH_LEN + var_len - first,
							    e->header_offset + first)) < 0)
		return rc;
	bool same_name = name_len == e->name_len && memcmp(var, e->name, name_len) == 0;
	bool extra_ok = apply_zip64_extra(var + name_len, extra_len, &usize, &csize, NULL);
	if (!same_name || method != e->method) {
		wfs_error_add(err, "%s: zip entry %s: its local header disagrees with the central directory (%s)", label,
			      shown, same_name ? "method" : "name");
		return WFS_EINVALID;
	}
	if (!extra_ok) {
		wfs_error_add(err, "%s: zip entry %s: malformed zip64 extra field in its local header", label, shown);
		return WFS_EINVALID;
	}
	if (!(flags & 0x08) && (csize != e->csize || usize != e->usize || crc != e->crc32)) {
		wfs_error_add(err, "%s: zip entry %s: its local header disagrees with the central directory "
			      "(sizes %llu/%llu against %llu/%llu)", label, shown, (unsigned long long)csize,
			      (unsigned long long)usize, (unsigned long long)e->csize, (unsigned long long)e->usize);
		return WFS_EINVALID;
	}
	e->data_offset = data;
	return 0;
}

int wfs_zip_open(struct wfs_zip *z, uint64_t size, wfs_zip_pread_fn pread, wfs_zip_willneed_fn willneed,
		 void *ctx, const char *label, struct wfs_error *err)
{
	memset(z, 0, sizeof(*z));
	struct zip_end end;
	int rc = find_end(size, pread, ctx, label, &end, err);
	if (rc < 0)
		return rc;
	z->cd_offset = end.cd_offset;
	uint8_t *cd = malloc(end.cd_size ? (size_t)end.cd_size : 1);
	if (cd == NULL)
		return -ENOMEM;
	rc = read_at(pread, ctx, cd, (size_t)end.cd_size, end.cd_offset);
	if (rc == 0)
		rc = parse_cd(z, cd, &end, label, err);
	free(cd);
	if (rc < 0)
		goto fail;
	if (z->nentries == 0) {
		wfs_error_add(err, "%s: zip archive has no entries", label);
		rc = WFS_EINVALID;
		goto fail;
	}

	/* One top-level folder for every entry. */
	const char *slash = memchr(z->entries[0].name, '/', z->entries[0].name_len);
	if (slash == NULL) {
		wfs_error_add(err, "%s: zip entry %s is not inside a top-level folder", label,
			      QUOTE_LEN(z->entries[0].name, z->entries[0].name_len));
		rc = WFS_EINVALID;
		goto fail;
	}
	z->prefix_len = (size_t)(slash - z->entries[0].name) + 1;
	for (size_t i = 0; i < z->nentries; i++) {
		const struct wfs_zip_entry *e = &z->entries[i];
		if (e->name_len <= z->prefix_len || memcmp(e->name, z->entries[0].name, z->prefix_len) != 0) {
			wfs_error_add(err, "%s: zip entry %s is not in the folder %s of the others", label,
				      QUOTE_LEN(e->name, e->name_len), QUOTE_LEN(z->entries[0].name, z->prefix_len));
			rc = WFS_EINVALID;
			goto fail;
		}
	}

	for (size_t i = 0; willneed && i < z->nentries; i++) {
		const struct wfs_zip_entry *e = &z->entries[i];
		if (e->header_offset < z->cd_offset)
			willneed(ctx, e->header_offset, LFH_LEN + e->name_len + 128);
	}
	uint8_t *buf = malloc(LFH_BUF);
	if (buf == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < z->nentries && rc == 0; i++)
		rc = check_local(&z->entries[i], &end, pread, ctx, buf, label, err);
	free(buf);
	if (rc < 0)
		goto fail;

	/* No two entries overlap: sorted by offset, each ends before the next header. */
	const struct wfs_zip_entry **by_off = malloc(z->nentries * sizeof(*by_off));
	if (by_off == NULL) {
		rc = -ENOMEM;
		goto fail;
	}
	for (size_t i = 0; i < z->nentries; i++)
		by_off[i] = &z->entries[i];
	qsort(by_off, z->nentries, sizeof(*by_off), compare_offsets);
	for (size_t i = 1; i < z->nentries && rc == 0; i++) {
		const struct wfs_zip_entry *a = by_off[i - 1], *b = by_off[i];
		if (a->data_offset + a->csize > b->header_offset) {
			wfs_error_add(err, "%s: zip entries %s and %s overlap", label, QUOTE_LEN(a->name, a->name_len),
				      QUOTE_LEN(b->name, b->name_len));
			rc = WFS_EINVALID;
		}
	}
	free(by_off);
	if (rc < 0)
		goto fail;

	qsort(z->entries, z->nentries, sizeof(*z->entries), compare_names);
	for (size_t i = 1; i < z->nentries; i++) {
		if (compare_names(&z->entries[i - 1], &z->entries[i]) == 0) {
			wfs_error_add(err, "%s: zip entry %s appears twice", label,
				      QUOTE_LEN(z->entries[i].name, z->entries[i].name_len));
			rc = WFS_EINVALID;
			goto fail;
		}
	}
	return 0;
fail:
	wfs_zip_free(z);
	return rc;
}

const struct wfs_zip_entry *wfs_zip_find(const struct wfs_zip *z, const char *rel, size_t rel_len)
{
	size_t lo = 0, hi = z->nentries;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct wfs_zip_entry *e = &z->entries[mid];
		/* Every name starts with the prefix: compare what follows it. */
		const char *n = e->name + z->prefix_len;
		size_t nl = e->name_len - z->prefix_len;
		size_t k = nl < rel_len ? nl : rel_len;
		int c = memcmp(n, rel, k);
		if (c == 0)
			c = (nl > rel_len) - (nl < rel_len);
		if (c == 0)
			return e;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

int wfs_zip_read(const struct wfs_zip *z, const struct wfs_zip_entry *e, size_t max, wfs_zip_pread_fn pread,
		 void *ctx, const char *label, uint8_t **out, size_t *out_len, struct wfs_error *err)
{
	(void)z;
	const char *shown = QUOTE_LEN(e->name, e->name_len);
	*out = NULL;
	*out_len = 0;
	if (e->usize > max || e->csize > max) {
		wfs_error_add(err, "%s: zip entry %s of %llu bytes exceeds the limit of %zu bytes", label, shown,
			      (unsigned long long)(e->usize > e->csize ? e->usize : e->csize), max);
		return WFS_EINVALID;
	}
	uint8_t *raw = malloc(e->csize ? (size_t)e->csize : 1);
	if (raw == NULL)
		return -ENOMEM;
	int rc = read_at(pread, ctx, raw, (size_t)e->csize, e->data_offset);
	if (rc < 0) {
		free(raw);
		return rc;
	}
	uint8_t *data = raw;
	if (e->method == 8) {
		data = malloc(e->usize ? (size_t)e->usize : 1);
		if (data == NULL) {
			free(raw);
			return -ENOMEM;
		}
		z_stream s = {0};
		if (inflateInit2(&s, -MAX_WBITS) != Z_OK) {
			free(raw);
			free(data);
			return -ENOMEM;
		}
		s.next_in = raw;
		s.avail_in = (uInt)e->csize;
		s.next_out = data;
		s.avail_out = (uInt)e->usize;
		int zr = inflate(&s, Z_FINISH);
		uint64_t produced = s.total_out;
		inflateEnd(&s);
		free(raw);
		if (zr != Z_STREAM_END || produced != e->usize) {
			free(data);
			wfs_error_add(err, "%s: zip entry %s: deflate data is corrupt or not %llu bytes long", label,
				      shown, (unsigned long long)e->usize);
			return WFS_EINVALID;
		}
	}
	if (crc32(crc32(0, Z_NULL, 0), data, (uInt)e->usize) != e->crc32) {
		free(data);
		wfs_error_add(err, "%s: zip entry %s: CRC-32 does not match its central directory entry", label, shown);
		return WFS_EINVALID;
	}
	*out = data;
	*out_len = (size_t)e->usize;
	return 0;
}

void wfs_zip_free(struct wfs_zip *z)
{
	free(z->entries);
	free(z->names);
	memset(z, 0, sizeof(*z));
}
