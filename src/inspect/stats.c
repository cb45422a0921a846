/**
 * @file stats.c
 * The block kernel and the pairwise combination of struct stats.
 *
 * The kernel makes two passes over a block that is in cache: one for the
 * sum, extremes and zeros, one for the deviations d from the rounded block
 * mean: m2 = sum(d^2) - sum(d)^2/n, and sum(d)/n is the mean's correction,
 * kept apart (stats.rel) rather than rounded into it. On x86-64 it is written with
 * SSE2 intrinsics (part of the base ISA), four floats or two doubles at a
 * time, because -O2 does not vectorise floating-point reductions; elsewhere
 * (or with -DSTATS_PORTABLE) it is the same computation in plain C. A block
 * holding NaN or Inf takes a scalar path that skips them.
 */
#include <math.h>
#include <stdatomic.h>
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
		a->base = b->base;
		a->rel = b->rel;
		a->m2 = b->m2;
		return;
	}
	double na = (double)a->n, nb = (double)b->n, n = na + nb;
	/* Close bases subtract exactly (Sterbenz), so d keeps its low digits. */
	double d = (b->base - a->base) + (b->rel - a->rel), f = nb / n;
	a->rel += d * f;
	a->m2 += b->m2 + d * d * na * f;
	a->n += b->n;
}

/* Welford's update over the finite values, one at a time: for values whose sum overflows. */
static void block_welford(struct stats *s, const double *x, size_t n)
{
	s->n = 0;
	s->base = s->rel = s->m2 = 0;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		if (!isfinite(v))
			continue;
		if (++s->n == 1)
			s->base = v; /* on v - base, which keeps the digits of values far from 0 */
		double y = v - s->base, d = y - s->rel;
		s->rel += d / (double)s->n;
		s->m2 += d * (y - s->rel);
	}
}

/* A block holding NaN or Inf (or finite doubles whose sum overflows): the
 * two passes of the fast path in scalar code, skipping non-finite values. */
static void block_slow(struct stats *s, const double *x, size_t n)
{
	double sum = 0;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		if (isnan(v)) {
			s->nans++;
		} else if (isinf(v)) {
			s->infs++;
		} else {
			s->n++;
			sum += v;
			s->zeros += v == 0;
			s->min = v < s->min ? v : s->min;
			s->max = v > s->max ? v : s->max;
		}
	}
	if (s->n == 0)
		return;
	if (!isfinite(sum)) {
		block_welford(s, x, n);
		return;
	}
	double mean = sum / (double)s->n, q = 0, c = 0;
	for (size_t i = 0; i < n; i++) {
		if (isfinite(x[i])) {
			double d = x[i] - mean;
			q += d * d;
			c += d;
		}
	}
	s->base = mean;
	s->rel = c / (double)s->n;
	s->m2 = q - c * c / (double)s->n;
	if (s->m2 < 0)
		s->m2 = 0;
}

/*
 * The fast path needs every value finite; a non-finite value makes the
 * block's sum NaN or Inf, which sends the block to block_slow(). (So does a
 * sum of finite doubles that overflows; block_slow() then gives Inf too.)
 */
static void finish_fast(struct stats *s, size_t n, double mean, double q, double c,
			double lo, double hi, uint64_t zeros)
{
	s->n = n;
	s->base = mean;
	s->rel = c / (double)n;
	s->m2 = q - c * c / (double)n;
	if (s->m2 < 0)
		s->m2 = 0;
	s->min = lo;
	s->max = hi;
	s->zeros = zeros;
}

#if defined(__SSE2__) && !defined(STATS_PORTABLE)
#include <emmintrin.h>

static double hsum_pd(__m128d v)
{
	return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
}

static double hmin_ps(__m128 v)
{
	v = _mm_min_ps(v, _mm_movehl_ps(v, v));
	v = _mm_min_ss(v, _mm_shuffle_ps(v, v, 1));
	return _mm_cvtss_f32(v);
}

static double hmax_ps(__m128 v)
{
	v = _mm_max_ps(v, _mm_movehl_ps(v, v));
	v = _mm_max_ss(v, _mm_shuffle_ps(v, v, 1));
	return _mm_cvtss_f32(v);
}

static uint64_t hsum_epi32(__m128i v)
{
	uint32_t l[4];
	_mm_storeu_si128((__m128i *)l, v);
	return (uint64_t)l[0] + l[1] + l[2] + l[3];
}

static void block_f_sse2(struct stats *s, const float *x, size_t n)
{
	size_t i = 0, n8 = n & ~(size_t)7;
	__m128d s0 = _mm_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
	__m128 mn = _mm_set1_ps(INFINITY), mx = _mm_set1_ps(-INFINITY), zero = _mm_setzero_ps();
	__m128i nz = _mm_setzero_si128();
	for (; i < n8; i += 8) {
		__m128 a = _mm_loadu_ps(x + i), b = _mm_loadu_ps(x + i + 4);
		s0 = _mm_add_pd(s0, _mm_cvtps_pd(a));
		s1 = _mm_add_pd(s1, _mm_cvtps_pd(_mm_movehl_ps(a, a)));
		s2 = _mm_add_pd(s2, _mm_cvtps_pd(b));
		s3 = _mm_add_pd(s3, _mm_cvtps_pd(_mm_movehl_ps(b, b)));
		mn = _mm_min_ps(mn, _mm_min_ps(a, b));
		mx = _mm_max_ps(mx, _mm_max_ps(a, b));
		nz = _mm_sub_epi32(nz, _mm_castps_si128(_mm_cmpeq_ps(a, zero)));
		nz = _mm_sub_epi32(nz, _mm_castps_si128(_mm_cmpeq_ps(b, zero)));
	}
	double sum = hsum_pd(_mm_add_pd(_mm_add_pd(s0, s1), _mm_add_pd(s2, s3)));
	double lo = n8 ? hmin_ps(mn) : INFINITY, hi = n8 ? hmax_ps(mx) : -INFINITY;
	uint64_t zeros = hsum_epi32(nz);
	for (; i < n; i++) {
		double v = x[i];
		sum += v;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		zeros += v == 0;
	}
	if (!isfinite(sum)) {
		double tmp[STATS_BLOCK];
		for (i = 0; i < n; i++)
			tmp[i] = x[i];
		block_slow(s, tmp, n);
		return;
	}
	double mean = sum / (double)n;
	__m128d vm = _mm_set1_pd(mean), q0 = _mm_setzero_pd(), q1 = q0, c0 = q0, c1 = q0;
	size_t n4 = n & ~(size_t)3;
	for (i = 0; i < n4; i += 4) {
		__m128 a = _mm_loadu_ps(x + i);
		__m128d d0 = _mm_sub_pd(_mm_cvtps_pd(a), vm);
		__m128d d1 = _mm_sub_pd(_mm_cvtps_pd(_mm_movehl_ps(a, a)), vm);
		q0 = _mm_add_pd(q0, _mm_mul_pd(d0, d0));
		q1 = _mm_add_pd(q1, _mm_mul_pd(d1, d1));
		c0 = _mm_add_pd(c0, d0);
		c1 = _mm_add_pd(c1, d1);
	}
	double q = hsum_pd(_mm_add_pd(q0, q1)), c = hsum_pd(_mm_add_pd(c0, c1));
	for (; i < n; i++) {
		double d = x[i] - mean;
		q += d * d;
		c += d;
	}
	finish_fast(s, n, mean, q, c, lo, hi, zeros);
}

#if defined(__x86_64__) && !defined(STATS_NO_AVX2)
#include <immintrin.h>
#define STATS_HAVE_AVX2 1

/* The same as block_f_sse2(), eight floats at a time, for CPUs with AVX2. */
__attribute__((target("avx2"))) static void block_f_avx2(struct stats *s, const float *x, size_t n)
{
	size_t i = 0, n16 = n & ~(size_t)15;
	__m256d s0 = _mm256_setzero_pd(), s1 = s0, s2 = s0, s3 = s0;
	__m256 mn = _mm256_set1_ps(INFINITY), mx = _mm256_set1_ps(-INFINITY), zero = _mm256_setzero_ps();
	__m256i nz = _mm256_setzero_si256();
	for (; i < n16; i += 16) {
		__m256 a = _mm256_loadu_ps(x + i), b = _mm256_loadu_ps(x + i + 8);
		s0 = _mm256_add_pd(s0, _mm256_cvtps_pd(_mm256_castps256_ps128(a)));
		s1 = _mm256_add_pd(s1, _mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)));
		s2 = _mm256_add_pd(s2, _mm256_cvtps_pd(_mm256_castps256_ps128(b)));
		s3 = _mm256_add_pd(s3, _mm256_cvtps_pd(_mm256_extractf128_ps(b, 1)));
		mn = _mm256_min_ps(mn, _mm256_min_ps(a, b));
		mx = _mm256_max_ps(mx, _mm256_max_ps(a, b));
		nz = _mm256_sub_epi32(nz, _mm256_castps_si256(_mm256_cmp_ps(a, zero, _CMP_EQ_OQ)));
		nz = _mm256_sub_epi32(nz, _mm256_castps_si256(_mm256_cmp_ps(b, zero, _CMP_EQ_OQ)));
	}
	__m256d st = _mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3));
	double sum = hsum_pd(_mm_add_pd(_mm256_castpd256_pd128(st), _mm256_extractf128_pd(st, 1)));
	double lo = INFINITY, hi = -INFINITY;
	if (n16) {
		lo = hmin_ps(_mm_min_ps(_mm256_castps256_ps128(mn), _mm256_extractf128_ps(mn, 1)));
		hi = hmax_ps(_mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1)));
	}
	uint64_t zeros = hsum_epi32(_mm256_castsi256_si128(nz)) + hsum_epi32(_mm256_extracti128_si256(nz, 1));
	for (; i < n; i++) {
		double v = x[i];
		sum += v;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		zeros += v == 0;
	}
	if (!isfinite(sum)) {
		double tmp[STATS_BLOCK];
		for (i = 0; i < n; i++)
			tmp[i] = x[i];
		block_slow(s, tmp, n);
		return;
	}
	double mean = sum / (double)n;
	__m256d vm = _mm256_set1_pd(mean), q0 = _mm256_setzero_pd(), q1 = q0, c0 = q0, c1 = q0;
	size_t n8 = n & ~(size_t)7;
	for (i = 0; i < n8; i += 8) {
		__m256 a = _mm256_loadu_ps(x + i);
		__m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)), vm);
		__m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)), vm);
		q0 = _mm256_add_pd(q0, _mm256_mul_pd(d0, d0));
		q1 = _mm256_add_pd(q1, _mm256_mul_pd(d1, d1));
		c0 = _mm256_add_pd(c0, d0);
		c1 = _mm256_add_pd(c1, d1);
	}
	__m256d qt = _mm256_add_pd(q0, q1), ct = _mm256_add_pd(c0, c1);
	double q = hsum_pd(_mm_add_pd(_mm256_castpd256_pd128(qt), _mm256_extractf128_pd(qt, 1)));
	double c = hsum_pd(_mm_add_pd(_mm256_castpd256_pd128(ct), _mm256_extractf128_pd(ct, 1)));
	for (; i < n; i++) {
		double d = x[i] - mean;
		q += d * d;
		c += d;
	}
	finish_fast(s, n, mean, q, c, lo, hi, zeros);
}

static _Atomic int simd_level = -1; /* -1: not asked yet, 0: SSE2, 1: AVX2 */

static bool use_avx2(void)
{
	int v = atomic_load_explicit(&simd_level, memory_order_relaxed);
	if (v < 0) {
		__builtin_cpu_init();
		v = __builtin_cpu_supports("avx2") ? 1 : 0;
		atomic_store_explicit(&simd_level, v, memory_order_relaxed);
	}
	return v > 0;
}

void stats_simd(int level)
{
	atomic_store(&simd_level, level);
}
#else
void stats_simd(int level)
{
	(void)level;
}
#endif

void stats_block_f(struct stats *s, const float *x, size_t n)
{
	stats_init(s);
	if (n == 0)
		return;
#ifdef STATS_HAVE_AVX2
	if (use_avx2()) {
		block_f_avx2(s, x, n);
		return;
	}
#endif
	block_f_sse2(s, x, n);
}

void stats_block(struct stats *s, const double *x, size_t n)
{
	stats_init(s);
	if (n == 0)
		return;
	size_t i = 0, n8 = n & ~(size_t)7;
	__m128d s0 = _mm_setzero_pd(), s1 = s0, s2 = s0, s3 = s0, zero = s0;
	__m128d mn = _mm_set1_pd(INFINITY), mx = _mm_set1_pd(-INFINITY);
	__m128i nz = _mm_setzero_si128();
	for (; i < n8; i += 8) {
		__m128d a = _mm_loadu_pd(x + i), b = _mm_loadu_pd(x + i + 2);
		__m128d c = _mm_loadu_pd(x + i + 4), d = _mm_loadu_pd(x + i + 6);
		s0 = _mm_add_pd(s0, a);
		s1 = _mm_add_pd(s1, b);
		s2 = _mm_add_pd(s2, c);
		s3 = _mm_add_pd(s3, d);
		mn = _mm_min_pd(mn, _mm_min_pd(_mm_min_pd(a, b), _mm_min_pd(c, d)));
		mx = _mm_max_pd(mx, _mm_max_pd(_mm_max_pd(a, b), _mm_max_pd(c, d)));
		__m128i za = _mm_castpd_si128(_mm_cmpeq_pd(a, zero)), zb = _mm_castpd_si128(_mm_cmpeq_pd(b, zero));
		__m128i zc = _mm_castpd_si128(_mm_cmpeq_pd(c, zero)), zd = _mm_castpd_si128(_mm_cmpeq_pd(d, zero));
		nz = _mm_sub_epi64(nz, _mm_add_epi64(_mm_add_epi64(za, zb), _mm_add_epi64(zc, zd)));
	}
	double sum = hsum_pd(_mm_add_pd(_mm_add_pd(s0, s1), _mm_add_pd(s2, s3)));
	double lo = INFINITY, hi = -INFINITY;
	if (n8) {
		lo = _mm_cvtsd_f64(_mm_min_sd(mn, _mm_unpackhi_pd(mn, mn)));
		hi = _mm_cvtsd_f64(_mm_max_sd(mx, _mm_unpackhi_pd(mx, mx)));
	}
	uint64_t z2[2];
	_mm_storeu_si128((__m128i *)z2, nz);
	uint64_t zeros = z2[0] + z2[1];
	for (; i < n; i++) {
		double v = x[i];
		sum += v;
		lo = v < lo ? v : lo;
		hi = v > hi ? v : hi;
		zeros += v == 0;
	}
	if (!isfinite(sum)) {
		block_slow(s, x, n);
		return;
	}
	double mean = sum / (double)n;
	__m128d vm = _mm_set1_pd(mean), q0 = _mm_setzero_pd(), q1 = q0, c0 = q0, c1 = q0;
	size_t n4 = n & ~(size_t)3;
	for (i = 0; i < n4; i += 4) {
		__m128d d0 = _mm_sub_pd(_mm_loadu_pd(x + i), vm);
		__m128d d1 = _mm_sub_pd(_mm_loadu_pd(x + i + 2), vm);
		q0 = _mm_add_pd(q0, _mm_mul_pd(d0, d0));
		q1 = _mm_add_pd(q1, _mm_mul_pd(d1, d1));
		c0 = _mm_add_pd(c0, d0);
		c1 = _mm_add_pd(c1, d1);
	}
	double q = hsum_pd(_mm_add_pd(q0, q1)), c = hsum_pd(_mm_add_pd(c0, c1));
	for (; i < n; i++) {
		double d = x[i] - mean;
		q += d * d;
		c += d;
	}
	finish_fast(s, n, mean, q, c, lo, hi, zeros);
}

#else /* portable C: the same computation, four lanes of scalars */

#define PORTABLE_BLOCK()                                                                    \
	stats_init(s);                                                                      \
	if (n == 0)                                                                         \
		return;                                                                     \
	double acc[4] = {0, 0, 0, 0}, lo = INFINITY, hi = -INFINITY;                       \
	uint64_t zeros = 0;                                                                 \
	size_t i = 0;                                                                       \
	for (; i + 4 <= n; i += 4)                                                          \
		for (unsigned k = 0; k < 4; k++) {                                          \
			double v = x[i + k];                                                \
			acc[k] += v;                                                        \
			lo = v < lo ? v : lo;                                               \
			hi = v > hi ? v : hi;                                               \
			zeros += v == 0;                                                    \
		}                                                                           \
	double sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);                                 \
	for (; i < n; i++) {                                                                \
		double v = x[i];                                                            \
		sum += v;                                                                   \
		lo = v < lo ? v : lo;                                                       \
		hi = v > hi ? v : hi;                                                       \
		zeros += v == 0;                                                            \
	}                                                                                   \
	if (!isfinite(sum)) {                                                               \
		double tmp[STATS_BLOCK];                                                    \
		for (i = 0; i < n; i++)                                                     \
			tmp[i] = x[i];                                                      \
		block_slow(s, tmp, n);                                                      \
		return;                                                                     \
	}                                                                                   \
	double mean = sum / (double)n, q = 0, c = 0;                                        \
	for (i = 0; i < n; i++) {                                                           \
		double d = (double)x[i] - mean;                                             \
		q += d * d;                                                                 \
		c += d;                                                                     \
	}                                                                                   \
	finish_fast(s, n, mean, q, c, lo, hi, zeros);

void stats_block_f(struct stats *s, const float *x, size_t n)
{
	PORTABLE_BLOCK()
}

void stats_simd(int level)
{
	(void)level;
}

void stats_block(struct stats *s, const double *x, size_t n)
{
	PORTABLE_BLOCK()
}
#endif

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

void stats_tree_values_f(struct stats_tree *t, const float *x, size_t n)
{
	struct stats s;
	for (size_t i = 0; i < n; i += STATS_BLOCK) {
		stats_block_f(&s, x + i, n - i < STATS_BLOCK ? n - i : STATS_BLOCK);
		stats_tree_add(t, &s);
	}
}
