/**
 * @file sha256.h
 * SHA-256 (FIPS 180-4), incremental.
 */
#ifndef INSPECT_SHA256_H
#define INSPECT_SHA256_H

#include <stddef.h>
#include <stdint.h>

struct sha256 {
	uint32_t h[8];
	uint64_t bytes;  /**< message length so far */
	uint8_t buf[64]; /**< a partial block */
	size_t fill;
};

void sha256_init(struct sha256 *c);
void sha256_update(struct sha256 *c, const void *data, size_t len);
void sha256_final(struct sha256 *c, uint8_t digest[32]);

/**
 * Which block function is used: -1 the SHA extensions when the CPU has
 * them (the default), 0 portable C. For the tests.
 */
void sha256_hw(int level);

/** Lowercase hexadecimal, NUL-terminated. */
void sha256_hex(const uint8_t digest[32], char out[65]);

#endif
