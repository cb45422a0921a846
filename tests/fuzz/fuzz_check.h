/**
 * @file fuzz_check.h
 * Invariants the fuzz harnesses check on whatever the library accepted:
 * path components are valid file names, the node array is a well-formed
 * breadth-first tree with sorted children, every shown tensor's path decodes
 * back to its name (so two tensors never share a path), xattrs list and get
 * consistently, and every accepted tensor range can be read.
 *
 * A broken invariant aborts (a crash for libFuzzer) with a message on stderr.
 * Buffers handed to the library are allocated at their exact size so that
 * AddressSanitizer sees any write or read past them.
 */
#ifndef WEIGHTFS_FUZZ_CHECK_H
#define WEIGHTFS_FUZZ_CHECK_H

#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_invariant.h"
#include "internal.h"
#include "weightfs/namespace.h"
#include "weightfs/xattr.h"

/* An empty model, as the library's own constructor (model.c) makes one. */
static inline struct wfs_model *fz_model_new(void)
{
	struct wfs_model *m = wfs_model_new(); /* the root group, '.' as the separator */
	if (m == NULL)
		abort();
	return m;
}

/* Counts warnings (tensors that cannot be shown, and the like). */
struct fz_warnings {
	unsigned total;
	unsigned unshown; /* "cannot be shown" */
};

static void fz_count_warning(void *ctx, const char *msg)
{
	struct fz_warnings *w = ctx;
	w->total++;
	if (strstr(msg, "cannot be shown"))
		w->unshown++;
}

/* A path component: 1..255 bytes, no '/', no NUL, not "." or "..". */
static void fz_check_component(const char *s, size_t len)
{
	FZ_CHECK(len >= 1 && len <= WFS_NAME_MAX, "component of %zu bytes", len);
	FZ_CHECK(memchr(s, '/', len) == NULL, "component \"%.*s\" contains '/'", (int)len, s);
	FZ_CHECK(memchr(s, '\0', len) == NULL, "component contains a NUL byte");
	FZ_CHECK(!(len == 1 && s[0] == '.'), "component is \".\"");
	FZ_CHECK(!(len == 2 && s[0] == '.' && s[1] == '.'), "component is \"..\"");
}

static bool fz_is_hex(char c)
{
	return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
}

/*
 * Reverses wfs_component_encode into @p out (which holds len bytes).
 * Returns false for a hashed long component ("...%~" + 16 hex digits), whose
 * name cannot be recovered from the path; aborts on any other '%' sequence.
 */
static bool fz_decode_component(const char *s, size_t len, char *out, size_t *olen)
{
	*olen = 0;
	if (len == 1 && s[0] == '%')
		return true;
	if (len == 3 && memcmp(s, "%2E", 3) == 0) {
		out[(*olen)++] = '.';
		return true;
	}
	if (len == 6 && memcmp(s, "%2E%2E", 6) == 0) {
		out[(*olen)++] = '.';
		out[(*olen)++] = '.';
		return true;
	}
	for (size_t i = 0; i < len; i++) {
		if (s[i] != '%') {
			out[(*olen)++] = s[i];
			continue;
		}
		if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == '5') {
			out[(*olen)++] = '%';
			i += 2;
		} else if (i + 2 < len && s[i + 1] == '2' && s[i + 2] == 'F') {
			out[(*olen)++] = '/';
			i += 2;
		} else if (i + 1 < len && s[i + 1] == '~') {
			FZ_CHECK(len - i == 18, "hashed component \"%.*s\": suffix is not %%~ and 16 digits",
				 (int)len, s);
			for (size_t k = i + 2; k < len; k++)
				FZ_CHECK(fz_is_hex(s[k]), "hashed component \"%.*s\": not hex", (int)len, s);
			FZ_CHECK(i <= 237, "hashed component keeps %zu bytes of the name, more than 237", i);
			return false;
		} else {
			fz_fail("component \"%.*s\": stray '%%' at byte %zu", (int)len, s, i);
		}
	}
	return true;
}

static size_t fz_count_dots(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '.';
	return n;
}

static int fz_compare_names(const char *a, size_t alen, const char *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = memcmp(a, b, n);
	return c ? c : (alen > blen) - (alen < blen);
}

/*
 * Rebuilds tensor node @p i's name from its path under the layout and
 * compares it with the tensor's name. Hashed components cannot be decoded;
 * then only the layout's shape rules are checked.
 */
static void fz_check_tensor_path(const struct wfs_model *m, const struct wfs_namespace *ns, uint32_t i)
{
	const struct wfs_node *n = &ns->nodes[i];
	const struct wfs_tensor *t = &m->tensors[n->ref];
	const char *tname = wfs_model_str(m, t->name);

	size_t depth = 0;
	for (uint32_t k = i; k != 0; k = ns->nodes[k].parent)
		FZ_CHECK(++depth < ns->nnodes, "node %u: parents form a loop", i);
	uint32_t *chain = fz_malloc(depth * sizeof(*chain));
	depth = 0;
	for (uint32_t k = i; k != 0; k = ns->nodes[k].parent)
		chain[depth++] = k;
	if (ns->layout == WFS_LAYOUT_FLAT || ns->layout == WFS_LAYOUT_MODULES)
		FZ_CHECK(depth <= 2 && (ns->layout != WFS_LAYOUT_FLAT || depth == 1),
			 "tensor %zu levels deep in layout %d", depth, ns->layout);

	char *rebuilt = fz_malloc(t->name.len + 1);
	size_t rlen = 0;
	bool exact = true;
	for (size_t d = depth; d-- > 0;) {
		const struct wfs_node *c = &ns->nodes[chain[d]];
		const char *name = wfs_node_name(ns, c);
		size_t len = c->name_len;
		if (d == 0 && len > 5 && memcmp(name + len - 5, "%file", 5) == 0) {
			/* The suffix of a file whose name a sibling directory took; a
			 * name too long for the suffix was shortened and hashed first. */
			ssize_t dir = wfs_namespace_lookup(ns, c->parent, name, len - 5);
			bool hashed = len - 5 >= 18 && name[len - 5 - 18] == '%' && name[len - 5 - 17] == '~';
			FZ_CHECK(hashed || (dir >= 0 && ns->nodes[dir].kind == WFS_NODE_DIR),
				 "tensor %s has the %%file suffix but no sibling directory", tname);
			len -= 5;
		}
		char dec[WFS_NAME_MAX + 1]; /* decoding never lengthens */
		size_t dlen;
		FZ_CHECK(len <= WFS_NAME_MAX, "component of %zu bytes", len);
		bool ok = fz_decode_component(name, len, dec, &dlen);
		exact &= ok;
		if (ok) {
			size_t dots = fz_count_dots(dec, dlen);
			if (ns->layout == WFS_LAYOUT_TREE)
				FZ_CHECK(dots == 0, "tree layout: component of %s holds a dot", tname);
			if (ns->layout == WFS_LAYOUT_MODULES && d == 0)
				FZ_CHECK(depth == 2 ? dots == 1 : dots <= 1,
					 "modules layout: file name of %s holds %zu dots", tname, dots);
			if (exact) {
				FZ_CHECK(rlen + (d + 1 < depth) + dlen <= t->name.len,
					 "path of tensor %s decodes to a longer name", tname);
				if (d + 1 < depth)
					rebuilt[rlen++] = '.';
				memcpy(rebuilt + rlen, dec, dlen);
				rlen += dlen;
			}
		}
	}
	if (exact)
		FZ_CHECK(rlen == t->name.len && memcmp(rebuilt, tname, rlen) == 0,
			 "path of tensor %s decodes to \"%.*s\"", tname, (int)rlen, rebuilt);
	free(rebuilt);
	free(chain);
}

/* getxattr of @p name: exact-size buffer, size 0, and one byte short. */
static void fz_check_xattr_value(const struct wfs_model *m, const struct wfs_namespace *ns, uint32_t node,
				 const char *name, const char *expect, size_t expect_len)
{
	ssize_t len = wfs_xattr_get(m, ns, node, name, NULL, 0);
	FZ_CHECK(len >= 0, "listed xattr %s: getxattr size query gives %zd", name, len);
	char *buf = fz_malloc((size_t)len);
	ssize_t got = wfs_xattr_get(m, ns, node, name, buf, (size_t)(len ? len : 1));
	FZ_CHECK(got == len, "xattr %s: %zd bytes, then %zd", name, len, got);
	if (expect)
		FZ_CHECK((size_t)got == expect_len && memcmp(buf, expect, expect_len) == 0,
			 "xattr %s of node %u is \"%.*s\"", name, node, (int)got, buf);
	if (len > 1)
		FZ_CHECK(wfs_xattr_get(m, ns, node, name, buf, (size_t)len - 1) == -ERANGE,
			 "xattr %s: a short buffer is not -ERANGE", name);
	free(buf);
}

/* listxattr, then getxattr of every listed name. */
static void fz_check_xattrs(const struct wfs_model *m, const struct wfs_namespace *ns, uint32_t node)
{
	ssize_t len = wfs_xattr_list(m, ns, node, NULL, 0);
	FZ_CHECK(len >= 0, "listxattr size query of node %u gives %zd", node, len);
	char *list = fz_malloc((size_t)len);
	FZ_CHECK(wfs_xattr_list(m, ns, node, list, (size_t)(len ? len : 1)) == len, "listxattr changed length");
	if (len > 1)
		FZ_CHECK(wfs_xattr_list(m, ns, node, list, (size_t)len - 1) == -ERANGE,
			 "listxattr: a short buffer is not -ERANGE");
	FZ_CHECK(len == 0 || list[len - 1] == '\0', "listxattr: not NUL-terminated");
	FZ_CHECK(len <= WFS_XATTR_LIST_MAX, "listxattr: %zd bytes, over the kernel's limit", len);
	const struct wfs_node *n = &ns->nodes[node];
	for (ssize_t at = 0; at < len;) {
		const char *name = list + at;
		size_t nlen = strlen(name);
		FZ_CHECK(nlen > 0 && nlen <= WFS_XATTR_NAME_MAX, "listxattr: a name of %zu bytes", nlen);
		const char *expect = NULL;
		size_t elen = 0;
		if (n->kind == WFS_NODE_TENSOR) {
			const struct wfs_tensor *t = &m->tensors[n->ref];
			if (strcmp(name, "user.name") == 0) {
				expect = wfs_model_str(m, t->name);
				elen = t->name.len;
			} else if (strcmp(name, "user.dtype") == 0) {
				expect = wfs_dtype_name(t->dtype);
				elen = strlen(expect);
			} else if (strcmp(name, "user.shape") == 0) {
				expect = wfs_model_str(m, t->shape_text);
				elen = t->shape_text.len;
			}
		}
		fz_check_xattr_value(m, ns, node, name, expect, elen);
		at += (ssize_t)nlen + 1;
	}
	char one;
	FZ_CHECK(wfs_xattr_get(m, ns, node, "user.no-such-attribute", &one, 1) == -ENODATA,
		 "an unknown xattr is not -ENODATA");
	free(list);
}

/*
 * The node array: root first, parents before children, each directory's
 * children a contiguous strictly sorted range whose names are valid and can
 * be looked up; every tensor shown at most once, and shown unless a warning
 * said why not.
 */
static void fz_check_namespace(const struct wfs_model *m, const struct wfs_namespace *ns,
			       const struct fz_warnings *w, bool xattrs)
{
	FZ_CHECK(ns->nnodes >= 1 && ns->nodes[0].kind == WFS_NODE_DIR && ns->nodes[0].parent == 0,
		 "no root directory");
	uint8_t *shown = calloc(m->ntensors ? m->ntensors : 1, 1);
	if (shown == NULL)
		abort();
	size_t tensors = 0, children = 0;
	uint64_t bytes = 0;
	for (uint32_t i = 0; i < ns->nnodes; i++) {
		const struct wfs_node *n = &ns->nodes[i];
		FZ_CHECK(n->name + n->name_len < ns->arena_len, "node %u: name outside the arena", i);
		const char *name = wfs_node_name(ns, n);
		FZ_CHECK(name[n->name_len] == '\0', "node %u: name not NUL-terminated", i);
		if (i > 0) {
			fz_check_component(name, n->name_len);
			FZ_CHECK(n->parent < i, "node %u: parent %u does not come first", i, n->parent);
			const struct wfs_node *p = &ns->nodes[n->parent];
			FZ_CHECK(p->kind == WFS_NODE_DIR && i >= p->first_child &&
				 i < p->first_child + p->nchildren, "node %u: not in its parent's child range", i);
			FZ_CHECK(wfs_namespace_lookup(ns, n->parent, name, n->name_len) == (ssize_t)i,
				 "node %u: lookup of its name finds another node", i);
		}
		if (n->kind == WFS_NODE_DIR) {
			FZ_CHECK((uint64_t)n->first_child + n->nchildren <= ns->nnodes, "node %u: children out of range", i);
			FZ_CHECK(n->nchildren == 0 || n->first_child > i, "node %u: children before it", i);
			children += n->nchildren;
			for (uint32_t k = 1; k < n->nchildren; k++) {
				const struct wfs_node *a = &ns->nodes[n->first_child + k - 1];
				const struct wfs_node *b = &ns->nodes[n->first_child + k];
				FZ_CHECK(fz_compare_names(wfs_node_name(ns, a), a->name_len,
							  wfs_node_name(ns, b), b->name_len) < 0,
					 "directory %u: children not strictly sorted", i);
			}
		} else if (n->kind == WFS_NODE_TENSOR) {
			FZ_CHECK(n->ref < m->ntensors, "node %u: tensor %u out of range", i, n->ref);
			FZ_CHECK(!shown[n->ref], "tensor %u shown twice", n->ref);
			shown[n->ref] = 1;
			FZ_CHECK(n->nbytes == m->tensors[n->ref].nbytes && n->nchildren == 0, "node %u: size", i);
			tensors++;
			bytes += n->nbytes;
			fz_check_tensor_path(m, ns, i);
		} else {
			FZ_CHECK(n->kind == WFS_NODE_FILE && n->ref < m->nextras, "node %u: bad kind or extra", i);
		}
		if (xattrs)
			fz_check_xattrs(m, ns, i);
	}
	FZ_CHECK(children == ns->nnodes - 1, "%zu children for %zu nodes", children, ns->nnodes);
	FZ_CHECK(tensors + w->unshown == m->ntensors, "%zu tensors shown, %u warned, of %zu", tensors,
		 w->unshown, m->ntensors);
	FZ_CHECK(ns->nodes[0].ntensors == tensors && ns->nodes[0].nbytes == bytes, "root totals");
	free(shown);
}

/* Builds the namespace of @p m in one layout and checks it (and every node's xattrs when @p xattrs). */
static inline void fz_check_layout(const struct wfs_model *m, enum wfs_layout layout, bool xattrs)
{
	struct fz_warnings w = {0};
	struct wfs_warn warn = {fz_count_warning, &w};
	struct wfs_namespace *ns = NULL;
	struct wfs_error err = {0};
	int rc = wfs_namespace_build(m, layout, &warn, &ns, &err);
	FZ_CHECK(rc == 0, "namespace build (layout %d) failed: %d %s", layout, rc, err.text ? err.text : "");
	fz_check_namespace(m, ns, &w, xattrs);
	wfs_namespace_free(ns);
	wfs_error_clear(&err);
}

/* The same in every layout. */
static inline void fz_check_layouts(const struct wfs_model *m, bool xattrs)
{
	for (int layout = WFS_LAYOUT_MODULES; layout <= WFS_LAYOUT_FLAT; layout++)
		fz_check_layout(m, (enum wfs_layout)layout, xattrs);
}

#endif
