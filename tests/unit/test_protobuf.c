/**
 * Unit tests of the protobuf wire-format cursor (src/lib/formats/protobuf.c)
 * and CRC-32C (crc32c.c).
 */
#include "check.h"

#include "formats/crc32c.h"
#include "formats/protobuf.h"

static int next(const void *buf, size_t len, struct wfs_pb_field *f, const char **why)
{
	struct wfs_cursor c = wfs_cursor_make(buf, len);
	return wfs_pb_next(&c, f, why);
}

static void test_fields(void)
{
	struct wfs_pb_field f;
	const char *why = NULL;
	/* field 1 varint 150 */
	CHECK(next("\x08\x96\x01", 3, &f, &why) == 1 && f.number == 1 && f.wire == WFS_PB_VARINT && f.value == 150);
	/* field 2 string "testing" */
	CHECK(next("\x12\x07testing", 9, &f, &why) == 1 && f.number == 2 && wfs_pb_len(&f) == 7 &&
	      wfs_pb_offset(&f) == 2 && wfs_pb_equals(&f, "testing"));
	/* fixed32, fixed64 */
	CHECK(next("\x35\x01\x02\x03\x04", 5, &f, &why) == 1 && f.wire == WFS_PB_I32 && f.value == 0x04030201);
	CHECK(next("\x09\x01\0\0\0\0\0\0\x80", 9, &f, &why) == 1 && f.wire == WFS_PB_I64 &&
	      f.value == 0x8000000000000001ull);
	/* end of message */
	CHECK(next("", 0, &f, &why) == 0);
	/* a largest field number */
	CHECK(next("\xf8\xff\xff\xff\x0f\x00", 6, &f, &why) == 1 && f.number == WFS_PB_MAX_FIELD);
}

static void test_bad(void)
{
	struct wfs_pb_field f;
	const char *why = NULL;
	CHECK(next("\x08", 1, &f, &why) == -1 && strstr(why, "varint"));            /* value missing */
	CHECK(next("\x08\x80", 2, &f, &why) == -1 && strstr(why, "varint"));         /* truncated varint */
	CHECK(next("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\x02", 11, &f, &why) == -1); /* > 64 bits */
	CHECK(next("\x08\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\x01", 12, &f, &why) == -1); /* 11 bytes */
	CHECK(next("\x12\x08testing", 9, &f, &why) == -1 && strstr(why, "past the end"));
	CHECK(next("\x12\xff\xff\xff\xff\xff\xff\xff\xff\x7f", 10, &f, &why) == -1 && strstr(why, "past the end"));
	CHECK(next("\x0b", 1, &f, &why) == -1 && strstr(why, "groups"));            /* start group */
	CHECK(next("\x0e", 1, &f, &why) == -1);                                    /* wire type 6 */
	CHECK(next("\x00\x00", 2, &f, &why) == -1 && strstr(why, "field number 0"));
	CHECK(next("\x80\x80\x80\x80\x10\x00", 6, &f, &why) == -1);                 /* field number 2^29 */
	CHECK(next("\x35\x01\x02", 3, &f, &why) == -1 && strstr(why, "32-bit"));
	CHECK(next("\x09\x01\x02", 3, &f, &why) == -1 && strstr(why, "64-bit"));
	/* a bad cursor stays bad */
	struct wfs_cursor c = wfs_cursor_make("\x08\x01", 2);
	c.bad = true;
	CHECK(wfs_pb_next(&c, &f, &why) == -1);
}

static void test_sub_offsets(void)
{
	/* message { 1: message { 2: "ab" } }: offsets stay absolute */
	const uint8_t buf[] = {0x0a, 0x04, 0x12, 0x02, 'a', 'b'};
	struct wfs_cursor c = wfs_cursor_make(buf, sizeof(buf));
	struct wfs_pb_field f, g;
	const char *why;
	CHECK(wfs_pb_next(&c, &f, &why) == 1 && wfs_pb_offset(&f) == 2);
	CHECK(wfs_pb_next(&f.sub, &g, &why) == 1 && g.number == 2 && wfs_pb_offset(&g) == 4 && wfs_pb_len(&g) == 2);
	CHECK(wfs_pb_next(&f.sub, &g, &why) == 0);
	CHECK(wfs_pb_next(&c, &f, &why) == 0);
	/* a sub-message cannot read past its own length even if the parent has more */
	const uint8_t buf2[] = {0x0a, 0x02, 0x12, 0x05, 'a', 'b', 'c', 'd', 'e'};
	c = wfs_cursor_make(buf2, sizeof(buf2));
	CHECK(wfs_pb_next(&c, &f, &why) == 1);
	CHECK(wfs_pb_next(&f.sub, &g, &why) == -1);
}

static void test_packed(void)
{
	uint64_t n = 99;
	struct wfs_cursor c = wfs_cursor_make("\x01\x96\x01\x7f", 4);
	CHECK(wfs_pb_count_varints(c, &n) == 0 && n == 3);
	c = wfs_cursor_make("\x01\x96", 2);
	CHECK(wfs_pb_count_varints(c, &n) == -1);
	c = wfs_cursor_make("", 0);
	CHECK(wfs_pb_count_varints(c, &n) == 0 && n == 0);
}

static void test_crc32c(void)
{
	CHECK(wfs_crc32c("123456789", 9) == 0xe3069283u);
	CHECK(wfs_crc32c("", 0) == 0);
	uint8_t zeros[32] = {0};
	CHECK(wfs_crc32c(zeros, 32) == 0x8a9136aau);  /* RFC 3720 B.4 */
	uint8_t big[10000];
	for (size_t i = 0; i < sizeof(big); i++)
		big[i] = (uint8_t)(i * 7 + 3);
	/* the sliced path equals the bytewise path */
	uint32_t a = wfs_crc32c(big, sizeof(big));
	uint32_t b = 0;
	for (size_t i = 0; i < sizeof(big); i += 1000)
		b = wfs_crc32c_extend(b, big + i, 1000);
	CHECK(a == b);
	CHECK(wfs_crc32c_unmask(wfs_crc32c_mask(0x12345678u)) == 0x12345678u);
	CHECK(wfs_crc32c_mask(0) == 0xa282ead8u);
}

int main(void)
{
	test_fields();
	test_bad();
	test_sub_offsets();
	test_packed();
	test_crc32c();
	return check_report("test_protobuf");
}
