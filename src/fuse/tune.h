/**
 * @file tune.h
 * Kernel settings of a mounted filesystem.
 */
#ifndef WEIGHTFS_TUNE_H
#define WEIGHTFS_TUNE_H

#include <stddef.h>

/**
 * Sets the readahead of the filesystem mounted at @p mountpoint (absolute)
 * through /sys/class/bdi/MAJ:MIN/read_ahead_kb. 0, or -errno with @p why set.
 */
int wfs_set_readahead(const char *mountpoint, int kb, char *why, size_t cap);

/**
 * The device ("MAJ:MIN") of the filesystem mounted last at @p mountpoint,
 * from /proc/self/mountinfo (which, unlike stat, sends the filesystem no
 * request). 0, or -ENOENT when nothing is mounted there.
 */
int wfs_mount_device(const char *mountpoint, char *dev, size_t cap);

/**
 * The type ("fuse.weightfs", "ext4") and source of the filesystem mounted
 * last at @p mountpoint (absolute), from /proc/self/mountinfo. 0, or
 * -ENOENT when nothing is mounted there.
 */
int wfs_mount_type(const char *mountpoint, char *type, size_t type_cap, char *source, size_t source_cap);

#endif
