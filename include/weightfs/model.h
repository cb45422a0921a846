/**
 * @file model.h
 * A model opened from a SOURCE: its shards, its tensors and the other files
 * of its directory, parsed and validated up front.
 *
 * The model is immutable once wfs_model_open() returns: every string lives in
 * one arena, tensors are sorted by name, and reading takes no lock and
 * allocates nothing, so any number of threads may read at once.
 */
#ifndef WEIGHTFS_MODEL_H
#define WEIGHTFS_MODEL_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>

#include "weightfs/dtype.h"
#include "weightfs/error.h"

/** Where a string lives: an offset into the model's arena, and its length. */
struct wfs_str {
	size_t off;
	size_t len;
};

/**
 * Where a tensor's bytes are (its extent). The file shows nbytes bytes in
 * row-major order whatever the kind; wfs_tensor_read() reads any of them.
 */
enum wfs_extent_kind {
	WFS_EXTENT_RANGE,   /**< nbytes contiguous bytes at offset of the shard (zero copy) */
	WFS_EXTENT_STRIDED, /**< elements gathered from the shard by strides (PyTorch views) */
	WFS_EXTENT_MEMORY,  /**< nbytes bytes at offset of m->blob, decoded at open (ONNX varints) */
};

struct wfs_tensor {
	struct wfs_str name;
	struct wfs_str shape_text; /**< "[2048,2048]", "[]" for a scalar */
	/**
	 * RANGE: absolute offset of the first byte in the shard. STRIDED:
	 * absolute offset of element 0 (the storage's first byte plus the
	 * storage offset). MEMORY: offset in m->blob.
	 */
	uint64_t offset;
	uint64_t nbytes;           /**< bytes the file shows (row-major, logical) */
	size_t dims;               /**< index of the first dimension in wfs_model.dims (row-major) */
	size_t strides;            /**< STRIDED: index of the first of ndim strides (in elements) in wfs_model.strides */
	struct wfs_str attrs;      /**< format-specific xattrs: "user.NAME\0value\0" pairs end to end; len 0 if none */
	uint32_t ndim;
	uint32_t shard;
	uint32_t group;            /**< index in wfs_model.groups; 0 is the model's root */
	uint8_t extent;            /**< enum wfs_extent_kind */
	enum wfs_dtype dtype;
};

struct wfs_remote;
struct wfs_remote_file;

struct wfs_source_ops;

/**
 * A file of the model that tensors' bytes come from (a shard). Its bytes are
 * read through its source (src/lib/sources/): a local file, memory, or HTTP.
 */
struct wfs_shard {
	struct wfs_str name;   /**< path relative to the model directory */
	const struct wfs_source_ops *source; /**< how its bytes are read */
	int fd;                /**< -1 when opened per read (out of descriptors), remote or in memory */
	const uint8_t *memory; /**< the file's bytes, for models opened from memory */
	struct wfs_remote_file *remote; /**< the file's bytes over HTTP, for remote models */
	uint64_t size;
	dev_t dev;             /**< identity checked when the file is reopened */
	ino_t ino;
	struct timespec mtime;
};

/** The xattr namespace a key/value pair is shown under. */
enum wfs_kv_space {
	WFS_KV_METADATA, /**< user.metadata.KEY: __metadata__, checkpoint leaves, ONNX metadata_props */
	WFS_KV_INDEX,    /**< user.index.KEY: an index's "metadata" */
	WFS_KV_GGUF,     /**< user.gguf.KEY: a GGUF file's key/value section */
	WFS_KV_FORMAT,   /**< user.KEY as given (user.onnx.producer_name, user.gguf.omitted) */
	WFS_KV_SPACES
};

/** A key/value pair of the model's metadata, shown as an xattr of its group's directory. */
struct wfs_kv {
	struct wfs_str key;
	struct wfs_str value;
	bool json;       /**< value is compact JSON text (a number, object...), not a string */
	uint8_t space;   /**< enum wfs_kv_space */
	uint32_t group;  /**< index in wfs_model.groups; 0 is the root */
};

/**
 * A subdirectory of the root holding one file's model, when a directory
 * holds several unrelated models (Q4_K_M.gguf, Q8_0.gguf): its tensors and
 * metadata carry its index. Group 0 is the root itself (empty name).
 */
struct wfs_group {
	struct wfs_str name;   /**< the directory name: the file name without its extension */
	const char *format;    /**< "gguf", ... */
};

/** A file or directory of the model directory that is not a shard or the index. */
struct wfs_extra {
	struct wfs_str path; /**< relative to the model directory, '/'-separated */
	struct wfs_remote_file *remote; /**< NULL for local files (opened by path) */
	bool is_dir;
	uint64_t size;
	struct timespec mtime;
};

struct wfs_model {
	char *arena;
	size_t arena_len;
	size_t arena_cap;

	struct wfs_tensor *tensors; /**< sorted by name (bytewise) */
	size_t ntensors;
	uint64_t *dims;
	size_t ndims;
	uint64_t *strides;          /**< strides of STRIDED tensors, in elements */
	size_t nstrides;
	uint8_t *blob;              /**< bytes of MEMORY tensors */
	size_t blob_len;
	struct wfs_group *groups;   /**< groups[0] is the root; ngroups >= 1 once open */
	size_t ngroups;

	struct wfs_shard *shards;
	size_t nshards;
	struct wfs_kv *metadata;   /**< merged metadata of every shard, any space */
	size_t nmetadata;
	struct wfs_kv *index_meta; /**< the index's "metadata" entries, values as text */
	size_t nindex_meta;
	struct wfs_extra *extras;  /**< parents before children */
	size_t nextras;

	bool sharded;              /**< opened through an index */
	struct wfs_str index_name; /**< the index file, when sharded */
	int dirfd;                 /**< the model directory, -1 for memory and remote models */
	struct wfs_remote *remote; /**< the HTTP session of a remote model, else NULL */
	const char *format;        /**< the format's name: "safetensors", "pytorch", "gguf", "onnx", "tfbundle" */
	char sep;                  /**< what tensor names split at in the modules and tree layouts: '.' ('/' for TF) */
	uint64_t total_bytes;
	struct timespec newest_mtime;

	struct { /* allocated lengths of the arrays above, used while building */
		size_t tensors, dims, strides, blob, groups, shards, metadata, index_meta, extras;
	} cap;
};

/** Settings of remote (http://, https://, hf://, s3://) sources. Zero means the default. */
struct wfs_remote_options {
	size_t chunk_size;     /**< bytes fetched per request on reads */
	size_t cache_size;     /**< bytes of chunks kept in memory */
	const char *cache_dir; /**< persistent chunk cache, or NULL */
	uint64_t cache_dir_size; /**< bytes the cache_dir may hold (0: 10 GiB); LRU removal */
	const char *files;     /**< http(s): comma-separated further files to expose */
	bool verbose;          /**< log every request through warn */
};

struct wfs_open_options {
	struct wfs_warn warn;  /**< where warnings go; may be empty */
	const char *format;    /**< -o format=NAME: only this format is looked for; NULL: any */
	const char *root;      /**< -o root=KEY: mount only this sub-dict of a checkpoint (PyTorch); NULL: all */
	bool no_extras;        /**< do not list the directory's other files */
	struct wfs_remote_options remote;
};

/** True when SOURCE names a remote model (http://, https://, hf://, s3://). */
bool wfs_source_is_remote(const char *source);

/**
 * Opens SOURCE (a model directory, a model file of any format, an index
 * .json, a TensorFlow checkpoint prefix, a Hugging Face cache snapshot or
 * repository, or an http(s)://, hf://, s3:// URL) and validates all of it;
 * which files make the model is resolve.c's (README, "SOURCE").
 * Returns 0, WFS_EINVALID with every problem in @p err, or another negative
 * errno (with a message in @p err) when SOURCE cannot be read.
 */
int wfs_model_open(const char *source, const struct wfs_open_options *opts,
		   struct wfs_model **out, struct wfs_error *err);

/**
 * Validates the bytes of one model file held in memory (any format that
 * needs no other file, detected by content) (kept, not
 * copied: they must outlive the model). @p label names it in messages.
 */
int wfs_model_open_memory(const void *data, size_t size, const char *label,
			  struct wfs_model **out, struct wfs_error *err);

void wfs_model_free(struct wfs_model *m);

/** The arena string: NUL-terminated, but may contain NULs (metadata values). */
static inline const char *wfs_model_str(const struct wfs_model *m, struct wfs_str s)
{
	return m->arena + s.off;
}

/** Finds a tensor of the root group (0) by its full name; its index, or -1. */
ssize_t wfs_model_find(const struct wfs_model *m, const char *name, size_t len);

/** Finds a tensor of group @p group by its full name; its index, or -1. Tensors are sorted by (group, name). */
ssize_t wfs_model_find_in(const struct wfs_model *m, uint32_t group, const char *name, size_t len);

/**
 * Reads @p len bytes at @p off of tensor @p t, clipped at the tensor's end.
 * Returns the number of bytes read, or -EIO when the shard no longer holds
 * them (truncated, replaced). Never allocates.
 */
ssize_t wfs_tensor_read(const struct wfs_model *m, const struct wfs_tensor *t,
			void *buf, size_t len, uint64_t off);

/** The most pieces a view has; a range that needs more is read instead. */
#define WFS_VIEW_PARTS 4

/**
 * Bytes of a tensor that the library lends without copying them: pieces of
 * memory it already holds (a remote model's cached chunks, or the buffer of
 * a model opened from memory). They stay valid, and a cache keeps them,
 * until wfs_view_release().
 */
struct wfs_view {
	struct iovec iov[WFS_VIEW_PARTS];
	size_t count;
	/* internal: what the pieces are pinned in */
	void *owner;
	void *pins[WFS_VIEW_PARTS];
};

/**
 * Lends @p len bytes at @p off of tensor @p t, clipped at the tensor's end,
 * as @p v. Returns the number of bytes; -EAGAIN when they cannot be lent
 * (a local shard, whose bytes wfs_tensor_read reads, or a range of more
 * than WFS_VIEW_PARTS pieces); or -EIO. Call wfs_view_release() in every case.
 */
ssize_t wfs_tensor_view(const struct wfs_model *m, const struct wfs_tensor *t,
			size_t len, uint64_t off, struct wfs_view *v);

/**
 * For splicing: when @p len bytes at @p off of tensor @p t are one contiguous
 * range of a local file kept open, sets *fd and *pos (absolute) and returns 0;
 * else -EAGAIN (read them with wfs_tensor_read()).
 */
int wfs_tensor_splice_source(const struct wfs_model *m, const struct wfs_tensor *t,
			     uint64_t off, size_t len, int *fd, uint64_t *pos);

/** Gives back what wfs_tensor_view() lent; @p v is empty afterwards. */
void wfs_view_release(struct wfs_view *v);

/**
 * Reads @p len bytes at @p off of a remote extra file, clipped at its end
 * (local extras are read through a descriptor opened by their path).
 */
ssize_t wfs_extra_read(const struct wfs_model *m, const struct wfs_extra *x,
		       void *buf, size_t len, uint64_t off);

/**
 * Reads exactly @p len bytes at absolute offset @p off of shard @p s.
 * Returns @p len, or a negative errno (-EIO when the file is shorter now).
 */
ssize_t wfs_shard_pread(const struct wfs_model *m, const struct wfs_shard *s,
			void *buf, size_t len, uint64_t off);

#endif
