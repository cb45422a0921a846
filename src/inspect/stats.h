/**
 * @file stats.h
 * Streaming statistics of real values: count, mean, variance, extremes and
 * the number of zeros, NaN and Inf, accumulated in double.
 *
 * Values are taken a block at a time (at most STATS_BLOCK, in cache): the
 * block's mean and its sum of squared deviations are computed in two passes,
 * then blocks are combined with Chan et al.'s pairwise update, in a binary
 * tree (stats_tree), so rounding grows with log(n), not n.
 */
#ifndef INSPECT_STATS_H
#define INSPECT_STATS_H

#include <stddef.h>
#include <stdint.h>

#define STATS_BLOCK 1024

/**
 * Mean, variance and extremes are of the finite values only. The mean is
 * kept as base + rel (a block's rounded mean and the correction found by the
 * second pass), so that the difference of two means, which Chan's update
 * squares, keeps its digits when the values sit far from zero.
 */
struct stats {
	uint64_t n;        /**< finite values */
	double base, rel;  /**< mean = base + rel */
	double m2;         /**< sum of squared deviations from the mean */
	double min, max;   /**< +Inf and -Inf while n == 0 */
	uint64_t zeros;    /**< values equal to 0 (either sign) */
	uint64_t nans;
	uint64_t infs;     /**< either sign */
};

void stats_init(struct stats *s);

/** The statistics of @p n (at most STATS_BLOCK) values. */
void stats_block(struct stats *s, const double *x, size_t n);
void stats_block_f(struct stats *s, const float *x, size_t n);

/**
 * Which vector instructions stats_block_f() uses on x86-64: -1 the best the
 * CPU has (the default: AVX2 when present), 0 SSE2 only. For the tests.
 */
void stats_simd(int level);

/** @p a becomes the statistics of a's values followed by b's. */
void stats_merge(struct stats *a, const struct stats *b);

static inline double stats_mean(const struct stats *s)
{
	return s->base + s->rel;
}

/** Every value, finite or not. */
static inline uint64_t stats_count(const struct stats *s)
{
	return s->n + s->nans + s->infs;
}

/** Bessel-corrected standard deviation (as torch.std); NaN below 2 values. */
double stats_std(const struct stats *s);

/** Pairwise combination of a sequence of block statistics. */
struct stats_tree {
	struct stats level[64]; /**< level k holds 2^k leaves when bit k of used is set */
	uint64_t used;
};

void stats_tree_init(struct stats_tree *t);
void stats_tree_add(struct stats_tree *t, const struct stats *s);
void stats_tree_result(const struct stats_tree *t, struct stats *out);

/** Adds @p n values of any length, block by block. */
void stats_tree_values(struct stats_tree *t, const double *x, size_t n);
void stats_tree_values_f(struct stats_tree *t, const float *x, size_t n);

#endif
