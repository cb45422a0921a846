/**
 * @file slice_key.c
 * Decoding the OrderedCode slice keys of a tensor bundle (slice_key.h):
 * - an increasing number: one byte N (0..8), then N bytes big-endian;
 * - a string: bytes with 0x00 written 0x00 0xff and 0xff written 0xff 0x00,
 *   ended by 0x00 0x01;
 * - a signed increasing number: LEN bytes (1..10) whose first LEN bits are
 *   ones followed by the value in two's complement (its sign bit first);
 *   a negative value has every bit of that inverted.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "slice_key.h"

struct rd {
	const uint8_t *p, *end;
};

static int read_num(struct rd *r, uint64_t *v)
{
	if (r->p >= r->end || *r->p > 8 || (size_t)(r->end - r->p) < 1u + *r->p)
		return -1;
	unsigned n = *r->p++;
	uint64_t x = 0;
	for (unsigned i = 0; i < n; i++)
		x = x << 8 | *r->p++;
	*v = x;
	return 0;
}

static int read_signed(struct rd *r, int64_t *v)
{
	if (r->p >= r->end)
		return -1;
	uint8_t flip = (*r->p & 0x80) ? 0 : 0xff;
	size_t avail = (size_t)(r->end - r->p);
	/* the length: the leading ones of the (uninverted) bytes */
	unsigned len = 0;
	for (unsigned i = 0; i < 2 && i < avail; i++) {
		uint8_t b = r->p[i] ^ flip;
		unsigned ones = 0;
		while (ones < 8 && (b & (0x80 >> ones)))
			ones++;
		len += ones;
		if (ones < 8)
			break;
	}
	if (len < 1 || len > 10 || len > avail)
		return -1;
	uint64_t x = 0;
	for (unsigned bit = len; bit < 8 * len; bit++) {
		unsigned b = ((r->p[bit / 8] ^ flip) >> (7 - bit % 8)) & 1;
		if (x >> 62) /* the value would pass 2^63 - 1 */
			return -1;
		x = x << 1 | b;
	}
	r->p += len;
	*v = flip ? (int64_t)~x : (int64_t)x;
	return 0;
}

const char *wfs_tf_decode_slice_key(const uint8_t *key, size_t len, struct wfs_tf_slice_key *k)
{
	memset(k, 0, sizeof(*k));
	struct rd r = {key, key + len};
	uint64_t zero, ndim;
	if (read_num(&r, &zero) < 0 || zero != 0)
		return "a slice key that does not start with 0";
	uint8_t *name = malloc(len ? len : 1);
	if (name == NULL)
		return "out of memory";
	size_t n = 0;
	for (;;) {
		if (r.end - r.p < 2) {
			free(name);
			return "a slice key whose name is not terminated";
		}
		uint8_t a = r.p[0], b = r.p[1];
		if (a == 0x00 && b == 0x01) {
			r.p += 2;
			break;
		}
		if (a == 0x00 || a == 0xff) {
			if ((a == 0x00 && b != 0xff) || (a == 0xff && b != 0x00)) {
				free(name);
				return "a slice key with a bad escape in its name";
			}
			name[n++] = a;
			r.p += 2;
		} else {
			name[n++] = a;
			r.p++;
		}
	}
	if (read_num(&r, &ndim) < 0 || ndim > WFS_TF_MAX_DIMS) {
		free(name);
		return "a slice key with a bad number of dims";
	}
	for (uint32_t d = 0; d < ndim; d++) {
		struct wfs_tf_extent *e = &k->extent[d];
		if (read_signed(&r, &e->start) < 0 || read_signed(&r, &e->length) < 0 || e->start < 0 ||
		    e->length < -1 || (e->length == -1 && e->start != 0)) {
			free(name);
			return "a slice key with a bad extent";
		}
	}
	if (r.p != r.end) {
		free(name);
		return "a slice key with bytes after its extents";
	}
	k->name = name;
	k->name_len = n;
	k->ndim = (uint32_t)ndim;
	return NULL;
}

size_t wfs_tf_slice_spec(const struct wfs_tf_slice_key *k, char *out, size_t cap)
{
	size_t o = 0;
	out[0] = '\0';
	for (uint32_t d = 0; d < k->ndim && o < cap; d++) {
		int w;
		if (k->extent[d].length == -1)
			w = snprintf(out + o, cap - o, "%s-", d ? ":" : "");
		else
			w = snprintf(out + o, cap - o, "%s%lld,%lld", d ? ":" : "", (long long)k->extent[d].start,
				     (long long)k->extent[d].length);
		if (w < 0 || (size_t)w >= cap - o)
			break;
		o += (size_t)w;
	}
	return o;
}
