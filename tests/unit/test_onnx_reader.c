/**
 * Unit tests of the ONNX ModelProto reader (src/lib/formats/onnx/): the
 * fixtures of tests/data/onnx-samples, and hostile bytes.
 */
#include <stdio.h>

#include "check.h"
#include "pbw.h"

#include "formats/onnx/onnx.h"

static const char *data_dir = "tests/data";

struct seen {
	int n;
	char names[32][64];
	int32_t types[32];
	enum wfs_onnx_field fields[32];
	uint64_t offsets[32];
	int decoded_bad;
	int nmeta, nopset;
	char producer[64];
	char ir[16];
};

static int on_tensor(void *ctx, const struct wfs_onnx_tensor *t, struct wfs_error *err)
{
	(void)err;
	struct seen *s = ctx;
	if (s->n >= 32)
		return 0;
	snprintf(s->names[s->n], 64, "%.*s%s%s", (int)t->name_len, (const char *)t->name,
		 t->sparse_part ? "." : "", t->sparse_part ? t->sparse_part : "");
	s->types[s->n] = t->data_type;
	s->fields[s->n] = t->field;
	s->offsets[s->n] = wfs_cur_offset(&t->data);
	enum wfs_dtype dt;
	if (wfs_onnx_dtype(t->data_type, &dt) == 0) {
		uint64_t numel = 1, nbytes;
		for (uint32_t i = 0; i < t->ndim; i++)
			numel *= t->dims[i];
		char msg[256];
		if (wfs_dtype_nbytes(dt, numel, &nbytes) < 0 || wfs_onnx_check_data(t, dt, numel, nbytes, msg, sizeof(msg)))
			s->decoded_bad++;
		else if (!wfs_onnx_zero_copy(t) && t->field != WFS_ONNX_F_EXTERNAL && t->field != WFS_ONNX_F_NONE) {
			uint8_t *out = malloc(nbytes + 1);
			if (wfs_onnx_decode(t, dt, out, nbytes, msg, sizeof(msg)))
				s->decoded_bad++;
			free(out);
		}
	}
	s->n++;
	return 0;
}

static int on_field(void *ctx, const char *key, const char *value, size_t len)
{
	struct seen *s = ctx;
	if (strcmp(key, "producer_name") == 0)
		snprintf(s->producer, sizeof(s->producer), "%.*s", (int)len, value);
	if (strcmp(key, "ir_version") == 0)
		snprintf(s->ir, sizeof(s->ir), "%.*s", (int)len, value);
	return 0;
}

static int on_meta(void *ctx, const uint8_t *k, size_t kl, const uint8_t *v, size_t vl)
{
	(void)k, (void)kl, (void)v, (void)vl;
	((struct seen *)ctx)->nmeta++;
	return 0;
}

static int on_opset(void *ctx, const uint8_t *d, size_t dl, int64_t version)
{
	(void)d, (void)dl, (void)version;
	((struct seen *)ctx)->nopset++;
	return 0;
}

static int read_model(const uint8_t *buf, size_t len, struct seen *s, struct wfs_error *err)
{
	memset(s, 0, sizeof(*s));
	struct wfs_onnx_sink sink = {on_tensor, on_field, on_meta, on_opset, s};
	return wfs_onnx_read_model(buf, len, "m.onnx", &sink, err);
}

static int find(const struct seen *s, const char *name)
{
	for (int i = 0; i < s->n; i++)
		if (strcmp(s->names[i], name) == 0)
			return i;
	return -1;
}

static void test_fixtures(void)
{
	size_t len;
	struct seen s;
	struct wfs_error err = {0};
	uint8_t *buf = check_read_file(data_dir, "onnx-samples/raw_data.onnx", &len);
	CHECK(read_model(buf, len, &s, &err) == 0);
	CHECK(s.n == 15 && s.decoded_bad == 0);
	CHECK(strcmp(s.producer, "weightfs-fixtures") == 0 && strcmp(s.ir, "8") == 0 && s.nopset == 1);
	int i = find(&s, "fc1.weight");
	CHECK(i >= 0 && s.fields[i] == WFS_ONNX_F_RAW_DATA && s.offsets[i] == 246);
	CHECK(find(&s, "onnx::MatMul_17") >= 0);
	/* every prefix is refused or accepted without harm */
	for (size_t cut = 0; cut < len; cut++) {
		struct wfs_error e = {0};
		read_model(buf, cut, &s, &e);
		wfs_error_clear(&e);
	}
	free(buf);

	buf = check_read_file(data_dir, "onnx-samples/typed_fields.onnx", &len);
	CHECK(read_model(buf, len, &s, &err) == 0);
	CHECK(s.n == 15 && s.decoded_bad == 0);
	i = find(&s, "extra.i8");
	CHECK(i >= 0 && s.fields[i] == WFS_ONNX_F_INT32_DATA);
	i = find(&s, "fc1.weight");
	CHECK(i >= 0 && s.fields[i] == WFS_ONNX_F_FLOAT_DATA);
	i = find(&s, "extra.u8");
	CHECK(i >= 0 && s.types[i] == WFS_ONNX_UINT8);
	free(buf);

	buf = check_read_file(data_dir, "onnx-samples/external_single/model.onnx", &len);
	CHECK(read_model(buf, len, &s, &err) == 0);
	CHECK(s.n == 15 && s.decoded_bad == 0);
	i = find(&s, "fc2.bias");
	CHECK(i >= 0 && s.fields[i] == WFS_ONNX_F_EXTERNAL);
	free(buf);
	CHECK(err.count == 0);
	wfs_error_clear(&err);
}

/* A model around one graph. */
static struct pbw model_with_graph(struct pbw *graph)
{
	struct pbw m = {0};
	pbw_uint(&m, 1, 8);
	pbw_str(&m, 2, "t");
	pbw_msg(&m, 7, graph);
	return m;
}

static int expect_invalid(struct pbw *m, const char *fragment)
{
	struct seen s;
	struct wfs_error err = {0};
	int rc = read_model(m->p, m->len, &s, &err);
	CHECK(rc == WFS_EINVALID);
	CHECK(err.count >= 1);
	CHECK_CONTAINS(err.text, fragment);
	CHECK_CONTAINS(err.text, "m.onnx: ");
	wfs_error_clear(&err);
	free(m->p);
	*m = (struct pbw){0};
	return rc;
}

static void test_hostile(void)
{
	struct pbw g = {0}, t = {0}, m;

	/* initializer name given as a varint */
	pbw_uint(&t, 8, 5);
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	expect_invalid(&m, "wire type varint");

	/* raw_data length past the end of the TensorProto */
	pbw_str(&t, 8, "w");
	pbw_uint(&t, 2, 1);
	pbw_uint(&t, 1, 4);
	pbw_tag(&t, 9, 2);
	pbw_varint(&t, 100);
	pbw_bytes(&t, "abcd", 4);
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	expect_invalid(&m, "past the end");

	/* raw_data size not matching the shape */
	pbw_str(&t, 8, "w");
	pbw_uint(&t, 2, 1);
	pbw_uint(&t, 1, 4);
	pbw_len(&t, 9, "abcd", 4);
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	{
		struct seen s;
		struct wfs_error err = {0};
		CHECK(read_model(m.p, m.len, &s, &err) == 0 && s.decoded_bad == 1);
		free(m.p);
	}

	/* subgraphs nested 10,000 deep (node.attribute.g) */
	struct pbw inner = {0};
	pbw_str(&inner, 2, "leaf");
	for (int d = 0; d < 10000; d++) {
		struct pbw attr = {0}, node = {0}, graph = {0};
		pbw_str(&attr, 1, "body");
		pbw_msg(&attr, 6, &inner);
		pbw_msg(&node, 5, &attr);
		pbw_msg(&graph, 1, &node);
		inner = graph;
	}
	m = model_with_graph(&inner);
	expect_invalid(&m, "nested more than");

	/* a model with no ir_version */
	m = (struct pbw){0};
	pbw_str(&m, 2, "x");
	expect_invalid(&m, "ir_version");

	/* external data path given, but no EXTERNAL location */
	pbw_str(&t, 8, "w");
	pbw_uint(&t, 2, 1);
	struct pbw kv = {0};
	pbw_str(&kv, 1, "location");
	pbw_str(&kv, 2, "w.bin");
	pbw_msg(&t, 13, &kv);
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	expect_invalid(&m, "not EXTERNAL");

	/* external offset not a number */
	pbw_str(&t, 8, "w");
	pbw_uint(&t, 2, 1);
	pbw_str(&kv, 1, "location");
	pbw_str(&kv, 2, "w.bin");
	pbw_msg(&t, 13, &kv);
	pbw_str(&kv, 1, "offset");
	pbw_str(&kv, 2, "-5");
	pbw_msg(&t, 13, &kv);
	pbw_uint(&t, 14, 1);
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	expect_invalid(&m, "not a decimal");

	/* a group wire type */
	m = (struct pbw){0};
	pbw_uint(&m, 1, 8);
	pbw_tag(&m, 20, 3);
	expect_invalid(&m, "groups");

	/* data in two fields */
	pbw_str(&t, 8, "w");
	pbw_uint(&t, 2, 1);
	pbw_len(&t, 9, "abcd", 4);
	pbw_len(&t, 4, "abcd", 4);
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	expect_invalid(&m, "data in both");

	/* an int8 value out of range in int32_data */
	pbw_str(&t, 8, "w");
	pbw_uint(&t, 2, WFS_ONNX_INT8);
	pbw_uint(&t, 1, 1);
	{
		struct pbw packed = {0};
		pbw_varint(&packed, 300);
		pbw_msg(&t, 5, &packed);
	}
	pbw_msg(&g, 5, &t);
	m = model_with_graph(&g);
	{
		struct seen s;
		struct wfs_error err = {0};
		CHECK(read_model(m.p, m.len, &s, &err) == 0 && s.decoded_bad == 1);
		free(m.p);
	}
}

int main(int argc, char **argv)
{
	if (argc > 1)
		data_dir = argv[1];
	test_fixtures();
	test_hostile();
	return check_report("test_onnx_reader");
}
