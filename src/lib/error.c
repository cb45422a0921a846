/**
 * @file error.c
 * Problem lists (struct wfs_error), warnings, and quoting untrusted names.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

void wfs_error_add(struct wfs_error *err, const char *fmt, ...)
{
	if (err == NULL)
		return;
	err->count++;
	if (err->count > WFS_ERROR_MAX_LINES)
		return;

	char line[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	size_t len = strnlen(line, sizeof(line) - 1);
	size_t need = err->len + (err->len ? 1 : 0) + len + 1;
	char *text = realloc(err->text, need);
	if (text == NULL)
		return; /* keep what we have: the count still says there was more */
	if (err->len)
		text[err->len++] = '\n';
	memcpy(text + err->len, line, len + 1);
	err->len += len;
	err->text = text;
}

void wfs_error_clear(struct wfs_error *err)
{
	if (err == NULL)
		return;
	free(err->text);
	err->text = NULL;
	err->len = 0;
	err->count = 0;
}

void wfs_warnf(const struct wfs_warn *warn, const char *fmt, ...)
{
	if (warn == NULL || warn->fn == NULL)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	warn->fn(warn->ctx, msg);
}

const char *wfs_quote(const char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	const size_t shown = 120;
	size_t o = 0;
	out[o++] = '"';
	for (size_t i = 0; i < len && i < shown; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			out[o++] = '\\';
			out[o++] = (char)c;
		} else if (c >= 0x80) {
			/* Whole UTF-8 characters as they are; any other byte escaped. */
			size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
			if (n > 1 && i + n <= len && i + n <= shown &&
			    wfs_utf8_valid_prefix((const unsigned char *)s + i, n) == n) {
				memcpy(out + o, s + i, n);
				o += n;
				i += n - 1;
			} else {
				out[o++] = '\\';
				out[o++] = 'x';
				out[o++] = hex[c >> 4];
				out[o++] = hex[c & 15];
			}
		} else if (c < 0x20 || c == 0x7f) {
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		} else {
			out[o++] = (char)c;
		}
	}
	out[o++] = '"';
	if (len > shown)
		o += (size_t)snprintf(out + o, WFS_QUOTE_MAX - o, "... (%zu bytes)", len);
	out[o] = '\0';
	return out;
}
