/**
 * @file test_inspect_stats.c
 * The statistics kernel against straightforward long double computations:
 * known values, NaN/Inf/zero counting, numerically hard data (a large
 * offset), every block length, and combination in any split.
 */
#include <math.h>

#include "check.h"
#include "stats.h"

/* Reference: two passes in long double over the finite values. */
struct ref {
	uint64_t n, zeros, nans, infs;
	long double mean, var;
	double min, max;
};

static struct ref reference(const double *x, size_t n)
{
	struct ref r = {.min = INFINITY, .max = -INFINITY};
	long double sum = 0;
	for (size_t i = 0; i < n; i++) {
		if (isnan(x[i])) {
			r.nans++;
		} else if (isinf(x[i])) {
			r.infs++;
		} else {
			r.n++;
			sum += x[i];
			r.zeros += x[i] == 0;
			r.min = x[i] < r.min ? x[i] : r.min;
			r.max = x[i] > r.max ? x[i] : r.max;
		}
	}
	r.mean = r.n ? sum / r.n : 0;
	long double q = 0;
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i]))
			q += (x[i] - r.mean) * (x[i] - r.mean);
	r.var = r.n > 1 ? q / (r.n - 1) : NAN;
	return r;
}

static int close_to(double got, long double want, double rel)
{
	long double d = fabsl((long double)got - want);
	return d <= rel * fabsl(want) || d <= 1e-300;
}

/* The mean within 1e-14 of the largest magnitude (a few units in the last
 * place), the std within 1e-10 of itself. */
static void check_against(const struct stats *s, const struct ref *r, double scale)
{
	CHECK(s->n == r->n);
	CHECK(s->zeros == r->zeros);
	CHECK(s->nans == r->nans);
	CHECK(s->infs == r->infs);
	if (r->n) {
		CHECK(s->min == r->min && s->max == r->max);
		CHECK(fabsl(stats_mean(s) - r->mean) <= 1e-14 * scale);
	}
	if (r->n > 1)
		CHECK(close_to(stats_std(s), sqrtl(r->var), 1e-10));
	else
		CHECK(isnan(stats_std(s)));
}

static uint64_t rng = 88172645463325252ull;

static double uniform(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return (double)(rng >> 11) * 0x1p-53;
}

static void of_tree(const double *x, size_t n, size_t split, struct stats *out)
{
	struct stats_tree t;
	stats_tree_init(&t);
	for (size_t i = 0; i < n; i += split)
		stats_tree_values(&t, x + i, n - i < split ? n - i : split);
	stats_tree_result(&t, out);
}

static void run_all(void)
{
	struct stats s;
	double small[] = {1, 2, 3, 4};
	stats_block(&s, small, 4);
	CHECK(s.n == 4 && stats_mean(&s) == 2.5 && s.min == 1 && s.max == 4);
	CHECK(fabs(stats_std(&s) - sqrt(5.0 / 3)) < 1e-15);
	stats_block(&s, small, 1);
	CHECK(s.n == 1 && stats_mean(&s) == 1 && isnan(stats_std(&s)));
	stats_block(&s, small, 0);
	CHECK(s.n == 0 && stats_count(&s) == 0);

	double odd[] = {0.0, -0.0, NAN, INFINITY, -INFINITY, 5, -3, NAN, 0};
	stats_block(&s, odd, 9);
	CHECK(s.n == 5 && s.zeros == 3 && s.nans == 2 && s.infs == 2 && stats_count(&s) == 9);
	CHECK(s.min == -3 && s.max == 5 && fabs(stats_mean(&s) - 0.4) < 1e-15);

	float oddf[] = {0.0f, -0.0f, NAN, INFINITY, -INFINITY, 5, -3, NAN, 0};
	struct stats sf;
	stats_block_f(&sf, oddf, 9);
	CHECK(sf.n == s.n && sf.zeros == s.zeros && sf.nans == s.nans && sf.infs == s.infs);
	CHECK(sf.min == s.min && sf.max == s.max && stats_mean(&sf) == stats_mean(&s));

	/* Every block length up to a few blocks, with and without non-finite values. */
	static double x[5000];
	static float xf[5000];
	for (size_t n = 0; n <= 3 * STATS_BLOCK + 9; n += n < 40 ? 1 : 97) {
		for (size_t i = 0; i < n; i++) {
			xf[i] = (float)(uniform() * 2 - 1);
			x[i] = xf[i];
		}
		if (n > 20) {
			x[n / 2] = NAN;
			x[n / 3] = -INFINITY;
			xf[n / 2] = NAN;
			xf[n / 3] = -INFINITY;
			x[n / 5] = xf[n / 5] = 0;
		}
		struct ref r = reference(x, n);
		struct stats_tree t;
		stats_tree_init(&t);
		stats_tree_values(&t, x, n);
		stats_tree_result(&t, &s);
		check_against(&s, &r, 1);
		stats_tree_init(&t);
		stats_tree_values_f(&t, xf, n);
		stats_tree_result(&t, &sf);
		check_against(&sf, &r, 1);
	}

	/* A large offset: naive sum-of-squares would lose every digit. */
	size_t n = 5000;
	for (size_t i = 0; i < n; i++)
		x[i] = 1e9 + (uniform() - 0.5) * 1e-3;
	struct ref r = reference(x, n);
	for (size_t split = 1; split <= n; split = split * 3 + 1) {
		of_tree(x, n, split, &s);
		check_against(&s, &r, 1e9);
	}

	/* Values whose sum overflows: the slow path, which still counts everything
	 * (the mean of such values may overflow: documented). */
	double big[] = {1e308, 1e308, 1e308, 1e308};
	stats_block(&s, big, 4);
	CHECK(s.n == 4 && s.max == 1e308 && s.min == 1e308 && s.nans == 0 && s.infs == 0);
	CHECK(stats_mean(&s) == 1e308 && stats_std(&s) == 0);

	/* Merging with an empty side changes nothing; the order of two equal halves neither. */
	struct stats a, b, e;
	stats_block(&a, small, 4);
	stats_init(&e);
	b = a;
	stats_merge(&b, &e);
	CHECK(b.n == a.n && stats_mean(&b) == stats_mean(&a) && b.m2 == a.m2 && b.min == a.min && b.max == a.max);
	stats_merge(&e, &a);
	CHECK(e.n == a.n && stats_mean(&e) == stats_mean(&a) && e.m2 == a.m2);
}

int main(void)
{
	stats_simd(0); /* SSE2 (or portable C) */
	run_all();
	stats_simd(-1); /* the best the CPU has */
	run_all();
	return check_report("test_inspect_stats");
}
