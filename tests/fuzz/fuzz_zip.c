/**
 * @file fuzz_zip.c
 * libFuzzer harness: the input is a whole PyTorch file (a zip checkpoint,
 * a TorchScript archive, or a legacy torch.save stream).
 *
 * The zip directory is read with wfs_zip_open over a reader that refuses
 * anything outside the input: when accepted, every entry's local header
 * and data lie before the central directory, names are sorted and
 * distinct, entries do not overlap, and every entry found by name is the
 * one listed. Then the file is opened as a model (wfs_model_open_memory,
 * which probes and opens it like a shard on disk): an accepted model has
 * every tensor in range of the file, whose first and last bytes read (a
 * strided view gathers them), and the namespace of every layout with all
 * its xattrs is checked (fuzz_check.h).
 */
#include "fuzz_check.h"

#include "formats/pytorch/zip.h"
#include "weightfs/model.h"

struct input {
	const uint8_t *data;
	size_t size;
};

static int input_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	const struct input *in = ctx;
	FZ_CHECK(off <= in->size && len <= in->size - off, "zip reader asked for [%llu,+%zu) of %zu bytes",
		 (unsigned long long)off, len, in->size);
	memcpy(buf, in->data + off, len);
	return 0;
}

static void input_willneed(void *ctx, uint64_t off, uint64_t len)
{
	const struct input *in = ctx;
	FZ_CHECK(off < in->size && len > 0, "willneed of [%llu,+%llu) of %zu bytes", (unsigned long long)off,
		 (unsigned long long)len, in->size);
}

static void check_zip(const uint8_t *data, size_t size)
{
	struct input in = {data, size};
	struct wfs_zip z;
	struct wfs_error err = {0};
	int rc = wfs_zip_open(&z, size, input_pread, input_willneed, &in, "fuzz.pt", &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "zip: unexpected result %d", rc);
	FZ_CHECK(rc == 0 ? err.count == 0 : (err.count == 1 || rc == -ENOMEM), "zip: result %d with %u problems", rc,
		 err.count);
	wfs_error_clear(&err);
	if (rc < 0)
		return;
	FZ_CHECK(z.nentries > 0 && z.cd_offset <= size && z.prefix_len > 0, "zip: empty or outside");
	for (size_t i = 0; i < z.nentries; i++) {
		const struct wfs_zip_entry *e = &z.entries[i];
		FZ_CHECK(e->name_len > z.prefix_len && memcmp(e->name, z.entries[0].name, z.prefix_len) == 0,
			 "zip: entry outside the shared folder");
		FZ_CHECK(e->header_offset + 30 <= e->data_offset && e->data_offset <= z.cd_offset &&
			 e->csize <= z.cd_offset - e->data_offset, "zip: entry %zu outside its room", i);
		FZ_CHECK(e->method == 0 || e->method == 8, "zip: method %u accepted", e->method);
		if (i > 0)
			FZ_CHECK(fz_compare_names(z.entries[i - 1].name, z.entries[i - 1].name_len, e->name,
						  e->name_len) < 0, "zip: names not sorted and distinct");
		for (size_t j = 0; j < z.nentries && j < 64; j++) {
			const struct wfs_zip_entry *o = &z.entries[j];
			if (j != i)
				FZ_CHECK(o->header_offset >= e->data_offset + e->csize ||
					 e->header_offset >= o->data_offset + o->csize, "zip: entries %zu and %zu overlap", i, j);
		}
		FZ_CHECK(wfs_zip_find(&z, e->name + z.prefix_len, e->name_len - z.prefix_len) == e,
			 "zip: entry %zu not found by its name", i);
		if (i < 8 && e->usize <= 1 << 16) {
			uint8_t *out = NULL;
			size_t len = 0;
			int r = wfs_zip_read(&z, e, 1 << 16, input_pread, &in, "fuzz.pt", &out, &len, &err);
			FZ_CHECK(r == 0 ? len == e->usize : (r == WFS_EINVALID && err.count == 1) || r == -ENOMEM,
				 "zip: read of entry %zu gives %d", i, r);
			free(out);
			wfs_error_clear(&err);
		}
	}
	wfs_zip_free(&z);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* An exact-size copy, so that ASan sees any read past the input. */
	uint8_t *copy = fz_malloc(size);
	memcpy(copy, data, size);
	check_zip(copy, size);

	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	int rc = wfs_model_open_memory(copy, size, "fuzz.pt", &m, &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "unexpected result %d", rc);
	FZ_CHECK((rc == 0) == (m != NULL), "result %d with model %p", rc, (void *)m);
	FZ_CHECK(rc == 0 ? err.count == 0 : (err.count > 0 || rc == -ENOMEM), "result %d with %u problems", rc,
		 err.count);
	FZ_CHECK(err.text == NULL || strlen(err.text) == err.len, "error length");
	if (m) {
		for (size_t i = 0; i < m->ntensors; i++) {
			const struct wfs_tensor *t = &m->tensors[i];
			const char *name = wfs_model_str(m, t->name);
			FZ_CHECK(t->name.len > 0 && memchr(name, '\0', t->name.len) == NULL, "tensor %zu: bad name", i);
			FZ_CHECK(t->offset <= size, "tensor %s: element 0 at %llu, past the file", name,
				 (unsigned long long)t->offset);
			if (t->extent == WFS_EXTENT_RANGE)
				FZ_CHECK(t->nbytes <= size - t->offset, "tensor %s: range past the file", name);
			uint8_t b[2];
			if (t->nbytes) {
				FZ_CHECK(wfs_tensor_read(m, t, b, 1, 0) == 1, "tensor %s: first byte", name);
				FZ_CHECK(wfs_tensor_read(m, t, b, 2, t->nbytes - 1) == 1, "tensor %s: last byte", name);
				if (t->extent == WFS_EXTENT_RANGE)
					FZ_CHECK(b[0] == copy[t->offset + t->nbytes - 1], "tensor %s: last byte differs", name);
			}
			FZ_CHECK(wfs_tensor_read(m, t, b, 1, t->nbytes) == 0, "tensor %s: read past its end", name);
		}
		fz_check_layouts(m, true);
	}
	wfs_model_free(m);
	wfs_error_clear(&err);
	free(copy);
	return 0;
}
