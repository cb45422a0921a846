/**
 * @file safetensors.c
 * Validates one safetensors file and appends its tensors to a model.
 *
 * Layout: an 8-byte little-endian header length N, N bytes of JSON, then the
 * data section, which the tensors' data_offsets must tile exactly. Every
 * length and offset is checked with overflow-checked arithmetic before use;
 * nothing here trusts a number from the file.
 *
 * The header is read in one pass by a parser that knows its schema, on the
 * strict lexer of jsonlex.c, rather than through a json-c tree: mounting a
 * DeepSeek-V3-sized model reads 163 headers and 92,000 tensor entries, and
 * building and freeing json-c objects for them was more than half of the
 * mount time (measured with callgrind; see contrib/bench/RESULTS.md). The
 * parser is strict JSON: the same grammar, plus duplicate keys, integer
 * spellings and nesting depth checked as it goes.
 *
 * The format's entry (wfs_format_safetensors) is at the end of the file.
 */
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"

/* A name quoted for a message; only evaluated when there is a problem to report. */
#define QUOTE(name) wfs_quote((name), strlen(name), (char[WFS_QUOTE_MAX]){0})
#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

int wfs_st_check_prefix(const char *label, const uint8_t prefix[8], uint64_t file_size,
			uint64_t *header_len, struct wfs_error *err)
{
	if (file_size < 8) {
		wfs_error_add(err, "%s: file is %llu bytes, shorter than the 8-byte header length",
			      label, (unsigned long long)file_size);
		return WFS_EINVALID;
	}
	uint64_t n = 0;
	for (int i = 7; i >= 0; i--)
		n = n << 8 | prefix[i];
	uint64_t end;
	if (n == 0) {
		wfs_error_add(err, "%s: header length is 0", label);
		return WFS_EINVALID;
	}
	if (n > WFS_MAX_HEADER_LEN) {
		wfs_error_add(err, "%s: header length %llu exceeds the limit of %llu bytes", label,
			      (unsigned long long)n, (unsigned long long)WFS_MAX_HEADER_LEN);
		return WFS_EINVALID;
	}
	if (__builtin_add_overflow(n, 8, &end) || end > file_size) {
		wfs_error_add(err, "%s: header length %llu runs past the end of the file (%llu bytes)",
			      label, (unsigned long long)n, (unsigned long long)file_size);
		return WFS_EINVALID;
	}
	*header_len = n;
	return 0;
}

/* Writes "[2,2]" (at most @p cap bytes, cut with "...") for messages. */
static void shape_for_message(const struct wfs_model *m, const struct wfs_tensor *t, char *buf, size_t cap)
{
	size_t o = (size_t)snprintf(buf, cap, "[");
	for (uint32_t i = 0; i < t->ndim && o + 24 < cap; i++)
		o += (size_t)snprintf(buf + o, cap - o, "%s%llu", i ? "," : "",
				      (unsigned long long)m->dims[t->dims + i]);
	snprintf(buf + o, cap - o, "%s]", o + 24 >= cap ? ",..." : "");
}

/* Checks that [begin,end) holds exactly numel x dtype-size bytes; sets nbytes. */
static int check_length(struct wfs_model *m, struct wfs_tensor *t, const uint64_t off[2],
			const char *label, const char *name, struct wfs_error *err)
{
	char shape[160];
	uint64_t numel = 1;
	bool overflow = false;
	for (uint32_t i = 0; i < t->ndim; i++)
		overflow |= __builtin_mul_overflow(numel, m->dims[t->dims + i], &numel);
	if (overflow) {
		shape_for_message(m, t, shape, sizeof(shape));
		wfs_error_add(err, "%s: tensor %s: element count of shape %s overflows 64 bits", label, QUOTE(name), shape);
		return WFS_EINVALID;
	}
	unsigned bits = wfs_dtype_bits(t->dtype);
	uint64_t total_bits;
	if (__builtin_mul_overflow(numel, bits, &total_bits)) {
		shape_for_message(m, t, shape, sizeof(shape));
		wfs_error_add(err, "%s: tensor %s: size of %s %s overflows 64 bits", label, QUOTE(name),
			      wfs_dtype_name(t->dtype), shape);
		return WFS_EINVALID;
	}
	if (total_bits % 8) {
		shape_for_message(m, t, shape, sizeof(shape));
		wfs_error_add(err, "%s: tensor %s: %s %s is %llu bits, not a whole number of bytes", label,
			      QUOTE(name), wfs_dtype_name(t->dtype), shape, (unsigned long long)total_bits);
		return WFS_EINVALID;
	}
	t->nbytes = total_bits / 8;
	if (off[1] - off[0] != t->nbytes) {
		shape_for_message(m, t, shape, sizeof(shape));
		wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] do not match %s %s (%llu bytes)",
			      label, QUOTE(name), (unsigned long long)off[0], (unsigned long long)off[1],
			      wfs_dtype_name(t->dtype), shape, (unsigned long long)t->nbytes);
		return WFS_EINVALID;
	}
	return 0;
}


/* ---- one pass over the header ------------------------------------------- */

struct range {
	uint64_t begin, end;
	size_t tensor;
};

/* Keys of one object, decoded, for the duplicate check. */
struct keyset {
	struct wfs_strings text;
	struct wfs_str *keys;
	size_t n, cap;
};

struct header {
	struct wfs_json_cursor c;
	struct wfs_model *m;
	uint32_t shard;
	uint32_t group;
	const char *label;
	const struct wfs_warn *warn;
	struct wfs_error *err;
	uint64_t data_start;
	int rc;        /* WFS_EINVALID once a problem was reported, or -ENOMEM */
	bool broken;   /* not JSON: nothing after the first syntax error is read */
	struct wfs_strings scratch; /* the key or string being read */
	struct range *ranges;
	size_t nranges, ranges_cap;
	/* Tensor entry keys other than dtype, shape and data_offsets are ignored,
	 * as the reference implementation does, with one warning per file. */
	size_t unknown_keys;
	char unknown_key[WFS_QUOTE_MAX], unknown_tensor[WFS_QUOTE_MAX];
};

static void problem(struct header *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void problem(struct header *h, const char *fmt, ...)
{
	char msg[900];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wfs_error_add(h->err, "%s: %s", h->label, msg);
	if (h->rc == 0)
		h->rc = WFS_EINVALID;
}

/* Reports a syntax error at the cursor; always returns false. */
static bool syntax(struct header *h)
{
	if (!h->broken) {
		if (h->c.too_deep)
			problem(h, "header is not valid JSON: nested more than %d levels deep", WFS_JSON_MAX_DEPTH);
		else if (h->c.p >= h->c.end)
			problem(h, "header is not valid JSON: it ends too early");
		else
			problem(h, "header is not valid JSON: unexpected character at byte %zu",
				(size_t)(h->c.p - h->c.begin));
	}
	h->broken = true;
	return false;
}

static bool expect(struct header *h, char ch)
{
	wfs_jc_ws(&h->c);
	if (h->c.p >= h->c.end || *h->c.p != ch)
		return syntax(h);
	h->c.p++;
	return true;
}

/* After a member: true with *more set, or false on a syntax error. */
static bool next_member(struct header *h, char close, bool *more)
{
	wfs_jc_ws(&h->c);
	if (h->c.p < h->c.end && (*h->c.p == ',' || *h->c.p == close)) {
		*more = *h->c.p++ == ',';
		return true;
	}
	return syntax(h);
}

/* Reads a string into h->scratch (decoded, NUL-terminated): *out, *len. */
static bool read_string(struct header *h, const char **out, size_t *len)
{
	struct wfs_json_token t;
	wfs_jc_ws(&h->c);
	if (!wfs_jc_string(&h->c, &t))
		return syntax(h);
	h->scratch.len = 0;
	if (WFS_GROW(h->scratch.data, h->scratch.cap, 0, t.len + 1) < 0) {
		h->rc = -ENOMEM;
		h->broken = true;
		return false;
	}
	ssize_t n = t.escaped ? wfs_json_decode_string(t.text, t.text + t.len, h->scratch.data) : (ssize_t)t.len;
	if (n < 0) {
		/* The lexer accepted the escapes: only an unpaired surrogate is left. */
		problem(h, "header is not valid UTF-8: the string at byte %zu has a \\u escape of an unpaired surrogate",
			(size_t)(t.text - 1 - h->c.begin));
		h->broken = true;
		return false;
	}
	if (!t.escaped)
		memcpy(h->scratch.data, t.text, t.len);
	h->scratch.data[n] = '\0';
	*out = h->scratch.data;
	*len = (size_t)n;
	return true;
}

/* Adds a key to @p ks. */
static bool remember_key(struct header *h, struct keyset *ks, const char *key, size_t len)
{
	if (WFS_GROW(ks->keys, ks->cap, ks->n, 1) < 0 || wfs_strings_add(&ks->text, key, len, &ks->keys[ks->n]) < 0) {
		h->rc = -ENOMEM;
		h->broken = true;
		return false;
	}
	ks->n++;
	return true;
}

static int compare_keys(const void *a, const void *b, void *text)
{
	const struct wfs_str *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp((char *)text + x->off, (char *)text + y->off, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

/*
 * Reports every key of @p ks that appears more than once, after the prefix
 * @p where_fmt (with @p name quoted into it, when given). Small objects (a
 * tensor entry has three keys) are compared pairwise, larger ones sorted.
 */
static void check_duplicates(struct header *h, struct keyset *ks, const char *where_fmt, const char *name,
			     size_t name_len)
{
	char *text = ks->text.data;
	for (size_t i = 1; i < ks->n; i++) {
		bool dup = false;
		if (ks->n <= 8) {
			for (size_t j = 0; j < i && !dup; j++)
				dup = compare_keys(&ks->keys[j], &ks->keys[i], ks->text.data) == 0;
		} else {
			if (i == 1)
				qsort_r(ks->keys, ks->n, sizeof(*ks->keys), compare_keys, ks->text.data);
			dup = compare_keys(&ks->keys[i - 1], &ks->keys[i], text) == 0 &&
			      (i + 1 == ks->n || compare_keys(&ks->keys[i], &ks->keys[i + 1], text) != 0);
		}
		if (dup) {
			char where[WFS_QUOTE_MAX + 32];
			snprintf(where, sizeof(where), where_fmt, name ? QUOTE_LEN(name, name_len) : "");
			problem(h, "%sduplicate key %s", where, QUOTE_LEN(text + ks->keys[i].off, ks->keys[i].len));
		}
	}
}

static void keyset_free(struct keyset *ks)
{
	free(ks->text.data);
	free(ks->keys);
}

/*
 * Reads a value that must be a non-negative integer below 2^64.
 * Returns 1, 0 after describing the problem in @p why, or -1 on a syntax error.
 */
static int read_u64(struct header *h, int depth, uint64_t *out, char *why, size_t cap)
{
	wfs_jc_ws(&h->c);
	const char *start = h->c.p;
	if (h->c.p < h->c.end && (*h->c.p == '-' || (*h->c.p >= '0' && *h->c.p <= '9'))) {
		struct wfs_json_token t;
		if (!wfs_jc_number(&h->c, &t))
			return syntax(h) ? 1 : -1;
		int shown = (int)(t.len > 40 ? 40 : t.len);
		const char *more = t.len > 40 ? "..." : "";
		if (!t.integer || t.text[0] == '-') {
			snprintf(why, cap, "%.*s%s is not a non-negative integer", shown, t.text, more);
			return 0;
		}
		uint64_t v = 0;
		for (size_t i = 0; i < t.len; i++) {
			if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(t.text[i] - '0'), &v)) {
				snprintf(why, cap, "%.*s%s does not fit in 64 bits", shown, t.text, more);
				return 0;
			}
		}
		*out = v;
		return 1;
	}
	if (!wfs_jc_skip_value(&h->c, depth))
		return syntax(h) ? 1 : -1;
	size_t len = (size_t)(h->c.p - start);
	snprintf(why, cap, "%.*s%s is not a non-negative integer", (int)(len > 40 ? 40 : len), start,
		 len > 40 ? "..." : "");
	return 0;
}

/*
 * Reads an array of non-negative integers into *vals (grown as needed).
 * Returns 1, 0 with @p why set (the value was skipped), or -1 on a syntax error.
 */
static int read_u64_array(struct header *h, int depth, uint64_t **vals, size_t *n, size_t *cap,
			  char *why, size_t whycap)
{
	wfs_jc_ws(&h->c);
	if (h->c.p >= h->c.end || *h->c.p != '[') {
		if (!wfs_jc_skip_value(&h->c, depth))
			return syntax(h) ? 1 : -1;
		why[0] = '\0';
		return 0;
	}
	if (depth >= WFS_JSON_MAX_DEPTH) {
		h->c.too_deep = true;
		return syntax(h) ? 1 : -1;
	}
	h->c.p++;
	wfs_jc_ws(&h->c);
	if (h->c.p < h->c.end && *h->c.p == ']') {
		h->c.p++;
		return 1;
	}
	int result = 1;
	for (bool more = true; more;) {
		uint64_t v = 0;
		int r = read_u64(h, depth + 1, &v, result ? why : (char[96]){0}, result ? whycap : 96);
		if (r < 0)
			return -1;
		if (r == 0)
			result = 0;
		if (result) {
			if (WFS_GROW(*vals, *cap, *n, 1) < 0) {
				h->rc = -ENOMEM;
				h->broken = true;
				return -1;
			}
			(*vals)[(*n)++] = v;
		}
		if (!next_member(h, ']', &more))
			return -1;
	}
	return result;
}

static bool is_key(const char *key, size_t len, const char *word)
{
	return len == strlen(word) && memcmp(key, word, len) == 0;
}

/* __metadata__: null or an object of strings. The first shard to define a key wins. */
static bool read_metadata(struct header *h)
{
	struct wfs_model *m = h->m;
	wfs_jc_ws(&h->c);
	if (h->c.p < h->c.end && *h->c.p == 'n') {
		if (!wfs_jc_skip_value(&h->c, 1) || h->c.p[-1] != 'l')
			return syntax(h);
		return true;
	}
	if (h->c.p >= h->c.end || *h->c.p != '{') {
		if (!wfs_jc_skip_value(&h->c, 1))
			return syntax(h);
		problem(h, "__metadata__ must be null or an object of strings");
		return true;
	}
	h->c.p++;
	wfs_jc_ws(&h->c);
	if (h->c.p < h->c.end && *h->c.p == '}') {
		h->c.p++;
		return true;
	}
	struct keyset keys = {0};
	bool ok = true;
	for (bool more = true; more && ok;) {
		const char *key;
		size_t klen;
		char q[WFS_QUOTE_MAX];
		if (!read_string(h, &key, &klen) || !remember_key(h, &keys, key, klen) || !expect(h, ':')) {
			ok = false;
			break;
		}
		/* A key with a NUL byte is kept (summary shows it); it cannot be an
		 * attribute name, which xattr.c leaves out with a warning. */
		wfs_quote(key, klen, q);
		wfs_jc_ws(&h->c);
		if (h->c.p >= h->c.end || *h->c.p != '"') {
			if (!wfs_jc_skip_value(&h->c, 2))
				ok = syntax(h);
			else
				problem(h, "__metadata__ must be null or an object of strings: the value of %s is not a string", q);
		} else {
			const struct wfs_kv *seen = NULL;
			for (size_t i = 0; i < m->nmetadata && !seen; i++)
				if (m->metadata[i].group == h->group && m->metadata[i].key.len == klen &&
				    memcmp(wfs_model_str(m, m->metadata[i].key), key, klen) == 0)
					seen = &m->metadata[i];
			struct wfs_str k = {0}, v;
			/* The key lives in scratch, which read_string reuses: keep it first. */
			if (!seen && wfs_arena_add(m, key, klen, &k) < 0) {
				h->rc = -ENOMEM;
				break;
			}
			const char *value;
			size_t vlen;
			if (!read_string(h, &value, &vlen)) {
				ok = false;
				break;
			}
			if (seen) {
				if (seen->value.len != vlen || memcmp(wfs_model_str(m, seen->value), value, vlen) != 0)
					wfs_warnf(h->warn, "%s: __metadata__ %s differs from an earlier shard's; the earlier value is shown",
						  h->label, q);
			} else if (WFS_GROW(m->metadata, m->cap.metadata, m->nmetadata, 1) < 0 ||
				   wfs_arena_add(m, value, vlen, &v) < 0) {
				h->rc = -ENOMEM;
				break;
			} else {
				m->metadata[m->nmetadata++] = (struct wfs_kv){.key = k, .value = v, .space = WFS_KV_METADATA, .group = h->group};
			}
		}
		if (ok && !next_member(h, '}', &more))
			ok = false;
	}
	if (ok && h->rc != -ENOMEM)
		check_duplicates(h, &keys, "__metadata__: %s", NULL, 0);
	keyset_free(&keys);
	return ok && h->rc != -ENOMEM;
}

/* Appends a validated tensor and its range. */
static bool add_tensor(struct header *h, const char *name, size_t len, struct wfs_tensor *t, const uint64_t off[2])
{
	struct wfs_model *m = h->m;
	if (WFS_GROW(m->tensors, m->cap.tensors, m->ntensors, 1) < 0 ||
	    WFS_GROW(h->ranges, h->ranges_cap, h->nranges, 1) < 0 ||
	    wfs_arena_add(m, name, len, &t->name) < 0 ||
	    wfs_arena_shape(m, t->ndim ? m->dims + t->dims : NULL, t->ndim, &t->shape_text) < 0) {
		h->rc = -ENOMEM;
		h->broken = true;
		return false;
	}
	h->ranges[h->nranges++] = (struct range){off[0], off[1], m->ntensors};
	m->tensors[m->ntensors++] = *t;
	return true;
}

/*
 * One tensor entry: {"dtype": ..., "shape": [...], "data_offsets": [b, e]}.
 * Reports its first problem; returns false only on a syntax error.
 */
static bool read_tensor(struct header *h, const char *name, size_t name_len)
{
	struct wfs_model *m = h->m;
	char qname[WFS_QUOTE_MAX];
	const char *q = NULL; /* the quoted name, made on the first problem */
#define TNAME (q ? q : (q = wfs_quote(name, name_len, qname)))
	wfs_jc_ws(&h->c);
	if (h->c.p >= h->c.end || *h->c.p != '{') {
		if (!wfs_jc_skip_value(&h->c, 1))
			return syntax(h);
		problem(h, "tensor %s: entry is not an object", TNAME);
		return true;
	}
	h->c.p++;
	struct wfs_tensor t = {.shard = h->shard, .dims = m->ndims};
	uint64_t off[2] = {0};
	size_t noff = 0;
	bool has_dtype = false, has_shape = false, has_offsets = false, bad = false;
	size_t dims_mark = m->ndims;
	struct keyset keys = {0};
	bool ok = true;
	wfs_jc_ws(&h->c);
	bool more = !(h->c.p < h->c.end && *h->c.p == '}');
	if (!more)
		h->c.p++;
	while (more && ok) {
		const char *key;
		size_t klen;
		char why[160] = "";
		if (!read_string(h, &key, &klen) || !remember_key(h, &keys, key, klen) || !expect(h, ':')) {
			ok = false;
			break;
		}
		if (is_key(key, klen, "dtype")) {
			has_dtype = true;
			wfs_jc_ws(&h->c);
			const char *start = h->c.p;
			if (h->c.p < h->c.end && *h->c.p == '"') {
				const char *v;
				size_t vlen;
				if (!read_string(h, &v, &vlen)) {
					ok = false;
					break;
				}
				if (wfs_dtype_parse(v, vlen, &t.dtype) < 0 && !bad) {
					problem(h, "tensor %s: unknown dtype %s", TNAME, QUOTE_LEN(v, vlen));
					bad = true;
				}
			} else if (!wfs_jc_skip_value(&h->c, 2)) {
				ok = syntax(h);
				break;
			} else if (!bad) {
				problem(h, "tensor %s: unknown dtype %.*s", TNAME, (int)(h->c.p - start > 40 ? 40 : h->c.p - start), start);
				bad = true;
			}
		} else if (is_key(key, klen, "shape")) {
			has_shape = true;
			m->ndims = dims_mark;
			int r = read_u64_array(h, 2, &m->dims, &m->ndims, &m->cap.dims, why, sizeof(why));
			if (r < 0) {
				ok = false;
				break;
			}
			if (r == 0 && !bad) {
				problem(h, "tensor %s: shape must be an array of non-negative integers%s%s", TNAME,
					why[0] ? ": " : "", why);
				bad = true;
			}
			if (m->ndims - dims_mark > UINT32_MAX) {
				h->rc = -ENOMEM;
				ok = false;
				break;
			}
			t.ndim = (uint32_t)(m->ndims - dims_mark);
		} else if (is_key(key, klen, "data_offsets")) {
			has_offsets = true;
			noff = 0;
			uint64_t *vals = NULL;
			size_t cap = 0;
			int r = read_u64_array(h, 2, &vals, &noff, &cap, why, sizeof(why));
			if (r > 0 && noff == 2)
				memcpy(off, vals, 2 * sizeof(*vals));
			free(vals);
			if (r < 0) {
				ok = false;
				break;
			}
			if ((r == 0 || noff != 2) && !bad) {
				problem(h, "tensor %s: data_offsets must be an array of two non-negative integers%s%s", TNAME,
					why[0] ? ": " : "", why);
				bad = true;
			}
		} else {
			if (!wfs_jc_skip_value(&h->c, 2)) {
				ok = syntax(h);
				break;
			}
			if (h->unknown_keys++ == 0) {
				wfs_quote(key, klen, h->unknown_key);
				snprintf(h->unknown_tensor, sizeof(h->unknown_tensor), "%s", TNAME);
			}
		}
		if (!next_member(h, '}', &more))
			ok = false;
	}
	if (ok && h->rc != -ENOMEM) {
		int rc_before = h->rc;
		h->rc = 0;
		check_duplicates(h, &keys, "tensor %s: ", name, name_len);
		bad |= h->rc != 0;
		if (h->rc == 0)
			h->rc = rc_before;
	}
	keyset_free(&keys);
	if (!ok || bad || h->rc == -ENOMEM) {
		m->ndims = dims_mark;
		return ok;
	}
	const char *missing = !has_dtype ? "dtype" : !has_shape ? "shape" : !has_offsets ? "data_offsets" : NULL;
	if (missing) {
		problem(h, "tensor %s: missing \"%s\"", TNAME, missing);
	} else if (off[0] > off[1]) {
		problem(h, "tensor %s: data_offsets [%llu,%llu] are reversed", TNAME,
			(unsigned long long)off[0], (unsigned long long)off[1]);
	} else if (memchr(name, '\0', name_len)) {
		problem(h, "key %s contains a NUL byte", TNAME);
	} else if (check_length(m, &t, off, h->label, name, h->err) < 0) {
		if (h->rc == 0)
			h->rc = WFS_EINVALID;
	} else if (__builtin_add_overflow(h->data_start, off[0], &t.offset)) {
		/* The tiling check would catch it too; this keeps t.offset meaningful. */
		problem(h, "tensor %s: data_offsets run past the end of the data section", TNAME);
	} else {
		add_tensor(h, name, name_len, &t, off); /* out of memory ends the parse through h->broken */
		return true;
	}
	m->ndims = dims_mark;
	return true;
#undef TNAME
}

static int compare_ranges(const void *a, const void *b)
{
	const struct range *x = a, *y = b;
	if (x->begin != y->begin)
		return x->begin < y->begin ? -1 : 1;
	return (x->end > y->end) - (x->end < y->end);
}

/* The ranges, sorted by offset, must tile [0, data_len) with no gap or overlap. */
static int check_tiling(const struct wfs_model *m, struct range *r, size_t n, uint64_t data_len,
			const char *label, struct wfs_error *err)
{
	if (n > 1) /* r is NULL for a header without tensors */
		qsort(r, n, sizeof(*r), compare_ranges);
	int rc = 0;
	uint64_t covered = 0;
	size_t prev = SIZE_MAX;
	for (size_t i = 0; i < n; i++) {
		const char *name = wfs_model_str(m, m->tensors[r[i].tensor].name);
		if (r[i].end > data_len) {
			wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] run past the end of the data section (%llu bytes)",
				      label, QUOTE(name), (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
				      (unsigned long long)data_len);
			rc = WFS_EINVALID;
		}
		if (r[i].begin > covered) {
			wfs_error_add(err, "%s: tensor %s: data section bytes [%llu,%llu) before it belong to no tensor",
				      label, QUOTE(name), (unsigned long long)covered, (unsigned long long)r[i].begin);
			rc = WFS_EINVALID;
		} else if (r[i].begin < covered) {
			const char *pname = wfs_model_str(m, m->tensors[r[prev].tensor].name);
			wfs_error_add(err, "%s: tensor %s: data_offsets [%llu,%llu] overlap tensor %s [%llu,%llu]",
				      label, QUOTE(name), (unsigned long long)r[i].begin, (unsigned long long)r[i].end,
				      QUOTE(pname),
				      (unsigned long long)r[prev].begin, (unsigned long long)r[prev].end);
			rc = WFS_EINVALID;
		}
		if (r[i].end > covered) {
			covered = r[i].end;
			prev = i;
		} else if (prev == SIZE_MAX) {
			prev = i;
		}
	}
	if (covered < data_len) {
		wfs_error_add(err, "%s: the data section has %llu bytes after the last tensor (it is %llu bytes, tensors end at %llu)",
			      label, (unsigned long long)(data_len - covered), (unsigned long long)data_len,
			      (unsigned long long)covered);
		rc = WFS_EINVALID;
	}
	return rc;
}

int wfs_st_parse_header(struct wfs_model *m, uint32_t shard, uint32_t group, const char *label, const struct wfs_warn *warn,
			const char *header, size_t header_len, uint64_t file_size,
			struct wfs_error *err)
{
	size_t bad = wfs_utf8_valid_prefix((const unsigned char *)header, header_len);
	if (bad < header_len) {
		wfs_error_add(err, "%s: header is not valid UTF-8 (at byte %zu)", label, bad);
		return WFS_EINVALID;
	}
	if (header_len >= 3 && memcmp(header, WFS_UTF8_BOM, 3) == 0) {
		wfs_error_add(err, "%s: header starts with a UTF-8 byte order mark (EF BB BF), which JSON does not allow", label);
		return WFS_EINVALID;
	}
	if (header_len == 0 || header[0] != '{') {
		wfs_error_add(err, "%s: header is not a JSON object (it does not start with '{')", label);
		return WFS_EINVALID;
	}
	struct header h = {
		.c = {.p = header + 1, .begin = header, .end = header + header_len},
		.m = m, .shard = shard, .group = group, .label = label, .warn = warn, .err = err,
		.data_start = 8 + (uint64_t)header_len, /* bounded by wfs_st_check_prefix */
	};
	size_t first = m->ntensors;
	struct keyset names = {0};
	wfs_jc_ws(&h.c);
	bool more = !(h.c.p < h.c.end && *h.c.p == '}');
	if (!more)
		h.c.p++;
	while (more) {
		const char *key;
		size_t klen;
		if (!read_string(&h, &key, &klen) || !remember_key(&h, &names, key, klen) || !expect(&h, ':'))
			break;
		/* read_tensor reuses scratch: work on the copy in names. */
		const struct wfs_str *k = &names.keys[names.n - 1];
		const char *name = names.text.data + k->off;
		bool ok = is_key(name, k->len, "__metadata__") ? read_metadata(&h) : read_tensor(&h, name, k->len);
		if (!ok || !next_member(&h, '}', &more))
			break;
		name = NULL;
	}
	if (!h.broken) {
		wfs_jc_ws(&h.c);
		if (h.c.p < h.c.end)
			problem(&h, "unexpected bytes after the header's JSON object (at byte %zu)",
				(size_t)(h.c.p - header));
		else
			check_duplicates(&h, &names, "%s", NULL, 0);
	}
	if (h.rc == 0)
		h.rc = check_tiling(m, h.ranges, h.nranges, file_size - h.data_start, label, err);
	if (h.rc == 0 && h.unknown_keys)
		wfs_warnf(warn, "%s: tensor %s: unknown key %s ignored (%zu such key%s in this file; a tensor entry "
			  "has dtype, shape and data_offsets)", label, h.unknown_tensor, h.unknown_key, h.unknown_keys,
			  h.unknown_keys == 1 ? "" : "s");
	if (h.rc < 0)
		m->ntensors = first;
	keyset_free(&names);
	free(h.scratch.data);
	free(h.ranges);
	return h.rc;
}

/* Content decides: an 8-byte length within the limit, then the JSON object's '{'. */
static int st_probe(const uint8_t *head, size_t len, const char *name)
{
	if (len >= 9) {
		uint64_t n = 0;
		for (int i = 7; i >= 0; i--)
			n = n << 8 | head[i];
		if (n > 0 && n <= WFS_MAX_HEADER_LEN && head[8] == '{')
			return 100;
	}
	size_t k = strlen(name);
	/* A broken .safetensors file is still ours to explain. */
	return k > 12 && strcmp(name + k - 12, ".safetensors") == 0 ? 10 : 0;
}

static int st_open(struct wfs_build *b, uint32_t shard, struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	const struct wfs_shard *s = &m->shards[shard];
	char label[PATH_MAX]; /* the arena moves while the header is parsed */
	snprintf(label, sizeof(label), "%s", wfs_model_str(m, s->name));
	uint8_t prefix[8] = {0};
	uint64_t header_len = 0;
	if (s->size >= 8) {
		ssize_t n = wfs_shard_pread(m, s, prefix, 8, 0);
		if (n < 0) {
			wfs_error_add(err, "%s: %s", label, strerror((int)-n));
			return (int)n;
		}
	}
	int rc = wfs_st_check_prefix(label, prefix, s->size, &header_len, err);
	if (rc < 0)
		return rc;
	uint8_t *header = NULL;
	if ((rc = wfs_build_read(b, shard, 8, (size_t)header_len, &header)) < 0) {
		if (rc != -ENOMEM)
			wfs_error_add(err, "%s: %s", label, strerror(-rc));
		return rc;
	}
	size_t t0 = m->ntensors;
	rc = wfs_st_parse_header(m, shard, b->group, label, b->warn, (const char *)header, (size_t)header_len,
				 s->size, err);
	free(header);
	for (size_t i = t0; i < m->ntensors; i++)
		m->tensors[i].group = b->group;
	return rc;
}

static const char *const st_extensions[] = {".safetensors", NULL};

const struct wfs_format wfs_format_safetensors = {
	.name = "safetensors",
	.probe = st_probe,
	.open = st_open,
	.extensions = st_extensions,
	.preferred = "model.safetensors",
};
