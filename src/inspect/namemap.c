/**
 * @file namemap.c
 * GGUF <-> Hugging Face llama names, and --map files (namemap.h).
 */
#include "namemap.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct pair {
	const char *gguf, *hf;
};

/* Outside the blocks (gguf-py tensor_mapping.py: TOKEN_EMBD, OUTPUT_NORM, OUTPUT). */
static const struct pair top[] = {
	{"token_embd", "model.embed_tokens"},
	{"output_norm", "model.norm"},
	{"output", "lm_head"},
};

/* Inside block N: blk.N.X <-> model.layers.N.Y (ATTN_NORM ... FFN_DOWN). */
static const struct pair block[] = {
	{"attn_norm", "input_layernorm"},
	{"attn_q", "self_attn.q_proj"},
	{"attn_k", "self_attn.k_proj"},
	{"attn_v", "self_attn.v_proj"},
	{"attn_output", "self_attn.o_proj"},
	{"attn_rot_embd", "self_attn.rotary_emb.inv_freq"},
	{"ffn_norm", "post_attention_layernorm"},
	{"ffn_gate", "mlp.gate_proj"},
	{"ffn_up", "mlp.up_proj"},
	{"ffn_down", "mlp.down_proj"},
};

/* "weight" or "bias" after the mapped stem. */
static const char *suffix(const char *s, size_t len)
{
	if (len == 7 && memcmp(s, ".weight", 7) == 0)
		return ".weight";
	if (len == 5 && memcmp(s, ".bias", 5) == 0)
		return ".bias";
	return NULL;
}

static size_t put(char *out, size_t cap, const char *a, size_t alen, const char *b, const char *c)
{
	int n = snprintf(out, cap, "%.*s%s%s", (int)alen, a, b, c);
	return n > 0 && (size_t)n < cap ? (size_t)n : 0;
}

size_t namemap_gguf_to_hf(const char *name, size_t len, char *out, size_t cap)
{
	for (size_t i = 0; i < sizeof(top) / sizeof(top[0]); i++) {
		size_t k = strlen(top[i].gguf);
		const char *sfx = len > k && memcmp(name, top[i].gguf, k) == 0 ? suffix(name + k, len - k) : NULL;
		if (sfx)
			return put(out, cap, top[i].hf, strlen(top[i].hf), sfx, "");
	}
	if (len < 6 || memcmp(name, "blk.", 4) != 0)
		return 0;
	size_t p = 4;
	while (p < len && name[p] >= '0' && name[p] <= '9')
		p++;
	if (p == 4 || p - 4 > 9 || p >= len || name[p] != '.' || (name[4] == '0' && p > 5))
		return 0;
	const char *rest = name + p + 1;
	size_t rlen = len - p - 1;
	for (size_t i = 0; i < sizeof(block) / sizeof(block[0]); i++) {
		size_t k = strlen(block[i].gguf);
		const char *sfx = rlen > k && memcmp(rest, block[i].gguf, k) == 0 ? suffix(rest + k, rlen - k) : NULL;
		if (sfx) {
			char head[32];
			snprintf(head, sizeof(head), "model.layers.%.*s.", (int)(p - 4), name + 4);
			return put(out, cap, head, strlen(head), block[i].hf, sfx);
		}
	}
	return 0;
}

static int cmp_pair(const void *x, const void *y, void *ctx)
{
	const struct namemap *m = ctx;
	return strcmp(m->a[*(const size_t *)x], m->a[*(const size_t *)y]);
}

int namemap_load(const char *path, struct namemap *map, char *msg, size_t cap)
{
	*map = (struct namemap){0};
	FILE *f = fopen(path, "rb");
	if (f == NULL) {
		snprintf(msg, cap, "--map %s: %s", path, strerror(errno));
		return -1;
	}
	size_t len = 0, tcap = 0;
	char buf[65536];
	size_t n;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0) {
		if (len + n + 1 > tcap) {
			tcap = (len + n + 1) * 2;
			char *t = realloc(map->text, tcap);
			if (t == NULL) {
				fclose(f);
				snprintf(msg, cap, "out of memory");
				return -1;
			}
			map->text = t;
		}
		memcpy(map->text + len, buf, n);
		len += n;
	}
	fclose(f);
	if (map->text == NULL && (map->text = calloc(1, 1)) == NULL) {
		snprintf(msg, cap, "out of memory");
		return -1;
	}
	map->text[len] = '\0';
	size_t pcap = 0, line = 0;
	char *save = NULL;
	for (char *l = strtok_r(map->text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
		line++;
		char *a = l + strspn(l, " \t\r");
		if (*a == '\0' || *a == '#')
			continue;
		char *ae = a + strcspn(a, " \t\r");
		char *b = ae + strspn(ae, " \t\r");
		char *be = b + strcspn(b, " \t\r");
		char *rest = be + strspn(be, " \t\r");
		if (*ae == '\0' || *b == '\0' || *rest != '\0') {
			snprintf(msg, cap, "--map %s: line %zu: expected two names (NAME_A NAME_B)", path, line);
			namemap_free(map);
			return -1;
		}
		*ae = '\0';
		*be = '\0';
		if (map->n == pcap) {
			pcap = pcap ? pcap * 2 : 64;
			char **na = realloc(map->a, pcap * sizeof(*na)), **nb = na ? realloc(map->b, pcap * sizeof(*nb)) : NULL;
			if (na)
				map->a = na;
			if (nb)
				map->b = nb;
			if (na == NULL || nb == NULL) {
				snprintf(msg, cap, "out of memory");
				namemap_free(map);
				return -1;
			}
		}
		map->a[map->n] = a;
		map->b[map->n] = b;
		map->n++;
	}
	/* Sort the pairs by NAME_A (an index permutation keeps a and b together). */
	size_t *idx = malloc((map->n ? map->n : 1) * sizeof(*idx));
	char **a2 = malloc((map->n ? map->n : 1) * sizeof(*a2)), **b2 = malloc((map->n ? map->n : 1) * sizeof(*b2));
	if (idx == NULL || a2 == NULL || b2 == NULL) {
		free(idx);
		free(a2);
		free(b2);
		snprintf(msg, cap, "out of memory");
		namemap_free(map);
		return -1;
	}
	for (size_t i = 0; i < map->n; i++)
		idx[i] = i;
	qsort_r(idx, map->n, sizeof(*idx), cmp_pair, map);
	for (size_t i = 0; i < map->n; i++) {
		a2[i] = map->a[idx[i]];
		b2[i] = map->b[idx[i]];
	}
	free(idx);
	free(map->a);
	free(map->b);
	map->a = a2;
	map->b = b2;
	for (size_t i = 1; i < map->n; i++) {
		if (strcmp(map->a[i - 1], map->a[i]) == 0) {
			snprintf(msg, cap, "--map %s: %.200s is mapped twice", path, map->a[i]);
			namemap_free(map);
			return -1;
		}
	}
	return 0;
}

const char *namemap_find(const struct namemap *map, const char *name, size_t len)
{
	size_t lo = 0, hi = map->n;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		size_t k = strlen(map->a[mid]);
		int c = memcmp(map->a[mid], name, k < len ? k : len);
		if (c == 0)
			c = (k > len) - (k < len);
		if (c == 0)
			return map->b[mid];
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return NULL;
}

void namemap_free(struct namemap *map)
{
	free(map->a);
	free(map->b);
	free(map->text);
	*map = (struct namemap){0};
}
