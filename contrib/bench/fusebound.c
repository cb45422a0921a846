/**
 * @file fusebound.c
 * The fastest a FUSE daemon can answer reads on this kernel: a daemon that
 * does no work. It shows one file, /f, and answers every read from memory
 * it already holds, so what a reader measures through it is the kernel's
 * and libfuse's own cost per request (contrib/bench/fuse_bound.sh).
 *
 *   fusebound [-o direct] [-o map=FILE] [-o size=N] MOUNTPOINT
 *
 *   direct      open /f with direct I/O (FOPEN_DIRECT_IO: weightfs's
 *               cache=none); otherwise reads go through the page cache
 *               (weightfs's default, cache=page)
 *   map=FILE    answer from a shared read-only mapping of FILE, so the
 *               kernel copies straight from FILE's page cache into the
 *               reply (one copy, what no read path of weightfs can beat);
 *               /f is then FILE's size. Otherwise the answer comes from
 *               one static 1 MiB buffer (its bytes are meaningless)
 *   size=N      the size of /f without map= (default 4 GiB)
 *
 * libfuse's multi-threaded loop, as weightfs runs it; -f, -d and the other
 * libfuse options work as usual.
 */
#define FUSE_USE_VERSION 314
#include <errno.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#define BUF_SIZE (1u << 20)
#define FILE_INO 2

static struct {
	int direct;
	char *map_path;
	char *size_text;
	uint64_t size;
	const char *map;
	char *buf;
} g;

static const struct fuse_opt opts[] = {
	{"direct", offsetof(__typeof__(g), direct), 1},
	{"map=%s", offsetof(__typeof__(g), map_path), 0},
	{"size=%s", offsetof(__typeof__(g), size_text), 0},
	FUSE_OPT_END,
};

static void fill_stat(fuse_ino_t ino, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = ino;
	if (ino == FUSE_ROOT_ID) {
		st->st_mode = S_IFDIR | 0555;
		st->st_nlink = 2;
	} else {
		st->st_mode = S_IFREG | 0444;
		st->st_nlink = 1;
		st->st_size = (off_t)g.size;
	}
}

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	if (parent != FUSE_ROOT_ID || strcmp(name, "f") != 0) {
		fuse_reply_err(req, ENOENT);
		return;
	}
	struct fuse_entry_param e = {.ino = FILE_INO, .attr_timeout = 3600, .entry_timeout = 3600};
	fill_stat(FILE_INO, &e.attr);
	fuse_reply_entry(req, &e);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	(void)fi;
	struct stat st;
	fill_stat(ino, &st);
	fuse_reply_attr(req, &st, 3600);
}

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	if (ino != FILE_INO) {
		fuse_reply_err(req, EISDIR);
		return;
	}
	fi->direct_io = g.direct;
	fi->keep_cache = 1;
	fuse_reply_open(req, fi);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off, struct fuse_file_info *fi)
{
	(void)ino;
	(void)fi;
	if (off < 0 || (uint64_t)off >= g.size) {
		fuse_reply_buf(req, NULL, 0);
		return;
	}
	if (size > g.size - (uint64_t)off)
		size = (size_t)(g.size - (uint64_t)off);
	if (g.map == NULL && size > BUF_SIZE)
		size = BUF_SIZE;
	fuse_reply_buf(req, g.map ? g.map + off : g.buf, size);
}

static const struct fuse_lowlevel_ops ops = {
	.lookup = op_lookup,
	.getattr = op_getattr,
	.open = op_open,
	.read = op_read,
};

int main(int argc, char **argv)
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct fuse_cmdline_opts cmd;
	g.size = 4ull << 30;
	if (fuse_opt_parse(&args, &g, opts, NULL) != 0 || fuse_parse_cmdline(&args, &cmd) != 0)
		return 2;
	if (cmd.mountpoint == NULL) {
		fprintf(stderr, "usage: %s [-o direct] [-o map=FILE] [-o size=N] MOUNTPOINT\n", argv[0]);
		return 2;
	}
	if (g.size_text)
		g.size = strtoull(g.size_text, NULL, 10);
	if (g.map_path) {
		int fd = open(g.map_path, O_RDONLY | O_CLOEXEC);
		struct stat st;
		if (fd < 0 || fstat(fd, &st) != 0 || st.st_size == 0) {
			perror(g.map_path);
			return 1;
		}
		g.size = (uint64_t)st.st_size;
		g.map = mmap(NULL, g.size, PROT_READ, MAP_SHARED, fd, 0);
		if (g.map == MAP_FAILED) {
			perror("mmap");
			return 1;
		}
	}
	g.buf = malloc(BUF_SIZE);
	if (g.buf == NULL)
		return 1;
	memset(g.buf, 0x5a, BUF_SIZE);
	struct fuse_session *se = fuse_session_new(&args, &ops, sizeof(ops), NULL);
	if (se == NULL || fuse_session_mount(se, cmd.mountpoint) != 0)
		return 1;
	if (fuse_daemonize(cmd.foreground) != 0)
		return 1;
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	int rc = cfg ? fuse_session_loop_mt(se, cfg) : 1;
	fuse_loop_cfg_destroy(cfg);
	fuse_session_unmount(se);
	fuse_session_destroy(se);
	return rc ? 1 : 0;
}
