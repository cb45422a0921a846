/**
 * @file xattr.c
 * Extended attributes: what each node says about itself, as plain text.
 *
 * Names are produced by one enumerator (for_each_xattr) that both listxattr
 * and getxattr walk, so the two can never disagree about which names exist.
 */
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "internal.h"
#include "weightfs/xattr.h"

struct attr {
	const char *prefix;    /* "user.dtype", or "user.metadata." followed by key */
	const char *key;       /* NULL, or the key after the prefix */
	size_t key_len;
	const char *value;
	size_t value_len;
};

/* The name of an attribute: its prefix, then its key if it has one. */
static size_t name_len(const struct attr *a)
{
	return strlen(a->prefix) + a->key_len;
}

/* Writes the name_len(a) bytes of the name to dst, without a '\0'. */
static void name_copy(const struct attr *a, char *dst)
{
	size_t plen = strlen(a->prefix);
	memcpy(dst, a->prefix, plen);
	if (a->key_len)
		memcpy(dst + plen, a->key, a->key_len);
}

/* Whether the name is the len bytes at name. */
static bool name_is(const struct attr *a, const char *name, size_t len)
{
	size_t plen = strlen(a->prefix);
	return len == plen + a->key_len && memcmp(name, a->prefix, plen) == 0 &&
	       (a->key_len == 0 || memcmp(name + plen, a->key, a->key_len) == 0);
}

/* What for_each_xattr calls for each attribute; non-zero stops the walk. */
typedef int attr_fn(const struct attr *a, void *ctx);

/*
 * Why an attribute is not offered, for the warning at mount; the offer
 * decides, so listxattr, getxattr and the warning can never disagree.
 */
enum omission { KEPT, VALUE_TOO_LONG, NAME_TOO_LONG, LIST_FULL, NAME_HAS_NUL };

struct walk {
	attr_fn *fn;
	void *ctx;
	size_t listed; /* bytes of the name list so far, NULs included */
	attr_fn *omitted; /* called for what is left out (its ctx: this walk, to read why), or NULL */
	enum omission why;
};

/*
 * Passes an attribute on unless the kernel could never return it: a value
 * over 64 KiB, a name over 255 bytes, or a name that would take the whole
 * list past 64 KiB. The project's own attributes come first in the walk,
 * so the list limit only ever leaves out metadata entries (the last ones).
 */
static int offer(const struct attr *a, struct walk *w)
{
	size_t n = name_len(a);
	w->why = KEPT;
	if (a->value_len > WFS_XATTR_VALUE_MAX)
		w->why = VALUE_TOO_LONG;
	else if (a->key_len && memchr(a->key, '\0', a->key_len))
		w->why = NAME_HAS_NUL;
	else if (n > WFS_XATTR_NAME_MAX)
		w->why = NAME_TOO_LONG;
	else if (w->listed + n + 1 > WFS_XATTR_LIST_MAX)
		w->why = LIST_FULL;
	if (w->why != KEPT)
		return w->omitted ? w->omitted(a, w) : 0;
	w->listed += n + 1;
	return w->fn(a, w->ctx);
}

/* The attribute name prefix of each key/value space. */
static const char *const space_prefix[WFS_KV_SPACES] = {
	[WFS_KV_METADATA] = "user.metadata.",
	[WFS_KV_INDEX] = "user.index.",
	[WFS_KV_GGUF] = "user.gguf.",
	[WFS_KV_FORMAT] = "user.",
};

/* Offers each of the n key/value pairs of group @p group as its space's prefix + key. */
static int offer_kvs(const struct wfs_model *m, uint32_t group, const struct wfs_kv *kv, size_t n,
		     struct walk *w)
{
	for (size_t i = 0; i < n; i++) {
		if (kv[i].group != group || kv[i].space >= WFS_KV_SPACES)
			continue;
		struct attr a = {space_prefix[kv[i].space], wfs_model_str(m, kv[i].key), kv[i].key.len,
				 wfs_model_str(m, kv[i].value), kv[i].value.len};
		int rc = offer(&a, w);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Calls fn for each attribute of the node until it returns non-zero. */
static int for_each_xattr(const struct wfs_model *m, const struct wfs_namespace *ns, uint32_t node,
			  struct walk *w)
{
	const struct wfs_node *n = &ns->nodes[node];
	char num[2][24];
	int rc;
#define EMIT(name, val, len)                                                         \
	do {                                                                          \
		struct attr a_ = {(name), NULL, 0, (val), (len)};                     \
		if ((rc = offer(&a_, w)) != 0)                                         \
			return rc;                                                    \
	} while (0)

	if (n->kind == WFS_NODE_TENSOR) {
		const struct wfs_tensor *t = &m->tensors[n->ref];
		const struct wfs_str shard = m->shards[t->shard].name;
		/* In a typed view, user.dtype is what the file holds and
		 * user.stored_dtype what the model stores. */
		struct wfs_tensor_shown shown;
		wfs_tensor_shown(&ns->view, m, t, &shown);
		const char *dtype = wfs_dtype_name(shown.dtype);
		const char *stored = wfs_dtype_name(t->dtype);
		int len = snprintf(num[0], sizeof(num[0]), "%" PRIu64, t->offset);
		EMIT("user.dtype", dtype, strlen(dtype));
		if (ns->view.mode != WFS_VIEW_RAW)
			EMIT("user.stored_dtype", stored, strlen(stored));
		EMIT("user.shape", wfs_model_str(m, t->shape_text), t->shape_text.len);
		EMIT("user.name", wfs_model_str(m, t->name), t->name.len);
		EMIT("user.shard", wfs_model_str(m, shard), shard.len);
		EMIT("user.offset", num[0], (size_t)len);
		/* The format's own: "user.NAME\0value\0" pairs. */
		const char *p = wfs_model_str(m, t->attrs), *end = p + t->attrs.len;
		while (p < end) {
			const char *name = p, *value = name + strlen(name) + 1;
			if (value >= end)
				break;
			size_t vlen = strnlen(value, (size_t)(end - value));
			EMIT(name, value, vlen);
			p = value + vlen + 1;
		}
		return 0;
	}
	if (n->kind != WFS_NODE_DIR)
		return 0;
	int l0 = snprintf(num[0], sizeof(num[0]), "%" PRIu32, n->ntensors);
	int l1 = snprintf(num[1], sizeof(num[1]), "%" PRIu64, n->nbytes);
	EMIT("user.tensors", num[0], (size_t)l0);
	EMIT("user.nbytes", num[1], (size_t)l1);
	if (node != 0 && n->group == 0)
		return 0;
	if (n->group) { /* one file's model in its own directory */
		const char *format = m->groups[n->group].format ? m->groups[n->group].format : m->format;
		EMIT("user.format", format, strlen(format));
		return offer_kvs(m, n->group, m->metadata, m->nmetadata, w);
	}
	EMIT("user.format", m->format, strlen(m->format));
	if (m->remote) {
		char stats[1024];
		size_t len = wfs_remote_stats(m->remote, stats, sizeof(stats));
		EMIT("user.remote.stats", stats, len < sizeof(stats) ? len : sizeof(stats) - 1);
	}
	rc = offer_kvs(m, 0, m->metadata, m->nmetadata, w);
	if (rc == 0)
		rc = offer_kvs(m, 0, m->index_meta, m->nindex_meta, w);
#undef EMIT
	return rc;
}

struct list_ctx {
	char *buf;
	size_t size;
	size_t len;
};

static int list_one(const struct attr *a, void *ctx)
{
	struct list_ctx *c = ctx;
	size_t need = name_len(a) + 1;
	if (c->size && c->len + need <= c->size) {
		name_copy(a, c->buf + c->len);
		c->buf[c->len + need - 1] = '\0';
	}
	c->len += need;
	return 0;
}

ssize_t wfs_xattr_list(const struct wfs_model *m, const struct wfs_namespace *ns,
		       uint32_t node, char *buf, size_t size)
{
	if (node >= ns->nnodes)
		return -ENOENT;
	struct list_ctx c = {buf, size, 0};
	struct walk w = {.fn = list_one, .ctx = &c};
	for_each_xattr(m, ns, node, &w);
	if (size && c.len > size)
		return -ERANGE;
	return (ssize_t)c.len;
}

struct get_ctx {
	const char *name;
	size_t name_len;
	char *buf;
	size_t size;
	ssize_t result;
};

/* Copies the value while it exists: numbers live on for_each_xattr's stack. */
static int get_one(const struct attr *a, void *ctx)
{
	struct get_ctx *c = ctx;
	if (!name_is(a, c->name, c->name_len))
		return 0;
	if (c->size == 0)
		c->result = (ssize_t)a->value_len;
	else if (a->value_len > c->size)
		c->result = -ERANGE;
	else {
		memcpy(c->buf, a->value, a->value_len);
		c->result = (ssize_t)a->value_len;
	}
	return 1;
}

ssize_t wfs_xattr_get(const struct wfs_model *m, const struct wfs_namespace *ns,
		      uint32_t node, const char *name, char *buf, size_t size)
{
	if (node >= ns->nnodes)
		return -ENOENT;
	struct get_ctx c = {name, strlen(name), buf, size, -ENODATA};
	struct walk w = {.fn = get_one, .ctx = &c};
	for_each_xattr(m, ns, node, &w);
	return c.result;
}

static int ignore(const struct attr *a, void *ctx)
{
	(void)a, (void)ctx;
	return 0;
}

struct omitted_ctx {
	const struct wfs_warn *warn;
	const char *where; /* "tensor \"x\": " or "" for the root */
	size_t count;
};

/* Names one attribute that is not offered (the first 20; the rest are counted). */
static int warn_omitted(const struct attr *a, void *vw)
{
	struct walk *w = vw;
	struct omitted_ctx *c = w->ctx;
	/* GGUF values over the limit (token lists) are named in user.gguf.omitted: no warning. */
	if (w->why == VALUE_TOO_LONG && a->key && strcmp(a->prefix, "user.gguf.") == 0)
		return 0;
	if (++c->count > 20)
		return 0;
	char q[WFS_QUOTE_MAX];
	const char *key = a->key ? wfs_quote(a->key, a->key_len, q) : a->prefix;
	size_t n = name_len(a);
	switch (w->why) {
	case VALUE_TOO_LONG:
		wfs_warnf(c->warn, "%sattribute %s%s is not offered: its value is %zu bytes, over the kernel's limit of %d",
			  c->where, a->key ? a->prefix : "", key, a->value_len, WFS_XATTR_VALUE_MAX);
		break;
	case NAME_HAS_NUL:
		wfs_warnf(c->warn, "attribute %s%s is not offered: its key contains a NUL byte", a->prefix, key);
		break;
	case NAME_TOO_LONG:
		wfs_warnf(c->warn, "attribute %s%s is not offered: its name is %zu bytes, over the kernel's limit of %d",
			  a->prefix, key, n, WFS_XATTR_NAME_MAX);
		break;
	case LIST_FULL:
		wfs_warnf(c->warn, "attribute %s%s is not offered: the root's attribute names would pass the kernel's "
			  "listxattr limit of %d bytes", a->prefix, key, WFS_XATTR_LIST_MAX);
		break;
	case KEPT:
		break;
	}
	return 0;
}

size_t wfs_xattr_warn_omitted(const struct wfs_model *m, const struct wfs_namespace *ns,
			      const struct wfs_warn *warn)
{
	/* Only the root carries metadata; a tensor's user.name can be too long a value. */
	struct omitted_ctx c = {warn, "", 0};
	for (uint32_t node = 0; node < ns->nnodes; node++) {
		const struct wfs_node *n = &ns->nodes[node];
		if (node != 0 && n->kind != WFS_NODE_TENSOR)
			continue;
		char q[WFS_QUOTE_MAX], where[WFS_QUOTE_MAX + 16] = "";
		if (n->kind == WFS_NODE_TENSOR) {
			const struct wfs_tensor *t = &m->tensors[n->ref];
			snprintf(where, sizeof(where), "tensor %s: ", wfs_quote(wfs_model_str(m, t->name), t->name.len, q));
		}
		c.where = where;
		struct walk w = {.fn = ignore, .ctx = &c, .omitted = warn_omitted};
		for_each_xattr(m, ns, node, &w);
	}
	if (c.count > 20)
		wfs_warnf(warn, "... and %zu more attributes not offered", c.count - 20);
	return c.count;
}
