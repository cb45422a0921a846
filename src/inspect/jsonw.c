/**
 * @file jsonw.c
 * The JSON writer of --json output.
 */
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "jsonw.h"

void jw_init(struct jw *w, FILE *f)
{
	memset(w, 0, sizeof(*w));
	w->f = f;
}

/* Before any value: the comma that separates it from the previous one. */
static void value_start(struct jw *w)
{
	if (w->after_key) {
		w->after_key = false;
		return;
	}
	if (w->need_comma[w->depth])
		fputc(',', w->f);
	w->need_comma[w->depth] = true;
}

/* Nesting is bounded by the commands' output, far below JW_MAX_DEPTH. */
static void open_container(struct jw *w, char open, char close)
{
	value_start(w);
	fputc(open, w->f);
	if (w->depth + 1 < JW_MAX_DEPTH)
		w->depth++;
	w->need_comma[w->depth] = false;
	w->closer[w->depth] = close;
}

void jw_object(struct jw *w)
{
	open_container(w, '{', '}');
}

void jw_array(struct jw *w)
{
	open_container(w, '[', ']');
}

void jw_end(struct jw *w)
{
	if (w->depth == 0)
		return;
	fputc(w->closer[w->depth], w->f);
	w->depth--;
}

void jw_key(struct jw *w, const char *key)
{
	value_start(w);
	fputc('"', w->f);
	json_escape(w->f, key, strlen(key));
	fputs("\":", w->f);
	w->after_key = true;
}

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0. */
static size_t utf8_len(const unsigned char *s, size_t n)
{
	unsigned c = s[0];
	size_t len;
	uint32_t cp, min;
	if (c < 0x80)
		return 1;
	if ((c & 0xe0) == 0xc0) {
		len = 2, cp = c & 0x1f, min = 0x80;
	} else if ((c & 0xf0) == 0xe0) {
		len = 3, cp = c & 0x0f, min = 0x800;
	} else if ((c & 0xf8) == 0xf0) {
		len = 4, cp = c & 0x07, min = 0x10000;
	} else {
		return 0;
	}
	if (len > n)
		return 0;
	for (size_t i = 1; i < len; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
		return 0;
	return len;
}

void json_escape(FILE *f, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s;
	for (size_t i = 0; i < len;) {
		unsigned c = p[i];
		if (c == '"' || c == '\\') {
			fputc('\\', f);
			fputc((int)c, f);
			i++;
		} else if (c < 0x20) {
			switch (c) {
			case '\n':
				fputs("\\n", f);
				break;
			case '\t':
				fputs("\\t", f);
				break;
			case '\r':
				fputs("\\r", f);
				break;
			default:
				fprintf(f, "\\u%04x", c);
			}
			i++;
		} else {
			size_t n = utf8_len(p + i, len - i);
			if (n == 0) { /* not UTF-8 (a file name): the replacement character */
				fputs("\\ufffd", f);
				i++;
			} else {
				fwrite(p + i, 1, n, f);
				i += n;
			}
		}
	}
}

void jw_string(struct jw *w, const char *s, size_t len)
{
	value_start(w);
	fputc('"', w->f);
	json_escape(w->f, s, len);
	fputc('"', w->f);
}

void jw_cstring(struct jw *w, const char *s)
{
	jw_string(w, s, strlen(s));
}

void jw_u64(struct jw *w, uint64_t v)
{
	value_start(w);
	fprintf(w->f, "%" PRIu64, v);
}

void jw_i64(struct jw *w, int64_t v)
{
	value_start(w);
	fprintf(w->f, "%" PRId64, v);
}

const char *fmt_double(double v, char buf[32])
{
	/* %g drops trailing zeros, so the first precision that reads back is the shortest. */
	for (int prec = 15; prec <= 17; prec++) {
		snprintf(buf, 32, "%.*g", prec, v);
		if (prec == 17 || strtod(buf, NULL) == v)
			break;
	}
	return buf;
}

void jw_double(struct jw *w, double v)
{
	if (isnan(v)) {
		jw_cstring(w, "NaN");
		return;
	}
	if (isinf(v)) {
		jw_cstring(w, v > 0 ? "Infinity" : "-Infinity");
		return;
	}
	char buf[32];
	value_start(w);
	/* "-0" would read back as the integer 0 in most parsers. */
	fputs(v == 0 && signbit(v) ? "-0.0" : fmt_double(v, buf), w->f);
}

void jw_bool(struct jw *w, bool v)
{
	value_start(w);
	fputs(v ? "true" : "false", w->f);
}

void jw_null(struct jw *w)
{
	value_start(w);
	fputs("null", w->f);
}

void jw_raw(struct jw *w, const char *json, size_t len)
{
	value_start(w);
	fwrite(json, 1, len, w->f);
}
