/**
 * @file fuzz_header.c
 * libFuzzer harness: the input is a whole safetensors file.
 *
 * It is validated twice: by wfs_model_open_memory (the file in one buffer),
 * and the way a shard on disk is, with the header copied into a buffer of
 * exactly its length (so reading past the header is caught). Both must reach
 * the same verdict. An accepted model must tile its data section; the first
 * and last byte of every tensor are read, and the namespace of every layout
 * is built and checked with all its xattrs (fuzz_check.h).
 */
#include "fuzz_check.h"

#include "weightfs/model.h"

/* The tensors sorted, in range, tiling [8 + header_len, size); shapes as text match dims. */
static void check_model(const struct wfs_model *m, const uint8_t *data, size_t size, uint64_t header_len)
{
	uint64_t total = 0;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		FZ_CHECK(t->shard == 0, "tensor %zu: shard %u", i, t->shard);
		FZ_CHECK(t->name.off + t->name.len < m->arena_len, "tensor %zu: name outside the arena", i);
		const char *name = wfs_model_str(m, t->name);
		FZ_CHECK(memchr(name, '\0', t->name.len) == NULL, "tensor %zu: NUL in the name", i);
		if (i > 0) {
			const struct wfs_tensor *p = &m->tensors[i - 1];
			FZ_CHECK(fz_compare_names(wfs_model_str(m, p->name), p->name.len, name, t->name.len) < 0,
				 "tensors not sorted or duplicated");
		}
		FZ_CHECK(t->offset >= 8 + header_len && t->offset <= size && t->nbytes <= size - t->offset,
			 "tensor %s: [%llu,+%llu) outside the %zu-byte file", name,
			 (unsigned long long)t->offset, (unsigned long long)t->nbytes, size);
		FZ_CHECK((uint64_t)t->dims + t->ndim <= m->ndims, "tensor %s: dims out of range", name);
		total += t->nbytes;

		/* The shape text is the JSON array of the dims. */
		char *expect = fz_malloc(2 + (size_t)t->ndim * 21 + 1);
		size_t o = 0;
		expect[o++] = '[';
		for (uint32_t d = 0; d < t->ndim; d++)
			o += (size_t)sprintf(expect + o, "%s%llu", d ? "," : "",
					     (unsigned long long)m->dims[t->dims + d]);
		expect[o++] = ']';
		FZ_CHECK(o == t->shape_text.len && memcmp(expect, wfs_model_str(m, t->shape_text), o) == 0,
			 "tensor %s: shape text", name);
		free(expect);

		/* Touch the first and last byte of the range, directly and through the library. */
		if (t->nbytes) {
			volatile uint8_t first = data[t->offset], last = data[t->offset + t->nbytes - 1];
			uint8_t b;
			FZ_CHECK(wfs_tensor_read(m, t, &b, 1, 0) == 1 && b == first, "tensor %s: first byte", name);
			FZ_CHECK(wfs_tensor_read(m, t, &b, 1, t->nbytes - 1) == 1 && b == last,
				 "tensor %s: last byte", name);
			FZ_CHECK(wfs_tensor_read(m, t, &b, 1, t->nbytes) == 0, "tensor %s: read past its end", name);
		}
		uint8_t none;
		FZ_CHECK(wfs_tensor_read(m, t, &none, 0, 0) == 0, "tensor %s: empty read", name);
	}
	FZ_CHECK(total == size - 8 - header_len, "tensors cover %llu of %llu data bytes",
		 (unsigned long long)total, (unsigned long long)(size - 8 - header_len));
	FZ_CHECK(m->total_bytes == total, "total_bytes");
	for (size_t i = 0; i < m->nmetadata; i++)
		FZ_CHECK(m->metadata[i].key.off + m->metadata[i].key.len < m->arena_len &&
			 m->metadata[i].value.off + m->metadata[i].value.len < m->arena_len,
			 "metadata outside the arena");
}

/* The on-disk path: header in a buffer of its exact length, into a fresh model. */
static int parse_like_a_shard(const uint8_t *data, size_t size, uint64_t header_len)
{
	struct wfs_model *m = fz_model_new();
	struct wfs_error err = {0};
	int rc = -ENOMEM;
	char *header = fz_malloc((size_t)header_len);
	memcpy(header, data + 8, (size_t)header_len);
	if (WFS_GROW(m->shards, m->cap.shards, m->nshards, 1) == 0) {
		memset(&m->shards[0], 0, sizeof(m->shards[0]));
		m->shards[0].fd = -1;
		m->shards[0].size = size;
		m->nshards = 1;
		if (wfs_arena_add(m, "fuzz.safetensors", 16, &m->shards[0].name) == 0)
			rc = wfs_st_parse_header(m, 0, 0, "fuzz.safetensors", NULL, header, (size_t)header_len, size, &err);
		if (rc == 0)
			rc = wfs_model_finish(m, &err);
	}
	FZ_CHECK(rc == 0 || err.count > 0 || rc == -ENOMEM, "rejected (%d) without a message", rc);
	free(header);
	wfs_error_clear(&err);
	wfs_model_free(m);
	return rc;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	int rc = wfs_model_open_memory(data, size, "fuzz.safetensors", &m, &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "unexpected result %d", rc);
	FZ_CHECK((rc == 0) == (m != NULL), "result %d with model %p", rc, (void *)m);
	FZ_CHECK(rc == 0 ? err.count == 0 : err.count > 0, "result %d with %u problems", rc, err.count);
	FZ_CHECK(err.text == NULL || strlen(err.text) == err.len, "error length");

	/*
	 * wfs_model_open_memory lets the content decide the format: bytes that
	 * another format bids higher on (a protobuf that reads as an ONNX model)
	 * are that format's. The safetensors invariants hold for the rest.
	 */
	if (rc == 0 && strcmp(m->format, "safetensors") != 0) {
		fz_check_layouts(m, true);
		wfs_model_free(m);
		return 0;
	}
	uint64_t header_len = 0;
	if (size >= 8) {
		struct wfs_error perr = {0};
		if (wfs_st_check_prefix("fuzz", data, size, &header_len, &perr) == 0) {
			int rc2 = parse_like_a_shard(data, size, header_len);
			FZ_CHECK(rc2 == rc || rc2 == -ENOMEM || rc == -ENOMEM,
				 "in memory %d, from an exact-size header %d", rc, rc2);
		} else {
			FZ_CHECK(rc != 0, "model accepted with a bad length prefix");
		}
		wfs_error_clear(&perr);
	}

	if (m) {
		check_model(m, data, size, header_len);
		fz_check_layouts(m, true);
	}
	wfs_model_free(m);
	wfs_error_clear(&err);
	return 0;
}
