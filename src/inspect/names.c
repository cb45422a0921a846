/**
 * @file names.c
 * Natural sort and glob selection of tensor names.
 */
#include <errno.h>
#include <stdbool.h>
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
	if (a->group != b->group) /* one file's model after another (subdirectories of the mount) */
		return a->group < b->group ? -1 : 1;
	return nat_cmp(wfs_model_str(m, a->name), a->name.len, wfs_model_str(m, b->name), b->name.len);
}

/* Whether a glob has no unescaped '*', '?' or '['; then it can match at most two names. */
static bool is_literal(const char *g)
{
	for (; *g; g++) {
		if (*g == '\\' && g[1]) {
			g++;
			continue;
		}
		if (*g == '*' || *g == '?' || *g == '[')
			return false;
	}
	return true;
}

/* Marks the tensor named exactly @p name, if any; true when there is one. */
static bool mark_name(const struct wfs_model *m, const char *name, size_t len, unsigned char *take)
{
	ssize_t t = wfs_model_find(m, name, len);
	if (t >= 0)
		take[t] = 1;
	return t >= 0;
}

int select_tensors(const struct wfs_model *m, char *const *globs, size_t nglobs,
		   size_t **out, size_t *count, unsigned char *matched)
{
	size_t *idx = malloc((m->ntensors ? m->ntensors : 1) * sizeof(*idx)), n = 0;
	unsigned char *take = calloc(m->ntensors ? m->ntensors : 1, 1);
	char **patterns = malloc((nglobs ? nglobs : 1) * sizeof(*patterns));
	size_t *pattern_glob = malloc((nglobs ? nglobs : 1) * sizeof(*pattern_glob)), npatterns = 0;
	if (idx == NULL || take == NULL || patterns == NULL || pattern_glob == NULL) {
		free(idx);
		free(take);
		free(patterns);
		free(pattern_glob);
		return -ENOMEM;
	}
	/*
	 * A literal glob (every exact name inside a weightfs mount becomes one)
	 * is looked up by binary search: thousands of them against thousands of
	 * tensors would otherwise be millions of fnmatch calls. It matches the
	 * name equal to it and the name with its escapes removed, as fnmatch would.
	 */
	for (size_t g = 0; g < nglobs; g++) {
		if (!is_literal(globs[g])) {
			patterns[npatterns] = globs[g];
			pattern_glob[npatterns++] = g;
			continue;
		}
		size_t len = strlen(globs[g]), o = 0;
		bool found = mark_name(m, globs[g], len, take);
		char *plain = malloc(len + 1);
		if (plain) {
			for (size_t i = 0; i < len; i++)
				plain[o++] = globs[g][i] == '\\' && i + 1 < len ? globs[g][++i] : globs[g][i];
			found |= mark_name(m, plain, o, take);
			free(plain);
		}
		if (found && matched)
			matched[g] = 1;
	}
	for (size_t t = 0; t < m->ntensors; t++) {
		const char *name = wfs_model_str(m, m->tensors[t].name);
		bool selected = nglobs == 0 || take[t];
		for (size_t p = 0; p < npatterns; p++) {
			if (strcmp(patterns[p], name) == 0 || fnmatch(patterns[p], name, 0) == 0) {
				selected = true;
				if (matched)
					matched[pattern_glob[p]] = 1;
			}
		}
		if (selected)
			idx[n++] = t;
	}
	free(take);
	free(patterns);
	free(pattern_glob);
	qsort_r(idx, n, sizeof(*idx), cmp_index, (void *)m);
	*out = idx;
	*count = n;
	return 0;
}
