/**
 * @file cmd_stats.c
 * weightfs-inspect stats SOURCE [GLOB...]: per tensor the first ten values
 * and the count, mean, standard deviation, extremes, zeros, NaN and Inf.
 *
 * Each tensor is cut into chunks of about CHUNK_BYTES on element-group
 * boundaries; workers read a chunk with one wfs_tensor_read(), decode it a
 * block at a time and keep the chunk's statistics. When all chunks of a
 * tensor are done, the printing thread combines them in chunk order (so the
 * result does not depend on the number of threads) and prints the tensor.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "inspect.h"
#include "jsonw.h"
#include "pool.h"
#include "stats.h"
#include "values.h"

#define FIRST_VALUES 10
#define HEAD_BYTES 96 /* at least FIRST_VALUES elements of any dtype, whole groups */

/* The statistics of one chunk: two streams for C64 (real, imaginary). */
struct part {
	struct stats s[2];
	int64_t imin, imax;  /* I64: exact extremes */
	uint64_t umin, umax; /* U64 */
};

struct item {
	const struct wfs_tensor *t;
	uint64_t elems, chunk_elems, nchunks;
	size_t first_part; /* index of its chunk 0 in ctx.parts */
	uint8_t head[HEAD_BYTES];
	float head_f[FIRST_VALUES]; /* ggml block types: the first values, decoded */
	bool undecoded;             /* a ggml type weightfs does not dequantize */
};

struct ctx {
	const struct wfs_model *m;
	struct item *items;
	struct part *parts;
	uint8_t **raw; /* one chunk buffer per worker */
	struct progress progress;
	struct jw w;
	bool json;
};

/* Elements per chunk: about CHUNK_BYTES, a multiple of 4 so that a chunk of
 * F4 or F6 starts on a byte. */
static uint64_t chunk_elems(enum wfs_dtype dt)
{
	return val_chunk_elems(dt, CHUNK_BYTES);
}

static uint64_t nchunks(void *ctx, size_t i)
{
	return ((struct ctx *)ctx)->items[i].nchunks;
}

static void int_extremes(struct part *p, enum wfs_dtype dt, const uint8_t *raw, size_t n)
{
	if (dt == WFS_DT_I64) {
		for (size_t i = 0; i < n; i++) {
			int64_t v = dec_signed(dt, raw, i);
			p->imin = v < p->imin ? v : p->imin;
			p->imax = v > p->imax ? v : p->imax;
		}
	} else if (dt == WFS_DT_U64) {
		for (size_t i = 0; i < n; i++) {
			uint64_t v = dec_unsigned(dt, raw, i);
			p->umin = v < p->umin ? v : p->umin;
			p->umax = v > p->umax ? v : p->umax;
		}
	}
}

static int run_chunk(void *vctx, unsigned worker, size_t i, uint64_t chunk)
{
	struct ctx *c = vctx;
	struct item *it = &c->items[i];
	const struct wfs_tensor *t = it->t;
	enum wfs_dtype dt = t->dtype;
	struct part *p = &c->parts[it->first_part + chunk];
	uint64_t e0 = chunk * it->chunk_elems;
	uint64_t n = it->elems - e0 < it->chunk_elems ? it->elems - e0 : it->chunk_elems;
	size_t bytes = (size_t)val_byte_offset(dt, n);
	uint8_t *raw = c->raw[worker];
	bool block = wfs_dtype_is_ggml_block(dt);

	stats_init(&p->s[0]);
	stats_init(&p->s[1]);
	p->imin = INT64_MAX;
	p->imax = INT64_MIN;
	p->umin = UINT64_MAX;
	p->umax = 0;
	if (bytes == 0 || it->undecoded)
		return 0;
	int rc = read_tensor(c->m, t, raw, bytes, val_byte_offset(dt, e0));
	if (rc < 0)
		return rc;
	if (chunk == 0)
		memcpy(it->head, raw, bytes < HEAD_BYTES ? bytes : HEAD_BYTES);

	struct stats_tree tree[2];
	stats_tree_init(&tree[0]);
	stats_tree_init(&tree[1]);
	struct stats s;
	bool cplx = dt == WFS_DT_C64;
	size_t step = cplx ? STATS_BLOCK / 2 : STATS_BLOCK; /* elements per block */
	if (val_narrow(dt)) {
		float f[STATS_BLOCK];
		for (size_t k = 0; k < n; k += step) {
			size_t len = n - k < step ? (size_t)(n - k) : step;
			val_decode_f(dt, raw + val_byte_offset(dt, k), len, f);
			if (block && chunk == 0 && k == 0)
				memcpy(it->head_f, f, sizeof(float) * (len < FIRST_VALUES ? len : FIRST_VALUES));
			stats_block_f(&s, f, len);
			stats_tree_add(&tree[0], &s);
			if (cplx) {
				stats_block_f(&s, f + len, len);
				stats_tree_add(&tree[1], &s);
			}
		}
	} else {
		double d[STATS_BLOCK];
		for (size_t k = 0; k < n; k += step) {
			size_t len = n - k < step ? (size_t)(n - k) : step;
			dec_decode(dt, raw + dec_byte_offset(dt, k), len, d);
			stats_block(&s, d, len);
			stats_tree_add(&tree[0], &s);
		}
		int_extremes(p, dt, raw, (size_t)n);
	}
	stats_tree_result(&tree[0], &p->s[0]);
	stats_tree_result(&tree[1], &p->s[1]);
	progress_add(&c->progress, bytes);
	return 0;
}

/* ---- output ---- */

static void json_stream(struct jw *w, const struct stats *s, enum wfs_dtype dt, const struct part *p)
{
	bool any = s->n > 0;
	jw_key(w, "mean");
	any ? jw_double(w, stats_mean(s)) : jw_null(w);
	jw_key(w, "std");
	s->n > 1 ? jw_double(w, stats_std(s)) : jw_null(w);
	jw_key(w, "min");
	if (!any)
		jw_null(w);
	else if (dt == WFS_DT_I64)
		jw_i64(w, p->imin);
	else if (dt == WFS_DT_U64)
		jw_u64(w, p->umin);
	else
		jw_double(w, s->min);
	jw_key(w, "max");
	if (!any)
		jw_null(w);
	else if (dt == WFS_DT_I64)
		jw_i64(w, p->imax);
	else if (dt == WFS_DT_U64)
		jw_u64(w, p->umax);
	else
		jw_double(w, s->max);
	jw_key(w, "zeros");
	jw_u64(w, s->zeros);
	jw_key(w, "nan");
	jw_u64(w, s->nans);
	jw_key(w, "inf");
	jw_u64(w, s->infs);
}

/* A value for people: integers exactly, others with 6 significant digits. */
static void put_value(double v, bool integer)
{
	if (isnan(v))
		fputs("nan", stdout);
	else if (isinf(v))
		fputs(v > 0 ? "inf" : "-inf", stdout);
	else if (integer)
		printf("%.0f", v);
	else
		printf("%.6g", v);
}

static void text_stream(const char *indent, const struct stats *s, enum wfs_dtype dt, const struct part *p)
{
	bool integer = dec_kind(dt) != DEC_FLOAT && dec_kind(dt) != DEC_COMPLEX;
	printf("%smean ", indent);
	s->n ? put_value(stats_mean(s), false) : (void)fputs("-", stdout);
	fputs("  std ", stdout);
	s->n > 1 ? put_value(stats_std(s), false) : (void)fputs("-", stdout);
	fputs("  min ", stdout);
	if (!s->n)
		fputs("-", stdout);
	else if (dt == WFS_DT_I64)
		printf("%" PRId64, p->imin);
	else if (dt == WFS_DT_U64)
		printf("%" PRIu64, p->umin);
	else
		put_value(s->min, integer);
	fputs("  max ", stdout);
	if (!s->n)
		fputs("-", stdout);
	else if (dt == WFS_DT_I64)
		printf("%" PRId64, p->imax);
	else if (dt == WFS_DT_U64)
		printf("%" PRIu64, p->umax);
	else
		put_value(s->max, integer);
	printf("  zeros %" PRIu64 "  nan %" PRIu64 "  inf %" PRIu64 "\n", s->zeros, s->nans, s->infs);
}

static void first_values(const struct item *it, bool json, struct jw *w)
{
	enum wfs_dtype dt = it->t->dtype;
	enum dec_kind kind = dec_kind(dt);
	size_t n = it->elems < FIRST_VALUES ? (size_t)it->elems : FIRST_VALUES;
	double v[2 * FIRST_VALUES];
	/* Decode whole groups from the head bytes (zero-padded past the tensor). */
	size_t g = dec_group(dt), whole = (n + g - 1) / g * g;
	double tmp[2 * (FIRST_VALUES + 4)];
	if (wfs_dtype_is_ggml_block(dt)) {
		kind = DEC_FLOAT;
		for (size_t i = 0; i < n; i++)
			tmp[i] = it->head_f[i];
		whole = n;
	} else {
		dec_decode(dt, it->head, whole, tmp);
	}
	for (size_t i = 0; i < n; i++) {
		v[i] = tmp[i];
		if (kind == DEC_COMPLEX)
			v[FIRST_VALUES + i] = tmp[whole + i];
	}
	if (json) {
		jw_key(w, "first");
		jw_array(w);
	} else {
		fputs("  first", stdout);
	}
	for (size_t i = 0; i < n; i++) {
		if (json) {
			if (kind == DEC_SIGNED) {
				jw_i64(w, dec_signed(dt, it->head, i));
			} else if (kind == DEC_UNSIGNED || kind == DEC_BOOL) {
				jw_u64(w, dec_unsigned(dt, it->head, i));
			} else if (kind == DEC_COMPLEX) {
				jw_array(w);
				jw_double(w, v[i]);
				jw_double(w, v[FIRST_VALUES + i]);
				jw_end(w);
			} else {
				jw_double(w, v[i]);
			}
			continue;
		}
		fputc(' ', stdout);
		if (kind == DEC_SIGNED) {
			printf("%" PRId64, dec_signed(dt, it->head, i));
		} else if (kind == DEC_UNSIGNED || kind == DEC_BOOL) {
			printf("%" PRIu64, dec_unsigned(dt, it->head, i));
		} else if (kind == DEC_COMPLEX) {
			double im = v[FIRST_VALUES + i];
			put_value(v[i], false);
			fputc(signbit(im) && !isnan(im) ? '-' : '+', stdout);
			put_value(isnan(im) ? im : fabs(im), false);
			fputc('j', stdout);
		} else {
			put_value(v[i], false);
		}
	}
	if (json)
		jw_end(w);
	else
		fputs(it->elems > FIRST_VALUES ? " ...\n" : "\n", stdout);
}

static int done_item(void *vctx, size_t i)
{
	struct ctx *c = vctx;
	const struct item *it = &c->items[i];
	const struct wfs_tensor *t = it->t;
	const struct wfs_model *m = c->m;
	/* Chunks combine in order, pairwise, like the blocks inside a chunk. */
	struct stats_tree tree[2];
	struct part all = {.imin = INT64_MAX, .imax = INT64_MIN, .umin = UINT64_MAX, .umax = 0};
	stats_tree_init(&tree[0]);
	stats_tree_init(&tree[1]);
	for (uint64_t k = 0; k < it->nchunks; k++) {
		const struct part *p = &c->parts[it->first_part + k];
		stats_tree_add(&tree[0], &p->s[0]);
		stats_tree_add(&tree[1], &p->s[1]);
		all.imin = p->imin < all.imin ? p->imin : all.imin;
		all.imax = p->imax > all.imax ? p->imax : all.imax;
		all.umin = p->umin < all.umin ? p->umin : all.umin;
		all.umax = p->umax > all.umax ? p->umax : all.umax;
	}
	stats_tree_result(&tree[0], &all.s[0]);
	stats_tree_result(&tree[1], &all.s[1]);
	bool cplx = t->dtype == WFS_DT_C64;

	if (it->undecoded) { /* said as such, never guessed */
		if (c->json) {
			jw_object(&c->w);
			jw_key(&c->w, "name");
			jw_string(&c->w, tensor_name(m, t), t->name.len);
			jw_key(&c->w, "dtype");
			jw_cstring(&c->w, wfs_dtype_name(t->dtype));
			jw_key(&c->w, "shape");
			jw_raw(&c->w, wfs_model_str(m, t->shape_text), t->shape_text.len);
			jw_key(&c->w, "count");
			jw_u64(&c->w, it->elems);
			jw_key(&c->w, "decoded");
			jw_bool(&c->w, false);
			jw_end(&c->w);
			return 0;
		}
		progress_before_output(&c->progress);
		put_name(stdout, tensor_name(m, t), t->name.len);
		printf("  %s %s\n  count %" PRIu64 "\n  not decoded: weightfs does not dequantize %s\n",
		       wfs_dtype_name(t->dtype), wfs_model_str(m, t->shape_text), it->elems, wfs_dtype_name(t->dtype));
		return 0;
	}

	if (c->json) {
		struct jw *w = &c->w;
		jw_object(w);
		jw_key(w, "name");
		jw_string(w, tensor_name(m, t), t->name.len);
		jw_key(w, "dtype");
		jw_cstring(w, wfs_dtype_name(t->dtype));
		jw_key(w, "shape");
		jw_raw(w, wfs_model_str(m, t->shape_text), t->shape_text.len);
		jw_key(w, "count");
		jw_u64(w, it->elems);
		if (cplx) {
			jw_key(w, "real");
			jw_object(w);
			json_stream(w, &all.s[0], t->dtype, &all);
			jw_end(w);
			jw_key(w, "imag");
			jw_object(w);
			json_stream(w, &all.s[1], t->dtype, &all);
			jw_end(w);
		} else {
			json_stream(w, &all.s[0], t->dtype, &all);
		}
		first_values(it, true, w);
		jw_end(w);
		return 0;
	}
	progress_before_output(&c->progress);
	put_name(stdout, tensor_name(m, t), t->name.len);
	printf("  %s %s\n  count %" PRIu64 "\n", wfs_dtype_name(t->dtype), wfs_model_str(m, t->shape_text),
	       it->elems);
	if (cplx) {
		text_stream("  real: ", &all.s[0], t->dtype, &all);
		text_stream("  imag: ", &all.s[1], t->dtype, &all);
	} else {
		text_stream("  ", &all.s[0], t->dtype, &all);
	}
	first_values(it, false, NULL);
	return 0;
}

static int run(const struct cli *cli)
{
	struct wfs_model *m = NULL;
	size_t *idx = NULL, n = 0;
	struct ctx c = {.json = cli->json};
	unsigned nthreads = pool_threads(cli->jobs);
	int rc = open_source(cli->args[0], false, NULL, &m, NULL);
	if (rc == 0)
		rc = select_or_report(m, cli->args + 1, cli->nargs - 1, true, &idx, &n);
	if (rc)
		goto out;
	c.m = m;
	c.items = calloc(n ? n : 1, sizeof(*c.items));
	c.raw = calloc(nthreads, sizeof(*c.raw));
	if (c.items == NULL || c.raw == NULL)
		goto oom;
	size_t nparts = 0;
	uint64_t total = 0;
	for (size_t i = 0; i < n; i++) {
		struct item *it = &c.items[i];
		it->t = &m->tensors[idx[i]];
		it->elems = tensor_elements(m, it->t);
		it->chunk_elems = chunk_elems(it->t->dtype);
		it->undecoded = !val_decodable(it->t->dtype);
		it->nchunks = it->elems ? (it->elems + it->chunk_elems - 1) / it->chunk_elems : 1;
		it->first_part = nparts;
		nparts += (size_t)it->nchunks;
		total += it->undecoded ? 0 : it->t->nbytes;
	}
	c.parts = malloc((nparts ? nparts : 1) * sizeof(*c.parts));
	if (c.parts == NULL)
		goto oom;
	for (unsigned k = 0; k < nthreads; k++)
		if ((c.raw[k] = malloc(CHUNK_BYTES)) == NULL)
			goto oom;

	if (c.json) {
		jw_init(&c.w, stdout);
		jw_object(&c.w);
		jw_key(&c.w, "source");
		jw_cstring(&c.w, cli->args[0]);
		jw_key(&c.w, "tensors");
		jw_array(&c.w);
	}
	struct pool_job job = {
		.nitems = n, .nchunks = nchunks, .run = run_chunk, .done = done_item,
		.ctx = &c, .progress = &c.progress,
	};
	int prc = run_job(&job, nthreads, &c.progress, "stats", total, cli->progress);
	if (prc != 0) {
		rc = prc;
		goto out;
	}
	if (c.json) {
		jw_end(&c.w);
		jw_end(&c.w);
		fputc('\n', stdout);
	}
	goto out;
oom:
	errorf("out of memory");
	rc = EXIT_INTERNAL;
out:
	if (c.raw)
		for (unsigned k = 0; k < nthreads; k++)
			free(c.raw[k]);
	free(c.raw);
	free(c.parts);
	free(c.items);
	free(idx);
	wfs_model_free(m);
	return rc;
}

const struct command cmd_stats = {
	.name = "stats",
	.synopsis = "SOURCE [GLOB...]",
	.summary = "first ten values, count, mean, std, min, max, zeros, NaN, Inf",
	.help = "For every tensor (those matching a GLOB, when given; see ls --help), in\n"
		"natural order: the number of values, their mean, standard deviation\n"
		"(Bessel-corrected, as torch.std), minimum and maximum, and the number of\n"
		"zeros, NaN and Inf; then the first ten values. Mean, std, min and max are\n"
		"of the finite values (NaN and Inf are only counted); they are \"-\" (null in\n"
		"JSON) when there is none, std also with a single value. C64 gives the\n"
		"statistics of the real and the imaginary parts separately. Integer extremes\n"
		"and values are exact; means of I64 and U64 beyond 2^53 are rounded.\n"
		"\n"
		"Every tensor is read once, in 4 MiB chunks, by one thread per CPU. Values\n"
		"are accumulated in double: a block of 1024 values in two passes (mean,\n"
		"then squared deviations), blocks and chunks combined pairwise with Chan et\n"
		"al.'s update, so rounding grows with log(n). On a given CPU the result does\n"
		"not depend on the number of threads.\n"
		"\n"
		"How the bits are read (little-endian throughout):\n"
		"    F64 F32 F16          IEEE 754 binary64, binary32, binary16\n"
		"    BF16                 the high 16 bits of a binary32\n"
		"    F8_E4M3              OCP e4m3fn: bias 7, no Inf, NaN only S.1111.111\n"
		"    F8_E5M2              bias 15, IEEE-like: Inf and NaN at exponent 31\n"
		"    F8_E8M0              unsigned exponent only: 2^(e-127), 0xFF is NaN\n"
		"    F8_E4M3FNUZ          bias 8, no Inf, no -0: 0x80 is the only NaN\n"
		"    F8_E5M2FNUZ          bias 16, no Inf, no -0: 0x80 is the only NaN\n"
		"    F4 (E2M1)            bias 1, no Inf/NaN; two per byte, the first\n"
		"                         element in the low nibble\n"
		"    F6_E2M3, F6_E3M2     bias 1 and 3, no Inf/NaN; four elements in three\n"
		"                         bytes: element i is bits [6i, 6i+6) of the\n"
		"                         little-endian bit stream (bit 0 = least\n"
		"                         significant bit of the first byte)\n"
		"    minifloats           sign, exponent, mantissa from the top bit down;\n"
		"                         exponent 0 is subnormal: m/2^M * 2^(1-bias)\n"
		"    C64                  two F32: real, imaginary\n"
		"    BOOL                 0 for a zero byte, 1 for any other\n"
		"    I8...I64, U8...U64   two's complement and unsigned integers\n"
		"    Q4_0 ... Q8_K,       ggml's block types (GGUF), dequantized to float32\n"
		"    TQ1_0, TQ2_0, IQ4_*  by the library (src/lib/decode/ggml.c, from ggml's\n"
		"                         block layouts); the grid-based IQ1/IQ2/IQ3 types are\n"
		"                         not decoded: the tensor says \"not decoded\" (JSON\n"
		"                         \"decoded\": false), no statistics\n"
		"\n"
		"options:\n"
		"    --json            {\"source\", \"tensors\": [{\"name\", \"dtype\", \"shape\",\n"
		"                      \"count\", \"mean\", \"std\", \"min\", \"max\", \"zeros\",\n"
		"                      \"nan\", \"inf\", \"first\": [...]}]}; C64 has \"real\" and\n"
		"                      \"imag\" objects and [re, im] pairs. NaN and Inf values\n"
		"                      are the strings \"NaN\", \"Infinity\", \"-Infinity\".\n"
		"    -j, --jobs N      N worker threads (default: one per online CPU)\n"
		"    --no-progress     no progress bar (it is shown on a terminal after 1 s)\n"
		"    -h, --help        this help\n"
		"\n"
		"example:\n"
		"    $ " PROG " stats sample-model model.layers.0.self_attn.q_proj.weight\n"
		"    model.layers.0.self_attn.q_proj.weight  BF16 [64,64]\n"
		"      count 4096\n"
		"      mean -9.80808e-06  std 0.0200175  min -0.0683594  max 0.0712891  zeros 0  nan 0  inf 0\n"
		"      first 0.0273438 -0.0184326 -0.0205078 0.0189209 0.0126343 -0.0125122 ...\n",
	.min_args = 1,
	.max_args = (unsigned)-1,
	.options = OPT_JOBS,
	.run = run,
};
