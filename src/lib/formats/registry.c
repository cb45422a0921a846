/**
 * @file registry.c
 * The formats weightfs reads, in the order they bid: the one table a new
 * format is added to.
 */
#include <stdio.h>
#include <string.h>

#include "format.h"

extern const struct wfs_format wfs_format_safetensors;
extern const struct wfs_format wfs_format_pytorch;
extern const struct wfs_format wfs_format_gguf;
extern const struct wfs_format wfs_format_onnx;
extern const struct wfs_format wfs_format_tfbundle;

const struct wfs_format *const wfs_formats[] = {
	&wfs_format_safetensors,
	&wfs_format_pytorch,
	&wfs_format_gguf,
	&wfs_format_onnx,
	&wfs_format_tfbundle,
	NULL,
};

const struct wfs_format *wfs_format_find(const char *name)
{
	for (size_t i = 0; wfs_formats[i]; i++)
		if (strcmp(wfs_formats[i]->name, name) == 0)
			return wfs_formats[i];
	return NULL;
}

const struct wfs_format *wfs_format_probe(const uint8_t *head, size_t len, const char *name,
					  const struct wfs_format *only)
{
	const struct wfs_format *best = NULL;
	int best_bid = 0;
	for (size_t i = 0; wfs_formats[i]; i++) {
		if (only && wfs_formats[i] != only)
			continue;
		int bid = wfs_formats[i]->probe(head, len, name);
		if (bid > best_bid) {
			best = wfs_formats[i];
			best_bid = bid;
		}
	}
	return best;
}

void wfs_format_names(char *buf, size_t cap)
{
	size_t o = 0;
	buf[0] = '\0';
	for (size_t i = 0; wfs_formats[i] && o < cap; i++) {
		int n = snprintf(buf + o, cap - o, "%s%s", i ? ", " : "", wfs_formats[i]->name);
		if (n < 0)
			break;
		o += (size_t)n;
	}
}
