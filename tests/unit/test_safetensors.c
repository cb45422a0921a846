/**
 * @file test_safetensors.c
 * The header parser and validator, on files built in memory.
 */
#include "check.h"
#include "weightfs/model.h"

/* The file open_st made last: the model borrows its bytes, so it is freed only by the next call. */
static uint8_t *previous;

/* Opens header + data_len bytes; returns the rc and leaves problems in err. */
static int open_st(const char *header, size_t data_len, struct wfs_model **m, struct wfs_error *err)
{
	size_t size;
	free(previous);
	previous = st_file(header, data_len, &size);
	wfs_error_clear(err);
	return wfs_model_open_memory(previous, size, "t.safetensors", m, err);
}

static void expect_invalid(const char *header, size_t data_len, const char *fragment)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	int rc = open_st(header, data_len, &m, &err);
	CHECK(rc == WFS_EINVALID);
	CHECK(m == NULL);
	CHECK_CONTAINS(err.text, fragment);
	CHECK_CONTAINS(err.text, "t.safetensors: ");
	wfs_error_clear(&err);
}

static void test_valid(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	int rc = open_st("{\"__metadata__\":{\"format\":\"pt\"},"
			 "\"b\":{\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[4,20]},"
			 "\"a\":{\"dtype\":\"BF16\",\"shape\":[2],\"data_offsets\":[0,4]},"
			 "\"s\":{\"dtype\":\"F32\",\"shape\":[],\"data_offsets\":[20,24]},"
			 "\"e\":{\"dtype\":\"F16\",\"shape\":[0,7],\"data_offsets\":[24,24]}}  ",
			 24, &m, &err);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s\n", err.text);
		return;
	}
	CHECK(m->ntensors == 4);
	/* sorted by name */
	CHECK(strcmp(wfs_model_str(m, m->tensors[0].name), "a") == 0);
	CHECK(strcmp(wfs_model_str(m, m->tensors[1].name), "b") == 0);
	const struct wfs_tensor *b = &m->tensors[1];
	CHECK(b->dtype == WFS_DT_I32);
	CHECK(b->nbytes == 16);
	CHECK(strcmp(wfs_model_str(m, b->shape_text), "[2,2]") == 0);
	const struct wfs_tensor *s = &m->tensors[3];
	CHECK(strcmp(wfs_model_str(m, s->name), "s") == 0);
	CHECK(strcmp(wfs_model_str(m, s->shape_text), "[]") == 0);
	CHECK(s->nbytes == 4 && s->ndim == 0);
	CHECK(strcmp(wfs_model_str(m, m->tensors[2].shape_text), "[0,7]") == 0);
	CHECK(m->tensors[2].nbytes == 0);
	CHECK(m->nmetadata == 1);
	CHECK(strcmp(wfs_model_str(m, m->metadata[0].key), "format") == 0);
	CHECK(m->total_bytes == 24);
	CHECK(wfs_model_find(m, "b", 1) == 1);
	CHECK(wfs_model_find(m, "c", 1) == -1);

	/* Reads: clipped at the tensor's end; data byte i is i. */
	uint8_t buf[64];
	CHECK(wfs_tensor_read(m, b, buf, sizeof(buf), 0) == 16);
	CHECK(buf[0] == 4 && buf[15] == 19);
	CHECK(wfs_tensor_read(m, b, buf, 4, 14) == 2);
	CHECK(buf[0] == 18 && buf[1] == 19);
	CHECK(wfs_tensor_read(m, b, buf, 4, 16) == 0);
	wfs_model_free(m);
	wfs_error_clear(&err);
}

static void test_prefix(void)
{
	struct wfs_model *m;
	struct wfs_error err = {0};
	uint8_t seven[7] = {0};
	CHECK(wfs_model_open_memory(seven, sizeof(seven), "t", &m, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "shorter than the 8-byte header length");
	wfs_error_clear(&err);

	uint8_t zero[8] = {0};
	CHECK(wfs_model_open_memory(zero, 8, "t", &m, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "header length is 0");
	wfs_error_clear(&err);

	uint8_t huge[16];
	memset(huge, 0xff, 8);
	memcpy(huge + 8, "{}      ", 8);
	CHECK(wfs_model_open_memory(huge, 16, "t", &m, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "exceeds the limit");
	wfs_error_clear(&err);

	uint8_t past[16] = {100};
	memcpy(past + 8, "{}      ", 8);
	CHECK(wfs_model_open_memory(past, 16, "t", &m, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "runs past the end of the file");
	wfs_error_clear(&err);

	uint8_t limit[16] = {0x01, 0xe1, 0xf5, 0x05}; /* 100,000,001 */
	CHECK(wfs_model_open_memory(limit, 16, "t", &m, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "exceeds the limit of 100000000 bytes");
	wfs_error_clear(&err);
}

#define T(name, rest) "{\"" name "\":{" rest "}}"

static void test_invalid(void)
{
	expect_invalid("[1]", 0, "not a JSON object");
	expect_invalid("{\"a\":", 0, "not valid JSON");
	expect_invalid("{\"a\":\"\xff\"}", 0, "not valid UTF-8");
	expect_invalid("{}x", 0, "unexpected bytes after");
	expect_invalid("{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		       "\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2, "duplicate key \"a\"");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]"), 1,
		       "tensor \"a\": duplicate key \"dtype\"");
	expect_invalid("{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0, "__metadata__: duplicate key \"k\"");
	expect_invalid("{\"__metadata__\":{\"k\":1}}", 0, "__metadata__ must be null or an object of strings");
	expect_invalid("{\"__metadata__\":[]}", 0, "__metadata__ must be null or an object of strings");
	expect_invalid("{\"a\":[]}", 0, "tensor \"a\": entry is not an object");
	expect_invalid(T("a", "\"shape\":[1],\"data_offsets\":[0,1]"), 1, "tensor \"a\": missing \"dtype\"");
	expect_invalid(T("a", "\"dtype\":\"bf16\",\"shape\":[1],\"data_offsets\":[0,2]"), 2, "unknown dtype \"bf16\"");
	expect_invalid(T("a", "\"dtype\":\"Q4\",\"shape\":[1],\"data_offsets\":[0,2]"), 2, "unknown dtype \"Q4\"");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[-1],\"data_offsets\":[0,1]"), 1, "-1 is not a non-negative integer");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[2.0],\"data_offsets\":[0,2]"), 2, "2.0 is not a non-negative integer");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[1e1],\"data_offsets\":[0,10]"), 10, "1e1 is not a non-negative integer");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,0]"), 0, "-0 is not a non-negative integer");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[\"3\"],\"data_offsets\":[0,3]"), 3, "\"3\" is not a non-negative integer");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[18446744073709551616],\"data_offsets\":[0,1]"), 1,
		       "tensor \"a\": shape must be an array of non-negative integers: 18446744073709551616 does not fit in 64 bits");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":{},\"data_offsets\":[0,1]"), 1, "shape must be an array");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0]"), 1,
		       "data_offsets must be an array of two non-negative integers");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1,2]"), 1,
		       "data_offsets must be an array of two non-negative integers");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,3]"), 4, "data_offsets [4,3] are reversed");
	expect_invalid(T("a", "\"dtype\":\"I32\",\"shape\":[2,2],\"data_offsets\":[0,12]"), 12,
		       "tensor \"a\": data_offsets [0,12] do not match I32 [2,2] (16 bytes)");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[4294967296,4294967296],\"data_offsets\":[0,1]"), 1,
		       "overflows 64 bits");
	expect_invalid(T("a", "\"dtype\":\"U64\",\"shape\":[4611686018427387904],\"data_offsets\":[0,1]"), 1,
		       "overflows 64 bits");
	expect_invalid(T("a", "\"dtype\":\"F4\",\"shape\":[3],\"data_offsets\":[0,1]"), 1,
		       "F4 [3] is 12 bits, not a whole number of bytes");
	expect_invalid(T("a", "\"dtype\":\"F6_E2M3\",\"shape\":[3],\"data_offsets\":[0,2]"), 2, "18 bits");
	expect_invalid("{\"a\\u0000b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, "contains a NUL byte");
	/* tiling */
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]"), 2, "belong to no tensor");
	expect_invalid("{\"a\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[0,2]},"
		       "\"b\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]}}", 3, "overlap tensor \"a\"");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]"), 3, "run past the end of the data section");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4]"), 5, "1 bytes after the last tensor");
	expect_invalid(T("a", "\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[18446744073709551615,18446744073709551615]"),
		       0, "do not match");
}

static void test_deep_nesting(void)
{
	size_t depth = 10000;
	char *h = malloc(2 * depth + 16);
	size_t o = 0;
	h[o++] = '{';
	memcpy(h + o, "\"a\":", 4);
	o += 4;
	for (size_t i = 0; i < depth; i++)
		h[o++] = '[';
	for (size_t i = 0; i < depth; i++)
		h[o++] = ']';
	h[o++] = '}';
	h[o] = '\0';
	expect_invalid(h, 0, "nested more than 64 levels deep");
	free(h);
}

static void test_every_dtype(void)
{
	static const struct {
		const char *name;
		unsigned n, bytes;
	} cases[] = {
		{"BOOL", 3, 3}, {"U8", 3, 3}, {"I8", 3, 3}, {"F8_E5M2", 3, 3}, {"F8_E4M3", 3, 3},
		{"F8_E8M0", 3, 3}, {"F8_E4M3FNUZ", 3, 3}, {"F8_E5M2FNUZ", 3, 3}, {"I16", 3, 6},
		{"U16", 3, 6}, {"F16", 3, 6}, {"BF16", 3, 6}, {"I32", 3, 12}, {"U32", 3, 12},
		{"F32", 3, 12}, {"I64", 3, 24}, {"U64", 3, 24}, {"F64", 3, 24}, {"C64", 3, 24},
		{"F4", 4, 2}, {"F6_E2M3", 4, 3}, {"F6_E3M2", 8, 6},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char h[256];
		snprintf(h, sizeof(h), "{\"t\":{\"dtype\":\"%s\",\"shape\":[%u],\"data_offsets\":[0,%u]}}",
			 cases[i].name, cases[i].n, cases[i].bytes);
		struct wfs_model *m = NULL;
		struct wfs_error err = {0};
		int rc = open_st(h, cases[i].bytes, &m, &err);
		CHECK(rc == 0);
		if (rc == 0) {
			CHECK(strcmp(wfs_dtype_name(m->tensors[0].dtype), cases[i].name) == 0);
			CHECK(m->tensors[0].nbytes == cases[i].bytes);
		}
		wfs_model_free(m);
		wfs_error_clear(&err);
	}
}

static void test_zero_size_and_errors_are_all_reported(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	/* Zero-size tensors may share an offset. */
	int rc = open_st("{\"a\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
			 "\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[0,0]},"
			 "\"c\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1, &m, &err);
	CHECK(rc == 0);
	wfs_model_free(m);
	/* Two bad tensors: two lines. */
	rc = open_st("{\"a\":{\"dtype\":\"X\",\"shape\":[0],\"data_offsets\":[0,0]},"
		     "\"b\":{\"dtype\":\"Y\",\"shape\":[0],\"data_offsets\":[0,0]}}", 0, &m, &err);
	CHECK(rc == WFS_EINVALID);
	CHECK(err.count == 2);
	CHECK_CONTAINS(err.text, "\"X\"");
	CHECK_CONTAINS(err.text, "\"Y\"");
	wfs_error_clear(&err);
}

int main(void)
{
	test_valid();
	test_prefix();
	test_invalid();
	test_deep_nesting();
	test_every_dtype();
	test_zero_size_and_errors_are_all_reported();
	free(previous);
	return check_report("test_safetensors");
}
