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
	mode_t umask;      /**< bits cleared from 0444 (files) and 0555 (directories) */
	bool splice;       /**< splice reads from local shards (see choose_io) */
	bool direct_io;    /**< cache=none: tensor files bypass the page cache */
	unsigned max_read; /**< the max_read mount option, 0 if none: init must agree */
	bool no_opendir; /**< the kernel opens directories itself (set by init) */
};

extern const struct fuse_lowlevel_ops wfs_ll_ops;

/**
 * Logs to stderr until wfs_log_to_syslog() (the daemon has no stderr), to
 * syslog after it; with a file opened by wfs_log_open_file(), also to that
 * file, and there instead of syslog.
 */
void wfs_log(int priority, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void wfs_log_to_syslog(void);
/** Opens PATH (appending, created 0640) for -o logfile=; 0 or -errno. */
int wfs_log_open_file(const char *path);
/** The log file's descriptor, or -1. */
int wfs_log_file_fd(void);

/** sd_notify READY=1 / STOPPING=1 when $NOTIFY_SOCKET is set (notify.c). */
void wfs_notify_ready(const char *mountpoint);
void wfs_notify_stopping(void);

#endif
