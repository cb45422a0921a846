/**
 * @file fs.h
 * The mounted filesystem: what the FUSE handlers need, and logging.
 */
#ifndef WEIGHTFS_FS_H
#define WEIGHTFS_FS_H

#define FUSE_USE_VERSION 314
#include <fuse_lowlevel.h>
#include <stdbool.h>

#include "weightfs/namespace.h"

struct wfs_fs {
	const struct wfs_model *model;
	const struct wfs_namespace *ns;
	uid_t uid;
	gid_t gid;
	bool splice;       /**< splice reads from local shards (see choose_io) */
	bool direct_io;    /**< cache=none: tensor files bypass the page cache */
	unsigned max_read; /**< the max_read mount option, 0 if none: init must agree */
	bool no_opendir; /**< the kernel opens directories itself (set by init) */
};

extern const struct fuse_lowlevel_ops wfs_ll_ops;

/** Logs to stderr, or to syslog once wfs_log_to_syslog() was called. */
void wfs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wfs_log_to_syslog(void);

#endif
