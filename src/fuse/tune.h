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

#endif
