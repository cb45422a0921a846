/**
 * @file stats.c
 * The block kernel and the pairwise combination of struct stats.
 *
 * The kernel makes two passes over a block that is in cache: one for the
 * sum, extremes and zeros, one for the deviations d from the rounded block
 * mean: m2 = sum(d^2) - sum(d)^2/n, and sum(d)/n is the mean's correction,
 * kept apart (stats.rel) rather than rounded into it. block_run() holds that
 * algorithm once; what differs by element type and instruction set is only
 * the inner loops of the two passes, a struct kernels each. On x86-64 they
 * are written with SSE2 intrinsics (part of the base ISA), four floats or two
 * doubles at a time (floats also with AVX2, eight at a time, when the CPU
 * has it), because -O2 does not vectorise floating-point reductions;
 * elsewhere (or with -DSTATS_PORTABLE) they are the same computation in
 * plain C. A block holding NaN or Inf takes a scalar path that skips them.
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

/* What the first pass finds: the sum, the extremes and the zeros. */
struct sums {
	double sum, lo, hi;
	uint64_t zeros;
};

static const struct sums no_sums = {0, INFINITY, -INFINITY, 0};

/* The first pass for one value, but for the sum. */
static inline void sums_note(struct sums *p, double v)
{
	p->lo = v < p->lo ? v : p->lo;
	p->hi = v > p->hi ? v : p->hi;
	p->zeros += v == 0;
}

/* The first pass for one value: the scalar tails of the vector loops. */
static inline void sums_add(struct sums *p, double v)
{
	p->sum += v;
	sums_note(p, v);
}

/* What the second pass finds: the sums of d^2 and of d, d = value - mean. */
struct devs {
	double q, c;
};

static inline void devs_add(struct devs *d, double v, double mean)
{
	double e = v - mean;
	d->q += e * e;
	d->c += e;
}

/* s->base, rel and m2 from the second pass over s->n values about mean. */
static void set_moments(struct stats *s, double mean, struct devs d)
{
	double n = (double)s->n;
	s->base = mean;
	s->rel = d.c / n;
	s->m2 = d.q - d.c * d.c / n;
	if (s->m2 < 0)
		s->m2 = 0;
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
	struct sums p = no_sums;
	for (size_t i = 0; i < n; i++) {
		double v = x[i];
		if (isnan(v)) {
			s->nans++;
		} else if (isinf(v)) {
			s->infs++;
		} else {
			s->n++;
			sums_add(&p, v);
		}
	}
	s->min = p.lo;
	s->max = p.hi;
	s->zeros = p.zeros;
	if (s->n == 0)
		return;
	if (!isfinite(p.sum)) {
		block_welford(s, x, n);
		return;
	}
	double mean = p.sum / (double)s->n;
	struct devs d = {0, 0};
	for (size_t i = 0; i < n; i++)
		if (isfinite(x[i]))
			devs_add(&d, x[i], mean);
	set_moments(s, mean, d);
}

static void block_slow_d(struct stats *s, const void *x, size_t n)
{
	block_slow(s, x, n);
}

static void block_slow_f(struct stats *s, const void *x, size_t n)
{
	const float *f = x;
	double tmp[STATS_BLOCK];
	for (size_t i = 0; i < n; i++)
		tmp[i] = f[i];
	block_slow(s, tmp, n);
}

/*
 * The inner loops of the two passes for one element type (x points to
 * 1 <= n <= STATS_BLOCK floats or doubles: a table only ever pairs the
 * functions of one type) and one instruction set. They take whole vectors,
 * then the rest one value at a time; each vector lane sums apart.
 */
struct kernels {
	size_t size; /* of an element */
	struct sums (*sums)(const void *x, size_t n);
	struct devs (*devs)(const void *x, size_t n, double mean);
	void (*slow)(struct stats *s, const void *x, size_t n);
};

/* Element i of floats or doubles. Where a kernel serves both types,
 * is_float is a constant at each always_inline call, so the test and the
 * other type's load fold away. */
static inline double element(const void *x, size_t i, bool is_float)
{
	return is_float ? ((const float *)x)[i] : ((const double *)x)[i];
}

#if defined(__SSE2__) && !defined(STATS_PORTABLE)
#include <emmintrin.h>

static double hsum_pd(__m128d v)
{
	return _mm_cvtsd_f64(_mm_add_sd(v, _mm_unpackhi_pd(v, v)));
}

static double hmin_pd(__m128d v)
{
	return _mm_cvtsd_f64(_mm_min_sd(v, _mm_unpackhi_pd(v, v)));
}

static double hmax_pd(__m128d v)
{
	return _mm_cvtsd_f64(_mm_max_sd(v, _mm_unpackhi_pd(v, v)));
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

static uint64_t hsum_epi64(__m128i v)
{
	uint64_t l[2];
	_mm_storeu_si128((__m128i *)l, v);
	return l[0] + l[1];
}

/* Elements i to i + 3 of floats or doubles, as two vectors of doubles. */
static inline void load4_pd(const void *x, size_t i, bool is_float, __m128d *lo, __m128d *hi)
{
	if (is_float) {
		__m128 a = _mm_loadu_ps((const float *)x + i);
		*lo = _mm_cvtps_pd(a);
		*hi = _mm_cvtps_pd(_mm_movehl_ps(a, a));
	} else {
		*lo = _mm_loadu_pd((const double *)x + i);
		*hi = _mm_loadu_pd((const double *)x + i + 2);
	}
}

static struct sums sums_f_sse2(const void *v, size_t n)
{
	const float *x = v;
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
	struct sums p = {hsum_pd(_mm_add_pd(_mm_add_pd(s0, s1), _mm_add_pd(s2, s3))),
			 hmin_ps(mn), hmax_ps(mx), hsum_epi32(nz)};
	for (; i < n; i++)
		sums_add(&p, x[i]);
	return p;
}

static struct sums sums_d_sse2(const void *v, size_t n)
{
	const double *x = v;
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
	struct sums p = {hsum_pd(_mm_add_pd(_mm_add_pd(s0, s1), _mm_add_pd(s2, s3))),
			 hmin_pd(mn), hmax_pd(mx), hsum_epi64(nz)};
	for (; i < n; i++)
		sums_add(&p, x[i]);
	return p;
}

/* The second pass, for floats and for doubles. */
static inline __attribute__((always_inline)) struct devs
devs_sse2(const void *x, size_t n, double mean, bool is_float)
{
	__m128d vm = _mm_set1_pd(mean), q0 = _mm_setzero_pd(), q1 = q0, c0 = q0, c1 = q0;
	size_t i = 0, n4 = n & ~(size_t)3;
	for (; i < n4; i += 4) {
		__m128d d0, d1;
		load4_pd(x, i, is_float, &d0, &d1);
		d0 = _mm_sub_pd(d0, vm);
		d1 = _mm_sub_pd(d1, vm);
		q0 = _mm_add_pd(q0, _mm_mul_pd(d0, d0));
		q1 = _mm_add_pd(q1, _mm_mul_pd(d1, d1));
		c0 = _mm_add_pd(c0, d0);
		c1 = _mm_add_pd(c1, d1);
	}
	struct devs d = {hsum_pd(_mm_add_pd(q0, q1)), hsum_pd(_mm_add_pd(c0, c1))};
	for (; i < n; i++)
		devs_add(&d, element(x, i, is_float), mean);
	return d;
}

static struct devs devs_f_sse2(const void *x, size_t n, double mean)
{
	return devs_sse2(x, n, mean, true);
}

static struct devs devs_d_sse2(const void *x, size_t n, double mean)
{
	return devs_sse2(x, n, mean, false);
}

static const struct kernels kernels_f_sse2 = {sizeof(float), sums_f_sse2, devs_f_sse2, block_slow_f};
static const struct kernels kernels_d_sse2 = {sizeof(double), sums_d_sse2, devs_d_sse2, block_slow_d};

#if defined(__x86_64__) && !defined(STATS_NO_AVX2)
#include <immintrin.h>
#define STATS_HAVE_AVX2 1
#define AVX2 __attribute__((target("avx2")))

AVX2 static double hsum256_pd(__m256d v)
{
	return hsum_pd(_mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1)));
}

/* The float kernels of SSE2, eight floats at a time, for CPUs with AVX2. */
AVX2 static struct sums sums_f_avx2(const void *v, size_t n)
{
	const float *x = v;
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
	struct sums p = {
		hsum256_pd(_mm256_add_pd(_mm256_add_pd(s0, s1), _mm256_add_pd(s2, s3))),
		hmin_ps(_mm_min_ps(_mm256_castps256_ps128(mn), _mm256_extractf128_ps(mn, 1))),
		hmax_ps(_mm_max_ps(_mm256_castps256_ps128(mx), _mm256_extractf128_ps(mx, 1))),
		hsum_epi32(_mm256_castsi256_si128(nz)) + hsum_epi32(_mm256_extracti128_si256(nz, 1)),
	};
	for (; i < n; i++)
		sums_add(&p, x[i]);
	return p;
}

AVX2 static struct devs devs_f_avx2(const void *v, size_t n, double mean)
{
	const float *x = v;
	__m256d vm = _mm256_set1_pd(mean), q0 = _mm256_setzero_pd(), q1 = q0, c0 = q0, c1 = q0;
	size_t i = 0, n8 = n & ~(size_t)7;
	for (; i < n8; i += 8) {
		__m256 a = _mm256_loadu_ps(x + i);
		__m256d d0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(a)), vm);
		__m256d d1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(a, 1)), vm);
		q0 = _mm256_add_pd(q0, _mm256_mul_pd(d0, d0));
		q1 = _mm256_add_pd(q1, _mm256_mul_pd(d1, d1));
		c0 = _mm256_add_pd(c0, d0);
		c1 = _mm256_add_pd(c1, d1);
	}
	struct devs d = {hsum256_pd(_mm256_add_pd(q0, q1)), hsum256_pd(_mm256_add_pd(c0, c1))};
	for (; i < n; i++)
		devs_add(&d, x[i], mean);
	return d;
}

#undef AVX2

static const struct kernels kernels_f_avx2 = {sizeof(float), sums_f_avx2, devs_f_avx2, block_slow_f};

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
#endif

static const struct kernels *kernels_f(void)
{
#ifdef STATS_HAVE_AVX2
	if (use_avx2())
		return &kernels_f_avx2;
#endif
	return &kernels_f_sse2;
}

static const struct kernels *kernels_d(void)
{
	return &kernels_d_sse2;
}

#else /* portable C: the same computation, four lanes of scalars */

/* The first pass with four partial sums, as the SSE2 kernels' lanes. */
static inline __attribute__((always_inline)) struct sums
sums_portable(const void *x, size_t n, bool is_float)
{
	struct sums p = no_sums;
	double acc[4] = {0, 0, 0, 0};
	size_t i = 0;
	for (; i + 4 <= n; i += 4)
		for (unsigned k = 0; k < 4; k++) {
			double v = element(x, i + k, is_float);
			acc[k] += v;
			sums_note(&p, v);
		}
	p.sum = (acc[0] + acc[1]) + (acc[2] + acc[3]);
	for (; i < n; i++)
		sums_add(&p, element(x, i, is_float));
	return p;
}

static inline __attribute__((always_inline)) struct devs
devs_portable(const void *x, size_t n, double mean, bool is_float)
{
	struct devs d = {0, 0};
	for (size_t i = 0; i < n; i++)
		devs_add(&d, element(x, i, is_float), mean);
	return d;
}

static struct sums sums_f_portable(const void *x, size_t n)
{
	return sums_portable(x, n, true);
}

static struct devs devs_f_portable(const void *x, size_t n, double mean)
{
	return devs_portable(x, n, mean, true);
}

static struct sums sums_d_portable(const void *x, size_t n)
{
	return sums_portable(x, n, false);
}

static struct devs devs_d_portable(const void *x, size_t n, double mean)
{
	return devs_portable(x, n, mean, false);
}

static const struct kernels kernels_f_portable = {sizeof(float), sums_f_portable, devs_f_portable,
						   block_slow_f};
static const struct kernels kernels_d_portable = {sizeof(double), sums_d_portable, devs_d_portable,
						   block_slow_d};

static const struct kernels *kernels_f(void)
{
	return &kernels_f_portable;
}

static const struct kernels *kernels_d(void)
{
	return &kernels_d_portable;
}
#endif

void stats_simd(int level)
{
#ifdef STATS_HAVE_AVX2
	atomic_store(&simd_level, level);
#else
	(void)level;
#endif
}

/*
 * The fast path needs every value finite; a non-finite value makes the
 * block's sum NaN or Inf, which sends the block to k->slow(). (So does a
 * sum of finite doubles that overflows; block_slow() then gives Inf too.)
 */
static void block_run(struct stats *s, const void *x, size_t n, const struct kernels *k)
{
	stats_init(s);
	if (n == 0)
		return;
	struct sums p = k->sums(x, n);
	if (!isfinite(p.sum)) {
		k->slow(s, x, n);
		return;
	}
	double mean = p.sum / (double)n;
	s->n = n;
	s->min = p.lo;
	s->max = p.hi;
	s->zeros = p.zeros;
	set_moments(s, mean, k->devs(x, n, mean));
}

void stats_block_f(struct stats *s, const float *x, size_t n)
{
	block_run(s, x, n, kernels_f());
}

void stats_block(struct stats *s, const double *x, size_t n)
{
	block_run(s, x, n, kernels_d());
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

static void tree_values(struct stats_tree *t, const void *x, size_t n, const struct kernels *k)
{
	struct stats s;
	for (size_t i = 0; i < n; i += STATS_BLOCK) {
		block_run(&s, (const char *)x + i * k->size, n - i < STATS_BLOCK ? n - i : STATS_BLOCK, k);
		stats_tree_add(t, &s);
	}
}

void stats_tree_values(struct stats_tree *t, const double *x, size_t n)
{
	tree_values(t, x, n, kernels_d());
}

void stats_tree_values_f(struct stats_tree *t, const float *x, size_t n)
{
	tree_values(t, x, n, kernels_f());
}
