/**
 * @file cmd_diff.c
 * weightfs-inspect diff SOURCE_A SOURCE_B [GLOB...]: which tensors are only
 * in one model, which changed dtype or shape, and how much the values of
 * the others differ.
 *
 * Tensors of the same shape are compared value by value, whatever their
 * dtypes (a BF16 copy against its F32 original), chunk by chunk on worker
 * threads like stats: both chunks are read, decoded to double a block at a
 * time, and the block's sums are added with Neumaier's compensation.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "inspect.h"
#include "jsonw.h"
#include "namemap.h"
#include "names.h"
#include "pool.h"
#include "values.h"

#define BLOCK 1024

enum status {
	ST_ONLY_A,
	ST_ONLY_B,
	ST_SHAPE,        /* same name, different shape: not compared */
	ST_INCOMPARABLE, /* C64 against a real dtype */
	ST_COMPARED,     /* same shape: compared value by value */
};

/* A sum with Neumaier's compensation. */
struct ksum {
	double s, c;
};

static void ksum_add(struct ksum *k, double v)
{
	double t = k->s + v;
	if (fabs(k->s) >= fabs(v))
		k->c += (k->s - t) + v;
	else
		k->c += (v - t) + k->s;
	k->s = t;
}

static double ksum_value(const struct ksum *k)
{
	return k->s + k->c;
}

struct dpart {
	uint64_t compared;  /* positions where both values are finite */
	uint64_t differ;    /* positions whose values differ (NaN equals NaN, 0 equals -0) */
	uint64_t nonfinite; /* positions where they differ and one is NaN or Inf */
	bool bytes_equal;
	double max_abs;
	struct ksum abs, d2, a2; /* sum |a-b|, sum (a-b)^2, sum a^2 */
};

struct entry {
	enum status status;
	const struct wfs_tensor *a, *b;
	bool renamed;      /* compared under a mapped name (--map, GGUF <-> Hugging Face) */
	uint64_t elems, chunk_elems, nchunks;
	size_t first_part;
};

struct ctx {
	const struct wfs_model *ma, *mb;
	struct entry *e;
	struct dpart *parts;
	uint8_t **raw_a, **raw_b;
	double **dec_a, **dec_b;
	struct progress progress;
	struct jw w;
	bool json;
	size_t name_width; /* of the longest name, to line up the text output */
	uint64_t count[ST_COMPARED + 1];
	uint64_t identical, equal, different, dtype_changed;
};

static uint64_t nchunks(void *ctx, size_t i)
{
	return ((struct ctx *)ctx)->e[i].nchunks;
}

static void compare_block(struct dpart *p, const double *a, const double *b, size_t n)
{
	double sabs = 0, sd2 = 0, sa2 = 0, mx = p->max_abs;
	uint64_t compared = 0, differ = 0, nonfinite = 0;
	for (size_t i = 0; i < n; i++) {
		double x = a[i], y = b[i];
		if (isfinite(x) && isfinite(y)) {
			double d = fabs(x - y);
			compared++;
			differ += x != y;
			sabs += d;
			sd2 += d * d;
			sa2 += x * x;
			mx = d > mx ? d : mx;
		} else if (!(x == y || (isnan(x) && isnan(y)))) {
			differ++;
			nonfinite++;
		}
	}
	p->compared += compared;
	p->differ += differ;
	p->nonfinite += nonfinite;
	p->max_abs = mx;
	ksum_add(&p->abs, sabs);
	ksum_add(&p->d2, sd2);
	ksum_add(&p->a2, sa2);
}

static int run_chunk(void *vctx, unsigned worker, size_t i, uint64_t chunk)
{
	struct ctx *c = vctx;
	struct entry *e = &c->e[i];
	if (e->status != ST_COMPARED)
		return 0;
	struct dpart *p = &c->parts[e->first_part + chunk];
	memset(p, 0, sizeof(*p));
	uint64_t e0 = chunk * e->chunk_elems;
	uint64_t n = e->elems - e0 < e->chunk_elems ? e->elems - e0 : e->chunk_elems;
	enum wfs_dtype da = e->a->dtype, db = e->b->dtype;
	size_t ba = (size_t)val_byte_offset(da, n), bb = (size_t)val_byte_offset(db, n);
	uint8_t *ra = c->raw_a[worker], *rb = c->raw_b[worker];
	int rc = read_tensor(c->ma, e->a, ra, ba, val_byte_offset(da, e0));
	if (rc == 0)
		rc = read_tensor(c->mb, e->b, rb, bb, val_byte_offset(db, e0));
	if (rc < 0)
		return rc;
	p->bytes_equal = da == db && memcmp(ra, rb, ba) == 0;
	double *x = c->dec_a[worker], *y = c->dec_b[worker];
	for (uint64_t k = 0; k < n; k += BLOCK / 2) {
		size_t len = n - k < BLOCK / 2 ? (size_t)(n - k) : BLOCK / 2;
		/* C64 is planar after decoding: real parts then imaginary parts. */
		size_t vals = da == WFS_DT_C64 ? 2 * len : len;
		val_decode(da, ra + val_byte_offset(da, k), len, x);
		if (p->bytes_equal) { /* the same bytes: only the counts and ||a|| */
			compare_block(p, x, x, vals);
			continue;
		}
		val_decode(db, rb + val_byte_offset(db, k), len, y);
		compare_block(p, x, y, vals);
	}
	progress_add(&c->progress, ba + bb);
	return 0;
}

/* ---- output ---- */

struct result {
	bool identical;
	uint64_t compared, differ, nonfinite;
	double max_abs, mean_abs, rel_l2;
};

static void combine(const struct ctx *c, const struct entry *e, struct result *r)
{
	struct dpart all = {.bytes_equal = true};
	for (uint64_t k = 0; k < e->nchunks; k++) {
		const struct dpart *p = &c->parts[e->first_part + k];
		all.compared += p->compared;
		all.differ += p->differ;
		all.nonfinite += p->nonfinite;
		all.bytes_equal &= p->bytes_equal;
		all.max_abs = p->max_abs > all.max_abs ? p->max_abs : all.max_abs;
		ksum_add(&all.abs, ksum_value(&p->abs));
		ksum_add(&all.d2, ksum_value(&p->d2));
		ksum_add(&all.a2, ksum_value(&p->a2));
	}
	r->identical = e->a->dtype == e->b->dtype && (all.bytes_equal || e->elems == 0);
	r->compared = all.compared;
	r->differ = all.differ;
	r->nonfinite = all.nonfinite;
	r->max_abs = all.max_abs;
	r->mean_abs = all.compared ? ksum_value(&all.abs) / (double)all.compared : 0;
	double d2 = ksum_value(&all.d2), a2 = ksum_value(&all.a2);
	r->rel_l2 = a2 > 0 ? sqrt(d2) / sqrt(a2) : d2 > 0 ? INFINITY : 0;
}

static const char *status_name(enum status s, const struct result *r)
{
	switch (s) {
	case ST_ONLY_A:
		return "only_a";
	case ST_ONLY_B:
		return "only_b";
	case ST_SHAPE:
		return "shape_differs";
	case ST_INCOMPARABLE:
		return "incomparable";
	case ST_COMPARED:
		break;
	}
	return r->identical ? "identical" : r->differ == 0 ? "equal" : "different";
}

static void put_tensor(const struct wfs_model *m, const struct wfs_tensor *t)
{
	printf("%s %s", wfs_dtype_name(t->dtype), wfs_model_str(m, t->shape_text));
}

static int done_entry(void *vctx, size_t i)
{
	struct ctx *c = vctx;
	const struct entry *e = &c->e[i];
	struct result r = {0};
	if (e->status == ST_COMPARED)
		combine(c, e, &r);
	const struct wfs_tensor *t = e->a ? e->a : e->b;
	const struct wfs_model *m = e->a ? c->ma : c->mb;
	bool dtype_changed = e->a && e->b && e->a->dtype != e->b->dtype;
	c->count[e->status]++;
	c->dtype_changed += dtype_changed;
	if (e->status == ST_COMPARED) {
		if (r.identical)
			c->identical++;
		else if (r.differ == 0)
			c->equal++;
		else
			c->different++;
	}

	if (c->json) {
		struct jw *w = &c->w;
		jw_object(w);
		jw_key(w, "name");
		jw_string(w, tensor_name(m, t), t->name.len);
		if (e->renamed) {
			jw_key(w, "name_b");
			jw_string(w, tensor_name(c->mb, e->b), e->b->name.len);
		}
		jw_key(w, "status");
		jw_cstring(w, status_name(e->status, &r));
		if (e->a) {
			jw_key(w, "dtype_a");
			jw_cstring(w, wfs_dtype_name(e->a->dtype));
			jw_key(w, "shape_a");
			jw_raw(w, wfs_model_str(c->ma, e->a->shape_text), e->a->shape_text.len);
		}
		if (e->b) {
			jw_key(w, "dtype_b");
			jw_cstring(w, wfs_dtype_name(e->b->dtype));
			jw_key(w, "shape_b");
			jw_raw(w, wfs_model_str(c->mb, e->b->shape_text), e->b->shape_text.len);
		}
		if (e->status == ST_COMPARED) {
			jw_key(w, "identical");
			jw_bool(w, r.identical);
			jw_key(w, "count");
			jw_u64(w, e->elems);
			jw_key(w, "differing");
			jw_u64(w, r.differ);
			jw_key(w, "nonfinite_mismatch");
			jw_u64(w, r.nonfinite);
			jw_key(w, "max_abs_diff");
			jw_double(w, r.max_abs);
			jw_key(w, "mean_abs_diff");
			jw_double(w, r.mean_abs);
			jw_key(w, "rel_l2");
			jw_double(w, r.rel_l2);
		}
		jw_end(w);
		return 0;
	}

	progress_before_output(&c->progress);
	static const char mark[] = {'-', '+', '!', '!', '~'};
	char k = mark[e->status];
	if (e->status == ST_COMPARED && r.differ == 0)
		k = '=';
	printf("%c ", k);
	put_name(stdout, tensor_name(m, t), t->name.len);
	size_t width = name_width(tensor_name(m, t), t->name.len);
	if (e->renamed) {
		fputs(" = ", stdout);
		put_name(stdout, tensor_name(c->mb, e->b), e->b->name.len);
		width += 3 + name_width(tensor_name(c->mb, e->b), e->b->name.len);
	}
	printf("%*s", (int)(width < c->name_width ? c->name_width - width + 2 : 2), "");
	switch (e->status) {
	case ST_ONLY_A:
	case ST_ONLY_B:
		printf("only in %c: ", e->status == ST_ONLY_A ? 'A' : 'B');
		put_tensor(m, t);
		break;
	case ST_SHAPE:
	case ST_INCOMPARABLE:
		fputs(e->status == ST_SHAPE ? "shape differs: " : "not comparable: ", stdout);
		put_tensor(c->ma, e->a);
		fputs(" -> ", stdout);
		put_tensor(c->mb, e->b);
		break;
	case ST_COMPARED:
		if (r.identical)
			fputs("identical", stdout);
		else if (r.differ == 0)
			fputs("equal values", stdout);
		else
			printf("max|a-b| %.6g  mean|a-b| %.6g  rel_l2 %.6g  differing %" PRIu64 " of %" PRIu64,
			       r.max_abs, r.mean_abs, r.rel_l2, r.differ, e->elems * (t->dtype == WFS_DT_C64 ? 2 : 1));
		if (r.nonfinite)
			printf(" (%" PRIu64 " NaN/Inf mismatches)", r.nonfinite);
		if (dtype_changed)
			printf("  dtype %s -> %s", wfs_dtype_name(e->a->dtype), wfs_dtype_name(e->b->dtype));
		break;
	}
	fputc('\n', stdout);
	return 0;
}

/* A selected tensor and the name it is compared under. */
struct keyed {
	size_t index;
	const char *key;
	size_t len;
	char *owned; /* key, when it was made */
};

static int cmp_keyed(const void *x, const void *y)
{
	const struct keyed *a = x, *b = y;
	return nat_cmp(a->key, a->len, b->key, b->len);
}

static bool is_gguf(const struct wfs_model *m)
{
	return m->format && strcmp(m->format, "gguf") == 0;
}

/*
 * The names tensors of @p m are compared under: through @p map (A's side of
 * --map), or GGUF names as Hugging Face llama names when @p gguf_to_hf, else
 * their own; sorted in natural order. NULL when out of memory.
 */
static struct keyed *keys_for(const struct wfs_model *m, const size_t *idx, size_t n, const struct namemap *map,
			      bool gguf_to_hf)
{
	struct keyed *k = calloc(n ? n : 1, sizeof(*k));
	if (k == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct wfs_tensor *t = &m->tensors[idx[i]];
		k[i] = (struct keyed){idx[i], tensor_name(m, t), t->name.len, NULL};
		const char *to = map ? namemap_find(map, k[i].key, k[i].len) : NULL;
		char buf[512];
		size_t len = 0;
		if (to == NULL && gguf_to_hf && (len = namemap_gguf_to_hf(k[i].key, k[i].len, buf, sizeof(buf))) > 0)
			to = buf;
		if (to) {
			if ((k[i].owned = strdup(to)) == NULL) {
				for (size_t j = 0; j < i; j++)
					free(k[j].owned);
				free(k);
				return NULL;
			}
			k[i].key = k[i].owned;
			k[i].len = strlen(to);
		}
	}
	qsort(k, n, sizeof(*k), cmp_keyed);
	return k;
}

static void keys_free(struct keyed *k, size_t n)
{
	for (size_t i = 0; k && i < n; i++)
		free(k[i].owned);
	free(k);
}

static bool same_shape(const struct wfs_model *ma, const struct wfs_tensor *a, const struct wfs_model *mb,
		       const struct wfs_tensor *b)
{
	return a->ndim == b->ndim && memcmp(&ma->dims[a->dims], &mb->dims[b->dims], a->ndim * sizeof(uint64_t)) == 0;
}

static int run(const struct cli *cli)
{
	struct wfs_model *ma = NULL, *mb = NULL;
	size_t *ia = NULL, *ib = NULL, na = 0, nb = 0, nglobs = cli->nargs - 2;
	struct keyed *ka = NULL, *kb = NULL;
	struct namemap map = {0};
	char *const *globs = cli->args + 2;
	struct ctx c = {.json = cli->json};
	unsigned nthreads = pool_threads(cli->jobs);
	unsigned char *ma_match = calloc(nglobs + 1, 1), *mb_match = calloc(nglobs + 1, 1);
	int rc = EXIT_OK;
	if (ma_match == NULL || mb_match == NULL)
		goto oom;
	if (cli->map) {
		char msg[512];
		if (namemap_load(cli->map, &map, msg, sizeof(msg)) < 0) {
			errorf("%s", msg);
			rc = EXIT_USAGE;
			goto out;
		}
	}
	if ((rc = open_source(cli->args[0], false, NULL, &ma, NULL)) != 0 ||
	    (rc = open_source(cli->args[1], false, NULL, &mb, NULL)) != 0)
		goto out;
	if (select_tensors(ma, globs, nglobs, &ia, &na, ma_match) < 0 ||
	    select_tensors(mb, globs, nglobs, &ib, &nb, mb_match) < 0)
		goto oom;
	for (size_t g = 0; g < nglobs; g++) {
		if (!ma_match[g] && !mb_match[g]) {
			errorf("no tensor of A or B matches \"%s\"", globs[g]);
			rc = EXIT_USAGE;
		}
	}
	if (rc)
		goto out;
	/* --map renames A's tensors to B's names; without it a GGUF model
	 * compared with one of another format is seen under the Hugging Face
	 * names its llama tensors were converted from. */
	bool builtin = !cli->map && is_gguf(ma) != is_gguf(mb);
	ka = keys_for(ma, ia, na, cli->map ? &map : NULL, builtin && is_gguf(ma));
	kb = keys_for(mb, ib, nb, NULL, builtin && is_gguf(mb));
	if (ka == NULL || kb == NULL)
		goto oom;

	/* Walk both natural-ordered lists at once. */
	c.ma = ma;
	c.mb = mb;
	c.e = calloc(na + nb + 1, sizeof(*c.e));
	if (c.e == NULL)
		goto oom;
	size_t n = 0, nparts = 0, x = 0, y = 0;
	uint64_t total = 0;
	while (x < na || y < nb) {
		const struct wfs_tensor *a = x < na ? &ma->tensors[ka[x].index] : NULL;
		const struct wfs_tensor *b = y < nb ? &mb->tensors[kb[y].index] : NULL;
		int order = a == NULL ? 1 : b == NULL ? -1 : cmp_keyed(&ka[x], &kb[y]);
		struct entry *e = &c.e[n++];
		e->nchunks = 1;
		e->first_part = nparts;
		if (order < 0) {
			*e = (struct entry){.status = ST_ONLY_A, .a = a, .nchunks = 1, .first_part = nparts};
			x++;
		} else if (order > 0) {
			*e = (struct entry){.status = ST_ONLY_B, .b = b, .nchunks = 1, .first_part = nparts};
			y++;
		} else {
			e->a = a;
			e->b = b;
			e->renamed = a->name.len != b->name.len ||
				     memcmp(tensor_name(ma, a), tensor_name(mb, b), a->name.len) != 0;
			x++;
			y++;
			if (!same_shape(ma, a, mb, b)) {
				e->status = ST_SHAPE;
			} else if ((a->dtype == WFS_DT_C64) != (b->dtype == WFS_DT_C64) || !val_decodable(a->dtype) ||
				   !val_decodable(b->dtype)) {
				e->status = ST_INCOMPARABLE;
			} else {
				e->status = ST_COMPARED;
				e->elems = tensor_elements(ma, a);
				uint64_t ca = val_chunk_elems(a->dtype, CHUNK_BYTES), cb = val_chunk_elems(b->dtype, CHUNK_BYTES);
				e->chunk_elems = ca < cb ? ca : cb;
				if (wfs_dtype_is_ggml_block(a->dtype) || wfs_dtype_is_ggml_block(b->dtype))
					e->chunk_elems -= e->chunk_elems % VAL_RUN; /* whole blocks on both sides */
				e->nchunks = e->elems ? (e->elems + e->chunk_elems - 1) / e->chunk_elems : 1;
				total += a->nbytes + b->nbytes;
			}
		}
		nparts += (size_t)e->nchunks;
		const struct wfs_tensor *named = e->a ? e->a : e->b;
		size_t width = name_width(tensor_name(e->a ? ma : mb, named), named->name.len);
		if (width > c.name_width && width < 120)
			c.name_width = width;
	}
	c.parts = calloc(nparts ? nparts : 1, sizeof(*c.parts));
	c.raw_a = calloc(nthreads, sizeof(*c.raw_a));
	c.raw_b = calloc(nthreads, sizeof(*c.raw_b));
	c.dec_a = calloc(nthreads, sizeof(*c.dec_a));
	c.dec_b = calloc(nthreads, sizeof(*c.dec_b));
	if (!c.parts || !c.raw_a || !c.raw_b || !c.dec_a || !c.dec_b)
		goto oom;
	for (unsigned k = 0; k < nthreads; k++) {
		c.raw_a[k] = malloc(CHUNK_BYTES);
		c.raw_b[k] = malloc(CHUNK_BYTES);
		c.dec_a[k] = malloc(BLOCK * sizeof(double));
		c.dec_b[k] = malloc(BLOCK * sizeof(double));
		if (!c.raw_a[k] || !c.raw_b[k] || !c.dec_a[k] || !c.dec_b[k])
			goto oom;
	}

	if (c.json) {
		jw_init(&c.w, stdout);
		jw_object(&c.w);
		jw_key(&c.w, "a");
		jw_cstring(&c.w, cli->args[0]);
		jw_key(&c.w, "b");
		jw_cstring(&c.w, cli->args[1]);
		jw_key(&c.w, "tensors");
		jw_array(&c.w);
	}
	struct pool_job job = {
		.nitems = n, .nchunks = nchunks, .run = run_chunk, .done = done_entry,
		.ctx = &c, .progress = &c.progress,
	};
	int prc = run_job(&job, nthreads, &c.progress, "diff", total, cli->progress);
	if (prc != 0) {
		rc = prc;
		goto out;
	}
	if (c.json) {
		jw_end(&c.w);
		jw_key(&c.w, "summary");
		jw_object(&c.w);
		static const char *const keys[] = {"only_a", "only_b", "shape_differs", "incomparable"};
		for (int s = 0; s < ST_COMPARED; s++) {
			jw_key(&c.w, keys[s]);
			jw_u64(&c.w, c.count[s]);
		}
		jw_key(&c.w, "identical");
		jw_u64(&c.w, c.identical);
		jw_key(&c.w, "equal");
		jw_u64(&c.w, c.equal);
		jw_key(&c.w, "different");
		jw_u64(&c.w, c.different);
		jw_key(&c.w, "dtype_changed");
		jw_u64(&c.w, c.dtype_changed);
		jw_end(&c.w);
		jw_end(&c.w);
		fputc('\n', stdout);
	} else {
		printf("%" PRIu64 " identical, %" PRIu64 " equal values, %" PRIu64 " different, %" PRIu64
		       " shape differs, %" PRIu64 " not comparable, %" PRIu64 " only in A, %" PRIu64
		       " only in B (A: %s, B: %s)\n",
		       c.identical, c.equal, c.different, c.count[ST_SHAPE], c.count[ST_INCOMPARABLE],
		       c.count[ST_ONLY_A], c.count[ST_ONLY_B], cli->args[0], cli->args[1]);
	}
	goto out;
oom:
	errorf("out of memory");
	rc = EXIT_INTERNAL;
out:
	for (unsigned k = 0; k < nthreads; k++) {
		if (c.raw_a)
			free(c.raw_a[k]);
		if (c.raw_b)
			free(c.raw_b[k]);
		if (c.dec_a)
			free(c.dec_a[k]);
		if (c.dec_b)
			free(c.dec_b[k]);
	}
	free(c.raw_a);
	free(c.raw_b);
	free(c.dec_a);
	free(c.dec_b);
	free(c.parts);
	free(c.e);
	free(ia);
	free(ib);
	keys_free(ka, na);
	keys_free(kb, nb);
	namemap_free(&map);
	free(ma_match);
	free(mb_match);
	wfs_model_free(ma);
	wfs_model_free(mb);
	return rc;
}

const struct command cmd_diff = {
	.name = "diff",
	.synopsis = "SOURCE_A SOURCE_B [GLOB...]",
	.summary = "tensors only in A or B, changed dtype or shape, value differences",
	.help = "Compares two models tensor by tensor, in natural order (only the tensors\n"
		"matching a GLOB, when given; each GLOB must match in A or B). One line each:\n"
		"    - NAME  only in A: DTYPE SHAPE\n"
		"    + NAME  only in B: DTYPE SHAPE\n"
		"    ! NAME  shape differs: DTYPE SHAPE -> DTYPE SHAPE (values not compared)\n"
		"    = NAME  identical (same dtype and bytes) | equal values (other dtype)\n"
		"    ~ NAME  max|a-b| ...  mean|a-b| ...  rel_l2 ...  differing N of M\n"
		"then a line of counts. Tensors of the same shape are compared value by\n"
		"value whatever their dtypes (a BF16 copy against its F32 original): the\n"
		"largest and the mean absolute difference and the relative L2 error\n"
		"||a-b|| / ||a|| are over the positions where both values are finite;\n"
		"positions where one is NaN or Inf and the other is not the same are counted\n"
		"as NaN/Inf mismatches. NaN equals NaN and 0 equals -0 in \"differing\".\n"
		"C64 real and imaginary parts count as separate values; a C64 tensor\n"
		"against a real one is \"not comparable\". ggml's block types (GGUF: Q4_0,\n"
		"Q4_K, Q8_0, TQ1_0, ...) are dequantized first, so two quantizations of a\n"
		"model compare value by value; a type weightfs does not dequantize (the\n"
		"grid-based IQ1/IQ2/IQ3) is \"not comparable\". The exit status is 0\n"
		"whether or not the models differ.\n"
		"\n"
		"Names: tensors are paired by name. A GGUF model against one of another\n"
		"format is compared under the Hugging Face names llama.cpp converts llama\n"
		"models from (blk.N.attn_q.weight = model.layers.N.self_attn.q_proj.weight,\n"
		"token_embd = model.embed_tokens, output = lm_head, attn_norm =\n"
		"input_layernorm, ffn_gate/up/down = mlp.gate/up/down_proj, ...); the line\n"
		"shows both names (\"A = B\"; JSON \"name_b\"). llama.cpp's converter reorders\n"
		"the rows of attn_q and attn_k (rope), so those differ from the original.\n"
		"\n"
		"options:\n"
		"    --map FILE        pairs by FILE instead: one \"NAME_A NAME_B\" per line\n"
		"                      (blank lines and # comments skipped); unlisted names\n"
		"                      pair with the same name\n"
		"    --json            {\"a\", \"b\", \"tensors\": [{\"name\", \"name_b\", \"status\" (only_a,\n"
		"                      only_b, shape_differs, incomparable, identical, equal,\n"
		"                      different), \"dtype_a\", \"shape_a\", \"dtype_b\", \"shape_b\",\n"
		"                      \"identical\", \"count\", \"differing\",\n"
		"                      \"nonfinite_mismatch\", \"max_abs_diff\", \"mean_abs_diff\",\n"
		"                      \"rel_l2\"}], \"summary\": {counts}}\n"
		"    -j, --jobs N      N worker threads (default: one per online CPU)\n"
		"    --no-progress     no progress bar (it is shown on a terminal after 1 s)\n"
		"    -h, --help        this help\n"
		"\n"
		"example (sample-model2: a copy with ten values of model.norm.weight changed):\n"
		"    $ " PROG " diff sample-model sample-model2 'model.norm.*' 'lm_head.*'\n"
		"    = lm_head.weight     identical\n"
		"    ~ model.norm.weight  max|a-b| 0.5  mean|a-b| 0.078125  rel_l2 0.197642  differing 10 of 64\n"
		"    1 identical, 0 equal values, 1 different, 0 shape differs, 0 not comparable, 0 only in A,\n"
		"    0 only in B (A: sample-model, B: sample-model2)\n",
	.min_args = 2,
	.max_args = (unsigned)-1,
	.options = OPT_JOBS | OPT_MAP,
	.run = run,
};
