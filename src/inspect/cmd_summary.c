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
static void kv_json(struct jw *w, const struct wfs_model *m, const struct wfs_kv *kv, size_t n)
{
	jw_object(w);
	for (size_t i = 0; i < n; i++) {
		jw_key(w, wfs_model_str(m, kv[i].key));
		if (kv[i].json)
			jw_raw(w, wfs_model_str(m, kv[i].value), kv[i].value.len);
		else
			jw_string(w, wfs_model_str(m, kv[i].value), kv[i].value.len);
	}
	jw_end(w);
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

static void print_text(const char *source, const struct wfs_model *m, const struct totals *t)
{
	char a[32], b[32];
	printf("source       %s\n", source);
	printf("format       %s\n", m->format ? m->format : "safetensors");
	if (m->sharded)
		printf("files        sharded: %zu shard%s, index %s\n", m->nshards, m->nshards == 1 ? "" : "s",
		       wfs_model_str(m, m->index_name));
	else if (m->nshards == 1)
		printf("files        single file: %s\n", wfs_model_str(m, m->shards[0].name));
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
	if (m->nmetadata) {
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
