/**
 * @file common.c
 * Helpers the commands share: opening a SOURCE with the mount's exit codes,
 * selecting tensors, reading them, and formatting for people.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "names.h"
#include "pool.h"
#include "progress.h"

void errorf(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	flockfile(stderr);
	if (progress_visible())
		fputs("\r\033[K", stderr); /* the bar is redrawn at the next tick */
	fputs(PROG ": ", stderr);
	vfprintf(stderr, fmt, ap);
	fputc('\n', stderr);
	funlockfile(stderr);
	va_end(ap);
}

void print_problems(const struct wfs_error *err)
{
	const char *p = err->text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		errorf("%.*s", (int)len, p);
		p = nl ? nl + 1 : NULL;
	}
	if (err->count > WFS_ERROR_MAX_LINES)
		errorf("... and %u more problems", err->count - WFS_ERROR_MAX_LINES);
}

int exit_code_for(int rc)
{
	if (rc == 0)
		return EXIT_OK;
	if (rc == WFS_EINVALID)
		return EXIT_INVALID;
	if (rc == -ENOMEM || rc == -EAGAIN)
		return EXIT_INTERNAL;
	return EXIT_SOURCE;
}

static void warn_cb(void *ctx, const char *msg)
{
	struct warnings *w = ctx;
	if (w == NULL || !w->quiet)
		errorf("warning: %s", msg);
	if (w == NULL)
		return;
	if (w->n == w->cap) {
		size_t cap = w->cap ? 2 * w->cap : 8;
		char **lines = realloc(w->lines, cap * sizeof(*lines));
		if (lines == NULL)
			return; /* the warning was printed; losing it from a report is acceptable */
		w->lines = lines;
		w->cap = cap;
	}
	if ((w->lines[w->n] = strdup(msg)) != NULL)
		w->n++;
}

void warnings_free(struct warnings *w)
{
	if (w == NULL)
		return;
	for (size_t i = 0; i < w->n; i++)
		free(w->lines[i]);
	free(w->lines);
	w->lines = NULL;
	w->n = w->cap = 0;
}

int open_source(const char *source, bool extras, struct warnings *warn, struct wfs_model **out,
		struct wfs_error *err)
{
	struct wfs_error local = {0};
	struct wfs_open_options o = {.warn = {warn_cb, warn}, .no_extras = !extras};
	int rc = wfs_model_open(source, &o, out, err ? err : &local);
	if (rc < 0 && err == NULL) {
		print_problems(&local);
		if (rc == -ENOMEM)
			errorf("out of memory");
	}
	wfs_error_clear(&local);
	return exit_code_for(rc);
}

int select_or_report(const struct wfs_model *m, char *const *globs, size_t nglobs,
		     bool must_match, size_t **out, size_t *count)
{
	unsigned char *matched = calloc(nglobs ? nglobs : 1, 1);
	if (matched == NULL || select_tensors(m, globs, nglobs, out, count, matched) < 0) {
		free(matched);
		errorf("out of memory");
		return EXIT_INTERNAL;
	}
	int rc = EXIT_OK;
	for (size_t g = 0; g < nglobs && must_match; g++) {
		if (!matched[g]) {
			errorf("no tensor matches \"%s\"", globs[g]);
			rc = EXIT_USAGE;
		}
	}
	free(matched);
	if (rc) {
		free(*out);
		*out = NULL;
	}
	return rc;
}

uint64_t tensor_elements(const struct wfs_model *m, const struct wfs_tensor *t)
{
	uint64_t n = 1;
	for (uint32_t d = 0; d < t->ndim; d++)
		n *= m->dims[t->dims + d]; /* checked not to overflow when the model was opened */
	return n;
}

void put_name(FILE *f, const char *s, size_t len)
{
	/* Reversible: a backslash is escaped too, so "a\\x0ab" is not "a<newline>b". */
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			fprintf(f, "\\x%02x", c);
		else if (c == '\\')
			fputs("\\\\", f);
		else
			fputc(c, f);
	}
}

bool sha256sum_needs_escape(const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++)
		if (s[i] == '\\' || s[i] == '\n' || s[i] == '\r')
			return true;
	return false;
}

void put_sha256sum_name(FILE *f, const char *s, size_t len)
{
	for (size_t i = 0; i < len; i++) {
		if (s[i] == '\\')
			fputs("\\\\", f);
		else if (s[i] == '\n')
			fputs("\\n", f);
		else if (s[i] == '\r')
			fputs("\\r", f);
		else
			fputc(s[i], f);
	}
}

size_t name_width(const char *s, size_t len)
{
	size_t w = 0;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c < 0x20 || c == 0x7f)
			w += 4;
		else if (c == '\\')
			w += 2;
		else if ((c & 0xc0) != 0x80) /* count UTF-8 characters, not bytes */
			w++;
	}
	return w;
}

static const char *human(double v, const char *const *units, unsigned nunits, const char *sep, char buf[32])
{
	unsigned u = 0;
	while (v >= 999.5 && u + 1 < nunits) {
		v /= 1000;
		u++;
	}
	if (u == 0)
		snprintf(buf, 32, "%.0f%s%s", v, sep, units[0]);
	else
		snprintf(buf, 32, "%.*f%s%s", v < 9.995 ? 2 : v < 99.95 ? 1 : 0, v, sep, units[u]);
	return buf;
}

const char *human_bytes(uint64_t b, char buf[32])
{
	static const char *const units[] = {"B", "kB", "MB", "GB", "TB", "PB", "EB"};
	return human((double)b, units, 7, " ", buf);
}

const char *human_count(uint64_t n, char buf[32])
{
	static const char *const units[] = {"", "k", "M", "B", "T", "Q", "Qi"};
	return human((double)n, units, 7, "", buf);
}

int read_tensor(const struct wfs_model *m, const struct wfs_tensor *t, void *buf, size_t len,
		uint64_t off)
{
	ssize_t n = wfs_tensor_read(m, t, buf, len, off);
	if (n >= 0 && (size_t)n == len)
		return 0;
	int rc = n < 0 ? (int)n : -EIO;
	errorf("%s: tensor \"%s\": read of %zu bytes at offset %" PRIu64 ": %s", shard_name(m, t),
	       tensor_name(m, t), len, t->offset + off, strerror(-rc));
	return rc;
}

int run_job(const struct pool_job *job, unsigned nthreads, struct progress *progress,
	    const char *label, uint64_t total, bool show_progress)
{
	progress_init(progress, label, total, show_progress);
	int rc = pool_run(job, nthreads);
	progress_end(progress);
	if (rc == 0)
		return 0;
	if (rc == -ENOMEM || rc == -EAGAIN)
		errorf("%s", rc == -ENOMEM ? "out of memory" : "cannot start threads");
	return exit_code_for(rc);
}
