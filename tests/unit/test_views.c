/**
 * @file test_views.c
 * Typed views in the library (src/lib/views): reads at every kind of
 * offset and length (the kernel only asks for whole pages, so odd ranges
 * are tested here) equal the slice of the whole file, into aligned and
 * unaligned buffers; file sizes and NPY headers; names and sizes in the
 * namespace.
 */
#include <errno.h>
#include <stdlib.h>

#include "check.h"
#include "weightfs/decode.h"
#include "weightfs/namespace.h"

/* A safetensors file in memory with tensors of the given dtypes, shapes and random bytes. */
struct spec {
	const char *name, *dtype, *shape;
	size_t nbytes;
};

static uint8_t *make_file(const struct spec *s, size_t n, size_t *size)
{
	char header[4096];
	size_t len = 0, off = 0;
	len += (size_t)snprintf(header + len, sizeof(header) - len, "{");
	for (size_t i = 0; i < n; i++) {
		len += (size_t)snprintf(header + len, sizeof(header) - len,
					"%s\"%s\":{\"dtype\":\"%s\",\"shape\":%s,\"data_offsets\":[%zu,%zu]}",
					i ? "," : "", s[i].name, s[i].dtype, s[i].shape, off, off + s[i].nbytes);
		off += s[i].nbytes;
	}
	len += (size_t)snprintf(header + len, sizeof(header) - len, "}");
	*size = 8 + len + off;
	uint8_t *file = malloc(*size);
	for (int i = 0; i < 8; i++)
		file[i] = (uint8_t)((uint64_t)len >> (8 * i));
	memcpy(file + 8, header, len);
	srand(12);
	for (size_t i = 8 + len; i < *size; i++)
		file[i] = (uint8_t)rand();
	return file;
}

static const struct spec specs[] = {
	{"bf", "BF16", "[1000,33]", 66000},
	{"f6", "F6_E2M3", "[3,1000]", 2250},
	{"f4", "F4", "[999,2]", 999},
	{"e5", "F8_E5M2", "[70001]", 70001},
	{"f32", "F32", "[5,7]", 140},
	{"i8", "I8", "[3]", 3},
	{"e", "BF16", "[0,4]", 0},
	{"s", "BF16", "[]", 2},
};
#define NSPECS (sizeof(specs) / sizeof(specs[0]))

/* Reads [off, off+len) of t in view v into buf (which has the scratch after len). */
static ssize_t vread(const struct wfs_view_options *v, const struct wfs_model *m, const struct wfs_tensor *t,
		     uint8_t *buf, size_t len, uint64_t off)
{
	return wfs_view_read(v, m, t, buf, len, off);
}

static void ranges(const struct wfs_view_options *v, const struct wfs_model *m)
{
	/* 64 guard bytes before the buffer: nothing may be written there */
	static uint8_t whole[1 << 20], space[64 + (1 << 20) + WFS_VIEW_SCRATCH + 8];
	uint8_t *buf = space + 64;
	srand(3);
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		struct wfs_tensor_shown s;
		wfs_tensor_shown(v, m, t, &s);
		CHECK(s.size <= sizeof(whole));
		CHECK(vread(v, m, t, whole, (size_t)s.size, 0) == (ssize_t)s.size);
		/* past the end: nothing; a read clipped at the end */
		CHECK(vread(v, m, t, buf, 10, s.size) == 0);
		if (s.size)
			CHECK(vread(v, m, t, buf, 10, s.size - 1) == 1 && buf[0] == whole[s.size - 1]);
		int bad = 0;
		for (int k = 0; k < 400 && s.size; k++) {
			uint64_t off = (uint64_t)rand() % s.size;
			size_t len = (size_t)(k % 4 == 0 ? rand() % 300000 : rand() % 40) + 1;
			size_t shift = (size_t)k % 3; /* unaligned buffers too */
			memset(space, 0xa5, 64 + shift);
			ssize_t got = vread(v, m, t, buf + shift, len, off);
			size_t want = len < s.size - off ? len : (size_t)(s.size - off);
			bad += got != (ssize_t)want || memcmp(buf + shift, whole + off, want) != 0;
			for (size_t g = 0; g < 64 + shift; g++)
				bad += space[g] != 0xa5;
		}
		CHECK(bad == 0);
		if (v->mode == WFS_VIEW_NPY) {
			CHECK(memcmp(whole, "\x93NUMPY\x01\x00", 8) == 0);
			CHECK(s.header % 64 == 0 && s.header == 10u + (whole[8] | whole[9] << 8));
			CHECK(whole[s.header - 1] == '\n');
		}
		if (s.decoded && t->dtype == WFS_DT_BF16 && s.dtype == WFS_DT_F32) {
			/* BF16: the bits shifted left by 16 */
			const uint8_t *src = (const uint8_t *)m->shards[t->shard].memory + t->offset;
			uint64_t n = t->nbytes / 2;
			for (uint64_t e = 0; e < n; e++) {
				uint32_t want = (uint32_t)(src[2 * e] | src[2 * e + 1] << 8) << 16, got;
				memcpy(&got, whole + s.header + 4 * e, 4);
				bad += got != want;
			}
			CHECK(bad == 0);
		}
	}
}

int main(void)
{
	size_t size;
	uint8_t *file = make_file(specs, NSPECS, &size);
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	CHECK(wfs_model_open_memory(file, size, "mem", &m, &err) == 0);
	if (m == NULL)
		return check_report("test_views");

	struct wfs_view_options npy = {.mode = WFS_VIEW_NPY}, f32 = {.mode = WFS_VIEW_F32},
				npy16 = {.mode = WFS_VIEW_NPY, .npy_f16 = true};
	ranges(&npy, m);
	ranges(&f32, m);
	ranges(&npy16, m);

	/* Sizes: f32 view is 4 bytes an element for floats, stored bytes for the rest. */
	struct wfs_tensor_shown s;
	wfs_tensor_shown(&f32, m, &m->tensors[wfs_model_find(m, "f6", 2)], &s);
	CHECK(s.size == 3000 * 4 && s.header == 0 && s.dtype == WFS_DT_F32 && s.decoded);
	wfs_tensor_shown(&f32, m, &m->tensors[wfs_model_find(m, "i8", 2)], &s);
	CHECK(s.size == 3 && s.dtype == WFS_DT_I8 && !s.decoded);
	wfs_tensor_shown(&npy16, m, &m->tensors[wfs_model_find(m, "e5", 2)], &s);
	CHECK(s.dtype == WFS_DT_F16 && s.size == s.header + 2 * 70001);
	wfs_tensor_shown(&npy16, m, &m->tensors[wfs_model_find(m, "bf", 2)], &s);
	CHECK(s.dtype == WFS_DT_F32);
	wfs_tensor_shown(&npy, m, &m->tensors[wfs_model_find(m, "s", 1)], &s);
	CHECK(s.size == s.header + 4 && s.header == 128);

	/* A type not decoded (IQ2_XXS, grid-based): npy shows uint8 of the
	 * stored bytes, shape [nbytes]; f32 the stored bytes as they are. */
	struct wfs_tensor iq = m->tensors[wfs_model_find(m, "bf", 2)];
	iq.dtype = WFS_DT_IQ2_XXS; /* 66000 bytes: 1000 blocks of 66 */
	wfs_tensor_shown(&npy, m, &iq, &s);
	CHECK(s.bytes && !s.decoded && s.dtype == WFS_DT_U8 && s.size == s.header + 66000);
	{
		static uint8_t buf[70000 + WFS_VIEW_SCRATCH];
		CHECK(wfs_view_read(&npy, m, &iq, buf, (size_t)s.size, 0) == (ssize_t)s.size);
		const char *want = "{'descr': '|u1', 'fortran_order': False, 'shape': (66000,), }";
		CHECK(memcmp(buf + 10, want, strlen(want)) == 0);
		CHECK(memcmp(buf + s.header, (const uint8_t *)m->shards[iq.shard].memory + iq.offset, 66000) == 0);
		wfs_tensor_shown(&f32, m, &iq, &s);
		CHECK(!s.bytes && !s.decoded && s.dtype == WFS_DT_IQ2_XXS && s.size == 66000 && s.header == 0);
	}

	/* The namespace: NAME.npy, sizes of the view, ONE read call. */
	struct wfs_namespace *ns = NULL;
	CHECK(wfs_namespace_build_view(m, WFS_LAYOUT_FLAT, &npy, NULL, &ns, &err) == 0);
	if (ns) {
		ssize_t k = wfs_namespace_lookup(ns, 0, "bf.npy", 6);
		CHECK(k > 0 && wfs_namespace_lookup(ns, 0, "bf", 2) < 0);
		if (k > 0) {
			wfs_tensor_shown(&npy, m, &m->tensors[ns->nodes[k].ref], &s);
			CHECK(ns->nodes[k].nbytes == s.size && s.size == s.header + 33000 * 4);
			static uint8_t buf[64 + WFS_VIEW_SCRATCH];
			CHECK(wfs_node_read(m, ns, &ns->nodes[k], buf, 64, 0) == 64 && buf[0] == 0x93);
		}
		CHECK(wfs_node_read(m, ns, &ns->nodes[0], NULL, 1, 0) == -EISDIR);
		wfs_namespace_free(ns);
	}
	wfs_model_free(m);
	free(file);

	/* Names: the suffix stays within 255 bytes; a tensor whose name a
	 * directory takes in the raw view ("a.b" beside "a.b.c.d") is NAME.npy. */
	char long_name[301];
	memset(long_name, 'x', 300);
	long_name[300] = '\0';
	const struct spec names[] = {{"a.b", "F32", "[1]", 4}, {"a.b.c.d", "BF16", "[2]", 4},
				     {long_name, "I8", "[1]", 1}};
	file = make_file(names, 3, &size);
	m = NULL;
	CHECK(wfs_model_open_memory(file, size, "names", &m, &err) == 0);
	if (m) {
		CHECK(wfs_namespace_build_view(m, WFS_LAYOUT_MODULES, &npy, NULL, &ns, &err) == 0);
		if (ns) {
			CHECK(wfs_namespace_lookup(ns, 0, "a.b.npy", 7) > 0);
			ssize_t dir = wfs_namespace_lookup(ns, 0, "a.b", 3);
			CHECK(dir > 0 && ns->nodes[dir].kind == WFS_NODE_DIR);
			if (dir > 0)
				CHECK(wfs_namespace_lookup(ns, (uint32_t)dir, "c.d.npy", 7) > 0);
			bool found = false;
			for (size_t i = 0; i < ns->nnodes; i++) {
				const struct wfs_node *n = &ns->nodes[i];
				if (n->kind == WFS_NODE_TENSOR && m->tensors[n->ref].name.len == 300) {
					found = true;
					CHECK(n->name_len == 255);
					CHECK(memcmp(wfs_node_name(ns, n) + 251, ".npy", 4) == 0);
				}
			}
			CHECK(found);
			wfs_namespace_free(ns);
		}
		CHECK(wfs_namespace_build(m, WFS_LAYOUT_MODULES, NULL, &ns, &err) == 0);
		if (ns) {
			CHECK(wfs_namespace_lookup(ns, 0, "a.b%file", 8) > 0);
			wfs_namespace_free(ns);
		}
	}
	int mode;
	CHECK(wfs_view_mode_parse("npy", (enum wfs_view_mode *)&mode) == 0 && mode == WFS_VIEW_NPY);
	CHECK(wfs_view_mode_parse("NPY", (enum wfs_view_mode *)&mode) == -EINVAL);
	wfs_model_free(m);
	free(file);
	wfs_error_clear(&err);
	return check_report("test_views");
}
