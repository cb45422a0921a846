/**
 * @file util.c
 * Growable arrays and the model's string arena.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"

int wfs_grow(void **items, size_t *cap, size_t count, size_t extra, size_t elem)
{
	size_t need;
	if (__builtin_add_overflow(count, extra, &need))
		return -ENOMEM;
	if (need <= *cap)
		return 0;
	size_t ncap = *cap ? *cap : 16;
	while (ncap < need)
		if (__builtin_mul_overflow(ncap, 2, &ncap))
			return -ENOMEM;
	size_t bytes;
	if (__builtin_mul_overflow(ncap, elem, &bytes))
		return -ENOMEM;
	void *p = realloc(*items, bytes);
	if (p == NULL)
		return -ENOMEM;
	*items = p;
	*cap = ncap;
	return 0;
}

int wfs_strings_add(struct wfs_strings *a, const char *s, size_t len, struct wfs_str *out)
{
	size_t need;
	if (__builtin_add_overflow(len, 1, &need))
		return -ENOMEM;
	/* s may point into the arena itself, which growing moves. */
	bool inside = a->data && s >= a->data && s < a->data + a->len;
	size_t from = inside ? (size_t)(s - a->data) : 0;
	int rc = wfs_grow((void **)&a->data, &a->cap, a->len, need, 1);
	if (rc < 0)
		return rc;
	if (inside)
		s = a->data + from;
	if (len)
		memmove(a->data + a->len, s, len);
	a->data[a->len + len] = '\0';
	out->off = a->len;
	out->len = len;
	a->len += need;
	return 0;
}

int wfs_arena_add(struct wfs_model *m, const char *s, size_t len, struct wfs_str *out)
{
	struct wfs_strings a = {m->arena, m->arena_len, m->arena_cap};
	int rc = wfs_strings_add(&a, s, len, out);
	m->arena = a.data;
	m->arena_len = a.len;
	m->arena_cap = a.cap;
	return rc;
}

/* Writes v in decimal at p; returns the end. */
static char *put_decimal(char *p, uint64_t v)
{
	char digits[20];
	int n = 0;
	do
		digits[n++] = (char)('0' + v % 10);
	while ((v /= 10) != 0);
	while (n)
		*p++ = digits[--n];
	return p;
}

int wfs_arena_shape(struct wfs_model *m, const uint64_t *dims, uint32_t ndim, struct wfs_str *out)
{
	/* "[" + ndim numbers of at most 20 digits and their commas + "]" + NUL */
	if (WFS_GROW(m->arena, m->arena_cap, m->arena_len, 2 + (size_t)ndim * 21 + 1) < 0)
		return -ENOMEM;
	char *start = m->arena + m->arena_len, *p = start;
	*p++ = '[';
	for (uint32_t i = 0; i < ndim; i++) {
		if (i)
			*p++ = ',';
		p = put_decimal(p, dims[i]);
	}
	*p++ = ']';
	*p = '\0';
	out->off = m->arena_len;
	out->len = (size_t)(p - start);
	m->arena_len += out->len + 1;
	return 0;
}

size_t wfs_path_normalize(const char *path, size_t len, char *out)
{
	size_t o = 0;
	if (len && path[0] == '/') /* absolute stays absolute, to be refused */
		out[o++] = '/';
	for (size_t i = 0; i < len;) {
		const char *slash = memchr(path + i, '/', len - i);
		size_t end = slash ? (size_t)(slash - path) : len;
		size_t n = end - i;
		if (n && !(n == 1 && path[i] == '.')) {
			if (o && out[o - 1] != '/')
				out[o++] = '/';
			memcpy(out + o, path + i, n);
			o += n;
		}
		i = end + 1;
	}
	out[o] = '\0';
	return o;
}
