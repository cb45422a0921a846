/**
 * @file index.c
 * Parses model.safetensors.index.json: which shard holds each tensor, and
 * the index's own metadata.
 *
 * Shard paths are untrusted: each must be a relative path that stays inside
 * the model directory, with no backslash and no control character. They are
 * normalised ("." and empty components dropped: "./x" and "s//x" are "x" and
 * "s/x") before anything compares them, so one file is always one shard.
 */
#include <stdlib.h>
#include <string.h>

#include "internal.h"

bool wfs_shard_path_ok(const char *path, size_t len)
{
	if (len == 0 || path[0] == '/')
		return false;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)path[i];
		if (c < 0x20 || c == 0x7f || c == '\\')
			return false;
	}
	/* No ".." component. */
	for (size_t start = 0; start <= len;) {
		const char *slash = memchr(path + start, '/', len - start);
		size_t end = slash ? (size_t)(slash - path) : len;
		if (end - start == 2 && path[start] == '.' && path[start + 1] == '.')
			return false;
		start = end + 1;
	}
	return true;
}

static int compare_str(const void *a, const void *b, void *arena)
{
	const struct wfs_str *x = a, *y = b;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp((char *)arena + x->off, (char *)arena + y->off, n);
	return c ? c : (x->len > y->len) - (x->len < y->len);
}

static int add_index_metadata(struct wfs_model *m, struct json_object *meta, const char *label,
			      struct wfs_error *err)
{
	if (meta == NULL || json_object_is_type(meta, json_type_null))
		return 0;
	if (!json_object_is_type(meta, json_type_object)) {
		wfs_error_add(err, "%s: \"metadata\" is not an object", label);
		return WFS_EINVALID;
	}
	json_object_object_foreach(meta, key, val) {
		if (WFS_GROW(m->index_meta, m->cap.index_meta, m->nindex_meta, 1) < 0)
			return -ENOMEM;
		struct wfs_kv *kv = &m->index_meta[m->nindex_meta];
		*kv = (struct wfs_kv){.space = WFS_KV_INDEX};
		const char *text;
		size_t len;
		kv->json = !json_object_is_type(val, json_type_string);
		if (!kv->json) {
			text = json_object_get_string(val);
			len = (size_t)json_object_get_string_len(val);
		} else {
			text = json_object_to_json_string_ext(val, JSON_C_TO_STRING_PLAIN);
			len = strlen(text);
		}
		if (wfs_arena_add(m, key, strlen(key), &kv->key) < 0 || wfs_arena_add(m, text, len, &kv->value) < 0)
			return -ENOMEM;
		m->nindex_meta++;
	}
	return 0;
}

static uint64_t hash_str(const char *s, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
	return h;
}

/*
 * Maps every entry's shard path to an index into idx->shards, the distinct
 * paths sorted. Thousands of entries name a few shards: a hash table finds
 * the distinct ones, and only those are sorted.
 */
static int collect_shards(struct wfs_index *idx, struct wfs_str *paths)
{
	const char *text = idx->strings.data;
	size_t cap = 64;
	while (cap < 2 * idx->nentries)
		cap *= 2;
	uint32_t *table = calloc(cap, sizeof(*table)); /* distinct index + 1 */
	uint32_t *remap = NULL;
	idx->shards = malloc((idx->nentries ? idx->nentries : 1) * sizeof(*idx->shards));
	int rc = -ENOMEM;
	if (table == NULL || idx->shards == NULL)
		goto out;
	size_t n = 0;
	for (size_t i = 0; i < idx->nentries; i++) {
		const struct wfs_str *p = &paths[i];
		size_t slot = hash_str(text + p->off, p->len) & (cap - 1);
		while (table[slot] && compare_str(&idx->shards[table[slot] - 1], p, idx->strings.data) != 0)
			slot = (slot + 1) & (cap - 1);
		if (table[slot] == 0) {
			idx->shards[n++] = *p;
			table[slot] = (uint32_t)n;
		}
		idx->entries[i].shard = table[slot] - 1;
	}
	idx->nshards = n;
	/* Sort the distinct paths and renumber the entries to match. */
	struct { struct wfs_str path; uint32_t was; } *order = malloc((n ? n : 1) * sizeof(*order));
	remap = malloc((n ? n : 1) * sizeof(*remap));
	if (order == NULL || remap == NULL) {
		free(order);
		goto out;
	}
	for (size_t i = 0; i < n; i++) {
		order[i].path = idx->shards[i];
		order[i].was = (uint32_t)i;
	}
	qsort_r(order, n, sizeof(*order), compare_str, idx->strings.data); /* path is the first member */
	for (size_t i = 0; i < n; i++) {
		idx->shards[i] = order[i].path;
		remap[order[i].was] = (uint32_t)i;
	}
	free(order);
	for (size_t i = 0; i < idx->nentries; i++)
		idx->entries[i].shard = remap[idx->entries[i].shard];
	rc = 0;
out:
	free(table);
	free(remap);
	return rc;
}

int wfs_index_parse(struct wfs_model *m, const char *label, const char *text,
		    size_t len, struct wfs_index *idx, struct wfs_error *err)
{
	memset(idx, 0, sizeof(*idx));
	struct json_object *root;
	int rc = wfs_json_parse(label, text, len, WFS_JSON_INDEX, &root, err);
	if (rc < 0)
		return rc;

	struct json_object *map = NULL, *meta = NULL;
	json_object_object_get_ex(root, "weight_map", &map);
	json_object_object_get_ex(root, "metadata", &meta);
	struct wfs_str *paths = NULL;
	char *norm = NULL;
	size_t norm_cap = 0;
	rc = add_index_metadata(m, meta, label, err);
	if (map == NULL) {
		wfs_error_add(err, "%s: \"weight_map\" is missing", label);
		rc = WFS_EINVALID;
		goto out;
	}
	if (!json_object_is_type(map, json_type_object)) {
		wfs_error_add(err, "%s: \"weight_map\" is not an object", label);
		rc = WFS_EINVALID;
		goto out;
	}
	size_t n = (size_t)json_object_object_length(map);
	idx->entries = malloc((n ? n : 1) * sizeof(*idx->entries));
	paths = malloc((n ? n : 1) * sizeof(*paths));
	if (idx->entries == NULL || paths == NULL) {
		rc = -ENOMEM;
		goto out;
	}
	json_object_object_foreach(map, tensor, shard) {
		char tq[WFS_QUOTE_MAX], sq[WFS_QUOTE_MAX];
		if (!json_object_is_type(shard, json_type_string)) {
			wfs_quote(tensor, strlen(tensor), tq);
			wfs_error_add(err, "%s: weight_map: the shard of tensor %s is not a string", label, tq);
			rc = WFS_EINVALID;
			continue;
		}
		const char *raw = json_object_get_string(shard);
		size_t rawlen = (size_t)json_object_get_string_len(shard);
		if (WFS_GROW(norm, norm_cap, 0, rawlen + 1) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		const char *path = norm;
		size_t plen = wfs_path_normalize(raw, rawlen, norm);
		if (!wfs_shard_path_ok(raw, rawlen) || plen == 0) {
			wfs_quote(tensor, strlen(tensor), tq);
			wfs_error_add(err, "%s: weight_map: tensor %s: shard %s is not a relative path inside the model directory",
				      label, tq, wfs_quote(raw, rawlen, sq));
			rc = WFS_EINVALID;
			continue;
		}
		struct wfs_index_entry *e = &idx->entries[idx->nentries];
		if (wfs_strings_add(&idx->strings, tensor, strlen(tensor), &e->tensor) < 0 ||
		    wfs_strings_add(&idx->strings, path, plen, &paths[idx->nentries]) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		idx->nentries++;
	}
	if (rc == 0)
		rc = collect_shards(idx, paths);
out:
	free(norm);
	free(paths);
	json_object_put(root);
	if (rc < 0)
		wfs_index_release(idx);
	return rc;
}

void wfs_index_release(struct wfs_index *idx)
{
	if (idx == NULL)
		return;
	free(idx->strings.data);
	free(idx->shards);
	free(idx->entries);
	memset(idx, 0, sizeof(*idx));
}
int wfs_index_check(struct wfs_model *m, const struct wfs_index *idx, const char *label,
		    const struct wfs_warn *warn, struct wfs_error *err)
{
	bool *listed = calloc(m->ntensors ? m->ntensors : 1, 1);
	if (listed == NULL)
		return -ENOMEM;
	int rc = 0;
	for (size_t i = 0; i < idx->nentries; i++) {
		const struct wfs_index_entry *e = &idx->entries[i];
		const char *name = idx->strings.data + e->tensor.off;
		ssize_t t = wfs_model_find(m, name, e->tensor.len);
		char q[WFS_QUOTE_MAX], sq[WFS_QUOTE_MAX];
		if (t < 0 || m->tensors[t].shard != e->shard) {
			const struct wfs_str s = m->shards[e->shard].name;
			wfs_error_add(err, "%s: tensor %s: not found in shard %s named by the index", label,
				      wfs_quote(name, e->tensor.len, q),
				      wfs_quote(wfs_model_str(m, s), s.len, sq));
			rc = WFS_EINVALID;
			continue;
		}
		listed[t] = true;
	}
	for (size_t t = 0; t < m->ntensors && rc == 0; t++) {
		if (listed[t])
			continue;
		const struct wfs_tensor *x = &m->tensors[t];
		char q[WFS_QUOTE_MAX];
		wfs_warnf(warn, "%s: tensor %s is not in the index %s; shown anyway",
			  wfs_model_str(m, m->shards[x->shard].name),
			  wfs_quote(wfs_model_str(m, x->name), x->name.len, q), label);
	}
	free(listed);
	return rc;
}
