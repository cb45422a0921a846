/**
 * @file test_conformance.c
 * What real model directories contain and the reference implementation
 * accepts (issue 13): JSON escapes, unknown tensor keys, NUL bytes in
 * metadata keys, byte order marks, empty and unnormalised indexes, Hugging
 * Face cache repositories without a usable refs/main, and attributes the
 * kernel could not return.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "internal.h"
#include "weightfs/model.h"
#include "weightfs/namespace.h"
#include "weightfs/xattr.h"

static char root[] = "/tmp/wfs-conf-XXXXXX";

struct warnings {
	char text[16384];
	int count;
};

static void on_warning(void *ctx, const char *msg)
{
	struct warnings *w = ctx;
	size_t len = strlen(w->text);
	snprintf(w->text + len, sizeof(w->text) - len, "%s\n", msg);
	w->count++;
}

static char *path_of(const char *rel)
{
	static char buf[8][1024];
	static int next;
	char *p = buf[next++ % 8];
	snprintf(p, 1024, "%s/%s", root, rel);
	return p;
}

static void write_bytes(const char *rel, const void *data, size_t len)
{
	int fd = open(path_of(rel), O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		perror(rel);
	close(fd);
}

static void write_st(const char *rel, const char *header, size_t data_len)
{
	size_t size;
	uint8_t *buf = st_file(header, data_len, &size);
	write_bytes(rel, buf, size);
	free(buf);
}

static int open_model(const char *rel, struct wfs_model **m, struct wfs_error *err, struct warnings *w)
{
	memset(w, 0, sizeof(*w));
	struct wfs_open_options opts = {.warn = {on_warning, w}, .no_extras = true};
	wfs_error_clear(err);
	*m = NULL;
	return wfs_model_open(path_of(rel), &opts, m, err);
}

/* Decodes a JSON string body; the result in out (NUL-terminated), or -1. */
static ssize_t decode(const char *body, char *out)
{
	ssize_t n = wfs_json_decode_string(body, body + strlen(body), out);
	if (n >= 0)
		out[n] = '\0';
	return n;
}

static bool paired(const char *body)
{
	return wfs_json_surrogates_paired(body, body + strlen(body));
}

static void test_escapes(void)
{
	char out[64];
	/* Every escape form of RFC 8259. */
	CHECK(decode("\\\"\\\\\\/\\b\\f\\n\\r\\t", out) == 8 && memcmp(out, "\"\\/\b\f\n\r\t", 8) == 0);
	CHECK(decode("\\u0041\\u00e9\\u20AC", out) == 6 && strcmp(out, "A\xc3\xa9\xe2\x82\xac") == 0);
	CHECK(decode("\\u0000", out) == 1 && out[0] == '\0');
	CHECK(decode("\\u007f\\u0080\\u07ff\\u0800\\uffff", out) == 1 + 2 + 2 + 3 + 3);
	/* A surrogate pair is one character, in UTF-8 four bytes. */
	CHECK(decode("\\ud83d\\ude00", out) == 4 && strcmp(out, "\xf0\x9f\x98\x80") == 0);
	CHECK(decode("\\uD800\\uDC00", out) == 4 && strcmp(out, "\xf0\x90\x80\x80") == 0);
	CHECK(decode("\\udbff\\udfff", out) == 4 && strcmp(out, "\xf4\x8f\xbf\xbf") == 0);
	/* Anything that would be invalid UTF-8 is refused. */
	CHECK(decode("\\ud800", out) < 0);
	CHECK(decode("\\ud800x", out) < 0);
	CHECK(decode("\\ud800\\u0041", out) < 0);
	CHECK(decode("\\ud800\\ud800", out) < 0);
	CHECK(decode("\\udc00", out) < 0);
	CHECK(decode("a\\udfff", out) < 0);
	CHECK(decode("\\ud800\\n", out) < 0);
	/* Whatever decodes is valid UTF-8. */
	for (unsigned hi = 0xd7f0; hi < 0xe010; hi += 3) {
		char body[16];
		snprintf(body, sizeof(body), "\\u%04x", hi);
		ssize_t n = decode(body, out);
		CHECK(n < 0 || wfs_utf8_valid_prefix((const unsigned char *)out, (size_t)n) == (size_t)n);
	}
	CHECK(paired("\\ud83d\\ude00 \\n"));
	CHECK(!paired("\\ude00"));
	CHECK(!paired("\\ud83d"));

	/* In a header: a paired name is a tensor, a lone surrogate an error. */
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	write_st("pair.safetensors", "{\"\\ud83d\\ude00\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
	CHECK(open_model("pair.safetensors", &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 1 && strcmp(wfs_model_str(m, m->tensors[0].name), "\xf0\x9f\x98\x80") == 0);
	wfs_model_free(m);
	write_st("lone.safetensors", "{\"a\\ud83d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
	CHECK(open_model("lone.safetensors", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "lone.safetensors: header is not valid UTF-8");
	CHECK_CONTAINS(err.text, "unpaired surrogate");
	write_st("lonemeta.safetensors", "{\"__metadata__\":{\"k\":\"\\udc00\"}}", 0);
	CHECK(open_model("lonemeta.safetensors", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "unpaired surrogate");

	/* In an index (json-c): the same rule for keys and values. */
	mkdir(path_of("idx-lone"), 0755);
	write_st("idx-lone/a.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
	const char *index = "{\"metadata\":{\"x\":\"\\ud800\"},\"weight_map\":{\"a\":\"a.safetensors\"}}";
	write_bytes("idx-lone/model.safetensors.index.json", index, strlen(index));
	CHECK(open_model("idx-lone", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "unpaired surrogate");
	wfs_error_clear(&err);
}

static void test_unknown_keys(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	write_st("unknown.safetensors",
		 "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1],\"quant\":{\"bits\":[4]}},"
		 "\"b\":{\"extra\":null,\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[1,3]},"
		 "\"c\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[3,4]}}", 4);
	int rc = open_model("unknown.safetensors", &m, &err, &w);
	CHECK(rc == 0);
	CHECK(m && m->ntensors == 3 && m->tensors[1].nbytes == 2 && m->tensors[1].offset == m->tensors[0].offset + 1);
	CHECK(w.count == 1); /* one warning per file */
	CHECK_CONTAINS(w.text, "unknown.safetensors: tensor \"a\": unknown key \"quant\" ignored (2 such keys");
	wfs_model_free(m);
	/* Still strict about the keys it knows. */
	write_st("unknown-dup.safetensors",
		 "{\"a\":{\"dtype\":\"U8\",\"x\":1,\"x\":2,\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
	CHECK(open_model("unknown-dup.safetensors", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "duplicate key \"x\"");
	write_st("unknown-bad.safetensors", "{\"a\":{\"dtype\":\"U8\",\"x\":[1,,],\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
	CHECK(open_model("unknown-bad.safetensors", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "not valid JSON");
	wfs_error_clear(&err);
}

static void test_metadata_attributes(void)
{
	struct wfs_model *m = NULL;
	struct wfs_namespace *ns = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	/* A key with a NUL byte, one whose attribute name is 256 bytes, one of 255. */
	char key242[243], key241[242];
	memset(key242, 'k', 242);
	key242[242] = '\0';
	memset(key241, 'j', 241);
	key241[241] = '\0';
	char header[2048];
	snprintf(header, sizeof(header), "{\"__metadata__\":{\"a\\u0000b\":\"v\",\"%s\":\"long\",\"%s\":\"fits\"},"
		 "\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", key242, key241);
	write_st("meta.safetensors", header, 1);
	int rc = open_model("meta.safetensors", &m, &err, &w);
	CHECK(rc == 0);
	if (rc != 0) {
		fprintf(stderr, "%s\n", err.text);
		return;
	}
	CHECK(m->nmetadata == 3); /* kept: summary shows every key */
	CHECK(wfs_namespace_build(m, WFS_LAYOUT_MODULES, NULL, &ns, &err) == 0);
	char list[WFS_XATTR_LIST_MAX];
	ssize_t n = wfs_xattr_list(m, ns, 0, list, sizeof(list));
	CHECK(n > 0);
	char name[300];
	snprintf(name, sizeof(name), "user.metadata.%s", key241);
	CHECK(memmem(list, (size_t)n, name, strlen(name) + 1) != NULL);
	CHECK(wfs_xattr_get(m, ns, 0, name, NULL, 0) == 4);
	snprintf(name, sizeof(name), "user.metadata.%s", key242);
	CHECK(memmem(list, (size_t)n, name, strlen(name)) == NULL);
	CHECK(wfs_xattr_get(m, ns, 0, name, NULL, 0) == -ENODATA);
	CHECK(memmem(list, (size_t)n, "user.metadata.a", 16) == NULL);
	CHECK(wfs_xattr_get(m, ns, 0, "user.metadata.a", NULL, 0) == -ENODATA);
	memset(&w, 0, sizeof(w));
	CHECK(wfs_xattr_warn_omitted(m, ns, &(struct wfs_warn){on_warning, &w}) == 2);
	CHECK_CONTAINS(w.text, "attribute user.metadata.\"a\\x00b\" is not offered: its key contains a NUL byte");
	CHECK_CONTAINS(w.text, "is not offered: its name is 256 bytes, over the kernel's limit of 255");
	wfs_namespace_free(ns);
	wfs_model_free(m);

	/* 3,000 keys: the name list stays within 64 KiB, user.format first. */
	size_t cap = 3000 * 64 + 256, o = 0;
	char *big = malloc(cap);
	o += (size_t)snprintf(big + o, cap - o, "{\"__metadata__\":{");
	for (int i = 0; i < 3000; i++)
		o += (size_t)snprintf(big + o, cap - o, "%s\"quant.layer%05d.scale\":\"1\"", i ? "," : "", i);
	snprintf(big + o, cap - o, "},\"t\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}");
	write_st("many.safetensors", big, 1);
	free(big);
	CHECK(open_model("many.safetensors", &m, &err, &w) == 0);
	CHECK(m && wfs_namespace_build(m, WFS_LAYOUT_MODULES, NULL, &ns, &err) == 0);
	if (m && ns) {
		ssize_t total = wfs_xattr_list(m, ns, 0, NULL, 0);
		CHECK(total > 60000 && total <= WFS_XATTR_LIST_MAX);
		n = wfs_xattr_list(m, ns, 0, list, sizeof(list));
		CHECK(n == total);
		CHECK(memmem(list, (size_t)n, "user.format", 12) != NULL);
		CHECK(memmem(list, (size_t)n, "user.tensors", 13) != NULL);
		CHECK(memmem(list, (size_t)n, "user.metadata.quant.layer00000.scale", 37) != NULL);
		CHECK(memmem(list, (size_t)n, "user.metadata.quant.layer02999.scale", 37) == NULL);
		CHECK(wfs_xattr_get(m, ns, 0, "user.metadata.quant.layer02999.scale", NULL, 0) == -ENODATA);
		CHECK(wfs_xattr_get(m, ns, 0, "user.metadata.quant.layer00000.scale", NULL, 0) == 1);
		/* Every listed name is answered; the warning counts the rest. */
		size_t listed = 0;
		for (ssize_t p = 0; p < n; p += (ssize_t)strlen(list + p) + 1, listed++)
			CHECK(wfs_xattr_get(m, ns, 0, list + p, NULL, 0) >= 0);
		memset(&w, 0, sizeof(w));
		size_t omitted = wfs_xattr_warn_omitted(m, ns, &(struct wfs_warn){on_warning, &w});
		CHECK(listed + omitted == 3000 + 3);
		CHECK_CONTAINS(w.text, "listxattr limit of 65536 bytes");
		CHECK_CONTAINS(w.text, "more attributes not offered");
		CHECK(w.count == 21);
	}
	wfs_namespace_free(ns);
	wfs_model_free(m);
	wfs_error_clear(&err);
}

static void test_index(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	const char *bom = "\xef\xbb\xbf{\"weight_map\":{}}";
	mkdir(path_of("bom"), 0755);
	write_bytes("bom/model.safetensors.index.json", bom, strlen(bom));
	CHECK(open_model("bom", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "model.safetensors.index.json: index starts with a UTF-8 byte order mark (EF BB BF)");
	write_st("bom.safetensors", "\xef\xbb\xbf{}", 0);
	CHECK(open_model("bom.safetensors", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "header starts with a UTF-8 byte order mark");

	mkdir(path_of("empty"), 0755);
	write_bytes("empty/model.safetensors.index.json", "{\"weight_map\":{}}", 17);
	CHECK(open_model("empty", &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 0);
	CHECK_CONTAINS(w.text, "model.safetensors.index.json: weight_map is empty");
	wfs_model_free(m);

	/* "./x", "x" and "s//y", "s/./y" are one file each. */
	mkdir(path_of("norm"), 0755);
	mkdir(path_of("norm/s"), 0755);
	write_st("norm/x.safetensors", "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		 "\"b\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);
	write_st("norm/s/y.safetensors", "{\"c\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]},"
		 "\"d\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[1,2]}}", 2);
	const char *index = "{\"weight_map\":{\"a\":\"./x.safetensors\",\"b\":\"x.safetensors\","
			    "\"c\":\"s//y.safetensors\",\"d\":\"./s/./y.safetensors\"}}";
	write_bytes("norm/model.safetensors.index.json", index, strlen(index));
	int rc = open_model("norm", &m, &err, &w);
	CHECK(rc == 0);
	if (rc == 0) {
		CHECK(m->nshards == 2 && m->ntensors == 4 && w.count == 0);
		CHECK(strcmp(wfs_model_str(m, m->shards[0].name), "s/y.safetensors") == 0);
		CHECK(strcmp(wfs_model_str(m, m->shards[1].name), "x.safetensors") == 0);
	} else {
		fprintf(stderr, "%s\n", err.text);
	}
	wfs_model_free(m);
	index = "{\"weight_map\":{\"a\":\"./\"}}";
	write_bytes("norm/model.safetensors.index.json", index, strlen(index));
	CHECK(open_model("norm", &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "shard \"./\" is not a relative path inside the model directory");
	index = "{\"weight_map\":{\"a\":\"./../x.safetensors\"}}";
	write_bytes("norm/model.safetensors.index.json", index, strlen(index));
	CHECK(open_model("norm", &m, &err, &w) == WFS_EINVALID);
	wfs_error_clear(&err);
}

static void test_hf_repo(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	mkdir(path_of("models--org--name"), 0755);
	mkdir(path_of("models--org--name/blobs"), 0755);
	mkdir(path_of("models--org--name/snapshots"), 0755);
	mkdir(path_of("models--org--name/snapshots/bbbb"), 0755);
	mkdir(path_of("models--org--name/snapshots/aaaa"), 0755);
	int rc = open_model("models--org--name", &m, &err, &w);
	CHECK(rc == -ENOENT);
	CHECK_CONTAINS(err.text, "a Hugging Face cache repository without refs/main");
	CHECK_CONTAINS(err.text, "snapshots there: \"aaaa\", \"bbbb\"");
	mkdir(path_of("models--org--name/refs"), 0755);
	write_bytes("models--org--name/refs/main", "cccc\n", 5);
	rc = open_model("models--org--name", &m, &err, &w);
	CHECK(rc == -ENOENT);
	CHECK_CONTAINS(err.text, "refs/main names snapshot \"cccc\", which is not in snapshots/; snapshots there: \"aaaa\", \"bbbb\"");
	write_st("models--org--name/snapshots/aaaa/model.safetensors",
		 "{\"a\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[0,1]}}", 1);
	write_bytes("models--org--name/refs/main", "aaaa", 4);
	CHECK(open_model("models--org--name", &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 1);
	wfs_model_free(m);
	wfs_error_clear(&err);
}

int main(void)
{
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_escapes();
	test_unknown_keys();
	test_metadata_attributes();
	test_index();
	test_hf_repo();
	char cmd[128];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_report("test_conformance");
}
