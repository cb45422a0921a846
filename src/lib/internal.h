/**
 * @file internal.h
 * Helpers shared by the library's source files; not installed.
 */
#ifndef WEIGHTFS_INTERNAL_H
#define WEIGHTFS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <json-c/json.h>

#include "weightfs/model.h"

/* ---- growable arrays ---------------------------------------------------- */

/** Makes room for @p extra more elements of @p elem bytes in *items. 0 or -ENOMEM. */
int wfs_grow(void **items, size_t *cap, size_t count, size_t extra, size_t elem);

#define WFS_GROW(items, cap, count, extra) \
	wfs_grow((void **)&(items), &(cap), (count), (extra), sizeof(*(items)))

/* ---- string arenas --------------------------------------------------------- */

/** Strings kept end to end, each NUL-terminated, addressed by offset. */
struct wfs_strings {
	char *data;
	size_t len, cap;
};

/** Copies @p len bytes plus a terminating NUL into @p a (s may point into a). */
int wfs_strings_add(struct wfs_strings *a, const char *s, size_t len, struct wfs_str *out);

/** wfs_strings_add to the model's own arena. */
int wfs_arena_add(struct wfs_model *m, const char *s, size_t len, struct wfs_str *out);

/** Appends a shape as user.shape shows it ("[2048,2048]", "[]" for a scalar) to the arena. 0 or -ENOMEM. */
int wfs_arena_shape(struct wfs_model *m, const uint64_t *dims, uint32_t ndim, struct wfs_str *out);

/* ---- JSON ----------------------------------------------------------------- */

enum wfs_json_kind {
	WFS_JSON_HEADER, /**< a safetensors header: numbers must be plain u64 */
	WFS_JSON_INDEX,  /**< an index: any numbers */
};

/**
 * Parses @p text as one JSON object with json-c (strict, UTF-8 validated,
 * nesting at most WFS_JSON_MAX_DEPTH) and rejects what json-c lets through:
 * duplicate keys, keys with NUL bytes, and (headers) "-0" and integers of
 * 2^64 or more. Problems are added to @p err prefixed with @p label.
 * Returns 0 with *out set, or WFS_EINVALID.
 */
#define WFS_JSON_MAX_DEPTH 64
int wfs_json_parse(const char *label, const char *text, size_t len,
		   enum wfs_json_kind kind, struct json_object **out,
		   struct wfs_error *err);

/* ---- strict JSON lexing (jsonlex.c) ------------------------------------- */

/** Offset of the first byte that is not strict UTF-8 (RFC 3629), or len. */
size_t wfs_utf8_valid_prefix(const unsigned char *s, size_t len);

/**
 * Decodes the body of a JSON string (between the quotes, already lexed) into
 * @p o, which has room for end - p bytes: always valid UTF-8, a surrogate
 * pair of \u escapes becoming one character. Returns the length, or -1
 * for a malformed escape or a \u escape of an unpaired surrogate.
 */
ssize_t wfs_json_decode_string(const char *p, const char *end, char *o);

/** False when a string body has a \u escape of an unpaired surrogate (or a malformed escape). */
bool wfs_json_surrogates_paired(const char *p, const char *end);

/** A UTF-8 byte order mark, which JSON texts must not start with (RFC 8259, 8.1). */
#define WFS_UTF8_BOM "\xef\xbb\xbf"

struct wfs_json_cursor {
	const char *p;     /**< next byte */
	const char *begin; /**< for offsets in messages */
	const char *end;
	bool too_deep;     /**< set when a value nests deeper than WFS_JSON_MAX_DEPTH */
};

struct wfs_json_token {
	const char *text; /**< a string's body (without quotes), or a number's spelling */
	size_t len;
	bool escaped;     /**< string: contains backslash escapes */
	bool integer;     /**< number: no fraction or exponent */
};

void wfs_jc_ws(struct wfs_json_cursor *c);
/** Lexes a string at the cursor (which must be at '"'); false if malformed. */
bool wfs_jc_string(struct wfs_json_cursor *c, struct wfs_json_token *t);
/** Lexes a number at the cursor; false if malformed. */
bool wfs_jc_number(struct wfs_json_cursor *c, struct wfs_json_token *t);
/** Skips one whole value, checking its syntax; false if malformed or too deep. */
bool wfs_jc_skip_value(struct wfs_json_cursor *c, int depth);

/* ---- messages ------------------------------------------------------------ */

/**
 * Quotes an untrusted name for a message: printable bytes as they are,
 * others as \xNN, cut to about 120 bytes with "...". @p out holds
 * WFS_QUOTE_MAX bytes and is returned.
 */
#define WFS_QUOTE_MAX 512
const char *wfs_quote(const char *s, size_t len, char *out);

/* ---- safetensors ---------------------------------------------------------- */

/** The reference implementation's limit on the header length. */
#define WFS_MAX_HEADER_LEN 100000000ULL

/**
 * Validates the header of one safetensors file and appends its tensors (and
 * __metadata__) to @p m as belonging to shard @p shard. @p header holds the
 * @p header_len bytes that follow the 8-byte length; @p file_size is the
 * whole file's size. Returns 0 or WFS_EINVALID (or -ENOMEM).
 */
int wfs_st_parse_header(struct wfs_model *m, uint32_t shard, uint32_t group, const char *label, const struct wfs_warn *warn,
			const char *header, size_t header_len, uint64_t file_size,
			struct wfs_error *err);

/**
 * Checks the 8-byte length prefix of a safetensors file of @p file_size
 * bytes; sets *header_len. 0 or WFS_EINVALID.
 */
int wfs_st_check_prefix(const char *label, const uint8_t prefix[8], uint64_t file_size,
			uint64_t *header_len, struct wfs_error *err);

/* ---- index ---------------------------------------------------------------- */

struct wfs_index_entry {
	struct wfs_str tensor; /**< in wfs_index.strings */
	uint32_t shard;        /**< index into wfs_index.shards */
};

/* What an index says, kept only while the model is assembled. */
struct wfs_index {
	struct wfs_strings strings;
	struct wfs_str *shards; /**< distinct shard paths, sorted */
	size_t nshards;
	struct wfs_index_entry *entries;
	size_t nentries;
};

/**
 * Parses an index JSON: weight_map (validated shard paths) into @p idx,
 * metadata into m->index_meta. 0, WFS_EINVALID or -ENOMEM.
 */
int wfs_index_parse(struct wfs_model *m, const char *label, const char *text,
		    size_t len, struct wfs_index *idx, struct wfs_error *err);

void wfs_index_release(struct wfs_index *idx);

/**
 * After the shards are loaded and wfs_model_finish sorted the tensors: every
 * tensor the index lists must be in the shard it names (WFS_EINVALID); a
 * tensor it does not list is shown, with a warning.
 */
int wfs_index_check(struct wfs_model *m, const struct wfs_index *idx, const char *label,
		    const struct wfs_warn *warn, struct wfs_error *err);

/** True when @p path is a relative path that stays inside the model directory. */
bool wfs_shard_path_ok(const char *path, size_t len);

/* ---- model assembly ------------------------------------------------------ */

/** Reads exactly @p len bytes at @p off from @p fd: 0, -EIO if the file is shorter, or -errno. */
int wfs_read_exact(int fd, void *buf, size_t len, uint64_t off);

/** An empty model (group 0, the root, only); NULL when out of memory. */
struct wfs_model *wfs_model_new(void);

/** Appends a shard named @p name (not opened yet); sets *out. 0 or -ENOMEM. */
int wfs_model_add_shard(struct wfs_model *m, const char *name, size_t len, uint32_t *out);

/**
 * Opens shard @p i through the model's source (a local file relative to
 * m->dirfd). @p who names what referred to it in messages ("" or the index).
 */
int wfs_model_open_shard(struct wfs_model *m, uint32_t i, const char *who, struct wfs_error *err);

/** Opens a local SOURCE (resolve.c): directory, file, index, TF prefix. */
int wfs_resolve_local(struct wfs_model *m, const char *source, const struct wfs_open_options *opts,
		      struct wfs_error *err);

/** A list of names (resolve.c). */
struct wfs_names {
	char **v;
	size_t n, cap;
};
int wfs_names_add(struct wfs_names *l, const char *s);
void wfs_names_free(struct wfs_names *l);

/**
 * A model directory as resolve.c sees it, local or remote: which files it
 * has and their bytes. Shards are then opened with wfs_model_open_shard().
 */
struct wfs_dir_ops {
	/** Appends the regular files at the top whose names end with @p suffix. 0 or -errno. */
	int (*list)(void *ctx, const char *suffix, struct wfs_names *out);
	/** Whether @p path (relative, may have '/') is a file of the directory. */
	bool (*exists)(void *ctx, const char *path);
	/** Reads a whole file of at most @p limit bytes (NUL-terminated). 0, -ENOENT, -EINVAL (not a file), -EFBIG, -errno. */
	int (*read_file)(void *ctx, const char *path, size_t limit, char **out, size_t *len);
	/** Reads the first bytes of a file, for probing: how many, or -errno. */
	ssize_t (*read_head)(void *ctx, const char *path, uint8_t *buf, size_t cap);
};

struct wfs_dir {
	const struct wfs_dir_ops *ops;
	void *ctx;
};

/** Resolves the model of directory @p d (README, "What SOURCE can be"). */
int wfs_resolve_dir(struct wfs_model *m, const struct wfs_dir *d, const char *source,
		    const struct wfs_open_options *opts, struct wfs_error *err);

/** Resolves one file of @p d given as SOURCE: an index, or a model file (all its parts when it splits). */
int wfs_resolve_file(struct wfs_model *m, const struct wfs_dir *d, const char *name,
		     const struct wfs_open_options *opts, struct wfs_error *err);

/**
 * Writes @p path without "." and empty components into @p out (room for
 * len + 1 bytes); returns the new length (0 when nothing is left).
 * ".." components are kept, for wfs_shard_path_ok to refuse.
 */
size_t wfs_path_normalize(const char *path, size_t len, char *out);

/** Sorts the tensors by name and reports names found in two shards. */
int wfs_model_finish(struct wfs_model *m, struct wfs_error *err);

/** Lists the model directory's other files into m->extras, skipping @p skip paths. */
int wfs_extras_scan(struct wfs_model *m, const struct wfs_str *skip, size_t nskip,
		    const struct wfs_warn *warn, struct wfs_error *err);

/* ---- remote models (remote*.c) ------------------------------------------ */

/** Opens a remote SOURCE into @p m (shards, tensors, extras, m->remote). */
int wfs_remote_open_model(struct wfs_model *m, const char *source, const struct wfs_open_options *opts,
			  struct wfs_error *err);

/** Opens shard @p i of a remote model: the file of its name in the listing (wfs_model_open_shard). */
int wfs_remote_open_shard(struct wfs_model *m, uint32_t i, const char *who, struct wfs_error *err);

/** Reads exactly len bytes at off of a remote file: len, or a negative errno (-EIO). */
ssize_t wfs_remote_pread(struct wfs_remote_file *f, void *buf, size_t len, uint64_t off);

/**
 * Lends exactly len bytes at off of a remote file from its chunk cache (see
 * wfs_tensor_view): len, -EAGAIN when that takes more than WFS_VIEW_PARTS
 * chunks, or -EIO.
 */
ssize_t wfs_remote_view(struct wfs_remote_file *f, size_t len, uint64_t off, struct wfs_view *v);

/** Unpins the chunks of a view that wfs_remote_view() filled. */
void wfs_remote_view_release(struct wfs_view *v);

/** Writes the session's counters as one line of JSON; returns its length (snprintf-style). */
size_t wfs_remote_stats(const struct wfs_remote *r, char *buf, size_t cap);

/** Frees the session and every file of it. NULL is a no-op. */
void wfs_remote_free(struct wfs_remote *r);

void wfs_warnf(const struct wfs_warn *warn, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#endif
