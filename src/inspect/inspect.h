/**
 * @file inspect.h
 * What the commands of weightfs-inspect share: the parsed command line,
 * the command table, exit codes, and helpers to open a SOURCE, select
 * tensors and report problems.
 */
#ifndef INSPECT_INSPECT_H
#define INSPECT_INSPECT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "weightfs/model.h"

#define PROG "weightfs-inspect"

/** The same codes as the mount's (weightfs(1)). */
enum exit_code {
	EXIT_OK = 0,
	EXIT_INTERNAL = 1, /**< out of memory, no thread */
	EXIT_USAGE = 2,
	EXIT_SOURCE = 3,   /**< SOURCE missing or unreadable, I/O error, no model in it */
	EXIT_INVALID = 4,  /**< invalid model */
};

/** Bytes read from a tensor at a time. */
#define CHUNK_BYTES (4u << 20)

struct cli {
	bool json;
	bool hash;      /**< verify --hash */
	bool strict;    /**< verify --strict */
	const char *paths; /**< verify --paths[=LAYOUT]: the layout whose paths to print, or NULL */
	bool progress;  /**< a progress bar is allowed (no --no-progress) */
	unsigned jobs;  /**< -j N; 0 for one per online CPU */
	const char *map; /**< diff --map FILE, or NULL */
	char **args;    /**< operands after the command */
	size_t nargs;
};

enum command_options {
	OPT_JOBS = 1,   /**< -j N and --no-progress */
	OPT_HASH = 2,
	OPT_STRICT = 4,
	OPT_MAP = 16,   /**< --map FILE */
	OPT_PATHS = 8,
};

struct command {
	const char *name;
	const char *synopsis; /**< operands, e.g. "SOURCE [GLOB...]" */
	const char *summary;  /**< one line, for weightfs-inspect --help */
	const char *help;     /**< description, options and an example */
	unsigned min_args, max_args;
	unsigned options;
	int (*run)(const struct cli *cli);
};

extern const struct command cmd_summary, cmd_ls, cmd_stats, cmd_verify, cmd_diff;

/* ---- common.c ---- */

/** Warnings of the library, kept for verify's report and printed to stderr. */
struct warnings {
	char **lines;
	size_t n, cap;
	bool quiet; /**< keep without printing */
};

/**
 * Opens @p source like the mount does. On failure prints the problems
 * (one per line, as the mount does) and returns the exit code; 0 otherwise.
 * @p err, when not NULL, receives the problems instead of their being printed.
 */
int open_source(const char *source, bool extras, struct warnings *warn, struct wfs_model **out,
		struct wfs_error *err);

void warnings_free(struct warnings *w);

/** "weightfs-inspect: " then the message, to stderr. */
void errorf(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/** Prints every line of @p err prefixed like errorf(). */
void print_problems(const struct wfs_error *err);

/** The exit code for a negative errno of the library. */
int exit_code_for(int rc);

struct pool_job;
struct progress;

/**
 * Runs @p job on @p nthreads workers behind a progress bar labelled
 * @p label (over @p total bytes). Returns 0, or the exit code after saying
 * what failed.
 */
int run_job(const struct pool_job *job, unsigned nthreads, struct progress *progress,
	    const char *label, uint64_t total, bool show_progress);

/**
 * Tensors of @p m matching @p globs (all when none) in natural order. Prints
 * the globs that matched nothing and returns EXIT_USAGE for them when
 * @p must_match; else 0, or EXIT_INTERNAL.
 */
int select_or_report(const struct wfs_model *m, char *const *globs, size_t nglobs,
		     bool must_match, size_t **out, size_t *count);

uint64_t tensor_elements(const struct wfs_model *m, const struct wfs_tensor *t);

static inline const char *tensor_name(const struct wfs_model *m, const struct wfs_tensor *t)
{
	return wfs_model_str(m, t->name);
}

static inline const char *shard_name(const struct wfs_model *m, const struct wfs_tensor *t)
{
	return wfs_model_str(m, m->shards[t->shard].name);
}

/**
 * Writes a name for people: printable bytes as they are, a backslash as
 * \\, other bytes below 0x20 and 0x7f as \xNN (so the escaping is reversible).
 */
void put_name(FILE *f, const char *s, size_t len);

/**
 * sha256sum's escaping of a file name (coreutils 9): a line whose name has a
 * backslash, newline or carriage return starts with a backslash, and those
 * three are written \\, \n and \r.
 */
bool sha256sum_needs_escape(const char *s, size_t len);
void put_sha256sum_name(FILE *f, const char *s, size_t len);

/** Width put_name() takes, in bytes. */
size_t name_width(const char *s, size_t len);

/** "2.47 GB" (powers of 1000). */
const char *human_bytes(uint64_t b, char buf[32]);

/** "1.24 B" parameters (k, M, B, T). */
const char *human_count(uint64_t n, char buf[32]);

/**
 * Reads @p len bytes at @p off of tensor @p t; on failure prints
 * "SHARD: tensor "NAME": read at offset N: ERROR" and returns -errno.
 */
int read_tensor(const struct wfs_model *m, const struct wfs_tensor *t, void *buf, size_t len,
		uint64_t off);

#endif
