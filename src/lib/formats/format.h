/**
 * @file format.h
 * The format layer: what every model format offers, and the helpers a
 * format uses to append what it finds to the model under construction.
 *
 * Like libarchive's format readers, each format is one file (or folder)
 * under src/lib/formats/ with a probe and an open, listed once in
 * registry.c. A format never sees FUSE, never prints, and reports every
 * problem as one line in a struct wfs_error (prefixed with the file's name).
 * It reads its file only through wfs_shard_pread(), whatever the source
 * (local, memory, HTTP), and appends through the wfs_build_* helpers,
 * which check shapes, sizes and ranges once for every format.
 *
 * Adding a format: formats/NAME.c with a `const struct wfs_format
 * wfs_format_NAME`, one line in registry.c, its tests. Directory
 * resolution (which files of a directory make the model) is resolve.c.
 */
#ifndef WEIGHTFS_FORMAT_H
#define WEIGHTFS_FORMAT_H

#include "../internal.h"

/** How many of a file's first bytes a probe is shown. */
#define WFS_PROBE_LEN 4096

/** What a format is opening into, and with which options. */
struct wfs_build {
	struct wfs_model *m;
	const struct wfs_open_options *opts;
	const struct wfs_warn *warn;
	uint32_t group;            /**< the group new tensors and metadata belong to */
};

struct wfs_format {
	const char *name; /**< "safetensors", "pytorch", "gguf", "onnx", "tfbundle": -o format=NAME, user.format */
	/**
	 * Bids on one file: 0 declines; otherwise higher is surer (100: its
	 * magic matched). @p head holds the file's first min(size,
	 * WFS_PROBE_LEN) bytes, @p len of them; @p name is its base name.
	 * Content decides; the name only breaks ties.
	 */
	int (*probe)(const uint8_t *head, size_t len, const char *name);
	/**
	 * Directory resolution (resolve.c): the file name endings this format's
	 * files have (".gguf"), NULL-terminated; and the name that wins when a
	 * directory holds several (transformers' order: "model.safetensors"),
	 * or NULL. Files NAME-0000N-of-0000M.EXT are one model; several other
	 * files are one subdirectory (group) each.
	 */
	const char *const *extensions;
	const char *preferred;
	/** When SOURCE is one part NAME-0000N-of-0000M.EXT, every part is opened (GGUF splits). */
	bool open_all_parts;
	/**
	 * Parses shard @p shard (already open: its size is known) and appends
	 * its tensors and metadata to b->m in group b->group. May add the
	 * files it refers to as shards (wfs_build_add_shard). Returns 0,
	 * WFS_EINVALID with every problem in @p err, or another negative errno.
	 */
	int (*open)(struct wfs_build *b, uint32_t shard, struct wfs_error *err);
	/**
	 * Optional: after every shard of one group is open, checks what spans
	 * them (a GGUF split's part count). Same returns as open.
	 */
	int (*finish)(struct wfs_build *b, struct wfs_error *err);
};

/** Every format, in the order they bid (ties go to the first); NULL-terminated. */
extern const struct wfs_format *const wfs_formats[];

/** Writes the known formats' names, comma-separated, into @p buf. */
void wfs_format_names(char *buf, size_t cap);

/** The format called @p name, or NULL. */
const struct wfs_format *wfs_format_find(const char *name);

/**
 * The best bid for a file of @p size bytes whose first bytes are @p head:
 * the format, or NULL when none bids. @p only, when set, is the one asked.
 */
const struct wfs_format *wfs_format_probe(const uint8_t *head, size_t len, const char *name,
					  const struct wfs_format *only);

/** A tensor as a format describes it to wfs_build_add_tensor(). */
struct wfs_tensor_spec {
	const char *name;          /**< full name, any bytes (validated as UTF-8 without NUL) */
	size_t name_len;
	enum wfs_dtype dtype;
	uint32_t ndim;
	const uint64_t *shape;     /**< ndim dimensions, row-major (outermost first) */
	uint32_t shard;
	enum wfs_extent_kind extent;
	/**
	 * RANGE: absolute offset in the shard. STRIDED: absolute offset of
	 * element 0. MEMORY: offset in m->blob (from wfs_build_blob()).
	 */
	uint64_t offset;
	/** STRIDED: ndim strides in elements; with @c storage_begin/end the bytes every element must lie in. */
	const uint64_t *strides;
	uint64_t storage_begin, storage_end;
	/** Format-specific xattrs ("user.NAME\0value\0" pairs), or NULL. */
	const char *attrs;
	size_t attrs_len;
};

/**
 * Appends a tensor: checks the name (UTF-8, no NUL), that nbytes follows
 * from dtype and shape without overflow (and is a whole number of blocks),
 * that a RANGE lies inside its shard, a STRIDED tensor's every element
 * inside [storage_begin, storage_end) and that inside the shard, and a
 * MEMORY tensor inside the blob. Problems go to @p err prefixed with
 * @p label; returns 0, WFS_EINVALID or -ENOMEM.
 */
int wfs_build_add_tensor(struct wfs_build *b, const char *label, const struct wfs_tensor_spec *t,
			 struct wfs_error *err);

/** Appends a key/value pair of @p space to b->group (the value is copied; may hold NULs). 0 or -ENOMEM. */
int wfs_build_add_kv(struct wfs_build *b, enum wfs_kv_space space, const char *key, size_t key_len,
		     const char *value, size_t value_len, bool json);

/**
 * Reserves @p len bytes of m->blob for a MEMORY tensor: sets *off and *p
 * (valid until the next call). 0, -ENOMEM, or -EFBIG past WFS_BLOB_MAX.
 */
#define WFS_BLOB_MAX (1ULL << 30) /* bytes decoded into memory per model (documented) */
int wfs_build_blob(struct wfs_build *b, size_t len, uint64_t *off, uint8_t **p);

/**
 * Adds (or finds, after normalising) the file @p path (relative to the
 * model directory, checked to stay inside it) as a shard and opens it
 * through the model's source; sets *out. 0, WFS_EINVALID (missing, escapes
 * the directory, not a regular file) with a message, or -errno.
 */
int wfs_build_add_shard(struct wfs_build *b, const char *path, size_t len, uint32_t *out,
			struct wfs_error *err);

/**
 * Adds a group (a subdirectory of the root named @p name) and makes it
 * b->group. 0 or -ENOMEM.
 */
int wfs_build_add_group(struct wfs_build *b, const char *name, size_t len, const char *format);

/** Hints that @p len bytes at @p off of shard @p shard will be read soon (see wfs_source_ops.willneed). */
void wfs_build_willneed(struct wfs_build *b, uint32_t shard, uint64_t off, uint64_t len);

/** Reads exactly @p len bytes at @p off of shard @p shard into a new buffer (*out, free()). 0, -EIO, -ENOMEM. */
int wfs_build_read(struct wfs_build *b, uint32_t shard, uint64_t off, size_t len, uint8_t **out);

#endif
