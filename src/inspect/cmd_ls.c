/**
 * @file cmd_ls.c
 * weightfs-inspect ls SOURCE [GLOB...]: one row per tensor, in natural order.
 */
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "jsonw.h"

static void print_json(const char *source, const struct wfs_model *m, const size_t *idx, size_t n)
{
	struct jw w;
	jw_init(&w, stdout);
	jw_object(&w);
	jw_key(&w, "source");
	jw_cstring(&w, source);
	jw_key(&w, "tensors");
	jw_array(&w);
	for (size_t i = 0; i < n; i++) {
		const struct wfs_tensor *t = &m->tensors[idx[i]];
		jw_object(&w);
		if (t->group) {
			const struct wfs_str g = m->groups[t->group].name;
			jw_key(&w, "model");
			jw_string(&w, wfs_model_str(m, g), g.len);
		}
		jw_key(&w, "name");
		jw_string(&w, tensor_name(m, t), t->name.len);
		jw_key(&w, "dtype");
		jw_cstring(&w, wfs_dtype_name(t->dtype));
		jw_key(&w, "shape");
		jw_raw(&w, wfs_model_str(m, t->shape_text), t->shape_text.len);
		jw_key(&w, "bytes");
		jw_u64(&w, t->nbytes);
		jw_key(&w, "shard");
		jw_string(&w, shard_name(m, t), m->shards[t->shard].name.len);
		jw_key(&w, "offset");
		jw_u64(&w, t->offset);
		jw_end(&w);
	}
	jw_end(&w);
	jw_end(&w);
	fputc('\n', stdout);
}

static size_t digits(uint64_t v)
{
	size_t n = 1;
	while (v >= 10) {
		v /= 10;
		n++;
	}
	return n;
}

static void pad(size_t n)
{
	for (; n; n--)
		fputc(' ', stdout);
}

static void print_text(const struct wfs_model *m, const size_t *idx, size_t n)
{
	/* Column widths first, so the table lines up. MODEL: a directory of several files' models. */
	size_t wm = m->ngroups > 1 ? 5 : 0, wn = 4, wd = 5, ws = 5, wb = 5, wsh = 5;
	for (size_t i = 0; i < n; i++) {
		const struct wfs_tensor *t = &m->tensors[idx[i]];
		const struct wfs_str g = m->groups[t->group].name;
		size_t x;
		if (wm && (x = name_width(wfs_model_str(m, g), g.len)) > wm)
			wm = x;
		if ((x = name_width(tensor_name(m, t), t->name.len)) > wn)
			wn = x;
		if ((x = strlen(wfs_dtype_name(t->dtype))) > wd)
			wd = x;
		if ((x = t->shape_text.len) > ws)
			ws = x;
		if ((x = digits(t->nbytes)) > wb)
			wb = x;
		if ((x = name_width(shard_name(m, t), m->shards[t->shard].name.len)) > wsh)
			wsh = x;
	}
	if (wm)
		printf("%-*s  ", (int)wm, "MODEL");
	printf("%-*s  %-*s  %-*s  %*s  %-*s  %s\n", (int)wn, "NAME", (int)wd, "DTYPE", (int)ws, "SHAPE",
	       (int)wb, "BYTES", (int)wsh, "SHARD", "OFFSET");
	for (size_t i = 0; i < n; i++) {
		const struct wfs_tensor *t = &m->tensors[idx[i]];
		const char *name = tensor_name(m, t), *shard = shard_name(m, t);
		size_t shard_len = m->shards[t->shard].name.len;
		if (wm) {
			const struct wfs_str g = m->groups[t->group].name;
			put_name(stdout, wfs_model_str(m, g), g.len);
			pad(wm - name_width(wfs_model_str(m, g), g.len) + 2);
		}
		put_name(stdout, name, t->name.len);
		pad(wn - name_width(name, t->name.len) + 2);
		printf("%-*s  %-*s  %*" PRIu64 "  ", (int)wd, wfs_dtype_name(t->dtype), (int)ws,
		       wfs_model_str(m, t->shape_text), (int)wb, t->nbytes);
		put_name(stdout, shard, shard_len);
		pad(wsh - name_width(shard, shard_len) + 2);
		printf("%" PRIu64 "\n", t->offset);
	}
}

static int run(const struct cli *cli)
{
	struct wfs_model *m = NULL;
	size_t *idx = NULL, n = 0;
	int rc = open_source(cli->args[0], false, NULL, &m, NULL);
	if (rc == 0)
		rc = select_or_report(m, cli->args + 1, cli->nargs - 1, true, &idx, &n);
	if (rc == 0) {
		if (cli->json)
			print_json(cli->args[0], m, idx, n);
		else
			print_text(m, idx, n);
	}
	free(idx);
	wfs_model_free(m);
	return rc;
}

const struct command cmd_ls = {
	.name = "ls",
	.synopsis = "SOURCE [GLOB...]",
	.summary = "one row per tensor: name, dtype, shape, bytes, shard, offset",
	.help = "Lists the tensors (those matching a GLOB, when given) in natural order\n"
		"(model.layers.2 before model.layers.10): name, dtype, shape, length in bytes,\n"
		"the file that holds it and the absolute offset of its first byte there (the\n"
		"mount's user.shard and user.offset). A GLOB is a shell pattern matched\n"
		"against the whole name, in which '*' also matches dots; quote it. A GLOB\n"
		"that matches no tensor is an error (exit 2).\n"
		"A directory of several unrelated models (one subdirectory each in the\n"
		"mount) lists them one after another, with a MODEL column (the\n"
		"subdirectory's name).\n"
		"\n"
		"options:\n"
		"    --json       {\"source\": ..., \"tensors\": [{\"name\", \"dtype\", \"shape\",\n"
		"                 \"bytes\", \"shard\", \"offset\"}, ...]} (and \"model\" for a\n"
		"                 tensor of one of several models)\n"
		"    -h, --help   this help\n"
		"\n"
		"example:\n"
		"    $ " PROG " ls sample-model 'model.layers.1.mlp.*'\n"
		"    NAME                                 DTYPE  SHAPE     BYTES  SHARD                             OFFSET\n"
		"    model.layers.1.mlp.down_proj.weight  BF16   [64,128]  16384  model-00002-of-00002.safetensors  34016\n"
		"    model.layers.1.mlp.gate_proj.weight  BF16   [128,64]  16384  model-00002-of-00002.safetensors  50400\n"
		"    model.layers.1.mlp.up_proj.weight    BF16   [128,64]  16384  model-00002-of-00002.safetensors  66784\n",
	.min_args = 1,
	.max_args = (unsigned)-1,
	.options = 0,
	.run = run,
};
