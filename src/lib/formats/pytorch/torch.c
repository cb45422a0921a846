/**
 * @file torch.c
 * Recognises tensors in a PyTorch pickle (see torch.h).
 */
#include "torch.h"

#include <stdio.h>
#include <string.h>

#include "../../internal.h"

#define QUOTE(name) wfs_quote((name), strlen(name), (char[WFS_QUOTE_MAX]){0})

/* torch/storage.py: the typed storage classes (_storage_classes); quantized ones map to no dtype. */
static const struct {
	const char *name;
	int dtype; /* -1: quantized */
} STORAGE_CLASSES[] = {
	{"DoubleStorage", WFS_DT_F64}, {"FloatStorage", WFS_DT_F32}, {"HalfStorage", WFS_DT_F16},
	{"BFloat16Storage", WFS_DT_BF16}, {"LongStorage", WFS_DT_I64}, {"IntStorage", WFS_DT_I32},
	{"ShortStorage", WFS_DT_I16}, {"CharStorage", WFS_DT_I8}, {"ByteStorage", WFS_DT_U8},
	{"BoolStorage", WFS_DT_BOOL}, {"ComplexFloatStorage", WFS_DT_C64}, {"ComplexDoubleStorage", WFS_DT_C128},
	{"UntypedStorage", WFS_DT_U8}, {"QInt8Storage", -1}, {"QUInt8Storage", -1}, {"QInt32Storage", -1},
	{"QUInt4x2Storage", -1}, {"QUInt2x4Storage", -1},
};

/* torch's dtype attribute names (torch.float32 and its aliases). */
static const struct {
	const char *name;
	int dtype;
} DTYPES[] = {
	{"float64", WFS_DT_F64}, {"double", WFS_DT_F64}, {"float32", WFS_DT_F32}, {"float", WFS_DT_F32},
	{"float16", WFS_DT_F16}, {"half", WFS_DT_F16}, {"bfloat16", WFS_DT_BF16}, {"int64", WFS_DT_I64},
	{"long", WFS_DT_I64}, {"int32", WFS_DT_I32}, {"int", WFS_DT_I32}, {"int16", WFS_DT_I16},
	{"short", WFS_DT_I16}, {"int8", WFS_DT_I8}, {"uint8", WFS_DT_U8}, {"bool", WFS_DT_BOOL},
	{"complex64", WFS_DT_C64}, {"cfloat", WFS_DT_C64}, {"complex128", WFS_DT_C128}, {"cdouble", WFS_DT_C128},
	{"float8_e4m3fn", WFS_DT_F8_E4M3}, {"float8_e5m2", WFS_DT_F8_E5M2},
	{"float8_e4m3fnuz", WFS_DT_F8_E4M3FNUZ}, {"float8_e5m2fnuz", WFS_DT_F8_E5M2FNUZ},
	{"float8_e8m0fnu", WFS_DT_F8_E8M0}, {"uint16", WFS_DT_U16}, {"uint32", WFS_DT_U32},
	{"uint64", WFS_DT_U64}, {"qint8", -1}, {"quint8", -1}, {"qint32", -1}, {"quint4x2", -1}, {"quint2x4", -1},
};

static bool same(const char *a, size_t alen, const char *b)
{
	return strlen(b) == alen && memcmp(a, b, alen) == 0;
}

int wfs_pt_storage_dtype(const char *name, size_t len, enum wfs_dtype *out)
{
	for (size_t i = 0; i < sizeof(STORAGE_CLASSES) / sizeof(STORAGE_CLASSES[0]); i++) {
		if (same(name, len, STORAGE_CLASSES[i].name)) {
			if (STORAGE_CLASSES[i].dtype < 0)
				return -ENOTSUP;
			*out = (enum wfs_dtype)STORAGE_CLASSES[i].dtype;
			return 0;
		}
	}
	return -ENOENT;
}

int wfs_pt_dtype_named(const char *name, size_t len, enum wfs_dtype *out)
{
	for (size_t i = 0; i < sizeof(DTYPES) / sizeof(DTYPES[0]); i++) {
		if (same(name, len, DTYPES[i].name)) {
			if (DTYPES[i].dtype < 0)
				return -ENOTSUP;
			*out = (enum wfs_dtype)DTYPES[i].dtype;
			return 0;
		}
	}
	return -ENOENT;
}

struct ctx {
	const struct wfs_pickle *p;
	const char *label, *what, *name;
	struct wfs_error *err;
};

#define BAD(c, ...)                                                                           \
	do {                                                                                  \
		char msg_[256];                                                               \
		snprintf(msg_, sizeof(msg_), __VA_ARGS__);                                    \
		wfs_error_add((c)->err, "%s: %s: tensor %s: %s", (c)->label, (c)->what, QUOTE((c)->name), msg_); \
		return WFS_EINVALID;                                                          \
	} while (0)

/* Item @p i of tuple @p id, or WFS_PK_NO_VALUE. */
static uint32_t item(const struct wfs_pickle *p, uint32_t id, uint32_t i)
{
	if (id == WFS_PK_NO_VALUE)
		return WFS_PK_NO_VALUE;
	const struct wfs_pk_value *v = &p->v[id];
	if ((v->kind != WFS_PK_TUPLE && v->kind != WFS_PK_LIST) || i >= v->u.c.n)
		return WFS_PK_NO_VALUE;
	return v->u.c.items[i];
}

static uint32_t count(const struct wfs_pickle *p, uint32_t id)
{
	if (id == WFS_PK_NO_VALUE)
		return 0;
	const struct wfs_pk_value *v = &p->v[id];
	return v->kind == WFS_PK_TUPLE || v->kind == WFS_PK_LIST ? v->u.c.n : 0;
}

static bool is_kind(const struct wfs_pickle *p, uint32_t id, enum wfs_pk_kind k)
{
	return id != WFS_PK_NO_VALUE && p->v[id].kind == k;
}

/* The persistent id ('storage', torch.XStorage, key, location, numel[, view_metadata]). */
static int parse_storage(const struct ctx *c, uint32_t persid, struct wfs_pt_storage *s)
{
	const struct wfs_pickle *p = c->p;
	if (!is_kind(p, persid, WFS_PK_PERSID))
		BAD(c, "its storage is not a persistent id");
	uint32_t pid = p->v[persid].u.call.args;
	uint32_t n = count(p, pid);
	if (!is_kind(p, pid, WFS_PK_TUPLE) || n < 5 || n > 6 || !wfs_pk_is_str(p, item(p, pid, 0), "storage"))
		BAD(c, "its persistent id is not ('storage', class, key, location, numel)");
	uint32_t cls = item(p, pid, 1), key = item(p, pid, 2), numel = item(p, pid, 4);
	if (!is_kind(p, cls, WFS_PK_GLOBAL))
		BAD(c, "its storage class is not a GLOBAL");
	const struct wfs_pk_value *g = &p->v[cls];
	const char *mod = (const char *)p->data + g->u.g.mod_off, *cname = (const char *)p->data + g->u.g.name_off;
	int rc = -ENOENT;
	if (same(mod, g->u.g.mod_len, "torch") || same(mod, g->u.g.mod_len, "torch.storage") ||
	    same(mod, g->u.g.mod_len, "torch.cuda"))
		rc = wfs_pt_storage_dtype(cname, g->u.g.name_len, &s->dtype);
	if (rc == -ENOTSUP)
		BAD(c, "quantized storage %.*s is not supported", (int)g->u.g.name_len, cname);
	if (rc < 0)
		BAD(c, "unknown storage class %.*s.%.*s", (int)g->u.g.mod_len, mod, (int)g->u.g.name_len, cname);
	if (!is_kind(p, key, WFS_PK_STR))
		BAD(c, "its storage key is not a string");
	if (!is_kind(p, numel, WFS_PK_INT) || p->v[numel].u.i < 0)
		BAD(c, "its storage size is not a non-negative integer");
	if (n == 6 && !is_kind(p, item(p, pid, 5), WFS_PK_NONE))
		BAD(c, "storage views (view_metadata of the legacy format) are not supported");
	s->key = (const char *)p->data + p->v[key].u.s.off;
	s->key_len = p->v[key].u.s.len;
	s->numel = (uint64_t)p->v[numel].u.i;
	return 0;
}

/* A tuple of non-negative integers into @p out; sets *n. */
static int parse_ints(const struct ctx *c, uint32_t id, const char *what, uint64_t *out, uint32_t *n)
{
	const struct wfs_pickle *p = c->p;
	if (!is_kind(p, id, WFS_PK_TUPLE) && !is_kind(p, id, WFS_PK_LIST))
		BAD(c, "its %s is not a tuple", what);
	*n = count(p, id);
	if (*n > WFS_PT_MAX_NDIM)
		BAD(c, "%u dimensions, more than %d", *n, WFS_PT_MAX_NDIM);
	for (uint32_t i = 0; i < *n; i++) {
		uint32_t v = item(p, id, i);
		if (!is_kind(p, v, WFS_PK_INT))
			BAD(c, "its %s holds something that is not an integer", what);
		if (p->v[v].u.i < 0)
			BAD(c, "its %s holds the negative value %lld", what, (long long)p->v[v].u.i);
		out[i] = (uint64_t)p->v[v].u.i;
	}
	return 0;
}

/* _rebuild_tensor_v2 / _v3 arguments. */
static int parse_rebuild(const struct ctx *c, uint32_t args, bool v3, struct wfs_pt_tensor *t)
{
	const struct wfs_pickle *p = c->p;
	if (count(p, args) < (v3 ? 7u : 6u) || !is_kind(p, args, WFS_PK_TUPLE))
		BAD(c, "_rebuild_tensor_%s has %u arguments, fewer than %u", v3 ? "v3" : "v2", count(p, args),
		    v3 ? 7u : 6u);
	int rc = parse_storage(c, item(p, args, 0), &t->storage);
	if (rc < 0)
		return rc;
	uint32_t off = item(p, args, 1);
	if (!is_kind(p, off, WFS_PK_INT) || p->v[off].u.i < 0)
		BAD(c, "its storage offset is not a non-negative integer");
	t->storage_offset = (uint64_t)p->v[off].u.i;
	uint32_t nstride;
	if ((rc = parse_ints(c, item(p, args, 2), "size", t->shape, &t->ndim)) < 0 ||
	    (rc = parse_ints(c, item(p, args, 3), "stride", t->stride, &nstride)) < 0)
		return rc;
	if (nstride != t->ndim)
		BAD(c, "%u sizes but %u strides", t->ndim, nstride);
	t->dtype = t->storage.dtype;
	if (v3) {
		uint32_t dt = item(p, args, 6);
		if (!is_kind(p, dt, WFS_PK_GLOBAL) || !same((const char *)p->data + p->v[dt].u.g.mod_off,
							    p->v[dt].u.g.mod_len, "torch"))
			BAD(c, "its dtype is not torch.<dtype>");
		const struct wfs_pk_value *g = &p->v[dt];
		const char *name = (const char *)p->data + g->u.g.name_off;
		rc = wfs_pt_dtype_named(name, g->u.g.name_len, &t->dtype);
		if (rc == -ENOTSUP)
			BAD(c, "quantized dtype torch.%.*s is not supported", (int)g->u.g.name_len, name);
		if (rc < 0)
			BAD(c, "unknown dtype torch.%.*s", (int)g->u.g.name_len, name);
	}
	return 1;
}

static int recognise(const struct ctx *c, uint32_t func, uint32_t args, struct wfs_pt_tensor *t, int depth)
{
	const struct wfs_pickle *p = c->p;
	if (depth > 4 || !is_kind(p, func, WFS_PK_GLOBAL))
		return 0;
	if (wfs_pk_is_global(p, func, "torch._utils", "_rebuild_tensor_v2"))
		return parse_rebuild(c, args, false, t);
	if (wfs_pk_is_global(p, func, "torch._utils", "_rebuild_tensor_v3"))
		return parse_rebuild(c, args, true, t);
	if (wfs_pk_is_global(p, func, "torch._utils", "_rebuild_parameter") ||
	    wfs_pk_is_global(p, func, "torch._utils", "_rebuild_parameter_with_state")) {
		uint32_t data = item(p, args, 0);
		int rc = is_kind(p, data, WFS_PK_REDUCE)
				 ? recognise(c, p->v[data].u.call.func, p->v[data].u.call.args, t, depth + 1)
				 : 0;
		if (rc == 0)
			BAD(c, "a parameter whose data is not a tensor");
		return rc;
	}
	if (wfs_pk_is_global(p, func, "torch._tensor", "_rebuild_from_type_v2")) {
		int rc = recognise(c, item(p, args, 0), item(p, args, 2), t, depth + 1);
		if (rc == 0)
			BAD(c, "_rebuild_from_type_v2 of something that is not a tensor");
		return rc;
	}
	const struct wfs_pk_value *g = &p->v[func];
	const char *mod = (const char *)p->data + g->u.g.mod_off, *name = (const char *)p->data + g->u.g.name_off;
	if (same(mod, g->u.g.mod_len, "torch._utils") && g->u.g.name_len > 9 && memcmp(name, "_rebuild_", 9) == 0)
		BAD(c, "tensors rebuilt by torch._utils.%.*s (quantized, sparse, ...) are not supported",
		    (int)g->u.g.name_len, name);
	return 0;
}

int wfs_pt_tensor_from(const struct wfs_pickle *p, uint32_t id, struct wfs_pt_tensor *t, const char *label,
		       const char *what, const char *name, struct wfs_error *err)
{
	const struct ctx c = {p, label, what, name, err};
	if (!is_kind(p, id, WFS_PK_REDUCE))
		return 0;
	return recognise(&c, p->v[id].u.call.func, p->v[id].u.call.args, t, 0);
}
