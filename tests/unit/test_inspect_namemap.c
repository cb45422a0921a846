/**
 * @file test_inspect_namemap.c
 * GGUF <-> Hugging Face llama names and --map files (src/inspect/namemap.c).
 */
#include <stdio.h>

#include "check.h"
#include "namemap.h"

static void expect_hf(const char *gguf, const char *hf)
{
	char out[256];
	size_t n = namemap_gguf_to_hf(gguf, strlen(gguf), out, sizeof(out));
	if (hf == NULL) {
		CHECK(n == 0);
		return;
	}
	CHECK(n == strlen(hf));
	CHECK_CONTAINS(n ? out : "", hf);
}

int main(void)
{
	expect_hf("blk.0.attn_q.weight", "model.layers.0.self_attn.q_proj.weight");
	expect_hf("blk.31.ffn_down.weight", "model.layers.31.mlp.down_proj.weight");
	expect_hf("blk.7.attn_output.bias", "model.layers.7.self_attn.o_proj.bias");
	expect_hf("blk.2.ffn_norm.weight", "model.layers.2.post_attention_layernorm.weight");
	expect_hf("token_embd.weight", "model.embed_tokens.weight");
	expect_hf("output.weight", "lm_head.weight");
	expect_hf("output_norm.weight", "model.norm.weight");
	expect_hf("rope_freqs.weight", NULL);
	expect_hf("blk.01.attn_q.weight", NULL);     /* not how llama.cpp numbers blocks */
	expect_hf("blk..attn_q.weight", NULL);
	expect_hf("blk.0.attn_q.weightx", NULL);
	expect_hf("blk.0.attn_qx.weight", NULL);
	expect_hf("outputx.weight", NULL);
	char small[8];
	CHECK(namemap_gguf_to_hf("output.weight", 13, small, sizeof(small)) == 0); /* does not fit */

	char path[] = "/tmp/weightfs-namemap-XXXXXX";
	int fd = mkstemp(path);
	CHECK(fd >= 0);
	FILE *f = fdopen(fd, "w");
	fputs("# comment\n\nb.weight  y\na.weight\tx\r\n", f);
	fclose(f);
	struct namemap map;
	char msg[512];
	CHECK(namemap_load(path, &map, msg, sizeof(msg)) == 0);
	CHECK(map.n == 2);
	CHECK(namemap_find(&map, "a.weight", 8) && strcmp(namemap_find(&map, "a.weight", 8), "x") == 0);
	CHECK(namemap_find(&map, "b.weight", 8) && strcmp(namemap_find(&map, "b.weight", 8), "y") == 0);
	CHECK(namemap_find(&map, "a.weigh", 7) == NULL);
	CHECK(namemap_find(&map, "c", 1) == NULL);
	namemap_free(&map);

	f = fopen(path, "w");
	fputs("a x\na y\n", f);
	fclose(f);
	CHECK(namemap_load(path, &map, msg, sizeof(msg)) < 0);
	CHECK_CONTAINS(msg, "a is mapped twice");
	f = fopen(path, "w");
	fputs("a\n", f);
	fclose(f);
	CHECK(namemap_load(path, &map, msg, sizeof(msg)) < 0);
	CHECK_CONTAINS(msg, "line 1: expected two names");
	remove(path);
	CHECK(namemap_load(path, &map, msg, sizeof(msg)) < 0);
	CHECK_CONTAINS(msg, "No such file");
	return check_report("test_inspect_namemap");
}
