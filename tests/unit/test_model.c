/**
 * @file test_model.c
 * Opening models from directories: index, shards, merged files, Hugging
 * Face cache layouts, other files, and the index rules.
 */
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "check.h"
#include "weightfs/model.h"

static char root[] = "/tmp/wfs-unit-XXXXXX";

static void write_file(const char *dir, const char *name, const void *data, size_t len)
{
	char path[512];
	snprintf(path, sizeof(path), "%s/%s", dir, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (fd < 0 || write(fd, data, len) != (ssize_t)len)
		perror(path);
	close(fd);
}

static void write_text(const char *dir, const char *name, const char *text)
{
	write_file(dir, name, text, strlen(text));
}

/* One U8 tensor per name, one byte each. */
static void write_st(const char *dir, const char *file, const char *const *names, size_t n)
{
	char h[4096];
	size_t o = (size_t)snprintf(h, sizeof(h), "{\"__metadata__\":{\"format\":\"%s\"}", file);
	for (size_t i = 0; i < n; i++)
		o += (size_t)snprintf(h + o, sizeof(h) - o, ",\"%s\":{\"dtype\":\"U8\",\"shape\":[1],\"data_offsets\":[%zu,%zu]}",
				      names[i], i, i + 1);
	snprintf(h + o, sizeof(h) - o, "}");
	size_t size;
	uint8_t *buf = st_file(h, n, &size);
	write_file(dir, file, buf, size);
	free(buf);
}

static char *make_dir(const char *name)
{
	static char path[16][512];
	static int next;
	char *p = path[next++ % 16];
	snprintf(p, 512, "%s/%s", root, name);
	mkdir(p, 0755);
	return p;
}

struct warnings {
	char text[4096];
	int count;
};

static void on_warning(void *ctx, const char *msg)
{
	struct warnings *w = ctx;
	size_t len = strlen(w->text);
	snprintf(w->text + len, sizeof(w->text) - len, "%s\n", msg);
	w->count++;
}

static int open_model(const char *source, struct wfs_model **m, struct wfs_error *err, struct warnings *w)
{
	memset(w, 0, sizeof(*w));
	struct wfs_open_options opts = {.warn = {on_warning, w}};
	wfs_error_clear(err);
	return wfs_model_open(source, &opts, m, err);
}

static bool has_extra(const struct wfs_model *m, const char *path)
{
	for (size_t i = 0; i < m->nextras; i++)
		if (strcmp(wfs_model_str(m, m->extras[i].path), path) == 0)
			return true;
	return false;
}

static const char *const shard1[] = {"model.embed_tokens.weight", "model.layers.0.mlp.up_proj.weight"};
static const char *const shard2[] = {"model.norm.weight", "lm_head.weight"};

static char *sharded_model(const char *name, const char *weight_map_extra)
{
	char *dir = make_dir(name);
	write_st(dir, "model-00001-of-00002.safetensors", shard1, 2);
	write_st(dir, "model-00002-of-00002.safetensors", shard2, 2);
	char index[2048];
	snprintf(index, sizeof(index),
		 "{\"metadata\":{\"total_size\":4,\"note\":\"hi\"},\"weight_map\":{"
		 "\"model.embed_tokens.weight\":\"model-00001-of-00002.safetensors\","
		 "\"model.layers.0.mlp.up_proj.weight\":\"model-00001-of-00002.safetensors\","
		 "\"model.norm.weight\":\"model-00002-of-00002.safetensors\"%s}}",
		 weight_map_extra);
	write_text(dir, "model.safetensors.index.json", index);
	return dir;
}

static void test_sharded(void)
{
	char *dir = sharded_model("sharded", ",\"lm_head.weight\":\"model-00002-of-00002.safetensors\"");
	write_text(dir, "config.json", "{}");
	char sub[600];
	snprintf(sub, sizeof(sub), "%s/original", dir);
	mkdir(sub, 0755);
	write_text(sub, "params.json", "{\"dim\":1}");
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	int rc = open_model(dir, &m, &err, &w);
	CHECK(rc == 0);
	if (rc) {
		fprintf(stderr, "%s\n", err.text);
		return;
	}
	CHECK(m->ntensors == 4 && m->nshards == 2 && m->sharded);
	CHECK(w.count == 1); /* the shards disagree on __metadata__ "format" */
	CHECK_CONTAINS(w.text, "differs from an earlier shard's");
	ssize_t t = wfs_model_find(m, "model.norm.weight", 17);
	CHECK(t >= 0 && strcmp(wfs_model_str(m, m->shards[m->tensors[t].shard].name), "model-00002-of-00002.safetensors") == 0);
	CHECK(has_extra(m, "config.json") && has_extra(m, "original") && has_extra(m, "original/params.json"));
	CHECK(!has_extra(m, "model.safetensors.index.json") && !has_extra(m, "model-00001-of-00002.safetensors"));
	CHECK(m->nindex_meta == 2);
	CHECK(strcmp(wfs_model_str(m, m->index_meta[0].value), "4") == 0);
	CHECK(strcmp(wfs_model_str(m, m->index_meta[1].value), "hi") == 0);
	/* Shards disagree on __metadata__ "format": the first wins, with a warning... */
	CHECK(m->nmetadata == 1 && strcmp(wfs_model_str(m, m->metadata[0].value), "model-00001-of-00002.safetensors") == 0);
	wfs_model_free(m);

	/* ...and the index file named directly gives the same model without the other files. */
	char index[600];
	snprintf(index, sizeof(index), "%s/model.safetensors.index.json", dir);
	CHECK(open_model(index, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 4 && m->nextras == 0);
	wfs_model_free(m);
	wfs_error_clear(&err);
}

static void test_index_problems(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;

	/* A tensor in a shard but not in the index: shown, with a warning. */
	char *dir = sharded_model("unlisted", "");
	CHECK(open_model(dir, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 4);
	CHECK_CONTAINS(w.text, "\"lm_head.weight\" is not in the index");
	wfs_model_free(m);

	static const struct {
		const char *name, *extra, *fragment;
	} cases[] = {
		{"missing", ",\"lm_head.weight\":\"model-00003-of-00003.safetensors\"",
		 "shard \"model-00003-of-00003.safetensors\": No such file or directory"},
		{"dotdot", ",\"lm_head.weight\":\"../x.safetensors\"", "shard \"../x.safetensors\" is not a relative path"},
		{"absolute", ",\"lm_head.weight\":\"/etc/passwd\"", "is not a relative path inside the model directory"},
		{"backslash", ",\"lm_head.weight\":\"a\\\\b\"", "is not a relative path"},
		{"control", ",\"lm_head.weight\":\"a\\nb\"", "is not a relative path"},
		{"wrong-shard", ",\"lm_head.weight\":\"model-00001-of-00002.safetensors\"",
		 "tensor \"lm_head.weight\": not found in shard \"model-00001-of-00002.safetensors\" named by the index"},
		{"absent", ",\"ghost\":\"model-00001-of-00002.safetensors\"", "tensor \"ghost\": not found in shard"},
		{"dup", ",\"lm_head.weight\":\"model-00002-of-00002.safetensors\",\"lm_head.weight\":\"x\"",
		 "duplicate key \"lm_head.weight\""},
		{"nonstring", ",\"lm_head.weight\":3", "is not a string"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		dir = sharded_model(cases[i].name, cases[i].extra);
		CHECK(open_model(dir, &m, &err, &w) == WFS_EINVALID);
		CHECK(m == NULL);
		CHECK_CONTAINS(err.text, cases[i].fragment);
	}

	dir = make_dir("no-weight-map");
	write_text(dir, "model.safetensors.index.json", "{\"metadata\":{}}");
	CHECK(open_model(dir, &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "\"weight_map\" is missing");

	/* The same tensor in two shards. */
	dir = sharded_model("twice", ",\"lm_head.weight\":\"model-00002-of-00002.safetensors\"");
	write_st(dir, "model-00001-of-00002.safetensors", (const char *const[]){"model.embed_tokens.weight",
		 "model.layers.0.mlp.up_proj.weight", "lm_head.weight"}, 3);
	CHECK(open_model(dir, &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "tensor \"lm_head.weight\" is in both \"model-00001-of-00002.safetensors\" and \"model-00002-of-00002.safetensors\"");
	wfs_error_clear(&err);
}

static void test_merged_and_single(void)
{
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	/* The parts NAME-0000N-of-0000M of one model, without an index: merged. */
	char *dir = make_dir("merged");
	write_st(dir, "m-00001-of-00002.safetensors", shard1, 2);
	write_st(dir, "m-00002-of-00002.safetensors", shard2, 2);
	write_text(dir, "README.md", "hello");
	CHECK(open_model(dir, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 4 && !m->sharded && m->nshards == 2 && m->ngroups == 1);
	CHECK(m && has_extra(m, "README.md") && !has_extra(m, "m-00001-of-00002.safetensors"));
	wfs_model_free(m);

	/* A missing part is named. */
	char *gap = make_dir("gap");
	write_st(gap, "m-00001-of-00003.safetensors", shard1, 2);
	write_st(gap, "m-00003-of-00003.safetensors", shard2, 2);
	CHECK(open_model(gap, &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "part 2 of 3 is missing (\"m-00002-of-00003.safetensors\")");
	wfs_error_clear(&err);

	/* Parts that repeat a tensor. */
	char *twice = make_dir("parts-twice");
	write_st(twice, "m-00001-of-00002.safetensors", shard2, 2);
	write_st(twice, "m-00002-of-00002.safetensors", shard2, 1);
	CHECK(open_model(twice, &m, &err, &w) == WFS_EINVALID);
	CHECK_CONTAINS(err.text, "tensor \"model.norm.weight\" is in both \"m-00001-of-00002.safetensors\" and \"m-00002-of-00002.safetensors\"");
	wfs_error_clear(&err);

	/* Unrelated files: one group (subdirectory) each, named by the file. */
	char *groups = make_dir("unrelated");
	write_st(groups, "a.safetensors", shard1, 2);
	write_st(groups, "b.safetensors", shard2, 2);
	CHECK(open_model(groups, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 4 && m->ngroups == 3 && m->nshards == 2);
	CHECK(m && strcmp(wfs_model_str(m, m->groups[1].name), "a") == 0 &&
	      strcmp(wfs_model_str(m, m->groups[2].name), "b") == 0);
	CHECK(m && wfs_model_find_in(m, 2, "model.norm.weight", 17) >= 0 && wfs_model_find(m, "model.norm.weight", 17) < 0);
	wfs_model_free(m);

	/* model.safetensors wins over the other files (transformers' order). */
	write_st(groups, "model.safetensors", shard1, 1);
	CHECK(open_model(groups, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 1 && m->ngroups == 1 && has_extra(m, "a.safetensors"));
	wfs_model_free(m);

	char file[600];
	write_st(dir, "c.safetensors", shard2, 1);
	snprintf(file, sizeof(file), "%s/c.safetensors", dir);
	CHECK(open_model(file, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 1 && m->nextras == 0);
	CHECK(m && strcmp(wfs_model_str(m, m->shards[0].name), "c.safetensors") == 0);
	wfs_model_free(m);

	dir = make_dir("empty");
	CHECK(open_model(dir, &m, &err, &w) == -ENOENT);
	CHECK_CONTAINS(err.text, "no model index and no model files");
	snprintf(file, sizeof(file), "%s/nothing-here", root);
	CHECK(open_model(file, &m, &err, &w) == -ENOENT);
	CHECK_CONTAINS(err.text, "No such file or directory");
	wfs_error_clear(&err);
}

static void test_hf_cache(void)
{
	char *repo = make_dir("models--org--name");
	char *blobs = make_dir("models--org--name/blobs");
	make_dir("models--org--name/snapshots");
	char *snap = make_dir("models--org--name/snapshots/abc123");
	make_dir("models--org--name/refs");
	write_st(blobs, "1111", shard1, 2);
	write_text(blobs, "2222", "{\"model_type\":\"llama\"}");
	char link[700];
	snprintf(link, sizeof(link), "%s/model.safetensors", snap);
	CHECK(symlink("../../blobs/1111", link) == 0);
	snprintf(link, sizeof(link), "%s/config.json", snap);
	CHECK(symlink("../../blobs/2222", link) == 0);
	char refs[600];
	snprintf(refs, sizeof(refs), "%s/refs", repo);
	write_text(refs, "main", "abc123\n");

	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings w;
	CHECK(open_model(snap, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 2 && has_extra(m, "config.json"));
	CHECK(m && m->extras[0].size == strlen("{\"model_type\":\"llama\"}"));
	wfs_model_free(m);
	CHECK(open_model(repo, &m, &err, &w) == 0);
	CHECK(m && m->ntensors == 2 && has_extra(m, "config.json"));
	wfs_model_free(m);
	wfs_error_clear(&err);
}

/* Views lend the bytes of a model in memory, and refuse (-EAGAIN) a local one. */
static void test_views(void)
{
	const char *h = "{\"a\":{\"dtype\":\"U8\",\"shape\":[5],\"data_offsets\":[0,5]},"
			"\"b\":{\"dtype\":\"U8\",\"shape\":[0],\"data_offsets\":[5,5]}}";
	size_t size;
	uint8_t *file = st_file(h, 5, &size);
	const uint8_t *data = file + size - 5;
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	CHECK(wfs_model_open_memory(file, size, "mem", &m, &err) == 0);
	if (m == NULL)
		return;
	const struct wfs_tensor *a = &m->tensors[wfs_model_find(m, "a", 1)];
	const struct wfs_tensor *b = &m->tensors[wfs_model_find(m, "b", 1)];
	struct wfs_view v;
	for (uint64_t off = 0; off <= 6; off++) {
		ssize_t n = wfs_tensor_view(m, a, 3, off, &v);
		size_t want = off >= 5 ? 0 : 5 - off < 3 ? 5 - off : 3;
		CHECK(n == (ssize_t)want);
		CHECK(want == 0 || (v.count == 1 && v.iov[0].iov_len == want &&
				    memcmp(v.iov[0].iov_base, data + off, want) == 0));
		wfs_view_release(&v);
		CHECK(v.count == 0);
	}
	CHECK(wfs_tensor_view(m, b, 10, 0, &v) == 0);
	wfs_view_release(&v);
	wfs_model_free(m);

	/* The same file on disk is read, not lent. */
	char *dir = make_dir("views");
	write_file(dir, "v.safetensors", file, size);
	char path[600];
	snprintf(path, sizeof(path), "%s/v.safetensors", dir);
	struct warnings w;
	CHECK(open_model(path, &m, &err, &w) == 0);
	if (m) {
		CHECK(wfs_tensor_view(m, &m->tensors[wfs_model_find(m, "a", 1)], 5, 0, &v) == -EAGAIN);
		wfs_view_release(&v);
		wfs_model_free(m);
	}
	free(file);
	wfs_error_clear(&err);
}

int main(void)
{
	if (mkdtemp(root) == NULL) {
		perror("mkdtemp");
		return 1;
	}
	test_sharded();
	test_index_problems();
	test_merged_and_single();
	test_hf_cache();
	test_views();
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	if (system(cmd) != 0)
		fprintf(stderr, "could not remove %s\n", root);
	return check_report("test_model");
}
