/**
 * @file build.c
 * What every format appends to a model goes through here, so shapes,
 * sizes, names and byte ranges are checked the same way for all of them.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "../sources/source.h"

#define QUOTE_LEN(name, len) wfs_quote((name), (len), (char[WFS_QUOTE_MAX]){0})

/* Checks a STRIDED tensor's elements against its storage and shard. */
static bool strided_ok(const struct wfs_model *m, const struct wfs_tensor_spec *t, uint64_t numel,
		       const char *label, struct wfs_error *err)
{
	const char *q = QUOTE_LEN(t->name, t->name_len);
	unsigned esize = wfs_dtype_block_bytes(t->dtype);
	if (wfs_dtype_block_elems(t->dtype) != 1 || esize == 0) {
		wfs_error_add(err, "%s: tensor %s: a strided view of %s is not supported", label, q,
			      wfs_dtype_name(t->dtype));
		return false;
	}
	if (t->storage_begin > t->storage_end || t->storage_end > m->shards[t->shard].size) {
		wfs_error_add(err, "%s: tensor %s: storage [%" PRIu64 ", %" PRIu64 ") lies outside the file (%" PRIu64
			      " bytes)", label, q, t->storage_begin, t->storage_end, m->shards[t->shard].size);
		return false;
	}
	if (numel == 0)
		return true;
	/* The last element a view reaches is sum((shape[d] - 1) * stride[d]). */
	uint64_t last = 0, bytes, end;
	bool overflow = false;
	for (uint32_t d = 0; d < t->ndim; d++) {
		uint64_t step;
		overflow |= __builtin_mul_overflow(t->shape[d] - 1, t->strides[d], &step);
		overflow |= __builtin_add_overflow(last, step, &last);
	}
	overflow |= __builtin_add_overflow(last, 1, &last);
	overflow |= __builtin_mul_overflow(last, (uint64_t)esize, &bytes);
	overflow |= __builtin_add_overflow(t->offset, bytes, &end);
	if (overflow || t->offset < t->storage_begin || end > t->storage_end) {
		wfs_error_add(err, "%s: tensor %s: its view (strides and offset) reaches past its storage", label, q);
		return false;
	}
	return true;
}

int wfs_build_add_tensor(struct wfs_build *b, const char *label, const struct wfs_tensor_spec *t,
			 struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	const char *q = NULL;
#define TNAME (q ? q : (q = QUOTE_LEN(t->name, t->name_len)))
	if (t->name_len == 0 || memchr(t->name, '\0', t->name_len) ||
	    wfs_utf8_valid_prefix((const unsigned char *)t->name, t->name_len) != t->name_len) {
		wfs_error_add(err, "%s: tensor %s: the name is %s", label, TNAME,
			      t->name_len == 0 ? "empty" : memchr(t->name, '\0', t->name_len) ? "holding a NUL byte"
											 : "not valid UTF-8");
		return WFS_EINVALID;
	}
	if (t->shard >= m->nshards || (unsigned)t->dtype >= WFS_DT_COUNT) {
		wfs_error_add(err, "%s: tensor %s: no such shard or dtype", label, TNAME);
		return WFS_EINVALID;
	}
	uint64_t numel = 1, nbytes = 0;
	bool overflow = false;
	for (uint32_t i = 0; i < t->ndim; i++)
		overflow |= __builtin_mul_overflow(numel, t->shape[i], &numel);
	int r = overflow ? -EOVERFLOW : wfs_dtype_nbytes(t->dtype, numel, &nbytes);
	if (r < 0) {
		wfs_error_add(err, "%s: tensor %s: %s", label, TNAME,
			      r == -EINVAL ? "its element count is not a whole number of blocks of its type"
					   : "its size overflows 64 bits");
		return WFS_EINVALID;
	}
	uint64_t end;
	switch (t->extent) {
	case WFS_EXTENT_RANGE:
		if (__builtin_add_overflow(t->offset, nbytes, &end) || end > m->shards[t->shard].size) {
			wfs_error_add(err, "%s: tensor %s: bytes [%" PRIu64 ", +%" PRIu64 ") lie past the end of %s (%" PRIu64
				      " bytes)", label, TNAME, t->offset, nbytes,
				      wfs_model_str(m, m->shards[t->shard].name), m->shards[t->shard].size);
			return WFS_EINVALID;
		}
		break;
	case WFS_EXTENT_STRIDED:
		if (!strided_ok(m, t, numel, label, err))
			return WFS_EINVALID;
		break;
	case WFS_EXTENT_MEMORY:
		if (__builtin_add_overflow(t->offset, nbytes, &end) || end > m->blob_len) {
			wfs_error_add(err, "%s: tensor %s: decoded bytes missing", label, TNAME);
			return WFS_EINVALID;
		}
		break;
	default:
		return -EINVAL;
	}
#undef TNAME
	if (m->ntensors >= SIZE_MAX / 2 || WFS_GROW(m->tensors, m->cap.tensors, m->ntensors, 1) < 0 ||
	    WFS_GROW(m->dims, m->cap.dims, m->ndims, t->ndim) < 0)
		return -ENOMEM;
	struct wfs_tensor x = {
		.offset = t->offset,
		.nbytes = nbytes,
		.dims = m->ndims,
		.ndim = t->ndim,
		.shard = t->shard,
		.group = b->group,
		.extent = (uint8_t)t->extent,
		.dtype = t->dtype,
	};
	if (t->ndim)
		memcpy(m->dims + m->ndims, t->shape, t->ndim * sizeof(*t->shape));
	if (t->extent == WFS_EXTENT_STRIDED) {
		if (WFS_GROW(m->strides, m->cap.strides, m->nstrides, t->ndim) < 0)
			return -ENOMEM;
		x.strides = m->nstrides;
		if (t->ndim)
			memcpy(m->strides + m->nstrides, t->strides, t->ndim * sizeof(*t->strides));
	}
	if (wfs_arena_add(m, t->name, t->name_len, &x.name) < 0 || wfs_arena_shape(m, t->shape, t->ndim, &x.shape_text) < 0 ||
	    (t->attrs_len && wfs_arena_add(m, t->attrs, t->attrs_len, &x.attrs) < 0))
		return -ENOMEM;
	m->ndims += t->ndim;
	if (t->extent == WFS_EXTENT_STRIDED)
		m->nstrides += t->ndim;
	m->tensors[m->ntensors++] = x;
	return 0;
}

int wfs_build_add_kv(struct wfs_build *b, enum wfs_kv_space space, const char *key, size_t key_len,
		     const char *value, size_t value_len, bool json)
{
	struct wfs_model *m = b->m;
	if (WFS_GROW(m->metadata, m->cap.metadata, m->nmetadata, 1) < 0)
		return -ENOMEM;
	struct wfs_kv *kv = &m->metadata[m->nmetadata];
	*kv = (struct wfs_kv){.json = json, .space = (uint8_t)space, .group = b->group};
	if (wfs_arena_add(m, key, key_len, &kv->key) < 0 || wfs_arena_add(m, value, value_len, &kv->value) < 0)
		return -ENOMEM;
	m->nmetadata++;
	return 0;
}

int wfs_build_blob(struct wfs_build *b, size_t len, uint64_t *off, uint8_t **p)
{
	struct wfs_model *m = b->m;
	if (len > WFS_BLOB_MAX || m->blob_len > WFS_BLOB_MAX - len)
		return -EFBIG;
	if (WFS_GROW(m->blob, m->cap.blob, m->blob_len, len) < 0)
		return -ENOMEM;
	*off = m->blob_len;
	*p = m->blob + m->blob_len;
	m->blob_len += len;
	return 0;
}

int wfs_build_add_group(struct wfs_build *b, const char *name, size_t len, const char *format)
{
	struct wfs_model *m = b->m;
	if (m->ngroups >= UINT32_MAX || WFS_GROW(m->groups, m->cap.groups, m->ngroups, 1) < 0)
		return -ENOMEM;
	struct wfs_group *g = &m->groups[m->ngroups];
	g->format = format;
	if (wfs_arena_add(m, name, len, &g->name) < 0)
		return -ENOMEM;
	b->group = (uint32_t)m->ngroups++;
	return 0;
}

int wfs_build_add_shard(struct wfs_build *b, const char *path, size_t len, uint32_t *out,
			struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	char *norm = malloc(len + 1);
	if (norm == NULL)
		return -ENOMEM;
	size_t n = wfs_path_normalize(path, len, norm);
	int rc = 0;
	if (n == 0 || !wfs_shard_path_ok(norm, n)) {
		wfs_error_add(err, "file %s is not a relative path inside the model directory", QUOTE_LEN(path, len));
		rc = WFS_EINVALID;
		goto out;
	}
	for (size_t i = 0; i < m->nshards; i++) {
		if (m->shards[i].name.len == n && memcmp(wfs_model_str(m, m->shards[i].name), norm, n) == 0) {
			*out = (uint32_t)i;
			goto out;
		}
	}
	if ((rc = wfs_model_add_shard(m, norm, n, out)) < 0)
		goto out;
	rc = wfs_model_open_shard(m, *out, "", err);
out:
	free(norm);
	return rc;
}

int wfs_build_read(struct wfs_build *b, uint32_t shard, uint64_t off, size_t len, uint8_t **out)
{
	*out = NULL;
	uint8_t *buf = malloc(len ? len : 1);
	if (buf == NULL)
		return -ENOMEM;
	ssize_t n = wfs_shard_pread(b->m, &b->m->shards[shard], buf, len, off);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	*out = buf;
	return 0;
}

void wfs_build_willneed(struct wfs_build *b, uint32_t shard, uint64_t off, uint64_t len)
{
	const struct wfs_shard *s = &b->m->shards[shard];
	if (s->source && s->source->willneed)
		s->source->willneed(b->m, s, off, len);
}
