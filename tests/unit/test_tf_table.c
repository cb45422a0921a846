/**
 * Unit tests of the LevelDB-format table reader and the bundle protos
 * (src/lib/formats/tf/): the fixtures of tests/data/tf-samples, and tables
 * built here, whole and broken.
 */
#include <stdio.h>

#include "check.h"
#include "pbw.h"

#include "formats/crc32c.h"
#include "formats/tf/bundle.h"
#include "formats/tf/slice_key.h"
#include "formats/tf/table.h"

static const char *data_dir = "tests/data";

struct seen {
	int n;
	char keys[16][96];
	int entries_ok;
	int strings;
};

static int on_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *v, size_t vlen, struct wfs_error *err)
{
	(void)err;
	struct seen *s = ctx;
	if (s->n < 16)
		snprintf(s->keys[s->n], 96, "%.*s", (int)klen, (const char *)key);
	s->n++;
	if (klen == 0) {
		struct wfs_tf_header h;
		if (wfs_tf_read_header(v, vlen, &h) == NULL && h.num_shards == 1 && h.endianness == 0)
			s->entries_ok++;
		return 0;
	}
	struct wfs_tf_entry e;
	enum wfs_dtype dt;
	if (wfs_tf_read_entry(v, vlen, &e) == NULL) {
		int k = wfs_tf_dtype(e.dtype, &dt);
		if (k == 0 && dt == WFS_DT_F32 && e.has_crc32c && e.size % 4 == 0)
			s->entries_ok++;
		if (k == 1)
			s->strings++;
	}
	return 0;
}

static int read_table(const uint8_t *buf, size_t len, struct seen *s, struct wfs_error *err)
{
	memset(s, 0, sizeof(*s));
	return wfs_tft_read(buf, len, "v.index", on_entry, s, err);
}

static void test_fixtures(void)
{
	static const struct {
		const char *path;
		int entries, strings;
	} cases[] = {
		{"tf-samples/saved_model_counter/00000123/variables/variables.index", 2, 0},
		{"tf-samples/saved_model_half_plus_two_cpu/00000123/variables/variables.index", 6, 0},
		{"tf-samples/saved_model_half_plus_two_mkl/00000123/variables/variables.index", 10, 0},
		{"tf-samples/saved_model_half_plus_two_tf2_cpu/00000123/variables/variables.index", 5, 1},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		size_t len;
		struct seen s;
		struct wfs_error err = {0};
		uint8_t *buf = check_read_file(data_dir, cases[i].path, &len);
		CHECK(read_table(buf, len, &s, &err) == 0);
		if (err.text)
			fprintf(stderr, "%s\n", err.text);
		CHECK(s.n == cases[i].entries);
		CHECK(s.entries_ok + s.strings == cases[i].entries);
		CHECK(s.strings == cases[i].strings);
		CHECK(s.keys[0][0] == '\0');
		/* every single-byte change and every prefix: refused or read, never harm */
		for (size_t cut = 0; cut < len; cut++) {
			struct wfs_error e = {0};
			CHECK(read_table(buf, cut, &s, &e) == WFS_EINVALID);
			wfs_error_clear(&e);
			uint8_t saved = buf[cut];
			buf[cut] ^= 0x41;
			read_table(buf, len, &s, &e);
			wfs_error_clear(&e);
			buf[cut] = saved;
		}
		free(buf);
		wfs_error_clear(&err);
	}
	size_t len;
	struct seen s;
	uint8_t *buf = check_read_file(data_dir, "tf-samples/saved_model_half_plus_two_mkl/00000123/variables/variables.index", &len);
	CHECK(read_table(buf, len, &s, NULL) == 0 && strcmp(s.keys[1], "a") == 0);
	free(buf);
}

/* ---- tables built here ---- */

struct kv {
	const char *key;
	const char *value;
	size_t vlen; /* 0: strlen(value) */
};

/* A block of @p n entries, restart every @p every entries (0: only the first), plus trailer. */
static void block(struct pbw *out, const struct kv *e, size_t n, size_t every, int type)
{
	struct pbw b = {0};
	uint32_t restarts[64];
	size_t nr = 0;
	const char *prev = "";
	for (size_t i = 0; i < n; i++) {
		size_t shared = 0;
		if (i == 0 || (every && i % every == 0)) {
			restarts[nr++] = (uint32_t)b.len;
		} else {
			while (prev[shared] && prev[shared] == e[i].key[shared])
				shared++;
		}
		size_t kl = strlen(e[i].key), vl = e[i].vlen ? e[i].vlen : strlen(e[i].value);
		pbw_varint(&b, shared);
		pbw_varint(&b, kl - shared);
		pbw_varint(&b, vl);
		pbw_bytes(&b, e[i].key + shared, kl - shared);
		pbw_bytes(&b, e[i].value, vl);
		prev = e[i].key;
	}
	if (nr == 0)
		restarts[nr++] = 0;
	for (size_t i = 0; i < nr; i++) {
		uint8_t le[4] = {(uint8_t)restarts[i], (uint8_t)(restarts[i] >> 8), 0, 0};
		pbw_bytes(&b, le, 4);
	}
	uint8_t cnt[4] = {(uint8_t)nr, 0, 0, 0};
	pbw_bytes(&b, cnt, 4);
	uint8_t t = (uint8_t)type;
	uint32_t crc = wfs_crc32c_mask(wfs_crc32c_extend(wfs_crc32c(b.p, b.len), &t, 1));
	uint8_t trailer[5] = {t, (uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
	pbw_bytes(out, b.p, b.len);
	pbw_bytes(out, trailer, 5);
	free(b.p);
}

/* A whole table of one data block holding @p e; returns the footer's offset in *footer. */
static struct pbw table(const struct kv *e, size_t n, size_t every)
{
	struct pbw t = {0};
	block(&t, e, n, every, 0);
	size_t data_size = t.len - 5;
	size_t meta_off = t.len;
	block(&t, NULL, 0, 0, 0);
	size_t meta_size = t.len - meta_off - 5;
	/* the index block: one entry, the last key, the data block's handle */
	struct pbw h = {0};
	pbw_varint(&h, 0);
	pbw_varint(&h, data_size);
	char hv[32];
	memcpy(hv, h.p, h.len);
	struct kv ie = {"zzzz", hv, h.len}; /* a separator after every key */
	size_t index_off = t.len;
	block(&t, &ie, 1, 0, 0);
	size_t index_size = t.len - index_off - 5;
	free(h.p);
	struct pbw f = {0};
	pbw_varint(&f, meta_off);
	pbw_varint(&f, meta_size);
	pbw_varint(&f, index_off);
	pbw_varint(&f, index_size);
	uint8_t pad[40] = {0};
	pbw_bytes(&f, pad, 40 - f.len);
	uint64_t magic = WFS_TFT_MAGIC;
	uint8_t mb[8];
	for (int i = 0; i < 8; i++)
		mb[i] = (uint8_t)(magic >> (8 * i));
	pbw_bytes(&f, mb, 8);
	pbw_bytes(&t, f.p, f.len);
	free(f.p);
	return t;
}

static void expect(struct pbw *t, int want, const char *fragment)
{
	struct seen s;
	struct wfs_error err = {0};
	int rc = read_table(t->p, t->len, &s, &err);
	CHECK(rc == want);
	if (fragment)
		CHECK_CONTAINS(err.text, fragment);
	if (rc != want && err.text)
		fprintf(stderr, "  got: %s\n", err.text);
	wfs_error_clear(&err);
	free(t->p);
}

/* Recomputes the CRC of the block of @p size bytes at @p off after a change. */
static void reseal(struct pbw *t, size_t off, size_t size)
{
	uint32_t crc = wfs_crc32c_mask(wfs_crc32c_extend(wfs_crc32c(t->p + off, size), t->p + off + size, 1));
	for (int i = 0; i < 4; i++)
		t->p[off + size + 1 + i] = (uint8_t)(crc >> (8 * i));
}

static void test_built(void)
{
	const struct kv good[] = {{"", "\x08\x01", 0}, {"a/b", "x", 0}, {"a/c", "y", 0}, {"b", "z", 0}};
	struct pbw t = table(good, 4, 2);
	expect(&t, 0, NULL);

	const struct kv unordered[] = {{"", "h", 0}, {"b", "x", 0}, {"a", "y", 0}};
	t = table(unordered, 3, 0);
	expect(&t, WFS_EINVALID, "does not sort after its predecessor");

	const struct kv dup[] = {{"", "h", 0}, {"a", "x", 0}, {"a", "y", 0}};
	t = table(dup, 3, 0);
	expect(&t, WFS_EINVALID, "does not sort after");

	/* bad magic */
	t = table(good, 4, 2);
	t.p[t.len - 1] ^= 1;
	expect(&t, WFS_EINVALID, "table magic");

	/* index handle past the end */
	t = table(good, 4, 2);
	t.p[t.len - 48 + 2] = 0x7f; /* index offset (one-byte varints here) */
	expect(&t, WFS_EINVALID, "past the end");

	/* a CRC that does not match */
	t = table(good, 4, 2);
	t.p[3] ^= 0x10;
	expect(&t, WFS_EINVALID, "checksum");

	/* a restart count larger than the block */
	t = table(good, 4, 2);
	{
		/* the data block is first; its size is the metaindex offset minus 5 */
		size_t size = (size_t)t.p[t.len - 48] - 5;
		t.p[size - 4] = 200;
		reseal(&t, 0, size);
	}
	expect(&t, WFS_EINVALID, "restart count");

	/* a restart point past the entries */
	t = table(good, 4, 2);
	{
		size_t size = (size_t)t.p[t.len - 48] - 5;
		t.p[size - 8] = 250; /* the second restart point */
		reseal(&t, 0, size);
	}
	expect(&t, WFS_EINVALID, "restart point");

	/* an entry at a restart point that shares bytes with the previous key */
	t = table(good, 4, 2);
	{
		size_t size = (size_t)t.p[t.len - 48] - 5;
		uint32_t r1 = t.p[size - 8];
		t.p[r1] = 1; /* shared = 1 */
		reseal(&t, 0, size);
	}
	expect(&t, WFS_EINVALID, NULL);

	/* a table too short for its footer, and an empty file */
	t = table(good, 4, 2);
	t.len = 47;
	expect(&t, WFS_EINVALID, "too short");

	/* unknown compression type */
	t = table(good, 4, 2);
	{
		size_t size = (size_t)t.p[t.len - 48] - 5;
		t.p[size] = 7;
		reseal(&t, 0, size);
	}
	expect(&t, WFS_EINVALID, "compression type");

	/* snappy type on bytes that are not snappy */
	t = table(good, 4, 2);
	{
		size_t size = (size_t)t.p[t.len - 48] - 5;
		t.p[size] = 1;
		reseal(&t, 0, size);
	}
	expect(&t, WFS_EINVALID, NULL);
}

static void test_entries(void)
{
	struct pbw e = {0}, shape = {0}, dim = {0};
	pbw_uint(&e, 1, 1);
	pbw_uint(&dim, 1, 3);
	pbw_msg(&shape, 2, &dim);
	pbw_uint(&dim, 1, 2);
	pbw_msg(&shape, 2, &dim);
	pbw_msg(&e, 2, &shape);
	pbw_uint(&e, 4, 16);
	pbw_uint(&e, 5, 24);
	pbw_tag(&e, 6, 5);
	pbw_bytes(&e, "\x01\x02\x03\x04", 4);
	struct wfs_tf_entry x;
	CHECK(wfs_tf_read_entry(e.p, e.len, &x) == NULL);
	CHECK(x.dtype == 1 && x.ndim == 2 && x.dims[0] == 3 && x.dims[1] == 2 && x.offset == 16 && x.size == 24 &&
	      x.has_crc32c && x.crc32c == 0x04030201);
	/* truncated anywhere: an error, never a read past the end */
	for (size_t cut = 1; cut < e.len; cut++) {
		uint8_t *copy = malloc(cut);
		memcpy(copy, e.p, cut);
		const char *why = wfs_tf_read_entry(copy, cut, &x);
		(void)why;
		free(copy);
	}
	CHECK(wfs_tf_read_entry(e.p, e.len - 1, &x) != NULL);
	free(e.p);
	/* crc32c with the wrong wire type */
	e = (struct pbw){0};
	pbw_uint(&e, 6, 5);
	CHECK(wfs_tf_read_entry(e.p, e.len, &x) != NULL);
	free(e.p);
	enum wfs_dtype dt;
	CHECK(wfs_tf_dtype(19, &dt) == 0 && dt == WFS_DT_F16);
	CHECK(wfs_tf_dtype(14, &dt) == 0 && dt == WFS_DT_BF16);
	CHECK(wfs_tf_dtype(7, &dt) == 1 && wfs_tf_dtype(21, &dt) == 1);
	CHECK(wfs_tf_dtype(0, &dt) == -1 && wfs_tf_dtype(1000, &dt) == -1 && wfs_tf_dtype(-3, &dt) == -1);
}

static void test_slice_keys(void)
{
	struct wfs_tf_slice_key k;
	char spec[128];
	/* "a/b", [0,2) of dim 0, all of dim 1 (as tfbundle_writer.py writes it) */
	const uint8_t key[] = {0x00, 'a', '/', 'b', 0x00, 0x01, 0x01, 0x02, 0x80, 0x82, 0x80, 0x7f};
	CHECK(wfs_tf_decode_slice_key(key, sizeof(key), &k) == NULL);
	CHECK(k.name_len == 3 && memcmp(k.name, "a/b", 3) == 0 && k.ndim == 2);
	CHECK(wfs_tf_slice_spec(&k, spec, sizeof(spec)) == 5 && strcmp(spec, "0,2:-") == 0);
	free(k.name);
	/* start 2^40 (six bytes), length 100 (two bytes), escaped 0x00 and 0xff in the name */
	const uint8_t key2[] = {0x00, 'x', 0x00, 0xff, 0xff, 0x00, 0x00, 0x01, 0x01, 0x01,
				0xfd, 0, 0, 0, 0, 0, 0xc0, 0x64};
	CHECK(wfs_tf_decode_slice_key(key2, sizeof(key2), &k) == NULL);
	CHECK(k.name_len == 3 && k.name[1] == 0x00 && k.name[2] == 0xff && k.ndim == 1);
	CHECK(k.extent[0].start == (int64_t)1 << 40 && k.extent[0].length == 100);
	free(k.name);
	/* every prefix is refused */
	for (size_t cut = 0; cut < sizeof(key2); cut++)
		if (wfs_tf_decode_slice_key(key2, cut, &k) == NULL) {
			CHECK(cut == sizeof(key2));
			free(k.name);
		}
	/* a negative start, a bad escape, bytes after the extents */
	const uint8_t neg[] = {0x00, 'x', 0x00, 0x01, 0x01, 0x7e, 0x7f};
	CHECK(wfs_tf_decode_slice_key(neg, sizeof(neg), &k) != NULL);
	const uint8_t esc[] = {0x00, 'x', 0x00, 0x07, 0x00, 0x01, 0x00};
	CHECK(wfs_tf_decode_slice_key(esc, sizeof(esc), &k) != NULL);
	const uint8_t extra[] = {0x00, 'x', 0x00, 0x01, 0x00, 0x80};
	CHECK(wfs_tf_decode_slice_key(extra, sizeof(extra), &k) != NULL);
	/* eleven-byte lengths */
	const uint8_t huge[] = {0x00, 'x', 0x00, 0x01, 0x01, 0xff, 0xff, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x80};
	CHECK(wfs_tf_decode_slice_key(huge, sizeof(huge), &k) != NULL);
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	test_fixtures();
	test_built();
	test_entries();
	test_slice_keys();
	return check_report("test_tf_table");
}
