/**
 * @file tune.c
 * Finds a mount's device and type in /proc/self/mountinfo (reading it sends
 * no request to the filesystem, unlike stat) and writes its readahead.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "tune.h"

/* mountinfo escapes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' &&
		    p[3] >= '0' && p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

int wfs_mount_device(const char *mountpoint, char *dev, size_t cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL)
		return -errno;
	char line[8192];
	dev[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		char majmin[32], point[4096];
		if (sscanf(line, "%*s %*s %31s %*s %4095s", majmin, point) != 2)
			continue;
		unescape(point);
		if (strcmp(point, mountpoint) == 0)
			snprintf(dev, cap, "%s", majmin); /* the last mount there is on top */
	}
	fclose(f);
	return dev[0] ? 0 : -ENOENT;
}

int wfs_mount_type(const char *mountpoint, char *type, size_t type_cap, char *source, size_t source_cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL)
		return -errno;
	char line[8192];
	type[0] = '\0';
	while (fgets(line, sizeof(line), f)) {
		/* ID PARENT MAJ:MIN ROOT POINT OPTIONS [OPTIONAL...] - TYPE SOURCE SUPEROPTIONS */
		char point[4096], fstype[256], src[4096];
		const char *dash = strstr(line, " - ");
		if (dash == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", point) != 1 ||
		    sscanf(dash + 3, "%255s %4095s", fstype, src) != 2)
			continue;
		unescape(point);
		unescape(src);
		if (strcmp(point, mountpoint) == 0) { /* the last mount there is on top */
			snprintf(type, type_cap, "%s", fstype);
			snprintf(source, source_cap, "%s", src);
		}
	}
	fclose(f);
	return type[0] ? 0 : -ENOENT;
}

int wfs_set_readahead(const char *mountpoint, int kb, char *why, size_t cap)
{
	char dev[32];
	if (wfs_mount_device(mountpoint, dev, sizeof(dev)) < 0) {
		snprintf(why, cap, "%s is not in /proc/self/mountinfo", mountpoint);
		return -ENOENT;
	}
	char path[96];
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	int fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		snprintf(why, cap, "%s: %s", path, strerror(e));
		return -e;
	}
	char value[16];
	int len = snprintf(value, sizeof(value), "%d\n", kb);
	int rc = 0;
	if (write(fd, value, (size_t)len) != len) {
		rc = -errno;
		snprintf(why, cap, "%s: %s", path, strerror(errno));
	}
	close(fd);
	return rc;
}
