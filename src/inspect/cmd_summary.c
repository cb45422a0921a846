/**
 * @file cmd_summary.c
 * weightfs-inspect summary SOURCE: what the model is, in a few lines.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "jsonw.h"

struct totals {
	uint64_t params[WFS_DT_COUNT];
	uint64_t tensors[WFS_DT_COUNT];
	uint64_t all;
};

static void count(const struct wfs_model *m, struct totals *t)
{
	memset(t, 0, sizeof(*t));
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *x = &m->tensors[i];
		uint64_t n = tensor_elements(m, x);
		/* Saturate rather than wrap: 2^64 parameters do not fit in any file anyway. */
		if (__builtin_add_overflow(t->params[x->dtype], n, &t->params[x->dtype]))
			t->params[x->dtype] = UINT64_MAX;
		if (__builtin_add_overflow(t->all, n, &t->all))
			t->all = UINT64_MAX;
		t->tensors[x->dtype]++;
	}
}

/* Metadata with its JSON types: index values that were not strings are kept as compact JSON. */
static void kv_json_of(struct jw *w, const struct wfs_model *m, const struct wfs_kv *kv, size_t n, long group)
{
	jw_object(w);
	for (size_t i = 0; i < n; i++) {
		if (group >= 0 && kv[i].group != (uint32_t)group)
			continue;
		jw_key(w, wfs_model_str(m, kv[i].key));
		if (kv[i].json)
			jw_raw(w, wfs_model_str(m, kv[i].value), kv[i].value.len);
		else
			jw_string(w, wfs_model_str(m, kv[i].value), kv[i].value.len);
	}
	jw_end(w);
}

struct kv_order {
	const struct wfs_model *m;
	const struct wfs_kv *kv;
};

static int cmp_kv_key(const void *a, const void *b, void *ctx)
{
	const struct kv_order *o = ctx;
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	const struct wfs_str kx = o->kv[x].key, ky = o->kv[y].key;
	size_t n = kx.len < ky.len ? kx.len : ky.len;
	int c = memcmp(wfs_model_str(o->m, kx), wfs_model_str(o->m, ky), n);
	if (c == 0)
		c = (kx.len > ky.len) - (kx.len < ky.len);
	return c ? c : (x > y) - (x < y);
}

/* Every pair, merged: a key met again (another group's, another shard's) is left out; the first wins. */
static void kv_json(struct jw *w, const struct wfs_model *m, const struct wfs_kv *kv, size_t n)
{
	size_t *order = malloc((n ? n : 1) * sizeof(*order));
	unsigned char *skip = calloc(n ? n : 1, 1);
	if (order == NULL || skip == NULL) {
		free(order);
		free(skip);
		kv_json_of(w, m, kv, n, -1);
		return;
	}
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	struct kv_order ctx = {m, kv};
	qsort_r(order, n, sizeof(*order), cmp_kv_key, &ctx);
	for (size_t i = 1; i < n; i++) {
		const struct wfs_str a = kv[order[i - 1]].key, b = kv[order[i]].key;
		if (a.len == b.len && memcmp(wfs_model_str(m, a), wfs_model_str(m, b), a.len) == 0)
			skip[order[i]] = 1;
	}
	jw_object(w);
	for (size_t i = 0; i < n; i++) {
		if (skip[i])
			continue;
		jw_key(w, wfs_model_str(m, kv[i].key));
		if (kv[i].json)
			jw_raw(w, wfs_model_str(m, kv[i].value), kv[i].value.len);
		else
			jw_string(w, wfs_model_str(m, kv[i].value), kv[i].value.len);
	}
	jw_end(w);
	free(order);
	free(skip);
}

/* A GGUF key/value of group @p group (0: the root), or NULL. */
static const struct wfs_kv *gguf_kv_in(const struct wfs_model *m, uint32_t group, const char *key)
{
	for (size_t i = 0; i < m->nmetadata; i++)
		if (m->metadata[i].space == WFS_KV_GGUF && m->metadata[i].group == group &&
		    strcmp(wfs_model_str(m, m->metadata[i].key), key) == 0)
			return &m->metadata[i];
	return NULL;
}

static const struct wfs_kv *gguf_kv(const struct wfs_model *m, const char *key)
{
	return gguf_kv_in(m, 0, key);
}

/*
 * The subdirectories of a directory of several models (groups): each one's
 * format, tensors, bytes, architecture and metadata, so keys of different
 * files never meet in one object.
 */
static void groups_json(struct jw *w, const struct wfs_model *m)
{
	jw_object(w);
	for (uint32_t g = 1; g < m->ngroups; g++) {
		uint64_t n = 0, bytes = 0;
		for (size_t i = 0; i < m->ntensors; i++)
			if (m->tensors[i].group == g) {
				n++;
				bytes += m->tensors[i].nbytes;
			}
		jw_key(w, wfs_model_str(m, m->groups[g].name));
		jw_object(w);
		jw_key(w, "format");
		jw_cstring(w, m->groups[g].format ? m->groups[g].format : "");
		jw_key(w, "tensors");
		jw_u64(w, n);
		jw_key(w, "total_bytes");
		jw_u64(w, bytes);
		const struct wfs_kv *arch = gguf_kv_in(m, g, "general.architecture");
		if (arch) {
			jw_key(w, "architecture");
			jw_string(w, wfs_model_str(m, arch->value), arch->value.len);
		}
		jw_key(w, "metadata");
		kv_json_of(w, m, m->metadata, m->nmetadata, g);
		jw_end(w);
	}
	jw_end(w);
}

/* Bits per weight: stored bits over parameters (what llama.cpp calls BPW). */
static double bits_per_weight(const struct wfs_model *m, const struct totals *t)
{
	return t->all ? (double)m->total_bytes * 8.0 / (double)t->all : 0.0;
}

static bool is_gguf(const struct wfs_model *m)
{
	return m->format && strcmp(m->format, "gguf") == 0;
}

static const char *layout(const struct wfs_model *m)
{
	return m->sharded ? "sharded" : m->nshards == 1 ? "single" : "merged";
}

static void print_json(const char *source, const struct wfs_model *m, const struct totals *t)
{
	struct jw w;
	jw_init(&w, stdout);
	jw_object(&w);
	jw_key(&w, "source");
	jw_cstring(&w, source);
	jw_key(&w, "format");
	jw_cstring(&w, m->format ? m->format : "safetensors");
	if (is_gguf(m)) {
		const struct wfs_kv *arch = gguf_kv(m, "general.architecture");
		jw_key(&w, "architecture");
		if (arch)
			jw_string(&w, wfs_model_str(m, arch->value), arch->value.len);
		else
			jw_null(&w);
		jw_key(&w, "bits_per_weight");
		jw_double(&w, bits_per_weight(m, t));
	}
	jw_key(&w, "layout");
	jw_cstring(&w, layout(m));
	jw_key(&w, "sharded");
	jw_bool(&w, m->sharded);
	jw_key(&w, "index");
	if (m->sharded)
		jw_string(&w, wfs_model_str(m, m->index_name), m->index_name.len);
	else
		jw_null(&w);
	jw_key(&w, "shards");
	jw_u64(&w, m->nshards);
	jw_key(&w, "files");
	jw_array(&w);
	for (size_t i = 0; i < m->nshards; i++)
		jw_string(&w, wfs_model_str(m, m->shards[i].name), m->shards[i].name.len);
	jw_end(&w);
	jw_key(&w, "tensors");
	jw_u64(&w, m->ntensors);
	jw_key(&w, "total_bytes");
	jw_u64(&w, m->total_bytes);
	jw_key(&w, "parameters");
	jw_object(&w);
	for (int d = 0; d < WFS_DT_COUNT; d++) {
		if (t->tensors[d]) {
			jw_key(&w, wfs_dtype_name((enum wfs_dtype)d));
			jw_u64(&w, t->params[d]);
		}
	}
	jw_end(&w);
	jw_key(&w, "tensors_by_dtype");
	jw_object(&w);
	for (int d = 0; d < WFS_DT_COUNT; d++) {
		if (t->tensors[d]) {
			jw_key(&w, wfs_dtype_name((enum wfs_dtype)d));
			jw_u64(&w, t->tensors[d]);
		}
	}
	jw_end(&w);
	jw_key(&w, "total_parameters");
	jw_u64(&w, t->all);
	jw_key(&w, "metadata");
	kv_json(&w, m, m->metadata, m->nmetadata);
	if (m->ngroups > 1) {
		jw_key(&w, "groups");
		groups_json(&w, m);
	}
	jw_key(&w, "index_metadata");
	if (m->sharded) {
		kv_json(&w, m, m->index_meta, m->nindex_meta);
	} else {
		jw_null(&w);
	}
	jw_end(&w);
	fputc('\n', stdout);
}

static void print_kv(const struct wfs_model *m, const struct wfs_kv *kv, size_t n)
{
	size_t width = 0;
	for (size_t i = 0; i < n; i++)
		if (name_width(wfs_model_str(m, kv[i].key), kv[i].key.len) > width)
			width = name_width(wfs_model_str(m, kv[i].key), kv[i].key.len);
	for (size_t i = 0; i < n; i++) {
		fputs("  ", stdout);
		put_name(stdout, wfs_model_str(m, kv[i].key), kv[i].key.len);
		printf("%*s  ", (int)(width - name_width(wfs_model_str(m, kv[i].key), kv[i].key.len)), "");
		put_name(stdout, wfs_model_str(m, kv[i].value), kv[i].value.len);
		fputc('\n', stdout);
	}
}

/*
 * The main GGUF KVs: general.*, the architecture's own (ARCH.*), the
 * tokenizer's scalars; long arrays as their item count (--json has them all).
 */
static void print_gguf_kvs(const struct wfs_model *m)
{
	const struct wfs_kv *arch = gguf_kv(m, "general.architecture");
	size_t alen = arch ? arch->value.len : 0;
	const char *aname = arch ? wfs_model_str(m, arch->value) : "";
	size_t width = 0, n = 0;
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < m->nmetadata; i++) {
			const struct wfs_kv *kv = &m->metadata[i];
			const char *k = wfs_model_str(m, kv->key);
			bool main = kv->space == WFS_KV_GGUF && kv->group == 0 &&
				    (strncmp(k, "general.", 8) == 0 || strncmp(k, "split.", 6) == 0 ||
				     (alen && kv->key.len > alen && memcmp(k, aname, alen) == 0 && k[alen] == '.') ||
				     (strncmp(k, "tokenizer.", 10) == 0 && !(kv->json && k[0] && wfs_model_str(m, kv->value)[0] == '[')));
			if (!main)
				continue;
			size_t w = name_width(k, kv->key.len);
			if (pass == 0) {
				width = w > width ? w : width;
				n++;
				continue;
			}
			fputs("  ", stdout);
			put_name(stdout, k, kv->key.len);
			printf("%*s  ", (int)(width - w), "");
			const char *v = wfs_model_str(m, kv->value);
			if (kv->value.len > 200)
				printf("(%zu bytes; see --json)", kv->value.len);
			else
				put_name(stdout, v, kv->value.len);
			fputc('\n', stdout);
		}
		if (pass == 0 && n)
			printf("gguf metadata (main keys; --json has all %zu)\n", m->nmetadata);
	}
}

static void print_text(const char *source, const struct wfs_model *m, const struct totals *t)
{
	char a[32], b[32];
	printf("source       %s\n", source);
	printf("format       %s\n", m->format ? m->format : "safetensors");
	const struct wfs_kv *arch = is_gguf(m) ? gguf_kv(m, "general.architecture") : NULL;
	if (arch) {
		fputs("architecture ", stdout);
		put_name(stdout, wfs_model_str(m, arch->value), arch->value.len);
		fputc('\n', stdout);
	}
	if (m->sharded)
		printf("files        sharded: %zu shard%s, index %s\n", m->nshards, m->nshards == 1 ? "" : "s",
		       wfs_model_str(m, m->index_name));
	else if (m->nshards == 1)
		printf("files        single file: %s\n", wfs_model_str(m, m->shards[0].name));
	else if (is_gguf(m) && m->ngroups > 1)
		printf("files        %zu files, one model or split each (models below)\n", m->nshards);
	else if (is_gguf(m))
		printf("files        split: %zu parts, %s ...\n", m->nshards, wfs_model_str(m, m->shards[0].name));
	else if (m->format && strcmp(m->format, "safetensors") != 0) /* a model file and the files it names */
		printf("files        %zu files: %s and the files it refers to\n", m->nshards,
		       wfs_model_str(m, m->shards[0].name));
	else
		printf("files        %zu files merged (no index)\n", m->nshards);
	printf("tensors      %zu\n", m->ntensors);
	printf("total bytes  %" PRIu64, m->total_bytes);
	printf(m->total_bytes >= 1000 ? " (%s)\n" : "\n", human_bytes(m->total_bytes, a));
	printf("parameters   %" PRIu64, t->all);
	printf(t->all >= 1000 ? " (%s)\n" : "\n", human_count(t->all, b));
	for (int d = 0; d < WFS_DT_COUNT; d++)
		if (t->tensors[d])
			printf("  %-11s%" PRIu64 " in %" PRIu64 " tensor%s\n", wfs_dtype_name((enum wfs_dtype)d),
			       t->params[d], t->tensors[d], t->tensors[d] == 1 ? "" : "s");
	for (uint32_t g = 1; g < m->ngroups; g++) {
		uint64_t n = 0;
		for (size_t i = 0; i < m->ntensors; i++)
			n += m->tensors[i].group == g;
		const struct wfs_kv *a = gguf_kv_in(m, g, "general.architecture");
		printf("%s", g == 1 ? "models       " : "             ");
		put_name(stdout, wfs_model_str(m, m->groups[g].name), m->groups[g].name.len);
		printf("/  %s, %" PRIu64 " tensor%s", m->groups[g].format ? m->groups[g].format : "?", n, n == 1 ? "" : "s");
		if (a) {
			fputs(", ", stdout);
			put_name(stdout, wfs_model_str(m, a->value), a->value.len);
		}
		fputc('\n', stdout);
	}
	if (is_gguf(m)) {
		if (t->all)
			printf("bits/weight  %.2f\n", bits_per_weight(m, t));
		print_gguf_kvs(m);
	} else if (m->nmetadata) {
		printf("__metadata__\n");
		print_kv(m, m->metadata, m->nmetadata);
	}
	if (m->nindex_meta) {
		printf("index metadata\n");
		print_kv(m, m->index_meta, m->nindex_meta);
	}
}

static int run(const struct cli *cli)
{
	struct wfs_model *m = NULL;
	int rc = open_source(cli->args[0], false, NULL, &m, NULL);
	if (rc)
		return rc;
	struct totals t;
	count(m, &t);
	if (cli->json)
		print_json(cli->args[0], m, &t);
	else
		print_text(cli->args[0], m, &t);
	wfs_model_free(m);
	return EXIT_OK;
}

const struct command cmd_summary = {
	.name = "summary",
	.synopsis = "SOURCE",
	.summary = "format, files, tensor count, bytes, parameters per dtype, metadata",
	.help = "Prints what the model is: its format; a single file, several merged files or\n"
		"a sharded model (and how many shards); the number of tensors and their bytes;\n"
		"the number of parameters (elements) per dtype and in total; the __metadata__\n"
		"of the files (merged) and the index's \"metadata\".\n"
		"\n"
		"options:\n"
		"    --json       one JSON object: source, format, layout (single, merged,\n"
		"                 sharded), sharded, index, shards, files, tensors,\n"
		"                 total_bytes, parameters {DTYPE: n}, tensors_by_dtype,\n"
		"                 total_parameters, metadata, index_metadata (values with\n"
		"                 their JSON types; null without an index)\n"
		"    -h, --help   this help\n"
		"\n"
		"example (the model contrib/make-sample-model.py writes):\n"
		"    $ " PROG " summary sample-model\n"
		"    source       sample-model\n"
		"    format       safetensors\n"
		"    files        sharded: 2 shards, index model.safetensors.index.json\n"
		"    tensors      21\n"
		"    total bytes  213632 (214 kB)\n"
		"    parameters   106816 (107k)\n"
		"      BF16       106816 in 21 tensors\n"
		"    __metadata__\n"
		"      format  pt\n"
		"    index metadata\n"
		"      total_size  213632\n",
	.min_args = 1,
	.max_args = 1,
	.options = 0,
	.run = run,
};
