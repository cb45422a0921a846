/**
 * @file error.h
 * Problems reported by the library: one human-readable line per problem.
 *
 * Library functions return 0 or a negative errno. When they fail because of
 * what a file contains (an invalid model) they return WFS_EINVALID and record
 * every problem they found, one line each, naming the file and the tensor.
 * Any other negative errno means the source could not be read at all.
 */
#ifndef WEIGHTFS_ERROR_H
#define WEIGHTFS_ERROR_H

#include <errno.h>
#include <stddef.h>

/** Returned when a model is readable but invalid. */
#define WFS_EINVALID (-EBADMSG)

/** How many problem lines are kept; the rest are only counted. */
#define WFS_ERROR_MAX_LINES 50

struct wfs_error {
	char *text;      /**< problem lines separated by '\n', or NULL */
	size_t len;      /**< strlen(text) */
	unsigned count;  /**< problems recorded, including those not kept */
};

/** Appends one problem line (printf-style, no trailing newline). */
void wfs_error_add(struct wfs_error *err, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/** Frees the text and resets to no problems. NULL is a no-op. */
void wfs_error_clear(struct wfs_error *err);

/** Receives warnings: things wrong with a model that do not stop it. */
struct wfs_warn {
	void (*fn)(void *ctx, const char *msg);
	void *ctx;
};

#endif
