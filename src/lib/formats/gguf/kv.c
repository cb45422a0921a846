/**
 * @file gguf/kv.c
 * GGUF key/value pairs as text: what user.gguf.KEY shows and what
 * weightfs-inspect prints (parse.h, wfs_gguf_kv_render).
 *
 * Values are re-read through the bounded cursor from the buffer they were
 * validated in; output stops at a limit, so a value with a huge count costs
 * no more memory than the limit.
 */
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cursor.h"
#include "parse.h"

struct out {
	char *p;
	size_t len, cap, limit;
	int rc;
};

/* Makes room for @p n more bytes (and a NUL); false when over the limit or out of memory. */
static bool grow(struct out *o, size_t n)
{
	if (o->rc)
		return false;
	if (n > o->limit - o->len) {
		o->rc = -E2BIG;
		return false;
	}
	if (o->len + n + 1 > o->cap) {
		size_t cap = o->cap ? o->cap : 64;
		while (cap < o->len + n + 1)
			cap = cap > SIZE_MAX / 2 ? SIZE_MAX : cap * 2;
		char *np = realloc(o->p, cap);
		if (np == NULL) {
			o->rc = -ENOMEM;
			return false;
		}
		o->p = np;
		o->cap = cap;
	}
	return true;
}

static inline void put(struct out *o, const char *s, size_t n)
{
	if (__builtin_expect(o->rc == 0 && o->len + n < o->cap && n <= o->limit - o->len, 1) || grow(o, n)) {
		memcpy(o->p + o->len, s, n);
		o->len += n;
		o->p[o->len] = '\0';
	}
}

/* An integer in decimal, without printf. */
static void put_int(struct out *o, uint64_t v, bool negative)
{
	char b[24];
	size_t i = sizeof(b);
	do {
		b[--i] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	if (negative)
		b[--i] = '-';
	put(o, b + i, sizeof(b) - i);
}

static void put_signed(struct out *o, int64_t v)
{
	put_int(o, v < 0 ? (uint64_t)0 - (uint64_t)v : (uint64_t)v, v < 0);
}

static void puts_(struct out *o, const char *s)
{
	put(o, s, strlen(s));
}

/*
 * The shortest decimal text that reads back to the same float of its width
 * (integral values without an exponent); NaN/Infinity as Python's json.
 */
static void put_float(struct out *o, double v, bool single)
{
	char b[40];
	if (isnan(v)) {
		puts_(o, "NaN");
		return;
	}
	if (isinf(v)) {
		puts_(o, v < 0 ? "-Infinity" : "Infinity");
		return;
	}
	if (v == 0 && signbit(v)) { /* "-0" would read back as the integer 0 */
		puts_(o, "-0.0");
		return;
	}
	if (v == floor(v) && fabs(v) < 9007199254740992.0) { /* integral: "10000", not "1e+04" */
		snprintf(b, sizeof(b), "%.0f", v);
		puts_(o, b);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(b, sizeof(b), "%.*g", prec, v);
		if (single ? strtof(b, NULL) == (float)v : strtod(b, NULL) == v)
			break;
	}
	puts_(o, b);
}

/* A JSON string body as Python's json.dumps(ensure_ascii=False) writes it. */
static void put_json_string(struct out *o, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	put(o, "\"", 1);
	size_t run = 0;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c >= 0x20 && c != '"' && c != '\\')
			continue;
		put(o, s + run, i - run);
		run = i + 1;
		char e[7] = {'\\', 0, 0, 0, 0, 0, 0};
		size_t el = 2;
		switch (c) {
		case '"': e[1] = '"'; break;
		case '\\': e[1] = '\\'; break;
		case '\n': e[1] = 'n'; break;
		case '\r': e[1] = 'r'; break;
		case '\t': e[1] = 't'; break;
		case '\b': e[1] = 'b'; break;
		case '\f': e[1] = 'f'; break;
		default:
			e[1] = 'u';
			e[2] = '0';
			e[3] = '0';
			e[4] = hex[c >> 4];
			e[5] = hex[c & 15];
			el = 6;
		}
		put(o, e, el);
	}
	put(o, s + run, n - run);
	put(o, "\"", 1);
}

static void put_value(struct out *o, struct wfs_cursor *c, uint32_t type, bool in_json, unsigned depth)
{
	switch (type) {
	case WFS_GGUF_UINT8: put_int(o, wfs_cur_u8(c), false); return;
	case WFS_GGUF_INT8: put_signed(o, (int8_t)wfs_cur_u8(c)); return;
	case WFS_GGUF_UINT16: put_int(o, wfs_cur_u16le(c), false); return;
	case WFS_GGUF_INT16: put_signed(o, (int16_t)wfs_cur_u16le(c)); return;
	case WFS_GGUF_UINT32: put_int(o, wfs_cur_u32le(c), false); return;
	case WFS_GGUF_INT32: put_signed(o, (int32_t)wfs_cur_u32le(c)); return;
	case WFS_GGUF_UINT64: put_int(o, wfs_cur_u64le(c), false); return;
	case WFS_GGUF_INT64: put_signed(o, (int64_t)wfs_cur_u64le(c)); return;
	case WFS_GGUF_BOOL: puts_(o, wfs_cur_u8(c) ? "true" : "false"); return;
	case WFS_GGUF_FLOAT32: {
		uint32_t u = wfs_cur_u32le(c);
		float f;
		memcpy(&f, &u, 4);
		put_float(o, f, true);
		return;
	}
	case WFS_GGUF_FLOAT64: {
		uint64_t u = wfs_cur_u64le(c);
		double d;
		memcpy(&d, &u, 8);
		put_float(o, d, false);
		return;
	}
	case WFS_GGUF_STRING: {
		uint64_t n = wfs_cur_u64le(c);
		const uint8_t *s = wfs_cur_take(c, n);
		if (s == NULL) {
			o->rc = o->rc ? o->rc : -EINVAL;
			return;
		}
		if (in_json)
			put_json_string(o, (const char *)s, (size_t)n);
		else
			put(o, (const char *)s, (size_t)n);
		return;
	}
	case WFS_GGUF_ARRAY: {
		uint32_t it = wfs_cur_u32le(c);
		uint64_t n = wfs_cur_u64le(c);
		if (c->bad || it >= WFS_GGUF_TYPE_COUNT || depth >= WFS_GGUF_MAX_NESTING) {
			o->rc = o->rc ? o->rc : -EINVAL;
			return;
		}
		put(o, "[", 1);
		for (uint64_t i = 0; i < n && o->rc == 0 && !c->bad; i++) {
			if (i)
				put(o, ",", 1);
			put_value(o, c, it, true, depth + 1);
		}
		put(o, "]", 1);
		return;
	}
	default:
		o->rc = o->rc ? o->rc : -EINVAL;
		return;
	}
}

int wfs_gguf_kv_render(const uint8_t *buf, const struct wfs_gguf_kv *kv, size_t limit, char **out,
		       size_t *out_len, bool *json)
{
	struct out o = {NULL, 0, 0, limit, 0};
	struct wfs_cursor c = wfs_cursor_make(buf + kv->value_off, kv->value_len);
	/* Room for the usual text at once (JSON of an array is about twice its encoding). */
	size_t guess = kv->value_len < (32u << 20) ? kv->value_len * 2 + 16 : (64u << 20);
	guess = guess < limit ? guess : limit;
	if (!grow(&o, guess < 4096 ? 1 : guess)) {
		free(o.p);
		return o.rc;
	}
	o.p[0] = '\0';
	put_value(&o, &c, kv->type, false, 0);
	if (o.rc == 0 && c.bad)
		o.rc = -EINVAL;
	if (o.rc != 0) {
		free(o.p);
		return o.rc;
	}
	*out = o.p;
	*out_len = o.len;
	*json = kv->type != WFS_GGUF_STRING;
	return 0;
}
