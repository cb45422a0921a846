/**
 * @file progress.h
 * A progress bar on stderr, drawn only when stderr is a terminal and the
 * work has taken more than a second.
 */
#ifndef INSPECT_PROGRESS_H
#define INSPECT_PROGRESS_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct progress {
	bool enabled;
	bool drawn;
	bool stdout_tty;          /**< output lines must first erase the bar */
	const char *label;
	uint64_t total;           /**< bytes */
	_Atomic uint64_t done;    /**< bytes, added by any thread */
	double start, last_draw;  /**< seconds, monotonic */
};

/** @p allowed is false with --no-progress; the bar also needs a terminal. */
void progress_init(struct progress *p, const char *label, uint64_t total, bool allowed);

/** Any thread: @p bytes more are done. */
static inline void progress_add(struct progress *p, uint64_t bytes)
{
	atomic_fetch_add_explicit(&p->done, bytes, memory_order_relaxed);
}

/** The thread that prints: redraws at most ten times a second. */
void progress_tick(struct progress *p);

/** Erases the bar (before the final output or an error message). */
void progress_end(struct progress *p);

/** True while a bar is drawn: a message on stderr must first erase it. */
bool progress_visible(void);

/** Before printing a line on stdout: erases the bar if both share the terminal. */
static inline void progress_before_output(struct progress *p)
{
	if (p->drawn && p->stdout_tty)
		progress_end(p);
}

#endif
