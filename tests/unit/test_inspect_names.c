/**
 * @file test_inspect_names.c
 * Natural order of names and selection by glob.
 */
#include <stdlib.h>

#include "check.h"
#include "names.h"

static int cmp(const char *a, const char *b)
{
	return nat_cmp(a, strlen(a), b, strlen(b));
}

int main(void)
{
	/* Numbers compare as numbers... */
	CHECK(cmp("layers.2", "layers.10") < 0);
	CHECK(cmp("layers.10", "layers.2") > 0);
	CHECK(cmp("model.layers.9.mlp", "model.layers.10.attn") < 0);
	CHECK(cmp("a.100.b", "a.99.b") > 0);
	CHECK(cmp("x18446744073709551616", "x18446744073709551615") > 0); /* beyond 64 bits */
	CHECK(cmp("x99999999999999999999999", "x100000000000000000000000") < 0);
	/* ...everything else bytewise; a prefix comes first. */
	CHECK(cmp("a", "b") < 0);
	CHECK(cmp("a", "a.b") < 0);
	CHECK(cmp("a.b", "a") > 0);
	CHECK(cmp("A", "a") < 0);
	CHECK(cmp("a1", "a.") > 0); /* '1' (0x31) after '.' (0x2e) */
	CHECK(cmp("", "") == 0);
	CHECK(cmp("", "a") < 0);
	CHECK(cmp("layers.10", "layers.10") == 0);
	CHECK(cmp("\xc3\xa9", "e") > 0);
	/* Leading zeros only break ties: a total order. */
	CHECK(cmp("a1", "a01") < 0);
	CHECK(cmp("a01", "a1") > 0);
	CHECK(cmp("a01b2", "a1b02") > 0);
	CHECK(cmp("a0", "a00") < 0);
	CHECK(cmp("a01", "a2") < 0);
	CHECK(cmp("a00", "a") > 0);
	CHECK(cmp("v1.2", "v1.10") < 0);

	/* Sorting a shuffled list gives the expected order, every time. */
	const char *sorted[] = {
		"lm_head.weight",
		"model.embed_tokens.weight",
		"model.layers.0.mlp.down_proj.weight",
		"model.layers.1.mlp.down_proj.weight",
		"model.layers.2.mlp.down_proj.weight",
		"model.layers.10.mlp.down_proj.weight",
		"model.layers.10.mlp.up_proj.weight",
		"model.layers.11.mlp.down_proj.weight",
		"model.layers.100.mlp.down_proj.weight",
		"model.norm.weight",
	};
	size_t n = sizeof(sorted) / sizeof(sorted[0]);
	for (size_t i = 0; i + 1 < n; i++)
		for (size_t j = i + 1; j < n; j++) {
			CHECK(cmp(sorted[i], sorted[j]) < 0);
			CHECK(cmp(sorted[j], sorted[i]) > 0);
		}

	/* select_tensors on a model in memory: every glob, natural order. */
	const char *header =
		"{\"model.layers.10.w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		"\"model.layers.2.w\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]},"
		"\"model.layers.2.b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[2,3]},"
		"\"lm_head.weight\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]},"
		"\"odd[1]\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[4,5]}}";
	size_t size;
	uint8_t *file = st_file(header, 5, &size);
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	CHECK(wfs_model_open_memory(file, size, "mem", &m, &err) == 0);
	if (m) {
		size_t *idx = NULL, count = 0;
		unsigned char matched[3] = {0};
		CHECK(select_tensors(m, NULL, 0, &idx, &count, NULL) == 0);
		CHECK(count == 5);
		const char *want[] = {"lm_head.weight", "model.layers.2.b", "model.layers.2.w",
				      "model.layers.10.w", "odd[1]"};
		for (size_t i = 0; i < count && i < 5; i++)
			CHECK(strcmp(wfs_model_str(m, m->tensors[idx[i]].name), want[i]) == 0);
		free(idx);

		char *globs[] = {"model.*.w", "odd[1]", "nothing*"};
		CHECK(select_tensors(m, globs, 3, &idx, &count, matched) == 0);
		CHECK(count == 3); /* the two .w and "odd[1]" by its exact name */
		CHECK(count == 3 && strcmp(wfs_model_str(m, m->tensors[idx[0]].name), "model.layers.2.w") == 0);
		CHECK(count == 3 && strcmp(wfs_model_str(m, m->tensors[idx[1]].name), "model.layers.10.w") == 0);
		CHECK(matched[0] == 1 && matched[1] == 1 && matched[2] == 0);
		free(idx);

		char *q[] = {"model.layers.?.*"};
		CHECK(select_tensors(m, q, 1, &idx, &count, NULL) == 0);
		CHECK(count == 2);
		free(idx);
	}
	wfs_model_free(m);
	wfs_error_clear(&err);
	free(file);
	return check_report("test_inspect_names");
}
