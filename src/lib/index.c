/**
 * @file index.c
 * Parses model.safetensors.index.json: which shard holds each tensor, and
 * the index's own metadata.
 *
 * Shard paths are untrusted: each must be a relative path that stays inside
 * the model directory, with no backslash and no control character.
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
		const char *text;
		size_t len;
		if (json_object_is_type(val, json_type_string)) {
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

/* Maps every entry's shard path to an index into the sorted, distinct idx->shards. */
static int collect_shards(struct wfs_model *m, struct wfs_index *idx, struct wfs_str *paths)
{
	idx->shards = malloc((idx->nentries ? idx->nentries : 1) * sizeof(*idx->shards));
	if (idx->shards == NULL)
		return -ENOMEM;
	memcpy(idx->shards, paths, idx->nentries * sizeof(*paths));
	qsort_r(idx->shards, idx->nentries, sizeof(*idx->shards), compare_str, m->arena);
	size_t n = 0;
	for (size_t i = 0; i < idx->nentries; i++)
		if (n == 0 || compare_str(&idx->shards[n - 1], &idx->shards[i], m->arena) != 0)
			idx->shards[n++] = idx->shards[i];
	idx->nshards = n;
	for (size_t i = 0; i < idx->nentries; i++) {
		size_t lo = 0, hi = n;
		while (lo < hi) {
			size_t mid = lo + (hi - lo) / 2;
			int c = compare_str(&idx->shards[mid], &paths[i], m->arena);
			if (c == 0) {
				lo = mid;
				break;
			}
			if (c < 0)
				lo = mid + 1;
			else
				hi = mid;
		}
		idx->entries[i].shard = (uint32_t)lo;
	}
	return 0;
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
		wfs_quote(tensor, strlen(tensor), tq);
		if (!json_object_is_type(shard, json_type_string)) {
			wfs_error_add(err, "%s: weight_map: the shard of tensor %s is not a string", label, tq);
			rc = WFS_EINVALID;
			continue;
		}
		const char *path = json_object_get_string(shard);
		size_t plen = (size_t)json_object_get_string_len(shard);
		if (!wfs_shard_path_ok(path, plen)) {
			wfs_error_add(err, "%s: weight_map: tensor %s: shard %s is not a relative path inside the model directory",
				      label, tq, wfs_quote(path, plen, sq));
			rc = WFS_EINVALID;
			continue;
		}
		struct wfs_index_entry *e = &idx->entries[idx->nentries];
		if (wfs_arena_add(m, tensor, strlen(tensor), &e->tensor) < 0 ||
		    wfs_arena_add(m, path, plen, &paths[idx->nentries]) < 0) {
			rc = -ENOMEM;
			goto out;
		}
		idx->nentries++;
	}
	if (rc == 0)
		rc = collect_shards(m, idx, paths);
out:
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
	free(idx->shards);
	free(idx->entries);
	memset(idx, 0, sizeof(*idx));
}
