/**
 * @file cursor.h
 * A bounded cursor over bytes held in memory: the only way binary parsers
 * read untrusted input (after sshfs's buf_check_get).
 *
 * Every getter checks the remaining length first and, when it is short,
 * sets @c bad and returns zero bytes/values; a parser checks @c bad at the
 * points where it reports a problem. Nothing reads past @c end, whatever
 * the input says.
 */
#ifndef WEIGHTFS_CURSOR_H
#define WEIGHTFS_CURSOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct wfs_cursor {
	const uint8_t *base; /**< first byte, for offsets in messages */
	const uint8_t *p;    /**< next byte */
	const uint8_t *end;
	bool bad;            /**< a read ran past the end */
};

static inline struct wfs_cursor wfs_cursor_make(const void *data, size_t len)
{
	const uint8_t *b = data;
	return (struct wfs_cursor){b, b, b + len, false};
}

/** Bytes left. */
static inline size_t wfs_cur_left(const struct wfs_cursor *c)
{
	return (size_t)(c->end - c->p);
}

/** Offset of the next byte from base. */
static inline size_t wfs_cur_offset(const struct wfs_cursor *c)
{
	return (size_t)(c->p - c->base);
}

/** True when @p n more bytes are there; otherwise marks the cursor bad. */
static inline bool wfs_cur_need(struct wfs_cursor *c, uint64_t n)
{
	if (c->bad || n > wfs_cur_left(c)) {
		c->bad = true;
		return false;
	}
	return true;
}

/** Returns a pointer to the next @p n bytes and skips them, or NULL (cursor bad). */
static inline const uint8_t *wfs_cur_take(struct wfs_cursor *c, uint64_t n)
{
	if (!wfs_cur_need(c, n))
		return NULL;
	const uint8_t *p = c->p;
	c->p += n;
	return p;
}

static inline bool wfs_cur_skip(struct wfs_cursor *c, uint64_t n)
{
	return wfs_cur_take(c, n) != NULL;
}

static inline uint8_t wfs_cur_u8(struct wfs_cursor *c)
{
	const uint8_t *p = wfs_cur_take(c, 1);
	return p ? p[0] : 0;
}

static inline uint16_t wfs_cur_u16le(struct wfs_cursor *c)
{
	const uint8_t *p = wfs_cur_take(c, 2);
	return p ? (uint16_t)(p[0] | p[1] << 8) : 0;
}

static inline uint32_t wfs_cur_u32le(struct wfs_cursor *c)
{
	const uint8_t *p = wfs_cur_take(c, 4);
	return p ? (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24 : 0;
}

static inline uint64_t wfs_cur_u64le(struct wfs_cursor *c)
{
	uint64_t lo = wfs_cur_u32le(c);
	uint64_t hi = wfs_cur_u32le(c);
	return lo | hi << 32;
}

/**
 * A base-128 varint (protobuf): at most 10 bytes, the tenth holding only
 * bit 63. Marks the cursor bad when truncated or overlong.
 */
static inline uint64_t wfs_cur_varint(struct wfs_cursor *c)
{
	uint64_t v = 0;
	for (unsigned i = 0; i < 10; i++) {
		if (!wfs_cur_need(c, 1))
			return 0;
		uint8_t b = *c->p++;
		if (i == 9 && b > 1) {
			c->bad = true;
			return 0;
		}
		v |= (uint64_t)(b & 0x7f) << (7 * i);
		if (!(b & 0x80))
			return v;
	}
	c->bad = true;
	return 0;
}

/** Little-endian loads from memory already bounds-checked by the caller. */
static inline uint16_t wfs_ld16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static inline uint32_t wfs_ld32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static inline uint64_t wfs_ld64(const uint8_t *p)
{
	return (uint64_t)wfs_ld32(p) | (uint64_t)wfs_ld32(p + 4) << 32;
}

#endif
