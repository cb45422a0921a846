/**
 * @file test_gguf_parse.c
 * The GGUF reader (formats/gguf/parse.c) on files built in memory and on
 * the fixtures of tests/data/gguf-samples (argv[1]).
 */
#include <errno.h>

#include "check.h"
#include "gguf_build.h"
#include "formats/gguf/parse.h"

/* Parses b, growing the prefix shown to the parser from 16 bytes as it asks (as a remote read would). */
static int parse_all(const struct gb *b, struct wfs_gguf *g, struct wfs_error *err, unsigned *rounds)
{
	size_t len = b->len < 16 ? b->len : 16;
	unsigned n = 0;
	for (;;) {
		uint64_t need = 0;
		n++;
		/* A prefix in a buffer of its own, so a resumed parse sees it move (as after realloc). */
		uint8_t *copy = malloc(len ? len : 1);
		if (len)
			memcpy(copy, b->p, len);
		int rc = wfs_gguf_parse(copy, len, b->len, "t.gguf", g, err, &need);
		free(copy);
		if (rc == 0) /* once more over the whole file: keys and names then point into b */
			rc = wfs_gguf_parse(b->p, b->len, b->len, "t.gguf", g, err, &need);
		if (rc != -EAGAIN) {
			if (rounds)
				*rounds = n;
			return rc;
		}
		if (need <= len || need > b->len || n > 64)
			return -999; /* the parser must ask for more, within the file */
		len = (size_t)need;
	}
}

static void expect_invalid(struct gb *b, const char *fragment)
{
	struct wfs_gguf g = {0};
	struct wfs_error err = {0};
	int rc = parse_all(b, &g, &err, NULL);
	CHECK(rc == WFS_EINVALID);
	CHECK_CONTAINS(err.text, fragment);
	CHECK_CONTAINS(err.text, "t.gguf: ");
	if (rc == WFS_EINVALID && err.count != 1)
		fprintf(stderr, "expected one problem, got %u: %s\n", err.count, err.text);
	CHECK(err.count == 1);
	wfs_gguf_release(&g);
	wfs_error_clear(&err);
	free(b->p);
	*b = (struct gb){0};
}

static void test_valid(void)
{
	struct gb b = {0};
	gb_header(&b, 3, 2, 3);
	gb_kv_str(&b, "general.architecture", "llama");
	gb_kv_u32(&b, "general.alignment", 64);
	/* an array of two arrays of strings */
	gb_str(&b, "x.nested");
	gb_u32(&b, 9);
	gb_u32(&b, 9);
	gb_u64(&b, 2);
	gb_u32(&b, 8);
	gb_u64(&b, 2);
	gb_str(&b, "a\"b");
	gb_str(&b, "\n\x01");
	gb_u32(&b, 8);
	gb_u64(&b, 0);
	gb_tensor(&b, "w", 32, 2, 8 /* Q8_0 */, 0);
	gb_tensor(&b, "v", 4, 0, 0 /* F32 */, 128);
	gb_data(&b, 64, 144);

	struct wfs_gguf g = {0};
	struct wfs_error err = {0};
	unsigned rounds = 0;
	int rc = parse_all(&b, &g, &err, &rounds);
	CHECK(rc == 0);
	if (rc != 0)
		fprintf(stderr, "%s\n", err.text);
	CHECK(rounds >= 2);
	CHECK(g.version == 3 && g.n_kv == 3 && g.n_tensors == 2);
	CHECK(g.alignment == 64);
	CHECK(g.data_offset % 64 == 0 && g.data_offset >= g.infos_end);
	CHECK(g.tensors[0].dtype == WFS_DT_Q8_0 && g.tensors[0].nbytes == 68 && g.tensors[0].ne[1] == 2);
	CHECK(g.tensors[1].nbytes == 16 && g.tensors[1].offset == 128);

	char *text;
	size_t len;
	bool json;
	CHECK(wfs_gguf_kv_render(b.p, &g.kv[0], 1000, &text, &len, &json) == 0);
	CHECK(!json && strcmp(text, "llama") == 0);
	free(text);
	CHECK(wfs_gguf_kv_render(b.p, &g.kv[1], 1000, &text, &len, &json) == 0);
	CHECK(json && strcmp(text, "64") == 0);
	free(text);
	CHECK(wfs_gguf_kv_render(b.p, &g.kv[2], 1000, &text, &len, &json) == 0);
	CHECK(json && strcmp(text, "[[\"a\\\"b\",\"\\n\\u0001\"],[]]") == 0);
	free(text);
	CHECK(wfs_gguf_kv_render(b.p, &g.kv[2], 10, &text, &len, &json) == -E2BIG);
	wfs_gguf_release(&g);
	free(b.p);
}

static void test_scalars(void)
{
	struct gb b = {0};
	gb_header(&b, 2, 0, 4);
	gb_str(&b, "f");
	gb_u32(&b, 6);
	float f = 1e-5f;
	uint32_t u;
	memcpy(&u, &f, 4);
	gb_u32(&b, u);
	gb_str(&b, "i");
	gb_u32(&b, 11);
	gb_u64(&b, (uint64_t)-5);
	gb_str(&b, "b");
	gb_u32(&b, 7);
	gb_u8(&b, 1);
	gb_str(&b, "d");
	gb_u32(&b, 12);
	double d = 0.1;
	uint64_t u64;
	memcpy(&u64, &d, 8);
	gb_u64(&b, u64);
	struct wfs_gguf g = {0};
	struct wfs_error err = {0};
	CHECK(parse_all(&b, &g, &err, NULL) == 0);
	const char *want[] = {"1e-05", "-5", "true", "0.1"};
	for (unsigned i = 0; i < 4 && g.kv; i++) {
		char *text;
		size_t len;
		bool json;
		CHECK(wfs_gguf_kv_render(b.p, &g.kv[i], 100, &text, &len, &json) == 0);
		CHECK(strcmp(text, want[i]) == 0);
		if (strcmp(text, want[i]) != 0)
			fprintf(stderr, "got %s, want %s\n", text, want[i]);
		free(text);
	}
	/* Vocab-only files: the aligned data offset may be past the end. */
	CHECK(g.data_offset >= b.len);
	wfs_gguf_release(&g);
	free(b.p);
}

/* Floats: the shortest text of their width, integral ones without exponent, JSON's spellings of NaN and Inf. */
static void test_floats(void)
{
	static const struct {
		float f;
		const char *want;
	} cases[] = {
		{0.1f, "0.1"}, {10000.0f, "10000"}, {-10.0f, "-10"}, {-0.0f, "-0.0"}, {0.0f, "0"},
		{1e-5f, "1e-05"}, {3.4028235e38f, "3.4028235e+38"}, {1.0f / 0.0f, "Infinity"},
		{-1.0f / 0.0f, "-Infinity"}, {0.0f / 0.0f, "NaN"}, {16777217.0f, "16777216"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct gb b = {0};
		gb_header(&b, 3, 0, 1);
		gb_str(&b, "f");
		gb_u32(&b, 6);
		uint32_t u;
		memcpy(&u, &cases[i].f, 4);
		gb_u32(&b, u);
		struct wfs_gguf g = {0};
		struct wfs_error err = {0};
		CHECK(parse_all(&b, &g, &err, NULL) == 0);
		char *text = NULL;
		size_t len;
		bool json;
		CHECK(g.kv && wfs_gguf_kv_render(b.p, &g.kv[0], 100, &text, &len, &json) == 0);
		CHECK(text && strcmp(text, cases[i].want) == 0);
		if (text && strcmp(text, cases[i].want) != 0)
			fprintf(stderr, "float %zu: got %s, want %s\n", i, text, cases[i].want);
		free(text);
		wfs_gguf_release(&g);
		free(b.p);
	}
}

static void test_invalid(void)
{
	struct gb b = {0};

	gb_bytes(&b, "GGUX", 4);
	gb_u32(&b, 3);
	gb_u64(&b, 0);
	gb_u64(&b, 0);
	expect_invalid(&b, "not a GGUF file");

	gb_header(&b, 1, 0, 0);
	expect_invalid(&b, "version 1 is not supported");

	gb_header(&b, 0x03000000, 0, 0);
	expect_invalid(&b, "big-endian");

	gb_header(&b, 4, 0, 0);
	expect_invalid(&b, "version 4");

	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k");
	gb_u32(&b, 4);
	expect_invalid(&b, "key \"k\": the file ends (at 37 bytes) inside it");

	gb_header(&b, 3, UINT64_MAX, 0);
	expect_invalid(&b, "tensor count 18446744073709551615 cannot fit");

	gb_header(&b, 3, 0, UINT64_MAX - 1);
	expect_invalid(&b, "KV count");

	gb_header(&b, 3, 0, 1);
	gb_u64(&b, UINT64_MAX);
	gb_bytes(&b, "abcdefgh", 8);
	expect_invalid(&b, "string length 18446744073709551615 at byte 24 runs past the end");

	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k");
	gb_u32(&b, 13);
	gb_u32(&b, 0);
	expect_invalid(&b, "unknown value type 13");

	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k");
	for (int i = 0; i < 10000; i++) {
		gb_u32(&b, 9);
		if (i)
			gb_u64(&b, 1);
	}
	gb_u64(&b, 1);
	expect_invalid(&b, "nested more than");

	gb_header(&b, 3, 0, 1);
	gb_str(&b, "k");
	gb_u32(&b, 9);
	gb_u32(&b, 0);
	gb_u64(&b, 1ULL << 62);
	expect_invalid(&b, "array item count 4611686018427387904 cannot fit");

	gb_header(&b, 3, 0, 2);
	gb_kv_u32(&b, "a", 1);
	gb_kv_u32(&b, "a", 2);
	expect_invalid(&b, "key \"a\" appears more than once");

	gb_header(&b, 3, 0, 1);
	gb_kv_str(&b, "a", "\xff\xfe");
	expect_invalid(&b, "not valid UTF-8");

	gb_header(&b, 3, 0, 1);
	gb_str(&b, "a");
	gb_u32(&b, 7);
	gb_u8(&b, 2);
	expect_invalid(&b, "bool value 2");

	gb_header(&b, 3, 0, 1);
	gb_u64(&b, 3);
	gb_bytes(&b, "a\0b", 3);
	gb_u32(&b, 0);
	gb_u8(&b, 0);
	expect_invalid(&b, "NUL");

	gb_header(&b, 3, 0, 1);
	gb_kv_u32(&b, "general.alignment", 24);
	expect_invalid(&b, "24 is not a power of two");

	gb_header(&b, 3, 0, 1);
	gb_kv_str(&b, "general.alignment", "32");
	expect_invalid(&b, "type STRING, not UINT32");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", 32, 0, 99, 0);
	gb_data(&b, 32, 128);
	expect_invalid(&b, "tensor \"w\": unknown ggml type 99");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", 32, 0, 0, 16);
	gb_data(&b, 32, 256);
	expect_invalid(&b, "offset 16 is not a multiple of the alignment 32");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", 16, 0, 2 /* Q4_0 */, 0);
	gb_data(&b, 32, 256);
	expect_invalid(&b, "ne[0] = 16 is not a multiple of the Q4_0 block size 32");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", 64, 0, 0, 0);
	gb_data(&b, 32, 255);
	expect_invalid(&b, "256 bytes at offset 0 of the data section run past the end");

	gb_header(&b, 3, 2, 0);
	gb_tensor(&b, "w", 16, 0, 0, 0);
	gb_tensor(&b, "v", 16, 0, 0, 32);
	gb_data(&b, 32, 128);
	expect_invalid(&b, "tensor \"v\" [32, 96) overlaps tensor \"w\" [0, 64)");

	gb_header(&b, 3, 2, 0);
	gb_tensor(&b, "w", 8, 0, 0, 0);
	gb_tensor(&b, "w", 8, 0, 0, 32);
	gb_data(&b, 32, 128);
	expect_invalid(&b, "tensor \"w\" appears more than once");

	gb_header(&b, 3, 1, 0);
	gb_str(&b, "w");
	gb_u32(&b, 5);
	for (int i = 0; i < 5; i++)
		gb_u64(&b, 1);
	gb_u32(&b, 0);
	gb_u64(&b, 0);
	gb_data(&b, 32, 32);
	expect_invalid(&b, "n_dims 5");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", 1ULL << 40, 1ULL << 40, 0, 0);
	gb_data(&b, 32, 32);
	expect_invalid(&b, "overflows");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", UINT64_MAX, 0, 0, 0);
	gb_data(&b, 32, 32);
	expect_invalid(&b, "is not below 2^63");

	gb_header(&b, 3, 1, 0);
	gb_tensor(&b, "w", 8, 0, 0, 0);
	expect_invalid(&b, "data section would begin at byte");
}

/* Every truncation of a valid file is refused with one line. */
static void test_truncations(void)
{
	struct gb b = {0};
	gb_header(&b, 3, 1, 2);
	gb_kv_str(&b, "general.name", "t");
	gb_kv_u32(&b, "n", 1);
	gb_tensor(&b, "w", 8, 0, 0, 0);
	gb_data(&b, 32, 32);
	size_t full = b.len;
	for (size_t cut = 0; cut < full; cut++) {
		struct gb t = {0};
		gb_bytes(&t, b.p, cut);
		struct wfs_gguf g = {0};
		struct wfs_error err = {0};
		int rc = parse_all(&t, &g, &err, NULL);
		CHECK(rc == WFS_EINVALID && err.count == 1);
		wfs_gguf_release(&g);
		wfs_error_clear(&err);
		free(t.p);
	}
	free(b.p);
}

static void test_fixtures(const char *dir)
{
	static const struct {
		const char *file;
		uint64_t n_tensors, n_kv, data_offset;
	} files[] = {
		{"model.gguf", 22, 35, 3392},
		{"split/model-00002-of-00003.gguf", 8, 3, 0},
		{"vocab/ggml-vocab-bert-bge.gguf", 0, 0, 627552},
		{"vocab/ggml-vocab-llama-spm.gguf", 0, 0, 0},
		{"vocab/ggml-vocab-phi-3.gguf", 0, 0, 0},
	};
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++) {
		struct gb b = {0};
		b.p = check_read_file(dir, files[i].file, &b.len);
		struct wfs_gguf g = {0};
		struct wfs_error err = {0};
		int rc = parse_all(&b, &g, &err, NULL);
		CHECK(rc == 0);
		if (rc)
			fprintf(stderr, "%s: %d %s\n", files[i].file, rc, err.text);
		CHECK(g.n_tensors == files[i].n_tensors);
		if (files[i].n_kv)
			CHECK(g.n_kv == files[i].n_kv);
		if (files[i].data_offset)
			CHECK(g.data_offset == files[i].data_offset);
		if (i == 1)
			CHECK(g.has_split_no && g.split_no == 1 && g.has_split_count && g.split_count == 3);
		wfs_gguf_release(&g);
		wfs_error_clear(&err);
		free(b.p);
	}
}

int main(int argc, char **argv)
{
	test_valid();
	test_scalars();
	test_floats();
	test_invalid();
	test_truncations();
	if (argc > 1)
		test_fixtures(argv[1]);
	return check_report("test_gguf_parse");
}
