/**
 * @file tfbundle.c
 * The TensorFlow tensor bundle format (checkpoints, SavedModel variables):
 * PREFIX.index, a LevelDB-format table (tf/table.c) whose key "" holds a
 * BundleHeaderProto and every other key a tensor's BundleEntryProto
 * (tf/bundle.c); the bytes are ranges of the data shards
 * PREFIX.data-0000N-of-0000M (N = shard_id, M = num_shards), opened as
 * shards when an entry names them.
 *
 * Names split at '/' (TensorFlow's scope separator). Each tensor carries
 * its masked CRC-32C as user.crc32c (8 hex digits, as stored) for
 * `weightfs-inspect verify`. DT_STRING, DT_RESOURCE and DT_VARIANT entries
 * (TF2's _CHECKPOINTABLE_OBJECT_GRAPH) are listed in one warning and not
 * shown. A partitioned variable (an entry with slices and no data) is shown
 * as its slices, stored under OrderedCode keys (tf/slice_key.c): each one is
 * NAME@SPEC, SPEC being TensorFlow's slice text ("0,10:-"), also in
 * user.tf.slice.
 */
#include <inttypes.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "format.h"
#include "tf/bundle.h"
#include "tf/slice_key.h"
#include "tf/table.h"

#define QUOTE_LEN(s, len) wfs_quote((const char *)(s), (len), (char[WFS_QUOTE_MAX]){0})

/** The largest .index file read (its tables list entries, not data). */
#define TF_MAX_INDEX (1ull << 30)

struct tf_open {
	struct wfs_build *b;
	const char *label;
	size_t prefix_len;      /* label[0, prefix_len) is PREFIX */
	struct wfs_error *err;
	bool have_header;
	struct wfs_tf_header header;
	uint32_t *shards;       /* shard_id -> model shard, UINT32_MAX until opened */
	char skipped[512];      /* names of entries not shown, for the warning */
	size_t skipped_len;
	unsigned nskipped;
	struct { uint8_t *p; size_t len; } *sliced; /* names of partitioned variables seen in slice keys, sorted */
	size_t nsliced, cap_sliced;
};

static int fail(struct tf_open *o, const uint8_t *key, size_t klen, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int fail(struct tf_open *o, const uint8_t *key, size_t klen, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (key)
		wfs_error_add(o->err, "%s: tensor %s: %s", o->label, QUOTE_LEN(key, klen), msg);
	else
		wfs_error_add(o->err, "%s: %s", o->label, msg);
	return WFS_EINVALID;
}

static void note_skipped(struct tf_open *o, const uint8_t *key, size_t klen, const char *why)
{
	o->nskipped++;
	size_t room = sizeof(o->skipped) - o->skipped_len;
	int n = snprintf(o->skipped + o->skipped_len, room, "%s%s (%s)", o->skipped_len ? ", " : "",
			 QUOTE_LEN(key, klen), why);
	if (n > 0 && (size_t)n < room)
		o->skipped_len += (size_t)n;
}

static int data_shard(struct tf_open *o, int64_t id, uint32_t *out)
{
	if (o->shards[id] != UINT32_MAX) {
		*out = o->shards[id];
		return 0;
	}
	char path[PATH_MAX];
	int n = snprintf(path, sizeof(path), "%.*s.data-%05" PRId64 "-of-%05" PRId64, (int)o->prefix_len, o->label, id,
			 o->header.num_shards);
	if (n < 0 || (size_t)n >= sizeof(path))
		return fail(o, NULL, 0, "the data shard's name is too long");
	struct wfs_error why = {0};
	int rc = wfs_build_add_shard(o->b, path, (size_t)n, out, &why);
	if (rc == 0)
		o->shards[id] = *out;
	else if (rc != -ENOMEM)
		rc = fail(o, NULL, 0, "data shard %s: %s", QUOTE_LEN(path, (size_t)n), why.text ? why.text : strerror(-rc));
	wfs_error_clear(&why);
	return rc;
}

static int compare_names(const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
	size_t n = alen < blen ? alen : blen;
	int c = n ? memcmp(a, b, n) : 0;
	return c ? c : (alen > blen) - (alen < blen);
}

/* Remembers a partitioned variable's name (slice keys come sorted by it). */
static int note_sliced(struct tf_open *o, uint8_t *name, size_t len)
{
	if (o->nsliced && compare_names(o->sliced[o->nsliced - 1].p, o->sliced[o->nsliced - 1].len, name, len) == 0) {
		free(name);
		return 0;
	}
	if (WFS_GROW(o->sliced, o->cap_sliced, o->nsliced, 1) < 0) {
		free(name);
		return -ENOMEM;
	}
	o->sliced[o->nsliced].p = name;
	o->sliced[o->nsliced++].len = len;
	return 0;
}

static bool was_sliced(const struct tf_open *o, const uint8_t *name, size_t len)
{
	size_t lo = 0, hi = o->nsliced;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = compare_names(o->sliced[mid].p, o->sliced[mid].len, name, len);
		if (c == 0)
			return true;
		if (c < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return false;
}

/* One tensor: entry @p e shown as @p name (the key, or NAME@SPEC of a slice), with @p slice its spec or NULL. */
static int add_entry(struct tf_open *o, const uint8_t *name, size_t nlen, const struct wfs_tf_entry *e,
		     const char *slice)
{
	enum wfs_dtype dt;
	int k = wfs_tf_dtype(e->dtype, &dt);
	const char *tfname = wfs_tf_dtype_name(e->dtype);
	if (k == 1) {
		note_skipped(o, name, nlen, tfname);
		return 0;
	}
	if (k < 0)
		return fail(o, name, nlen, "dtype %" PRId64 " (%s) is not supported", e->dtype, tfname ? tfname : "unknown");
	uint64_t numel = 1, nbytes = 0;
	bool overflow = false;
	for (uint32_t i = 0; i < e->ndim; i++)
		overflow |= __builtin_mul_overflow(numel, e->dims[i], &numel);
	int nr = overflow ? -EOVERFLOW : wfs_dtype_nbytes(dt, numel, &nbytes);
	if (nr < 0)
		return fail(o, name, nlen, "its size overflows 64 bits");
	if (e->size != nbytes)
		return fail(o, name, nlen, "size %" PRIu64 ", but %s of its shape takes %" PRIu64 " bytes", e->size, tfname,
			    nbytes);
	if (e->shard_id < 0 || e->shard_id >= o->header.num_shards)
		return fail(o, name, nlen, "shard_id %" PRId64 " is not below num_shards %" PRId64, e->shard_id,
			    o->header.num_shards);
	if (!e->has_crc32c)
		return fail(o, name, nlen, "no crc32c");
	struct wfs_tensor_spec spec = {
		.name = (const char *)name, .name_len = nlen, .dtype = dt, .ndim = e->ndim, .shape = e->dims,
		.extent = WFS_EXTENT_RANGE, .offset = e->offset,
	};
	int rc = data_shard(o, e->shard_id, &spec.shard);
	if (rc)
		return rc;
	char attrs[64 + 2 * WFS_TF_MAX_DIMS * 42];
	size_t al = (size_t)snprintf(attrs, sizeof(attrs), "user.crc32c%c%08" PRIx32 "%c", 0, e->crc32c, 0);
	if (slice)
		al += (size_t)snprintf(attrs + al, sizeof(attrs) - al, "user.tf.slice%c%s%c", 0, slice, 0);
	spec.attrs = attrs;
	spec.attrs_len = al;
	return wfs_build_add_tensor(o->b, o->label, &spec, o->err);
}

/* A slice of a partitioned variable: shown as NAME@SPEC. */
static int on_slice(struct tf_open *o, const uint8_t *key, size_t klen, const struct wfs_tf_entry *e)
{
	struct wfs_tf_slice_key k;
	const char *why = wfs_tf_decode_slice_key(key, klen, &k);
	if (why)
		return fail(o, key, klen, "%s", why);
	char spec[2 * WFS_TF_MAX_DIMS * 42];
	size_t sl = wfs_tf_slice_spec(&k, spec, sizeof(spec));
	int rc = 0;
	if (k.ndim != e->ndim) {
		rc = fail(o, k.name, k.name_len, "slice %s has %u dims, its entry's shape %u", spec, k.ndim, e->ndim);
	} else {
		for (uint32_t d = 0; d < k.ndim && rc == 0; d++)
			if (k.extent[d].length != -1 && (uint64_t)k.extent[d].length != e->dims[d])
				rc = fail(o, k.name, k.name_len, "slice %s: dim %u is %" PRIu64 " long in its entry", spec, d,
					  e->dims[d]);
	}
	uint8_t *name = NULL;
	size_t nlen = k.name_len + 1 + sl;
	if (rc == 0 && (name = malloc(nlen)) == NULL)
		rc = -ENOMEM;
	if (rc == 0) {
		memcpy(name, k.name, k.name_len);
		name[k.name_len] = '@';
		memcpy(name + k.name_len + 1, spec, sl);
		rc = add_entry(o, name, nlen, e, spec);
	}
	free(name);
	if (rc == 0)
		return note_sliced(o, k.name, k.name_len);
	free(k.name);
	return rc;
}

static int on_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
		    struct wfs_error *err)
{
	(void)err;
	struct tf_open *o = ctx;
	const char *why;
	if (klen == 0) { /* sorts first */
		if ((why = wfs_tf_read_header(value, vlen, &o->header)) != NULL)
			return fail(o, NULL, 0, "BundleHeaderProto: %s", why);
		if (o->header.num_shards < 1 || o->header.num_shards > WFS_TF_MAX_SHARDS)
			return fail(o, NULL, 0, "BundleHeaderProto: num_shards %" PRId64 " is not between 1 and %d",
				    o->header.num_shards, WFS_TF_MAX_SHARDS);
		if (o->header.endianness != 0)
			return fail(o, NULL, 0, "BundleHeaderProto: a big-endian bundle (endianness %" PRId64 ") is not supported",
				    o->header.endianness);
		o->shards = malloc((size_t)o->header.num_shards * sizeof(*o->shards));
		if (o->shards == NULL)
			return -ENOMEM;
		memset(o->shards, 0xff, (size_t)o->header.num_shards * sizeof(*o->shards));
		o->have_header = true;
		return 0;
	}
	if (!o->have_header)
		return fail(o, NULL, 0, "no BundleHeaderProto (the table has no key \"\")");
	struct wfs_tf_entry e;
	if ((why = wfs_tf_read_entry(value, vlen, &e)) != NULL)
		return fail(o, key, klen, "BundleEntryProto: %s", why);
	if (key[0] == '\0') /* the OrderedCode key of one slice of a partitioned variable */
		return on_slice(o, key, klen, &e);
	if (e.nslices) { /* a partitioned variable: its data is in its slices, shown instead */
		if (!was_sliced(o, key, klen))
			return fail(o, key, klen, "a partitioned variable (%u slices) without slice entries", e.nslices);
		return 0;
	}
	return add_entry(o, key, klen, &e, NULL);
}

/* Content cannot decide (the table's magic is at its end): the name does. */
static int tf_probe(const uint8_t *head, size_t len, const char *name)
{
	size_t k = strlen(name);
	if (k <= 6 || strcmp(name + k - 6, ".index") != 0)
		return 0;
	/* The first entry of the first block: key "" (shared 0, unshared 0). */
	return len >= 3 && head[0] == 0 && head[1] == 0 ? 90 : 40;
}

static int tf_open(struct wfs_build *b, uint32_t shard, struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	const struct wfs_shard *s = &m->shards[shard];
	char label[PATH_MAX];
	snprintf(label, sizeof(label), "%s", wfs_model_str(m, s->name));
	if (s->size > TF_MAX_INDEX) {
		wfs_error_add(err, "%s: %" PRIu64 " bytes: larger than the 1 GiB accepted for a tensor bundle index", label,
			      s->size);
		return WFS_EINVALID;
	}
	uint8_t *buf = NULL;
	int rc = wfs_build_read(b, shard, 0, (size_t)s->size, &buf);
	if (rc < 0) {
		if (rc != -ENOMEM)
			wfs_error_add(err, "%s: %s", label, strerror(-rc));
		return rc;
	}
	size_t len = strlen(label);
	struct tf_open o = {
		.b = b, .label = label, .err = err,
		.prefix_len = len > 6 && strcmp(label + len - 6, ".index") == 0 ? len - 6 : len,
	};
	m->sep = '/';
	rc = wfs_tft_read(buf, (size_t)s->size, label, on_entry, &o, err);
	free(buf);
	free(o.shards);
	for (size_t i = 0; i < o.nsliced; i++)
		free(o.sliced[i].p);
	free(o.sliced);
	if (rc == 0 && !o.have_header)
		rc = fail(&o, NULL, 0, "no BundleHeaderProto (the table has no key \"\")");
	if (rc == 0 && o.nskipped)
		wfs_warnf(b->warn, "%s: %u entr%s not shown: %s", label, o.nskipped, o.nskipped == 1 ? "y" : "ies",
			  o.skipped);
	return rc;
}

static const char *const tf_extensions[] = {".index", NULL};

const struct wfs_format wfs_format_tfbundle = {
	.name = "tfbundle",
	.probe = tf_probe,
	.open = tf_open,
	.extensions = tf_extensions,
	.preferred = NULL,
};
