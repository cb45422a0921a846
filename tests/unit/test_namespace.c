/**
 * @file test_namespace.c
 * Name encoding, the three layouts, clashes, lookups and xattrs.
 */
#include "check.h"
#include "weightfs/namespace.h"
#include "weightfs/xattr.h"

static char *header_for(const char *const *names, size_t n)
{
	size_t cap = 64;
	for (size_t i = 0; i < n; i++)
		cap += strlen(names[i]) + 100;
	char *h = malloc(cap);
	size_t o = (size_t)snprintf(h, cap, "{");
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(h + o, cap - o, "%s\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
				      i ? "," : "", names[i], i, i + 1);
	snprintf(h + o, cap - o, "}");
	return h;
}

struct fixture {
	uint8_t *file;
	struct wfs_model *m;
	struct wfs_namespace *ns;
	char warnings[4096];
};

static void collect_warning(void *ctx, const char *msg)
{
	struct fixture *f = ctx;
	size_t len = strlen(f->warnings);
	snprintf(f->warnings + len, sizeof(f->warnings) - len, "%s\n", msg);
}

static int build(struct fixture *f, const char *const *names, size_t n, enum wfs_layout layout)
{
	memset(f, 0, sizeof(*f));
	char *h = header_for(names, n);
	size_t size;
	f->file = st_file(h, n, &size);
	free(h);
	struct wfs_error err = {0};
	int rc = wfs_model_open_memory(f->file, size, "t.safetensors", &f->m, &err);
	if (rc == 0) {
		struct wfs_warn warn = {collect_warning, f};
		rc = wfs_namespace_build(f->m, layout, &warn, &f->ns, &err);
	}
	if (rc != 0)
		fprintf(stderr, "build: %s\n", err.text ? err.text : "?");
	wfs_error_clear(&err);
	return rc;
}

static void release(struct fixture *f)
{
	wfs_namespace_free(f->ns);
	wfs_model_free(f->m);
	free(f->file);
}

/* The node at a '/'-separated path, or -1. */
static ssize_t walk(const struct wfs_namespace *ns, const char *path)
{
	ssize_t node = 0;
	while (*path && node >= 0) {
		const char *slash = strchr(path, '/');
		size_t len = slash ? (size_t)(slash - path) : strlen(path);
		node = wfs_namespace_lookup(ns, (uint32_t)node, path, len);
		path += len + (slash ? 1 : 0);
	}
	return node;
}

static const char *tensor_at(const struct fixture *f, const char *path)
{
	ssize_t n = walk(f->ns, path);
	if (n < 0 || f->ns->nodes[n].kind != WFS_NODE_TENSOR)
		return NULL;
	return wfs_model_str(f->m, f->m->tensors[f->ns->nodes[n].ref].name);
}

static void test_encode(void)
{
	char out[WFS_NAME_MAX + 1];
	CHECK(wfs_component_encode("q_proj", 6, out) == 6 && strcmp(out, "q_proj") == 0);
	CHECK(wfs_component_encode("", 0, out) == 1 && strcmp(out, "%") == 0);
	CHECK(strcmp((wfs_component_encode(".", 1, out), out), "%2E") == 0);
	CHECK(strcmp((wfs_component_encode("..", 2, out), out), "%2E%2E") == 0);
	CHECK(strcmp((wfs_component_encode("...", 3, out), out), "...") == 0);
	CHECK(strcmp((wfs_component_encode("a/b%c", 5, out), out), "a%2Fb%25c") == 0);
	CHECK(strcmp((wfs_component_encode("a\nb", 3, out), out), "a\nb") == 0);

	char longname[1000];
	memset(longname, 'x', sizeof(longname));
	size_t n = wfs_component_encode(longname, sizeof(longname), out);
	CHECK(n <= WFS_NAME_MAX && n == strlen(out));
	CHECK(strstr(out, "%~") == out + 237);
	char other[1000];
	memset(other, 'x', sizeof(other));
	other[999] = 'y';
	char out2[WFS_NAME_MAX + 1];
	wfs_component_encode(other, sizeof(other), out2);
	CHECK(strcmp(out, out2) != 0); /* same prefix, different hash */
	/* Exactly 255 bytes stays as is; 256 is hashed. */
	CHECK(wfs_component_encode(longname, 255, out) == 255 && strchr(out, '%') == NULL);
	CHECK(strstr((wfs_component_encode(longname, 256, out), out), "%~") != NULL);
	/* A long name of '/' never cuts an escape in half. */
	char slashes[200];
	memset(slashes, '/', sizeof(slashes));
	n = wfs_component_encode(slashes, sizeof(slashes), out);
	CHECK(n <= WFS_NAME_MAX);
	CHECK(strstr(out, "%~") == out + 237 - 237 % 3);
	/* UTF-8 sequences are not cut: 'é' is 2 bytes. */
	char accents[600];
	for (int i = 0; i < 600; i += 2) {
		accents[i] = (char)0xc3;
		accents[i + 1] = (char)0xa9;
	}
	wfs_component_encode(accents, sizeof(accents), out);
	CHECK(strstr(out, "%~") == out + 236);
	/* 3-byte characters are kept whole, not mistaken for escapes. */
	char cjk[300];
	for (int i = 0; i < 300; i += 3)
		memcpy(cjk + i, "\xe4\xb8\xad", 3);
	wfs_component_encode(cjk, sizeof(cjk), out);
	CHECK(strstr(out, "%~") == out + 237 && memcmp(out, cjk, 237) == 0);
}

static void test_modules(void)
{
	const char *names[] = {"model.layers.0.self_attn.q_proj.weight", "model.layers.0.mlp.up_proj.weight",
			       "model.embed_tokens.weight", "lm_head.weight", "scalar"};
	struct fixture f;
	CHECK(build(&f, names, 5, WFS_LAYOUT_MODULES) == 0);
	CHECK(tensor_at(&f, "model.layers.0.self_attn/q_proj.weight") == wfs_model_str(f.m, f.m->tensors[wfs_model_find(f.m, names[0], strlen(names[0]))].name));
	CHECK(tensor_at(&f, "model.layers.0.mlp/up_proj.weight") != NULL);
	CHECK(tensor_at(&f, "model/embed_tokens.weight") != NULL);
	CHECK(tensor_at(&f, "lm_head.weight") != NULL);
	CHECK(tensor_at(&f, "scalar") != NULL);
	CHECK(f.ns->nodes[0].nchildren == 5); /* 3 directories, 2 files */
	CHECK(f.ns->nodes[0].ntensors == 5 && f.ns->nodes[0].nbytes == 5);
	CHECK(f.ns->nodes[0].nsubdirs == 3);
	/* Children are sorted and contiguous. */
	const struct wfs_node *root = &f.ns->nodes[0];
	for (uint32_t i = 1; i < root->nchildren; i++)
		CHECK(strcmp(wfs_node_name(f.ns, &f.ns->nodes[root->first_child + i - 1]),
			     wfs_node_name(f.ns, &f.ns->nodes[root->first_child + i])) < 0);
	CHECK(f.warnings[0] == '\0');
	release(&f);
}

static void test_tree_and_flat(void)
{
	const char *names[] = {"model.layers.0.mlp.up_proj.weight", "model.norm.weight", "x"};
	struct fixture f;
	CHECK(build(&f, names, 3, WFS_LAYOUT_TREE) == 0);
	CHECK(tensor_at(&f, "model/layers/0/mlp/up_proj/weight") != NULL);
	CHECK(tensor_at(&f, "model/norm/weight") != NULL);
	CHECK(tensor_at(&f, "x") != NULL);
	ssize_t model = walk(f.ns, "model");
	CHECK(model > 0 && f.ns->nodes[model].ntensors == 2);
	release(&f);

	CHECK(build(&f, names, 3, WFS_LAYOUT_FLAT) == 0);
	CHECK(tensor_at(&f, "model.layers.0.mlp.up_proj.weight") != NULL);
	CHECK(tensor_at(&f, "model.norm.weight") != NULL);
	CHECK(f.ns->nnodes == 4);
	release(&f);
}

static void test_odd_names(void)
{
	const char *names[] = {"a..b.c", ".", "..", "x/y.z", "p%q", "", "a.b", "a.b.c.d"};
	struct fixture f;
	CHECK(build(&f, names, 8, WFS_LAYOUT_MODULES) == 0);
	CHECK(tensor_at(&f, "a./b.c") != NULL);      /* dir "a." is a fine name */
	CHECK(tensor_at(&f, "%2E") != NULL);        /* ".": one dot, so a file at the root */
	CHECK(tensor_at(&f, "%/%2E") != NULL);      /* "..": directory "", file "." */
	CHECK(tensor_at(&f, "x%2Fy.z") != NULL);
	CHECK(tensor_at(&f, "p%25q") != NULL);
	/* The empty name is file "%" at the root, but ".." made a directory "%". */
	CHECK(tensor_at(&f, "%%file") != NULL && tensor_at(&f, "%%file")[0] == '\0');
	CHECK(tensor_at(&f, "a.b/c.d") != NULL);
	const char *clash = tensor_at(&f, "a.b%file");
	CHECK(clash != NULL && strcmp(clash, "a.b") == 0);
	release(&f);

	CHECK(build(&f, names, 8, WFS_LAYOUT_FLAT) == 0);
	CHECK(tensor_at(&f, "%2E") != NULL);
	CHECK(tensor_at(&f, "%2E%2E") != NULL);
	CHECK(tensor_at(&f, "x%2Fy.z") != NULL);
	CHECK(tensor_at(&f, "a.b.c.d") != NULL && tensor_at(&f, "a.b") != NULL);
	release(&f);

	CHECK(build(&f, names, 8, WFS_LAYOUT_TREE) == 0);
	CHECK(tensor_at(&f, "a/%/b/c") != NULL);
	CHECK(tensor_at(&f, "%/%%file") != NULL);    /* ".": file "" in dir "", which ".." also needs */
	CHECK(tensor_at(&f, "%/%/%") != NULL);       /* ".." */
	CHECK(tensor_at(&f, "a/b/c/d") != NULL);
	CHECK(tensor_at(&f, "%%file") != NULL && tensor_at(&f, "%%file")[0] == '\0');
	const char *clash2 = tensor_at(&f, "a/b%file");
	CHECK(clash2 != NULL && strcmp(clash2, "a.b") == 0);
	CHECK(f.warnings[0] == '\0');
	release(&f);
}

static void test_long_clash(void)
{
	/* A file of 252 bytes whose name a directory takes: "%file" must still fit. */
	char file[300], dir[310];
	memset(file, 'a', 250);
	strcpy(file + 250, ".b");
	snprintf(dir, sizeof(dir), "%s.c.d", file);
	const char *names[] = {file, dir};
	struct fixture f;
	CHECK(build(&f, names, 2, WFS_LAYOUT_MODULES) == 0);
	CHECK(f.warnings[0] == '\0');
	const struct wfs_node *root = &f.ns->nodes[0];
	int shown = 0;
	for (uint32_t i = 0; i < root->nchildren; i++) {
		const struct wfs_node *n = &f.ns->nodes[root->first_child + i];
		CHECK(n->name_len <= WFS_NAME_MAX);
		if (n->kind == WFS_NODE_TENSOR) {
			shown++;
			const char *nm = wfs_node_name(f.ns, n);
			CHECK(n->name_len > 5 && strcmp(nm + n->name_len - 5, "%file") == 0);
			CHECK(strstr(nm, "%~") != NULL);
		}
	}
	CHECK(shown == 1 && root->ntensors == 2);
	release(&f);
}

static void test_every_tensor_is_shown_once(void)
{
	enum { N = 300 };
	const char *names[N];
	char storage[N][32];
	for (int i = 0; i < N; i++) {
		snprintf(storage[i], sizeof(storage[i]), "m.layers.%d.w%s", i / 3, i % 3 == 0 ? "" : i % 3 == 1 ? ".a" : ".a.b");
		names[i] = storage[i];
	}
	for (int layout = 0; layout < 3; layout++) {
		struct fixture f;
		CHECK(build(&f, names, N, (enum wfs_layout)layout) == 0);
		int seen[N] = {0};
		for (size_t i = 0; i < f.ns->nnodes; i++)
			if (f.ns->nodes[i].kind == WFS_NODE_TENSOR)
				seen[f.ns->nodes[i].ref]++;
		int once = 0;
		for (int i = 0; i < N; i++)
			once += seen[i] == 1;
		CHECK(once == N);
		CHECK(f.ns->nodes[0].ntensors == N);
		/* Every node's parent lists it. */
		for (size_t i = 1; i < f.ns->nnodes; i++) {
			const struct wfs_node *p = &f.ns->nodes[f.ns->nodes[i].parent];
			CHECK(i >= p->first_child && i < p->first_child + p->nchildren);
		}
		release(&f);
	}
}

static void test_xattrs(void)
{
	const char *names[] = {"model.norm.weight", "lm_head.weight"};
	struct fixture f;
	CHECK(build(&f, names, 2, WFS_LAYOUT_MODULES) == 0);
	ssize_t t = walk(f.ns, "model/norm.weight");
	CHECK(t > 0);
	char buf[512];
	ssize_t n = wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.dtype", buf, sizeof(buf));
	CHECK(n == 2 && memcmp(buf, "U8", 2) == 0);
	n = wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.shape", buf, sizeof(buf));
	CHECK(n == 3 && memcmp(buf, "[1]", 3) == 0);
	n = wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.name", NULL, 0);
	CHECK(n == (ssize_t)strlen("model.norm.weight"));
	CHECK(wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.name", buf, 3) == -ERANGE);
	CHECK(wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.nope", buf, sizeof(buf)) == -ENODATA);
	CHECK(wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.tensors", buf, sizeof(buf)) == -ENODATA);
	n = wfs_xattr_get(f.m, f.ns, (uint32_t)t, "user.offset", buf, sizeof(buf));
	CHECK(n > 0);
	/* listxattr names exactly what getxattr answers. */
	ssize_t len = wfs_xattr_list(f.m, f.ns, (uint32_t)t, NULL, 0);
	CHECK(len > 0 && len < (ssize_t)sizeof(buf));
	CHECK(wfs_xattr_list(f.m, f.ns, (uint32_t)t, buf, 5) == -ERANGE);
	CHECK(wfs_xattr_list(f.m, f.ns, (uint32_t)t, buf, sizeof(buf)) == len);
	int names_ok = 0, count = 0;
	for (char *p = buf; p < buf + len; p += strlen(p) + 1, count++) {
		char v[256];
		names_ok += wfs_xattr_get(f.m, f.ns, (uint32_t)t, p, v, sizeof(v)) >= 0;
	}
	CHECK(count == 5 && names_ok == 5);
	/* Root. */
	n = wfs_xattr_get(f.m, f.ns, 0, "user.format", buf, sizeof(buf));
	CHECK(n == 11 && memcmp(buf, "safetensors", 11) == 0);
	n = wfs_xattr_get(f.m, f.ns, 0, "user.tensors", buf, sizeof(buf));
	CHECK(n == 1 && buf[0] == '2');
	release(&f);
}

int main(void)
{
	test_encode();
	test_modules();
	test_tree_and_flat();
	test_odd_names();
	test_long_clash();
	test_every_tensor_is_shown_once();
	test_xattrs();
	return check_report("test_namespace");
}
