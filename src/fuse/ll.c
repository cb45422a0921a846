/**
 * @file ll.c
 * FUSE low-level handlers: inode number -> node -> tensor -> shard bytes.
 *
 * Inode numbers are node indices plus WFS_INO_ROOT (see namespace.h), so
 * there is no inode table to lock and forget has nothing to do. Every
 * handler replies exactly once. The model never changes while mounted, so
 * entries and attributes are cached by the kernel for a long time and file
 * pages are kept across opens (with cache=none, tensor files have none).
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "fs.h"
#include "weightfs/xattr.h"

/* The model cannot change while mounted: let the kernel cache for a day. */
#define CACHE_TIMEOUT 86400.0
#define BLKSIZE (1u << 20)

static struct wfs_fs *fs_of(fuse_req_t req)
{
	return fuse_req_userdata(req);
}

static const struct wfs_node *node_of(const struct wfs_fs *fs, fuse_ino_t ino)
{
	if (ino < WFS_INO_ROOT || ino - WFS_INO_ROOT >= fs->ns->nnodes)
		return NULL;
	return &fs->ns->nodes[ino - WFS_INO_ROOT];
}

static fuse_ino_t ino_of(const struct wfs_fs *fs, const struct wfs_node *n)
{
	return (fuse_ino_t)(n - fs->ns->nodes) + WFS_INO_ROOT;
}

static void fill_attr(const struct wfs_fs *fs, const struct wfs_node *n, struct stat *st)
{
	const struct wfs_model *m = fs->model;
	memset(st, 0, sizeof(*st));
	st->st_ino = ino_of(fs, n);
	st->st_uid = fs->uid;
	st->st_gid = fs->gid;
	st->st_blksize = BLKSIZE;
	struct timespec t = m->newest_mtime;
	if (n->kind == WFS_NODE_DIR) {
		st->st_mode = S_IFDIR | (0555 & ~fs->umask);
		st->st_nlink = 2 + n->nsubdirs;
		if (n->ref != WFS_NO_REF)
			t = m->extras[n->ref].mtime;
	} else {
		st->st_mode = S_IFREG | (0444 & ~fs->umask);
		st->st_nlink = 1;
		st->st_size = (off_t)n->nbytes;
		st->st_blocks = (blkcnt_t)((n->nbytes + 511) / 512);
		t = n->kind == WFS_NODE_TENSOR ? m->shards[m->tensors[n->ref].shard].mtime
					       : m->extras[n->ref].mtime;
	}
	st->st_mtim = st->st_ctim = st->st_atim = t;
}

static void fill_entry(const struct wfs_fs *fs, const struct wfs_node *n, struct fuse_entry_param *e)
{
	memset(e, 0, sizeof(*e));
	e->ino = ino_of(fs, n);
	e->attr_timeout = CACHE_TIMEOUT;
	e->entry_timeout = CACHE_TIMEOUT;
	fill_attr(fs, n, &e->attr);
}

static void wfs_ll_init(void *userdata, struct fuse_conn_info *conn)
{
	struct wfs_fs *fs = userdata;
	/* libfuse refuses the connection unless this equals the mount option. */
	conn->max_read = fs->max_read;
	if (conn->capable & FUSE_CAP_READDIRPLUS) {
		conn->want |= FUSE_CAP_READDIRPLUS;
		conn->want &= ~(unsigned)FUSE_CAP_READDIRPLUS_AUTO;
	}
	/* Directories need no open state: let the kernel skip OPENDIR and
	 * RELEASEDIR (it then keeps and caches directory contents itself),
	 * which saves two round trips per directory that find or ls -R visit. */
	fs->no_opendir = (conn->capable & FUSE_CAP_NO_OPENDIR_SUPPORT) != 0;
	if (fs->no_opendir)
		conn->want |= FUSE_CAP_NO_OPENDIR_SUPPORT;
	if (fs->splice && (conn->capable & FUSE_CAP_SPLICE_WRITE))
		conn->want |= FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE;
	else
		conn->want &= ~(unsigned)(FUSE_CAP_SPLICE_WRITE | FUSE_CAP_SPLICE_MOVE);
}

static void wfs_ll_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *dir = node_of(fs, parent);
	if (dir == NULL || dir->kind != WFS_NODE_DIR) {
		fuse_reply_err(req, dir ? ENOTDIR : ENOENT);
		return;
	}
	ssize_t child = wfs_namespace_lookup(fs->ns, (uint32_t)(dir - fs->ns->nodes), name, strlen(name));
	if (child < 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e;
	fill_entry(fs, &fs->ns->nodes[child], &e);
	fuse_reply_entry(req, &e);
}

static void wfs_ll_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *n = node_of(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct stat st;
	fill_attr(fs, n, &st);
	fuse_reply_attr(req, &st, CACHE_TIMEOUT);
}

static void wfs_ll_opendir(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *n = node_of(fs, ino);
	if (n == NULL || n->kind != WFS_NODE_DIR) {
		fuse_reply_err(req, n ? ENOTDIR : ENOENT);
		return;
	}
	if (fs->no_opendir) {
		fuse_reply_err(req, ENOSYS); /* "success, and do not ask again" */
		return;
	}
	fi->keep_cache = 1;
	fi->cache_readdir = 1;
	fuse_reply_open(req, fi);
}

/*
 * Directory offsets: 0 is ".", 1 is "..", 2 + i is the i-th child. With
 * "plus", entries carry attributes so `ls -l` and `find` need no lookups;
 * "." and ".." carry none (ino 0), as the kernel expects.
 */
static void readdir_common(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, bool plus)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *dir = node_of(fs, ino);
	if (dir == NULL || dir->kind != WFS_NODE_DIR) {
		fuse_reply_err(req, dir ? ENOTDIR : ENOENT);
		return;
	}
	char *buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	size_t pos = 0;
	size_t total = 2 + (size_t)dir->nchildren;
	for (size_t i = off < 0 ? 0 : (size_t)off; i < total; i++) {
		const struct wfs_node *n = i == 0 ? dir : i == 1 ? &fs->ns->nodes[dir->parent]
					       : &fs->ns->nodes[dir->first_child + i - 2];
		const char *name = i == 0 ? "." : i == 1 ? ".." : wfs_node_name(fs->ns, n);
		struct fuse_entry_param e;
		fill_entry(fs, n, &e);
		size_t need;
		if (plus) {
			if (i < 2)
				e.ino = 0;
			need = fuse_add_direntry_plus(req, buf + pos, size - pos, name, &e, (off_t)(i + 1));
		} else {
			need = fuse_add_direntry(req, buf + pos, size - pos, name, &e.attr, (off_t)(i + 1));
		}
		if (need > size - pos)
			break;
		pos += need;
	}
	fuse_reply_buf(req, buf, pos);
	free(buf);
}

static void wfs_ll_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, false);
}

static void wfs_ll_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
			       struct fuse_file_info *fi)
{
	(void)fi;
	readdir_common(req, ino, size, off, true);
}

/* Local extra files are read through a descriptor opened by wfs_ll_open. */
static bool has_fd(const struct wfs_fs *fs, const struct wfs_node *n)
{
	return n->kind == WFS_NODE_FILE && fs->model->extras[n->ref].remote == NULL;
}

static void wfs_ll_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *n = node_of(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	if (n->kind == WFS_NODE_DIR) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	if ((fi->flags & O_ACCMODE) != O_RDONLY || (fi->flags & O_TRUNC)) {
		fuse_reply_err(req, EROFS);
		return;
	}
	if (n->kind == WFS_NODE_FILE && fs->model->extras[n->ref].remote == NULL) {
		const struct wfs_extra *x = &fs->model->extras[n->ref];
		int fd = openat(fs->model->dirfd, wfs_model_str(fs->model, x->path), O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			fuse_reply_err(req, errno);
			return;
		}
		fi->fh = (uint64_t)fd;
	}
	/* cache=none: a tensor's bytes go straight to the reader's buffer, not
	 * into a second page cache on top of the shard's (the kernel then
	 * refuses shared mmap with ENODEV; main.c says so at mount). */
	if (fs->direct_io && n->kind == WFS_NODE_TENSOR)
		fi->direct_io = 1;
	else
		fi->keep_cache = 1;
	if (fuse_reply_open(req, fi) != 0 && has_fd(fs, n))
		close((int)fi->fh);
}

static void wfs_ll_release(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *n = node_of(fs, ino);
	if (n != NULL && has_fd(fs, n))
		close((int)fi->fh);
	fuse_reply_err(req, 0);
}

/*
 * One buffer per request thread, grown to the largest read seen: the read
 * path allocates only until every thread has seen its largest request.
 * libfuse ends idle threads; the key's destructor frees their buffers.
 */
static pthread_key_t buffer_key;
static pthread_once_t buffer_once = PTHREAD_ONCE_INIT;
static _Thread_local char *thread_buf;
static _Thread_local size_t thread_buf_size;

static void make_buffer_key(void)
{
	pthread_key_create(&buffer_key, free);
}

static char *read_buffer(size_t size)
{
	if (size > thread_buf_size) {
		size_t want = size < (128u << 10) ? (128u << 10) : size;
		char *p = realloc(thread_buf, want);
		if (p == NULL)
			return NULL;
		pthread_once(&buffer_once, make_buffer_key);
		pthread_setspecific(buffer_key, p);
		thread_buf = p;
		thread_buf_size = want;
	}
	return thread_buf;
}

/* Replies with the bytes [pos, pos+len) of an extra file; short means changed: EIO. */
static void read_extra(fuse_req_t req, const struct wfs_fs *fs, const struct wfs_node *n, int fd,
		       size_t len, off_t pos)
{
	char *buf = read_buffer(len);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	if (!has_fd(fs, n)) {
		ssize_t got = wfs_extra_read(fs->model, &fs->model->extras[n->ref], buf, len, (uint64_t)pos);
		if (got < 0)
			fuse_reply_err(req, (int)-got);
		else
			fuse_reply_buf(req, buf, (size_t)got);
		return;
	}
	size_t got = 0;
	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, pos + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			fuse_reply_err(req, EIO);
			return;
		}
		got += (size_t)n;
	}
	fuse_reply_buf(req, buf, len);
}

/*
 * Splices the tensor's bytes from the shard into the reply. A short splice
 * would reach the kernel as end of file, so the shard's size is checked
 * first: a shard truncated under the mount gives EIO, not short data.
 */
static void read_tensor_splice(fuse_req_t req, int fd, size_t len, uint64_t pos)
{
	struct stat st;
	if (fstat(fd, &st) < 0 || (uint64_t)st.st_size < pos + len) {
		fuse_reply_err(req, EIO);
		return;
	}
	struct fuse_bufvec bv = FUSE_BUFVEC_INIT(len);
	bv.buf[0].flags = FUSE_BUF_IS_FD | FUSE_BUF_FD_SEEK;
	bv.buf[0].fd = fd;
	bv.buf[0].pos = (off_t)pos;
	fuse_reply_data(req, &bv, FUSE_BUF_SPLICE_MOVE);
}

/* A typed view (view=npy or f32): the library writes the bytes, using the
 * rest of the thread's buffer as scratch. */
static void read_view(fuse_req_t req, const struct wfs_fs *fs, const struct wfs_node *n, size_t len, off_t off)
{
	char *buf = read_buffer(len + WFS_VIEW_SCRATCH);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t got = wfs_node_read(fs->model, fs->ns, n, buf, len, (uint64_t)off);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
}

static void wfs_ll_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *n = node_of(fs, ino);
	if (n == NULL || n->kind == WFS_NODE_DIR) {
		fuse_reply_err(req, n ? EISDIR : ENOENT);
		return;
	}
	if (off < 0 || (uint64_t)off >= n->nbytes) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	size_t len = n->nbytes - (uint64_t)off < size ? (size_t)(n->nbytes - (uint64_t)off) : size;
	if (n->kind == WFS_NODE_FILE) {
		read_extra(req, fs, n, (int)fi->fh, len, off);
		return;
	}
	if (fs->ns->view.mode != WFS_VIEW_RAW) {
		read_view(req, fs, n, len, off);
		return;
	}
	const struct wfs_tensor *t = &fs->model->tensors[n->ref];
	int fd;
	uint64_t pos;
	if (fs->splice && wfs_tensor_splice_source(fs->model, t, (uint64_t)off, len, &fd, &pos) == 0) {
		read_tensor_splice(req, fd, len, pos);
		return;
	}
	/* Bytes the library holds in memory (remote chunks) go out from there. */
	struct wfs_view view;
	ssize_t lent = wfs_tensor_view(fs->model, t, len, (uint64_t)off, &view);
	if (lent != -EAGAIN) {
		if (lent < 0)
			fuse_reply_err(req, (int)-lent);
		else
			fuse_reply_iov(req, view.iov, (int)view.count);
		wfs_view_release(&view);
		return;
	}
	wfs_view_release(&view);
	char *buf = read_buffer(len);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t got = wfs_tensor_read(fs->model, t, buf, len, (uint64_t)off);
	if (got < 0)
		fuse_reply_err(req, (int)-got);
	else
		fuse_reply_buf(req, buf, (size_t)got);
}

static void wfs_ll_statfs(fuse_req_t req, fuse_ino_t ino)
{
	(void)ino;
	const struct wfs_model *m = fs_of(req)->model;
	struct statvfs sv = {
		.f_bsize = 4096,
		.f_frsize = 4096,
		.f_blocks = (m->total_bytes + 4095) / 4096,
		.f_files = m->ntensors,
		.f_namemax = WFS_NAME_MAX,
	};
	fuse_reply_statfs(req, &sv);
}

/* getxattr and listxattr share this: size 0 asks for the length. */
static void reply_xattr(fuse_req_t req, size_t size,
			ssize_t (*get)(fuse_req_t req, uint32_t node, const char *name, char *buf, size_t size),
			fuse_ino_t ino, const char *name)
{
	struct wfs_fs *fs = fs_of(req);
	const struct wfs_node *n = node_of(fs, ino);
	if (n == NULL) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	uint32_t node = (uint32_t)(n - fs->ns->nodes);
	if (size == 0) {
		ssize_t len = get(req, node, name, NULL, 0);
		if (len < 0)
			fuse_reply_err(req, (int)-len);
		else
			fuse_reply_xattr(req, (size_t)len);
		return;
	}
	char *buf = malloc(size);
	if (buf == NULL) {
		fuse_reply_err(req, ENOMEM);
		return;
	}
	ssize_t len = get(req, node, name, buf, size);
	if (len < 0)
		fuse_reply_err(req, (int)-len);
	else
		fuse_reply_buf(req, buf, (size_t)len);
	free(buf);
}

static ssize_t get_value(fuse_req_t req, uint32_t node, const char *name, char *buf, size_t size)
{
	struct wfs_fs *fs = fs_of(req);
	return wfs_xattr_get(fs->model, fs->ns, node, name, buf, size);
}

static ssize_t get_names(fuse_req_t req, uint32_t node, const char *name, char *buf, size_t size)
{
	(void)name;
	struct wfs_fs *fs = fs_of(req);
	return wfs_xattr_list(fs->model, fs->ns, node, buf, size);
}

static void wfs_ll_getxattr(fuse_req_t req, fuse_ino_t ino, const char *name, size_t size)
{
	reply_xattr(req, size, get_value, ino, name);
}

static void wfs_ll_listxattr(fuse_req_t req, fuse_ino_t ino, size_t size)
{
	reply_xattr(req, size, get_names, ino, NULL);
}

/* Everything that would change the model: the mount is read-only. */
static void wfs_ll_setxattr(fuse_req_t req, fuse_ino_t ino, const char *name, const char *value,
			    size_t size, int flags)
{
	(void)ino, (void)name, (void)value, (void)size, (void)flags;
	fuse_reply_err(req, EROFS);
}

static void wfs_ll_removexattr(fuse_req_t req, fuse_ino_t ino, const char *name)
{
	(void)ino, (void)name;
	fuse_reply_err(req, EROFS);
}

static void wfs_ll_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr, int to_set,
			   struct fuse_file_info *fi)
{
	(void)ino, (void)attr, (void)to_set, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void wfs_ll_create(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode,
			  struct fuse_file_info *fi)
{
	(void)parent, (void)name, (void)mode, (void)fi;
	fuse_reply_err(req, EROFS);
}

static void wfs_ll_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name, mode_t mode)
{
	(void)parent, (void)name, (void)mode;
	fuse_reply_err(req, EROFS);
}

static void wfs_ll_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	(void)parent, (void)name;
	fuse_reply_err(req, EROFS);
}

static void wfs_ll_rename(fuse_req_t req, fuse_ino_t parent, const char *name, fuse_ino_t newparent,
			  const char *newname, unsigned int flags)
{
	(void)parent, (void)name, (void)newparent, (void)newname, (void)flags;
	fuse_reply_err(req, EROFS);
}

const struct fuse_lowlevel_ops wfs_ll_ops = {
	.init = wfs_ll_init,
	.lookup = wfs_ll_lookup,
	.getattr = wfs_ll_getattr,
	.opendir = wfs_ll_opendir,
	.readdir = wfs_ll_readdir,
	.readdirplus = wfs_ll_readdirplus,
	.open = wfs_ll_open,
	.read = wfs_ll_read,
	.release = wfs_ll_release,
	.statfs = wfs_ll_statfs,
	.getxattr = wfs_ll_getxattr,
	.listxattr = wfs_ll_listxattr,
	.setxattr = wfs_ll_setxattr,
	.removexattr = wfs_ll_removexattr,
	.setattr = wfs_ll_setattr,
	.create = wfs_ll_create,
	.mkdir = wfs_ll_mkdir,
	.rmdir = wfs_ll_unlink,
	.unlink = wfs_ll_unlink,
	.rename = wfs_ll_rename,
};
