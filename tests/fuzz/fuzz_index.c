/**
 * @file fuzz_index.c
 * libFuzzer harness: the input is a model.safetensors.index.json.
 *
 * wfs_index_parse runs on a fresh model (as open_indexed does before any
 * shard is read) with the text in a buffer of exactly its length. When the
 * index is accepted: every entry names a shard in range, the shard list is
 * sorted and distinct and every path passes wfs_shard_path_ok, names and
 * paths lie in the index's strings; then the (tensorless) namespace of every layout is built
 * and the root's xattrs, which carry the index's metadata, are checked.
 */
#include "fuzz_check.h"

#include "weightfs/model.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wfs_model *m = fz_model_new();
	char *text = fz_malloc(size);
	memcpy(text, data, size);
	struct wfs_error err = {0};
	struct wfs_index idx;
	int rc = wfs_index_parse(m, "model.safetensors.index.json", text, size, &idx, &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "unexpected result %d", rc);
	FZ_CHECK(rc == 0 ? err.count == 0 : (err.count > 0 || rc == -ENOMEM), "result %d with %u problems",
		 rc, err.count);
	if (rc < 0) {
		FZ_CHECK(idx.shards == NULL && idx.entries == NULL && idx.nentries == 0 && idx.strings.data == NULL,
			 "a rejected index is not released");
		goto out;
	}
	FZ_CHECK(idx.nshards <= idx.nentries && (idx.nentries == 0 || idx.nshards > 0),
		 "%zu shards for %zu entries", idx.nshards, idx.nentries);
	for (size_t i = 0; i < idx.nshards; i++) {
		const struct wfs_str *s = &idx.shards[i];
		FZ_CHECK(s->off + s->len < idx.strings.len, "shard %zu outside the index strings", i);
		const char *path = idx.strings.data + s->off;
		FZ_CHECK(wfs_shard_path_ok(path, s->len), "shard path \"%.*s\" accepted", (int)s->len, path);
		FZ_CHECK(memchr(path, '\0', s->len) == NULL, "NUL in a shard path");
		FZ_CHECK(path[0] != '/' && !(s->len >= 2 && path[0] == '.' && path[1] == '.' &&
					     (s->len == 2 || path[2] == '/')),
			 "shard path \"%.*s\" escapes the model directory", (int)s->len, path);
		if (i > 0) {
			const struct wfs_str *p = &idx.shards[i - 1];
			FZ_CHECK(fz_compare_names(idx.strings.data + p->off, p->len, path, s->len) < 0,
				 "shards not sorted and distinct");
		}
	}
	for (size_t i = 0; i < idx.nentries; i++) {
		const struct wfs_index_entry *e = &idx.entries[i];
		FZ_CHECK(e->shard < idx.nshards, "entry %zu: shard %u of %zu", i, e->shard, idx.nshards);
		FZ_CHECK(e->tensor.off + e->tensor.len < idx.strings.len, "entry %zu: name outside the index strings", i);
		FZ_CHECK(memchr(idx.strings.data + e->tensor.off, '\0', e->tensor.len) == NULL, "NUL in a tensor name");
	}
	for (size_t i = 0; i < m->nindex_meta; i++)
		FZ_CHECK(m->index_meta[i].key.off + m->index_meta[i].key.len < m->arena_len &&
			 m->index_meta[i].value.off + m->index_meta[i].value.len < m->arena_len,
			 "index metadata outside the arena");

	/* The index's metadata is shown as root xattrs; no tensors yet. */
	FZ_CHECK(wfs_model_finish(m, &err) == 0, "finishing an empty model");
	fz_check_layouts(m, true);
	wfs_index_release(&idx);
	FZ_CHECK(idx.shards == NULL && idx.entries == NULL, "wfs_index_release");
out:
	wfs_index_release(&idx);
	free(text);
	wfs_error_clear(&err);
	wfs_model_free(m);
	return 0;
}
