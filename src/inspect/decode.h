/**
 * @file decode.h
 * weightfs-inspect's names for the library's element decoders
 * (weightfs/decode.h): one implementation of every dtype, shared with the
 * mount's typed views.
 */
#ifndef INSPECT_DECODE_H
#define INSPECT_DECODE_H

#include "weightfs/decode.h"

#define DEC_FLOAT WFS_DEC_FLOAT
#define DEC_SIGNED WFS_DEC_SIGNED
#define DEC_UNSIGNED WFS_DEC_UNSIGNED
#define DEC_BOOL WFS_DEC_BOOL
#define DEC_COMPLEX WFS_DEC_COMPLEX
#define dec_kind wfs_dec_kind
#define dec_group wfs_dec_group
#define dec_byte_offset wfs_dec_byte_offset
#define dec_decode wfs_dec_decode
#define dec_narrow wfs_dec_narrow
#define dec_decode_f wfs_dec_decode_f
#define dec_signed wfs_dec_signed
#define dec_unsigned wfs_dec_unsigned

/** The library's tables are constant: nothing to build. */
static inline void dec_init(void)
{
}

#endif
