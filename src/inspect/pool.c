/**
 * @file pool.c
 * The worker pool: a cursor over (item, chunk) under one mutex, a count of
 * remaining chunks per item, and the calling thread waiting for the next
 * item in order (waking up ten times a second to draw the progress bar).
 */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

#include "pool.h"

struct pool {
	const struct pool_job *job;
	pthread_mutex_t lock;
	pthread_cond_t item_done; /* signalled when an item's last chunk finishes */
	size_t next_item;         /* the cursor */
	uint64_t next_chunk;
	uint64_t cur_chunks;      /* chunks of next_item */
	_Atomic uint64_t *remaining;
	int error;                /* first error; stops everything */
};

struct worker {
	struct pool *pool;
	unsigned id;
};

unsigned pool_threads(unsigned requested)
{
	if (requested)
		return requested;
	long n = sysconf(_SC_NPROCESSORS_ONLN);
	return n < 1 ? 1 : n > 1024 ? 1024 : (unsigned)n;
}

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct pool *p = w->pool;
	const struct pool_job *job = p->job;
	for (;;) {
		pthread_mutex_lock(&p->lock);
		if (p->error || p->next_item >= job->nitems) {
			pthread_mutex_unlock(&p->lock);
			break;
		}
		size_t item = p->next_item;
		uint64_t chunk = p->next_chunk++;
		if (p->next_chunk >= p->cur_chunks) {
			p->next_chunk = 0;
			if (++p->next_item < job->nitems)
				p->cur_chunks = job->nchunks(job->ctx, p->next_item);
		}
		pthread_mutex_unlock(&p->lock);

		int rc = job->run(job->ctx, w->id, item, chunk);
		if (rc < 0 || atomic_fetch_sub(&p->remaining[item], 1) == 1) {
			pthread_mutex_lock(&p->lock);
			if (rc < 0 && p->error == 0)
				p->error = rc;
			pthread_cond_signal(&p->item_done);
			pthread_mutex_unlock(&p->lock);
		}
	}
	return NULL;
}

int pool_run(const struct pool_job *job, unsigned nthreads)
{
	if (job->nitems == 0)
		return 0;
	struct pool p = {.job = job};
	p.remaining = malloc(job->nitems * sizeof(*p.remaining));
	pthread_t *threads = calloc(nthreads, sizeof(*threads));
	struct worker *workers = calloc(nthreads, sizeof(*workers));
	int rc = 0;
	unsigned started = 0;
	if (p.remaining == NULL || threads == NULL || workers == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	uint64_t total = 0;
	for (size_t i = 0; i < job->nitems; i++) {
		uint64_t n = job->nchunks(job->ctx, i);
		atomic_init(&p.remaining[i], n);
		total += n;
	}
	p.cur_chunks = job->nchunks(job->ctx, 0);
	pthread_mutex_init(&p.lock, NULL);
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&p.item_done, &ca);
	pthread_condattr_destroy(&ca);

	if (nthreads > total)
		nthreads = (unsigned)total;
	for (; started < nthreads; started++) {
		workers[started] = (struct worker){&p, started};
		if (pthread_create(&threads[started], NULL, worker_main, &workers[started]) != 0)
			break;
	}
	if (started == 0) {
		rc = -EAGAIN;
		goto destroy;
	}

	for (size_t item = 0; item < job->nitems; item++) {
		pthread_mutex_lock(&p.lock);
		while (p.error == 0 && atomic_load(&p.remaining[item]) != 0) {
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC, &ts);
			ts.tv_nsec += 100 * 1000 * 1000;
			if (ts.tv_nsec >= 1000 * 1000 * 1000) {
				ts.tv_sec++;
				ts.tv_nsec -= 1000 * 1000 * 1000;
			}
			pthread_cond_timedwait(&p.item_done, &p.lock, &ts);
			if (job->progress) {
				pthread_mutex_unlock(&p.lock);
				progress_tick(job->progress);
				pthread_mutex_lock(&p.lock);
			}
		}
		int err = p.error;
		pthread_mutex_unlock(&p.lock);
		if (err) {
			rc = err;
			break;
		}
		if (job->progress)
			progress_tick(job->progress);
		if ((rc = job->done(job->ctx, item)) < 0) {
			pthread_mutex_lock(&p.lock);
			p.error = rc;
			pthread_mutex_unlock(&p.lock);
			break;
		}
	}
	for (unsigned i = 0; i < started; i++)
		pthread_join(threads[i], NULL);
destroy:
	pthread_cond_destroy(&p.item_done);
	pthread_mutex_destroy(&p.lock);
out:
	free(p.remaining);
	free(threads);
	free(workers);
	return rc;
}
