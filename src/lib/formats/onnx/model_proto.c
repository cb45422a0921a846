/**
 * @file model_proto.c
 * Walking a ModelProto: its scalar fields, opset_import, metadata_props,
 * and the graph, whose initializers and sparse_initializers are reported,
 * and whose nodes' attributes (g, graphs: the bodies of If, Loop, Scan)
 * are walked as subgraphs, at most WFS_PB_MAX_DEPTH deep.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "internal_onnx.h"
#include "../../internal.h"

int wfs_onnx_fail(struct wfs_onnx_reader *r, const char *fmt, ...)
{
	char msg[768];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (r->tensor_name)
		wfs_error_add(r->err, "%s: %s %s: %s", r->label, r->path,
			      wfs_quote((const char *)r->tensor_name, r->tensor_name_len, (char[WFS_QUOTE_MAX]){0}), msg);
	else if (r->path_len)
		wfs_error_add(r->err, "%s: %s: %s", r->label, r->path, msg);
	else
		wfs_error_add(r->err, "%s: %s", r->label, msg);
	return WFS_EINVALID;
}

int wfs_onnx_bad(struct wfs_onnx_reader *r, const struct wfs_cursor *c, const char *what, const char *why)
{
	return wfs_onnx_fail(r, "%s: %s (at offset %zu)", what, why, wfs_cur_offset(c));
}

int wfs_onnx_wire(struct wfs_onnx_reader *r, const char *name, const struct wfs_pb_field *f, uint8_t want)
{
	return wfs_onnx_fail(r, "field %s (%u) has wire type %s, expected %s", name, f->number,
			     wfs_pb_wire_name(f->wire), wfs_pb_wire_name(want));
}

/* Appends ".NAME[i]" (or "NAME" at the top) to the path; returns the old length. */
static size_t push(struct wfs_onnx_reader *r, const char *name, long index)
{
	size_t old = r->path_len;
	size_t room = sizeof(r->path) - old;
	int n;
	if (index >= 0)
		n = snprintf(r->path + old, room, "%s%s[%ld]", old ? "." : "", name, index);
	else
		n = snprintf(r->path + old, room, "%s%s", old ? "." : "", name);
	if (n < 0 || (size_t)n >= room) { /* too deep to spell out: keep the prefix, mark the cut */
		memcpy(r->path + sizeof(r->path) - 4, "...", 4);
		r->path_len = sizeof(r->path) - 1;
	} else {
		r->path_len = old + (size_t)n;
	}
	return old;
}

static void pop(struct wfs_onnx_reader *r, size_t old)
{
	r->path_len = old;
	r->path[old] = '\0';
}

static int read_graph(struct wfs_onnx_reader *r, struct wfs_cursor c, unsigned depth);

static int report(struct wfs_onnx_reader *r, struct wfs_onnx_tensor *t)
{
	t->graph = r->graph_len ? r->graph : NULL;
	return r->sink->tensor ? r->sink->tensor(r->sink->ctx, t, r->err) : 0;
}

/* The string field @p number of the message @p c (a node's or an attribute's name), or an empty one. */
static void find_string(struct wfs_cursor c, uint32_t number, const uint8_t **s, size_t *len)
{
	struct wfs_pb_field f;
	const char *why;
	*s = (const uint8_t *)"";
	*len = 0;
	while (wfs_pb_next(&c, &f, &why) > 0) {
		if (f.number == number && f.wire == WFS_PB_LEN) {
			*s = f.sub.p;
			*len = wfs_pb_len(&f);
			return;
		}
	}
}

/* Appends "/NODE.ATTRIBUTE" (or "[k]" for the k-th of graphs) to r->graph; returns the old length. */
static size_t push_graph(struct wfs_onnx_reader *r, const uint8_t *node, size_t nlen, const uint8_t *attr, size_t alen,
			 long k)
{
	size_t old = r->graph_len, room = sizeof(r->graph) - old;
	int n = snprintf(r->graph + old, room, "%s%.*s.%.*s", old ? "/" : "", (int)(nlen > 100 ? 100 : nlen),
			 (const char *)node, (int)(alen > 100 ? 100 : alen), (const char *)attr);
	if (n >= 0 && (size_t)n < room && k >= 0) {
		int m = snprintf(r->graph + old + n, room - (size_t)n, "[%ld]", k);
		n = m < 0 ? -1 : n + m;
	}
	if (n < 0 || (size_t)n >= room) {
		memcpy(r->graph + sizeof(r->graph) - 4, "...", 4);
		r->graph_len = sizeof(r->graph) - 1;
	} else {
		r->graph_len = old + (size_t)n;
	}
	return old;
}

static void pop_graph(struct wfs_onnx_reader *r, size_t old)
{
	r->graph_len = old;
	r->graph[old] = '\0';
}

static int read_sparse(struct wfs_onnx_reader *r, struct wfs_cursor c)
{
	struct wfs_onnx_tensor parts[2];
	bool have[2] = {false, false};
	uint32_t ndim = 0;
	uint64_t dims[WFS_ONNX_MAX_DIMS];
	struct wfs_pb_field f;
	const char *why;
	int more, rc = 0;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number == 1 || f.number == 2) {
			unsigned k = f.number - 1;
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, k ? "indices" : "values", &f, WFS_PB_LEN);
			if (have[k])
				return wfs_onnx_fail(r, "%s appears twice", k ? "indices" : "values");
			size_t old = push(r, k ? "indices" : "values", -1);
			rc = wfs_onnx_read_tensor(r, f.sub, &parts[k], k == 0);
			pop(r, old);
			if (rc)
				return rc;
			have[k] = true;
		} else if (f.number == 3) {
			if ((rc = wfs_onnx_read_dims(r, &f, &ndim, dims)) != 0)
				return rc;
		}
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, "SparseTensorProto", why);
	if (!have[0] || !have[1])
		return wfs_onnx_fail(r, "sparse_initializer without %s", have[0] ? "indices" : "values");
	for (unsigned k = 0; k < 2; k++) {
		parts[k].sparse_part = k ? "indices" : "values";
		parts[k].sparse_name = parts[0].name;
		parts[k].sparse_name_len = parts[0].name_len;
		parts[k].sparse_ndim = ndim;
		memcpy(parts[k].sparse_dims, dims, ndim * sizeof(dims[0]));
		parts[k].where = r->path;
		int trc = report(r, &parts[k]);
		if (trc == -ENOMEM)
			return trc;
		if (trc)
			rc = trc;
	}
	return rc;
}

static int read_attribute(struct wfs_onnx_reader *r, struct wfs_cursor c, unsigned depth, const uint8_t *node,
			  size_t nlen)
{
	struct wfs_pb_field f;
	const char *why;
	int more, rc = 0;
	long ngraphs = 0;
	const uint8_t *attr;
	size_t alen;
	find_string(c, 1, &attr, &alen);
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number != 6 && f.number != 11) /* g, graphs */
			continue;
		if (f.wire != WFS_PB_LEN)
			return wfs_onnx_wire(r, f.number == 6 ? "g" : "graphs", &f, WFS_PB_LEN);
		long k = f.number == 6 ? -1 : ngraphs++;
		size_t old = push(r, f.number == 6 ? "g" : "graphs", k);
		size_t gold = push_graph(r, node, nlen, attr, alen, k);
		int grc = read_graph(r, f.sub, depth + 1);
		pop_graph(r, gold);
		pop(r, old);
		if (grc == -ENOMEM || (grc && grc != WFS_EINVALID))
			return grc;
		if (grc)
			rc = grc;
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, "AttributeProto", why);
	return rc;
}

static int read_node(struct wfs_onnx_reader *r, struct wfs_cursor c, unsigned depth)
{
	struct wfs_pb_field f;
	const char *why;
	int more, rc = 0;
	long nattr = 0;
	const uint8_t *node;
	size_t nlen;
	find_string(c, 3, &node, &nlen);
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number != 5) /* attribute */
			continue;
		if (f.wire != WFS_PB_LEN)
			return wfs_onnx_wire(r, "attribute", &f, WFS_PB_LEN);
		size_t old = push(r, "attribute", nattr++);
		int arc = read_attribute(r, f.sub, depth, node, nlen);
		pop(r, old);
		if (arc && arc != WFS_EINVALID)
			return arc;
		if (arc)
			rc = arc;
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, "NodeProto", why);
	return rc;
}

static int read_graph(struct wfs_onnx_reader *r, struct wfs_cursor c, unsigned depth)
{
	if (depth > WFS_PB_MAX_DEPTH)
		return wfs_onnx_fail(r, "subgraphs nested more than %d deep", WFS_PB_MAX_DEPTH);
	struct wfs_pb_field f;
	const char *why;
	int more, rc = 0;
	long nnode = 0, ninit = 0, nsparse = 0;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		int frc = 0;
		size_t old;
		switch (f.number) {
		case 1: /* node */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, "node", &f, WFS_PB_LEN);
			old = push(r, "node", nnode++);
			frc = read_node(r, f.sub, depth);
			pop(r, old);
			break;
		case 5: { /* initializer */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, "initializer", &f, WFS_PB_LEN);
			struct wfs_onnx_tensor t;
			old = push(r, "initializer", ninit++);
			frc = wfs_onnx_read_tensor(r, f.sub, &t, true);
			if (frc == 0)
				frc = report(r, &t);
			pop(r, old);
			break;
		}
		case 15: /* sparse_initializer */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, "sparse_initializer", &f, WFS_PB_LEN);
			old = push(r, "sparse_initializer", nsparse++);
			frc = read_sparse(r, f.sub);
			pop(r, old);
			break;
		default:
			break;
		}
		if (frc && frc != WFS_EINVALID)
			return frc;
		if (frc)
			rc = frc;
		if (r->err && r->err->count > WFS_ERROR_MAX_LINES)
			return rc; /* enough said */
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, "GraphProto", why);
	return rc;
}

static int read_string_pair(struct wfs_onnx_reader *r, struct wfs_cursor c, const char *what, const uint8_t **k,
			    size_t *klen, const uint8_t **v, size_t *vlen)
{
	struct wfs_pb_field f;
	const char *why;
	int more;
	*k = *v = (const uint8_t *)"";
	*klen = *vlen = 0;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number != 1 && f.number != 2)
			continue;
		if (f.wire != WFS_PB_LEN)
			return wfs_onnx_wire(r, f.number == 1 ? "key" : "value", &f, WFS_PB_LEN);
		if (f.number == 1) {
			*k = f.sub.p;
			*klen = wfs_pb_len(&f);
		} else {
			*v = f.sub.p;
			*vlen = wfs_pb_len(&f);
		}
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, what, why);
	return 0;
}

static int read_opset(struct wfs_onnx_reader *r, struct wfs_cursor c)
{
	struct wfs_pb_field f;
	const char *why;
	int more;
	const uint8_t *domain = (const uint8_t *)"";
	size_t dlen = 0;
	int64_t version = 0;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		if (f.number == 1) {
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(r, "domain", &f, WFS_PB_LEN);
			domain = f.sub.p;
			dlen = wfs_pb_len(&f);
		} else if (f.number == 2) {
			if (f.wire != WFS_PB_VARINT)
				return wfs_onnx_wire(r, "version", &f, WFS_PB_VARINT);
			version = (int64_t)f.value;
		}
	}
	if (more < 0)
		return wfs_onnx_bad(r, &c, "OperatorSetIdProto", why);
	return r->sink->opset ? r->sink->opset(r->sink->ctx, domain, dlen, version) : 0;
}

static int scalar(struct wfs_onnx_reader *r, const struct wfs_pb_field *f, const char *key)
{
	if (r->sink->field == NULL)
		return 0;
	if (f->wire == WFS_PB_VARINT) {
		char num[24];
		int n = snprintf(num, sizeof(num), "%lld", (long long)(int64_t)f->value);
		return r->sink->field(r->sink->ctx, key, num, (size_t)n);
	}
	return r->sink->field(r->sink->ctx, key, (const char *)f->sub.p, wfs_pb_len(f));
}

int wfs_onnx_read_model(const uint8_t *buf, size_t len, const char *label, const struct wfs_onnx_sink *sink,
			struct wfs_error *err)
{
	struct wfs_onnx_reader r = {.label = label, .sink = sink, .err = err};
	struct wfs_cursor c = wfs_cursor_make(buf, len);
	struct wfs_pb_field f;
	const char *why;
	int more, rc = 0;
	bool has_graph = false, has_ir = false;
	long nopset = 0, nmeta = 0;
	while ((more = wfs_pb_next(&c, &f, &why)) > 0) {
		int frc = 0;
		size_t old;
		switch (f.number) {
		case 1: /* ir_version */
		case 5: /* model_version */
			if (f.wire != WFS_PB_VARINT)
				return wfs_onnx_wire(&r, f.number == 1 ? "ir_version" : "model_version", &f, WFS_PB_VARINT);
			has_ir |= f.number == 1;
			frc = scalar(&r, &f, f.number == 1 ? "ir_version" : "model_version");
			break;
		case 2: /* producer_name */
		case 3: /* producer_version */
		case 4: /* domain */ {
			static const char *const names[] = {"producer_name", "producer_version", "domain"};
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(&r, names[f.number - 2], &f, WFS_PB_LEN);
			frc = scalar(&r, &f, names[f.number - 2]);
			break;
		}
		case 7: /* graph */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(&r, "graph", &f, WFS_PB_LEN);
			if (has_graph)
				return wfs_onnx_fail(&r, "graph appears twice");
			has_graph = true;
			old = push(&r, "graph", -1);
			frc = read_graph(&r, f.sub, 0);
			pop(&r, old);
			break;
		case 8: /* opset_import */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(&r, "opset_import", &f, WFS_PB_LEN);
			old = push(&r, "opset_import", nopset++);
			frc = read_opset(&r, f.sub);
			pop(&r, old);
			break;
		case 14: { /* metadata_props */
			if (f.wire != WFS_PB_LEN)
				return wfs_onnx_wire(&r, "metadata_props", &f, WFS_PB_LEN);
			const uint8_t *k, *v;
			size_t klen, vlen;
			old = push(&r, "metadata_props", nmeta++);
			frc = read_string_pair(&r, f.sub, "StringStringEntryProto", &k, &klen, &v, &vlen);
			pop(&r, old);
			if (frc == 0 && sink->metadata)
				frc = sink->metadata(sink->ctx, k, klen, v, vlen);
			break;
		}
		default:
			break;
		}
		if (frc && frc != WFS_EINVALID)
			return frc;
		if (frc)
			rc = frc;
	}
	if (more < 0)
		return wfs_onnx_bad(&r, &c, "ModelProto", why);
	if (rc)
		return rc;
	if (!has_ir)
		return wfs_onnx_fail(&r, "not an ONNX model: ModelProto has no ir_version");
	if (!has_graph)
		return wfs_onnx_fail(&r, "ModelProto has no graph");
	return 0;
}

const char *wfs_onnx_type_name(int32_t t)
{
	static const char *const names[] = {
		"UNDEFINED", "FLOAT", "UINT8", "INT8", "UINT16", "INT16", "INT32", "INT64", "STRING",
		"BOOL", "FLOAT16", "DOUBLE", "UINT32", "UINT64", "COMPLEX64", "COMPLEX128", "BFLOAT16",
		"FLOAT8E4M3FN", "FLOAT8E4M3FNUZ", "FLOAT8E5M2", "FLOAT8E5M2FNUZ", "UINT4", "INT4",
		"FLOAT4E2M1", "FLOAT8E8M0",
	};
	if (t < 0 || (size_t)t >= sizeof(names) / sizeof(names[0]))
		return NULL;
	return names[t];
}
