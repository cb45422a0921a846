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

/*
 * The whole file DIR/NAME (NAME alone when DIR is NULL) in malloc'ed
 * memory, its size in *len. A test whose data cannot be read fails: this
 * says which file and exits 2.
 */
static inline uint8_t *check_read_file(const char *dir, const char *name, size_t *len)
{
	char path[4096];
	snprintf(path, sizeof(path), "%s%s%s", dir ? dir : "", dir ? "/" : "", name);
	FILE *f = fopen(path, "rb");
	long n = -1;
	if (f != NULL && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		uint8_t *buf = malloc((size_t)n + 1);
		if (buf != NULL && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			fclose(f);
			*len = (size_t)n;
			return buf;
		}
		free(buf);
	}
	fprintf(stderr, "cannot read %s\n", path);
	exit(2);
}

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
