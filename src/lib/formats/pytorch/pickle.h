/**
 * @file pickle.h
 * A pickle interpreter that executes nothing: it runs the opcodes of
 * protocols 2 to 5 that a PyTorch state dict uses (the set
 * torch.load(weights_only=True) accepts) and builds a bounded tree of
 * values. Callables are never called: GLOBAL and STACK_GLOBAL give opaque
 * (module, name) values, REDUCE gives a call node (callable, arguments)
 * that torch.c may recognise, NEWOBJ an object node, BINPERSID a
 * persistent-id node. The one exception is `collections.OrderedDict()`,
 * which becomes an empty dict so SETITEMS can fill it.
 *
 * Opcode semantics are Python's Lib/pickletools.py and Lib/pickle.py (PEP
 * 307 for protocol 2, PEP 3154 for 4, PEP 574 for 5). Any other opcode
 * (INST, OBJ, EXT*, PERSID in text form, NEXT_BUFFER, ...) is refused with
 * a message naming it and its offset.
 *
 * Strings and bytes are not copied: values point into the pickle's bytes,
 * which must outlive the tree.
 */
#ifndef WEIGHTFS_PT_PICKLE_H
#define WEIGHTFS_PT_PICKLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "weightfs/error.h"

/* Limits (documented in README): a hostile pickle cannot exhaust memory. */
#define WFS_PK_MAX_LEN (256u << 20)    /**< bytes of one pickle */
#define WFS_PK_MAX_VALUES (1u << 21)   /**< values built (24 bytes each) */
#define WFS_PK_MAX_ITEMS (1u << 23)    /**< items of all tuples, lists and dicts (4 bytes each) */
#define WFS_PK_MAX_STACK (1u << 20)    /**< stack entries */
#define WFS_PK_MAX_MEMO (1u << 20)     /**< memo slots (BINPUT index + 1) */
#define WFS_PK_MAX_DEPTH 100           /**< nesting of values and of MARKs */
#define WFS_PK_MAX_STR (64u << 20)     /**< bytes of one string or bytes value */

enum wfs_pk_kind {
	WFS_PK_NONE,
	WFS_PK_BOOL,
	WFS_PK_INT,     /**< fits int64 */
	WFS_PK_LONG,    /**< LONG1/LONG4 wider than 64 bits: little-endian two's complement bytes in s */
	WFS_PK_FLOAT,
	WFS_PK_STR,     /**< UTF-8 text (not validated here) in s */
	WFS_PK_BYTES,
	WFS_PK_TUPLE,
	WFS_PK_LIST,
	WFS_PK_DICT,    /**< items: key, value, key, value... in insertion order */
	WFS_PK_GLOBAL,  /**< module and name in g */
	WFS_PK_REDUCE,  /**< call: func = the callable, args = its argument tuple; state from BUILD */
	WFS_PK_OBJECT,  /**< NEWOBJ: func = the class, args = its argument tuple; state from BUILD */
	WFS_PK_PERSID,  /**< BINPERSID: args = the persistent id */
};

#define WFS_PK_NO_VALUE UINT32_MAX

struct wfs_pk_value {
	uint8_t kind;
	uint8_t depth; /**< 1 + the deepest value it held when made (at most WFS_PK_MAX_DEPTH) */
	union {
		bool b;
		int64_t i;
		double f;
		struct { uint32_t off, len; } s;       /**< STR BYTES LONG: bytes at data + off */
		struct { uint32_t mod_off, mod_len, name_off, name_len; } g;
		struct { uint32_t *items; uint32_t n, cap; } c; /**< TUPLE LIST DICT */
		struct { uint32_t func, args, state; } call;    /**< REDUCE OBJECT PERSID */
	} u;
};

struct wfs_pickle {
	const uint8_t *data;        /**< the pickle's bytes (not owned) */
	size_t len;
	struct wfs_pk_value *v;     /**< every value; ids index it */
	uint32_t nv, capv;
	uint32_t top;               /**< what STOP returned */
	size_t end;                 /**< offset just after STOP */
	unsigned proto;
	bool truncated;             /**< failed because the bytes ended before STOP */
};

/**
 * Runs the pickle in @p data[0..len) up to its STOP (bytes after it are
 * not looked at: p->end says where it stopped). Problems are one line in
 * @p err: "@p label: @p what: ... at offset N". Returns 0, WFS_EINVALID,
 * or -ENOMEM. Free with wfs_pickle_free() in every case.
 */
int wfs_pickle_run(struct wfs_pickle *p, const uint8_t *data, size_t len, const char *label, const char *what,
		   struct wfs_error *err);

void wfs_pickle_free(struct wfs_pickle *p);

static inline const struct wfs_pk_value *wfs_pk(const struct wfs_pickle *p, uint32_t id)
{
	return &p->v[id];
}

/** True when value @p id is GLOBAL module.name. */
bool wfs_pk_is_global(const struct wfs_pickle *p, uint32_t id, const char *module, const char *name);

/** True when value @p id is a STR equal to @p s. */
bool wfs_pk_is_str(const struct wfs_pickle *p, uint32_t id, const char *s);

/** The name of pickle opcode @p op ("BINUNICODE"), or NULL when it is none. */
const char *wfs_pk_opcode_name(uint8_t op);

#endif
