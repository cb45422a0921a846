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

/* Passes an attribute on, unless the kernel could never return its value. */
static int offer(const struct attr *a, attr_fn *fn, void *ctx)
{
	return a->value_len > WFS_XATTR_VALUE_MAX ? 0 : fn(a, ctx);
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
		     attr_fn *fn, void *ctx)
{
	for (size_t i = 0; i < n; i++) {
		if (kv[i].group != group || kv[i].space >= WFS_KV_SPACES)
			continue;
		struct attr a = {space_prefix[kv[i].space], wfs_model_str(m, kv[i].key), kv[i].key.len,
				 wfs_model_str(m, kv[i].value), kv[i].value.len};
		int rc = offer(&a, fn, ctx);
		if (rc != 0)
			return rc;
	}
	return 0;
}

/* Calls fn for each attribute of the node until it returns non-zero. */
static int for_each_xattr(const struct wfs_model *m, const struct wfs_namespace *ns, uint32_t node,
			  attr_fn *fn, void *ctx)
{
	const struct wfs_node *n = &ns->nodes[node];
	char num[2][24];
	int rc;
#define EMIT(name, val, len)                                                         \
	do {                                                                          \
		struct attr a_ = {(name), NULL, 0, (val), (len)};                     \
		if ((rc = offer(&a_, fn, ctx)) != 0)                                  \
			return rc;                                                    \
	} while (0)

	if (n->kind == WFS_NODE_TENSOR) {
		const struct wfs_tensor *t = &m->tensors[n->ref];
		const struct wfs_str shard = m->shards[t->shard].name;
		const char *dtype = wfs_dtype_name(t->dtype);
		int len = snprintf(num[0], sizeof(num[0]), "%" PRIu64, t->offset);
		EMIT("user.dtype", dtype, strlen(dtype));
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
		return offer_kvs(m, n->group, m->metadata, m->nmetadata, fn, ctx);
	}
	EMIT("user.format", m->format, strlen(m->format));
	if (m->remote) {
		char stats[1024];
		size_t len = wfs_remote_stats(m->remote, stats, sizeof(stats));
		EMIT("user.remote.stats", stats, len < sizeof(stats) ? len : sizeof(stats) - 1);
	}
	rc = offer_kvs(m, 0, m->metadata, m->nmetadata, fn, ctx);
	if (rc == 0)
		rc = offer_kvs(m, 0, m->index_meta, m->nindex_meta, fn, ctx);
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
	for_each_xattr(m, ns, node, list_one, &c);
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
	for_each_xattr(m, ns, node, get_one, &c);
	return c.result;
}
