/**
 * @file protobuf.h
 * The protocol buffers wire format over a bounded cursor (cursor.h): one
 * field at a time, lengths checked against the enclosing message, nothing
 * copied. ONNX's ModelProto and TensorFlow's BundleEntryProto are read
 * with it; there is no schema compiler and no libprotobuf.
 *
 * A length-delimited field's bytes are returned as a sub-cursor with the
 * same base, so offsets stay absolute in the file the bytes came from.
 */
#ifndef WEIGHTFS_PROTOBUF_H
#define WEIGHTFS_PROTOBUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../cursor.h"

/** Wire types (the low 3 bits of a tag). Groups (3, 4) are refused. */
enum wfs_pb_wire {
	WFS_PB_VARINT = 0,
	WFS_PB_I64 = 1,
	WFS_PB_LEN = 2,
	WFS_PB_I32 = 5,
};

/** How deep a reader may nest messages in messages (ONNX subgraphs). */
#define WFS_PB_MAX_DEPTH 32

/** The largest field number protobuf allows. */
#define WFS_PB_MAX_FIELD ((1u << 29) - 1)

/** One field as read from the wire. */
struct wfs_pb_field {
	uint32_t number;
	uint8_t wire;          /**< enum wfs_pb_wire */
	uint64_t value;        /**< VARINT, I64, I32: the value as unsigned bits */
	struct wfs_cursor sub; /**< LEN: exactly the field's bytes (base shared with the parent) */
};

/**
 * Reads the next field of the message @p c holds. Returns 1 with *f set, 0
 * at the end of the message, or -1 when the bytes are not a valid field:
 * *why then says what (a static string), and the cursor is bad.
 */
int wfs_pb_next(struct wfs_cursor *c, struct wfs_pb_field *f, const char **why);

/** Name of a wire type, for messages ("varint", "64-bit", "length-delimited", "32-bit"). */
const char *wfs_pb_wire_name(uint8_t wire);

/**
 * Counts the varints of a packed repeated field (its whole payload @p c).
 * Returns 0 with *count set, or -1 when one is truncated or longer than 10 bytes.
 */
int wfs_pb_count_varints(struct wfs_cursor c, uint64_t *count);

/** A field's bytes as a length and a pointer. */
static inline size_t wfs_pb_len(const struct wfs_pb_field *f)
{
	return wfs_cur_left(&f->sub);
}

/** Absolute offset (from the base) of a LEN field's first byte. */
static inline size_t wfs_pb_offset(const struct wfs_pb_field *f)
{
	return wfs_cur_offset(&f->sub);
}

/** True when the field is a LEN field whose bytes equal the NUL-terminated @p s. */
static inline bool wfs_pb_equals(const struct wfs_pb_field *f, const char *s)
{
	size_t n = strlen(s);
	return f->wire == WFS_PB_LEN && wfs_pb_len(f) == n && memcmp(f->sub.p, s, n) == 0;
}

#endif
