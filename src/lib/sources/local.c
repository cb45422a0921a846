/**
 * @file local.c
 * Shards that are local files, opened relative to the model directory.
 *
 * A shard's descriptor is kept open, so a shard renamed or replaced while
 * mounted keeps serving the bytes that were validated. When the process is
 * short of descriptors, the shards past its budget are reopened for every
 * read and checked to be the same file (device, inode) they were at open.
 */
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "source.h"

/* Reads exactly len bytes at off from fd: 0, -EIO if the file is shorter, or -errno. */
int wfs_read_exact(int fd, void *buf, size_t len, uint64_t off)
{
	char *p = buf;
	while (len) {
		ssize_t n = pread(fd, p, len, (off_t)off);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

int wfs_source_local_open(struct wfs_model *m, struct wfs_shard *s, bool keep_fd, const char *who,
			  struct wfs_error *err)
{
	const char *name = wfs_model_str(m, s->name);
	char q[WFS_QUOTE_MAX];
	s->source = &wfs_source_local;
	s->fd = -1;
	int fd = openat(m->dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		int e = errno;
		wfs_error_add(err, "%s%sshard %s: %s", who, *who ? ": " : "", wfs_quote(name, s->name.len, q),
			      strerror(e));
		return e == ENOENT || e == ENOTDIR || e == ELOOP ? WFS_EINVALID : -e;
	}
	struct stat st;
	if (fstat(fd, &st) < 0) {
		int e = errno;
		close(fd);
		wfs_error_add(err, "%s: %s", wfs_quote(name, s->name.len, q), strerror(e));
		return -e;
	}
	if (!S_ISREG(st.st_mode)) {
		close(fd);
		wfs_error_add(err, "%s: not a regular file", wfs_quote(name, s->name.len, q));
		return WFS_EINVALID;
	}
	s->size = (uint64_t)st.st_size;
	s->dev = st.st_dev;
	s->ino = st.st_ino;
	s->mtime = st.st_mtim;
	if (keep_fd)
		s->fd = fd;
	else
		close(fd);
	return 0;
}

static ssize_t local_pread(const struct wfs_model *m, const struct wfs_shard *s, void *buf, size_t len,
			   uint64_t off)
{
	int fd = s->fd;
	if (fd < 0) {
		/* Out of descriptors at open: reopen, and make sure it is the same
		 * file (a replaced shard gives EIO, never the new file's bytes). A
		 * truncated one is still the same file: what is left reads, what is
		 * gone gives EIO below, as with a kept descriptor. */
		struct stat st;
		fd = openat(m->dirfd, wfs_model_str(m, s->name), O_RDONLY | O_CLOEXEC);
		if (fd < 0)
			return -EIO;
		if (fstat(fd, &st) < 0 || st.st_dev != s->dev || st.st_ino != s->ino) {
			close(fd);
			return -EIO;
		}
	}
	int rc = wfs_read_exact(fd, buf, len, off);
	if (fd != s->fd)
		close(fd);
	return rc < 0 ? rc : (ssize_t)len;
}

static void local_willneed(const struct wfs_model *m, const struct wfs_shard *s, uint64_t off, uint64_t len)
{
	(void)m;
	if (s->fd >= 0 && off <= INT64_MAX && len <= INT64_MAX)
		(void)posix_fadvise(s->fd, (off_t)off, (off_t)len, POSIX_FADV_WILLNEED);
}

static int local_splice_fd(const struct wfs_model *m, const struct wfs_shard *s)
{
	(void)m;
	return s->fd;
}

static void local_close(struct wfs_shard *s)
{
	if (s->fd >= 0)
		close(s->fd);
	s->fd = -1;
}

const struct wfs_source_ops wfs_source_local = {
	.kind = "local",
	.pread = local_pread,
	.splice_fd = local_splice_fd,
	.close = local_close,
	.willneed = local_willneed,
};
