/**
 * @file test_views_ggml.c
 * Typed views of ggml block types: every quantized tensor of
 * tests/data/gguf-samples/model.gguf (argv[1] is that folder), shown by
 * view=npy and view=f32, hashes to the manifest's dequant_f32_sha256 (the
 * float32 values of ggml's reference dequantizer; ggml_cases.h), and reads
 * at any offset and length (cutting 32- and 256-element blocks) equal the
 * slice of the whole file.
 *
 * The GGUF file is reached without a GGUF parser: a safetensors file in
 * memory holds the whole GGUF file as one U8 tensor, and each case is that
 * tensor narrowed to the case's bytes and given its ggml type; its shape
 * [n_elements] comes from an empty tensor [n_elements, 0].
 */
#include <stdio.h>
#include <stdlib.h>

#include "check.h"
#include "sha256.h"
#include "weightfs/namespace.h"

#include "ggml_cases.h"

#define NCASES (sizeof(ggml_cases) / sizeof(ggml_cases[0]))

static void hex_of(const uint8_t *p, size_t n, char hex[65])
{
	struct sha256 c;
	uint8_t d[32];
	sha256_init(&c);
	sha256_update(&c, p, n);
	sha256_final(&c, d);
	sha256_hex(d, hex);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s GGUF_SAMPLES_DIR\n", argv[0]);
		return 2;
	}
	size_t gsize;
	uint8_t *gguf = check_read_file(argv[1], "model.gguf", &gsize);

	/* "all": U8 [gsize]; "dK": I8 [n_elements of case K, 0] (no bytes) */
	char header[8192];
	size_t len = (size_t)snprintf(header, sizeof(header),
				      "{\"all\":{\"dtype\":\"U8\",\"shape\":[%zu],\"data_offsets\":[0,%zu]}",
				      gsize, gsize);
	for (size_t k = 0; k < NCASES; k++)
		len += (size_t)snprintf(header + len, sizeof(header) - len,
					",\"d%02zu\":{\"dtype\":\"I8\",\"shape\":[%llu,0],\"data_offsets\":[%zu,%zu]}",
					k, (unsigned long long)ggml_cases[k].n_elements, gsize, gsize);
	len += (size_t)snprintf(header + len, sizeof(header) - len, "}");
	size_t size = 8 + len + gsize;
	uint8_t *file = malloc(size);
	for (int i = 0; i < 8; i++)
		file[i] = (uint8_t)((uint64_t)len >> (8 * i));
	memcpy(file + 8, header, len);
	memcpy(file + 8 + len, gguf, gsize);
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	CHECK(wfs_model_open_memory(file, size, "gguf-in-safetensors", &m, &err) == 0);
	if (m == NULL)
		return check_report("test_views_ggml");

	const struct wfs_tensor *all = &m->tensors[wfs_model_find(m, "all", 3)];
	size_t max = 4 * 131072 + 4096;
	uint8_t *whole = malloc(max + WFS_VIEW_SCRATCH), *space = malloc(64 + max + WFS_VIEW_SCRATCH);
	uint8_t *buf = space + 64;
	struct wfs_view_options views[] = {{.mode = WFS_VIEW_NPY}, {.mode = WFS_VIEW_F32},
					   {.mode = WFS_VIEW_NPY, .npy_f16 = true}};
	srand(9);
	for (size_t k = 0; k < NCASES; k++) {
		const struct ggml_case *c = &ggml_cases[k];
		char dname[8];
		snprintf(dname, sizeof(dname), "d%02zu", k);
		const struct wfs_tensor *d = &m->tensors[wfs_model_find(m, dname, 3)];
		struct wfs_tensor t = *all;
		t.offset += c->file_offset;
		t.nbytes = c->nbytes;
		t.dtype = c->dtype;
		t.dims = d->dims;
		t.ndim = 1;
		for (size_t v = 0; v < sizeof(views) / sizeof(views[0]); v++) {
			struct wfs_tensor_shown s;
			wfs_tensor_shown(&views[v], m, &t, &s);
			CHECK(s.decoded && s.dtype == WFS_DT_F32 && s.size == s.header + 4 * c->n_elements);
			CHECK(s.size <= max);
			if (s.size > max)
				continue;
			CHECK(wfs_view_read(&views[v], m, &t, whole, (size_t)s.size, 0) == (ssize_t)s.size);
			char hex[65];
			hex_of(whole + s.header, 4 * c->n_elements, hex);
			CHECK(strcmp(hex, c->dequant_f32_sha256) == 0);
			if (strcmp(hex, c->dequant_f32_sha256) != 0)
				fprintf(stderr, "%s (%s): %s\n", c->name, wfs_dtype_name(c->dtype), hex);
			int bad = 0;
			for (int r = 0; r < 200; r++) {
				uint64_t off = (uint64_t)rand() % s.size;
				size_t n = (size_t)(r % 3 == 0 ? rand() % 200000 : rand() % 3000) + 1;
				size_t shift = (size_t)r % 4;
				memset(space, 0xa5, 64 + shift);
				ssize_t got = wfs_view_read(&views[v], m, &t, buf + shift, n, off);
				size_t want = n < s.size - off ? n : (size_t)(s.size - off);
				bad += got != (ssize_t)want || memcmp(buf + shift, whole + off, want) != 0;
				for (size_t g = 0; g < 64 + shift; g++)
					bad += space[g] != 0xa5;
			}
			CHECK(bad == 0);
		}
	}
	free(whole);
	free(space);
	wfs_model_free(m);
	free(file);
	free(gguf);
	return check_report("test_views_ggml");
}
