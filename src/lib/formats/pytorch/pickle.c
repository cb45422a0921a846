/**
 * @file pickle.c
 * The opcode loop of the pickle interpreter (see pickle.h).
 */
#include "pickle.h"

#include <stdlib.h>
#include <string.h>

#include "../../cursor.h"
#include "../../internal.h"

/* Every opcode of protocols 0-5 by its name (Lib/pickletools.py), for messages. */
static const struct {
	uint8_t op;
	const char *name;
} OPCODES[] = {
	{'(', "MARK"}, {'.', "STOP"}, {'0', "POP"}, {'1', "POP_MARK"}, {'2', "DUP"}, {'F', "FLOAT"},
	{'I', "INT"}, {'J', "BININT"}, {'K', "BININT1"}, {'L', "LONG"}, {'M', "BININT2"}, {'N', "NONE"},
	{'P', "PERSID"}, {'Q', "BINPERSID"}, {'R', "REDUCE"}, {'S', "STRING"}, {'T', "BINSTRING"},
	{'U', "SHORT_BINSTRING"}, {'V', "UNICODE"}, {'X', "BINUNICODE"}, {'a', "APPEND"}, {'b', "BUILD"},
	{'c', "GLOBAL"}, {'d', "DICT"}, {'}', "EMPTY_DICT"}, {'e', "APPENDS"}, {'g', "GET"}, {'h', "BINGET"},
	{'i', "INST"}, {'j', "LONG_BINGET"}, {'l', "LIST"}, {']', "EMPTY_LIST"}, {'o', "OBJ"}, {'p', "PUT"},
	{'q', "BINPUT"}, {'r', "LONG_BINPUT"}, {'s', "SETITEM"}, {'t', "TUPLE"}, {')', "EMPTY_TUPLE"},
	{'u', "SETITEMS"}, {'G', "BINFLOAT"}, {0x80, "PROTO"}, {0x81, "NEWOBJ"}, {0x82, "EXT1"},
	{0x83, "EXT2"}, {0x84, "EXT4"}, {0x85, "TUPLE1"}, {0x86, "TUPLE2"}, {0x87, "TUPLE3"},
	{0x88, "NEWTRUE"}, {0x89, "NEWFALSE"}, {0x8a, "LONG1"}, {0x8b, "LONG4"}, {'B', "BINBYTES"},
	{'C', "SHORT_BINBYTES"}, {0x8c, "SHORT_BINUNICODE"}, {0x8d, "BINUNICODE8"}, {0x8e, "BINBYTES8"},
	{0x8f, "EMPTY_SET"}, {0x90, "ADDITEMS"}, {0x91, "FROZENSET"}, {0x92, "NEWOBJ_EX"},
	{0x93, "STACK_GLOBAL"}, {0x94, "MEMOIZE"}, {0x95, "FRAME"}, {0x96, "BYTEARRAY8"},
	{0x97, "NEXT_BUFFER"}, {0x98, "READONLY_BUFFER"},
};

const char *wfs_pk_opcode_name(uint8_t op)
{
	for (size_t i = 0; i < sizeof(OPCODES) / sizeof(OPCODES[0]); i++)
		if (OPCODES[i].op == op)
			return OPCODES[i].name;
	return NULL;
}

/* The interpreter's state while it runs. */
struct vm {
	struct wfs_pickle *p;
	struct wfs_cursor c;
	size_t op_at;           /* offset of the opcode being run */
	uint8_t op;
	uint32_t *stack;
	size_t nstack, capstack;
	size_t *marks;          /* stack heights at each MARK */
	size_t nmarks, capmarks;
	size_t items;           /* items held by every container (BINGET adds items without values) */
	uint32_t *memo;         /* value ids, WFS_PK_NO_VALUE where never stored */
	size_t nmemo, capmemo;
	const char *label, *what;
	struct wfs_error *err;
};

#define FAIL(vm, ...)                                                                       \
	do {                                                                                \
		wfs_error_add((vm)->err, __VA_ARGS__);                                      \
		return WFS_EINVALID;                                                        \
	} while (0)

/* "LABEL: data.pkl: " prefix and " (OPNAME at offset N)" suffix in one message. */
#define FAILOP(vm, fmt, ...)                                                                \
	FAIL(vm, "%s: %s: " fmt " (%s at offset %zu)", (vm)->label, (vm)->what, __VA_ARGS__, \
	     wfs_pk_opcode_name((vm)->op), (vm)->op_at)

static int new_value(struct vm *vm, uint8_t kind, uint32_t *id)
{
	struct wfs_pickle *p = vm->p;
	if (p->nv >= WFS_PK_MAX_VALUES)
		FAILOP(vm, "more than %u values", WFS_PK_MAX_VALUES);
	if (p->nv == p->capv) {
		size_t cap = p->capv;
		if (WFS_GROW(p->v, cap, p->nv, 1) < 0)
			return -ENOMEM;
		p->capv = (uint32_t)(cap > WFS_PK_MAX_VALUES ? WFS_PK_MAX_VALUES : cap);
	}
	memset(&p->v[p->nv], 0, sizeof(p->v[0]));
	p->v[p->nv].kind = kind;
	p->v[p->nv].depth = 1;
	*id = p->nv++;
	return 0;
}

static int push(struct vm *vm, uint32_t id)
{
	if (vm->nstack >= WFS_PK_MAX_STACK)
		FAILOP(vm, "stack deeper than %u entries", WFS_PK_MAX_STACK);
	if (WFS_GROW(vm->stack, vm->capstack, vm->nstack, 1) < 0)
		return -ENOMEM;
	vm->stack[vm->nstack++] = id;
	return 0;
}

/* The bottom of the stack above the last MARK (0 when none). */
static size_t floor_of_stack(const struct vm *vm)
{
	return vm->nmarks ? vm->marks[vm->nmarks - 1] : 0;
}

static int pop(struct vm *vm, uint32_t *id)
{
	if (vm->nstack <= floor_of_stack(vm))
		FAILOP(vm, "%s", "stack underflow");
	*id = vm->stack[--vm->nstack];
	return 0;
}

/* Pops everything above the last MARK, and the mark: sets *from to where it started. */
static int pop_mark(struct vm *vm, size_t *from)
{
	if (vm->nmarks == 0)
		FAILOP(vm, "%s", "no MARK to pop to");
	*from = vm->marks[--vm->nmarks];
	return 0;
}

static int set_depth(struct vm *vm, uint32_t id, unsigned child_depth)
{
	struct wfs_pk_value *v = &vm->p->v[id];
	if (child_depth + 1 > WFS_PK_MAX_DEPTH)
		FAILOP(vm, "values nested deeper than %d", WFS_PK_MAX_DEPTH);
	if (child_depth + 1 > v->depth)
		v->depth = (uint8_t)(child_depth + 1);
	return 0;
}

/* Appends value @p item to container @p id. */
static int add_item(struct vm *vm, uint32_t id, uint32_t item)
{
	if (++vm->items > WFS_PK_MAX_ITEMS)
		FAILOP(vm, "containers holding more than %u items", WFS_PK_MAX_ITEMS);
	int rc = set_depth(vm, id, vm->p->v[item].depth);
	if (rc < 0)
		return rc;
	struct wfs_pk_value *v = &vm->p->v[id];
	size_t cap = v->u.c.cap;
	if (WFS_GROW(v->u.c.items, cap, v->u.c.n, 1) < 0)
		return -ENOMEM;
	v->u.c.cap = (uint32_t)(cap > UINT32_MAX ? UINT32_MAX : cap);
	v->u.c.items[v->u.c.n++] = item;
	return 0;
}

/*
 * Checks that the stack entries [from, nstack) can all be added to one
 * container (depth and item limits) before any is, so a refused pickle
 * never leaves a container half filled (a dict with a key and no value).
 */
static int can_add(struct vm *vm, size_t from)
{
	unsigned deepest = 0;
	for (size_t i = from; i < vm->nstack; i++)
		if (vm->p->v[vm->stack[i]].depth > deepest)
			deepest = vm->p->v[vm->stack[i]].depth;
	if (deepest + 1 > WFS_PK_MAX_DEPTH)
		FAILOP(vm, "values nested deeper than %d", WFS_PK_MAX_DEPTH);
	if (vm->nstack - from > WFS_PK_MAX_ITEMS - vm->items)
		FAILOP(vm, "containers holding more than %u items", WFS_PK_MAX_ITEMS);
	return 0;
}

/* A tuple of the stack entries [from, nstack), which are popped. */
static int make_tuple(struct vm *vm, size_t from, uint8_t kind)
{
	uint32_t id;
	int rc = can_add(vm, from);
	if (rc == 0)
		rc = new_value(vm, kind, &id);
	for (size_t i = from; rc == 0 && i < vm->nstack; i++)
		rc = add_item(vm, id, vm->stack[i]);
	if (rc < 0)
		return rc;
	vm->nstack = from;
	return push(vm, id);
}

static int string_value(struct vm *vm, uint8_t kind, uint64_t len)
{
	if (len > WFS_PK_MAX_STR)
		FAILOP(vm, "string of %llu bytes exceeds the limit of %u", (unsigned long long)len, WFS_PK_MAX_STR);
	size_t at = wfs_cur_offset(&vm->c);
	if (!wfs_cur_skip(&vm->c, len)) {
		vm->p->truncated = true;
		FAILOP(vm, "string of %llu bytes runs past the end", (unsigned long long)len);
	}
	uint32_t id;
	int rc = new_value(vm, kind, &id);
	if (rc < 0)
		return rc;
	vm->p->v[id].u.s.off = (uint32_t)at;
	vm->p->v[id].u.s.len = (uint32_t)len;
	return push(vm, id);
}

/* LONG1/LONG4: little-endian two's complement of @p n bytes. */
static int long_value(struct vm *vm, uint64_t n)
{
	if (n <= 8) {
		const uint8_t *b = wfs_cur_take(&vm->c, n);
		if (b == NULL) {
			vm->p->truncated = true;
			FAILOP(vm, "%s", "integer runs past the end");
		}
		uint64_t u = 0;
		for (size_t i = 0; i < n; i++)
			u |= (uint64_t)b[i] << (8 * i);
		if (n > 0 && n < 8 && (b[n - 1] & 0x80))
			u |= ~0ULL << (8 * n);
		uint32_t id;
		int rc = new_value(vm, WFS_PK_INT, &id);
		if (rc < 0)
			return rc;
		vm->p->v[id].u.i = (int64_t)u;
		return push(vm, id);
	}
	return string_value(vm, WFS_PK_LONG, n);
}

static int int_value(struct vm *vm, int64_t i)
{
	uint32_t id;
	int rc = new_value(vm, WFS_PK_INT, &id);
	if (rc < 0)
		return rc;
	vm->p->v[id].u.i = i;
	return push(vm, id);
}

static int simple_value(struct vm *vm, uint8_t kind, bool b)
{
	uint32_t id;
	int rc = new_value(vm, kind, &id);
	if (rc < 0)
		return rc;
	vm->p->v[id].u.b = b;
	return push(vm, id);
}

static int memo_put(struct vm *vm, uint64_t idx)
{
	if (vm->nstack == 0 || vm->nstack <= floor_of_stack(vm))
		FAILOP(vm, "%s", "nothing on the stack to memoize");
	if (idx >= WFS_PK_MAX_MEMO)
		FAILOP(vm, "memo index %llu exceeds the limit of %u", (unsigned long long)idx, WFS_PK_MAX_MEMO);
	if (idx >= vm->nmemo) {
		if (WFS_GROW(vm->memo, vm->capmemo, vm->nmemo, (size_t)idx + 1 - vm->nmemo) < 0)
			return -ENOMEM;
		for (size_t i = vm->nmemo; i <= idx; i++)
			vm->memo[i] = WFS_PK_NO_VALUE;
		vm->nmemo = (size_t)idx + 1;
	}
	vm->memo[idx] = vm->stack[vm->nstack - 1];
	return 0;
}

static int memo_get(struct vm *vm, uint64_t idx)
{
	if (idx >= vm->nmemo || vm->memo[idx] == WFS_PK_NO_VALUE)
		FAILOP(vm, "memo index %llu was never stored", (unsigned long long)idx);
	return push(vm, vm->memo[idx]);
}

/* GLOBAL: "module\nname\n", both printable ASCII. */
static int global_text(struct vm *vm)
{
	uint32_t off[2], len[2];
	for (int k = 0; k < 2; k++) {
		size_t at = wfs_cur_offset(&vm->c);
		const uint8_t *s = vm->c.p;
		const uint8_t *nl = memchr(s, '\n', wfs_cur_left(&vm->c) < 1024 ? wfs_cur_left(&vm->c) : 1024);
		if (nl == NULL) {
			vm->p->truncated = wfs_cur_left(&vm->c) < 1024;
			FAILOP(vm, "%s", "GLOBAL name without a newline within 1024 bytes");
		}
		for (const uint8_t *q = s; q < nl; q++)
			if (*q < 0x20 || *q > 0x7e)
				FAILOP(vm, "%s", "GLOBAL name is not printable ASCII");
		off[k] = (uint32_t)at;
		len[k] = (uint32_t)(nl - s);
		wfs_cur_skip(&vm->c, len[k] + 1);
	}
	uint32_t id;
	int rc = new_value(vm, WFS_PK_GLOBAL, &id);
	if (rc < 0)
		return rc;
	struct wfs_pk_value *v = &vm->p->v[id];
	v->u.g.mod_off = off[0];
	v->u.g.mod_len = len[0];
	v->u.g.name_off = off[1];
	v->u.g.name_len = len[1];
	return push(vm, id);
}

static int stack_global(struct vm *vm)
{
	uint32_t mod, name;
	int rc = pop(vm, &name);
	if (rc == 0)
		rc = pop(vm, &mod);
	if (rc < 0)
		return rc;
	const struct wfs_pk_value *m = &vm->p->v[mod], *n = &vm->p->v[name];
	if (m->kind != WFS_PK_STR || n->kind != WFS_PK_STR)
		FAILOP(vm, "%s", "module and name are not strings");
	uint32_t id;
	if ((rc = new_value(vm, WFS_PK_GLOBAL, &id)) < 0)
		return rc;
	struct wfs_pk_value *v = &vm->p->v[id];
	m = &vm->p->v[mod];
	n = &vm->p->v[name];
	v->u.g.mod_off = m->u.s.off;
	v->u.g.mod_len = m->u.s.len;
	v->u.g.name_off = n->u.s.off;
	v->u.g.name_len = n->u.s.len;
	return push(vm, id);
}

/* REDUCE and NEWOBJ: a call node of (callable, args); OrderedDict() is an empty dict. */
static int call(struct vm *vm, uint8_t kind)
{
	uint32_t func, args;
	int rc = pop(vm, &args);
	if (rc == 0)
		rc = pop(vm, &func);
	if (rc < 0)
		return rc;
	if (vm->p->v[func].kind != WFS_PK_GLOBAL)
		FAILOP(vm, "%s", "callable is not a GLOBAL");
	if (vm->p->v[args].kind != WFS_PK_TUPLE)
		FAILOP(vm, "%s", "arguments are not a tuple");
	uint32_t id;
	if (kind == WFS_PK_REDUCE && vm->p->v[args].u.c.n == 0 &&
	    wfs_pk_is_global(vm->p, func, "collections", "OrderedDict")) {
		if ((rc = new_value(vm, WFS_PK_DICT, &id)) < 0)
			return rc;
		return push(vm, id);
	}
	if ((rc = new_value(vm, kind, &id)) < 0)
		return rc;
	struct wfs_pk_value *v = &vm->p->v[id];
	v->u.call.func = func;
	v->u.call.args = args;
	v->u.call.state = WFS_PK_NO_VALUE;
	unsigned d = vm->p->v[args].depth;
	if ((rc = set_depth(vm, id, d)) < 0)
		return rc;
	return push(vm, id);
}

static int setitems(struct vm *vm, size_t from)
{
	if (from == 0 || vm->nstack < from || (vm->nstack - from) % 2)
		FAILOP(vm, "%s", "odd number of keys and values, or no dict");
	uint32_t d = vm->stack[from - 1];
	if (vm->p->v[d].kind != WFS_PK_DICT)
		FAILOP(vm, "%s", "items set on something that is not a dict");
	int rc = can_add(vm, from);
	if (rc < 0)
		return rc;
	for (size_t i = from; i < vm->nstack; i++)
		if ((rc = add_item(vm, d, vm->stack[i])) < 0)
			return rc;
	vm->nstack = from;
	return 0;
}

static int appends(struct vm *vm, size_t from)
{
	if (from == 0 || vm->nstack < from)
		FAILOP(vm, "%s", "no list to append to");
	uint32_t l = vm->stack[from - 1];
	if (vm->p->v[l].kind != WFS_PK_LIST)
		FAILOP(vm, "%s", "append to something that is not a list");
	int rc = can_add(vm, from);
	if (rc < 0)
		return rc;
	for (size_t i = from; i < vm->nstack; i++)
		if ((rc = add_item(vm, l, vm->stack[i])) < 0)
			return rc;
	vm->nstack = from;
	return 0;
}

static int build(struct vm *vm)
{
	uint32_t state, obj;
	int rc = pop(vm, &state);
	if (rc < 0)
		return rc;
	if (vm->nstack <= floor_of_stack(vm))
		FAILOP(vm, "%s", "stack underflow");
	obj = vm->stack[vm->nstack - 1];
	struct wfs_pk_value *v = &vm->p->v[obj];
	if (v->kind == WFS_PK_DICT)
		return 0; /* an OrderedDict's __dict__ (state_dict._metadata): not part of the mapping */
	if (v->kind != WFS_PK_REDUCE && v->kind != WFS_PK_OBJECT)
		FAILOP(vm, "%s", "BUILD of something that is not an object");
	v->u.call.state = state;
	return set_depth(vm, obj, vm->p->v[state].depth);
}

static int run_op(struct vm *vm)
{
	struct wfs_cursor *c = &vm->c;
	size_t from;
	uint32_t a, b;
	int rc;
	switch (vm->op) {
	case 0x80: /* PROTO */
		vm->p->proto = wfs_cur_u8(c);
		if (!c->bad && (vm->p->proto < 2 || vm->p->proto > 5))
			FAILOP(vm, "protocol %u is not 2 to 5", vm->p->proto);
		return 0;
	case 0x95: { /* FRAME: a length hint only */
		uint64_t n = wfs_cur_u64le(c);
		if (!c->bad && n > wfs_cur_left(c)) {
			vm->p->truncated = true;
			FAILOP(vm, "frame of %llu bytes runs past the end", (unsigned long long)n);
		}
		return 0;
	}
	case '(': /* MARK */
		if (vm->nmarks >= WFS_PK_MAX_DEPTH)
			FAILOP(vm, "MARKs nested deeper than %d", WFS_PK_MAX_DEPTH);
		if (WFS_GROW(vm->marks, vm->capmarks, vm->nmarks, 1) < 0)
			return -ENOMEM;
		vm->marks[vm->nmarks++] = vm->nstack;
		return 0;
	case '}': /* EMPTY_DICT */
		return simple_value(vm, WFS_PK_DICT, false);
	case ']': /* EMPTY_LIST */
		return simple_value(vm, WFS_PK_LIST, false);
	case ')': /* EMPTY_TUPLE */
		return simple_value(vm, WFS_PK_TUPLE, false);
	case 'N': /* NONE */
		return simple_value(vm, WFS_PK_NONE, false);
	case 0x88: /* NEWTRUE */
		return simple_value(vm, WFS_PK_BOOL, true);
	case 0x89: /* NEWFALSE */
		return simple_value(vm, WFS_PK_BOOL, false);
	case 'q': /* BINPUT */
		a = wfs_cur_u8(c);
		return c->bad ? 0 : memo_put(vm, a);
	case 'r': /* LONG_BINPUT */
		a = wfs_cur_u32le(c);
		return c->bad ? 0 : memo_put(vm, a);
	case 0x94: /* MEMOIZE */
		return memo_put(vm, vm->nmemo);
	case 'h': /* BINGET */
		a = wfs_cur_u8(c);
		return c->bad ? 0 : memo_get(vm, a);
	case 'j': /* LONG_BINGET */
		a = wfs_cur_u32le(c);
		return c->bad ? 0 : memo_get(vm, a);
	case 'J': /* BININT */
		a = wfs_cur_u32le(c);
		return c->bad ? 0 : int_value(vm, (int32_t)a);
	case 'K': /* BININT1 */
		a = wfs_cur_u8(c);
		return c->bad ? 0 : int_value(vm, a);
	case 'M': /* BININT2 */
		a = wfs_cur_u16le(c);
		return c->bad ? 0 : int_value(vm, a);
	case 0x8a: /* LONG1 */
		a = wfs_cur_u8(c);
		return c->bad ? 0 : long_value(vm, a);
	case 0x8b: /* LONG4 */
		a = wfs_cur_u32le(c);
		if (!c->bad && (int32_t)a < 0)
			FAILOP(vm, "negative length %d", (int32_t)a);
		return c->bad ? 0 : long_value(vm, a);
	case 'G': { /* BINFLOAT: big-endian IEEE 754 double */
		const uint8_t *p = wfs_cur_take(c, 8);
		if (p == NULL)
			return 0;
		uint64_t u = 0;
		for (int i = 0; i < 8; i++)
			u = u << 8 | p[i];
		uint32_t id;
		if ((rc = new_value(vm, WFS_PK_FLOAT, &id)) < 0)
			return rc;
		memcpy(&vm->p->v[id].u.f, &u, sizeof(u));
		return push(vm, id);
	}
	case 0x8c: /* SHORT_BINUNICODE */
		a = wfs_cur_u8(c);
		return c->bad ? 0 : string_value(vm, WFS_PK_STR, a);
	case 'X': /* BINUNICODE */
		a = wfs_cur_u32le(c);
		return c->bad ? 0 : string_value(vm, WFS_PK_STR, a);
	case 0x8d: { /* BINUNICODE8 */
		uint64_t n = wfs_cur_u64le(c);
		return c->bad ? 0 : string_value(vm, WFS_PK_STR, n);
	}
	case 'C': /* SHORT_BINBYTES */
		a = wfs_cur_u8(c);
		return c->bad ? 0 : string_value(vm, WFS_PK_BYTES, a);
	case 'B': /* BINBYTES */
		a = wfs_cur_u32le(c);
		return c->bad ? 0 : string_value(vm, WFS_PK_BYTES, a);
	case 0x8e: { /* BINBYTES8 */
		uint64_t n = wfs_cur_u64le(c);
		return c->bad ? 0 : string_value(vm, WFS_PK_BYTES, n);
	}
	case 't': /* TUPLE */
		if ((rc = pop_mark(vm, &from)) < 0)
			return rc;
		return make_tuple(vm, from, WFS_PK_TUPLE);
	case 'l': /* LIST */
		if ((rc = pop_mark(vm, &from)) < 0)
			return rc;
		return make_tuple(vm, from, WFS_PK_LIST);
	case 'd': /* DICT */
		if ((rc = pop_mark(vm, &from)) < 0)
			return rc;
		if ((vm->nstack - from) % 2)
			FAILOP(vm, "%s", "odd number of keys and values");
		return make_tuple(vm, from, WFS_PK_DICT);
	case 0x85: /* TUPLE1 */
	case 0x86: /* TUPLE2 */
	case 0x87: /* TUPLE3 */ {
		size_t n = (size_t)(vm->op - 0x84);
		if (vm->nstack < floor_of_stack(vm) + n)
			FAILOP(vm, "%s", "stack underflow");
		return make_tuple(vm, vm->nstack - n, WFS_PK_TUPLE);
	}
	case 's': /* SETITEM */
		if (vm->nstack < floor_of_stack(vm) + 3)
			FAILOP(vm, "%s", "stack underflow");
		return setitems(vm, vm->nstack - 2);
	case 'u': /* SETITEMS */
		if ((rc = pop_mark(vm, &from)) < 0)
			return rc;
		if (from <= floor_of_stack(vm))
			FAILOP(vm, "%s", "no dict below the MARK");
		return setitems(vm, from);
	case 'a': /* APPEND */
		if (vm->nstack < floor_of_stack(vm) + 2)
			FAILOP(vm, "%s", "stack underflow");
		return appends(vm, vm->nstack - 1);
	case 'e': /* APPENDS */
		if ((rc = pop_mark(vm, &from)) < 0)
			return rc;
		if (from <= floor_of_stack(vm))
			FAILOP(vm, "%s", "no list below the MARK");
		return appends(vm, from);
	case 'c': /* GLOBAL */
		return global_text(vm);
	case 0x93: /* STACK_GLOBAL */
		return stack_global(vm);
	case 'R': /* REDUCE */
		return call(vm, WFS_PK_REDUCE);
	case 0x81: /* NEWOBJ */
		return call(vm, WFS_PK_OBJECT);
	case 'b': /* BUILD */
		return build(vm);
	case 'Q': { /* BINPERSID */
		if ((rc = pop(vm, &a)) < 0)
			return rc;
		if ((rc = new_value(vm, WFS_PK_PERSID, &b)) < 0)
			return rc;
		vm->p->v[b].u.call.args = a;
		vm->p->v[b].u.call.func = vm->p->v[b].u.call.state = WFS_PK_NO_VALUE;
		if ((rc = set_depth(vm, b, vm->p->v[a].depth)) < 0)
			return rc;
		return push(vm, b);
	}
	case '0': /* POP */
		return pop(vm, &a);
	default: {
		const char *name = wfs_pk_opcode_name(vm->op);
		if (name)
			FAIL(vm, "%s: %s: pickle opcode %s (0x%02x) at offset %zu is not allowed in a state dict",
			     vm->label, vm->what, name, vm->op, vm->op_at);
		FAIL(vm, "%s: %s: unknown pickle opcode 0x%02x at offset %zu", vm->label, vm->what, vm->op,
		     vm->op_at);
	}
	}
}

int wfs_pickle_run(struct wfs_pickle *p, const uint8_t *data, size_t len, const char *label, const char *what,
		   struct wfs_error *err)
{
	memset(p, 0, sizeof(*p));
	p->data = data;
	p->len = len;
	p->top = WFS_PK_NO_VALUE;
	if (len > WFS_PK_MAX_LEN) {
		wfs_error_add(err, "%s: %s: pickle of %zu bytes exceeds the limit of %u", label, what, len,
			      WFS_PK_MAX_LEN);
		return WFS_EINVALID;
	}
	struct vm vm = {.p = p, .c = wfs_cursor_make(data, len), .label = label, .what = what, .err = err};
	int rc = 0;
	if (len < 2 || data[0] != 0x80) {
		p->truncated = len < 2;
		wfs_error_add(err, "%s: %s: not a pickle of protocol 2 or later (no PROTO opcode at offset 0)", label,
			      what);
		return WFS_EINVALID;
	}
	for (;;) {
		vm.op_at = wfs_cur_offset(&vm.c);
		if (wfs_cur_left(&vm.c) == 0) {
			p->truncated = true;
			wfs_error_add(err, "%s: %s: pickle ends at offset %zu without STOP", label, what, vm.op_at);
			rc = WFS_EINVALID;
			break;
		}
		vm.op = wfs_cur_u8(&vm.c);
		if (vm.op == '.') { /* STOP */
			if (vm.nstack != 1 || vm.nmarks != 0) {
				wfs_error_add(err, "%s: %s: STOP at offset %zu with %zu values and %zu marks on the stack "
					      "(1 and 0 expected)", label, what, vm.op_at, vm.nstack, vm.nmarks);
				rc = WFS_EINVALID;
				break;
			}
			p->top = vm.stack[0];
			p->end = wfs_cur_offset(&vm.c);
			break;
		}
		rc = run_op(&vm);
		if (rc == 0 && vm.c.bad) {
			p->truncated = true;
			wfs_error_add(err, "%s: %s: %s at offset %zu runs past the end of the pickle", label, what,
				      wfs_pk_opcode_name(vm.op), vm.op_at);
			rc = WFS_EINVALID;
		}
		if (rc < 0)
			break;
	}
	free(vm.stack);
	free(vm.marks);
	free(vm.memo);
	return rc;
}

void wfs_pickle_free(struct wfs_pickle *p)
{
	for (uint32_t i = 0; i < p->nv; i++) {
		uint8_t k = p->v[i].kind;
		if (k == WFS_PK_TUPLE || k == WFS_PK_LIST || k == WFS_PK_DICT)
			free(p->v[i].u.c.items);
	}
	free(p->v);
	memset(p, 0, sizeof(*p));
}

bool wfs_pk_is_global(const struct wfs_pickle *p, uint32_t id, const char *module, const char *name)
{
	const struct wfs_pk_value *v = &p->v[id];
	if (v->kind != WFS_PK_GLOBAL)
		return false;
	size_t ml = strlen(module), nl = strlen(name);
	return v->u.g.mod_len == ml && v->u.g.name_len == nl &&
	       memcmp(p->data + v->u.g.mod_off, module, ml) == 0 && memcmp(p->data + v->u.g.name_off, name, nl) == 0;
}

bool wfs_pk_is_str(const struct wfs_pickle *p, uint32_t id, const char *s)
{
	const struct wfs_pk_value *v = &p->v[id];
	size_t n = strlen(s);
	return v->kind == WFS_PK_STR && v->u.s.len == n && memcmp(p->data + v->u.s.off, s, n) == 0;
}
