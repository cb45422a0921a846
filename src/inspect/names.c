/**
 * @file names.c
 * Natural sort and glob selection of tensor names.
 */
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "names.h"

static int is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

int nat_cmp(const char *a, size_t na, const char *b, size_t nb)
{
	size_t i = 0, j = 0;
	int tie = 0; /* the first difference in leading zeros, if nothing else differs */
	while (i < na && j < nb) {
		unsigned char ca = (unsigned char)a[i], cb = (unsigned char)b[j];
		if (!is_digit(ca) || !is_digit(cb)) {
			if (ca != cb)
				return ca < cb ? -1 : 1;
			i++;
			j++;
			continue;
		}
		size_t zi = i, zj = j;
		while (zi < na && a[zi] == '0')
			zi++;
		while (zj < nb && b[zj] == '0')
			zj++;
		size_t ei = zi, ej = zj;
		while (ei < na && is_digit((unsigned char)a[ei]))
			ei++;
		while (ej < nb && is_digit((unsigned char)b[ej]))
			ej++;
		/* Without leading zeros, the longer run is the larger number. */
		if (ei - zi != ej - zj)
			return ei - zi < ej - zj ? -1 : 1;
		int c = memcmp(a + zi, b + zj, ei - zi);
		if (c)
			return c < 0 ? -1 : 1;
		if (tie == 0 && zi - i != zj - j)
			tie = zi - i < zj - j ? -1 : 1;
		i = ei;
		j = ej;
	}
	if (i < na || j < nb)
		return i < na ? 1 : -1;
	return tie;
}

static int cmp_index(const void *x, const void *y, void *ctx)
{
	const struct wfs_model *m = ctx;
	const struct wfs_tensor *a = &m->tensors[*(const size_t *)x], *b = &m->tensors[*(const size_t *)y];
	return nat_cmp(wfs_model_str(m, a->name), a->name.len, wfs_model_str(m, b->name), b->name.len);
}

int select_tensors(const struct wfs_model *m, char *const *globs, size_t nglobs,
		   size_t **out, size_t *count, unsigned char *matched)
{
	size_t *idx = malloc((m->ntensors ? m->ntensors : 1) * sizeof(*idx)), n = 0;
	if (idx == NULL)
		return -ENOMEM;
	for (size_t t = 0; t < m->ntensors; t++) {
		const char *name = wfs_model_str(m, m->tensors[t].name);
		bool take = nglobs == 0;
		for (size_t g = 0; g < nglobs; g++) {
			if (strcmp(globs[g], name) == 0 || fnmatch(globs[g], name, 0) == 0) {
				take = true;
				if (matched)
					matched[g] = 1;
			}
		}
		if (take)
			idx[n++] = t;
	}
	qsort_r(idx, n, sizeof(*idx), cmp_index, (void *)m);
	*out = idx;
	*count = n;
	return 0;
}
