/**
 * @file views.h
 * Typed views: what a tensor file shows (-o view=raw|npy|f32).
 *
 * - raw: the tensor's stored bytes (the default).
 * - npy: a NAME.npy file, NPY format 1.0 (2.0 when the header needs more
 *   than 65535 bytes): dtype, fortran_order False, the row-major shape, the
 *   header padded with spaces so the data starts at a multiple of 64.
 *   Types numpy has keep their stored bytes; the others are decoded (see
 *   wfs_tensor_shown()); a type that is not decoded is shown as a uint8
 *   array of its stored bytes, shape [nbytes].
 * - f32: raw little-endian float32 (no header) for every floating type;
 *   integers, BOOL, complex and types not decoded keep their bytes.
 *
 * A view is a presentation step: the model is unchanged; the namespace
 * (wfs_namespace_build_view) gives tensor files their names and sizes in
 * the view, and wfs_node_read() reads any byte range of them, decoding
 * only the blocks the range covers.
 */
#ifndef WEIGHTFS_VIEWS_H
#define WEIGHTFS_VIEWS_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "weightfs/model.h"

enum wfs_view_mode { WFS_VIEW_RAW, WFS_VIEW_NPY, WFS_VIEW_F32 };

struct wfs_view_options {
	enum wfs_view_mode mode;
	bool npy_f16; /**< -o npy_float=f16: decode to float16 where every value is one exactly */
};

/** Parses "raw", "npy" or "f32"; 0 or -EINVAL. */
int wfs_view_mode_parse(const char *name, enum wfs_view_mode *out);

/** Parses the value of npy_float= ("f32" or "f16"); 0 or -EINVAL. */
int wfs_view_npy_float_parse(const char *name, bool *f16);

/** How one tensor appears in a view. */
struct wfs_tensor_shown {
	enum wfs_dtype dtype;  /**< the file's element type: F32, F16, I8, U8, or the stored dtype */
	bool decoded;          /**< decoded on read from the stored dtype */
	bool bytes;            /**< npy: not decoded, shown as uint8 of the stored bytes */
	uint64_t header;       /**< bytes of NPY header before the data (0 unless npy) */
	uint64_t size;         /**< the file's size */
};

/** Fills @p out for tensor @p t of @p m in view @p v. */
void wfs_tensor_shown(const struct wfs_view_options *v, const struct wfs_model *m,
		      const struct wfs_tensor *t, struct wfs_tensor_shown *out);

/** Scratch bytes wfs_node_read() uses after the @c len bytes it returns. */
#define WFS_VIEW_SCRATCH ((64u << 10) + 64u)

/**
 * Reads @p len bytes at @p off of tensor @p t as view @p v shows it,
 * clipped at the end of the file. @p buf must hold len + WFS_VIEW_SCRATCH
 * bytes: the bytes after the first len are scratch (a per-thread buffer is
 * meant: this takes no lock and allocates nothing). Returns the number of
 * bytes, or a negative errno (-EIO when the shard no longer holds them).
 */
ssize_t wfs_view_read(const struct wfs_view_options *v, const struct wfs_model *m,
		      const struct wfs_tensor *t, void *buf, size_t len, uint64_t off);

#endif
