/**
 * @file test_pytorch.c
 * Unit tests of the PyTorch reader's parts: the zip directory (against the
 * fixtures' manifest.json, written by torch), the pickle machine (opcodes,
 * limits, refusals), tensor layouts (contiguous, strided, out of bounds)
 * and the state-dict walk (names, metadata, root, duplicates).
 *
 * Usage: test_pytorch DIR, DIR being tests/data/pytorch-samples.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <json-c/json.h>

#include "check.h"
#include "formats/pytorch/layout.h"
#include "formats/pytorch/pickle.h"
#include "formats/pytorch/walk.h"
#include "formats/pytorch/zip.h"

static const char *dir;

struct mem {
	uint8_t *data;
	size_t len;
};

static int mem_pread(void *ctx, void *buf, size_t len, uint64_t off)
{
	struct mem *m = ctx;
	if (off > m->len || len > m->len - off)
		return -EIO;
	memcpy(buf, m->data + off, len);
	return 0;
}

static struct mem load(const char *name)
{
	struct mem m = {0};
	m.data = check_read_file(dir, name, &m.len);
	return m;
}

/* ---- zip: entries and data offsets as torch's manifest records them ---------- */

static void test_zip_against_manifest(struct json_object *manifest, const char *file)
{
	struct mem m = load(file);
	struct wfs_zip z;
	struct wfs_error err = {0};
	int rc = wfs_zip_open(&z, m.len, mem_pread, NULL, &m, file, &err);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s: %s\n", file, err.text);
		return;
	}
	struct json_object *f, *records, *prefix;
	json_object_object_get_ex(json_object_object_get(manifest, "files"), file, &f);
	CHECK(json_object_object_get_ex(f, "records", &records));
	CHECK(json_object_object_get_ex(f, "archive_prefix", &prefix));
	CHECK(z.prefix_len == strlen(json_object_get_string(prefix)) + 1);
	CHECK((size_t)json_object_object_length(records) == z.nentries);
	json_object_object_foreach(records, name, rec) {
		const char *rel = name + z.prefix_len;
		const struct wfs_zip_entry *e = wfs_zip_find(&z, rel, strlen(rel));
		CHECK(e != NULL);
		if (e == NULL)
			continue;
		CHECK(e->data_offset == (uint64_t)json_object_get_int64(json_object_object_get(rec, "offset")));
		CHECK(e->usize == (uint64_t)json_object_get_int64(json_object_object_get(rec, "size")));
	}
	CHECK(wfs_zip_find(&z, "no/such", 7) == NULL);

	/* data.pkl (stored, or in TorchScript a deflated code/ file) reads with its CRC checked. */
	const struct wfs_zip_entry *e = wfs_zip_find(&z, "data.pkl", 8);
	CHECK(e != NULL);
	uint8_t *pkl = NULL;
	size_t len = 0;
	CHECK(e && wfs_zip_read(&z, e, 1 << 20, mem_pread, &m, file, &pkl, &len, &err) == 0);
	CHECK(len == (e ? e->usize : 0) && len > 2 && pkl[0] == 0x80);
	free(pkl);
	for (size_t i = 0; i < z.nentries; i++) {
		if (z.entries[i].method != 8)
			continue;
		CHECK(wfs_zip_read(&z, &z.entries[i], 1 << 20, mem_pread, &m, file, &pkl, &len, &err) == 0);
		CHECK(len == z.entries[i].usize);
		free(pkl);
		/* Bounded: a limit below its size refuses it. */
		CHECK(wfs_zip_read(&z, &z.entries[i], 8, mem_pread, &m, file, &pkl, &len, &err) == WFS_EINVALID);
	}
	wfs_zip_free(&z);

	/* Every proper prefix of the file is refused (or, for a few, its end record is absent). */
	for (size_t cut = 0; cut < m.len; cut += 97) {
		struct mem t = {m.data, cut};
		struct wfs_error e2 = {0};
		CHECK(wfs_zip_open(&z, cut, mem_pread, NULL, &t, file, &e2) == WFS_EINVALID);
		CHECK(e2.count == 1);
		wfs_error_clear(&e2);
	}
	wfs_error_clear(&err);
	free(m.data);
}

/* An archive comment moves the end record away from the end: 4064 bytes put it just inside the first
 * 4 KiB read with its zip64 locator outside, 5000 bytes outside it, 65535 is the most there is. */
static void test_zip_comment(void)
{
	struct mem m = load("views.pt");
	const size_t lens[] = {0, 4064, 5000, 65535};
	for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
		struct mem c = {malloc(m.len + lens[k]), m.len + lens[k]};
		memcpy(c.data, m.data, m.len);
		memset(c.data + m.len, 'P', lens[k]); /* 'P' so signature-like bytes are near */
		c.data[m.len - 2] = (uint8_t)lens[k];
		c.data[m.len - 1] = (uint8_t)(lens[k] >> 8);
		struct wfs_zip z;
		struct wfs_error err = {0};
		CHECK(wfs_zip_open(&z, c.len, mem_pread, NULL, &c, "views.pt", &err) == 0);
		CHECK(z.nentries == 7 && wfs_zip_find(&z, "data/4", 6) != NULL);
		wfs_zip_free(&z);
		/* One byte of comment missing: no end record. */
		CHECK(lens[k] == 0 || wfs_zip_open(&z, c.len - 1, mem_pread, NULL, &c, "views.pt", &err) == WFS_EINVALID);
		wfs_error_clear(&err);
		free(c.data);
	}
	free(m.data);
}

/* ---- pickle ------------------------------------------------------------- */

static int run(const char *bytes, size_t len, struct wfs_pickle *p, struct wfs_error *err)
{
	return wfs_pickle_run(p, (const uint8_t *)bytes, len, "t", "data.pkl", err);
}

#define RUN(lit, p, err) run(lit, sizeof(lit) - 1, p, err)

static void test_pickle_values(void)
{
	struct wfs_pickle p;
	struct wfs_error err = {0};
	/* (BININT -2, LONG1 -1, BININT2 513, BINFLOAT 1.5, NEWTRUE, NONE, 'ab', b'c') as a tuple, memoized and fetched. */
	static const char prog[] = "\x80\x02(J\xfe\xff\xff\xff\x8a\x01\xffM\x01\x02G\x3f\xf8\0\0\0\0\0\0\x88N"
				   "\x8c\x02" "abC\x01" "ct\x94" "0h\x00.";
	CHECK(RUN(prog, &p, &err) == 0);
	const struct wfs_pk_value *t = wfs_pk(&p, p.top);
	CHECK(t->kind == WFS_PK_TUPLE && t->u.c.n == 8);
	if (t->kind == WFS_PK_TUPLE && t->u.c.n == 8) {
		CHECK(wfs_pk(&p, t->u.c.items[0])->u.i == -2);
		CHECK(wfs_pk(&p, t->u.c.items[1])->u.i == -1);
		CHECK(wfs_pk(&p, t->u.c.items[2])->u.i == 513);
		CHECK(wfs_pk(&p, t->u.c.items[3])->u.f == 1.5);
		CHECK(wfs_pk(&p, t->u.c.items[4])->kind == WFS_PK_BOOL && wfs_pk(&p, t->u.c.items[4])->u.b);
		CHECK(wfs_pk(&p, t->u.c.items[5])->kind == WFS_PK_NONE);
		CHECK(wfs_pk_is_str(&p, t->u.c.items[6], "ab"));
		CHECK(wfs_pk(&p, t->u.c.items[7])->kind == WFS_PK_BYTES);
	}
	CHECK(p.proto == 2 && p.end == sizeof(prog) - 1);
	wfs_pickle_free(&p);

	/* collections.OrderedDict() by STACK_GLOBAL is an empty dict that SETITEM fills; FRAME is skipped. */
	static const char od[] = "\x80\x04\x95\x05\0\0\0\0\0\0\0\x8c\x0b" "collections\x8c\x0b" "OrderedDict\x93)R"
				 "\x8c\x01kK\x07s.";
	CHECK(RUN(od, &p, &err) == 0);
	t = wfs_pk(&p, p.top);
	CHECK(t->kind == WFS_PK_DICT && t->u.c.n == 2);
	wfs_pickle_free(&p);

	/* Any other GLOBAL stays an opaque call. */
	static const char call[] = "\x80\x02" "cos\nsystem\nX\x02\0\0\0ls\x85R.";
	CHECK(RUN(call, &p, &err) == 0);
	CHECK(wfs_pk(&p, p.top)->kind == WFS_PK_REDUCE);
	CHECK(wfs_pk_is_global(&p, wfs_pk(&p, p.top)->u.call.func, "os", "system"));
	wfs_pickle_free(&p);
	CHECK(err.count == 0);
	wfs_error_clear(&err);
}

static void refused(const char *bytes, size_t len, const char *fragment)
{
	struct wfs_pickle p;
	struct wfs_error err = {0};
	CHECK(run(bytes, len, &p, &err) == WFS_EINVALID);
	CHECK(err.count == 1);
	CHECK_CONTAINS(err.text, fragment);
	wfs_pickle_free(&p);
	wfs_error_clear(&err);
}

#define REFUSED(lit, fragment) refused(lit, sizeof(lit) - 1, fragment)

static void test_pickle_refusals(void)
{
	REFUSED("\x80\x02(S'x'\n.", "STRING (0x53) at offset 3");
	REFUSED("\x80\x02\x97.", "NEXT_BUFFER");
	REFUSED("\x80\x02\xee.", "unknown pickle opcode 0xee at offset 2");
	REFUSED("\x80\x02h\x01.", "memo index 1 was never stored");
	REFUSED("\x80\x02}q\x00j\x02\x00\x00\x00.", "memo index 2 was never stored");
	REFUSED("\x80\x02X\xff\xff\xff\x00.", "runs past the end");
	REFUSED("\x80\x02.", "STOP at offset 2 with 0 values");
	REFUSED("}.", "no PROTO");
	REFUSED("\x80\x06}.", "protocol 6");
	REFUSED("\x80\x02K\x01K\x02" "a.", "not a list");
	REFUSED("\x80\x02}K\x01s.", "stack underflow");
	REFUSED("\x80\x02\x95\xff\0\0\0\0\0\0\0}.", "frame of 255 bytes");
	REFUSED("\x80\x02K\x02K\x01" "b.", "BUILD of something that is not an object");
	REFUSED("\x80\x02" "cos\nsystem", "GLOBAL name without a newline");
	REFUSED("\x80\x02" "cos\x01\nsystem\n.", "not printable ASCII");

	/* Nesting: 100 levels are refused, 98 accepted. */
	char deep[256];
	size_t n = 0;
	deep[n++] = (char)0x80;
	deep[n++] = 2;
	deep[n++] = ')';
	for (int i = 0; i < 100; i++)
		deep[n++] = (char)0x85;
	deep[n++] = '.';
	refused(deep, n, "nested deeper than 100");
	struct wfs_pickle p;
	struct wfs_error err = {0};
	CHECK(run(deep, n - 2, &p, &err) == WFS_EINVALID && p.truncated); /* no STOP: truncated */
	wfs_pickle_free(&p);
	wfs_error_clear(&err);
	deep[n - 3] = '.';
	CHECK(run(deep, n - 2, &p, &err) == 0 && wfs_pk(&p, p.top)->depth == 99);
	wfs_pickle_free(&p);
	wfs_error_clear(&err);
}

/* ---- layout -------------------------------------------------------------- */

static struct wfs_pt_tensor make_tensor(enum wfs_dtype dt, uint64_t off, uint32_t ndim, const uint64_t *shape,
					const uint64_t *stride)
{
	struct wfs_pt_tensor t = {.dtype = dt, .storage_offset = off, .ndim = ndim};
	for (uint32_t i = 0; i < ndim; i++) {
		t.shape[i] = shape[i];
		t.stride[i] = stride[i];
	}
	return t;
}

static void test_layout(void)
{
	struct wfs_pt_layout l;
	const char *why = NULL;
	/* Row-major [2,3] F32 at offset 2 of a 10-element storage at 1000. */
	struct wfs_pt_tensor t = make_tensor(WFS_DT_F32, 2, 2, (uint64_t[]){2, 3}, (uint64_t[]){3, 1});
	CHECK(wfs_pt_layout(&t, 1000, 40, &l, &why) == 0 && l.contiguous && l.offset == 1008 && l.nbytes == 24);
	/* One element more than the storage holds. */
	t.storage_offset = 5;
	CHECK(wfs_pt_layout(&t, 1000, 40, &l, &why) == -1);
	CHECK_CONTAINS(why, "past its storage");
	/* Transpose [3,2] strides [1,3]: strided, reaching element 5. */
	t = make_tensor(WFS_DT_F32, 0, 2, (uint64_t[]){3, 2}, (uint64_t[]){1, 3});
	CHECK(wfs_pt_layout(&t, 0, 24, &l, &why) == 0 && !l.contiguous && l.nbytes == 24);
	CHECK(wfs_pt_layout(&t, 0, 20, &l, &why) == -1);
	/* Expand: stride 0 over 1000 rows of a 4-element storage. */
	t = make_tensor(WFS_DT_I64, 0, 2, (uint64_t[]){1000, 4}, (uint64_t[]){0, 1});
	CHECK(wfs_pt_layout(&t, 0, 32, &l, &why) == 0 && !l.contiguous && l.nbytes == 32000);
	/* Size-1 dims do not count for contiguity; a 0-d tensor is one element. */
	t = make_tensor(WFS_DT_F16, 3, 3, (uint64_t[]){1, 4, 1}, (uint64_t[]){99, 1, 7});
	CHECK(wfs_pt_layout(&t, 0, 14, &l, &why) == 0 && l.contiguous && l.offset == 6);
	t = make_tensor(WFS_DT_F64, 1, 0, NULL, NULL);
	CHECK(wfs_pt_layout(&t, 8, 16, &l, &why) == 0 && l.contiguous && l.offset == 16 && l.nbytes == 8);
	/* Empty tensors read nothing, wherever their offset. */
	t = make_tensor(WFS_DT_F32, 1000, 2, (uint64_t[]){0, 4}, (uint64_t[]){4, 1});
	CHECK(wfs_pt_layout(&t, 64, 0, &l, &why) == 0 && l.nbytes == 0 && l.offset == 64);
	/* Overflows. */
	t = make_tensor(WFS_DT_F32, 0, 2, (uint64_t[]){1ULL << 40, 1ULL << 40}, (uint64_t[]){1ULL << 40, 1});
	CHECK(wfs_pt_layout(&t, 0, UINT64_MAX, &l, &why) == -1);
	CHECK_CONTAINS(why, "overflows");
	t = make_tensor(WFS_DT_F32, 0, 2, (uint64_t[]){3, 3}, (uint64_t[]){INT64_MAX, 1});
	CHECK(wfs_pt_layout(&t, 0, UINT64_MAX, &l, &why) == -1);
	t = make_tensor(WFS_DT_F32, UINT64_MAX / 2, 1, (uint64_t[]){1}, (uint64_t[]){1});
	CHECK(wfs_pt_layout(&t, 0, UINT64_MAX, &l, &why) == -1);
}

/* ---- the walk ------------------------------------------------------------- */

struct seen {
	char text[4096];
	size_t len;
	unsigned tensors, kvs;
};

static int on_tensor(void *ctx, const char *name, size_t len, const struct wfs_pt_tensor *t)
{
	struct seen *s = ctx;
	s->tensors++;
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "T %.*s %u\n", (int)len, name, t->ndim);
	return 0;
}

static int on_kv(void *ctx, const char *name, size_t len, const char *value, size_t vlen, bool json)
{
	struct seen *s = ctx;
	s->kvs++;
	s->len += (size_t)snprintf(s->text + s->len, sizeof(s->text) - s->len, "K %.*s=%.*s%s\n", (int)len, name,
				   (int)vlen, value, json ? "" : " (text)");
	return 0;
}

static int walk_file(const char *file, const char *root, struct seen *s, struct wfs_error *err)
{
	struct mem m = load(file);
	struct wfs_zip z;
	int rc = wfs_zip_open(&z, m.len, mem_pread, NULL, &m, file, err);
	uint8_t *pkl = NULL;
	size_t len = 0;
	if (rc == 0)
		rc = wfs_zip_read(&z, wfs_zip_find(&z, "data.pkl", 8), 1 << 20, mem_pread, &m, file, &pkl, &len, err);
	struct wfs_pickle p = {0};
	if (rc == 0)
		rc = wfs_pickle_run(&p, pkl, len, file, "data.pkl", err);
	struct wfs_pt_sink sink = {s, on_tensor, on_kv};
	struct wfs_pt_walk_opts o = {.root = root};
	if (rc == 0)
		rc = wfs_pt_walk(&p, p.top, &o, &sink, file, "data.pkl", err);
	wfs_pickle_free(&p);
	free(pkl);
	wfs_zip_free(&z);
	free(m.data);
	return rc;
}

static void test_walk(void)
{
	struct seen s = {0};
	struct wfs_error err = {0};
	CHECK(walk_file("checkpoint.pt", NULL, &s, &err) == 0);
	CHECK(s.tensors == 4 && s.kvs == 15);
	CHECK_CONTAINS(s.text, "T model_state_dict.fc1.weight 2\n");
	CHECK_CONTAINS(s.text, "K epoch=7\n");
	CHECK_CONTAINS(s.text, "K loss=0.11206413805484772\n");
	CHECK_CONTAINS(s.text, "K optimizer_state_dict.param_groups.0.params=[0,1,2,3]\n");
	CHECK_CONTAINS(s.text, "K optimizer_state_dict.param_groups.0.nesterov=false\n");
	CHECK_CONTAINS(s.text, "K optimizer_state_dict.state.0.momentum_buffer=null\n");

	s = (struct seen){0};
	CHECK(walk_file("checkpoint.pt", "model_state_dict", &s, &err) == 0);
	CHECK(s.tensors == 4 && s.kvs == 0);
	CHECK_CONTAINS(s.text, "T fc2.bias 1\n");

	s = (struct seen){0};
	CHECK(walk_file("checkpoint.pt", "model_state_dict.fc1.weight", &s, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "names a tensor, not a dict");
	wfs_error_clear(&err);
	CHECK(walk_file("checkpoint.pt", "nothing", &s, &err) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "no such key");
	wfs_error_clear(&err);

	/* TorchScript: attributes of __torch__ objects, training flags skipped. */
	s = (struct seen){0};
	CHECK(walk_file("torchscript.pt", NULL, &s, &err) == 0);
	CHECK(s.tensors == 4 && s.kvs == 0);
	CHECK_CONTAINS(s.text, "T fc.weight 2\n");
	CHECK_CONTAINS(s.text, "T running_mean 1\n");

	/* Tied weights both appear; a 0-d view has no dims. */
	s = (struct seen){0};
	CHECK(walk_file("views.pt", NULL, &s, &err) == 0);
	CHECK(s.tensors == 8);
	CHECK_CONTAINS(s.text, "T embed.weight 2\nT lm_head.weight 2\n");
	CHECK_CONTAINS(s.text, "T element 0\n");
	wfs_error_clear(&err);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: %s tests/data/pytorch-samples\n", argv[0]);
		return 2;
	}
	dir = argv[1];
	char path[4096];
	snprintf(path, sizeof(path), "%s/manifest.json", dir);
	struct json_object *manifest = json_object_from_file(path);
	CHECK(manifest != NULL);
	const char *files[] = {"pytorch_model.bin", "pytorch_model-00001-of-00003.bin", "checkpoint.pt",
			       "views.pt", "dtypes.pt", "torchscript.pt"};
	for (size_t i = 0; manifest && i < sizeof(files) / sizeof(files[0]); i++)
		test_zip_against_manifest(manifest, files[i]);
	json_object_put(manifest);
	test_zip_comment();
	test_pickle_values();
	test_pickle_refusals();
	test_layout();
	test_walk();
	return check_report("test_pytorch");
}
