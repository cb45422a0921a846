/**
 * @file xattr.h
 * The extended attributes of a node: names and plain-text values.
 */
#ifndef WEIGHTFS_XATTR_H
#define WEIGHTFS_XATTR_H

#include <sys/types.h>

#include "weightfs/namespace.h"

/**
 * The kernel's limit on an attribute value (XATTR_SIZE_MAX). A longer value
 * (a tensor name or metadata of more than 64 KiB) is not offered at all:
 * listxattr does not list it and getxattr answers ENODATA.
 */
#define WFS_XATTR_VALUE_MAX 65536

/** The kernel's limit on an attribute name (XATTR_NAME_MAX); longer names are not offered. */
#define WFS_XATTR_NAME_MAX 255

/**
 * The kernel's limit on the whole name list of listxattr (XATTR_LIST_MAX).
 * The project's own attributes come first; metadata entries that would
 * take the list past it are not offered.
 */
#define WFS_XATTR_LIST_MAX 65536

/**
 * Writes the node's attribute names, each NUL-terminated, to @p buf, as
 * listxattr(2) does. Returns the total length (also when @p size is 0), or
 * -ERANGE when @p size is non-zero and too small.
 */
ssize_t wfs_xattr_list(const struct wfs_model *m, const struct wfs_namespace *ns,
		       uint32_t node, char *buf, size_t size);

/**
 * Writes the value of attribute @p name to @p buf, as getxattr(2) does.
 * Returns its length (also when @p size is 0), -ENODATA for a name the node
 * does not have, or -ERANGE when @p size is non-zero and too small.
 */
ssize_t wfs_xattr_get(const struct wfs_model *m, const struct wfs_namespace *ns,
		      uint32_t node, const char *name, char *buf, size_t size);

/**
 * Names in warnings (the first 20, then a count) the attributes that exist
 * in the model but are not offered: a value over 64 KiB, a name over 255
 * bytes or with a NUL byte, or metadata past the 64 KiB name list. Returns
 * how many there are.
 */
size_t wfs_xattr_warn_omitted(const struct wfs_model *m, const struct wfs_namespace *ns,
			      const struct wfs_warn *warn);

#endif
