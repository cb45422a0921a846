/**
 * @file dtype.h
 * The element types of the safetensors specification.
 */
#ifndef WEIGHTFS_DTYPE_H
#define WEIGHTFS_DTYPE_H

#include <stddef.h>

enum wfs_dtype {
	WFS_DT_BOOL,
	WFS_DT_U8,
	WFS_DT_I8,
	WFS_DT_F8_E5M2,
	WFS_DT_F8_E4M3,
	WFS_DT_F8_E8M0,
	WFS_DT_F8_E4M3FNUZ,
	WFS_DT_F8_E5M2FNUZ,
	WFS_DT_I16,
	WFS_DT_U16,
	WFS_DT_F16,
	WFS_DT_BF16,
	WFS_DT_I32,
	WFS_DT_U32,
	WFS_DT_F32,
	WFS_DT_I64,
	WFS_DT_U64,
	WFS_DT_F64,
	WFS_DT_C64,
	WFS_DT_F4,
	WFS_DT_F6_E2M3,
	WFS_DT_F6_E3M2,
	WFS_DT_COUNT
};

/** The name as written in a safetensors header ("BF16"). */
const char *wfs_dtype_name(enum wfs_dtype dt);

/** Bits per element (4 for F4, 6 for the F6 types). */
unsigned wfs_dtype_bits(enum wfs_dtype dt);

/** Finds a dtype by its exact (case-sensitive) name; 0 or -EINVAL. */
int wfs_dtype_parse(const char *name, size_t len, enum wfs_dtype *out);

#endif
