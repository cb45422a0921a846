/**
 * @file fuzz_protobuf.c
 * libFuzzer harness: the protobuf wire-format cursor (protobuf.h). The
 * input is read as a message, recursively into every length-delimited field
 * (as if it were a sub-message) up to WFS_PB_MAX_DEPTH: every field's bytes
 * lie inside its parent, offsets are absolute and increasing, a field never
 * reads past the end, and packed varints are counted the same way twice.
 */
#include "fuzz_invariant.h"

#include "formats/protobuf.h"

static const uint8_t *g_begin, *g_end;

static void walk(struct wfs_cursor c, unsigned depth)
{
	struct wfs_pb_field f;
	const char *why;
	int more;
	size_t last = wfs_cur_offset(&c);
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		FZ_CHECK(f.number >= 1 && f.number <= WFS_PB_MAX_FIELD, "field number %u", f.number);
		FZ_CHECK(wfs_cur_offset(&c) > last, "the cursor did not move");
		last = wfs_cur_offset(&c);
		FZ_CHECK(c.p <= c.end && c.p >= g_begin && c.end <= g_end, "cursor outside the input");
		if (f.wire != WFS_PB_LEN)
			continue;
		FZ_CHECK(f.sub.p >= g_begin && f.sub.end <= c.p && f.sub.p <= f.sub.end, "a field's bytes outside its parent");
		FZ_CHECK(f.sub.base == c.base, "a sub-cursor with another base");
		uint64_t n1 = 0, n2 = 0;
		int r1 = wfs_pb_count_varints(f.sub, &n1);
		int r2 = wfs_pb_count_varints(f.sub, &n2);
		FZ_CHECK(r1 == r2 && n1 == n2, "counting varints twice differs");
		FZ_CHECK(r1 < 0 || n1 <= wfs_pb_len(&f), "more varints than bytes");
		if (depth < WFS_PB_MAX_DEPTH)
			walk(f.sub, depth + 1);
	}
	FZ_CHECK(more == 0 || (c.bad && why != NULL), "an error without a reason");
	FZ_CHECK(more != 0 || wfs_cur_left(&c) == 0, "the end before the end");
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly the input's length, so reading past it is caught. */
	uint8_t *copy = fz_malloc(size ? size : 1);
	memcpy(copy, data, size);
	g_begin = copy;
	g_end = copy + size;
	walk(wfs_cursor_make(copy, size), 0);
	free(copy);
	return 0;
}
