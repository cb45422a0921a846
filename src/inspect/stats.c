/**
 * @file stats.c
 * The block kernel and the pairwise combination of struct stats.
 *
 * The kernel is written with GCC/clang vector extensions, four doubles at a
 * time, so that it vectorises at -O2 on any target: one pass for the sum,
 * extremes, zeros and a check for non-finite values, a second pass for the
 * squared deviations from the block mean (with the usual correction term,
 * which makes the two-pass result exact up to rounding of the deviations).
 * A block holding NaN or Inf takes a scalar path that skips them.
 */
#include <math.h>
#include <stdbool.h>
#include <string.h>

#include "stats.h"

void stats_init(struct stats *s)
{
	memset(s, 0, sizeof(*s));
	s->min = INFINITY;
	s->max = -INFINITY;
}

double stats_std(const struct stats *s)
{
	if (s->n < 2)
		return NAN;
	return sqrt(s->m2 / (double)(s->n - 1));
}

void stats_merge(struct stats *a, const struct stats *b)
{
	a->zeros += b->zeros;
	a->nans += b->nans;
	a->infs += b->infs;
	if (b->n == 0)
		return;
	if (b->min < a->min)
		a->min = b->min;
	if (b->max > a->max)
		a->max = b->max;
	if (a->n == 0) {
		a->n = b->n;
		a->mean = b->mean;
		a->m2 = b->m2;
		return;
	}
	double na = (double)a->n, nb = (double)b->n, n = na + nb;
	double d = b->mean - a->mean, f = nb / n;
	a->mean += d * f;
	a->m2 += b->m2 + d * d * na * f;
	a->n += b->n;
}

/* A block holding NaN or Inf: plain scalar passes over its finite values. */
static void block_slow(struct stats *s, const double *x, size_t n)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		if (isnan(v)) {
			s->nans++;
			continue;
		}
		if (isinf(v)) {
			s->infs++;
			continue;
		}
		s->n++;
		sum += v;
		s->zeros += v == 0;
		if (v < s->min)
			s->min = v;
		if (v > s->max)
			s->max = v;
	}
	if (s->n == 0)
		return;
	double mean = sum / (double)s->n, q = 0, c = 0;
	for (size_t i = 0; i < n; i++) {
		if (!isfinite(x[i]))
			continue;
		double d = x[i] - mean;
		q += d * d;
		c += d;
	}
	s->mean = mean + c / (double)s->n;
	s->m2 = q - c * c / (double)s->n;
	if (s->m2 < 0)
		s->m2 = 0;
}

/* 16-byte vectors: SSE2 and NEON registers, no ABI change at -O2 on any target. */
typedef double v2d __attribute__((vector_size(16)));
typedef long long v2i __attribute__((vector_size(16)));

static inline v2d load2(const double *p)
{
	v2d v;
	memcpy(&v, p, sizeof(v));
	return v;
}

static inline v2d splat(double x)
{
	return (v2d){x, x};
}

static inline v2d vmin(v2d a, v2d b)
{
	v2i m = (v2i)(a < b);
	return (v2d)(((v2i)a & m) | ((v2i)b & ~m));
}

static inline v2d vmax(v2d a, v2d b)
{
	v2i m = (v2i)(a > b);
	return (v2d)(((v2i)a & m) | ((v2i)b & ~m));
}

void stats_block(struct stats *s, const double *x, size_t n)
{
	stats_init(s);
	if (n == 0)
		return;
	/* Four independent lanes of two: enough to hide the adds' latency. */
	v2d s0 = splat(0), s1 = splat(0), s2 = splat(0), s3 = splat(0);
	v2d mn = splat(INFINITY), mx = splat(-INFINITY);
	v2i zeros = {0, 0}, bad = {0, 0};
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		v2d a = load2(x + i), b = load2(x + i + 2), c = load2(x + i + 4), d = load2(x + i + 6);
		v2d t = (a - a) + (b - b) + (c - c) + (d - d); /* 0 when all finite, NaN otherwise */
		bad |= (v2i)(t != t);
		s0 += a;
		s1 += b;
		s2 += c;
		s3 += d;
		mn = vmin(vmin(vmin(a, b), vmin(c, d)), mn);
		mx = vmax(vmax(vmax(a, b), vmax(c, d)), mx);
		zeros -= ((v2i)(a == 0) + (v2i)(b == 0)) + ((v2i)(c == 0) + (v2i)(d == 0));
	}
	v2d st = (s0 + s1) + (s2 + s3);
	double sum = st[0] + st[1];
	double lo = mn[0] < mn[1] ? mn[0] : mn[1];
	double hi = mx[0] > mx[1] ? mx[0] : mx[1];
	uint64_t nz = (uint64_t)(zeros[0] + zeros[1]);
	bool nonfinite = (bad[0] | bad[1]) != 0;
	for (; i < n; i++) {
		double v = x[i];
		nonfinite |= !isfinite(v);
		sum += v;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		nz += v == 0;
	}
	if (nonfinite) {
		block_slow(s, x, n);
		return;
	}
	double mean = sum / (double)n;
	v2d q0 = splat(0), q1 = splat(0), c0 = splat(0), c1 = splat(0), vm = splat(mean);
	for (i = 0; i + 4 <= n; i += 4) {
		v2d a = load2(x + i) - vm, b = load2(x + i + 2) - vm;
		q0 += a * a;
		q1 += b * b;
		c0 += a;
		c1 += b;
	}
	v2d qt = q0 + q1, ct = c0 + c1;
	double q = qt[0] + qt[1], c = ct[0] + ct[1];
	for (; i < n; i++) {
		double d = x[i] - mean;
		q += d * d;
		c += d;
	}
	s->n = n;
	s->mean = mean + c / (double)n;
	s->m2 = q - c * c / (double)n;
	if (s->m2 < 0)
		s->m2 = 0;
	s->min = lo;
	s->max = hi;
	s->zeros = nz;
}

void stats_tree_init(struct stats_tree *t)
{
	t->used = 0;
}

void stats_tree_add(struct stats_tree *t, const struct stats *s)
{
	struct stats carry = *s;
	unsigned k = 0;
	/* Like incrementing a binary counter: equal-sized subtrees merge. */
	for (; k < 63 && (t->used >> k & 1); k++) {
		struct stats left = t->level[k];
		stats_merge(&left, &carry);
		carry = left;
		t->used &= ~(1ull << k);
	}
	if (t->used >> k & 1) /* 2^63 leaves: unreachable, but stay correct */
		stats_merge(&t->level[k], &carry);
	else
		t->level[k] = carry;
	t->used |= 1ull << k;
}

void stats_tree_result(const struct stats_tree *t, struct stats *out)
{
	stats_init(out);
	for (int k = 63; k >= 0; k--)
		if (t->used >> k & 1)
			stats_merge(out, &t->level[k]);
}

void stats_tree_values(struct stats_tree *t, const double *x, size_t n)
{
	struct stats s;
	for (size_t i = 0; i < n; i += STATS_BLOCK) {
		stats_block(&s, x + i, n - i < STATS_BLOCK ? n - i : STATS_BLOCK);
		stats_tree_add(t, &s);
	}
}
