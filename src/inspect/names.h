/**
 * @file names.h
 * Natural order of tensor names and selection by shell glob.
 */
#ifndef INSPECT_NAMES_H
#define INSPECT_NAMES_H

#include <stddef.h>

#include "weightfs/model.h"

/**
 * Natural order: runs of ASCII digits compare as numbers ("layers.2" before
 * "layers.10"), everything else bytewise. A total order: names that differ
 * only in leading zeros are ordered by them ("a1" before "a01"), so it is 0
 * only for equal names.
 */
int nat_cmp(const char *a, size_t alen, const char *b, size_t blen);

/**
 * The indices of the tensors of @p m whose names match at least one of the
 * @p nglobs shell patterns (fnmatch(3) without flags: '*' also matches '.';
 * a pattern also matches the name equal to it), all tensors when @p nglobs
 * is 0, in natural order. Returns 0 and a malloc'd array, or -ENOMEM.
 * @p matched (nglobs entries, may be NULL) is set to 1 for every glob that
 * matched a tensor.
 */
int select_tensors(const struct wfs_model *m, char *const *globs, size_t nglobs,
		   size_t **out, size_t *count, unsigned char *matched);

#endif
