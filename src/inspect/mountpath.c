/**
 * @file mountpath.c
 * A SOURCE that is a file or directory inside a weightfs mount (what people
 * try first: weightfs-inspect stats /mnt/model/model/norm.weight). Such a
 * path has weightfs's attributes and lies below a fuse.weightfs entry of
 * the mount table, whose source is the model's SOURCE: the command runs on
 * that SOURCE, restricted to the tensors beneath the path (their exact
 * names, read from user.name, become the GLOBs).
 */
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/xattr.h>

#include "inspect.h"
#include "mountpath.h"

/* mountinfo writes space, tab, newline and backslash as \ooo. */
static void unescape(char *s)
{
	char *o = s;
	for (char *p = s; *p; p++) {
		if (p[0] == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' &&
		    p[3] <= '7') {
			*o++ = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		} else {
			*o++ = *p;
		}
	}
	*o = '\0';
}

/* Whether @p path is @p dir or below it (whole components). */
static bool is_below(const char *path, const char *dir)
{
	size_t n = strlen(dir);
	if (strcmp(dir, "/") == 0)
		return true;
	return strncmp(path, dir, n) == 0 && (path[n] == '\0' || path[n] == '/');
}

/*
 * The innermost fuse.weightfs mount holding @p real (absolute, resolved):
 * its mountpoint and source, or false when there is none.
 */
static bool find_mount(const char *real, char *point, size_t point_cap, char *source, size_t source_cap)
{
	FILE *f = fopen("/proc/self/mountinfo", "r");
	if (f == NULL)
		return false;
	char line[8192];
	size_t best = 0;
	bool found = false;
	while (fgets(line, sizeof(line), f)) {
		char mp[4096], type[256], src[4096];
		const char *dash = strstr(line, " - ");
		if (dash == NULL || sscanf(line, "%*s %*s %*s %*s %4095s", mp) != 1 ||
		    sscanf(dash + 3, "%255s %4095s", type, src) != 2)
			continue;
		unescape(mp);
		unescape(src);
		if (strlen(mp) < best || !is_below(real, mp))
			continue;
		/* A later, deeper mount on top hides the earlier ones. */
		best = strlen(mp);
		found = strcmp(type, "fuse.weightfs") == 0;
		snprintf(point, point_cap, "%s", mp);
		snprintf(source, source_cap, "%s", src);
	}
	fclose(f);
	return found;
}

struct names {
	char **v;
	size_t n, cap;
};

static int grow_names(char ***v, size_t *cap)
{
	size_t n = *cap ? 2 * *cap : 16;
	char **bigger = realloc(*v, n * sizeof(**v));
	if (bigger == NULL)
		return -ENOMEM;
	*v = bigger;
	*cap = n;
	return 0;
}

/* Adds the tensor name in the user.name of @p path, escaped as a literal glob. */
static int add_tensor_of(struct names *out, const char *path)
{
	char dtype[64];
	if (getxattr(path, "user.dtype", dtype, sizeof(dtype)) < 0)
		return 0; /* an ordinary file of the model directory */
	ssize_t len = getxattr(path, "user.name", NULL, 0);
	char *name = len >= 0 ? malloc((size_t)len + 1) : NULL;
	if (len >= 0 && name == NULL)
		return -ENOMEM;
	if (name == NULL || (len = getxattr(path, "user.name", name, (size_t)len)) < 0) {
		free(name);
		errorf("warning: %s: no user.name (a name over 64 KiB); not included", path);
		return 0;
	}
	char *glob = malloc(2 * (size_t)len + 1);
	if (glob == NULL || (out->n == out->cap && grow_names(&out->v, &out->cap) < 0)) {
		free(name);
		free(glob);
		return -ENOMEM;
	}
	size_t o = 0;
	for (ssize_t i = 0; i < len; i++) {
		if (strchr("\\*?[", name[i]) && name[i] != '\0')
			glob[o++] = '\\';
		glob[o++] = name[i];
	}
	glob[o] = '\0';
	free(name);
	out->v[out->n++] = glob;
	return 0;
}

/* Every tensor file at or below @p top: a walk with a stack of directories, no recursion. */
static int collect(const char *top, struct names *out)
{
	struct stat st;
	if (stat(top, &st) < 0)
		return -errno;
	if (!S_ISDIR(st.st_mode))
		return add_tensor_of(out, top);
	struct names dirs = {0};
	int rc = 0;
	char *first = strdup(top);
	if (first == NULL || grow_names(&dirs.v, &dirs.cap) < 0) {
		free(first);
		return -ENOMEM;
	}
	dirs.v[dirs.n++] = first;
	while (dirs.n && rc == 0) {
		char *dir = dirs.v[--dirs.n];
		DIR *d = opendir(dir);
		struct dirent *e;
		while (d && rc == 0 && (e = readdir(d)) != NULL) {
			if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
				continue;
			char *child = malloc(strlen(dir) + strlen(e->d_name) + 2);
			if (child == NULL) {
				rc = -ENOMEM;
				break;
			}
			sprintf(child, "%s/%s", dir, e->d_name);
			if (e->d_type == DT_DIR) {
				if (dirs.n == dirs.cap && grow_names(&dirs.v, &dirs.cap) < 0) {
					free(child);
					rc = -ENOMEM;
					break;
				}
				dirs.v[dirs.n++] = child;
				continue;
			}
			rc = add_tensor_of(out, child);
			free(child);
		}
		if (d)
			closedir(d);
		free(dir);
	}
	for (size_t i = 0; i < dirs.n; i++)
		free(dirs.v[i]);
	free(dirs.v);
	return rc;
}

void mount_args_free(struct mount_args *ma)
{
	for (size_t i = 0; i < ma->nowned; i++)
		free(ma->owned[i]);
	free(ma->owned);
	free(ma->args);
	memset(ma, 0, sizeof(*ma));
}

int resolve_mount_paths(struct cli *cli, const struct command *cmd, struct mount_args *ma)
{
	memset(ma, 0, sizeof(*ma));
	/* Which operands are SOURCEs: diff has two, the others one. */
	size_t nsources = strcmp(cmd->name, "diff") == 0 ? 2 : 1;
	bool changed = false;
	char **args = malloc((cli->nargs + 1) * sizeof(*args));
	if (args == NULL)
		return EXIT_INTERNAL;
	memcpy(args, cli->args, cli->nargs * sizeof(*args));
	size_t nargs = cli->nargs;
	ma->args = args;
	for (size_t k = 0; k < nsources && k < cli->nargs; k++) {
		const char *path = cli->args[k];
		char real[PATH_MAX], point[PATH_MAX], source[PATH_MAX], probe[32];
		if (wfs_source_is_remote(path) || realpath(path, real) == NULL)
			continue;
		bool is_tensor = getxattr(real, "user.dtype", probe, sizeof(probe)) >= 0;
		/* Directories of the model directory (original/) have no tensors beneath. */
		ssize_t ntensors = getxattr(real, "user.tensors", probe, sizeof(probe));
		bool is_dir = ntensors > 0 && !(ntensors == 1 && probe[0] == '0');
		if (!find_mount(real, point, sizeof(point), source, sizeof(source))) {
			if (!is_tensor)
				continue;
			errorf("%s has the attributes of a tensor file of a weightfs mount (a copy?) but is not in "
			       "one, and holds no safetensors header: run " PROG " on the model it came from", path);
			return EXIT_USAGE;
		}
		bool at_root = strcmp(real, point) == 0;
		if (!is_tensor && !is_dir && !at_root)
			continue; /* a file of the model directory, shown as it is: a SOURCE like any other */
		struct stat st;
		if (!wfs_source_is_remote(source) && stat(source, &st) < 0) {
			errorf("%s is inside a weightfs mount (at %s) of \"%s\", which is not a SOURCE " PROG " can open "
			       "(mounted with -o fsname=?): run " PROG " %s on the model's SOURCE", path, point, source,
			       cmd->name);
			return EXIT_SOURCE;
		}
		if ((ma->nowned == ma->owned_cap && grow_names(&ma->owned, &ma->owned_cap) < 0) ||
		    (args[k] = strdup(source)) == NULL)
			return EXIT_INTERNAL;
		ma->owned[ma->nowned++] = args[k];
		changed = true;
		if (at_root) {
			errorf("note: %s is a weightfs mount of %s: inspecting that", path, source);
			continue;
		}
		if (strcmp(cmd->name, "ls") != 0 && strcmp(cmd->name, "stats") != 0 && strcmp(cmd->name, "verify") != 0) {
			errorf("%s is inside a weightfs mount of %s: %s works on whole models: run " PROG " %s %s%s, "
			       "or ls, stats or verify on %s", path, source, cmd->name, cmd->name, source,
			       nsources == 2 ? " ..." : "", path);
			return EXIT_USAGE;
		}
		if (cli->nargs > 1) {
			errorf("%s is inside a weightfs mount of %s: give either that path or GLOBs, not both "
			       "(" PROG " %s %s GLOB...)", path, source, cmd->name, source);
			return EXIT_USAGE;
		}
		struct names names = {0};
		int rc = collect(real, &names);
		if (rc < 0 || names.n == 0) {
			for (size_t i = 0; i < names.n; i++)
				free(names.v[i]);
			free(names.v);
			if (rc == -ENOMEM)
				return EXIT_INTERNAL;
			errorf("%s: %s", path, rc < 0 ? strerror(-rc) : "no tensor files at or beneath it");
			return rc < 0 ? EXIT_SOURCE : EXIT_USAGE;
		}
		char **bigger = realloc(args, (1 + names.n) * sizeof(*args));
		size_t total = ma->nowned + names.n;
		char **owned = bigger ? realloc(ma->owned, total * sizeof(*owned)) : NULL;
		if (bigger)
			ma->args = args = bigger;
		if (owned == NULL) {
			for (size_t i = 0; i < names.n; i++)
				free(names.v[i]);
			free(names.v);
			return EXIT_INTERNAL;
		}
		ma->owned = owned;
		ma->owned_cap = total;
		for (size_t i = 0; i < names.n; i++)
			args[1 + i] = ma->owned[ma->nowned++] = names.v[i];
		nargs = 1 + names.n;
		free(names.v);
		errorf("note: %s is inside a weightfs mount of %s: inspecting the %zu tensor%s beneath it", path,
		       source, names.n, names.n == 1 ? "" : "s");
	}
	if (changed) {
		cli->args = args;
		cli->nargs = nargs;
	}
	return EXIT_OK;
}
