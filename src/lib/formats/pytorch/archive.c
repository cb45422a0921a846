/**
 * @file archive.c
 * The zip archives of torch.save (torch >= 1.6) and torch.jit.save.
 *
 * Layout (torch/serialization.py _save, caffe2's PyTorchStreamWriter):
 * under one top-level folder, data.pkl (the pickled object), data/KEY
 * (each storage's bytes, stored, never compressed), version, and from
 * torch 2.1 byteorder ("little" or "big"). A TorchScript archive adds
 * code/ (deflated sources), constants.pkl (whose tensors' storages are
 * constants/KEY) and builds its module with NEWOBJ + BUILD in data.pkl.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pytorch.h"
#include "zip.h"

#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

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

int wfs_pt_open_zip(struct wfs_pt_file *f)
{
	struct zip_state z = {.dir = "data/"};
	f->impl = &z;
	f->find_storage = zip_storage;
	int rc = wfs_zip_open(&z.zip, f->b->m->shards[f->shard].size, wfs_pt_pread, wfs_pt_willneed, f, f->label,
			      f->err);
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

