/**
 * @file walk.c
 * Names the tensors and metadata of a PyTorch pickle (see walk.h).
 */
#include "walk.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../internal.h"

#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

struct walker {
	const struct wfs_pickle *p;
	const struct wfs_pt_walk_opts *o;
	const struct wfs_pt_sink *sink;
	const char *label, *what;
	struct wfs_error *err;
	char *name;                /* the current name, NUL-terminated */
	size_t len, cap;
	size_t root_len;
	size_t visits, max_visits;     /* values visited; at most twice the pickle's values */
	size_t name_bytes, max_name_bytes; /* bytes of every emitted name */
	bool root_seen;
	struct wfs_strings seen;   /* every emitted name, for the duplicate check */
	struct wfs_str *names;
	size_t nnames, capnames;
	struct wfs_pt_tensor t;
};

#define FAIL(w, ...)                                                                          \
	do {                                                                                  \
		char msg_[512];                                                               \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                    \
		wfs_error_add((w)->err, "%s: %s: %s", (w)->label, (w)->what, msg_);           \
		return WFS_EINVALID;                                                          \
	} while (0)

static int append(struct walker *w, const char *s, size_t n, bool dot)
{
	size_t need = w->len + (dot ? 1 : 0) + n + 1;
	if (need > WFS_PT_MAX_NAME)
		FAIL(w, "a name longer than %d bytes under %s", WFS_PT_MAX_NAME, QUOTE_LEN(w->name, w->len));
	if (WFS_GROW(w->name, w->cap, 0, need) < 0)
		return -ENOMEM;
	if (dot)
		w->name[w->len++] = '.';
	memcpy(w->name + w->len, s, n);
	w->len += n;
	w->name[w->len] = '\0';
	return 0;
}

/* The name as shown: without the root prefix; NULL when outside the root. */
static const char *shown(struct walker *w, size_t *len)
{
	if (w->o->root == NULL) {
		*len = w->len;
		return w->name;
	}
	if (w->len > w->root_len && memcmp(w->name, w->o->root, w->root_len) == 0 && w->name[w->root_len] == '.') {
		*len = w->len - w->root_len - 1;
		return w->name + w->root_len + 1;
	}
	return NULL;
}

/* Records the emitted name; the duplicate check runs at the end. */
static int record(struct walker *w, const char *name, size_t len)
{
	w->name_bytes += len;
	if (w->name_bytes > w->max_name_bytes)
		FAIL(w, "names of more than %zu bytes in all (shared references repeated)", w->max_name_bytes);
	if (WFS_GROW(w->names, w->capnames, w->nnames, 1) < 0)
		return -ENOMEM;
	if (wfs_strings_add(&w->seen, name, len, &w->names[w->nnames]) < 0)
		return -ENOMEM;
	w->nnames++;
	w->root_seen = true;
	return 0;
}

static int emit_tensor(struct walker *w)
{
	if (w->len == 0)
		FAIL(w, "a tensor without a name (the pickle holds a tensor at its top, not a dict)");
	if (w->o->root && w->len == w->root_len && memcmp(w->name, w->o->root, w->len) == 0)
		FAIL(w, "root=%s names a tensor, not a dict", QUOTE_LEN(w->o->root, w->root_len));
	size_t len;
	const char *name = shown(w, &len);
	if (name == NULL)
		return 0;
	int rc = record(w, name, len);
	return rc < 0 ? rc : w->sink->tensor(w->sink->ctx, name, len, &w->t);
}

static int emit_kv(struct walker *w, const char *value, size_t vlen, bool json)
{
	size_t len;
	const char *name = shown(w, &len);
	if (name == NULL || len == 0)
		return 0;
	/* It becomes an xattr name: text without NUL, like a tensor name. */
	if (memchr(name, '\0', len) || wfs_utf8_valid_prefix((const unsigned char *)name, len) != len)
		FAIL(w, "metadata key %s is %s", QUOTE_LEN(name, len),
		     memchr(name, '\0', len) ? "holding a NUL byte" : "not valid UTF-8");
	int rc = record(w, name, len);
	return rc < 0 ? rc : w->sink->kv(w->sink->ctx, name, len, value, vlen, json);
}

/* Python's repr of a float, as JSON (Infinity and NaN as json.dumps writes them). */
static size_t format_float(double f, char *buf, size_t cap)
{
	if (isnan(f))
		return (size_t)snprintf(buf, cap, "NaN");
	if (isinf(f))
		return (size_t)snprintf(buf, cap, f < 0 ? "-Infinity" : "Infinity");
	int n = 0;
	for (int prec = 1; prec <= 17; prec++) {
		n = snprintf(buf, cap, "%.*g", prec, f);
		if (strtod(buf, NULL) == f)
			break;
	}
	if (strpbrk(buf, ".e") == NULL && (size_t)n + 2 < cap) {
		memcpy(buf + n, ".0", 3);
		n += 2;
	}
	return (size_t)n;
}

/* A growing text buffer for JSON values. */
struct sbuf {
	char *d;
	size_t len, cap;
	bool bad;
};

static void put(struct sbuf *b, const char *s, size_t n)
{
	if (b->bad || b->len + n > WFS_PT_MAX_KV_VALUE || WFS_GROW(b->d, b->cap, b->len, n + 1) < 0) {
		b->bad = true;
		return;
	}
	memcpy(b->d + b->len, s, n);
	b->len += n;
}

/* Appends the JSON of scalar @p id; marks @p b bad when it is no scalar or cannot be shown. */
static void json_scalar(const struct wfs_pickle *p, uint32_t id, struct sbuf *b)
{
	const struct wfs_pk_value *v = &p->v[id];
	char tmp[40];
	size_t n = 0;
	switch (v->kind) {
	case WFS_PK_NONE:
		n = (size_t)snprintf(tmp, sizeof(tmp), "null");
		break;
	case WFS_PK_BOOL:
		n = (size_t)snprintf(tmp, sizeof(tmp), v->u.b ? "true" : "false");
		break;
	case WFS_PK_INT:
		n = (size_t)snprintf(tmp, sizeof(tmp), "%lld", (long long)v->u.i);
		break;
	case WFS_PK_FLOAT:
		n = format_float(v->u.f, tmp, sizeof(tmp));
		break;
	case WFS_PK_STR: {
		const unsigned char *s = p->data + v->u.s.off;
		if (wfs_utf8_valid_prefix(s, v->u.s.len) != v->u.s.len) {
			b->bad = true;
			return;
		}
		put(b, "\"", 1);
		for (uint32_t i = 0; i < v->u.s.len && !b->bad; i++) {
			char e[8];
			size_t el = 1;
			if (s[i] == '"' || s[i] == '\\')
				el = (size_t)snprintf(e, sizeof(e), "\\%c", s[i]);
			else if (s[i] < 0x20)
				el = (size_t)snprintf(e, sizeof(e), "\\u%04x", s[i]);
			else
				e[0] = (char)s[i];
			put(b, e, el);
		}
		put(b, "\"", 1);
		return;
	}
	default:
		b->bad = true;
		return;
	}
	put(b, tmp, n);
}

static bool is_scalar(uint8_t k)
{
	return k == WFS_PK_NONE || k == WFS_PK_BOOL || k == WFS_PK_INT || k == WFS_PK_FLOAT || k == WFS_PK_STR;
}

/* A metadata leaf: a scalar, or a list or tuple of scalars (JSON); strings as they are. */
static int leaf(struct walker *w, uint32_t id)
{
	const struct wfs_pk_value *v = &w->p->v[id];
	if (v->kind == WFS_PK_STR) {
		const char *s = (const char *)w->p->data + v->u.s.off;
		if (v->u.s.len > WFS_PT_MAX_KV_VALUE ||
		    wfs_utf8_valid_prefix((const unsigned char *)s, v->u.s.len) != v->u.s.len)
			return 0;
		return emit_kv(w, s, v->u.s.len, false);
	}
	struct sbuf b = {0};
	if (v->kind == WFS_PK_LIST || v->kind == WFS_PK_TUPLE) {
		put(&b, "[", 1);
		for (uint32_t i = 0; i < v->u.c.n && !b.bad; i++) {
			if (i)
				put(&b, ",", 1);
			json_scalar(w->p, v->u.c.items[i], &b);
		}
		put(&b, "]", 1);
	} else {
		json_scalar(w->p, id, &b);
	}
	int rc = b.bad ? 0 : emit_kv(w, b.d, b.len, true);
	free(b.d);
	return rc;
}

static int visit(struct walker *w, uint32_t id, int depth, bool script);

/* Visits @p id under the current name plus component @p s. */
static int visit_child(struct walker *w, const char *s, size_t n, uint32_t id, int depth, bool script)
{
	size_t saved = w->len;
	int rc = append(w, s, n, saved > 0);
	if (rc == 0)
		rc = visit(w, id, depth + 1, script);
	w->len = saved;
	if (w->name)
		w->name[saved] = '\0';
	return rc;
}

static int visit_dict(struct walker *w, uint32_t id, int depth, bool script)
{
	const struct wfs_pk_value *v = &w->p->v[id];
	for (uint32_t i = 0; i + 1 < v->u.c.n; i += 2) {
		uint32_t k = v->u.c.items[i], val = v->u.c.items[i + 1];
		const struct wfs_pk_value *key = &w->p->v[k];
		char num[24];
		const char *s;
		size_t n;
		if (key->kind == WFS_PK_STR) {
			s = (const char *)w->p->data + key->u.s.off;
			n = key->u.s.len;
		} else if (key->kind == WFS_PK_INT) {
			n = (size_t)snprintf(num, sizeof(num), "%lld", (long long)key->u.i);
			s = num;
		} else {
			FAIL(w, "a key under %s is neither a string nor an integer",
			     w->len ? QUOTE_LEN(w->name, w->len) : "the top-level dict");
		}
		int rc = visit_child(w, s, n, val, depth, script);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int visit(struct walker *w, uint32_t id, int depth, bool script)
{
	if (++w->visits > w->max_visits)
		FAIL(w, "more than %zu values to visit (shared references repeated)", w->max_visits);
	if (depth > WFS_PT_WALK_MAX_DEPTH)
		FAIL(w, "values nested deeper than %d under %s", WFS_PT_WALK_MAX_DEPTH, QUOTE_LEN(w->name, w->len));
	const struct wfs_pk_value *v = &w->p->v[id];
	switch (v->kind) {
	case WFS_PK_DICT:
		return visit_dict(w, id, depth, script);
	case WFS_PK_REDUCE: {
		int rc = wfs_pt_tensor_from(w->p, id, &w->t, w->label, w->what, w->len ? w->name : "(top)", w->err);
		if (rc < 0)
			return rc;
		return rc == 1 ? emit_tensor(w) : 0;
	}
	case WFS_PK_OBJECT: {
		/* A TorchScript module: its attributes, from BUILD's state dict. */
		const struct wfs_pk_value *cls = &w->p->v[v->u.call.func];
		uint32_t state = v->u.call.state;
		if (cls->u.g.mod_len >= 9 && memcmp(w->p->data + cls->u.g.mod_off, "__torch__", 9) == 0 &&
		    state != WFS_PK_NO_VALUE && w->p->v[state].kind == WFS_PK_DICT)
			return visit_dict(w, state, depth + 1, true);
		return 0;
	}
	case WFS_PK_LIST:
	case WFS_PK_TUPLE: {
		bool scalars = true;
		for (uint32_t i = 0; i < v->u.c.n && scalars; i++)
			scalars = is_scalar(w->p->v[v->u.c.items[i]].kind);
		if (scalars)
			return script ? 0 : leaf(w, id);
		for (uint32_t i = 0; i < v->u.c.n; i++) {
			char num[16];
			int n = snprintf(num, sizeof(num), "%u", i);
			int rc = visit_child(w, num, (size_t)n, v->u.c.items[i], depth, script);
			if (rc < 0)
				return rc;
		}
		return 0;
	}
	default:
		return script || !is_scalar(v->kind) ? 0 : leaf(w, id);
	}
}

static int compare_seen(const void *a, const void *b, void *ctx)
{
	const char *base = ctx;
	const struct wfs_str *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(base + x->off, base + y->off, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

int wfs_pt_walk(const struct wfs_pickle *p, uint32_t top, const struct wfs_pt_walk_opts *opts,
		const struct wfs_pt_sink *sink, const char *label, const char *what, struct wfs_error *err)
{
	struct walker *w = calloc(1, sizeof(*w));
	if (w == NULL)
		return -ENOMEM;
	*w = (struct walker){.p = p, .o = opts, .sink = sink, .label = label, .what = what, .err = err};
	w->root_len = opts->root ? strlen(opts->root) : 0;
	/* A tree visits each value once; tied weights add a visit per extra name. */
	w->max_visits = 2 * (size_t)p->nv + 4096;
	if (w->max_visits > WFS_PT_WALK_MAX_VISITS)
		w->max_visits = WFS_PT_WALK_MAX_VISITS;
	w->max_name_bytes = 16 * p->len + (16u << 20);
	if (w->max_name_bytes > WFS_PT_WALK_MAX_NAME_BYTES)
		w->max_name_bytes = WFS_PT_WALK_MAX_NAME_BYTES;
	int rc = 0;
	if (opts->prefix)
		rc = append(w, opts->prefix, strlen(opts->prefix), false);
	if (rc == 0)
		rc = visit(w, top, 0, opts->script);
	if (rc == 0 && w->nnames > 1) {
		qsort_r(w->names, w->nnames, sizeof(*w->names), compare_seen, w->seen.data);
		for (size_t i = 1; i < w->nnames && rc == 0; i++) {
			if (compare_seen(&w->names[i - 1], &w->names[i], w->seen.data) == 0) {
				wfs_error_add(err, "%s: %s: duplicate key %s", label, what,
					      QUOTE_LEN(w->seen.data + w->names[i].off, w->names[i].len));
				rc = WFS_EINVALID;
			}
		}
	}
	if (rc == 0 && opts->root && !w->root_seen) {
		wfs_error_add(err, "%s: %s: root=%s: no such key holding tensors or values", label, what,
			      QUOTE_LEN(opts->root, w->root_len));
		rc = WFS_EINVALID;
	}
	free(w->name);
	free(w->seen.data);
	free(w->names);
	free(w);
	return rc;
}
