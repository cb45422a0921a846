/**
 * @file check.h
 * A minimal test harness: CHECK counts failures and says where they were.
 */
#ifndef WEIGHTFS_CHECK_H
#define WEIGHTFS_CHECK_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failures;
static int check_count;

#define CHECK(cond)                                                               \
	do {                                                                       \
		check_count++;                                                     \
		if (!(cond)) {                                                     \
			check_failures++;                                          \
			fprintf(stderr, "%s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond); \
		}                                                                  \
	} while (0)

#define CHECK_CONTAINS(text, fragment)                                            \
	do {                                                                       \
		const char *t_ = (text);                                           \
		check_count++;                                                     \
		if (t_ == NULL || strstr(t_, (fragment)) == NULL) {                \
			check_failures++;                                          \
			fprintf(stderr, "%s:%d: expected \"%s\" in: %s\n", __FILE__, __LINE__, \
				(fragment), t_ ? t_ : "(null)");                   \
		}                                                                  \
	} while (0)

static inline int check_report(const char *name)
{
	fprintf(stderr, "%s: %d checks, %d failed\n", name, check_count, check_failures);
	return check_failures ? 1 : 0;
}

/*
 * A safetensors file in memory: 8-byte length, @p header, then @p data_len
 * bytes where byte i is (uint8_t)i. Free with free().
 */
static inline uint8_t *st_file(const char *header, size_t data_len, size_t *size)
{
	size_t n = strlen(header);
	*size = 8 + n + data_len;
	uint8_t *buf = malloc(*size ? *size : 1);
	for (int i = 0; i < 8; i++)
		buf[i] = (uint8_t)((uint64_t)n >> (8 * i));
	memcpy(buf + 8, header, n);
	for (size_t i = 0; i < data_len; i++)
		buf[8 + n + i] = (uint8_t)i;
	return buf;
}

#endif
