/**
 * @file fuzz_tftable.c
 * libFuzzer harness: a TensorFlow `.index` file (a LevelDB-format table of
 * BundleHeaderProto and BundleEntryProtos). The table reader walks it from
 * a buffer of exactly its length: keys come strictly increasing and lie
 * inside the buffer or a block it uncompressed; each value is read as a
 * BundleHeaderProto (key "") or BundleEntryProto, whose dims and slices are
 * bounded; a key starting with 0 is decoded as a slice key, whose name is
 * no longer than the key and whose spec text fits its buffer.
 */
#include "fuzz_invariant.h"

#include "formats/tf/bundle.h"
#include "formats/tf/slice_key.h"
#include "formats/tf/table.h"
#include "weightfs/error.h"

struct state {
	uint8_t *prev;
	size_t prev_len;
	bool have_prev;
	size_t entries;
};

static int on_entry(void *ctx, const uint8_t *key, size_t klen, const uint8_t *value, size_t vlen,
		    struct wfs_error *err)
{
	(void)err;
	struct state *s = ctx;
	if (s->have_prev) {
		size_t n = klen < s->prev_len ? klen : s->prev_len;
		int c = n ? memcmp(s->prev, key, n) : 0;
		FZ_CHECK(c < 0 || (c == 0 && s->prev_len < klen), "keys not strictly increasing");
	}
	free(s->prev);
	s->prev = fz_malloc(klen ? klen : 1);
	if (klen)
		memcpy(s->prev, key, klen);
	s->prev_len = klen;
	s->have_prev = true;
	s->entries++;
	/* touch every byte of the value: ASan catches a value outside its block */
	volatile uint8_t sum = 0;
	for (size_t i = 0; i < vlen; i++)
		sum += value[i];
	(void)sum;
	if (klen == 0) {
		struct wfs_tf_header h;
		(void)wfs_tf_read_header(value, vlen, &h);
	} else {
		struct wfs_tf_entry e;
		if (wfs_tf_read_entry(value, vlen, &e) == NULL)
			FZ_CHECK(e.ndim <= WFS_TF_MAX_DIMS, "too many dims");
		enum wfs_dtype dt;
		(void)wfs_tf_dtype(e.dtype, &dt);
		struct wfs_tf_slice_key k;
		if (key[0] == 0 && wfs_tf_decode_slice_key(key, klen, &k) == NULL) {
			FZ_CHECK(k.name_len < klen && k.ndim <= WFS_TF_MAX_DIMS, "slice key decoded past its bytes");
			char spec[2 * WFS_TF_MAX_DIMS * 42];
			size_t n = wfs_tf_slice_spec(&k, spec, sizeof(spec));
			FZ_CHECK(n < sizeof(spec) && strlen(spec) == n, "slice spec text");
			for (uint32_t d = 0; d < k.ndim; d++)
				FZ_CHECK(k.extent[d].start >= 0 && k.extent[d].length >= -1, "a negative extent");
			free(k.name);
		}
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	uint8_t *copy = fz_malloc(size ? size : 1);
	memcpy(copy, data, size);
	struct state s = {0};
	struct wfs_error err = {0};
	int rc = wfs_tft_read(copy, size, "fuzz.index", on_entry, &s, &err);
	FZ_CHECK(rc == 0 || rc == WFS_EINVALID || rc == -ENOMEM, "unexpected return %d", rc);
	FZ_CHECK(rc == 0 || rc == -ENOMEM || err.count > 0, "refused without a reason");
	free(s.prev);
	wfs_error_clear(&err);
	free(copy);
	return 0;
}
