/**
 * @file gguf_build.h
 * Writes small GGUF files in memory for tests (little-endian, the layout
 * of ggml's docs/gguf.md).
 */
#ifndef WEIGHTFS_TEST_GGUF_BUILD_H
#define WEIGHTFS_TEST_GGUF_BUILD_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct gb {
	uint8_t *p;
	size_t len, cap;
};

static inline void gb_bytes(struct gb *b, const void *s, size_t n)
{
	if (n == 0) /* memcpy must not see a NULL buffer, even for 0 bytes */
		return;
	if (b->len + n > b->cap) {
		b->cap = (b->len + n) * 2 + 64;
		b->p = realloc(b->p, b->cap);
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
}

static inline void gb_u8(struct gb *b, uint8_t v) { gb_bytes(b, &v, 1); }

static inline void gb_u32(struct gb *b, uint32_t v)
{
	uint8_t x[4] = {(uint8_t)v, (uint8_t)(v >> 8), (uint8_t)(v >> 16), (uint8_t)(v >> 24)};
	gb_bytes(b, x, 4);
}

static inline void gb_u64(struct gb *b, uint64_t v)
{
	gb_u32(b, (uint32_t)v);
	gb_u32(b, (uint32_t)(v >> 32));
}

static inline void gb_str(struct gb *b, const char *s)
{
	gb_u64(b, strlen(s));
	gb_bytes(b, s, strlen(s));
}

/* magic, version, counts */
static inline void gb_header(struct gb *b, uint32_t version, uint64_t n_tensors, uint64_t n_kv)
{
	gb_bytes(b, "GGUF", 4);
	gb_u32(b, version);
	gb_u64(b, n_tensors);
	gb_u64(b, n_kv);
}

static inline void gb_kv_u32(struct gb *b, const char *key, uint32_t v)
{
	gb_str(b, key);
	gb_u32(b, 4);
	gb_u32(b, v);
}

static inline void gb_kv_str(struct gb *b, const char *key, const char *v)
{
	gb_str(b, key);
	gb_u32(b, 8);
	gb_str(b, v);
}

/* A 1- or 2-dimensional tensor info. */
static inline void gb_tensor(struct gb *b, const char *name, uint64_t ne0, uint64_t ne1, uint32_t type, uint64_t offset)
{
	gb_str(b, name);
	gb_u32(b, ne1 ? 2 : 1);
	gb_u64(b, ne0);
	if (ne1)
		gb_u64(b, ne1);
	gb_u32(b, type);
	gb_u64(b, offset);
}

/* Zero padding to a multiple of @p align, then @p n data bytes (byte i is i). */
static inline void gb_data(struct gb *b, size_t align, size_t n)
{
	while (b->len % align)
		gb_u8(b, 0);
	for (size_t i = 0; i < n; i++)
		gb_u8(b, (uint8_t)i);
}

#endif
