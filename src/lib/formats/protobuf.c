/**
 * @file protobuf.c
 * Reading protocol buffers fields with a bounded cursor (protobuf.h).
 */
#include "protobuf.h"

int wfs_pb_next(struct wfs_cursor *c, struct wfs_pb_field *f, const char **why)
{
	if (c->bad) {
		*why = "read past the end of the message";
		return -1;
	}
	if (wfs_cur_left(c) == 0)
		return 0;
	uint64_t tag = wfs_cur_varint(c);
	if (c->bad) {
		*why = "truncated or overlong field tag";
		return -1;
	}
	uint64_t number = tag >> 3;
	f->wire = (uint8_t)(tag & 7);
	if (number == 0 || number > WFS_PB_MAX_FIELD) {
		c->bad = true;
		*why = "field number 0 or above 2^29-1";
		return -1;
	}
	f->number = (uint32_t)number;
	f->value = 0;
	f->sub = (struct wfs_cursor){c->base, c->p, c->p, false};
	switch (f->wire) {
	case WFS_PB_VARINT:
		f->value = wfs_cur_varint(c);
		if (c->bad) {
			*why = "truncated or overlong varint";
			return -1;
		}
		return 1;
	case WFS_PB_I64:
		f->value = wfs_cur_u64le(c);
		if (c->bad) {
			*why = "truncated 64-bit field";
			return -1;
		}
		return 1;
	case WFS_PB_I32:
		f->value = wfs_cur_u32le(c);
		if (c->bad) {
			*why = "truncated 32-bit field";
			return -1;
		}
		return 1;
	case WFS_PB_LEN: {
		uint64_t len = wfs_cur_varint(c);
		if (c->bad) {
			*why = "truncated or overlong field length";
			return -1;
		}
		const uint8_t *p = wfs_cur_take(c, len);
		if (p == NULL) {
			*why = "field length past the end of its message";
			return -1;
		}
		f->sub = (struct wfs_cursor){c->base, p, p + len, false};
		return 1;
	}
	default:
		c->bad = true;
		*why = "wire type 3, 4 (groups), 6 or 7 is not supported";
		return -1;
	}
}

const char *wfs_pb_wire_name(uint8_t wire)
{
	switch (wire) {
	case WFS_PB_VARINT:
		return "varint";
	case WFS_PB_I64:
		return "64-bit";
	case WFS_PB_LEN:
		return "length-delimited";
	case WFS_PB_I32:
		return "32-bit";
	default:
		return "unknown";
	}
}

int wfs_pb_count_varints(struct wfs_cursor c, uint64_t *count)
{
	uint64_t n = 0;
	while (wfs_cur_left(&c)) {
		(void)wfs_cur_varint(&c);
		if (c.bad)
			return -1;
		n++;
	}
	*count = n;
	return 0;
}
