/**
 * @file gguf.c
 * The GGUF format (ggml-org/ggml docs/gguf.md; llama.cpp's gguf-split for
 * split models): one file or one part of a split per open.
 *
 * The header, KV section and tensor infos are read by gguf/parse.c from a
 * prefix of the file that grows as the parser asks (64 KiB, then doubling),
 * so a remote file is fetched by range, not whole. Tensors become RANGE
 * extents of the stored bytes (raw blocks for quantized types), with
 * user.ggml_ne keeping GGUF's order; every KV becomes user.gguf.KEY, and
 * values longer than the kernel's xattr limit are named in
 * user.gguf.omitted.
 *
 * Splits (gguf-split): part N of M is named NAME-0000N-of-0000M.gguf and
 * holds split.no = N - 1 and split.count = M; the first part also holds
 * every other KV and split.tensors.count, the tensors of all parts.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "gguf/parse.h"
#include "weightfs/xattr.h"

/** The longest KV text kept in the model (longer ones are only named in user.gguf.omitted). */
#define GGUF_KV_TEXT_MAX (256u << 20)
/** The first read of a file's header. */
#define GGUF_FIRST_READ 65536

static int gguf_probe(const uint8_t *head, size_t len, const char *name)
{
	if (len >= 4 && memcmp(head, WFS_GGUF_MAGIC, 4) == 0)
		return 100;
	size_t k = strlen(name);
	return k > 5 && strcmp(name + k - 5, ".gguf") == 0 ? 10 : 0;
}

/*
 * NAME-0000N-of-0000M.gguf (llama.cpp's llama_split_path: "%s-%05d-of-%05d.gguf"):
 * sets N and M; false for another name.
 */
static bool split_name(const char *file, unsigned long *part, unsigned long *count)
{
	const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
	size_t n = strlen(base);
	if (n < 5 || strcmp(base + n - 5, ".gguf") != 0)
		return false;
	size_t end = n - 5, i = end;
	while (i > 0 && base[i - 1] >= '0' && base[i - 1] <= '9')
		i--;
	size_t w = end - i;
	if (w == 0 || w > 9 || i < 4 || memcmp(base + i - 4, "-of-", 4) != 0)
		return false;
	size_t j = i - 4, k = j;
	while (k > 0 && base[k - 1] >= '0' && base[k - 1] <= '9')
		k--;
	if (j - k != w || k < 2 || base[k - 1] != '-')
		return false;
	*part = strtoul(base + k, NULL, 10);
	*count = strtoul(base + i, NULL, 10);
	return *part >= 1 && *part <= *count;
}

/* Reads the header progressively: *buf holds *len bytes of the file's start when it returns 0. */
static int read_and_parse(struct wfs_build *b, uint32_t shard, const char *label, struct wfs_gguf *g,
			  uint8_t **buf, size_t *len, struct wfs_error *err)
{
	const struct wfs_shard *s = &b->m->shards[shard];
	size_t have = 0, want = s->size < GGUF_FIRST_READ ? (size_t)s->size : GGUF_FIRST_READ;
	uint8_t *p = NULL;
	for (;;) {
		uint8_t *np = realloc(p, want ? want : 1);
		if (np == NULL) {
			free(p);
			return -ENOMEM;
		}
		p = np;
		if (want > have) {
			ssize_t n = wfs_shard_pread(b->m, s, p + have, want - have, have);
			if (n < 0) {
				wfs_error_add(err, "%s: %s", label, strerror((int)-n));
				free(p);
				return (int)n;
			}
			have = want;
		}
		uint64_t need = 0;
		int rc = wfs_gguf_parse(p, have, s->size, label, g, err, &need);
		if (rc != -EAGAIN) {
			if (rc != 0) {
				wfs_gguf_release(g);
				free(p);
				return rc;
			}
			*buf = p;
			*len = have;
			return 0;
		}
		want = (size_t)need; /* need <= file size, <= WFS_GGUF_HEADER_MAX; g goes on from where it stopped */
	}
}

/* Checks split.no / split.count against the file's name. */
static int check_split_name(const struct wfs_gguf *g, const char *label, struct wfs_error *err)
{
	unsigned long part = 0, count = 0;
	bool named = split_name(label, &part, &count);
	if (!g->has_split_count && !g->has_split_no) {
		if (named && count > 1) {
			wfs_error_add(err, "%s: named as part %lu of %lu of a split, but it has no split.no and split.count keys",
				      label, part, count);
			return WFS_EINVALID;
		}
		return 0;
	}
	if (!g->has_split_count || !g->has_split_no) {
		wfs_error_add(err, "%s: a split part needs both split.no and split.count (it has only %s)", label,
			      g->has_split_no ? "split.no" : "split.count");
		return WFS_EINVALID;
	}
	if (g->split_count == 0 || g->split_no >= g->split_count) {
		wfs_error_add(err, "%s: split.no %" PRIu64 " is not below split.count %" PRIu64, label, g->split_no,
			      g->split_count);
		return WFS_EINVALID;
	}
	if (g->split_count == 1 && !named)
		return 0;
	if (!named) {
		wfs_error_add(err, "%s: part %" PRIu64 " of a %" PRIu64 "-part split (split.no, split.count), but not named NAME-%05" PRIu64 "-of-%05" PRIu64 ".gguf, so its other parts cannot be found",
			      label, g->split_no + 1, g->split_count, g->split_no + 1, g->split_count);
		return WFS_EINVALID;
	}
	if (count != g->split_count || part != g->split_no + 1) {
		wfs_error_add(err, "%s: the name says part %lu of %lu, but its keys say part %" PRIu64 " of %" PRIu64 " (split.no %" PRIu64 ", split.count %" PRIu64 "): a part of another split?",
			      label, part, count, g->split_no + 1, g->split_count, g->split_no, g->split_count);
		return WFS_EINVALID;
	}
	return 0;
}

/* Appends one "\"KEY\":{...}" entry to the omitted list. */
static int omit(char **list, size_t *len, const struct wfs_gguf_kv *kv, size_t text_len, bool kept)
{
	char q[WFS_QUOTE_MAX];
	char entry[WFS_QUOTE_MAX + 160];
	/* Keys are valid UTF-8 without NUL; quote only what JSON needs. */
	size_t o = 0;
	for (size_t i = 0; i < kv->key_len && o < sizeof(q) - 8; i++) {
		unsigned char c = (unsigned char)kv->key[i];
		if (c == '"' || c == '\\') {
			q[o++] = '\\';
			q[o++] = (char)c;
		} else if (c < 0x20) {
			o += (size_t)snprintf(q + o, sizeof(q) - o, "\\u%04x", c);
		} else {
			q[o++] = (char)c;
		}
	}
	q[o] = '\0';
	int n;
	if (kv->type == WFS_GGUF_ARRAY)
		n = snprintf(entry, sizeof(entry), "%s\"%s\":{\"type\":\"ARRAY\",\"item_type\":\"%s\",\"count\":%" PRIu64 ",\"length\":",
			     *len > 1 ? "," : "", q, wfs_gguf_type_name(kv->item_type), kv->count);
	else
		n = snprintf(entry, sizeof(entry), "%s\"%s\":{\"type\":\"%s\",\"length\":", *len > 1 ? "," : "", q,
			     wfs_gguf_type_name(kv->type));
	if (n < 0 || (size_t)n >= sizeof(entry) - 24)
		return -ENOMEM;
	n += kept ? snprintf(entry + n, sizeof(entry) - (size_t)n, "%zu}", text_len)
		  : snprintf(entry + n, sizeof(entry) - (size_t)n, "null}");
	char *np = realloc(*list, *len + (size_t)n + 2);
	if (np == NULL)
		return -ENOMEM;
	memcpy(np + *len, entry, (size_t)n);
	*len += (size_t)n;
	np[*len] = '\0';
	*list = np;
	return 0;
}

/* Every KV as user.gguf.KEY; the ones over the xattr limit named in user.gguf.omitted. */
static int add_kvs(struct wfs_build *b, const struct wfs_gguf *g, const uint8_t *buf, const char *label)
{
	char *omitted = strdup("{");
	size_t olen = 1;
	int rc = omitted ? 0 : -ENOMEM;
	for (uint64_t i = 0; i < g->n_kv && rc == 0; i++) {
		const struct wfs_gguf_kv *kv = &g->kv[i];
		char *text = NULL;
		size_t len = 0;
		bool json = false;
		int r = wfs_gguf_kv_render(buf, kv, GGUF_KV_TEXT_MAX, &text, &len, &json);
		if (r == -E2BIG) {
			char q[WFS_QUOTE_MAX];
			wfs_warnf(b->warn, "%s: key %s: its value is longer than %u MiB and is not kept", label,
				  wfs_quote(kv->key, kv->key_len, q), GGUF_KV_TEXT_MAX >> 20);
			rc = omit(&omitted, &olen, kv, 0, false);
			continue;
		}
		if (r < 0) {
			rc = r == -ENOMEM ? r : WFS_EINVALID;
			break;
		}
		rc = wfs_build_add_kv(b, WFS_KV_GGUF, kv->key, kv->key_len, text, len, json);
		if (rc == 0 && len > WFS_XATTR_VALUE_MAX)
			rc = omit(&omitted, &olen, kv, len, true);
		free(text);
	}
	if (rc == 0 && olen > 1) {
		omitted[olen++] = '}';
		rc = wfs_build_add_kv(b, WFS_KV_FORMAT, "gguf.omitted", 12, omitted, olen, true);
	}
	free(omitted);
	return rc;
}

/* "user.ggml_ne\0[4096,32000]\0" */
static size_t ne_attr(const struct wfs_gguf_tensor *t, char *out, size_t cap)
{
	static const char name[] = "user.ggml_ne";
	memcpy(out, name, sizeof(name));
	size_t o = sizeof(name);
	out[o++] = '[';
	for (uint32_t d = 0; d < t->n_dims; d++)
		o += (size_t)snprintf(out + o, cap - o, "%s%" PRIu64, d ? "," : "", t->ne[d]);
	out[o++] = ']';
	out[o++] = '\0';
	return o;
}

static int gguf_open(struct wfs_build *b, uint32_t shard, struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	char label[PATH_MAX]; /* the arena moves while tensors are added */
	snprintf(label, sizeof(label), "%s", wfs_model_str(m, m->shards[shard].name));
	struct wfs_gguf g = {0};
	uint8_t *buf = NULL;
	size_t len = 0;
	int rc = read_and_parse(b, shard, label, &g, &buf, &len, err);
	if (rc != 0)
		return rc;
	rc = check_split_name(&g, label, err);

	for (uint64_t i = 0; i < g.n_tensors && rc == 0; i++) {
		const struct wfs_gguf_tensor *t = &g.tensors[i];
		uint64_t shape[WFS_GGUF_MAX_DIMS];
		for (uint32_t d = 0; d < t->n_dims; d++)
			shape[d] = t->ne[t->n_dims - 1 - d];
		char attrs[32 + WFS_GGUF_MAX_DIMS * 21];
		size_t alen = ne_attr(t, attrs, sizeof(attrs));
		struct wfs_tensor_spec spec = {
			.name = t->name,
			.name_len = t->name_len,
			.dtype = t->dtype,
			.ndim = t->n_dims,
			.shape = shape,
			.shard = shard,
			.extent = WFS_EXTENT_RANGE,
			.offset = g.data_offset + t->offset,
			.attrs = attrs,
			.attrs_len = alen,
		};
		rc = wfs_build_add_tensor(b, label, &spec, err);
	}
	/* The KVs of the model are the first part's (the others hold only split.*). */
	if (rc == 0 && (!g.has_split_no || g.split_no == 0))
		rc = add_kvs(b, &g, buf, label);
	if (rc == 0)
		m->sep = '.';
	wfs_gguf_release(&g);
	free(buf);
	return rc;
}

/*
 * After every part of a split is open: the first part's split.tensors.count
 * is the number of tensors the parts hold. (A missing part is reported by
 * resolve.c; a tensor in two parts by wfs_model_finish.)
 */
static int gguf_finish(struct wfs_build *b, struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	const struct wfs_kv *count_kv = NULL, *count = NULL;
	for (size_t i = 0; i < m->nmetadata; i++) {
		const struct wfs_kv *kv = &m->metadata[i];
		if (kv->group != b->group || kv->space != WFS_KV_GGUF)
			continue;
		if (strcmp(wfs_model_str(m, kv->key), "split.tensors.count") == 0)
			count_kv = kv;
		if (strcmp(wfs_model_str(m, kv->key), "split.count") == 0)
			count = kv;
	}
	if (count == NULL || count_kv == NULL)
		return 0;
	uint64_t n = 0;
	for (size_t i = 0; i < m->ntensors; i++)
		n += m->tensors[i].group == b->group;
	const char *want = wfs_model_str(m, count_kv->value);
	char have[24];
	snprintf(have, sizeof(have), "%" PRIu64, n);
	if (strcmp(want, have) != 0) {
		const char *first = "";
		for (size_t i = 0; i < m->ntensors; i++)
			if (m->tensors[i].group == b->group) {
				first = wfs_model_str(m, m->shards[m->tensors[i].shard].name);
				break;
			}
		wfs_error_add(err, "%s: split.tensors.count is %s, but the %s parts hold %s tensors: a part of another split?",
			      first, want, wfs_model_str(m, count->value), have);
		return WFS_EINVALID;
	}
	return 0;
}

static const char *const gguf_extensions[] = {".gguf", NULL};

const struct wfs_format wfs_format_gguf = {
	.name = "gguf",
	.probe = gguf_probe,
	.open = gguf_open,
	.finish = gguf_finish,
	.extensions = gguf_extensions,
	.preferred = NULL,
	.open_all_parts = true,
};
