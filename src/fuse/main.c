/**
 * @file main.c
 * weightfs [options] SOURCE MOUNTPOINT: validate the model, mount it, and
 * return once the mount answers.
 *
 * Order matters: everything that can fail because of the model or the
 * options happens before the mount, in the foreground, with its own exit
 * code. After mounting, the process forks; the parent waits until the child
 * has seen the mount answer a stat (and has raised its readahead), then
 * exits 0, so a script can use the mount on its next line.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <malloc.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include "fs.h"
#include "tune.h"
#include "weightfs/xattr.h"

enum exit_code {
	EXIT_OK = 0,
	EXIT_INTERNAL = 1,
	EXIT_USAGE = 2,
	EXIT_SOURCE = 3,
	EXIT_INVALID = 4,
	EXIT_MOUNT = 5,
};

struct options {
	char *source;
	char *mountpoint;
	int has_fsname;
	char *layout;
	char *view;
	char *npy_float;
	char *format;      /* -o format=NAME: only this format */
	char *root;        /* -o root=KEY: one sub-dict of a checkpoint */
	char *io;
	char *cache;
	char *chunk_size;
	char *cache_size;
	char *cache_dir;
	char *cache_dir_size;
	char *logfile;     /* -o logfile=PATH */
	char *files;       /* comma-separated, possibly split by libfuse's option parser */
	int last_was_files;
	int readahead_kb;
	int readahead_given; /* warn that it could not be applied only then */
	int nonempty;        /* -o nonempty: mount over a directory with files in it */
	unsigned uid, gid, umask; /* -o uid=N,gid=N,umask=NNN (sshfs's conventions) */
	int has_uid, has_gid;
	unsigned max_read; /* -o max_read=, which libfuse also sees; 0: not given */
	int help;
	int version;
};

enum { KEY_HELP, KEY_VERSION };

#define OPT(t, p) {t, offsetof(struct options, p), 1}
static const struct fuse_opt option_spec[] = {
	OPT("layout=%s", layout),
	OPT("view=%s", view),
	OPT("npy_float=%s", npy_float),
	OPT("format=%s", format),
	OPT("root=%s", root),
	OPT("io=%s", io),
	OPT("cache=%s", cache),
	OPT("readahead_kb=%d", readahead_kb),
	OPT("readahead_kb=", readahead_given),
	OPT("nonempty", nonempty),
	OPT("uid=%u", uid),
	OPT("uid=", has_uid),
	OPT("gid=%u", gid),
	OPT("gid=", has_gid),
	OPT("umask=%o", umask),
	OPT("chunk_size=%s", chunk_size),
	OPT("cache_size=%s", cache_size),
	OPT("cache_dir=%s", cache_dir),
	OPT("cache_dir_size=%s", cache_dir_size),
	OPT("logfile=%s", logfile),
	FUSE_OPT_KEY("-h", KEY_HELP),
	FUSE_OPT_KEY("--help", KEY_HELP),
	FUSE_OPT_KEY("-V", KEY_VERSION),
	FUSE_OPT_KEY("--version", KEY_VERSION),
	FUSE_OPT_END,
};

static int option_proc(void *data, const char *arg, int key, struct fuse_args *args)
{
	(void)args;
	struct options *o = data;
	switch (key) {
	case KEY_HELP:
		o->help = 1;
		return 0;
	case KEY_VERSION:
		o->version = 1;
		return 0;
	case FUSE_OPT_KEY_NONOPT:
		/* Both positional arguments are ours: fuse_parse_cmdline would
		 * reject a missing mountpoint as a usage error, not a mount error. */
		if (o->source == NULL) {
			o->source = strdup(arg);
			return 0;
		}
		if (o->mountpoint == NULL) {
			o->mountpoint = strdup(arg);
			return 0;
		}
		fprintf(stderr, "weightfs: unexpected argument %s\n", arg);
		return -1;
	case FUSE_OPT_KEY_OPT:
		/* -o files=a.json,b.json reaches us as "files=a.json" and "b.json". */
		if (strncmp(arg, "files=", 6) == 0 || (o->last_was_files && !strchr(arg, '=') && strchr(arg, '.'))) {
			const char *name = strncmp(arg, "files=", 6) == 0 ? arg + 6 : arg;
			size_t len = o->files ? strlen(o->files) : 0;
			char *files = realloc(o->files, len + strlen(name) + 2);
			if (files == NULL)
				return -1;
			sprintf(files + len, "%s%s", len ? "," : "", name);
			o->files = files;
			o->last_was_files = 1;
			return 0;
		}
		o->last_was_files = 0;
		if (strncmp(arg, "fsname=", 7) == 0)
			o->has_fsname = 1;
		if (strncmp(arg, "max_read=", 9) == 0)
			o->max_read = (unsigned)strtoul(arg + 9, NULL, 10);
		return 1;
	default:
		return 1;
	}
}

static void usage(const char *prog)
{
	printf("usage: %s [options] SOURCE MOUNTPOINT\n"
	       "\n"
	       "Mount a model as a read-only directory of tensor files.\n"
	       "SOURCE is a model directory, a model file (detected by its content), an\n"
	       "index .json file, a Hugging Face cache snapshot or repository directory,\n"
	       "or a remote model: https://host/path/ (or http://), hf://ORG/NAME[@REVISION],\n"
	       "s3://BUCKET/PREFIX/ (see README for the formats and their order).\n"
	       "\n"
	       "options:\n"
	       "    -h, --help             print this help and exit\n"
	       "    -V, --version          print the version and exit\n"
	       "    -f                     stay in the foreground (tells systemd READY=1\n"
	       "                           when NOTIFY_SOCKET is set)\n"
	       "    -d, -o debug           foreground, log every FUSE request (and HTTP request)\n"
	       "    -s                     single-threaded\n"
	       "    -o layout=NAME         modules (default): model.layers.0.mlp/up_proj.weight\n"
	       "                           tree: model/layers/0/mlp/up_proj/weight\n"
	       "                           flat: model.layers.0.mlp.up_proj.weight\n"
	       "    -o view=raw|npy|f32    what tensor files show: stored bytes (default),\n"
	       "                           NAME.npy files (types numpy lacks decoded to\n"
	       "                           float32), or raw float32 for floating types\n"
	       "    -o npy_float=f16       view=npy: decode to float16 where exact (FP8, FP4,\n"
	       "                           FP6; not BF16)\n"
	       "    -o format=NAME         only look for this format: safetensors, pytorch,\n"
	       "                           gguf, onnx, tfbundle (default: any, by content)\n"
	       "    -o root=KEY            mount one sub-dict of a PyTorch checkpoint\n"
	       "                           (e.g. root=model_state_dict)\n"
	       "    -o readahead_kb=N      kernel readahead of the mount in KiB (default 1024,\n"
	       "                           0 keeps the kernel's default)\n"
	       "    -o io=auto|copy|splice how reads reach the kernel (default auto = copy;\n"
	       "                           splice is faster, reads capped at 512 KiB when a\n"
	       "                           pipe cannot hold 1 MiB; see weightfs(1) for its limit)\n"
	       "    -o cache=page|none     page (default): tensor files use the page cache and\n"
	       "                           can be mmap'ed; none: tensor files are read with\n"
	       "                           direct I/O (no second copy of the model in memory,\n"
	       "                           faster streaming) and shared mmap of them fails\n"
	       "                           with ENODEV\n"
	       "    -o max_read=N          the largest read request in bytes (default 1 MiB)\n"
	       "    -o uid=N,gid=N         owner and group of every file (default: yours)\n"
	       "    -o umask=NNN           permission bits to clear from 0444/0555 (octal)\n"
	       "    -o nonempty            mount over a directory that has files in it\n"
	       "    -o fsname=NAME         source shown by mount and df (default: SOURCE's path)\n"
	       "    -o logfile=PATH        append messages to PATH (instead of syslog once\n"
	       "                           daemonized; also stderr in the foreground)\n"
	       "\n"
	       "remote models (https://, hf://, s3://):\n"
	       "    -o chunk_size=N        bytes per chunk (default 4M; suffixes K, M, G)\n"
	       "    -o cache_size=N        memory for chunks (default 256M)\n"
	       "    -o cache_dir=DIR       persistent chunk cache, shared by mounts\n"
	       "    -o cache_dir_size=N    at most N bytes in cache_dir (default 10G;\n"
	       "                           least recently used chunks are removed)\n"
	       "    -o files=A,B           https:// only: further files to show\n"
	       "\n"
	       "FUSE options:\n"
	       "    -o allow_other         let other users read the mount\n"
	       "    -o allow_root          let root read the mount\n"
	       "    -o auto_unmount        unmount when the process ends\n"
	       "    -o max_threads=N       at most N request threads (default 10)\n"
	       "    -o max_idle_threads=N  at most N idle request threads\n"
	       "    -o clone_fd            one /dev/fuse descriptor per thread\n"
	       "    -o nosuid,nodev,noexec,noatime,...  passed to the kernel\n"
	       "\n"
	       "Tensor files carry the xattrs user.dtype, user.shape, user.name,\n"
	       "user.shard and user.offset; see weightfs(1) for all of them.\n"
	       "\n"
	       "exit codes: 0 mounted, 1 internal error, 2 usage, 3 SOURCE unreadable,\n"
	       "            4 invalid model, 5 mount failed\n"
	       "\n"
	       "example:\n"
	       "    %s ~/models/Llama-3.2-1B /mnt/model\n"
	       "    ls /mnt/model/model.layers.0.self_attn\n"
	       "    fusermount3 -u /mnt/model\n",
	       prog, prog);
}

/* "64M", "1G", "4096": bytes. 0 or -1. */
static int parse_size(const char *name, const char *text, size_t *out)
{
	if (text == NULL)
		return 0;
	char *end;
	errno = 0;
	unsigned long long v = strtoull(text, &end, 10);
	unsigned shift = 0;
	switch (*end) {
	case 'k': case 'K': shift = 10; end++; break;
	case 'm': case 'M': shift = 20; end++; break;
	case 'g': case 'G': shift = 30; end++; break;
	default: break;
	}
	if (errno || end == text || *end != '\0' || text[0] == '-' || v > (SIZE_MAX >> shift)) {
		fprintf(stderr, "weightfs: %s=%s: expected a size in bytes, with an optional K, M or G\n", name, text);
		return -1;
	}
	*out = (size_t)(v << shift);
	return 0;
}

static void warn_to_log(void *ctx, const char *msg)
{
	(void)ctx;
	wfs_log(LOG_WARNING, "%s", msg);
}

static void print_problems(const struct wfs_error *err)
{
	const char *p = err->text;
	while (p && *p) {
		const char *nl = strchr(p, '\n');
		size_t len = nl ? (size_t)(nl - p) : strlen(p);
		fprintf(stderr, "weightfs: %.*s\n", (int)len, p);
		p = nl ? nl + 1 : NULL;
	}
	if (err->count > WFS_ERROR_MAX_LINES)
		fprintf(stderr, "weightfs: ... and %u more problems\n", err->count - WFS_ERROR_MAX_LINES);
}

/* Shards are kept open: use every descriptor the hard limit allows. */
static void raise_fd_limit(void)
{
	struct rlimit rl;
	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		setrlimit(RLIMIT_NOFILE, &rl);
	}
}

/* Forks; the parent exits with the status the child sends once the mount answers. */
static int daemonize(int *ready_fd)
{
	int pfd[2];
	if (pipe(pfd) < 0)
		return -errno;
	pid_t pid = fork();
	if (pid < 0)
		return -errno;
	if (pid > 0) {
		close(pfd[1]);
		unsigned char status = EXIT_MOUNT;
		ssize_t n;
		do
			n = read(pfd[0], &status, 1);
		while (n < 0 && errno == EINTR);
		_exit(n == 1 ? status : EXIT_MOUNT);
	}
	close(pfd[0]);
	setsid();
	if (chdir("/") < 0)
		wfs_log(LOG_WARNING, "chdir /: %s", strerror(errno));
	*ready_fd = pfd[1];
	return 0;
}

struct ready_args {
	char *mountpoint; /* absolute */
	int readahead_kb;
	bool readahead_given; /* the default falls back silently where it is not permitted */
	int ready_fd;     /* -1 in the foreground */
};

/*
 * Waits for the mount to answer, tunes it, then lets the parent exit.
 * A stat of the mountpoint is answered only once the kernel has applied
 * our reply to INIT, which would otherwise reset the readahead we set.
 */
static void *ready_thread(void *p)
{
	struct ready_args *a = p;
	struct stat st;
	if (stat(a->mountpoint, &st) < 0)
		wfs_log(LOG_WARNING, "%s: %s", a->mountpoint, strerror(errno));
	if (a->readahead_kb > 0) {
		char why[256];
		if (wfs_set_readahead(a->mountpoint, a->readahead_kb, why, sizeof(why)) < 0 && a->readahead_given)
			wfs_log(LOG_WARNING, "readahead_kb=%d not applied: %s", a->readahead_kb, why);
	}
	wfs_notify_ready(a->mountpoint);
	if (a->ready_fd >= 0) {
		unsigned char ok = EXIT_OK;
		wfs_log_to_syslog();
		int null = open("/dev/null", O_RDWR);
		if (null >= 0) {
			dup2(null, STDIN_FILENO);
			dup2(null, STDOUT_FILENO);
			/* With -o logfile, what libfuse prints lands there too. */
			dup2(wfs_log_file_fd() >= 0 ? wfs_log_file_fd() : null, STDERR_FILENO);
			if (null > STDERR_FILENO)
				close(null);
		}
		/* Where stderr is gone (syslog, -o logfile), say what is served. */
		wfs_log(LOG_INFO, "serving %s", a->mountpoint);
		if (write(a->ready_fd, &ok, 1) < 0)
			wfs_log(LOG_WARNING, "telling the parent: %s", strerror(errno));
		close(a->ready_fd);
	}
	return NULL;
}

static int serve(struct fuse_session *se, const struct fuse_cmdline_opts *cmd)
{
	if (cmd->singlethread)
		return fuse_session_loop(se);
	struct fuse_loop_config *cfg = fuse_loop_cfg_create();
	if (cfg == NULL)
		return -ENOMEM;
	fuse_loop_cfg_set_clone_fd(cfg, cmd->clone_fd);
	/* fuse_parse_cmdline leaves UINT_MAX for "not given": keep libfuse's defaults. */
	if (cmd->max_threads != UINT_MAX)
		fuse_loop_cfg_set_max_threads(cfg, cmd->max_threads);
	if (cmd->max_idle_threads != UINT_MAX)
		fuse_loop_cfg_set_idle_threads(cfg, cmd->max_idle_threads);
	int rc = fuse_session_loop_mt(se, cfg);
	fuse_loop_cfg_destroy(cfg);
	return rc;
}

/* The largest read the kernel sends when max_read is not given (libfuse 3.14: 256 pages). */
#define KERNEL_MAX_READ (1u << 20)
/* The read size that splicing asks for when a pipe cannot hold a 1 MiB read. */
#define SPLICE_HALF_READ (KERNEL_MAX_READ / 2)

/*
 * Whether a pipe can grow to hold a spliced reply of @p read bytes: libfuse
 * needs the data, the reply header and three pages. A 1 MiB read needs a
 * 2 MiB pipe, more than the default fs.pipe-max-size (1 MiB) allows
 * without CAP_SYS_RESOURCE; a 512 KiB read fits.
 */
static bool pipe_holds(size_t read)
{
	int p[2];
	if (pipe(p) != 0)
		return false;
	size_t need = read + 3 * 4096 + 16;
	bool ok = need <= INT_MAX && fcntl(p[0], F_SETPIPE_SZ, (int)need) >= (int)need;
	close(p[0]);
	close(p[1]);
	return ok;
}

/*
 * Chooses between splicing reads from the shard into the reply (io=splice)
 * and copying them (sets fs->splice and fs->max_read). Copying is the
 * default although splicing is faster (1.33x with the shard in the page
 * cache, contrib/bench/RESULTS.md): a spliced reply carries references to
 * the shard's pages, and a truncation of the shard zeroes the tail of the
 * page at the new end in place, so a reader racing it can get zeros where
 * a copy gets EIO (tests/faults caught it). When a pipe cannot hold a
 * 1 MiB read, libfuse would quietly allocate and copy on every read, slower
 * than our own copy; so where the user left max_read alone, spliced reads
 * are capped at 512 KiB, which a pipe can hold.
 */
static void choose_io(const struct options *o, const struct wfs_model *model, struct wfs_fs *fs,
		      struct fuse_args *args)
{
	fs->max_read = o->max_read;
	fs->splice = false;
	if (o->io == NULL || strcmp(o->io, "splice") != 0)
		return;
	if (model->remote != NULL) {
		wfs_log(LOG_WARNING, "io=splice: a remote model replies from its chunk cache; ignored");
		return;
	}
	if (pipe_holds(o->max_read ? o->max_read : KERNEL_MAX_READ)) {
		fs->splice = true;
	} else if (o->max_read == 0 && pipe_holds(SPLICE_HALF_READ)) {
		char opt[32];
		snprintf(opt, sizeof(opt), "-omax_read=%u", SPLICE_HALF_READ);
		if (fuse_opt_add_arg(args, opt) == 0) {
			fs->max_read = SPLICE_HALF_READ;
			fs->splice = true;
		}
	}
	if (!fs->splice)
		wfs_log(LOG_WARNING, "io=splice: pipes cannot grow to hold a read (sysctl fs.pipe-max-size); using copy");
}

/*
 * cache=none opens tensor files with direct I/O (FOPEN_DIRECT_IO): reads go
 * from the daemon's reply straight into the reader's buffer instead of
 * filling the mount's own page cache, 4 KiB page by page, with a second
 * copy of bytes the shard's page cache already holds. The kernel then
 * refuses shared mappings of those files with ENODEV: allowing them needs
 * FUSE_DIRECT_IO_ALLOW_MMAP, which libfuse 3.14 cannot negotiate. No
 * request reaches the daemon when that happens, so the mount says it once,
 * here, where a person starting it sees it (stderr, or syslog).
 */
static void choose_cache(const struct options *o, struct wfs_fs *fs)
{
	fs->direct_io = o->cache != NULL && strcmp(o->cache, "none") == 0;
	if (fs->direct_io)
		wfs_log(LOG_NOTICE, "cache=none: tensor files are read with direct I/O; mapping one shared "
			"(mmap MAP_SHARED, numpy.memmap mode 'r') fails with ENODEV (No such device): "
			"mount with cache=page (the default) to map tensors");
}

/* Checks the option values; prints what is wrong. 0 or -1. */
static int check_options(const struct options *o, const char *prog, enum wfs_layout *layout,
			 struct wfs_view_options *view)
{
	if (o->source == NULL || o->mountpoint == NULL) {
		fprintf(stderr, "weightfs: missing %s\nusage: %s [options] SOURCE MOUNTPOINT (see --help)\n",
			o->source ? "MOUNTPOINT" : "SOURCE and MOUNTPOINT", prog);
		return -1;
	}
	if (o->layout && wfs_layout_parse(o->layout, layout) < 0) {
		fprintf(stderr, "weightfs: layout=%s: expected modules, tree or flat\n", o->layout);
		return -1;
	}
	if (o->view && wfs_view_mode_parse(o->view, &view->mode) < 0) {
		fprintf(stderr, "weightfs: view=%s: expected raw, npy or f32\n", o->view);
		return -1;
	}
	if (o->npy_float && wfs_view_npy_float_parse(o->npy_float, &view->npy_f16) < 0) {
		fprintf(stderr, "weightfs: npy_float=%s: expected f32 or f16\n", o->npy_float);
		return -1;
	}
	if (o->npy_float && view->mode != WFS_VIEW_NPY) {
		fprintf(stderr, "weightfs: npy_float=%s needs view=npy\n", o->npy_float);
		return -1;
	}
	if (o->io && strcmp(o->io, "auto") != 0 && strcmp(o->io, "copy") != 0 && strcmp(o->io, "splice") != 0) {
		fprintf(stderr, "weightfs: io=%s: expected auto, copy or splice\n", o->io);
		return -1;
	}
	if (o->cache && strcmp(o->cache, "page") != 0 && strcmp(o->cache, "none") != 0) {
		fprintf(stderr, "weightfs: cache=%s: expected page or none\n", o->cache);
		return -1;
	}
	if (o->readahead_kb < 0) {
		fprintf(stderr, "weightfs: readahead_kb=%d: expected a number of KiB >= 0\n", o->readahead_kb);
		return -1;
	}
	if ((o->has_uid && o->uid == UINT_MAX) || (o->has_gid && o->gid == UINT_MAX)) {
		fprintf(stderr, "weightfs: %s=-1 is not an id\n", o->has_uid && o->uid == UINT_MAX ? "uid" : "gid");
		return -1;
	}
	if (o->umask > 0777) {
		fprintf(stderr, "weightfs: umask=%o: expected octal permission bits, at most 777\n", o->umask);
		return -1;
	}
	return 0;
}

/* Opens and validates the model and lays out its tree; returns an exit code. */
static int load(const struct options *o, const struct fuse_cmdline_opts *cmd, enum wfs_layout layout,
		const struct wfs_view_options *view, struct wfs_model **model, struct wfs_namespace **ns)
{
	struct wfs_open_options open_opts = {.warn = {warn_to_log, NULL}};
	if (parse_size("chunk_size", o->chunk_size, &open_opts.remote.chunk_size) < 0 ||
	    parse_size("cache_size", o->cache_size, &open_opts.remote.cache_size) < 0)
		return EXIT_USAGE;
	open_opts.format = o->format;
	open_opts.root = o->root;
	size_t dir_size = 0;
	if (parse_size("cache_dir_size", o->cache_dir_size, &dir_size) < 0)
		return EXIT_USAGE;
	open_opts.remote.cache_dir_size = dir_size;
	open_opts.remote.cache_dir = o->cache_dir;
	open_opts.remote.files = o->files;
	open_opts.remote.verbose = cmd->debug;

	struct wfs_error err = {0};
	int rc = wfs_model_open(o->source, &open_opts, model, &err);
	if (rc == 0)
		rc = wfs_namespace_build_view(*model, layout, view, &open_opts.warn, ns, &err);
	if (rc == 0) /* attributes the kernel could not return are left out: say which */
		wfs_xattr_warn_omitted(*model, *ns, &open_opts.warn);
	print_problems(&err);
	wfs_error_clear(&err);
	if (rc == -ENOMEM)
		fprintf(stderr, "weightfs: out of memory\n");
	if (rc < 0)
		return rc == WFS_EINVALID ? EXIT_INVALID : rc == -ENOMEM ? EXIT_INTERNAL : EXIT_SOURCE;
	/* Parsing freed far more than the model keeps (JSON trees, scratch):
	 * give it back before serving for days. */
	malloc_trim(0);
	return EXIT_OK;
}

/* Adds the options every mount gets: read-only, kernel permission checks, a name. */
static void add_mount_options(struct fuse_args *args, const struct options *o)
{
	fuse_opt_add_arg(args, "-oro,default_permissions,subtype=weightfs");
	if (o->has_fsname)
		return;
	char source_abs[PATH_MAX], *fsname = NULL;
	if (fuse_opt_add_opt_escaped(&fsname, realpath(o->source, source_abs) ? source_abs : o->source) == 0) {
		char *opt = malloc(strlen(fsname) + 16);
		if (opt) {
			sprintf(opt, "-ofsname=%s", fsname);
			fuse_opt_add_arg(args, opt);
			free(opt);
		}
	}
	free(fsname);
}

/*
 * libfuse does not unmount a connection that was aborted (umount -f, or
 * through fusectl), which would leave a mount answering ENOTCONN forever.
 * If ours (same device) is still there, detach it.
 */
static void remove_dead_mount(const char *mountpoint, const char *dev)
{
	char now[32];
	if (dev[0] == '\0' || wfs_mount_device(mountpoint, now, sizeof(now)) < 0 || strcmp(now, dev) != 0)
		return;
	if (umount2(mountpoint, MNT_DETACH) == 0)
		return;
	pid_t pid = fork(); /* not root: fusermount3 is setuid and may */
	if (pid == 0) {
		execlp("fusermount3", "fusermount3", "-u", "-z", "-q", mountpoint, (char *)NULL);
		_exit(127);
	}
	if (pid > 0)
		waitpid(pid, NULL, 0);
}

/*
 * Whether the loop's result is the normal end of a mount. It returns the
 * signal that ended it (SIGTERM/SIGINT/SIGHUP), 0 when the kernel said ENODEV
 * (unmounted), or -ECONNABORTED: the kernel answers that to a thread that
 * was taking a request off the queue at the moment the connection was torn
 * down, which happens on a plain (lazy) unmount as well as on umount -f or an
 * abort through fusectl. None of these is an error of ours.
 */
static bool served_to_the_end(int rc)
{
	return rc == 0 || rc == SIGTERM || rc == SIGINT || rc == SIGHUP || rc == -ECONNABORTED;
}

/*
 * Refuses a mountpoint that already has a FUSE mount (a second one would
 * stack, and one unmount would leave the other behind) or that has files
 * in it, which the mount would hide (unless -o nonempty). 0 or -1, said.
 */
static int check_mountpoint(const char *mountpoint, bool nonempty)
{
	char type[256], source[1024];
	if (wfs_mount_type(mountpoint, type, sizeof(type), source, sizeof(source)) == 0 &&
	    (strcmp(type, "fuse") == 0 || strncmp(type, "fuse.", 5) == 0)) {
		fprintf(stderr, "weightfs: mountpoint %s already has a FUSE mount (%s of %s); unmount it first "
			"(fusermount3 -u %s)\n", mountpoint, type, source, mountpoint);
		return -1;
	}
	if (nonempty)
		return 0;
	DIR *dir = opendir(mountpoint);
	if (dir == NULL)
		return 0; /* the mount says why, if it cannot be made */
	struct dirent *d;
	size_t n = 0;
	char first[NAME_MAX + 1] = "";
	while ((d = readdir(dir)) != NULL) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		if (n++ == 0)
			snprintf(first, sizeof(first), "%s", d->d_name);
	}
	closedir(dir);
	if (n == 0)
		return 0;
	fprintf(stderr, "weightfs: mountpoint %s is not empty (%zu entr%s, such as \"%s\"), and the mount would hide "
		"them; use an empty directory, or -o nonempty to mount over them anyway\n", mountpoint, n,
		n == 1 ? "y" : "ies", first);
	return -1;
}

/* After libfuse failed to mount: what to check when /dev/fuse is the reason. */
static void explain_mount_failure(void)
{
	struct stat st;
	if (stat("/dev/fuse", &st) < 0) {
		fprintf(stderr, "weightfs: /dev/fuse: %s: install the fuse3 package (apt-get install fuse3) and load "
			"the fuse module (modprobe fuse); in a container, pass the device in (--device /dev/fuse)\n",
			strerror(errno));
		return;
	}
	int fd = open("/dev/fuse", O_RDWR | O_CLOEXEC);
	if (fd >= 0) {
		close(fd);
		if (geteuid() == 0)
			return; /* libfuse said why: not a /dev/fuse problem */
	} else if (geteuid() == 0 || errno != EACCES) {
		fprintf(stderr, "weightfs: /dev/fuse cannot be opened: %s: check its mode and type (ls -l /dev/fuse: "
			"crw-rw-rw- root root 10, 229) and that nothing denies it (a container's device rules, "
			"a read-only or nodev /dev)\n", strerror(errno));
		return;
	}
	/* Not root: fusermount3, setuid root, opens /dev/fuse and mounts for us. */
	fprintf(stderr, "weightfs: as a user other than root, mounting needs fusermount3 from the fuse3 package, "
		"installed setuid root (ls -l $(command -v fusermount3): -rwsr-xr-x root), or /dev/fuse readable "
		"and writable by you (crw-rw-rw-)\n");
}

/* Mounts, daemonizes unless -f, and serves until unmounted; returns an exit code. */
static int mount_and_serve(struct fuse_session *se, const struct options *o, const struct fuse_cmdline_opts *cmd)
{
	char mountpoint[PATH_MAX];
	struct stat st;
	errno = 0;
	if (stat(o->mountpoint, &st) < 0 || !S_ISDIR(st.st_mode) || !realpath(o->mountpoint, mountpoint)) {
		int e = errno;
		fprintf(stderr, "weightfs: mountpoint %s: %s%s%s\n", o->mountpoint, e ? strerror(e) : "not a directory",
			e == ENOTCONN ? ": a FUSE mount whose daemon is gone; unmount it first: fusermount3 -u " : "",
			e == ENOTCONN ? o->mountpoint : "");
		return EXIT_MOUNT;
	}
	if (check_mountpoint(mountpoint, o->nonempty) < 0)
		return EXIT_MOUNT;
	if (fuse_set_signal_handlers(se) != 0)
		return EXIT_INTERNAL;
	if (fuse_session_mount(se, mountpoint) != 0) {
		explain_mount_failure();
		fuse_remove_signal_handlers(se);
		return EXIT_MOUNT;
	}
	char dev[32] = "";
	wfs_mount_device(mountpoint, dev, sizeof(dev));

	struct ready_args ready = {.mountpoint = mountpoint, .readahead_kb = o->readahead_kb,
				   .readahead_given = o->readahead_given, .ready_fd = -1};
	int rc;
	if (!cmd->foreground && (rc = daemonize(&ready.ready_fd)) < 0) {
		fprintf(stderr, "weightfs: fork: %s\n", strerror(-rc));
		fuse_session_unmount(se);
		fuse_remove_signal_handlers(se);
		return EXIT_MOUNT;
	}
	pthread_t tid;
	if (pthread_create(&tid, NULL, ready_thread, &ready) == 0) {
		pthread_detach(tid);
	} else if (ready.ready_fd >= 0) {
		/* No thread to wait for the mount: let the parent go now. */
		unsigned char ok = EXIT_OK;
		if (write(ready.ready_fd, &ok, 1) < 0)
			wfs_log(LOG_WARNING, "telling the parent: %s", strerror(errno));
		close(ready.ready_fd);
	}
	rc = serve(se, cmd);
	wfs_notify_stopping();
	fuse_session_unmount(se);
	fuse_remove_signal_handlers(se);
	remove_dead_mount(mountpoint, dev);
	if (!served_to_the_end(rc))
		wfs_log(LOG_ERR, "%s: the request loop failed (%d); exiting", mountpoint, rc);
	else if (!cmd->foreground)
		wfs_log(LOG_INFO, "%s unmounted; exiting", mountpoint);
	return served_to_the_end(rc) ? EXIT_OK : EXIT_INTERNAL;
}

int main(int argc, char *argv[])
{
	struct fuse_args args = FUSE_ARGS_INIT(argc, argv);
	struct options o = {.readahead_kb = 1024};
	struct fuse_cmdline_opts cmd = {0};
	struct wfs_model *model = NULL;
	struct wfs_namespace *ns = NULL;
	struct fuse_session *se = NULL;
	enum wfs_layout layout = WFS_LAYOUT_MODULES;
	struct wfs_view_options view = {.mode = WFS_VIEW_RAW};
	int status = EXIT_USAGE;

	if (fuse_opt_parse(&args, &o, option_spec, option_proc) < 0)
		goto out;
	if (o.help || o.version) {
		if (o.help)
			usage(argv[0]);
		else
			printf("weightfs %s (libfuse %s)\n", WEIGHTFS_VERSION, fuse_pkgversion());
		status = EXIT_OK;
		goto out;
	}
	if (fuse_parse_cmdline(&args, &cmd) != 0 || check_options(&o, argv[0], &layout, &view) < 0)
		goto out;
	if (o.logfile && (status = wfs_log_open_file(o.logfile)) < 0) {
		fprintf(stderr, "weightfs: logfile=%s: %s\n", o.logfile, strerror(-status));
		status = EXIT_USAGE;
		goto out;
	}
	raise_fd_limit();
	if ((status = load(&o, &cmd, layout, &view, &model, &ns)) != EXIT_OK)
		goto out;
	add_mount_options(&args, &o);
	struct wfs_fs fs = {.model = model, .ns = ns, .uid = o.has_uid ? (uid_t)o.uid : getuid(),
			    .gid = o.has_gid ? (gid_t)o.gid : getgid(), .umask = (mode_t)o.umask};
	choose_io(&o, model, &fs, &args);
	choose_cache(&o, &fs);
	se = fuse_session_new(&args, &wfs_ll_ops, sizeof(wfs_ll_ops), &fs);
	if (se == NULL) {
		status = EXIT_USAGE; /* libfuse printed why: almost always an unknown option */
		goto out;
	}
	status = mount_and_serve(se, &o, &cmd);
out:
	if (se) /* mount_and_serve removed the signal handlers it set (libfuse complains otherwise) */
		fuse_session_destroy(se);
	wfs_namespace_free(ns);
	wfs_model_free(model);
	free(cmd.mountpoint);
	free(o.mountpoint);
	free(o.source);
	free(o.layout);
	free(o.view);
	free(o.npy_float);
	free(o.format);
	free(o.root);
	free(o.io);
	free(o.cache);
	free(o.chunk_size);
	free(o.cache_size);
	free(o.cache_dir);
	free(o.cache_dir_size);
	free(o.files);
	free(o.logfile);
	fuse_opt_free_args(&args);
	return status;
}
