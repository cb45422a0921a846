/**
 * @file onnx.c
 * The ONNX format: a `.onnx` file (ModelProto) whose graph initializers
 * are the tensors (onnx/ reads the protobuf; this file turns what it finds
 * into tensors, extents and metadata).
 *
 * - raw_data, float_data and double_data: zero-copy ranges of the .onnx file.
 * - int32_data, int64_data, uint64_data (varints): decoded into the model's
 *   blob at open (MEMORY extents), at most WFS_BLOB_MAX bytes per model.
 * - external data: a range of the file named by `location` (relative to the
 *   .onnx file's folder, checked like a shard path), opened as a shard, so
 *   it is not listed among the model directory's ordinary files.
 * - sparse_initializer: its values and indices tensors, as NAME.values and
 *   NAME.indices, with the dense shape in user.onnx.sparse_dims.
 * - STRING initializers are listed in one warning and not shown.
 * - xattrs: user.onnx.stored_in per tensor (and user.onnx.graph, the
 *   NODE.ATTRIBUTE holding it, for a subgraph's); user.metadata.KEY for
 *   metadata_props; user.onnx.ir_version, producer_name, producer_version,
 *   domain, model_version, opset ("ai.onnx:13,ai.onnx.ml:3").
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "onnx/onnx.h"

#define QUOTE_LEN(s, len) wfs_quote((const char *)(s), (len), (char[WFS_QUOTE_MAX]){0})

/** The largest .onnx file read: protobuf's own 2 GiB limit on a message. */
#define ONNX_MAX_FILE (2ull << 30)

struct onnx_open {
	struct wfs_build *b;
	uint32_t shard;
	const char *label;
	size_t dir_len;          /* the .onnx file's folder, with its '/', is label[0, dir_len) */
	struct wfs_error *err;
	char *opset;             /* "ai.onnx:13,..." */
	size_t opset_len;
	char strings[512];       /* STRING initializers' names, for the warning */
	size_t strings_len;
	unsigned nstrings;
};

static int fail(struct onnx_open *o, const char *name, size_t len, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

/* "LABEL: initializer NAME: message". */
static int fail(struct onnx_open *o, const char *name, size_t len, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	wfs_error_add(o->err, "%s: initializer %s: %s", o->label, QUOTE_LEN(name, len), msg);
	return WFS_EINVALID;
}

static void note_string(struct onnx_open *o, const uint8_t *name, size_t len)
{
	o->nstrings++;
	size_t room = sizeof(o->strings) - o->strings_len;
	int n = snprintf(o->strings + o->strings_len, room, "%s%s", o->strings_len ? ", " : "", QUOTE_LEN(name, len));
	if (n > 0 && (size_t)n < room)
		o->strings_len += (size_t)n;
}

/* The shard holding external data: LOCATION relative to the .onnx file's folder. */
static int external_shard(struct onnx_open *o, const struct wfs_onnx_tensor *t, const char *name, size_t name_len,
			  uint32_t *out)
{
	if (memchr(t->location, '\0', t->location_len) || t->location[0] == '/')
		return fail(o, name, name_len, "external_data location %s is not a relative path inside the model directory",
			    QUOTE_LEN(t->location, t->location_len));
	size_t len = o->dir_len + t->location_len;
	char *path = malloc(len + 1);
	if (path == NULL)
		return -ENOMEM;
	memcpy(path, o->label, o->dir_len);
	memcpy(path + o->dir_len, t->location, t->location_len);
	path[len] = '\0';
	struct wfs_error why = {0};
	int rc = wfs_build_add_shard(o->b, path, len, out, &why);
	free(path);
	if (rc < 0 && rc != -ENOMEM)
		fail(o, name, name_len, "external_data location %s: %s", QUOTE_LEN(t->location, t->location_len),
		     why.text ? why.text : strerror(-rc));
	wfs_error_clear(&why);
	return rc < 0 && rc != -ENOMEM ? WFS_EINVALID : rc;
}

static int on_tensor(void *ctx, const struct wfs_onnx_tensor *t, struct wfs_error *err)
{
	(void)err;
	struct onnx_open *o = ctx;
	struct wfs_build *b = o->b;
	/* The name shown: the initializer's, or SPARSE.values / SPARSE.indices. */
	char stack_name[256];
	char *name = stack_name;
	size_t name_len = t->name_len;
	const uint8_t *src = t->name;
	if (t->sparse_part) {
		src = t->sparse_name;
		name_len = t->sparse_name_len + 1 + strlen(t->sparse_part);
	}
	if (name_len >= sizeof(stack_name) && (name = malloc(name_len + 1)) == NULL)
		return -ENOMEM;
	if (t->sparse_part) {
		memcpy(name, src, t->sparse_name_len);
		name[t->sparse_name_len] = '.';
		memcpy(name + t->sparse_name_len + 1, t->sparse_part, strlen(t->sparse_part));
	} else {
		memcpy(name, src, name_len);
	}
	name[name_len] = '\0';

	int rc = 0;
	enum wfs_dtype dt;
	if (wfs_onnx_dtype(t->data_type, &dt) < 0) {
		if (t->data_type == WFS_ONNX_STRING)
			note_string(o, (const uint8_t *)name, name_len);
		else
			rc = fail(o, name, name_len, "data_type %d (%s) is not supported", (int)t->data_type,
				  wfs_onnx_type_name(t->data_type) ? wfs_onnx_type_name(t->data_type) : "unknown");
		goto out;
	}
	uint64_t numel = 1, nbytes = 0;
	bool overflow = false;
	for (uint32_t i = 0; i < t->ndim; i++)
		overflow |= __builtin_mul_overflow(numel, t->dims[i], &numel);
	int nr = overflow ? -EOVERFLOW : wfs_dtype_nbytes(dt, numel, &nbytes);
	if (nr < 0) {
		rc = fail(o, name, name_len, "%s", nr == -EINVAL ? "its element count is not a whole number of bytes of its type"
								  : "its size overflows 64 bits");
		goto out;
	}
	char msg[256];
	const char *bad = wfs_onnx_check_data(t, dt, numel, nbytes, msg, sizeof(msg));
	if (bad) {
		rc = fail(o, name, name_len, "%s", bad);
		goto out;
	}

	struct wfs_tensor_spec spec = {
		.name = name, .name_len = name_len, .dtype = dt, .ndim = t->ndim, .shape = t->dims,
		.shard = o->shard, .extent = WFS_EXTENT_RANGE,
	};
	const char *stored = "none";
	if (wfs_onnx_zero_copy(t)) {
		spec.offset = wfs_cur_offset(&t->data);
		stored = t->field == WFS_ONNX_F_RAW_DATA ? "raw_data" : t->field == WFS_ONNX_F_FLOAT_DATA ? "float_data" : "double_data";
	} else if (t->field == WFS_ONNX_F_EXTERNAL) {
		if ((rc = external_shard(o, t, name, name_len, &spec.shard)) != 0)
			goto out;
		spec.offset = t->ext_offset;
		stored = "external";
	} else if (t->field != WFS_ONNX_F_NONE) {
		uint8_t *p;
		int br = nbytes > SIZE_MAX ? -EFBIG : wfs_build_blob(b, (size_t)nbytes, &spec.offset, &p);
		if (br == -EFBIG) {
			rc = fail(o, name, name_len, "decoding its %s would take the model's decoded data past %llu bytes (WFS_BLOB_MAX)",
				  t->field == WFS_ONNX_F_INT64_DATA ? "int64_data" : t->field == WFS_ONNX_F_UINT64_DATA ? "uint64_data" : "int32_data",
				  (unsigned long long)WFS_BLOB_MAX);
			goto out;
		}
		if (br < 0) {
			rc = br;
			goto out;
		}
		if ((bad = wfs_onnx_decode(t, dt, p, nbytes, msg, sizeof(msg))) != NULL) {
			rc = fail(o, name, name_len, "%s", bad);
			goto out;
		}
		spec.extent = WFS_EXTENT_MEMORY;
		stored = t->field == WFS_ONNX_F_INT64_DATA ? "int64_data" : t->field == WFS_ONNX_F_UINT64_DATA ? "uint64_data" : "int32_data";
	}

	/* xattrs: "user.onnx.stored_in\0FIELD\0" and, for sparse parts, the dense shape. */
	char attrs[64 + 2 + WFS_ONNX_MAX_DIMS * 21 + 32 + 300];
	size_t al = (size_t)snprintf(attrs, sizeof(attrs), "user.onnx.stored_in%c%s%c", 0, stored, 0);
	if (t->sparse_part) {
		al += (size_t)snprintf(attrs + al, sizeof(attrs) - al, "user.onnx.sparse_dims%c[", 0);
		for (uint32_t i = 0; i < t->sparse_ndim; i++)
			al += (size_t)snprintf(attrs + al, sizeof(attrs) - al, "%s%" PRIu64, i ? "," : "", t->sparse_dims[i]);
		al += (size_t)snprintf(attrs + al, sizeof(attrs) - al, "]%c", 0);
	}
	if (t->graph)
		al += (size_t)snprintf(attrs + al, sizeof(attrs) - al, "user.onnx.graph%c%s%c", 0, t->graph, 0);
	spec.attrs = attrs;
	spec.attrs_len = al;
	rc = wfs_build_add_tensor(b, o->label, &spec, o->err);
out:
	if (name != stack_name)
		free(name);
	return rc;
}

static int on_field(void *ctx, const char *key, const char *value, size_t len)
{
	struct onnx_open *o = ctx;
	char k[64];
	int n = snprintf(k, sizeof(k), "onnx.%s", key);
	return wfs_build_add_kv(o->b, WFS_KV_FORMAT, k, (size_t)n, value, len, false);
}

static int on_metadata(void *ctx, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen)
{
	struct onnx_open *o = ctx;
	return wfs_build_add_kv(o->b, WFS_KV_METADATA, (const char *)key, klen, (const char *)value, vlen, false);
}

static int on_opset(void *ctx, const uint8_t *domain, size_t dlen, int64_t version)
{
	struct onnx_open *o = ctx;
	if (dlen == 0) {
		domain = (const uint8_t *)"ai.onnx";
		dlen = 7;
	}
	size_t need = o->opset_len + 1 + dlen + 1 + 21 + 1;
	char *p = realloc(o->opset, need);
	if (p == NULL)
		return -ENOMEM;
	o->opset = p;
	if (o->opset_len)
		p[o->opset_len++] = ',';
	memcpy(p + o->opset_len, domain, dlen);
	o->opset_len += dlen;
	o->opset_len += (size_t)snprintf(p + o->opset_len, need - o->opset_len, ":%lld", (long long)version);
	return 0;
}

/* No magic: a ModelProto's first fields, as protobuf writers order them (ir_version first). */
static int onnx_probe(const uint8_t *head, size_t len, const char *name)
{
	size_t k = strlen(name);
	bool named = k > 5 && strcmp(name + k - 5, ".onnx") == 0;
	struct wfs_cursor c = wfs_cursor_make(head, len);
	struct wfs_pb_field f;
	const char *why;
	bool content = len >= 2 && head[0] == 0x08; /* field 1 (ir_version), varint */
	int fields = 0;
	while (content && fields < 8) {
		int more = wfs_pb_next(&c, &f, &why);
		if (more <= 0)
			break; /* the end of what we were shown, or a field running past it */
		fields++;
		bool known = (f.number >= 1 && f.number <= 8) || f.number == 14 || f.number == 20 || f.number == 25;
		bool varint = f.number == 1 || f.number == 5;
		if (!known || (varint ? f.wire != WFS_PB_VARINT : f.wire != WFS_PB_LEN))
			content = false;
		if (f.number == 1 && (f.value == 0 || f.value > 100))
			content = false;
	}
	if (content && named)
		return 90;
	if (content)
		return 30;
	return named ? 10 : 0; /* a broken .onnx file is still ours to explain */
}

static int onnx_open(struct wfs_build *b, uint32_t shard, struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	const struct wfs_shard *s = &m->shards[shard];
	char label[PATH_MAX]; /* the arena moves while tensors are added */
	snprintf(label, sizeof(label), "%s", wfs_model_str(m, s->name));
	if (s->size > ONNX_MAX_FILE) {
		wfs_error_add(err, "%s: %" PRIu64 " bytes: larger than protobuf's 2 GiB limit (weights this large go in external data)",
			      label, s->size);
		return WFS_EINVALID;
	}
	uint8_t *buf = NULL;
	int rc = wfs_build_read(b, shard, 0, (size_t)s->size, &buf);
	if (rc < 0) {
		if (rc != -ENOMEM)
			wfs_error_add(err, "%s: %s", label, strerror(-rc));
		return rc;
	}
	const char *slash = strrchr(label, '/');
	struct onnx_open o = {
		.b = b, .shard = shard, .label = label, .err = err,
		.dir_len = slash ? (size_t)(slash - label) + 1 : 0,
	};
	struct wfs_onnx_sink sink = {on_tensor, on_field, on_metadata, on_opset, &o};
	rc = wfs_onnx_read_model(buf, (size_t)s->size, label, &sink, err);
	free(buf);
	if (rc == 0 && o.opset_len)
		rc = wfs_build_add_kv(b, WFS_KV_FORMAT, "onnx.opset", 10, o.opset, o.opset_len, false);
	free(o.opset);
	if (rc == 0 && o.nstrings)
		wfs_warnf(b->warn, "%s: %u STRING initializer%s not shown: %s", label, o.nstrings,
			  o.nstrings == 1 ? "" : "s", o.strings);
	return rc;
}

static const char *const onnx_extensions[] = {".onnx", NULL};

const struct wfs_format wfs_format_onnx = {
	.name = "onnx",
	.probe = onnx_probe,
	.open = onnx_open,
	.extensions = onnx_extensions,
	.preferred = "model.onnx",
};
