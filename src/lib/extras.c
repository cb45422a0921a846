/**
 * @file extras.c
 * Lists the model directory's other files (config.json, tokenizer files,
 * subdirectories...) so the mount can show them unchanged.
 *
 * Symlinks are followed (a Hugging Face snapshot is made of them); a
 * directory already being walked higher up (a symlink loop) is skipped, and
 * so is anything that is neither a regular file nor a directory.
 */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "internal.h"

#define MAX_DEPTH 16
#define MAX_EXTRAS 100000

struct walk {
	struct wfs_model *m;
	const struct wfs_str *skip;
	size_t nskip;
	const struct wfs_warn *warn;
	struct { dev_t dev; ino_t ino; } stack[MAX_DEPTH + 1];
	bool truncated;
};

static bool skipped(const struct walk *w, const char *path, size_t len)
{
	for (size_t i = 0; i < w->nskip; i++)
		if (w->skip[i].len == len && memcmp(wfs_model_str(w->m, w->skip[i]), path, len) == 0)
			return true;
	return false;
}

static int walk_dir(struct walk *w, const char *rel, int depth)
{
	int fd = openat(w->m->dirfd, rel[0] ? rel : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		wfs_warnf(w->warn, "%s: cannot list: %s; not shown", rel[0] ? rel : ".", strerror(errno));
		return 0;
	}
	int rc = 0;
	struct dirent *d;
	while ((d = readdir(dir)) != NULL && rc == 0) {
		if (strcmp(d->d_name, ".") == 0 || strcmp(d->d_name, "..") == 0)
			continue;
		char path[PATH_MAX];
		int n = snprintf(path, sizeof(path), "%s%s%s", rel, rel[0] ? "/" : "", d->d_name);
		if (n < 0 || (size_t)n >= sizeof(path) || skipped(w, path, (size_t)n))
			continue;
		struct stat st;
		if (fstatat(w->m->dirfd, path, &st, 0) < 0) {
			wfs_warnf(w->warn, "%s: %s; not shown", path, strerror(errno));
			continue;
		}
		if (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))
			continue;
		if (w->m->nextras >= MAX_EXTRAS) {
			w->truncated = true;
			break;
		}
		bool loop = false;
		for (int i = 0; i <= depth && S_ISDIR(st.st_mode); i++)
			loop |= w->stack[i].dev == st.st_dev && w->stack[i].ino == st.st_ino;
		if (loop || (S_ISDIR(st.st_mode) && depth >= MAX_DEPTH)) {
			wfs_warnf(w->warn, "%s: %s; not shown", path,
				  loop ? "a symlink loop" : "nested too deep");
			continue;
		}
		if (WFS_GROW(w->m->extras, w->m->cap.extras, w->m->nextras, 1) < 0) {
			rc = -ENOMEM;
			break;
		}
		struct wfs_extra *x = &w->m->extras[w->m->nextras];
		memset(x, 0, sizeof(*x));
		x->is_dir = S_ISDIR(st.st_mode);
		x->size = x->is_dir ? 0 : (uint64_t)st.st_size;
		x->mtime = st.st_mtim;
		if (wfs_arena_add(w->m, path, (size_t)n, &x->path) < 0) {
			rc = -ENOMEM;
			break;
		}
		w->m->nextras++;
		if (x->is_dir) {
			w->stack[depth + 1].dev = st.st_dev;
			w->stack[depth + 1].ino = st.st_ino;
			rc = walk_dir(w, path, depth + 1);
		}
	}
	closedir(dir);
	return rc;
}

int wfs_extras_scan(struct wfs_model *m, const struct wfs_str *skip, size_t nskip,
		    const struct wfs_warn *warn, struct wfs_error *err)
{
	struct walk w = {.m = m, .skip = skip, .nskip = nskip, .warn = warn};
	struct stat st;
	if (fstat(m->dirfd, &st) < 0) {
		wfs_error_add(err, "model directory: %s", strerror(errno));
		return -errno;
	}
	w.stack[0].dev = st.st_dev;
	w.stack[0].ino = st.st_ino;
	int rc = walk_dir(&w, "", 0);
	if (w.truncated)
		wfs_warnf(warn, "the model directory has more than %d other files; the rest are not shown", MAX_EXTRAS);
	return rc;
}
