/**
 * @file fuzz_tftable.c
 * libFuzzer harness: a TensorFlow `.index` file (a LevelDB-format table of
 * BundleHeaderProto and BundleEntryProtos). The table reader walks it from
 * a buffer of exactly its length: keys come strictly increasing and lie
 * inside the buffer or a block it uncompressed; each value is read as a
 * BundleHeaderProto (key "") or BundleEntryProto, whose dims and slices are
 * bounded.
 */
#include "fuzz_invariant.h"

#include "formats/tf/bundle.h"
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
