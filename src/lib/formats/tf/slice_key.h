/**
 * @file slice_key.h
 * The keys under which a tensor bundle stores the slices of a partitioned
 * variable: TensorFlow's OrderedCode encoding of (0, name, number of
 * dims, start and length of each dim), which sorts before every plain
 * name (it starts with a 0 byte). Decoded here so each slice can be shown
 * as a tensor of its own.
 */
#ifndef WEIGHTFS_TF_SLICE_KEY_H
#define WEIGHTFS_TF_SLICE_KEY_H

#include <stddef.h>
#include <stdint.h>

#include "bundle.h"

struct wfs_tf_slice_key {
	uint8_t *name;       /**< the variable's name (malloc'd, unescaped), name_len bytes */
	size_t name_len;
	uint32_t ndim;
	struct wfs_tf_extent extent[WFS_TF_MAX_DIMS]; /**< length -1: the whole dimension */
};

/**
 * Decodes a slice key. Returns NULL with *k set (free k->name), or what is
 * wrong (static text).
 */
const char *wfs_tf_decode_slice_key(const uint8_t *key, size_t len, struct wfs_tf_slice_key *k);

/**
 * TensorFlow's text of a slice: "start,length" per dim, "-" for a whole
 * one, joined by ':' ("0,10:-"). Writes at most @p cap bytes; returns the length.
 */
size_t wfs_tf_slice_spec(const struct wfs_tf_slice_key *k, char *out, size_t cap);

#endif
