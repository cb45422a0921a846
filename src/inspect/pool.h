/**
 * @file pool.h
 * Runs the chunks of a list of items on worker threads and hands the items
 * back to the calling thread in order, each once all its chunks are done.
 *
 * Chunks are taken in item order, so the items finish roughly in order and
 * the caller can print each as soon as it is ready; memory stays bounded by
 * the chunks in flight, whatever the size of the model.
 */
#ifndef INSPECT_POOL_H
#define INSPECT_POOL_H

#include <stddef.h>
#include <stdint.h>

#include "progress.h"

struct pool_job {
	size_t nitems;
	/** Chunks of item @p item: at least 1. */
	uint64_t (*nchunks)(void *ctx, size_t item);
	/** Runs one chunk on worker @p worker (< nthreads); 0 or a negative errno, which stops the job. */
	int (*run)(void *ctx, unsigned worker, size_t item, uint64_t chunk);
	/** On the calling thread, in item order: 0 or a negative errno, which stops the job. */
	int (*done)(void *ctx, size_t item);
	void *ctx;
	struct progress *progress; /**< ticked while waiting; may be NULL */
};

/** The number of worker threads: @p requested, or one per online CPU when 0. */
unsigned pool_threads(unsigned requested);

/**
 * Runs the job on @p nthreads workers. Returns 0 or the first error of run
 * or done (-ENOMEM, -EAGAIN when no thread could be started).
 */
int pool_run(const struct pool_job *job, unsigned nthreads);

#endif
