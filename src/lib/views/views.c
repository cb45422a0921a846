/**
 * @file views.c
 * Typed views (weightfs/views.h): which dtype each tensor file shows, the
 * NPY header, and reading any byte range of a decoded file.
 *
 * Nothing is stored per tensor: the header is a pure function of dtype and
 * shape, produced on demand for the bytes a read asks for. A read of bytes
 * [a, b) of a decoded file reads the stored blocks that cover it, a chunk
 * of at most 64 KiB at a time into the caller's scratch, and decodes them
 * straight into the reply buffer; only a block cut by either end of the
 * range goes through a small buffer on the stack.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "weightfs/decode.h"
#include "weightfs/views.h"

int wfs_view_mode_parse(const char *name, enum wfs_view_mode *out)
{
	static const char *const names[] = {"raw", "npy", "f32"};
	for (int i = 0; i < 3; i++) {
		if (strcmp(name, names[i]) == 0) {
			*out = (enum wfs_view_mode)i;
			return 0;
		}
	}
	return -EINVAL;
}

int wfs_view_npy_float_parse(const char *name, bool *f16)
{
	if (strcmp(name, "f32") != 0 && strcmp(name, "f16") != 0)
		return -EINVAL;
	*f16 = name[1] == '1';
	return 0;
}

/* The NPY descr of a type numpy has, or NULL. */
static const char *npy_descr(enum wfs_dtype dt)
{
	switch (dt) {
	case WFS_DT_BOOL: return "|b1";
	case WFS_DT_U8: return "|u1";
	case WFS_DT_I8: return "|i1";
	case WFS_DT_I16: return "<i2";
	case WFS_DT_U16: return "<u2";
	case WFS_DT_F16: return "<f2";
	case WFS_DT_I32: return "<i4";
	case WFS_DT_U32: return "<u4";
	case WFS_DT_F32: return "<f4";
	case WFS_DT_I64: return "<i8";
	case WFS_DT_U64: return "<u8";
	case WFS_DT_F64: return "<f8";
	case WFS_DT_C64: return "<c8";
	case WFS_DT_C128: return "<c16";
	default: return NULL;
	}
}

/* Bytes of one element of a type the views write (a byte-sized type). */
static unsigned elem_bytes(enum wfs_dtype dt)
{
	return wfs_dtype_block_bytes(dt) / wfs_dtype_block_elems(dt);
}

static bool floating(enum wfs_dtype dt)
{
	return wfs_dec_kind(dt) == WFS_DEC_FLOAT;
}

static uint64_t numel(const struct wfs_model *m, const struct wfs_tensor *t)
{
	uint64_t n = 1;
	for (uint32_t i = 0; i < t->ndim; i++)
		n *= m->dims[t->dims + i]; /* cannot overflow: checked when the model was opened */
	return n;
}

static unsigned digits(uint64_t v)
{
	unsigned d = 1;
	while (v >= 10) {
		v /= 10;
		d++;
	}
	return d;
}

#define DICT_HEAD "{'descr': '"
#define DICT_MID "', 'fortran_order': False, 'shape': ("
#define DICT_TAIL "), }"

/* The dictionary's length without padding and newline. */
static uint64_t dict_len(const char *descr, const struct wfs_model *m, const struct wfs_tensor *t,
			 bool bytes)
{
	uint64_t len = strlen(DICT_HEAD) + strlen(descr) + strlen(DICT_MID) + strlen(DICT_TAIL);
	if (bytes)
		return len + digits(t->nbytes) + 1; /* "(N,)" */
	for (uint32_t i = 0; i < t->ndim; i++)
		len += digits(m->dims[t->dims + i]) + (i ? 2 : 0); /* ", " between */
	return len + (t->ndim == 1); /* "(N,)" */
}

/* Whole header: preamble (10 bytes in 1.0, 12 in 2.0), dictionary, spaces, '\n', a multiple of 64. */
static uint64_t header_len(uint64_t dict, unsigned *preamble)
{
	uint64_t total = (10 + dict + 1 + 63) / 64 * 64;
	*preamble = 10;
	if (total - 10 > 65535) {
		total = (12 + dict + 1 + 63) / 64 * 64;
		*preamble = 12;
	}
	return total;
}

void wfs_tensor_shown(const struct wfs_view_options *v, const struct wfs_model *m,
		      const struct wfs_tensor *t, struct wfs_tensor_shown *out)
{
	enum wfs_dtype dt = t->dtype;
	*out = (struct wfs_tensor_shown){.dtype = dt, .size = t->nbytes};
	if (v == NULL || v->mode == WFS_VIEW_RAW)
		return;
	if (v->mode == WFS_VIEW_F32) {
		if (floating(dt) && dt != WFS_DT_F32 && wfs_decode_supported(dt, WFS_DT_F32))
			out->dtype = WFS_DT_F32;
	} else if (npy_descr(dt) == NULL) {
		if (dt == WFS_DT_I4 || dt == WFS_DT_U4)
			out->dtype = dt == WFS_DT_I4 ? WFS_DT_I8 : WFS_DT_U8;
		else if (v->npy_f16 && wfs_decode_supported(dt, WFS_DT_F16))
			out->dtype = WFS_DT_F16;
		else if (wfs_decode_supported(dt, WFS_DT_F32))
			out->dtype = WFS_DT_F32;
		else
			out->bytes = true, out->dtype = WFS_DT_U8;
	}
	out->decoded = !out->bytes && out->dtype != dt;
	uint64_t data = t->nbytes;
	if (out->decoded && __builtin_mul_overflow(numel(m, t), (uint64_t)elem_bytes(out->dtype), &data)) {
		/* more than 2^64 bytes decoded: show the stored bytes instead */
		out->dtype = v->mode == WFS_VIEW_NPY ? WFS_DT_U8 : dt;
		out->bytes = v->mode == WFS_VIEW_NPY;
		out->decoded = false;
		data = t->nbytes;
	}
	if (v->mode == WFS_VIEW_NPY) {
		unsigned pre;
		out->header = header_len(dict_len(npy_descr(out->dtype), m, t, out->bytes), &pre);
	}
	if (__builtin_add_overflow(out->header, data, &out->size))
		out->size = UINT64_MAX; /* cannot happen: headers are small */
}

/* ---- the NPY header, any byte range of it ---------------------------------- */

/* Writes the bytes [a, b) of a stream it is given piece by piece. */
struct piece_writer {
	char *dst;
	uint64_t pos, a, b;
};

static void put(struct piece_writer *w, const char *s, uint64_t n)
{
	uint64_t lo = w->pos > w->a ? w->pos : w->a, hi = w->pos + n < w->b ? w->pos + n : w->b;
	if (lo < hi)
		memcpy(w->dst + (lo - w->a), s + (lo - w->pos), (size_t)(hi - lo));
	w->pos += n;
}

static void put_str(struct piece_writer *w, const char *s)
{
	put(w, s, strlen(s));
}

static void put_u64(struct piece_writer *w, uint64_t v)
{
	char num[24];
	int n = snprintf(num, sizeof(num), "%" PRIu64, v);
	put(w, num, (uint64_t)n);
}

/* Bytes [a, b) of the header of @p t as shown by @p s, into dst. */
static void npy_header(const struct wfs_model *m, const struct wfs_tensor *t, const struct wfs_tensor_shown *s,
		       char *dst, uint64_t a, uint64_t b)
{
	struct piece_writer w = {dst, 0, a, b};
	const char *descr = npy_descr(s->dtype);
	unsigned pre;
	uint64_t dict = dict_len(descr, m, t, s->bytes);
	uint64_t total = header_len(dict, &pre);
	uint64_t hlen = total - pre;
	unsigned char preamble[12] = {0x93, 'N', 'U', 'M', 'P', 'Y', pre == 10 ? 1 : 2, 0};
	for (unsigned i = 0; i < pre - 8; i++)
		preamble[8 + i] = (unsigned char)(hlen >> (8 * i));
	put(&w, (const char *)preamble, pre);
	put_str(&w, DICT_HEAD);
	put_str(&w, descr);
	put_str(&w, DICT_MID);
	if (s->bytes) {
		put_u64(&w, t->nbytes);
		put_str(&w, ",");
	} else {
		for (uint32_t i = 0; i < t->ndim; i++) {
			if (i)
				put_str(&w, ", ");
			put_u64(&w, m->dims[t->dims + i]);
		}
		if (t->ndim == 1)
			put_str(&w, ",");
	}
	put_str(&w, DICT_TAIL);
	static const char spaces[64] = "                                                                ";
	uint64_t pad = total - pre - dict - 1;
	while (pad) { /* pad < 64 */
		uint64_t n = pad < sizeof(spaces) ? pad : sizeof(spaces);
		put(&w, spaces, n);
		pad -= n;
	}
	put_str(&w, "\n");
}

/* ---- decoding a byte range ------------------------------------------------------ */

/*
 * Decodes blocks [b0, b1) (their stored bytes at src) and copies the part
 * of their output that lies in [lo, hi) (data offsets) to dst, which holds
 * data offset lo. Goes through a stack buffer a few blocks at a time.
 */
static int decode_copy(enum wfs_dtype from, enum wfs_dtype to, const uint8_t *src, uint64_t b0, uint64_t b1,
		       uint64_t lo, uint64_t hi, char *dst)
{
	_Alignas(64) unsigned char tmp[4096];
	uint64_t bo = (uint64_t)wfs_dtype_block_elems(from) * elem_bytes(to);
	size_t per = sizeof(tmp) / bo, bb = wfs_dtype_block_bytes(from);
	for (uint64_t k = b0; k < b1;) {
		size_t nb = b1 - k < per ? (size_t)(b1 - k) : per;
		if (wfs_decode_blocks(from, to, src + (k - b0) * bb, nb, tmp) < 0)
			return -EIO;
		uint64_t s = k * bo, e = (k + nb) * bo;
		uint64_t from_ = s > lo ? s : lo, to_ = e < hi ? e : hi;
		if (from_ < to_)
			memcpy(dst + (from_ - lo), tmp + (from_ - s), (size_t)(to_ - from_));
		k += nb;
	}
	return 0;
}

/* Data bytes [lo, hi) of a decoded tensor into dst; scratch holds WFS_VIEW_SCRATCH - 64 bytes, aligned. */
static int read_decoded(const struct wfs_model *m, const struct wfs_tensor *t, enum wfs_dtype to, char *dst,
			uint64_t lo, uint64_t hi, uint8_t *scratch)
{
	enum wfs_dtype from = t->dtype;
	uint64_t eb = elem_bytes(to);
	uint64_t bo = (uint64_t)wfs_dtype_block_elems(from) * eb, bb = wfs_dtype_block_bytes(from);
	uint64_t first = lo / bo, end = (hi + bo - 1) / bo;
	uint64_t per = (WFS_VIEW_SCRATCH - 64) / bb;
	/* Decoding in place needs dst aligned for the output type. */
	bool direct = ((uintptr_t)dst - lo) % eb == 0;
	for (uint64_t c = first; c < end;) {
		uint64_t nb = end - c < per ? end - c : per;
		size_t want = (size_t)(nb * bb);
		ssize_t got = wfs_tensor_read(m, t, scratch, want, c * bb);
		if (got != (ssize_t)want)
			return got < 0 ? (int)got : -EIO;
		/* Whole blocks inside [lo, hi) go straight to dst. */
		uint64_t w0 = c, w1 = c + nb;
		if (w0 * bo < lo)
			w0++;
		if (w1 * bo > hi)
			w1--;
		int rc = 0;
		if (direct && w0 < w1) {
			if (c < w0)
				rc = decode_copy(from, to, scratch, c, w0, lo, hi, dst);
			if (rc == 0 && wfs_decode_blocks(from, to, scratch + (w0 - c) * bb, (size_t)(w1 - w0),
							 dst + (w0 * bo - lo)) < 0)
				rc = -EIO;
			if (rc == 0 && w1 < c + nb)
				rc = decode_copy(from, to, scratch + (w1 - c) * bb, w1, c + nb, lo, hi, dst);
		} else {
			rc = decode_copy(from, to, scratch, c, c + nb, lo, hi, dst);
		}
		if (rc < 0)
			return rc;
		c += nb;
	}
	return 0;
}

ssize_t wfs_view_read(const struct wfs_view_options *v, const struct wfs_model *m,
		      const struct wfs_tensor *t, void *buf, size_t len, uint64_t off)
{
	struct wfs_tensor_shown s;
	wfs_tensor_shown(v, m, t, &s);
	if (off >= s.size)
		return 0;
	if (len > s.size - off)
		len = (size_t)(s.size - off);
	char *dst = buf;
	size_t done = 0;
	if (off < s.header) {
		done = s.header - off < len ? (size_t)(s.header - off) : len;
		npy_header(m, t, &s, dst, off, off + done);
	}
	if (done == len)
		return (ssize_t)len;
	uint64_t lo = off + done - s.header, hi = off + len - s.header;
	if (!s.decoded) {
		ssize_t got = wfs_tensor_read(m, t, dst + done, len - done, lo);
		if (got < 0)
			return got;
		return got == (ssize_t)(len - done) ? (ssize_t)len : -EIO;
	}
	uint8_t *scratch = (uint8_t *)dst + len;
	scratch += (64 - (uintptr_t)scratch % 64) % 64;
	int rc = read_decoded(m, t, s.dtype, dst + done, lo, hi, scratch);
	return rc < 0 ? rc : (ssize_t)len;
}
