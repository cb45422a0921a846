/**
 * @file gguf/parse.h
 * The GGUF reader over bytes in memory: header, key/value section and
 * tensor infos of one file (or split part), validated.
 *
 * The format rules are those of ggml's GGUF specification
 * (ggml-org/ggml, docs/gguf.md) and of its reader (ggml/src/gguf.cpp):
 * little-endian; magic "GGUF"; version 2 or 3 (version 1 used 32-bit
 * counts); u64 tensor and KV counts; strings as a u64 length and bytes;
 * value types 0..12 (GGUF_TYPE_UINT8 ... GGUF_TYPE_FLOAT64); tensor infos
 * as name, u32 n_dims (at most GGML_MAX_DIMS = 4), n_dims u64 ne[] (each
 * below 2^63, ne[0] a multiple of the type's block size), u32 ggml_type and
 * a u64 offset relative to the data section, which begins at the next
 * multiple of general.alignment (a u32 power of two; 32 when absent) after
 * the tensor infos. A file without tensors may end before that point
 * (llama.cpp's vocab-only files do).
 *
 * No globals, no output: problems go to a struct wfs_error, one line each,
 * prefixed with the file's label.
 */
#ifndef WEIGHTFS_GGUF_PARSE_H
#define WEIGHTFS_GGUF_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/dtype.h"
#include "weightfs/error.h"

#define WFS_GGUF_MAGIC "GGUF"
#define WFS_GGUF_MAX_DIMS 4                 /**< GGML_MAX_DIMS */
#define WFS_GGUF_DEFAULT_ALIGNMENT 32       /**< GGUF_DEFAULT_ALIGNMENT */
#define WFS_GGUF_MAX_NESTING 8              /**< arrays of arrays: deeper is refused */
#define WFS_GGUF_MAX_KEY 65535              /**< the specification's limit on a key's length */
#define WFS_GGUF_HEADER_MAX (512ULL << 20)  /**< header + KVs + tensor infos: more is refused */

/** Value types (enum gguf_type). */
enum wfs_gguf_type {
	WFS_GGUF_UINT8 = 0,
	WFS_GGUF_INT8 = 1,
	WFS_GGUF_UINT16 = 2,
	WFS_GGUF_INT16 = 3,
	WFS_GGUF_UINT32 = 4,
	WFS_GGUF_INT32 = 5,
	WFS_GGUF_FLOAT32 = 6,
	WFS_GGUF_BOOL = 7,
	WFS_GGUF_STRING = 8,
	WFS_GGUF_ARRAY = 9,
	WFS_GGUF_UINT64 = 10,
	WFS_GGUF_INT64 = 11,
	WFS_GGUF_FLOAT64 = 12,
	WFS_GGUF_TYPE_COUNT
};

/** The type's name as gguf-py spells it ("UINT32", "STRING", "ARRAY"), or "?". */
const char *wfs_gguf_type_name(uint32_t type);

/** Bytes of one value of a fixed-size type; 0 for STRING, ARRAY and unknown types. */
unsigned wfs_gguf_type_size(uint32_t type);

struct wfs_gguf_kv {
	const char *key;    /**< in the parsed buffer; valid UTF-8, no NUL */
	size_t key_len;
	size_t key_off;     /**< offset of key in the buffer */
	uint32_t type;
	uint32_t item_type; /**< ARRAY: the items' type */
	uint64_t count;     /**< ARRAY: the number of items */
	size_t value_off;   /**< offset in the buffer of the value's encoding (ARRAY: of its item type) */
	size_t value_len;
};

struct wfs_gguf_tensor {
	const char *name;   /**< in the parsed buffer; valid UTF-8, no NUL */
	size_t name_len;
	size_t name_off;    /**< offset of name in the buffer */
	uint32_t n_dims;
	uint64_t ne[WFS_GGUF_MAX_DIMS]; /**< ggml order: ne[0] varies fastest; unused ones are 1 */
	uint32_t ggml_type;
	enum wfs_dtype dtype;
	uint64_t offset;    /**< relative to the data section */
	uint64_t nbytes;
};

struct wfs_gguf {
	uint32_t version;
	uint64_t n_tensors, n_kv;
	struct wfs_gguf_kv *kv;          /**< n_kv, in file order */
	struct wfs_gguf_tensor *tensors; /**< n_tensors, in file order */
	uint32_t alignment;
	uint64_t infos_end;              /**< where the tensor infos end */
	uint64_t data_offset;            /**< absolute start of the data section (may be past a tensor-less file's end) */
	/* split.no / split.count / split.tensors.count (llama.cpp's gguf-split), when present */
	bool has_split_no, has_split_count, has_split_tensors;
	uint64_t split_no, split_count, split_tensors;
	/** Internal: where an -EAGAIN left off, so the next call goes on from there. */
	struct {
		bool started;            /**< the header was read */
		uint64_t kv_done, t_done; /**< KVs and tensor infos parsed */
		size_t at;               /**< offset of the next KV or tensor info */
		size_t kv_cap, t_cap;
	} resume;
};

/**
 * Parses the GGUF file whose first @p len bytes are @p buf (of @p file_size
 * in all). Keys, names and value offsets in @p g point into @p buf. @p g
 * must be zeroed ({0}) before the first call.
 *
 * Returns 0; -EAGAIN when @p buf ends before the tensor infos do: then
 * *need is how many of the file's bytes to read next time (at most
 * file_size), and a call with a longer prefix of the same file (anywhere in
 * memory) and the same @p g goes on from the last whole KV or tensor info,
 * so a header is parsed once however many reads it takes; WFS_EINVALID with
 * every problem in @p err, each prefixed with @p label; or -ENOMEM.
 * Release @p g in every case (which zeroes it again).
 */
int wfs_gguf_parse(const uint8_t *buf, size_t len, uint64_t file_size, const char *label,
		   struct wfs_gguf *g, struct wfs_error *err, uint64_t *need);

void wfs_gguf_release(struct wfs_gguf *g);

/** The KV called @p key, or NULL. */
const struct wfs_gguf_kv *wfs_gguf_find_kv(const struct wfs_gguf *g, const char *key);

/**
 * Renders a parsed value as xattr text: strings as they are (json false),
 * numbers in decimal (floats: the shortest text that reads back to the same
 * value of their own width), bools true/false, arrays as compact JSON
 * (strings escaped as Python's json.dumps(ensure_ascii=False) does), json
 * true. @p buf is the buffer @p kv was parsed from. *out is NUL-terminated
 * (free()). 0, -ENOMEM, or -E2BIG when the text would exceed @p limit bytes.
 */
int wfs_gguf_kv_render(const uint8_t *buf, const struct wfs_gguf_kv *kv, size_t limit, char **out,
		       size_t *out_len, bool *json);

#endif
