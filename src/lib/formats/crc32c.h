/**
 * @file crc32c.h
 * CRC-32C (Castagnoli, reflected polynomial 0x82f63b78), as LevelDB tables
 * and TensorFlow bundles store it: zlib's crc32 is a different polynomial.
 */
#ifndef WEIGHTFS_CRC32C_H
#define WEIGHTFS_CRC32C_H

#include <stddef.h>
#include <stdint.h>

/** Continues @p crc (0 to start) over @p len bytes. */
uint32_t wfs_crc32c_extend(uint32_t crc, const void *data, size_t len);

static inline uint32_t wfs_crc32c(const void *data, size_t len)
{
	return wfs_crc32c_extend(0, data, len);
}

/** LevelDB's mask (stored CRCs are masked so a CRC of CRCs is not trivial). */
static inline uint32_t wfs_crc32c_mask(uint32_t crc)
{
	return ((crc >> 15) | (crc << 17)) + 0xa282ead8u;
}

static inline uint32_t wfs_crc32c_unmask(uint32_t masked)
{
	uint32_t rot = masked - 0xa282ead8u;
	return (rot >> 17) | (rot << 15);
}

#endif
