/**
 * @file pytorch.c
 * PyTorch checkpoints: the zip archives of torch.save (torch >= 1.6) and
 * torch.jit.save, and (legacy.c) the older pickle stream; probe and open.
 *
 * A zip checkpoint (torch/serialization.py _save, caffe2's
 * PyTorchStreamWriter) holds, under one top-level folder: data.pkl (the
 * pickled object), data/KEY (each storage's bytes, stored, never
 * compressed), version, and from torch 2.1 byteorder ("little" or "big").
 * A TorchScript archive adds code/ (deflated sources), constants.pkl
 * (whose tensors' storages are constants/KEY) and builds its module with
 * NEWOBJ + BUILD in data.pkl.
 */
#include "pytorch.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cursor.h"
#include "../../sources/source.h"
#include "layout.h"
#include "zip.h"

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

/* ---- zip archives ---------------------------------------------------------- */

struct zip_state {
	struct wfs_zip zip;
	const char *dir; /* "data/" or "constants/" while that pickle is walked */
};

/* data/KEY of the archive; its size must be the storage's numel x element size. */
static int zip_storage(struct wfs_pt_file *f, const struct wfs_pt_storage *s, const char *name, size_t name_len,
		       uint64_t *base, uint64_t *bytes)
{
	struct zip_state *z = f->impl;
	char rel[64];
	int n = snprintf(rel, sizeof(rel), "%s%.*s", z->dir, (int)(s->key_len < 40 ? s->key_len : 40), s->key);
	const struct wfs_zip_entry *e = NULL;
	if (s->key_len < 40 && memchr(s->key, '\0', s->key_len) == NULL)
		e = wfs_zip_find(&z->zip, rel, (size_t)n);
	if (e == NULL) {
		wfs_error_add(f->err, "%s: %s: tensor %s: storage %s has no zip entry %s", f->label, f->what,
			      QUOTE_LEN(name, name_len), QUOTE_LEN(s->key, s->key_len), QUOTE_LEN(rel, (size_t)n));
		return WFS_EINVALID;
	}
	if (e->method != 0) {
		wfs_error_add(f->err, "%s: %s: tensor %s: zip entry %s is compressed (tensor data must be stored)",
			      f->label, f->what, QUOTE_LEN(name, name_len), QUOTE_LEN(e->name, e->name_len));
		return WFS_EINVALID;
	}
	uint64_t want;
	if (__builtin_mul_overflow(s->numel, (uint64_t)wfs_dtype_block_bytes(s->dtype), &want) || want != e->usize) {
		wfs_error_add(f->err, "%s: %s: tensor %s: storage %s of %llu x %s does not fill its %llu-byte zip entry",
			      f->label, f->what, QUOTE_LEN(name, name_len), QUOTE_LEN(s->key, s->key_len),
			      (unsigned long long)s->numel, wfs_dtype_name(s->dtype), (unsigned long long)e->usize);
		return WFS_EINVALID;
	}
	*base = e->data_offset;
	*bytes = e->usize;
	return 0;
}

/* Reads and runs the pickle in entry @p rel; 0 with @p p set, 1 when there is no such entry, or an error. */
static int zip_pickle(struct wfs_pt_file *f, struct zip_state *z, const char *rel, struct wfs_pickle *p,
		      uint8_t **bytes)
{
	const struct wfs_zip_entry *e = wfs_zip_find(&z->zip, rel, strlen(rel));
	if (e == NULL)
		return 1;
	size_t len;
	int rc = wfs_zip_read(&z->zip, e, WFS_PK_MAX_LEN, wfs_pt_pread, f, f->label, bytes, &len, f->err);
	if (rc < 0)
		return wfs_pt_read_error(f, rc);
	return wfs_pickle_run(p, *bytes, len, f->label, rel, f->err);
}

/* byteorder (torch >= 2.1): "little", or refused. */
static int check_byteorder(struct wfs_pt_file *f, struct zip_state *z)
{
	const struct wfs_zip_entry *e = wfs_zip_find(&z->zip, "byteorder", 9);
	if (e == NULL)
		return 0;
	uint8_t *text = NULL;
	size_t len = 0;
	int rc = wfs_zip_read(&z->zip, e, 64, wfs_pt_pread, f, f->label, &text, &len, f->err);
	if (rc < 0)
		return wfs_pt_read_error(f, rc);
	while (len && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	if (!(len == 6 && memcmp(text, "little", 6) == 0)) {
		wfs_error_add(f->err, "%s: byteorder is %s: only little-endian checkpoints are read", f->label,
			      QUOTE_LEN((const char *)text, len));
		rc = WFS_EINVALID;
	}
	free(text);
	return rc;
}

static int open_zip(struct wfs_pt_file *f)
{
	struct zip_state z = {.dir = "data/"};
	f->impl = &z;
	f->find_storage = zip_storage;
	int rc = wfs_zip_open(&z.zip, f->b->m->shards[f->shard].size, wfs_pt_pread, f, f->label, f->err);
	if (rc < 0)
		return wfs_pt_read_error(f, rc);
	if ((rc = check_byteorder(f, &z)) < 0)
		goto out;
	struct wfs_pickle p = {0};
	uint8_t *bytes = NULL;
	f->what = "data.pkl";
	rc = zip_pickle(f, &z, "data.pkl", &p, &bytes);
	if (rc == 1) {
		wfs_error_add(f->err, "%s: zip archive has no data.pkl (not a PyTorch checkpoint)", f->label);
		rc = WFS_EINVALID;
	}
	bool script = wfs_zip_find(&z.zip, "constants.pkl", 13) != NULL;
	if (rc == 0)
		rc = wfs_pt_add_pickle(f, &p, p.top, false, NULL, false);
	wfs_pickle_free(&p);
	free(bytes);
	bytes = NULL;
	if (rc == 0 && script && !(f->b->opts && f->b->opts->root)) {
		/* TorchScript constants: a tuple; tensors in it are CONSTANTS.cN as the code names them. */
		f->what = "constants.pkl";
		z.dir = "constants/";
		rc = zip_pickle(f, &z, "constants.pkl", &p, &bytes);
		if (rc == 0 && p.v[p.top].kind == WFS_PK_TUPLE) {
			const struct wfs_pk_value *t = &p.v[p.top];
			for (uint32_t i = 0; i < t->u.c.n && rc == 0; i++) {
				char prefix[32];
				snprintf(prefix, sizeof(prefix), "CONSTANTS.c%u", i);
				rc = wfs_pt_add_pickle(f, &p, t->u.c.items[i], true, prefix, true);
			}
		}
		wfs_pickle_free(&p);
		free(bytes);
	}
	if (rc == 0)
		rc = wfs_pt_set_archive(f, script ? "torchscript" : "zip");
out:
	wfs_zip_free(&z.zip);
	return rc;
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
		rc = open_zip(f);
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
