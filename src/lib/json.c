/**
 * @file json.c
 * Strict JSON for untrusted headers and indexes.
 *
 * json-c builds the tree, but it silently keeps the last of two equal keys,
 * reads "-0" as 0 and clamps integers of 2^64 and more. So after json-c has
 * accepted the text, a second pass over the raw bytes (a small scanner that
 * never reads past the end, whatever the input) decodes every key, reports
 * duplicates and NUL bytes in keys, and, in headers, the integer spellings
 * json-c cannot tell apart. Messages name the tensor (header) or the
 * top-level key (index) they are about.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

struct key_ref {
	size_t off;
	size_t len;
};

struct scanner {
	const char *p;
	const char *end;
	const char *label;
	enum wfs_json_kind kind;
	struct wfs_error *err;
	char *keys; /* decoded keys of the objects currently open */
	size_t keys_len, keys_cap;
	struct key_ref *refs;
	size_t nrefs, refs_cap;
	size_t path[2]; /* refs index of the current key at depths 0 and 1 */
	int depth;   /* objects entered: how many path[] keys apply */
	int nesting; /* objects and arrays entered: bounded by WFS_JSON_MAX_DEPTH */
	bool quiet; /* only find where the value ends */
	int rc;
};

/* Describes where the scanner is: "tensor \"x\": shape: " and the like. */
static void where(const struct scanner *s, int levels, char *buf, size_t cap)
{
	char q[WFS_QUOTE_MAX];
	size_t o = 0;
	buf[0] = '\0';
	for (int d = 0; d < levels && d < 2 && o < cap; d++) {
		const struct key_ref *k = &s->refs[s->path[d]];
		const char *name = s->keys + k->off;
		if (d == 0 && s->kind == WFS_JSON_HEADER &&
		    !(k->len == 12 && memcmp(name, "__metadata__", 12) == 0))
			o += (size_t)snprintf(buf + o, cap - o, "tensor %s: ", wfs_quote(name, k->len, q));
		else if (d == 0 && s->kind == WFS_JSON_HEADER)
			o += (size_t)snprintf(buf + o, cap - o, "__metadata__: ");
		else
			o += (size_t)snprintf(buf + o, cap - o, "%.*s: ", (int)(k->len > 64 ? 64 : k->len), name);
	}
}

static void problem(struct scanner *s, int levels, const char *fmt, const char *arg)
{
	if (s->quiet)
		return;
	char ctx[2 * WFS_QUOTE_MAX];
	where(s, levels, ctx, sizeof(ctx));
	wfs_error_add(s->err, "%s: %s%s%s", s->label, ctx, fmt, arg);
	s->rc = WFS_EINVALID;
}

static void skip_ws(struct scanner *s)
{
	while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
		s->p++;
}

/* Scans a string at s->p ('"'); when decode, appends its bytes to s->keys. */
static bool scan_string(struct scanner *s, bool decode)
{
	const char *start = ++s->p; /* past the opening quote */
	const char *close = start;
	bool escaped = false;
	while (close < s->end && *close != '"') {
		if (*close == '\\') {
			escaped = true;
			if (++close >= s->end)
				return false;
		}
		close++;
	}
	if (close >= s->end)
		return false;
	s->p = close + 1;
	/* json-c turns a lone surrogate into bytes that are not UTF-8. */
	if (escaped && !wfs_json_surrogates_paired(start, close)) {
		problem(s, s->depth, "a string has a \\u escape of an unpaired surrogate, which is not valid UTF-8", "");
		return false;
	}
	if (!decode)
		return true;
	size_t raw = (size_t)(close - start);
	/* One byte more than needed, so that keys is never NULL, even for "". */
	if (WFS_GROW(s->keys, s->keys_cap, s->keys_len, raw + 1) < 0)
		return false;
	if (!escaped) {
		memcpy(s->keys + s->keys_len, start, raw);
		s->keys_len += raw;
		return true;
	}
	ssize_t n = wfs_json_decode_string(start, close, s->keys + s->keys_len);
	if (n < 0)
		return false;
	s->keys_len += (size_t)n;
	return true;
}

/* Checks a number's spelling where json-c cannot: "-0" and integers >= 2^64. */
static bool scan_number(struct scanner *s)
{
	const char *start = s->p;
	bool negative = false, integer = true;
	if (*s->p == '-') {
		negative = true;
		s->p++;
	}
	const char *digits = s->p;
	while (s->p < s->end && ((*s->p >= '0' && *s->p <= '9') || *s->p == '.' ||
				 *s->p == 'e' || *s->p == 'E' || *s->p == '+' || *s->p == '-')) {
		if (*s->p < '0' || *s->p > '9')
			integer = false;
		s->p++;
	}
	if (s->p == digits)
		return false;
	if (s->kind != WFS_JSON_HEADER || !integer)
		return true; /* json-c's tree tells negatives and fractions apart */

	char lexeme[48];
	size_t len = (size_t)(s->p - start);
	snprintf(lexeme, sizeof(lexeme), "%.*s%s", (int)(len > 40 ? 40 : len), start, len > 40 ? "..." : "");
	if (negative) {
		bool zero = true;
		for (const char *q = digits; q < s->p; q++)
			zero &= *q == '0';
		if (zero) {
			problem(s, s->depth, lexeme, " is not a non-negative integer");
		}
		return true;
	}
	uint64_t v = 0;
	for (const char *q = digits; q < s->p; q++) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*q - '0'), &v)) {
			problem(s, s->depth, lexeme, " does not fit in 64 bits");
			break;
		}
	}
	return true;
}

static bool scan_value(struct scanner *s);

static int compare_keys(const void *a, const void *b, void *keys)
{
	const struct key_ref *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp((char *)keys + x->off, (char *)keys + y->off, n);
	if (c)
		return c;
	return x->len < y->len ? -1 : x->len > y->len;
}

static void report_duplicate(struct scanner *s, const struct key_ref *k)
{
	char q[WFS_QUOTE_MAX];
	char msg[WFS_QUOTE_MAX + 32];
	snprintf(msg, sizeof(msg), "duplicate key %s", wfs_quote(s->keys + k->off, k->len, q));
	problem(s, s->depth, msg, "");
}

static void check_duplicates(struct scanner *s, size_t first)
{
	size_t n = s->nrefs - first;
	struct key_ref *refs = s->refs + first;
	if (n <= 8) {
		/* Tensor entries have three keys: comparing pairs beats sorting. */
		for (size_t i = 1; i < n; i++)
			for (size_t j = 0; j < i; j++)
				if (compare_keys(&refs[j], &refs[i], s->keys) == 0) {
					report_duplicate(s, &refs[i]);
					break;
				}
		return;
	}
	/* Sorting reorders refs, so the path indices into this range go stale;
	 * they are not used again for this object. */
	qsort_r(refs, n, sizeof(*refs), compare_keys, s->keys);
	for (size_t i = 1; i < n; i++)
		if (compare_keys(&refs[i - 1], &refs[i], s->keys) == 0 &&
		    (i + 1 == n || compare_keys(&refs[i], &refs[i + 1], s->keys) != 0))
			report_duplicate(s, &refs[i]);
}

static bool scan_object(struct scanner *s)
{
	s->p++; /* '{' */
	size_t first = s->nrefs;
	size_t keys_mark = s->keys_len;
	skip_ws(s);
	if (s->p < s->end && *s->p == '}') {
		s->p++;
		return true;
	}
	for (;;) {
		skip_ws(s);
		if (s->p >= s->end || *s->p != '"')
			return false;
		size_t off = s->keys_len;
		if (!scan_string(s, true))
			return false;
		if (WFS_GROW(s->refs, s->refs_cap, s->nrefs, 1) < 0)
			return false;
		struct key_ref *k = &s->refs[s->nrefs++];
		k->off = off;
		k->len = s->keys_len - off;
		if (memchr(s->keys + k->off, '\0', k->len)) {
			char q[WFS_QUOTE_MAX];
			char msg[WFS_QUOTE_MAX + 32];
			snprintf(msg, sizeof(msg), "key %s contains a NUL byte", wfs_quote(s->keys + k->off, k->len, q));
			problem(s, s->depth, msg, "");
		}
		if (s->depth < 2)
			s->path[s->depth] = s->nrefs - 1;
		skip_ws(s);
		if (s->p >= s->end || *s->p++ != ':')
			return false;
		s->depth++;
		bool ok = scan_value(s);
		s->depth--;
		if (!ok)
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		char c = *s->p++;
		if (c == '}')
			break;
		if (c != ',')
			return false;
	}
	check_duplicates(s, first);
	s->nrefs = first;
	s->keys_len = keys_mark;
	return true;
}

static bool scan_array(struct scanner *s)
{
	s->p++; /* '[' */
	skip_ws(s);
	if (s->p < s->end && *s->p == ']') {
		s->p++;
		return true;
	}
	for (;;) {
		if (!scan_value(s))
			return false;
		skip_ws(s);
		if (s->p >= s->end)
			return false;
		char c = *s->p++;
		if (c == ']')
			return true;
		if (c != ',')
			return false;
	}
}

static bool scan_literal(struct scanner *s, const char *word)
{
	size_t n = strlen(word);
	if ((size_t)(s->end - s->p) < n || memcmp(s->p, word, n) != 0)
		return false;
	s->p += n;
	return true;
}

static bool scan_container(struct scanner *s, bool (*scan_body)(struct scanner *s))
{
	/* json-c reports the depth error; the scanner only refuses to recurse. */
	if (s->nesting >= WFS_JSON_MAX_DEPTH)
		return false;
	s->nesting++;
	bool ok = scan_body(s);
	s->nesting--;
	return ok;
}

static bool scan_value(struct scanner *s)
{
	skip_ws(s);
	if (s->p >= s->end)
		return false;
	switch (*s->p) {
	case '{': return scan_container(s, scan_object);
	case '[': return scan_container(s, scan_array);
	case '"': return scan_string(s, false);
	case 't': return scan_literal(s, "true");
	case 'f': return scan_literal(s, "false");
	case 'n': return scan_literal(s, "null");
	default: return scan_number(s);
	}
}

static const char *what(enum wfs_json_kind kind)
{
	return kind == WFS_JSON_HEADER ? "header" : "index";
}

/* Walks the text once: quietly to find where the top-level object ends, or reporting. */
static bool scan(const char *label, const char *text, size_t len, enum wfs_json_kind kind,
		 bool quiet, struct wfs_error *err, size_t *end, int *rc)
{
	struct scanner s = {
		.p = text, .end = text + len, .label = label, .kind = kind, .err = err, .quiet = quiet,
	};
	skip_ws(&s);
	bool ok = s.p < s.end && *s.p == '{' && scan_value(&s);
	free(s.keys);
	free(s.refs);
	*end = (size_t)(s.p - text);
	*rc = s.rc;
	return ok;
}

int wfs_json_parse(const char *label, const char *text, size_t len,
		   enum wfs_json_kind kind, struct json_object **out,
		   struct wfs_error *err)
{
	*out = NULL;
	if (len > INT32_MAX) {
		wfs_error_add(err, "%s: %s is too large", label, what(kind));
		return WFS_EINVALID;
	}
	if (len >= 3 && memcmp(text, WFS_UTF8_BOM, 3) == 0) {
		wfs_error_add(err, "%s: %s starts with a UTF-8 byte order mark (EF BB BF), which JSON does not allow: "
			      "remove those 3 bytes", label, what(kind));
		return WFS_EINVALID;
	}
	size_t bad = wfs_utf8_valid_prefix((const unsigned char *)text, len);
	if (bad < len) {
		wfs_error_add(err, "%s: %s is not valid UTF-8 (at byte %zu)", label, what(kind), bad);
		return WFS_EINVALID;
	}
	struct json_tokener *tok = json_tokener_new_ex(WFS_JSON_MAX_DEPTH);
	if (tok == NULL)
		return -ENOMEM;
	json_tokener_set_flags(tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
	struct json_object *root = json_tokener_parse_ex(tok, text, (int)len);
	enum json_tokener_error jerr = json_tokener_get_error(tok);
	size_t at = json_tokener_get_parse_end(tok);
	json_tokener_free(tok);
	size_t end;
	int rc;
	if (root == NULL || jerr != json_tokener_success) {
		json_object_put(root);
		/* json-c's strict mode calls bytes after a complete object an
		 * "unexpected character": the scanner finds where the object ends. */
		if (jerr == json_tokener_error_parse_unexpected && scan(label, text, len, kind, true, NULL, &end, &rc) &&
		    end <= at)
			wfs_error_add(err, "%s: unexpected bytes after the %s's JSON object (at byte %zu)",
				      label, what(kind), at);
		else if (jerr == json_tokener_error_depth)
			wfs_error_add(err, "%s: %s is not valid JSON: nested more than %d levels deep",
				      label, what(kind), WFS_JSON_MAX_DEPTH);
		else if (jerr == json_tokener_continue || jerr == json_tokener_success)
			wfs_error_add(err, "%s: %s is not valid JSON: it ends too early", label, what(kind));
		else
			wfs_error_add(err, "%s: %s is not valid JSON: %s at byte %zu", label, what(kind),
				      json_tokener_error_desc(jerr), at);
		return WFS_EINVALID;
	}
	if (!json_object_is_type(root, json_type_object)) {
		json_object_put(root);
		wfs_error_add(err, "%s: %s is not a JSON object", label, what(kind));
		return WFS_EINVALID;
	}
	/* json-c stops quietly at a NUL byte: whatever follows must be padding. */
	for (size_t i = at; i < len; i++) {
		if (text[i] != ' ' && text[i] != '\t' && text[i] != '\n' && text[i] != '\r') {
			json_object_put(root);
			wfs_error_add(err, "%s: unexpected bytes after the %s's JSON object (at byte %zu)",
				      label, what(kind), i);
			return WFS_EINVALID;
		}
	}
	if (!scan(label, text, len, kind, false, err, &end, &rc) && rc == 0) {
		/* json-c accepted what the scanner could not follow, or memory ran out. */
		wfs_error_add(err, "%s: %s could not be checked (out of memory or unusual JSON)", label, what(kind));
		rc = WFS_EINVALID;
	}
	if (rc < 0) {
		json_object_put(root);
		return rc;
	}
	*out = root;
	return 0;
}
