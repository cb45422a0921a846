/**
 * @file legacy.c
 * The legacy torch.save stream (torch < 1.6, or
 * _use_new_zipfile_serialization=False), after torch/serialization.py
 * _legacy_save: five pickles one after another (the magic number
 * 0x1950a86a20f9469cfc6c, the protocol version 1001, sys_info with
 * little_endian, the object, the list of storage keys), then for each key
 * in that list's order its storage: an int64 element count (little-endian)
 * followed by count x element size bytes. Persistent ids have a sixth item,
 * view_metadata, which must be None.
 *
 * The pickles are read by range, growing the window until all five parse
 * (up to WFS_PK_MAX_LEN); storages are located with one 8-byte read each.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../cursor.h"
#include "layout.h"
#include "pytorch.h"

#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

enum { MAGIC, PROTOCOL, SYS_INFO, OBJECT, KEYS, NPICKLES };
static const char *const PICKLE_NAMES[NPICKLES] = {"magic number", "protocol version", "sys_info", "object",
						   "storage keys"};

/* A storage of the stream: its key (into the object pickle's bytes) and where its bytes are. */
struct storage {
	const char *key;
	size_t key_len;
	enum wfs_dtype dtype;
	uint64_t numel;
	uint64_t base, bytes;
	bool located;
};

struct legacy {
	struct storage *s;   /* sorted by key */
	size_t n;
};

static int compare_storage(const void *a, const void *b)
{
	const struct storage *x = a, *y = b;
	size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
	int c = memcmp(x->key, y->key, n);
	return c ? c : (x->key_len > y->key_len) - (x->key_len < y->key_len);
}

static struct storage *find(struct legacy *l, const char *key, size_t len)
{
	struct storage k = {.key = key, .key_len = len};
	return l->n ? bsearch(&k, l->s, l->n, sizeof(*l->s), compare_storage) : NULL;
}

static int legacy_storage(struct wfs_pt_file *f, const struct wfs_pt_storage *s, const char *name, size_t name_len,
			  uint64_t *base, uint64_t *bytes)
{
	struct storage *st = find(f->impl, s->key, s->key_len);
	if (st == NULL || !st->located) {
		wfs_error_add(f->err, "%s: %s: tensor %s: storage %s is not in the storage key list", f->label, f->what,
			      QUOTE_LEN(name, name_len), QUOTE_LEN(s->key, s->key_len));
		return WFS_EINVALID;
	}
	*base = st->base;
	*bytes = st->bytes;
	return 0;
}

/* Every storage the object pickle's persistent ids name, with its class and size (one entry per key). */
static int collect_storages(struct wfs_pt_file *f, const struct wfs_pickle *p, struct legacy *l)
{
	size_t cap = 0;
	for (uint32_t i = 0; i < p->nv; i++) {
		if (p->v[i].kind != WFS_PK_PERSID)
			continue;
		/* Reuse the tensor parser on a synthetic view: it checks the persistent id's shape. */
		uint32_t pid = p->v[i].u.call.args;
		const struct wfs_pk_value *t = &p->v[pid];
		if (t->kind != WFS_PK_TUPLE || t->u.c.n < 5)
			continue; /* reported when a tensor uses it */
		const struct wfs_pk_value *key = &p->v[t->u.c.items[2]], *cls = &p->v[t->u.c.items[1]],
					  *numel = &p->v[t->u.c.items[4]];
		enum wfs_dtype dt;
		if (key->kind != WFS_PK_STR || cls->kind != WFS_PK_GLOBAL || numel->kind != WFS_PK_INT || numel->u.i < 0 ||
		    wfs_pt_storage_dtype((const char *)p->data + cls->u.g.name_off, cls->u.g.name_len, &dt) < 0)
			continue;
		if (WFS_GROW(l->s, cap, l->n, 1) < 0)
			return -ENOMEM;
		l->s[l->n++] = (struct storage){(const char *)p->data + key->u.s.off, key->u.s.len, dt,
						(uint64_t)numel->u.i, 0, 0, false};
	}
	if (l->n > 1)
		qsort(l->s, l->n, sizeof(*l->s), compare_storage);
	/* One class and size per key. */
	size_t out = 0;
	for (size_t i = 0; i < l->n; i++) {
		if (out && compare_storage(&l->s[out - 1], &l->s[i]) == 0) {
			if (l->s[out - 1].dtype != l->s[i].dtype || l->s[out - 1].numel != l->s[i].numel) {
				wfs_error_add(f->err, "%s: object: storage %s is named with two classes or sizes", f->label,
					      QUOTE_LEN(l->s[i].key, l->s[i].key_len));
				return WFS_EINVALID;
			}
			continue;
		}
		l->s[out++] = l->s[i];
	}
	l->n = out;
	return 0;
}

/* After the key list at @p pos: each storage's count and bytes, in the list's order. */
static int locate_storages(struct wfs_pt_file *f, const struct wfs_pickle *keys, uint64_t pos, struct legacy *l)
{
	const struct wfs_pk_value *list = &keys->v[keys->top];
	uint64_t size = f->b->m->shards[f->shard].size;
	if (list->kind != WFS_PK_LIST) {
		wfs_error_add(f->err, "%s: storage keys: not a list", f->label);
		return WFS_EINVALID;
	}
	for (uint32_t i = 0; i < list->u.c.n; i++) {
		const struct wfs_pk_value *k = &keys->v[list->u.c.items[i]];
		if (k->kind != WFS_PK_STR) {
			wfs_error_add(f->err, "%s: storage keys: item %u is not a string", f->label, i);
			return WFS_EINVALID;
		}
		const char *key = (const char *)keys->data + k->u.s.off;
		struct storage *st = find(l, key, k->u.s.len);
		if (st == NULL || st->located) {
			wfs_error_add(f->err, "%s: storage keys: %s %s", f->label, QUOTE_LEN(key, k->u.s.len),
				      st ? "is listed twice" : "is used by no tensor (its element size is unknown)");
			return WFS_EINVALID;
		}
		uint8_t count[8];
		uint64_t data, end;
		if (__builtin_add_overflow(pos, 8, &data) || data > size) {
			wfs_error_add(f->err, "%s: storage %s: its element count at offset %llu lies past the end of the file",
				      f->label, QUOTE_LEN(key, k->u.s.len), (unsigned long long)pos);
			return WFS_EINVALID;
		}
		int rc = wfs_pt_pread(f, count, 8, pos);
		if (rc < 0)
			return wfs_pt_read_error(f, rc);
		uint64_t numel = wfs_ld64(count), bytes;
		if (numel != st->numel) {
			wfs_error_add(f->err, "%s: storage %s: the file holds %llu elements, its persistent id says %llu",
				      f->label, QUOTE_LEN(key, k->u.s.len), (unsigned long long)numel,
				      (unsigned long long)st->numel);
			return WFS_EINVALID;
		}
		if (__builtin_mul_overflow(numel, (uint64_t)wfs_dtype_block_bytes(st->dtype), &bytes) ||
		    __builtin_add_overflow(data, bytes, &end) || end > size) {
			wfs_error_add(f->err, "%s: storage %s: %llu elements of %s run past the end of the file", f->label,
				      QUOTE_LEN(key, k->u.s.len), (unsigned long long)numel, wfs_dtype_name(st->dtype));
			return WFS_EINVALID;
		}
		st->base = data;
		st->bytes = bytes;
		st->located = true;
		pos = end;
	}
	if (pos != size && f->b->warn)
		wfs_warnf(f->b->warn, "%s: %llu bytes after the last storage are ignored", f->label,
			  (unsigned long long)(size - pos));
	return 0;
}

/* The header pickles' contents: magic, protocol 1001, little-endian. */
static int check_header(struct wfs_pt_file *f, const struct wfs_pickle *pk)
{
	const struct wfs_pk_value *magic = &pk[MAGIC].v[pk[MAGIC].top];
	if (magic->kind != WFS_PK_LONG || magic->u.s.len != 10 ||
	    memcmp(pk[MAGIC].data + magic->u.s.off, wfs_pt_legacy_magic + 4, 10) != 0) {
		wfs_error_add(f->err, "%s: not a legacy torch.save stream (wrong magic number)", f->label);
		return WFS_EINVALID;
	}
	const struct wfs_pk_value *proto = &pk[PROTOCOL].v[pk[PROTOCOL].top];
	if (proto->kind != WFS_PK_INT || proto->u.i != 1001) {
		wfs_error_add(f->err, "%s: legacy protocol version is not 1001", f->label);
		return WFS_EINVALID;
	}
	const struct wfs_pk_value *sys = &pk[SYS_INFO].v[pk[SYS_INFO].top];
	bool little = false;
	for (uint32_t i = 0; sys->kind == WFS_PK_DICT && i + 1 < sys->u.c.n; i += 2)
		if (wfs_pk_is_str(&pk[SYS_INFO], sys->u.c.items[i], "little_endian")) {
			const struct wfs_pk_value *v = &pk[SYS_INFO].v[sys->u.c.items[i + 1]];
			little = v->kind == WFS_PK_BOOL && v->u.b;
		}
	if (!little) {
		wfs_error_add(f->err, "%s: sys_info does not say little_endian: only little-endian checkpoints are read",
			      f->label);
		return WFS_EINVALID;
	}
	return 0;
}

int wfs_pt_open_legacy(struct wfs_pt_file *f)
{
	uint64_t size = f->b->m->shards[f->shard].size;
	struct wfs_pickle pk[NPICKLES];
	memset(pk, 0, sizeof(pk));
	struct legacy l = {0};
	uint8_t *buf = NULL;
	size_t window = size < (1u << 20) ? (size_t)size : (1u << 20);
	size_t ends[NPICKLES];
	int rc;
	/* Grow the window until the five pickles parse in it. */
	for (;;) {
		free(buf);
		buf = malloc(window ? window : 1);
		if (buf == NULL) {
			rc = -ENOMEM;
			goto out;
		}
		if ((rc = wfs_pt_pread(f, buf, window, 0)) < 0) {
			rc = wfs_pt_read_error(f, rc);
			goto out;
		}
		struct wfs_error tmp = {0};
		size_t at = 0;
		rc = 0;
		bool truncated = false;
		for (int i = 0; i < NPICKLES && rc == 0; i++) {
			wfs_pickle_free(&pk[i]);
			rc = wfs_pickle_run(&pk[i], buf + at, window - at, f->label, PICKLE_NAMES[i], &tmp);
			truncated = pk[i].truncated;
			at += pk[i].end;
			ends[i] = at;
		}
		bool grow = rc == WFS_EINVALID && truncated && window < size && window < WFS_PK_MAX_LEN;
		if (!grow && rc < 0) {
			/* The first problem, as the final window shows it. */
			if (tmp.text)
				wfs_error_add(f->err, "%.*s", (int)(strchr(tmp.text, '\n') ? strchr(tmp.text, '\n') - tmp.text
											 : (ptrdiff_t)tmp.len), tmp.text);
			wfs_error_clear(&tmp);
			goto out;
		}
		wfs_error_clear(&tmp);
		if (!grow)
			break;
		window = size - window < window ? (size_t)size : window * 2;
		if (window > WFS_PK_MAX_LEN)
			window = WFS_PK_MAX_LEN;
	}
	if ((rc = check_header(f, pk)) < 0)
		goto out;
	if ((rc = collect_storages(f, &pk[OBJECT], &l)) < 0)
		goto out;
	if ((rc = locate_storages(f, &pk[KEYS], ends[KEYS], &l)) < 0)
		goto out;
	f->impl = &l;
	f->find_storage = legacy_storage;
	f->what = "object";
	rc = wfs_pt_add_pickle(f, &pk[OBJECT], pk[OBJECT].top, false, NULL, false);
	if (rc == 0)
		rc = wfs_pt_set_archive(f, "legacy");
out:
	for (int i = 0; i < NPICKLES; i++)
		wfs_pickle_free(&pk[i]);
	free(l.s);
	free(buf);
	return rc;
}
