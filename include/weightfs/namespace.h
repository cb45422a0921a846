/**
 * @file namespace.h
 * The directory tree a model is shown as: tensor names mapped to paths by a
 * layout, plus the model directory's other files.
 *
 * Nodes live in one array in breadth-first order, so a directory's children
 * are the contiguous, name-sorted range [first_child, first_child+nchildren).
 * A node's inode number is its index plus WFS_INO_ROOT: the root is node 0,
 * inode numbers never change while mounted, and forget has nothing to do.
 */
#ifndef WEIGHTFS_NAMESPACE_H
#define WEIGHTFS_NAMESPACE_H

#include <stdint.h>
#include <sys/types.h>

#include "weightfs/model.h"
#include "weightfs/views.h"

#define WFS_INO_ROOT 1

enum wfs_layout { WFS_LAYOUT_MODULES, WFS_LAYOUT_TREE, WFS_LAYOUT_FLAT };

/** Parses "modules", "tree" or "flat"; 0 or -EINVAL. */
int wfs_layout_parse(const char *name, enum wfs_layout *out);

enum wfs_node_kind {
	WFS_NODE_DIR,    /**< a directory (of tensors, or of the model directory) */
	WFS_NODE_TENSOR, /**< ref is a tensor index */
	WFS_NODE_FILE,   /**< ref is an extra (other file of the model directory) */
};

#define WFS_NO_REF UINT32_MAX

struct wfs_node {
	uint64_t nbytes;       /**< file: size; directory: tensor bytes beneath */
	size_t name;           /**< offset of the NUL-terminated name in the namespace arena */
	uint32_t name_len;
	uint32_t parent;       /**< node index; the root is its own parent */
	uint32_t first_child;
	uint32_t nchildren;
	uint32_t nsubdirs;
	uint32_t ntensors;     /**< directory: tensors beneath */
	uint32_t ref;          /**< tensor or extra index, WFS_NO_REF for made-up directories */
	uint32_t group;        /**< a group's own directory (one file's model): the group index; else 0 */
	uint8_t kind;          /**< enum wfs_node_kind */
};

struct wfs_namespace {
	struct wfs_node *nodes;
	size_t nnodes;
	char *arena;
	size_t arena_len;
	enum wfs_layout layout;
	struct wfs_view_options view; /**< what tensor files show (names, sizes, bytes) */
};

/** Builds the tree of @p m under @p layout. Tensors or files that cannot be shown are named in warnings. */
int wfs_namespace_build(const struct wfs_model *m, enum wfs_layout layout,
			const struct wfs_warn *warn, struct wfs_namespace **out,
			struct wfs_error *err);

/**
 * Builds the tree of @p m under @p layout as view @p view shows it: in
 * view=npy tensor files are named NAME.npy; sizes are those of the view.
 * Types a view cannot decode are named in one warning.
 */
int wfs_namespace_build_view(const struct wfs_model *m, enum wfs_layout layout,
			     const struct wfs_view_options *view, const struct wfs_warn *warn,
			     struct wfs_namespace **out, struct wfs_error *err);

void wfs_namespace_free(struct wfs_namespace *ns);

/**
 * Reads @p len bytes at @p off of tensor node @p n as the namespace's view
 * shows it, clipped at the end of the file: wfs_view_read() (see there:
 * @p buf holds len + WFS_VIEW_SCRATCH bytes). Returns the number of bytes
 * or a negative errno; -EISDIR for a node that is not a tensor.
 */
ssize_t wfs_node_read(const struct wfs_model *m, const struct wfs_namespace *ns, const struct wfs_node *n,
		      void *buf, size_t len, uint64_t off);

static inline const char *wfs_node_name(const struct wfs_namespace *ns, const struct wfs_node *n)
{
	return ns->arena + n->name;
}

/** Node index of the child @p name of directory @p dir, or -1. Binary search. */
ssize_t wfs_namespace_lookup(const struct wfs_namespace *ns, uint32_t dir,
			     const char *name, size_t len);

/**
 * Encodes one path component so that it is a valid file name (see README,
 * "Names that cannot be file names"). @p out must hold WFS_NAME_MAX + 1
 * bytes; returns the encoded length (NUL-terminated).
 */
#define WFS_NAME_MAX 255
size_t wfs_component_encode(const char *in, size_t len, char *out);

#endif
