/**
 * @file dtype.c
 * Names and sizes of the safetensors element types.
 */
#include <string.h>

#include "internal.h"
#include "weightfs/dtype.h"

static const struct {
	const char *name;
	unsigned bits;
} dtypes[WFS_DT_COUNT] = {
	[WFS_DT_BOOL] = {"BOOL", 8},
	[WFS_DT_U8] = {"U8", 8},
	[WFS_DT_I8] = {"I8", 8},
	[WFS_DT_F8_E5M2] = {"F8_E5M2", 8},
	[WFS_DT_F8_E4M3] = {"F8_E4M3", 8},
	[WFS_DT_F8_E8M0] = {"F8_E8M0", 8},
	[WFS_DT_F8_E4M3FNUZ] = {"F8_E4M3FNUZ", 8},
	[WFS_DT_F8_E5M2FNUZ] = {"F8_E5M2FNUZ", 8},
	[WFS_DT_I16] = {"I16", 16},
	[WFS_DT_U16] = {"U16", 16},
	[WFS_DT_F16] = {"F16", 16},
	[WFS_DT_BF16] = {"BF16", 16},
	[WFS_DT_I32] = {"I32", 32},
	[WFS_DT_U32] = {"U32", 32},
	[WFS_DT_F32] = {"F32", 32},
	[WFS_DT_I64] = {"I64", 64},
	[WFS_DT_U64] = {"U64", 64},
	[WFS_DT_F64] = {"F64", 64},
	[WFS_DT_C64] = {"C64", 64},
	[WFS_DT_F4] = {"F4", 4},
	[WFS_DT_F6_E2M3] = {"F6_E2M3", 6},
	[WFS_DT_F6_E3M2] = {"F6_E3M2", 6},
};

const char *wfs_dtype_name(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT ? dtypes[dt].name : "?";
}

unsigned wfs_dtype_bits(enum wfs_dtype dt)
{
	return (unsigned)dt < WFS_DT_COUNT ? dtypes[dt].bits : 0;
}

int wfs_dtype_parse(const char *name, size_t len, enum wfs_dtype *out)
{
	for (unsigned i = 0; i < WFS_DT_COUNT; i++) {
		if (strlen(dtypes[i].name) == len && memcmp(dtypes[i].name, name, len) == 0) {
			*out = (enum wfs_dtype)i;
			return 0;
		}
	}
	return -EINVAL;
}
