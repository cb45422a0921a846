/**
 * @file namespace.c
 * Builds the directory tree of a model under a layout.
 *
 * Entries are first collected in a hash table keyed by (parent, name):
 * tensor directories, then tensor files (a file whose name a directory took
 * gets the suffix "%file"), then the model directory's other files (hidden
 * when a tensor path took their name at the root). The entries are then laid
 * out breadth-first with each directory's children sorted by name, which is
 * what makes inode numbers plain array indices and lookups binary searches.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "weightfs/decode.h"
#include "weightfs/namespace.h"

#define CLASH_SUFFIX "%file"
#define NPY_SUFFIX ".npy"

int wfs_layout_parse(const char *name, enum wfs_layout *out)
{
	static const char *const names[] = {"modules", "tree", "flat"};
	for (int i = 0; i < 3; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum wfs_layout)i;
			return 0;
		}
	}
	return -EINVAL;
}

static uint64_t fnv1a64(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)s[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/*
 * The next piece of in[i..] that must not be cut: a byte to escape (*escape
 * set, 3 bytes out), a whole UTF-8 sequence, or one byte. Sets *consumed.
 */
static size_t piece(const char *in, size_t len, size_t i, size_t *consumed, bool *escape)
{
	unsigned char c = (unsigned char)in[i];
	*escape = c == '%' || c == '/';
	size_t n = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc0 ? 2 : 1;
	if (*escape || n > len - i)
		n = 1;
	for (size_t k = 1; k < n; k++)
		if (((unsigned char)in[i + k] & 0xc0) != 0x80)
			n = 1; /* not a sequence: a lone byte, and '%' or '/' after it stays visible */
	*consumed = n;
	return *escape ? 3 : n;
}

/*
 * Encodes a component into at most @p max bytes (plus NUL): as it is when
 * it fits, else its first max - 18 bytes cut whole, "%~" and the hash.
 */
static size_t encode_within(const char *in, size_t len, char *out, size_t max)
{
	if (len == 0 || (len == 1 && in[0] == '.') || (len == 2 && in[0] == '.' && in[1] == '.')) {
		const char *e = len == 0 ? "%" : len == 1 ? "%2E" : "%2E%2E";
		strcpy(out, e);
		return strlen(e);
	}
	if (len <= max && !memchr(in, '%', len) && !memchr(in, '/', len)) {
		memcpy(out, in, len); /* the usual case: nothing to encode */
		out[len] = '\0';
		return len;
	}
	size_t full = 0;
	for (size_t i = 0; i < len; i++)
		full += (in[i] == '%' || in[i] == '/') ? 3 : 1;
	const size_t hash_len = 18; /* "%~" and 16 hex digits */
	size_t limit = full <= max ? full : max - hash_len;
	size_t o = 0;
	for (size_t i = 0; i < len;) {
		size_t used;
		bool escape;
		size_t n = piece(in, len, i, &used, &escape);
		if (o + n > limit)
			break;
		if (escape) {
			out[o++] = '%';
			out[o++] = '2';
			out[o++] = in[i] == '%' ? '5' : 'F';
		} else {
			memcpy(out + o, in + i, n);
			o += n;
		}
		i += used;
	}
	if (full > max)
		o += (size_t)snprintf(out + o, hash_len + 1, "%%~%016llx", (unsigned long long)fnv1a64(in, len));
	out[o] = '\0';
	return o;
}

size_t wfs_component_encode(const char *in, size_t len, char *out)
{
	return encode_within(in, len, out, WFS_NAME_MAX);
}

struct entry {
	size_t name; /* offset in the namespace arena */
	uint32_t name_len;
	uint32_t parent;
	uint32_t ref;
	uint32_t group; /* a group's own directory: its index; else 0 */
	uint8_t kind;
};

struct builder {
	const struct wfs_model *m;
	struct wfs_namespace *ns;
	size_t arena_cap;
	struct entry *e;
	size_t n, cap;
	uint32_t *table; /* entry index + 1, 0 = empty; open addressing */
	size_t tcap;
	uint32_t *group_dir; /* group -> its directory's entry (0: the root) */
	const struct wfs_warn *warn;
};

static uint64_t entry_hash(uint32_t parent, const char *name, size_t len)
{
	return fnv1a64(name, len) ^ (parent * 0x9e3779b97f4a7c15ULL);
}

static const char *entry_name(const struct builder *b, const struct entry *e)
{
	return b->ns->arena + e->name;
}

static ssize_t find(const struct builder *b, uint32_t parent, const char *name, size_t len)
{
	size_t mask = b->tcap - 1;
	for (size_t i = entry_hash(parent, name, len) & mask;; i = (i + 1) & mask) {
		uint32_t slot = b->table[i];
		if (slot == 0)
			return -1;
		const struct entry *e = &b->e[slot - 1];
		if (e->parent == parent && e->name_len == len && memcmp(entry_name(b, e), name, len) == 0)
			return slot - 1;
	}
}

static void table_put(struct builder *b, uint32_t idx)
{
	const struct entry *e = &b->e[idx];
	size_t mask = b->tcap - 1;
	size_t i = entry_hash(e->parent, entry_name(b, e), e->name_len) & mask;
	while (b->table[i])
		i = (i + 1) & mask;
	b->table[i] = idx + 1;
}

static int add(struct builder *b, uint32_t parent, const char *name, size_t len, uint8_t kind,
	       uint32_t ref, uint32_t *out)
{
	if (b->n >= UINT32_MAX - 1)
		return -ENOMEM;
	if ((b->n + 1) * 2 > b->tcap) {
		size_t ncap = b->tcap ? b->tcap * 2 : 1024;
		uint32_t *t = calloc(ncap, sizeof(*t));
		if (t == NULL)
			return -ENOMEM;
		free(b->table);
		b->table = t;
		b->tcap = ncap;
		for (uint32_t i = 0; i < b->n; i++)
			table_put(b, i);
	}
	if (WFS_GROW(b->e, b->cap, b->n, 1) < 0 ||
	    WFS_GROW(b->ns->arena, b->arena_cap, b->ns->arena_len, len + 1) < 0)
		return -ENOMEM;
	struct entry *e = &b->e[b->n];
	e->name = b->ns->arena_len;
	e->name_len = (uint32_t)len;
	e->parent = parent;
	e->ref = ref;
	e->group = 0;
	e->kind = kind;
	memcpy(b->ns->arena + e->name, name, len);
	b->ns->arena[e->name + len] = '\0';
	b->ns->arena_len += len + 1;
	table_put(b, (uint32_t)b->n);
	*out = (uint32_t)b->n++;
	return 0;
}

/* The directory entry for an encoded component, created when @p create. */
static int dir_step(struct builder *b, uint32_t parent, const char *comp, size_t len, bool create,
		    uint32_t *out)
{
	char enc[WFS_NAME_MAX + 1];
	size_t n = wfs_component_encode(comp, len, enc);
	ssize_t found = find(b, parent, enc, n);
	if (found >= 0) {
		*out = (uint32_t)found;
		return 0;
	}
	if (!create)
		return -ENOENT;
	return add(b, parent, enc, n, WFS_NODE_DIR, WFS_NO_REF, out);
}

/*
 * Splits a tensor name by the layout: *file_at is where the file name starts;
 * the directories are the dot-separated components before it (tree) or the
 * whole prefix as one component (modules).
 */
static size_t file_start(enum wfs_layout layout, char sep, const char *name, size_t len)
{
	if (layout == WFS_LAYOUT_FLAT)
		return 0;
	/* '/' (TF scopes) cannot stay inside a directory name: modules splits like tree. */
	int dots_wanted = layout == WFS_LAYOUT_MODULES && sep != '/' ? 2 : 1;
	int dots = 0;
	for (size_t i = len; i-- > 0;)
		if (name[i] == sep && ++dots == dots_wanted)
			return i + 1;
	return 0;
}

/* Walks (or creates) the directories of a tensor of group @p group; sets *dir. */
static int tensor_dir(struct builder *b, uint32_t group, const char *name, size_t start, bool create, uint32_t *dir)
{
	uint32_t base = b->group_dir[group];
	*dir = base;
	if (start == 0)
		return 0;
	size_t dir_len = start - 1; /* without the separator before the file name */
	if (b->ns->layout == WFS_LAYOUT_MODULES && b->m->sep != '/')
		return dir_step(b, base, name, dir_len, create, dir);
	for (size_t i = 0; i <= dir_len;) {
		const char *dot = memchr(name + i, b->m->sep, dir_len - i);
		size_t end = dot ? (size_t)(dot - name) : dir_len;
		int rc = dir_step(b, *dir, name + i, end - i, create, dir);
		if (rc < 0)
			return rc;
		i = end + 1;
	}
	return 0;
}

/* The directories of groups 1.. under the root, named by the group. */
static int add_groups(struct builder *b)
{
	const struct wfs_model *m = b->m;
	b->group_dir = calloc(m->ngroups ? m->ngroups : 1, sizeof(*b->group_dir));
	if (b->group_dir == NULL)
		return -ENOMEM;
	for (size_t g = 1; g < m->ngroups; g++) {
		int rc = dir_step(b, 0, wfs_model_str(m, m->groups[g].name), m->groups[g].name.len, true,
				  &b->group_dir[g]);
		if (rc < 0)
			return rc;
		b->e[b->group_dir[g]].group = (uint32_t)g;
	}
	return 0;
}

static int add_tensors(struct builder *b)
{
	const struct wfs_model *m = b->m;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		const char *name = wfs_model_str(m, t->name);
		uint32_t dir;
		int rc = tensor_dir(b, t->group, name, file_start(b->ns->layout, m->sep, name, t->name.len), true, &dir);
		if (rc < 0)
			return rc;
	}
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		const char *name = wfs_model_str(m, t->name);
		size_t start = file_start(b->ns->layout, m->sep, name, t->name.len);
		uint32_t dir, idx;
		int rc = tensor_dir(b, t->group, name, start, false, &dir);
		if (rc < 0)
			return rc;
		char enc[WFS_NAME_MAX + 1];
		const char *file = name + start;
		size_t file_len = t->name.len - start;
		/* view=npy: NAME.npy, the suffix kept within 255 bytes */
		const char *suffix = b->ns->view.mode == WFS_VIEW_NPY ? NPY_SUFFIX : "";
		size_t n = encode_within(file, file_len, enc, WFS_NAME_MAX - strlen(suffix));
		strcpy(enc + n, suffix);
		n += strlen(suffix);
		ssize_t found = find(b, dir, enc, n);
		if (found >= 0 && b->e[found].kind == WFS_NODE_DIR) {
			/* A directory took the name: the file moves aside, still within 255 bytes. */
			n = encode_within(file, file_len, enc, WFS_NAME_MAX - strlen(CLASH_SUFFIX) - strlen(suffix));
			strcpy(enc + n, CLASH_SUFFIX);
			n += strlen(CLASH_SUFFIX);
			strcpy(enc + n, suffix);
			n += strlen(suffix);
			found = find(b, dir, enc, n);
		}
		if (found >= 0) {
			char q[WFS_QUOTE_MAX];
			wfs_warnf(b->warn, "tensor %s cannot be shown in this layout: its path is taken",
				  wfs_quote(name, t->name.len, q));
			continue;
		}
		if ((rc = add(b, dir, enc, n, WFS_NODE_TENSOR, (uint32_t)i, &idx)) < 0)
			return rc;
	}
	return 0;
}

/* The model directory's other files, under the root. Their names are real file names already. */
static int add_extras(struct builder *b)
{
	const struct wfs_model *m = b->m;
	for (size_t i = 0; i < m->nextras; i++) {
		const struct wfs_extra *x = &m->extras[i];
		const char *path = wfs_model_str(m, x->path);
		uint32_t dir = 0;
		size_t at = 0;
		bool hidden = false;
		for (const char *slash; (slash = memchr(path + at, '/', x->path.len - at)) != NULL && !hidden;) {
			ssize_t f = find(b, dir, path + at, (size_t)(slash - path) - at);
			/* A parent hidden behind a tensor path hides its children too. */
			hidden = f < 0 || b->e[f].kind != WFS_NODE_DIR || b->e[f].ref == WFS_NO_REF;
			dir = f < 0 ? 0 : (uint32_t)f;
			at = (size_t)(slash - path) + 1;
		}
		if (hidden)
			continue;
		const char *base = path + at;
		size_t len = x->path.len - at;
		if (find(b, dir, base, len) >= 0) {
			wfs_warnf(b->warn, "%s is hidden: a tensor path has the same name", path);
			continue;
		}
		uint32_t idx;
		int rc = add(b, dir, base, len, x->is_dir ? WFS_NODE_DIR : WFS_NODE_FILE, (uint32_t)i, &idx);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static int compare_entries(const void *a, const void *b, void *ctx)
{
	const struct builder *bd = ctx;
	const struct entry *x = &bd->e[*(const uint32_t *)a], *y = &bd->e[*(const uint32_t *)b];
	if (x->parent != y->parent)
		return x->parent < y->parent ? -1 : 1;
	size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
	int c = memcmp(entry_name(bd, x), entry_name(bd, y), n);
	return c ? c : (x->name_len > y->name_len) - (x->name_len < y->name_len);
}

/* Lays the entries out breadth-first, children of each directory contiguous and sorted. */
static int layout_nodes(struct builder *b)
{
	size_t n = b->n;
	uint32_t *sorted = malloc(n * sizeof(*sorted));      /* entries but the root, by (parent, name) */
	uint32_t *group = malloc(n * sizeof(*group));        /* entry -> first position in sorted */
	uint32_t *count = calloc(n, sizeof(*count));         /* entry -> number of children */
	uint32_t *order = malloc(n * sizeof(*order));        /* node index -> entry */
	struct wfs_node *nodes = calloc(n, sizeof(*nodes));
	int rc = -ENOMEM;
	if (!sorted || !group || !count || !order || !nodes)
		goto out;
	for (uint32_t i = 1; i < n; i++)
		sorted[i - 1] = i;
	qsort_r(sorted, n - 1, sizeof(*sorted), compare_entries, b);
	for (size_t i = n - 1; i-- > 0;) {
		uint32_t p = b->e[sorted[i]].parent;
		group[p] = (uint32_t)i;
		count[p]++;
	}
	order[0] = 0;
	size_t next = 1;
	for (size_t i = 0; i < n; i++) {
		uint32_t e = order[i];
		struct wfs_node *node = &nodes[i];
		node->name = b->e[e].name;
		node->name_len = b->e[e].name_len;
		node->kind = b->e[e].kind;
		node->ref = b->e[e].ref;
		node->group = b->e[e].group;
		node->first_child = (uint32_t)next;
		node->nchildren = count[e];
		for (uint32_t k = 0; k < count[e]; k++) {
			order[next] = sorted[group[e] + k];
			nodes[next].parent = (uint32_t)i;
			next++;
		}
		if (node->kind == WFS_NODE_TENSOR) {
			struct wfs_tensor_shown shown;
			wfs_tensor_shown(&b->ns->view, b->m, &b->m->tensors[node->ref], &shown);
			node->nbytes = shown.size;
			node->ntensors = 1;
		} else if (node->kind == WFS_NODE_FILE) {
			node->nbytes = b->m->extras[node->ref].size;
		}
	}
	/* Children come after their parents: sum the totals bottom-up. */
	for (size_t i = n; i-- > 1;) {
		struct wfs_node *p = &nodes[nodes[i].parent];
		if (nodes[i].kind != WFS_NODE_FILE) {
			p->nbytes += nodes[i].nbytes;
			p->ntensors += nodes[i].ntensors;
		}
		if (nodes[i].kind == WFS_NODE_DIR)
			p->nsubdirs++;
	}
	b->ns->nodes = nodes;
	b->ns->nnodes = n;
	nodes = NULL;
	rc = 0;
out:
	free(sorted);
	free(group);
	free(count);
	free(order);
	free(nodes);
	return rc;
}

/* One warning naming the types the view shows undecoded. */
static void warn_undecoded(const struct wfs_model *m, const struct wfs_view_options *v, const struct wfs_warn *warn)
{
	if (v->mode == WFS_VIEW_RAW)
		return;
	bool seen[WFS_DT_COUNT] = {false};
	char list[WFS_DT_COUNT * 12] = "";
	size_t len = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		if (seen[t->dtype])
			continue;
		seen[t->dtype] = true;
		struct wfs_tensor_shown s;
		wfs_tensor_shown(v, m, t, &s);
		bool undecoded = v->mode == WFS_VIEW_NPY ? s.bytes
				 : !s.decoded && wfs_dec_kind(t->dtype) == WFS_DEC_FLOAT && t->dtype != WFS_DT_F32;
		if (undecoded)
			len += (size_t)snprintf(list + len, sizeof(list) - len, "%s%s", len ? ", " : "",
						wfs_dtype_name(t->dtype));
	}
	if (len)
		wfs_warnf(warn, "view=%s: %s not decoded: such tensors show their stored bytes%s",
			  v->mode == WFS_VIEW_NPY ? "npy" : "f32", list,
			  v->mode == WFS_VIEW_NPY ? " (a uint8 .npy of shape [nbytes])" : "");
}

int wfs_namespace_build(const struct wfs_model *m, enum wfs_layout layout,
			const struct wfs_warn *warn, struct wfs_namespace **out,
			struct wfs_error *err)
{
	return wfs_namespace_build_view(m, layout, NULL, warn, out, err);
}

int wfs_namespace_build_view(const struct wfs_model *m, enum wfs_layout layout,
			     const struct wfs_view_options *view, const struct wfs_warn *warn,
			     struct wfs_namespace **out, struct wfs_error *err)
{
	(void)err;
	*out = NULL;
	struct wfs_namespace *ns = calloc(1, sizeof(*ns));
	if (ns == NULL)
		return -ENOMEM;
	ns->layout = layout;
	if (view) {
		ns->view = *view;
		warn_undecoded(m, view, warn);
	}
	struct builder b = {.m = m, .ns = ns, .warn = warn};
	uint32_t root;
	int rc = add(&b, 0, "", 0, WFS_NODE_DIR, WFS_NO_REF, &root);
	if (rc == 0)
		rc = add_groups(&b);
	if (rc == 0)
		rc = add_tensors(&b);
	if (rc == 0)
		rc = add_extras(&b);
	if (rc == 0)
		rc = layout_nodes(&b);
	free(b.e);
	free(b.table);
	free(b.group_dir);
	if (rc < 0) {
		wfs_namespace_free(ns);
		return rc;
	}
	*out = ns;
	return 0;
}

void wfs_namespace_free(struct wfs_namespace *ns)
{
	if (ns == NULL)
		return;
	free(ns->nodes);
	free(ns->arena);
	free(ns);
}

ssize_t wfs_node_read(const struct wfs_model *m, const struct wfs_namespace *ns, const struct wfs_node *n,
		      void *buf, size_t len, uint64_t off)
{
	if (n->kind != WFS_NODE_TENSOR)
		return -EISDIR;
	return wfs_view_read(&ns->view, m, &m->tensors[n->ref], buf, len, off);
}

ssize_t wfs_namespace_lookup(const struct wfs_namespace *ns, uint32_t dir, const char *name, size_t len)
{
	if (dir >= ns->nnodes || ns->nodes[dir].kind != WFS_NODE_DIR)
		return -1;
	size_t lo = ns->nodes[dir].first_child, hi = lo + ns->nodes[dir].nchildren;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		const struct wfs_node *c = &ns->nodes[mid];
		size_t n = c->name_len < len ? c->name_len : len;
		int cmp = memcmp(ns->arena + c->name, name, n);
		if (cmp == 0)
			cmp = (c->name_len > len) - (c->name_len < len);
		if (cmp == 0)
			return (ssize_t)mid;
		if (cmp < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return -1;
}
