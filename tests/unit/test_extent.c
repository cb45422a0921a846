/**
 * @file test_extent.c
 * Extents and the checks every format's tensors pass through (formats/build.c):
 * strided gathers read at every offset and length against a naive gather,
 * stride-0 broadcasts, views past their storage refused, memory extents,
 * ranges past their file, names and block counts.
 */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "formats/format.h"
#include "sources/source.h"

static uint8_t storage[4096];

/* A model whose one shard is `storage`, held in memory. */
static struct wfs_model *model_with_storage(struct wfs_build *b)
{
	static const struct wfs_open_options opts;
	struct wfs_model *m = wfs_model_new();
	uint32_t shard;
	CHECK(m && wfs_model_add_shard(m, "mem", 3, &shard) == 0 && shard == 0);
	m->shards[0].source = &wfs_source_memory;
	m->shards[0].memory = storage;
	m->shards[0].size = sizeof(storage);
	*b = (struct wfs_build){.m = m, .opts = &opts};
	return m;
}

/* The bytes of a strided view, element by element (the definition). */
static void naive_gather(const uint64_t *shape, const uint64_t *stride, uint32_t ndim, uint64_t first, unsigned esize,
			 uint8_t *out)
{
	uint64_t numel = 1;
	for (uint32_t d = 0; d < ndim; d++)
		numel *= shape[d];
	for (uint64_t i = 0; i < numel; i++) {
		uint64_t rest = i, se = 0;
		for (uint32_t d = ndim; d-- > 0;) {
			se += (rest % shape[d]) * stride[d];
			rest /= shape[d];
		}
		memcpy(out + i * esize, storage + first + se * esize, esize);
	}
}

static void check_every_range(const struct wfs_model *m, const struct wfs_tensor *t, const uint8_t *want)
{
	uint8_t got[2048];
	for (uint64_t off = 0; off <= t->nbytes; off++) {
		for (uint64_t len = 0; off + len <= t->nbytes + 3; len += (len < 16 ? 1 : 7)) {
			memset(got, 0xee, sizeof(got));
			ssize_t n = wfs_tensor_read(m, t, got, (size_t)len, off);
			uint64_t expect = off + len > t->nbytes ? t->nbytes - off : len;
			if (n != (ssize_t)expect || memcmp(got, want + off, (size_t)expect) != 0) {
				CHECK(!"strided read differs from the naive gather");
				fprintf(stderr, "  at offset %llu length %llu\n", (unsigned long long)off,
					(unsigned long long)len);
				return;
			}
		}
	}
	CHECK(1);
}

static void test_strided(void)
{
	struct wfs_build b;
	struct wfs_model *m = model_with_storage(&b);
	struct wfs_error err = {0};
	struct {
		const char *name;
		enum wfs_dtype dtype;
		uint32_t ndim;
		uint64_t shape[3], stride[3], first;
	} cases[] = {
		{"transpose", WFS_DT_I16, 2, {4, 3}, {1, 4}, 100},     /* a [3,4] matrix transposed */
		{"expand", WFS_DT_F32, 2, {5, 3}, {0, 1}, 40},          /* a row repeated (stride 0) */
		{"step", WFS_DT_U8, 1, {7}, {3}, 9},                    /* x[::3] */
		{"column", WFS_DT_F64, 2, {6, 1}, {4, 1}, 16},          /* x[:, 1:2] */
		{"batch", WFS_DT_I32, 3, {2, 3, 4}, {24, 4, 1}, 0},     /* contiguous, as strided */
		{"inner-gap", WFS_DT_I16, 3, {2, 3, 2}, {16, 4, 1}, 2}, /* rows of 2 of a wider array */
		{"scalar", WFS_DT_I64, 0, {0}, {0}, 56},
	};
	for (size_t i = 0; i < sizeof(storage); i++)
		storage[i] = (uint8_t)(i * 7 + 3);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		unsigned esize = wfs_dtype_block_bytes(cases[c].dtype);
		struct wfs_tensor_spec t = {
			.name = cases[c].name, .name_len = strlen(cases[c].name), .dtype = cases[c].dtype,
			.ndim = cases[c].ndim, .shape = cases[c].shape, .extent = WFS_EXTENT_STRIDED,
			.offset = cases[c].first * esize, .strides = cases[c].stride,
			.storage_begin = 0, .storage_end = sizeof(storage),
			.attrs = "user.stride\0[1,4]", .attrs_len = 18,
		};
		CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == 0);
	}
	CHECK(wfs_model_finish(m, &err) == 0);
	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		ssize_t i = wfs_model_find(m, cases[c].name, strlen(cases[c].name));
		CHECK(i >= 0);
		if (i < 0)
			continue;
		uint8_t want[2048];
		unsigned esize = wfs_dtype_block_bytes(cases[c].dtype);
		naive_gather(cases[c].shape, cases[c].stride, cases[c].ndim, cases[c].first * esize, esize, want);
		check_every_range(m, &m->tensors[i], want);
		struct wfs_view v;
		CHECK(wfs_tensor_view(m, &m->tensors[i], 4, 0, &v) == -EAGAIN); /* gathered, never lent */
		wfs_view_release(&v);
	}
	CHECK(err.count == 0);
	wfs_model_free(m);
}

static void test_refused(void)
{
	struct wfs_build b;
	struct wfs_model *m = model_with_storage(&b);
	struct wfs_error err = {0};
	uint64_t shape[2] = {4, 4}, stride[2] = {4, 1}, huge[2] = {UINT64_MAX / 2, 1};
	struct wfs_tensor_spec t = {.name = "past", .name_len = 4, .dtype = WFS_DT_F32, .ndim = 2, .shape = shape,
				    .extent = WFS_EXTENT_STRIDED, .offset = 8, .strides = stride,
				    .storage_begin = 0, .storage_end = 64};
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == WFS_EINVALID); /* needs 8 + 64 bytes */
	CHECK_CONTAINS(err.text, "mem: tensor \"past\": its view (strides and offset) reaches past its storage");
	t.offset = 0;
	t.strides = huge;
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == WFS_EINVALID); /* overflows */
	t.strides = stride;
	t.storage_end = sizeof(storage) + 1;
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "lies outside the file");
	t.storage_end = 64;
	t.offset = 4;
	t.storage_begin = 8; /* element 0 before its storage */
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == WFS_EINVALID);

	struct wfs_tensor_spec r = {.name = "range", .name_len = 5, .dtype = WFS_DT_F32, .ndim = 2, .shape = shape,
				    .extent = WFS_EXTENT_RANGE, .offset = sizeof(storage) - 63};
	CHECK(wfs_build_add_tensor(&b, "mem", &r, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "lie past the end of mem");
	r.offset = UINT64_MAX - 8;
	CHECK(wfs_build_add_tensor(&b, "mem", &r, &err) == WFS_EINVALID);
	uint64_t big[3] = {1ULL << 32, 1ULL << 32, 16};
	r = (struct wfs_tensor_spec){.name = "big", .name_len = 3, .dtype = WFS_DT_F32, .ndim = 3, .shape = big};
	CHECK(wfs_build_add_tensor(&b, "mem", &r, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "overflows 64 bits");
	uint64_t odd[1] = {33};
	r = (struct wfs_tensor_spec){.name = "q", .name_len = 1, .dtype = WFS_DT_Q4_0, .ndim = 1, .shape = odd};
	CHECK(wfs_build_add_tensor(&b, "mem", &r, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "not a whole number of blocks");
	r = (struct wfs_tensor_spec){.name = "a\0b", .name_len = 3, .dtype = WFS_DT_U8, .ndim = 0};
	CHECK(wfs_build_add_tensor(&b, "mem", &r, &err) == WFS_EINVALID);
	r = (struct wfs_tensor_spec){.name = "\xff", .name_len = 1, .dtype = WFS_DT_U8, .ndim = 0};
	CHECK(wfs_build_add_tensor(&b, "mem", &r, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "not valid UTF-8");
	CHECK(m->ntensors == 0);
	wfs_error_clear(&err);
	wfs_model_free(m);
}

static void test_memory_and_groups(void)
{
	struct wfs_build b;
	struct wfs_model *m = model_with_storage(&b);
	struct wfs_error err = {0};
	uint64_t off;
	uint8_t *p;
	CHECK(wfs_build_blob(&b, 6, &off, &p) == 0 && off == 0);
	memcpy(p, "\1\2\3\4\5\6", 6);
	uint64_t shape[1] = {3};
	struct wfs_tensor_spec t = {.name = "w", .name_len = 1, .dtype = WFS_DT_I16, .ndim = 1, .shape = shape,
				    .extent = WFS_EXTENT_MEMORY, .offset = 0};
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == 0);
	t.offset = 2; /* 6 bytes at 2 run past the 6-byte blob */
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == WFS_EINVALID);
	CHECK(wfs_build_blob(&b, WFS_BLOB_MAX, &off, &p) == -EFBIG);
	/* The same name in another group is another tensor. */
	CHECK(wfs_build_add_group(&b, "other", 5, "test") == 0 && b.group == 1);
	t.offset = 0;
	CHECK(wfs_build_add_tensor(&b, "mem", &t, &err) == 0);
	CHECK(wfs_build_add_kv(&b, WFS_KV_GGUF, "k", 1, "v", 1, false) == 0 && m->metadata[0].group == 1);
	CHECK(wfs_model_finish(m, &err) == 0);
	CHECK(m->ntensors == 2 && wfs_model_find_in(m, 1, "w", 1) == 1 && wfs_model_find(m, "w", 1) == 0);
	uint8_t got[6];
	CHECK(wfs_tensor_read(m, &m->tensors[0], got, 6, 0) == 6 && memcmp(got, "\1\2\3\4\5\6", 6) == 0);
	CHECK(wfs_tensor_read(m, &m->tensors[0], got, 6, 5) == 1 && got[0] == 6);
	struct wfs_view v;
	CHECK(wfs_tensor_view(m, &m->tensors[0], 4, 1, &v) == 4 && v.count == 1 &&
	      memcmp(v.iov[0].iov_base, "\2\3\4\5", 4) == 0);
	wfs_view_release(&v);
	wfs_error_clear(&err);
	wfs_model_free(m);
}

static void test_path_normalize(void)
{
	char out[64];
	CHECK(wfs_path_normalize("./x.bin", 7, out) == 5 && strcmp(out, "x.bin") == 0);
	CHECK(wfs_path_normalize("s//x", 4, out) == 3 && strcmp(out, "s/x") == 0);
	CHECK(wfs_path_normalize("a/./b/.", 7, out) == 3 && strcmp(out, "a/b") == 0);
	CHECK(wfs_path_normalize("../x", 4, out) == 4 && !wfs_shard_path_ok(out, 4));
	CHECK(wfs_path_normalize("/etc/passwd", 11, out) == 11 && !wfs_shard_path_ok(out, 11));
	CHECK(wfs_path_normalize(".", 1, out) == 0);
}

int main(void)
{
	test_strided();
	test_refused();
	test_memory_and_groups();
	test_path_normalize();
	return check_report("test_extent");
}
