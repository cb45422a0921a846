/**
 * @file cmd_verify.c
 * weightfs-inspect verify SOURCE [GLOB...] [--hash [--paths[=LAYOUT]]]
 * [--strict]: every validation rule of the mount (wfs_model_open() applies
 * them all, index and shards included), a few more consistency checks
 * reported as warnings, and with --hash the SHA-256 of every tensor's bytes
 * in sha256sum's format, named by tensor or by its path in a mount.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>

#include "inspect.h"
#include "jsonw.h"
#include "weightfs/namespace.h"
#include "pool.h"
#include "sha256.h"
#include "../lib/formats/crc32c.h"

struct ctx {
	const struct wfs_model *m;
	const size_t *idx;
	uint8_t **buf; /* per worker */
	uint8_t (*digest)[32];
	struct progress progress;
	struct jw *w;
	/* --paths: each tensor's path in a mount of that layout, '/'-separated */
	char **path; /* per tensor of the model; NULL when it has no node */
};

static uint64_t one_chunk(void *ctx, size_t i)
{
	(void)ctx;
	(void)i;
	return 1;
}

/* A tensor is hashed by one worker, in order: SHA-256 cannot be split. */
static int hash_tensor(void *vctx, unsigned worker, size_t i, uint64_t chunk)
{
	(void)chunk;
	struct ctx *c = vctx;
	const struct wfs_tensor *t = &c->m->tensors[c->idx[i]];
	struct sha256 h;
	sha256_init(&h);
	for (uint64_t off = 0; off < t->nbytes; off += CHUNK_BYTES) {
		size_t len = t->nbytes - off < CHUNK_BYTES ? (size_t)(t->nbytes - off) : CHUNK_BYTES;
		int rc = read_tensor(c->m, t, c->buf[worker], len, off);
		if (rc < 0)
			return rc;
		sha256_update(&h, c->buf[worker], len);
		progress_add(&c->progress, len);
	}
	sha256_final(&h, c->digest[i]);
	return 0;
}

static int print_hash(void *vctx, size_t i)
{
	struct ctx *c = vctx;
	const struct wfs_tensor *t = &c->m->tensors[c->idx[i]];
	char hex[65];
	sha256_hex(c->digest[i], hex);
	const char *path = c->path ? c->path[c->idx[i]] : NULL;
	if (c->path && path == NULL) {
		errorf("tensor \"%s\" has no path in this layout; not listed", tensor_name(c->m, t));
		return 0;
	}
	if (c->w) {
		jw_object(c->w);
		jw_key(c->w, "name");
		jw_string(c->w, tensor_name(c->m, t), t->name.len);
		if (path) {
			jw_key(c->w, "path");
			jw_cstring(c->w, path);
		}
		jw_key(c->w, "bytes");
		jw_u64(c->w, t->nbytes);
		jw_key(c->w, "sha256");
		jw_cstring(c->w, hex);
		jw_end(c->w);
	} else {
		/* Exactly sha256sum's format, so that sha256sum -c reads it. */
		const char *name = path ? path : tensor_name(c->m, t);
		size_t len = path ? strlen(path) : t->name.len;
		progress_before_output(&c->progress);
		printf("%s%s  ", sha256sum_needs_escape(name, len) ? "\\" : "", hex);
		put_sha256sum_name(stdout, name, len);
		fputc('\n', stdout);
	}
	return 0;
}

static void warnf(struct warnings *w, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warnf(struct warnings *w, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (!w->quiet)
		errorf("warning: %s", msg);
	char **lines = realloc(w->lines, (w->n + 1) * sizeof(*lines));
	if (lines == NULL)
		return;
	w->lines = lines;
	if ((w->lines[w->n] = strdup(msg)) != NULL)
		w->n++;
}

static bool ends_with(const char *s, size_t len, const char *suffix)
{
	size_t k = strlen(suffix);
	return len >= k && memcmp(s + len - k, suffix, k) == 0;
}

/* What the mount accepts but a careful publisher would not ship. */
static void extra_checks(const struct wfs_model *m, struct warnings *w)
{
	if (!m->sharded)
		return;
	const char *index = wfs_model_str(m, m->index_name);
	for (size_t i = 0; i < m->nindex_meta; i++) {
		const struct wfs_kv *kv = &m->index_meta[i];
		if (strcmp(wfs_model_str(m, kv->key), "total_size") != 0)
			continue;
		char *end;
		const char *v = wfs_model_str(m, kv->value);
		errno = 0;
		unsigned long long size = strtoull(v, &end, 10);
		if (*v < '0' || *v > '9' || *end || errno)
			warnf(w, "%s: metadata total_size %s is not a byte count", index, v);
		else if (size != m->total_bytes)
			warnf(w, "%s: metadata total_size %llu differs from the %" PRIu64 " bytes of the tensors",
			      index, size, m->total_bytes);
	}
	for (size_t i = 0; i < m->nextras; i++) {
		const struct wfs_extra *e = &m->extras[i];
		const char *path = wfs_model_str(m, e->path);
		if (!e->is_dir && ends_with(path, e->path.len, ".safetensors") && strchr(path, '/') == NULL)
			warnf(w, "%s: not named by the index %s; its tensors are not part of the model", path, index);
	}
}

/* The value of the tensor's xattr @p name (its format's attrs), or NULL. */
static const char *tensor_attr(const struct wfs_model *m, const struct wfs_tensor *t, const char *name)
{
	const char *p = wfs_model_str(m, t->attrs), *end = p + t->attrs.len;
	while (p < end) {
		const char *value = p + strlen(p) + 1;
		if (value >= end)
			break;
		if (strcmp(p, name) == 0)
			return value;
		p = value + strlen(value) + 1;
	}
	return NULL;
}

/*
 * Checksums the format stores (TensorFlow bundles: the masked CRC-32C of
 * every tensor's bytes, as user.crc32c): each mismatch is one problem.
 * Returns 0, EXIT_INVALID, or EXIT_SOURCE when a tensor cannot be read.
 */
static int check_checksums(const struct wfs_model *m, struct wfs_error *err)
{
	int rc = 0;
	uint8_t *buf = NULL;
	for (size_t i = 0; i < m->ntensors; i++) {
		const struct wfs_tensor *t = &m->tensors[i];
		const char *want = t->attrs.len ? tensor_attr(m, t, "user.crc32c") : NULL;
		if (want == NULL)
			continue;
		if (buf == NULL && (buf = malloc(CHUNK_BYTES)) == NULL)
			return EXIT_INTERNAL;
		uint32_t crc = 0;
		for (uint64_t off = 0; off < t->nbytes; off += CHUNK_BYTES) {
			size_t len = t->nbytes - off < CHUNK_BYTES ? (size_t)(t->nbytes - off) : CHUNK_BYTES;
			int r = read_tensor(m, t, buf, len, off);
			if (r < 0) {
				free(buf);
				return EXIT_SOURCE;
			}
			crc = wfs_crc32c_extend(crc, buf, len);
		}
		char have[16];
		snprintf(have, sizeof(have), "%08" PRIx32, wfs_crc32c_mask(crc));
		if (strcmp(have, want) != 0) {
			wfs_error_add(err, "%s: tensor \"%s\": masked CRC-32C of its bytes is %s, the index says %s",
				      wfs_model_str(m, m->shards[t->shard].name), tensor_name(m, t), have, want);
			rc = EXIT_INVALID;
		}
	}
	free(buf);
	return rc;
}

/* The path of node @p n below the root, '/'-separated, malloc'd; NULL when out of memory. */
static char *node_path(const struct wfs_namespace *ns, uint32_t n)
{
	/* Walked upwards, without recursion: a tree can be as deep as a name has dots. */
	size_t len = 0;
	for (uint32_t k = n; k != 0; k = ns->nodes[k].parent)
		len += ns->nodes[k].name_len + (len ? 1 : 0);
	char *path = malloc(len + 1);
	if (path == NULL)
		return NULL;
	path[len] = '\0';
	size_t end = len;
	for (uint32_t k = n; k != 0; k = ns->nodes[k].parent) {
		const struct wfs_node *node = &ns->nodes[k];
		end -= node->name_len;
		memcpy(path + end, wfs_node_name(ns, node), node->name_len);
		if (end)
			path[--end] = '/';
	}
	return path;
}

/*
 * The path of every tensor in a mount of @p layout (what --paths prints):
 * the namespace the mount builds, walked from each tensor's node.
 */
static int tensor_paths(const struct wfs_model *m, const char *layout_name, char ***out)
{
	enum wfs_layout layout;
	if (wfs_layout_parse(layout_name, &layout) < 0) {
		errorf("--paths=%s: expected modules, tree or flat", layout_name);
		return EXIT_USAGE;
	}
	struct wfs_namespace *ns = NULL;
	struct wfs_error err = {0};
	int rc = wfs_namespace_build(m, layout, NULL, &ns, &err);
	wfs_error_clear(&err);
	char **path = calloc(m->ntensors ? m->ntensors : 1, sizeof(*path));
	if (rc < 0 || path == NULL) {
		free(path);
		wfs_namespace_free(ns);
		errorf("out of memory");
		return EXIT_INTERNAL;
	}
	for (uint32_t n = 0; n < ns->nnodes; n++)
		if (ns->nodes[n].kind == WFS_NODE_TENSOR)
			path[ns->nodes[n].ref] = node_path(ns, n); /* NULL: said when printed */
	wfs_namespace_free(ns);
	*out = path;
	return EXIT_OK;
}

static void json_lines(struct jw *w, const char *key, char *const *lines, size_t n)
{
	jw_key(w, key);
	jw_array(w);
	for (size_t i = 0; i < n; i++)
		jw_cstring(w, lines[i]);
	jw_end(w);
}

static void json_problems(struct jw *w, const struct wfs_error *err)
{
	jw_key(w, "problems");
	jw_array(w);
	const char *p = err->text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		jw_string(w, p, len);
		p = nl ? nl + 1 : NULL;
	}
	jw_end(w);
	jw_key(w, "problem_count");
	jw_u64(w, err->count);
}

static int run(const struct cli *cli)
{
	const char *source = cli->args[0];
	struct wfs_model *m = NULL;
	struct wfs_error err = {0};
	struct warnings warn = {.quiet = cli->json};
	struct jw w;
	size_t *idx = NULL, n = 0;
	struct ctx c = {0};
	unsigned nthreads = pool_threads(cli->jobs);
	int rc = open_source(source, true, &warn, &m, &err);
	if (rc == 0)
		rc = check_checksums(m, &err);
	if (rc == 0) {
		extra_checks(m, &warn);
		if (cli->strict && warn.n) {
			for (size_t i = 0; i < warn.n; i++)
				wfs_error_add(&err, "%s", warn.lines[i]);
			rc = EXIT_INVALID;
		}
	}
	if (cli->json) {
		jw_init(&w, stdout);
		jw_object(&w);
		jw_key(&w, "source");
		jw_cstring(&w, source);
		jw_key(&w, "valid");
		jw_bool(&w, rc == 0);
		jw_key(&w, "exit_code");
		jw_u64(&w, (uint64_t)rc);
		json_problems(&w, &err);
		json_lines(&w, "warnings", warn.lines, warn.n);
		if (m) {
			jw_key(&w, "tensors");
			jw_u64(&w, m->ntensors);
			jw_key(&w, "files");
			jw_u64(&w, m->nshards);
			jw_key(&w, "total_bytes");
			jw_u64(&w, m->total_bytes);
		}
	} else if (rc) {
		print_problems(&err);
	}
	if (rc || !cli->hash)
		goto finish;

	if ((rc = select_or_report(m, cli->args + 1, cli->nargs - 1, true, &idx, &n)) != 0)
		goto finish;
	if (cli->paths && (rc = tensor_paths(m, cli->paths, &c.path)) != 0)
		goto finish;
	c.m = m;
	c.idx = idx;
	c.w = cli->json ? &w : NULL;
	c.digest = malloc((n ? n : 1) * sizeof(*c.digest));
	c.buf = calloc(nthreads, sizeof(*c.buf));
	bool oom = c.digest == NULL || c.buf == NULL;
	for (unsigned k = 0; !oom && k < nthreads; k++)
		oom = (c.buf[k] = malloc(CHUNK_BYTES)) == NULL;
	if (oom) {
		errorf("out of memory");
		rc = EXIT_INTERNAL;
		goto finish;
	}
	if (cli->json) {
		jw_key(&w, "sha256");
		jw_array(&w);
	}
	struct pool_job job = {
		.nitems = n, .nchunks = one_chunk, .run = hash_tensor, .done = print_hash,
		.ctx = &c, .progress = &c.progress,
	};
	uint64_t selected = 0;
	for (size_t i = 0; i < n; i++)
		selected += m->tensors[idx[i]].nbytes;
	int prc = run_job(&job, nthreads, &c.progress, "verify --hash", selected, cli->progress);
	if (prc != 0)
		rc = prc;
	if (cli->json) {
		jw_end(&w);
		jw_key(&w, "hashed_all"); /* false when a read failed (exit 3) */
		jw_bool(&w, prc == 0);
	}

finish:
	if (cli->json) {
		jw_end(&w);
		fputc('\n', stdout);
	} else if (rc == 0) {
		char b[32], human[40] = "";
		if (m->total_bytes >= 1000)
			snprintf(human, sizeof(human), " (%s)", human_bytes(m->total_bytes, b));
		/* With --hash, stdout is a checksum file: the verdict goes to stderr. */
		fprintf(cli->hash ? stderr : stdout, "%svalid: %zu tensors in %zu file%s, %" PRIu64 " bytes%s%s\n",
			cli->hash ? PROG ": " : "", m->ntensors, m->nshards, m->nshards == 1 ? "" : "s",
			m->total_bytes, human, warn.n ? ", with warnings" : "");
	}
	if (c.buf)
		for (unsigned k = 0; k < nthreads; k++)
			free(c.buf[k]);
	free(c.buf);
	free(c.digest);
	for (size_t i = 0; c.path && i < m->ntensors; i++)
		free(c.path[i]);
	free(c.path);
	free(idx);
	warnings_free(&warn);
	wfs_error_clear(&err);
	wfs_model_free(m);
	return rc;
}

const struct command cmd_verify = {
	.name = "verify",
	.synopsis = "SOURCE [GLOB...]",
	.summary = "validate like the mount; --hash: SHA-256 of every tensor (sha256sum format)",
	.help = "Checks everything the mount checks before mounting (see README.md,\n"
		"Validation): every header, every tensor's dtype, shape and byte range, the\n"
		"tiling of each data section, and the index against its shards. Problems\n"
		"are printed one per line on stderr, each naming the file and the tensor,\n"
		"exactly as the mount prints them. Checksums a format stores are checked\n"
		"(TensorFlow bundles: every tensor's masked CRC-32C). Also reported, as\n"
		"warnings: tensors in a shard but not in the index, an index metadata\n"
		"total_size that is not the tensors' byte count, and *.safetensors files\n"
		"the index does not name.\n"
		"Exit 0 only if the model is valid (4 if not, 3 if it cannot be read).\n"
		"\n"
		"options:\n"
		"    --hash            also read every tensor (those matching a GLOB, if given)\n"
		"                      and print the SHA-256 of its bytes in exactly the format\n"
		"                      of sha256sum (the digest of the tensor's file in the\n"
		"                      mount), in natural order; the verdict goes to stderr\n"
		"    --paths[=LAYOUT]  with --hash: name each tensor by its path in a mount of\n"
		"                      LAYOUT (modules, the default; tree; flat), so that\n"
		"                      sha256sum -c runs inside the mount\n"
		"    --strict          warnings make the model invalid (exit 4)\n"
		"    --json            {\"source\", \"valid\", \"exit_code\", \"problems\": [...],\n"
		"                      \"problem_count\", \"warnings\": [...], \"tensors\", \"files\",\n"
		"                      \"total_bytes\", \"sha256\": [{\"name\", [\"path\",] \"bytes\",\n"
		"                      \"sha256\"}],\n"
		"                      \"hashed_all\"}\n"
		"    -j, --jobs N      N threads hash tensors at once (default: one per CPU)\n"
		"    --no-progress     no progress bar (it is shown on a terminal after 1 s)\n"
		"    -h, --help        this help\n"
		"\n"
		"example:\n"
		"    $ " PROG " verify --hash sample-model | head -2\n"
		"    24da43f06bb59ae1a3c9e867e1b8222b57088b74028df275cd85f2fa657f6a30  lm_head.weight\n"
		"    59571014017961ab1f261506633388927f3b4e694c43cefbd060df4e7f1d978e  model.embed_tokens.weight\n"
		"    $ " PROG " verify sample-model\n"
		"    valid: 21 tensors in 2 files, 213632 bytes (214 kB)\n"
		"    $ " PROG " verify --hash --paths=tree sample-model > SUMS\n"
		"    $ weightfs -o layout=tree sample-model /mnt/model && cd /mnt/model && sha256sum -c SUMS\n",
	.min_args = 1,
	.max_args = (unsigned)-1,
	.options = OPT_JOBS | OPT_HASH | OPT_STRICT | OPT_PATHS,
	.run = run,
};
