/**
 * @file fuzz_gguf.c
 * libFuzzer harness: the input is a whole GGUF file.
 *
 * The reader (formats/gguf/parse.c) is shown the file's first bytes in a
 * buffer of exactly that length, growing it as it asks (as a remote open
 * does), so reading past what it was given is caught. An accepted file's
 * tensors must lie inside the data section, inside the file, aligned,
 * without overlap, with the byte size their type and ne give; every KV must
 * render (or be too long for the limit). When the format is registered,
 * wfs_model_open_memory must reach the same verdict, and the accepted model
 * is checked like every other (fuzz_check.h).
 */
#include "fuzz_check.h"

#include "formats/gguf/parse.h"
#include "weightfs/model.h"

static void check_parsed(const struct wfs_gguf *g, const uint8_t *buf, const uint8_t *data, size_t size)
{
	FZ_CHECK(g->alignment && (g->alignment & (g->alignment - 1)) == 0, "alignment %u", g->alignment);
	FZ_CHECK(g->infos_end <= size && g->data_offset >= g->infos_end, "infos end");
	for (uint64_t i = 0; i < g->n_tensors; i++) {
		const struct wfs_gguf_tensor *t = &g->tensors[i];
		FZ_CHECK(t->n_dims <= WFS_GGUF_MAX_DIMS, "n_dims");
		FZ_CHECK(t->offset % g->alignment == 0, "tensor %llu misaligned", (unsigned long long)i);
		FZ_CHECK(g->data_offset <= size && t->offset <= size - g->data_offset &&
			 t->nbytes <= size - g->data_offset - t->offset,
			 "tensor %llu outside the file", (unsigned long long)i);
		FZ_CHECK(memchr(t->name, 0, t->name_len) == NULL && t->name_len > 0, "tensor name");
		uint64_t numel = 1, nbytes;
		for (unsigned d = 0; d < t->n_dims; d++)
			numel *= t->ne[d];
		FZ_CHECK(wfs_dtype_nbytes(t->dtype, numel, &nbytes) == 0 && nbytes == t->nbytes, "nbytes");
		if (t->nbytes) { /* touch the first and last byte */
			volatile uint8_t first = data[g->data_offset + t->offset];
			volatile uint8_t last = data[g->data_offset + t->offset + t->nbytes - 1];
			(void)first;
			(void)last;
		}
		for (uint64_t j = 0; j < i && j < 64; j++) {
			const struct wfs_gguf_tensor *u = &g->tensors[j];
			FZ_CHECK(t->nbytes == 0 || u->nbytes == 0 || t->offset >= u->offset + u->nbytes ||
				 u->offset >= t->offset + t->nbytes, "tensors %llu and %llu overlap",
				 (unsigned long long)i, (unsigned long long)j);
		}
	}
	for (uint64_t i = 0; i < g->n_kv; i++) {
		char *text = NULL;
		size_t len = 0;
		bool json;
		int rc = wfs_gguf_kv_render(buf, &g->kv[i], 1 << 20, &text, &len, &json);
		FZ_CHECK(rc == 0 || rc == -E2BIG || rc == -ENOMEM, "render %d", rc);
		FZ_CHECK(rc != 0 || strlen(text) <= len, "render length");
		free(text);
	}
}

/*
 * Parses with a prefix buffer of exactly the size asked for, a new buffer
 * each time (the parse goes on from where it stopped, in a moved buffer);
 * returns the verdict.
 */
static int parse_growing(const uint8_t *data, size_t size)
{
	size_t len = size < 32 ? size : 32;
	struct wfs_gguf g = {0};
	struct wfs_error err = {0};
	int rc;
	for (unsigned round = 0;; round++) {
		uint8_t *buf = fz_malloc(len);
		memcpy(buf, data, len);
		uint64_t need = 0;
		rc = wfs_gguf_parse(buf, len, size, "fuzz.gguf", &g, &err, &need);
		FZ_CHECK(rc == 0 || rc == -EAGAIN || rc == WFS_EINVALID || rc == -ENOMEM, "result %d", rc);
		if (rc == 0) {
			for (uint64_t i = 0; i < g.n_kv; i++)
				FZ_CHECK(g.kv[i].key == (const char *)buf + g.kv[i].key_off, "key not rebased");
			check_parsed(&g, buf, data, size);
		}
		free(buf);
		if (rc != -EAGAIN)
			break;
		FZ_CHECK(need > len && need <= size && round < 64, "asked for %llu after %zu of %zu",
			 (unsigned long long)need, len, size);
		len = (size_t)need;
	}
	FZ_CHECK(rc != WFS_EINVALID || err.count > 0, "rejected without a message");
	FZ_CHECK(rc != 0 || err.count == 0, "accepted with a message");
	wfs_gguf_release(&g);
	wfs_error_clear(&err);
	return rc;
}

/* The model the library builds from the file (format layer, gguf.c): same verdict, sane tensors, every layout. */
static void check_model(const uint8_t *data, size_t size, int parsed)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	int rc = wfs_model_open_memory(data, size, "fuzz.gguf", &m, &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "open_memory %d", rc);
	FZ_CHECK((rc == 0) == (m != NULL), "result %d with model %p", rc, (void *)m);
	FZ_CHECK(rc == 0 ? err.count == 0 : err.count > 0, "result %d with %u problems", rc, err.count);
	/* A file the reader accepts may still be refused as a model (split keys
	 * without a split name); one it refuses never makes a model. */
	bool is_gguf = size >= 4 && memcmp(data, "GGUF", 4) == 0;
	if (is_gguf && parsed == WFS_EINVALID)
		FZ_CHECK(rc != 0, "the reader refused a file the model accepted");
	if (m) {
		FZ_CHECK(strcmp(m->format, "gguf") == 0 || !is_gguf, "format %s", m->format);
		for (size_t i = 0; i < m->ntensors; i++) {
			const struct wfs_tensor *t = &m->tensors[i];
			FZ_CHECK(t->offset <= size && t->nbytes <= size - t->offset, "tensor %zu outside the file", i);
			if (t->nbytes) {
				uint8_t b;
				FZ_CHECK(wfs_tensor_read(m, t, &b, 1, t->nbytes - 1) == 1 && b == data[t->offset + t->nbytes - 1],
					 "tensor %zu: last byte", i);
			}
		}
		fz_check_layouts(m, true);
	}
	wfs_model_free(m);
	wfs_error_clear(&err);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	(void)fz_model_new; /* fuzz_check.h's helper for harnesses that build models by hand */
	int rc = parse_growing(data, size);
	check_model(data, size, rc);
	return 0;
}
