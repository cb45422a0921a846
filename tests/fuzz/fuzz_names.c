/**
 * @file fuzz_names.c
 * libFuzzer harness: the name-to-path mapping. The input is a list of tensor
 * names separated by NUL bytes (names never contain NUL: such models are
 * rejected before any path is made).
 *
 * Each name goes through wfs_component_encode: the result is a valid file
 * name (1..255 bytes, no '/', not "." or ".."), decodes back to the name
 * unless it is a hashed long name, and a hashed name keeps at most 237 bytes
 * cut at a character boundary. Encodings of distinct names differ (checked
 * pairwise for the first names). Then the first 64 names become the tensors
 * of a model whose namespace is built and checked (fuzz_check.h) in one
 * layout, chosen by the input's length: every path decodes back to its
 * tensor's name, so no two tensors share one.
 */
#include "fuzz_check.h"

#include "weightfs/model.h"

#define MAX_NAMES 4096
#define PAIRWISE 64
/* Names made into a model: more add time, not paths the builder has not seen. */
#define MODEL_NAMES 64

struct name {
	const char *p;
	size_t len;
	char *enc; /* the encoding, kept for the first PAIRWISE names */
	size_t enc_len;
};

static char encodings[PAIRWISE][WFS_NAME_MAX + 1];

static bool valid_utf8(const unsigned char *s, size_t len)
{
	for (size_t i = 0; i < len;) {
		unsigned c = s[i];
		size_t n = c < 0x80 ? 1 : (c & 0xe0) == 0xc0 ? 2 : (c & 0xf0) == 0xe0 ? 3 : (c & 0xf8) == 0xf0 ? 4 : 0;
		if (n == 0 || n > len - i)
			return false;
		for (size_t k = 1; k < n; k++)
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
		i += n;
	}
	return true;
}

static size_t encoded_len(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '%' || s[i] == '/' ? 3 : 1;
	return n;
}

static void check_encoding(struct name *n)
{
	/* The output buffer is exactly WFS_NAME_MAX + 1 bytes: ASan sees overruns. */
	char *out = fz_malloc(WFS_NAME_MAX + 1);
	n->enc_len = wfs_component_encode(n->p, n->len, out);
	FZ_CHECK(n->enc_len <= WFS_NAME_MAX && out[n->enc_len] == '\0', "encoding of %zu bytes", n->enc_len);
	fz_check_component(out, n->enc_len);
	if (n->enc)
		memcpy(n->enc, out, n->enc_len + 1);
	char again[WFS_NAME_MAX + 1];
	FZ_CHECK(wfs_component_encode(n->p, n->len, again) == n->enc_len && memcmp(again, out, n->enc_len) == 0,
		 "encoding is not deterministic");

	char dec[WFS_NAME_MAX + 1];
	size_t dlen;
	if (fz_decode_component(out, n->enc_len, dec, &dlen)) {
		FZ_CHECK(dlen == n->len && memcmp(dec, n->p, dlen) == 0,
			 "\"%.*s\" does not decode back to its name", (int)n->enc_len, out);
		FZ_CHECK(encoded_len(n->p, n->len) <= WFS_NAME_MAX, "a long name was not hashed");
	} else {
		/* Hashed: the name was too long, and the kept part is a prefix of it. */
		size_t full = encoded_len(n->p, n->len);
		FZ_CHECK(full > WFS_NAME_MAX, "a name of %zu encoded bytes was hashed", full);
		size_t kept = n->enc_len - 18; /* "%~" and 16 hex digits */
		FZ_CHECK(fz_decode_component(out, kept, dec, &dlen) || kept == 0,
			 "the kept prefix is not a plain encoding");
		if (kept == 0)
			dlen = 0;
		FZ_CHECK(dlen <= n->len && memcmp(dec, n->p, dlen) == 0, "the kept part is not a prefix");
		if (valid_utf8((const unsigned char *)n->p, n->len)) {
			FZ_CHECK(dlen == n->len || ((unsigned char)n->p[dlen] & 0xc0) != 0x80,
				 "a hashed name is cut inside a character");
			/* Maximal: the next character would not have fit. */
			size_t next = 1;
			while (dlen + next < n->len && ((unsigned char)n->p[dlen + next] & 0xc0) == 0x80)
				next++;
			FZ_CHECK(dlen == n->len || kept + encoded_len(n->p + dlen, next) > 237,
				 "a hashed name keeps %zu bytes where more fit", kept);
		}
	}
	free(out);
}

/* A model whose tensors are the distinct names (dtype U8, scalars). */
static struct wfs_model *model_of(struct name *names, size_t n)
{
	struct wfs_model *m = fz_model_new();
	static const uint8_t byte;
	if (WFS_GROW(m->shards, m->cap.shards, m->nshards, 1) < 0)
		abort();
	memset(&m->shards[0], 0, sizeof(m->shards[0]));
	m->shards[0].fd = -1;
	m->shards[0].memory = &byte;
	m->shards[0].size = 1;
	m->nshards = 1;
	if (wfs_arena_add(m, "names.safetensors", 17, &m->shards[0].name) < 0 ||
	    WFS_GROW(m->tensors, m->cap.tensors, 0, n) < 0)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct wfs_tensor *t = &m->tensors[i];
		memset(t, 0, sizeof(*t));
		t->dtype = WFS_DT_U8;
		t->nbytes = 1;
		if (wfs_arena_add(m, names[i].p, names[i].len, &t->name) < 0 ||
		    wfs_arena_add(m, "[]", 2, &t->shape_text) < 0)
			abort();
	}
	m->ntensors = n;
	struct wfs_error err = {0};
	if (wfs_model_finish(m, &err) < 0) {
		/* Duplicate names: they are adjacent once sorted; keep one of each. */
		size_t k = 0;
		for (size_t i = 0; i < m->ntensors; i++) {
			const struct wfs_tensor *t = &m->tensors[i];
			if (k > 0 && fz_compare_names(wfs_model_str(m, m->tensors[k - 1].name), m->tensors[k - 1].name.len,
						      wfs_model_str(m, t->name), t->name.len) == 0)
				continue;
			m->tensors[k++] = *t;
		}
		m->ntensors = k;
		wfs_error_clear(&err);
		FZ_CHECK(wfs_model_finish(m, &err) == 0, "duplicates left after removing them");
	}
	wfs_error_clear(&err);
	return m;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	size_t max = 1;
	for (size_t i = 0; i < size && max < MAX_NAMES; i++)
		max += data[i] == 0;
	struct name *names = fz_malloc(max * sizeof(*names));
	size_t n = 0;
	const char *p = size ? (const char *)data : "", *end = p + size;
	while (n < max) {
		const char *nul = memchr(p, '\0', (size_t)(end - p));
		names[n].p = p;
		names[n].len = nul ? (size_t)(nul - p) : (size_t)(end - p);
		names[n].enc = n < PAIRWISE ? encodings[n] : NULL;
		n++;
		if (nul == NULL)
			break;
		p = nul + 1;
	}
	for (size_t i = 0; i < n; i++)
		check_encoding(&names[i]);
	for (size_t i = 0; i < n && i < PAIRWISE; i++) {
		for (size_t k = i + 1; k < n && k < PAIRWISE; k++) {
			bool same_name = names[i].len == names[k].len && memcmp(names[i].p, names[k].p, names[i].len) == 0;
			bool same_enc = names[i].enc_len == names[k].enc_len &&
					memcmp(names[i].enc, names[k].enc, names[i].enc_len) == 0;
			FZ_CHECK(same_name == same_enc, "names %zu and %zu: same name %d, same encoding %d", i, k,
				 same_name, same_enc);
		}
	}
	/* One layout per input (by its length, so mutations visit all three):
	 * building all three made this target three times slower. */
	struct wfs_model *m = model_of(names, n < MODEL_NAMES ? n : MODEL_NAMES);
	fz_check_layout(m, (enum wfs_layout)(size % 3), false);
	wfs_model_free(m);
	free(names);
	return 0;
}
