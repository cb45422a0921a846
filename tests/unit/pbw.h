/**
 * @file pbw.h
 * A tiny protobuf writer for tests: builds messages in a growable buffer.
 */
#ifndef WEIGHTFS_TEST_PBW_H
#define WEIGHTFS_TEST_PBW_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct pbw {
	uint8_t *p;
	size_t len, cap;
};

static inline void pbw_bytes(struct pbw *w, const void *b, size_t n)
{
	if (w->len + n > w->cap) {
		w->cap = (w->len + n) * 2 + 64;
		w->p = realloc(w->p, w->cap);
	}
	if (n)
		memcpy(w->p + w->len, b, n);
	w->len += n;
}

static inline void pbw_varint(struct pbw *w, uint64_t v)
{
	uint8_t b[10];
	size_t n = 0;
	do {
		b[n] = (uint8_t)(v & 0x7f);
		v >>= 7;
		if (v)
			b[n] |= 0x80;
		n++;
	} while (v);
	pbw_bytes(w, b, n);
}

static inline void pbw_tag(struct pbw *w, uint32_t field, unsigned wire)
{
	pbw_varint(w, (uint64_t)field << 3 | wire);
}

static inline void pbw_uint(struct pbw *w, uint32_t field, uint64_t v)
{
	pbw_tag(w, field, 0);
	pbw_varint(w, v);
}

static inline void pbw_len(struct pbw *w, uint32_t field, const void *b, size_t n)
{
	pbw_tag(w, field, 2);
	pbw_varint(w, n);
	pbw_bytes(w, b, n);
}

static inline void pbw_str(struct pbw *w, uint32_t field, const char *s)
{
	pbw_len(w, field, s, strlen(s));
}

/* Appends @p sub as field @p field and frees it. */
static inline void pbw_msg(struct pbw *w, uint32_t field, struct pbw *sub)
{
	pbw_len(w, field, sub->p, sub->len);
	free(sub->p);
	*sub = (struct pbw){0};
}

#endif
