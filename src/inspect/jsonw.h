/**
 * @file jsonw.h
 * A streaming JSON writer: commas and nesting are tracked, strings escaped.
 *
 * Output is compact, one document per command. Non-finite numbers, which
 * JSON cannot represent, are written as the strings "NaN", "Infinity" and
 * "-Infinity".
 */
#ifndef INSPECT_JSONW_H
#define INSPECT_JSONW_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define JW_MAX_DEPTH 32

struct jw {
	FILE *f;
	unsigned depth;
	bool need_comma[JW_MAX_DEPTH];
	char closer[JW_MAX_DEPTH]; /**< '}' or ']' of each open container */
	bool after_key;
};

void jw_init(struct jw *w, FILE *f);
void jw_object(struct jw *w);
void jw_array(struct jw *w);
void jw_end(struct jw *w); /**< closes the innermost object or array */
void jw_key(struct jw *w, const char *key);
void jw_string(struct jw *w, const char *s, size_t len);
void jw_cstring(struct jw *w, const char *s);
void jw_u64(struct jw *w, uint64_t v);
void jw_i64(struct jw *w, int64_t v);
void jw_double(struct jw *w, double v);
void jw_bool(struct jw *w, bool v);
void jw_null(struct jw *w);
/** A value that is already JSON text. */
void jw_raw(struct jw *w, const char *json, size_t len);

/** Writes @p s escaped as the body of a JSON string (without quotes). */
void json_escape(FILE *f, const char *s, size_t len);

/** The shortest "%.Ng" text that reads back as @p v (finite @p v); returns buf. */
const char *fmt_double(double v, char buf[32]);

#endif
