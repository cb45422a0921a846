/**
 * @file fuzz_invariant.h
 * FZ_CHECK and fz_malloc, for every harness; fuzz_check.h adds the model
 * and namespace checks of the harnesses that build a model.
 */
#ifndef WEIGHTFS_FUZZ_INVARIANT_H
#define WEIGHTFS_FUZZ_INVARIANT_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

__attribute__((noreturn, format(printf, 1, 2)))
static void fz_fail(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	fputs("fuzz invariant broken: ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	va_end(ap);
	abort();
}

#define FZ_CHECK(cond, ...)                  \
	do {                                  \
		if (!(cond))                  \
			fz_fail(__VA_ARGS__); \
	} while (0)

static inline void *fz_malloc(size_t n)
{
	void *p = malloc(n ? n : 1);
	if (p == NULL)
		abort();
	return p;
}

#endif
