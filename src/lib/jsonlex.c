/**
 * @file jsonlex.c
 * A strict JSON lexer over untrusted bytes (RFC 8259): strings, numbers,
 * literals and whole values, each checked as it is read and never read past
 * the cursor's end. The safetensors header parser is built on it; so is the
 * duplicate-key check that follows json-c on indexes.
 */
#include <string.h>

#include "internal.h"

size_t wfs_utf8_valid_prefix(const unsigned char *s, size_t len)
{
	size_t i = 0;
	while (i < len) {
		/* ASCII runs, 8 bytes at a time: the common case in headers. */
		uint64_t word;
		while (len - i >= 8 && (memcpy(&word, s + i, 8), (word & 0x8080808080808080ULL) == 0))
			i += 8;
		if (i >= len)
			break;
		unsigned char c = s[i];
		size_t n;
		unsigned lo = 0x80, hi = 0xbf; /* allowed range of the second byte */
		if (c < 0x80) {
			i++;
			continue;
		} else if (c >= 0xc2 && c <= 0xdf) {
			n = 2;
		} else if (c >= 0xe0 && c <= 0xef) {
			n = 3;
			if (c == 0xe0)
				lo = 0xa0; /* overlong */
			if (c == 0xed)
				hi = 0x9f; /* surrogates */
		} else if (c >= 0xf0 && c <= 0xf4) {
			n = 4;
			if (c == 0xf0)
				lo = 0x90;
			if (c == 0xf4)
				hi = 0x8f; /* above U+10FFFF */
		} else {
			return i;
		}
		if (len - i < n || s[i + 1] < lo || s[i + 1] > hi)
			return i;
		for (size_t k = 2; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
		i += n;
	}
	return len;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Reads 4 hex digits at *p (before end); advances *p. */
static bool read_u16(const char **p, const char *end, unsigned *out)
{
	if (end - *p < 4)
		return false;
	unsigned v = 0;
	for (int i = 0; i < 4; i++) {
		int h = hexval((*p)[i]);
		if (h < 0)
			return false;
		v = v * 16 + (unsigned)h;
	}
	*p += 4;
	*out = v;
	return true;
}

/* Writes cp (not a surrogate) as UTF-8; returns the bytes written. */
static size_t put_utf8(char *o, unsigned cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

ssize_t wfs_json_decode_string(const char *p, const char *end, char *o)
{
	char *start = o;
	while (p < end) {
		char c = *p++;
		if (c != '\\') {
			*o++ = c;
			continue;
		}
		if (p >= end)
			return -1;
		unsigned cp;
		switch (*p++) {
		case '"': cp = '"'; break;
		case '\\': cp = '\\'; break;
		case '/': cp = '/'; break;
		case 'b': cp = '\b'; break;
		case 'f': cp = '\f'; break;
		case 'n': cp = '\n'; break;
		case 'r': cp = '\r'; break;
		case 't': cp = '\t'; break;
		case 'u':
			if (!read_u16(&p, end, &cp))
				return -1;
			/* A high surrogate must be followed by a low one; the pair is one
			 * character. Anything else would be invalid UTF-8 (RFC 3629). */
			if (cp >= 0xdc00 && cp < 0xe000)
				return -1;
			if (cp >= 0xd800 && cp < 0xdc00) {
				const char *q = p + 2;
				unsigned lo;
				if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !read_u16(&q, end, &lo) ||
				    lo < 0xdc00 || lo >= 0xe000)
					return -1;
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				p = q;
			}
			break;
		default:
			return -1;
		}
		o += put_utf8(o, cp);
	}
	return o - start;
}

bool wfs_json_surrogates_paired(const char *p, const char *end)
{
	while (p < end) {
		if (*p++ != '\\')
			continue;
		if (p >= end)
			return false;
		if (*p++ != 'u')
			continue;
		unsigned cp, lo;
		if (!read_u16(&p, end, &cp))
			return false;
		if (cp >= 0xdc00 && cp < 0xe000)
			return false;
		if (cp >= 0xd800 && cp < 0xdc00) {
			const char *q = p + 2;
			if (end - p < 6 || p[0] != '\\' || p[1] != 'u' || !read_u16(&q, end, &lo) ||
			    lo < 0xdc00 || lo >= 0xe000)
				return false;
			p = q;
		}
	}
	return true;
}

void wfs_jc_ws(struct wfs_json_cursor *c)
{
	while (c->p < c->end && (*c->p == ' ' || *c->p == '\t' || *c->p == '\n' || *c->p == '\r'))
		c->p++;
}

bool wfs_jc_string(struct wfs_json_cursor *c, struct wfs_json_token *t)
{
	if (c->p >= c->end || *c->p != '"')
		return false;
	const char *q = c->p + 1;
	t->escaped = false;
	while (q < c->end && *q != '"') {
		unsigned char ch = (unsigned char)*q;
		if (ch < 0x20)
			return false; /* control characters must be escaped */
		if (ch == '\\') {
			t->escaped = true;
			if (++q >= c->end)
				return false;
			if (*q == 'u') {
				const char *h = q + 1;
				unsigned cp;
				if (!read_u16(&h, c->end, &cp))
					return false;
				q = h;
				continue;
			}
			if (!strchr("\"\\/bfnrt", *q) || *q == '\0')
				return false;
		}
		q++;
	}
	if (q >= c->end)
		return false;
	t->text = c->p + 1;
	t->len = (size_t)(q - t->text);
	c->p = q + 1;
	return true;
}

bool wfs_jc_number(struct wfs_json_cursor *c, struct wfs_json_token *t)
{
	const char *q = c->p;
	const char *end = c->end;
	t->integer = true;
	if (q < end && *q == '-')
		q++;
	if (q >= end || *q < '0' || *q > '9')
		return false;
	if (*q == '0')
		q++;
	else
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	if (q < end && *q == '.') {
		t->integer = false;
		if (++q >= end || *q < '0' || *q > '9')
			return false;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < end && (*q == 'e' || *q == 'E')) {
		t->integer = false;
		if (++q < end && (*q == '+' || *q == '-'))
			q++;
		if (q >= end || *q < '0' || *q > '9')
			return false;
		while (q < end && *q >= '0' && *q <= '9')
			q++;
	}
	t->text = c->p;
	t->len = (size_t)(q - c->p);
	t->escaped = false;
	c->p = q;
	return true;
}

static bool literal(struct wfs_json_cursor *c, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(c->end - c->p) < n || memcmp(c->p, word, n) != 0)
		return false;
	c->p += n;
	return true;
}

bool wfs_jc_skip_value(struct wfs_json_cursor *c, int depth)
{
	struct wfs_json_token t;
	wfs_jc_ws(c);
	if (c->p >= c->end)
		return false;
	char open = *c->p;
	if (open == '"')
		return wfs_jc_string(c, &t);
	if (open == 't')
		return literal(c, "true");
	if (open == 'f')
		return literal(c, "false");
	if (open == 'n')
		return literal(c, "null");
	if (open != '{' && open != '[')
		return wfs_jc_number(c, &t);
	if (depth >= WFS_JSON_MAX_DEPTH) {
		c->too_deep = true;
		return false;
	}
	char close = open == '{' ? '}' : ']';
	c->p++;
	wfs_jc_ws(c);
	if (c->p < c->end && *c->p == close) {
		c->p++;
		return true;
	}
	for (;;) {
		if (open == '{') {
			wfs_jc_ws(c);
			if (!wfs_jc_string(c, &t))
				return false;
			wfs_jc_ws(c);
			if (c->p >= c->end || *c->p++ != ':')
				return false;
		}
		if (!wfs_jc_skip_value(c, depth + 1))
			return false;
		wfs_jc_ws(c);
		if (c->p >= c->end)
			return false;
		char sep = *c->p++;
		if (sep == close)
			return true;
		if (sep != ',')
			return false;
	}
}
