/**
 * @file pytorch.c
 * The PyTorch format: probe and open (the zip archives of torch.save and
 * torch.jit.save in archive.c, the legacy stream in legacy.c), and what
 * both do with the walk's tensors and leaves (wfs_pt_add_pickle).
 */
#include "pytorch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cursor.h"
#include "../../sources/source.h"
#include "layout.h"

#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

const uint8_t wfs_pt_legacy_magic[14] = {0x80, 0x02, 0x8a, 0x0a, 0x6c, 0xfc, 0x9c, 0x46,
					 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19};

int wfs_pt_pread(void *file, void *buf, size_t len, uint64_t off)
{
	struct wfs_pt_file *f = file;
	const struct wfs_model *m = f->b->m;
	ssize_t n = wfs_shard_pread(m, &m->shards[f->shard], buf, len, off);
	return n < 0 ? (int)n : 0;
}

void wfs_pt_willneed(void *file, uint64_t off, uint64_t len)
{
	struct wfs_pt_file *f = file;
	wfs_build_willneed(f->b, f->shard, off, len);
}

int wfs_pt_read_error(struct wfs_pt_file *f, int rc)
{
	if (rc < 0 && rc != WFS_EINVALID && rc != -ENOMEM)
		wfs_error_add(f->err, "%s: %s", f->label, strerror(-rc));
	return rc;
}

/* ---- from the walk to the model ---------------------------------------- */

static int sink_tensor(void *ctx, const char *name, size_t len, const struct wfs_pt_tensor *t)
{
	struct wfs_pt_file *f = ctx;
	uint64_t base, bytes;
	int rc = f->find_storage(f, &t->storage, name, len, &base, &bytes);
	if (rc < 0)
		return rc;
	struct wfs_pt_layout l;
	const char *why;
	if (wfs_pt_layout(t, base, bytes, &l, &why) < 0) {
		wfs_error_add(f->err, "%s: %s: tensor %s: %s", f->label, f->what, QUOTE_LEN(name, len), why);
		return WFS_EINVALID;
	}
	struct wfs_tensor_spec s = {
		.name = name,
		.name_len = len,
		.dtype = t->dtype,
		.ndim = t->ndim,
		.shape = t->shape,
		.shard = f->shard,
		.extent = l.contiguous ? WFS_EXTENT_RANGE : WFS_EXTENT_STRIDED,
		.offset = l.offset,
		.strides = t->stride,
		.storage_begin = base,
		.storage_end = base + bytes,
	};
	/* user.stride: "[1,5]" for a strided view. */
	char attrs[32 + WFS_PT_MAX_NDIM * 21];
	if (!l.contiguous) {
		size_t o = (size_t)snprintf(attrs, sizeof(attrs), "user.stride%c[", '\0');
		for (uint32_t d = 0; d < t->ndim; d++)
			o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, "%s%llu", d ? "," : "",
					      (unsigned long long)t->stride[d]);
		o += (size_t)snprintf(attrs + o, sizeof(attrs) - o, "]");
		attrs[o++] = '\0';
		s.attrs = attrs;
		s.attrs_len = o;
	}
	return wfs_build_add_tensor(f->b, f->label, &s, f->err);
}

static int sink_kv(void *ctx, const char *name, size_t len, const char *value, size_t vlen, bool json)
{
	struct wfs_pt_file *f = ctx;
	return wfs_build_add_kv(f->b, WFS_KV_METADATA, name, len, value, vlen, json);
}

int wfs_pt_add_pickle(struct wfs_pt_file *f, const struct wfs_pickle *p, uint32_t top, bool script,
		      const char *prefix, bool no_root)
{
	struct wfs_pt_sink sink = {f, sink_tensor, sink_kv};
	struct wfs_pt_walk_opts o = {
		.root = no_root || f->b->opts == NULL ? NULL : f->b->opts->root,
		.script = script,
		.prefix = prefix,
	};
	size_t before = f->b->m->ntensors;
	int rc = wfs_pt_walk(p, top, &o, &sink, f->label, f->what, f->err);
	if (rc == 0 && f->b->m->ntensors == before && prefix == NULL && o.root == NULL && f->b->warn)
		wfs_warnf(f->b->warn, "%s: %s holds no tensors that weightfs can name (a pickled object other "
			  "than a dict, such as a whole nn.Module?)", f->label, f->what);
	return rc;
}

int wfs_pt_set_archive(struct wfs_pt_file *f, const char *kind)
{
	static const char key[] = "pytorch.archive";
	const struct wfs_model *m = f->b->m;
	for (size_t i = 0; i < m->nmetadata; i++) {
		const struct wfs_kv *kv = &m->metadata[i];
		if (kv->group == f->b->group && kv->space == WFS_KV_FORMAT && kv->key.len == sizeof(key) - 1 &&
		    memcmp(wfs_model_str(m, kv->key), key, sizeof(key) - 1) == 0)
			return 0;
	}
	return wfs_build_add_kv(f->b, WFS_KV_FORMAT, key, sizeof(key) - 1, kind, strlen(kind), false);
}

/* ---- the format ------------------------------------------------------------ */

/* .pt and .pth are PyTorch's own names; .bin is anyone's. */
static bool pytorch_name(const char *name)
{
	size_t k = strlen(name);
	return (k > 3 && strcmp(name + k - 3, ".pt") == 0) || (k > 4 && strcmp(name + k - 4, ".pth") == 0);
}

static int pt_probe(const uint8_t *head, size_t len, const char *name)
{
	if (len >= sizeof(wfs_pt_legacy_magic) && memcmp(head, wfs_pt_legacy_magic, sizeof(wfs_pt_legacy_magic)) == 0)
		return 100;
	if (len >= 30 && memcmp(head, "PK\3\4", 4) == 0) {
		/* The first entry is FOLDER/data.pkl, FOLDER/data/N (TorchScript), FOLDER/version... */
		size_t n = wfs_ld16(head + 26);
		const char *entry = (const char *)head + 30;
		if (n <= len - 30) {
			const char *slash = memchr(entry, '/', n);
			if (slash) {
				size_t rest = n - (size_t)(slash + 1 - entry);
				const char *r = slash + 1;
				if ((rest == 8 && memcmp(r, "data.pkl", 8) == 0) || (rest > 5 && memcmp(r, "data/", 5) == 0) ||
				    (rest == 7 && memcmp(r, "version", 7) == 0) ||
				    (rest == 9 && memcmp(r, "byteorder", 9) == 0) ||
				    (rest > 6 && memcmp(r, ".data/", 6) == 0) ||
				    (rest == 15 && memcmp(r, ".format_version", 15) == 0))
					return 100;
			}
		}
	}
	/*
	 * A broken .pt/.pth file is still ours to explain; a .bin that is not
	 * PyTorch by content is someone else's (ONNX external data, a
	 * tokenizer) and stays an ordinary file of the directory.
	 */
	return pytorch_name(name) ? 10 : 0;
}

static int pt_open(struct wfs_build *b, uint32_t shard, struct wfs_error *err)
{
	struct wfs_pt_file *f = calloc(1, sizeof(*f));
	if (f == NULL)
		return -ENOMEM;
	f->b = b;
	f->shard = shard;
	f->err = err;
	snprintf(f->label, sizeof(f->label), "%s", wfs_model_str(b->m, b->m->shards[shard].name));
	uint8_t head[sizeof(wfs_pt_legacy_magic)] = {0};
	uint64_t size = b->m->shards[shard].size;
	int rc = 0;
	if (size >= sizeof(head))
		rc = wfs_pt_pread(f, head, sizeof(head), 0);
	if (rc < 0)
		rc = wfs_pt_read_error(f, rc);
	else if (size >= sizeof(head) && memcmp(head, wfs_pt_legacy_magic, sizeof(head)) == 0)
		rc = wfs_pt_open_legacy(f);
	else if (size >= 4 && memcmp(head, "PK\3\4", 4) == 0)
		rc = wfs_pt_open_zip(f);
	else {
		wfs_error_add(err, "%s: not a PyTorch checkpoint (neither a zip archive nor a legacy torch.save stream)",
			      f->label);
		rc = WFS_EINVALID;
	}
	free(f);
	return rc;
}

static const char *const pt_extensions[] = {".bin", ".pt", ".pth", NULL};

const struct wfs_format wfs_format_pytorch = {
	.name = "pytorch",
	.probe = pt_probe,
	.open = pt_open,
	.extensions = pt_extensions,
	.preferred = "pytorch_model.bin",
};
