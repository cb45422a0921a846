/**
 * @file walk.h
 * The walk over a state dict (or checkpoint, or TorchScript module) that
 * names what it holds.
 *
 * Names are dict keys joined with '.' (integer keys in decimal, list and
 * tuple items by index), as torch's own state_dict() and transformers name
 * them. Tensors go to the sink's tensor callback; for a plain dict the
 * other leaves (None, bool, int, float, str, and lists or tuples of those)
 * go to its kv callback as metadata (values as JSON, strings as they are).
 * In TorchScript mode (objects of classes under `__torch__`), an object's
 * attributes are walked as dict keys and non-tensor attributes (training,
 * _is_full_backward_hook, ...) are skipped.
 *
 * With @c root set, only names under "ROOT." are given (without it).
 * Duplicate names, keys that are neither str nor int, nesting deeper than
 * WFS_PT_WALK_MAX_DEPTH, and graphs of shared references that would
 * make more than twice as many visits as the pickle has values (at most
 * WFS_PT_WALK_MAX_VISITS) or names of more than 16 bytes per pickle byte
 * plus 16 MiB in all (at most WFS_PT_WALK_MAX_NAME_BYTES) are refused.
 */
#ifndef WEIGHTFS_PT_WALK_H
#define WEIGHTFS_PT_WALK_H

#include "torch.h"

#define WFS_PT_WALK_MAX_DEPTH 64
#define WFS_PT_WALK_MAX_VISITS (1u << 22)
#define WFS_PT_WALK_MAX_NAME_BYTES (256u << 20)
#define WFS_PT_MAX_NAME 65536          /**< bytes of one flattened name */
#define WFS_PT_MAX_KV_VALUE 65536      /**< bytes of one metadata value; longer ones are skipped */

struct wfs_pt_sink {
	void *ctx;
	/** A tensor called @p name. 0, or a negative errno (WFS_EINVALID with a message in the walk's err). */
	int (*tensor)(void *ctx, const char *name, size_t len, const struct wfs_pt_tensor *t);
	/** A metadata leaf. 0 or a negative errno. */
	int (*kv)(void *ctx, const char *name, size_t len, const char *value, size_t vlen, bool json);
};

struct wfs_pt_walk_opts {
	const char *root;  /**< -o root=KEY, or NULL */
	bool script;       /**< start in TorchScript mode (constants.pkl) */
	const char *prefix;/**< a name every emitted name starts with ("CONSTANTS"), or NULL */
};

/**
 * Walks value @p top of @p p. Returns 0, WFS_EINVALID (one line per
 * problem in @p err, prefixed "@p label: @p what: "), -ENOMEM, or what a
 * callback returned. With opts->root set and nothing under it, WFS_EINVALID.
 */
int wfs_pt_walk(const struct wfs_pickle *p, uint32_t top, const struct wfs_pt_walk_opts *opts,
		const struct wfs_pt_sink *sink, const char *label, const char *what, struct wfs_error *err);

#endif
