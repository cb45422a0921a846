/**
 * @file fuzz_pickle.c
 * libFuzzer harness: the input is a pickle (a data.pkl).
 *
 * wfs_pickle_run runs it in a buffer of exactly its size: it returns 0
 * with a top value and p->end inside the input, or WFS_EINVALID with one
 * message. Every value it built is well formed (items in range, strings
 * inside the input, depth within the limit). An accepted pickle is then
 * walked as a state dict with a sink that lays every tensor out over a
 * made-up storage of its persistent id's size (the layout's overflow
 * checks) and checks names: non-empty, no duplicates (the walk's own
 * check), and metadata values within their limit.
 */
#include "fuzz_check.h"

#include "formats/pytorch/layout.h"
#include "formats/pytorch/walk.h"

static void check_values(const struct wfs_pickle *p)
{
	for (uint32_t i = 0; i < p->nv; i++) {
		const struct wfs_pk_value *v = &p->v[i];
		FZ_CHECK(v->depth >= 1 && v->depth <= WFS_PK_MAX_DEPTH, "value %u: depth %u", i, v->depth);
		switch (v->kind) {
		case WFS_PK_STR:
		case WFS_PK_BYTES:
		case WFS_PK_LONG:
			FZ_CHECK((size_t)v->u.s.off + v->u.s.len <= p->len, "value %u: string outside the input", i);
			break;
		case WFS_PK_GLOBAL:
			FZ_CHECK((size_t)v->u.g.mod_off + v->u.g.mod_len <= p->len &&
				 (size_t)v->u.g.name_off + v->u.g.name_len <= p->len, "value %u: global outside the input", i);
			break;
		case WFS_PK_TUPLE:
		case WFS_PK_LIST:
		case WFS_PK_DICT:
			FZ_CHECK(v->u.c.n <= v->u.c.cap, "value %u: %u items in %u", i, v->u.c.n, v->u.c.cap);
			for (uint32_t k = 0; k < v->u.c.n; k++)
				FZ_CHECK(v->u.c.items[k] < p->nv, "value %u: item out of range", i);
			FZ_CHECK(v->kind != WFS_PK_DICT || v->u.c.n % 2 == 0, "value %u: odd dict", i);
			break;
		case WFS_PK_REDUCE:
		case WFS_PK_OBJECT:
			FZ_CHECK(v->u.call.func < p->nv && v->u.call.args < p->nv, "value %u: call out of range", i);
			FZ_CHECK(v->u.call.state == WFS_PK_NO_VALUE || v->u.call.state < p->nv, "value %u: state", i);
			break;
		case WFS_PK_PERSID:
			FZ_CHECK(v->u.call.args < p->nv, "value %u: persistent id out of range", i);
			break;
		default:
			FZ_CHECK(v->kind <= WFS_PK_PERSID, "value %u: kind %u", i, v->kind);
		}
	}
}

static int on_tensor(void *ctx, const char *name, size_t len, const struct wfs_pt_tensor *t)
{
	unsigned *n = ctx;
	(*n)++;
	FZ_CHECK(len > 0 && name[len] == '\0', "tensor name not terminated");
	FZ_CHECK(t->ndim <= WFS_PT_MAX_NDIM, "%u dims", t->ndim);
	struct wfs_pt_layout l;
	const char *why;
	uint64_t bytes;
	if (__builtin_mul_overflow(t->storage.numel, (uint64_t)wfs_dtype_block_bytes(t->storage.dtype), &bytes))
		return 0;
	if (wfs_pt_layout(t, 4096, bytes, &l, &why) == 0 && l.nbytes)
		FZ_CHECK(l.offset >= 4096 && (!l.contiguous || l.nbytes <= bytes - (l.offset - 4096)),
			 "tensor %.*s: accepted layout outside its storage", (int)len, name);
	return 0;
}

static int on_kv(void *ctx, const char *name, size_t len, const char *value, size_t vlen, bool json)
{
	(void)ctx;
	(void)json;
	(void)value;
	FZ_CHECK(len > 0 && name[len] == '\0', "metadata name empty or not terminated");
	FZ_CHECK(vlen <= WFS_PT_MAX_KV_VALUE, "metadata value of %zu bytes", vlen);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = fz_malloc(size);
	memcpy(copy, data, size);
	struct wfs_pickle p;
	struct wfs_error err = {0};
	int rc = wfs_pickle_run(&p, copy, size, "fuzz", "data.pkl", &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "unexpected result %d", rc);
	FZ_CHECK(rc == 0 ? err.count == 0 : (err.count == 1 || rc == -ENOMEM), "result %d with %u problems", rc,
		 err.count);
	check_values(&p);
	if (rc == 0) {
		FZ_CHECK(p.top < p.nv && p.end <= size && p.end >= 3, "top %u of %u, end %zu", p.top, p.nv, p.end);
		unsigned n = 0;
		struct wfs_pt_sink sink = {&n, on_tensor, on_kv};
		struct wfs_pt_walk_opts o = {.root = size % 3 == 0 ? "a" : NULL, .script = size % 5 == 0};
		struct wfs_error werr = {0};
		int w = wfs_pt_walk(&p, p.top, &o, &sink, "fuzz", "data.pkl", &werr);
		FZ_CHECK(w == 0 || w == WFS_EINVALID || w == -ENOMEM, "walk: unexpected result %d", w);
		FZ_CHECK(w == 0 ? werr.count == 0 : (werr.count == 1 || w == -ENOMEM), "walk: result %d with %u problems",
			 w, werr.count);
		wfs_error_clear(&werr);
	}
	wfs_pickle_free(&p);
	wfs_error_clear(&err);
	free(copy);
	return 0;
}
