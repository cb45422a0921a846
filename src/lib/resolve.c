/**
 * @file resolve.c
 * Which files make the model SOURCE names, and which format reads each
 * (README, "SOURCE").
 *
 * A directory (local, or a remote repository's listing: struct wfs_dir) is
 * looked at format by format, in registry order (safetensors, pytorch,
 * gguf, onnx, tfbundle); for each, its index (PREFERRED.index.json, or the
 * one *EXT.index.json) wins, else its files: the preferred name alone
 * (transformers' order: model.safetensors, pytorch_model.bin), else the one
 * model its files make (one file, or the parts NAME-0000N-of-0000M.EXT),
 * else one subdirectory (group) per file or per set of parts. A file's
 * format is decided by its content; the name only narrows which files are
 * asked. The first format that finds files decides; every other file is
 * shown as an ordinary file.
 */
#include <dirent.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "formats/format.h"
#include "sources/source.h"

#define QUOTE(s) wfs_quote((s), strlen(s), (char[WFS_QUOTE_MAX]){0})
/* An index lists every tensor once: 1 GiB is far beyond any real one. */
#define INDEX_LIMIT (1u << 30)

/* What a resolution works on: the model, its options, and its directory. */
struct resolver {
	struct wfs_build b;
	const struct wfs_dir *dir;
};

static bool ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && strcmp(s + n - k, suffix) == 0;
}

static int compare_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

void wfs_names_free(struct wfs_names *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	*l = (struct wfs_names){0};
}

int wfs_names_add(struct wfs_names *l, const char *s)
{
	if (WFS_GROW(l->v, l->cap, l->n, 1) < 0 || (l->v[l->n] = strdup(s)) == NULL)
		return -ENOMEM;
	l->n++;
	return 0;
}

static void names_sort(struct wfs_names *l)
{
	if (l->n > 1)
		qsort(l->v, l->n, sizeof(*l->v), compare_names);
}

/* ---- one file ------------------------------------------------------------ */

/*
 * Opens shard @p shard, asks the formats (only @p want, when set) which one
 * it is, and lets that format parse it. *got is the format.
 */
static int open_file(struct wfs_build *b, uint32_t shard, const struct wfs_format *want, const char *who,
		     const struct wfs_format **got, struct wfs_error *err)
{
	struct wfs_model *m = b->m;
	int rc = wfs_model_open_shard(m, shard, who, err);
	if (rc < 0)
		return rc;
	const struct wfs_shard *s = &m->shards[shard];
	char name[PATH_MAX];
	snprintf(name, sizeof(name), "%s", wfs_model_str(m, s->name));
	uint8_t head[WFS_PROBE_LEN];
	size_t len = s->size < sizeof(head) ? (size_t)s->size : sizeof(head);
	ssize_t n = wfs_shard_pread(m, s, head, len, 0);
	if (n < 0) {
		wfs_error_add(err, "%s: %s", QUOTE(name), strerror((int)-n));
		return (int)n;
	}
	const char *base = strrchr(name, '/') ? strrchr(name, '/') + 1 : name;
	const struct wfs_format *f = wfs_format_probe(head, len, base, want);
	if (f == NULL) {
		char names[256];
		wfs_format_names(names, sizeof(names));
		if (want)
			wfs_error_add(err, "%s: not a %s file", QUOTE(name), want->name);
		else
			wfs_error_add(err, "%s: not a model file of a known format (%s)", QUOTE(name), names);
		return WFS_EINVALID;
	}
	*got = f;
	return f->open(b, shard, err);
}

/* Adds and opens the files @p names (relative to the model directory) as one model of b->group. */
static int open_files(struct wfs_build *b, char *const *names, size_t n, const struct wfs_format *want,
		      struct wfs_error *err)
{
	int rc = 0;
	const struct wfs_format *f = want, *first = NULL;
	for (size_t i = 0; i < n; i++) {
		uint32_t shard;
		int r = wfs_model_add_shard(b->m, names[i], strlen(names[i]), &shard);
		if (r == 0)
			r = open_file(b, shard, want, "", &f, err);
		if (r == -ENOMEM)
			return r;
		/* Keep going after an invalid file so every problem is reported;
		 * an unreadable one (-errno) decides the exit status. */
		if (r < 0 && (rc == 0 || rc == WFS_EINVALID))
			rc = r;
		if (r == 0 && first == NULL)
			first = f;
	}
	if (first) {
		if (b->group == 0)
			b->m->format = first->name;
		else
			b->m->groups[b->group].format = first->name;
		if (rc == 0 && first->finish)
			rc = first->finish(b, err);
	}
	return rc;
}

/* An index's shards, each read by the format its content says. */
static int open_indexed(struct resolver *r, const char *index_name, const struct wfs_format *want,
			struct wfs_error *err)
{
	struct wfs_model *m = r->b.m;
	char *text = NULL;
	size_t len = 0;
	int rc = r->dir->ops->read_file(r->dir->ctx, index_name, INDEX_LIMIT, &text, &len);
	if (rc < 0) {
		wfs_error_add(err, "%s: %s", index_name, rc == -EINVAL ? "not a regular file" : strerror(-rc));
		return rc == -EINVAL || rc == -EFBIG ? WFS_EINVALID : rc;
	}
	struct wfs_index idx;
	rc = wfs_index_parse(m, index_name, text, len, &idx, err);
	free(text);
	if (rc < 0)
		return rc;
	if (idx.nentries == 0)
		wfs_warnf(r->b.warn, "%s: weight_map is empty: the model has no tensors", index_name);
	m->sharded = true;
	if ((rc = wfs_arena_add(m, index_name, strlen(index_name), &m->index_name)) < 0)
		goto out;
	const struct wfs_format *first = NULL;
	for (size_t i = 0; i < idx.nshards && rc != -ENOMEM; i++) {
		uint32_t shard;
		const struct wfs_format *f = NULL;
		int e = wfs_model_add_shard(m, idx.strings.data + idx.shards[i].off, idx.shards[i].len, &shard);
		if (e == 0)
			e = open_file(&r->b, shard, want ? want : first, index_name, &f, err);
		if (e == 0 && first == NULL)
			first = f;
		if (e < 0 && (rc == 0 || rc == WFS_EINVALID))
			rc = e;
	}
	if (first)
		m->format = first->name;
	if (rc == 0)
		rc = wfs_model_finish(m, err);
	if (rc == 0)
		rc = wfs_index_check(m, &idx, index_name, r->b.warn, err);
out:
	wfs_index_release(&idx);
	return rc;
}

/* ---- parts and units --------------------------------------------------------- */

/*
 * NAME-0000N-of-0000M.EXT: sets the length of NAME, N and M. The numbers
 * are digits of equal width, 1 <= N <= M.
 */
static bool split_part(const char *file, const char *ext, size_t *stem, unsigned long *part, unsigned long *count)
{
	size_t n = strlen(file), k = strlen(ext);
	if (n <= k)
		return false;
	size_t end = n - k, i = end, w = 0;
	while (i > 0 && file[i - 1] >= '0' && file[i - 1] <= '9')
		i--, w++;
	if (w == 0 || w > 9 || i < 4 || memcmp(file + i - 4, "-of-", 4) != 0)
		return false;
	size_t j = i - 4, w2 = 0;
	while (j > 0 && file[j - 1] >= '0' && file[j - 1] <= '9')
		j--, w2++;
	if (w2 != w || j < 2 || file[j - 1] != '-')
		return false;
	*part = strtoul(file + j, NULL, 10);
	*count = strtoul(file + i, NULL, 10);
	*stem = j - 1;
	return *part >= 1 && *part <= *count;
}

/* The extension of @p file among the format's. */
static const char *extension_of(const struct wfs_format *f, const char *file)
{
	for (size_t e = 0; f->extensions && f->extensions[e]; e++)
		if (ends_with(file, f->extensions[e]))
			return f->extensions[e];
	return "";
}

/* Every part of the split that @p file belongs to, checking none is missing. */
static int split_parts(const struct wfs_dir *d, const char *file, const char *ext, struct wfs_names *out,
		       struct wfs_error *err)
{
	size_t stem;
	unsigned long part, count;
	if (!split_part(file, ext, &stem, &part, &count))
		return wfs_names_add(out, file);
	int width = (int)((strlen(file) - strlen(ext) - stem - 1 - 4) / 2);
	int rc = 0;
	for (unsigned long p = 1; p <= count && rc >= 0; p++) {
		char name[PATH_MAX];
		snprintf(name, sizeof(name), "%.*s-%0*lu-of-%0*lu%s", (int)stem, file, width, p, width, count, ext);
		if (!d->ops->exists(d->ctx, name)) {
			wfs_error_add(err, "%s: part %lu of %lu is missing (%s)", QUOTE(file), p, count, QUOTE(name));
			rc = WFS_EINVALID;
			continue;
		}
		if (wfs_names_add(out, name) < 0)
			rc = -ENOMEM;
	}
	return rc;
}

/* Whether two files are parts of one split. */
static bool same_split(const struct wfs_format *f, const char *a, const char *b)
{
	size_t sa, sb;
	unsigned long pa, pb, ca, cb;
	const char *ea = extension_of(f, a), *eb = extension_of(f, b);
	return split_part(a, ea, &sa, &pa, &ca) && split_part(b, eb, &sb, &pb, &cb) && sa == sb && ca == cb &&
	       memcmp(a, b, sa) == 0 && strcmp(ea, eb) == 0;
}

/*
 * Opens @p files (all of format @p f) as the model: one model when they are
 * one (a file, or the parts of one split), else one group per unit.
 */
static int open_units(struct resolver *r, struct wfs_names *files, const struct wfs_format *f, struct wfs_error *err)
{
	struct wfs_build *b = &r->b;
	/* A unit: a file, or every part of one split; unit_of[i] is the first file of file i's unit. */
	size_t nunits = 0;
	size_t *unit_of = calloc(files->n ? files->n : 1, sizeof(*unit_of));
	if (unit_of == NULL)
		return -ENOMEM;
	for (size_t i = 0; i < files->n; i++) {
		unit_of[i] = i;
		for (size_t j = 0; j < i && unit_of[i] == i; j++)
			if (same_split(f, files->v[i], files->v[j]))
				unit_of[i] = unit_of[j];
		nunits += unit_of[i] == i;
	}
	int rc = 0;
	for (size_t u = 0; u < files->n && rc != -ENOMEM; u++) {
		if (unit_of[u] != u)
			continue;
		struct wfs_names unit = {0};
		const char *ext = extension_of(f, files->v[u]);
		int e = split_parts(r->dir, files->v[u], ext, &unit, err);
		if (e == 0 && nunits > 1) {
			size_t stem, len = strlen(files->v[u]) - strlen(ext);
			unsigned long part, count;
			if (split_part(files->v[u], ext, &stem, &part, &count))
				len = stem;
			e = wfs_build_add_group(b, files->v[u], len, f->name);
		}
		if (e == 0)
			e = open_files(b, unit.v, unit.n, f, err);
		wfs_names_free(&unit);
		if (e < 0 && (rc == 0 || rc == WFS_EINVALID))
			rc = e;
	}
	free(unit_of);
	b->group = 0;
	if (nunits > 1)
		b->m->format = f->name;
	if (rc == 0)
		rc = wfs_model_finish(b->m, err);
	return rc;
}

/* ---- directories ------------------------------------------------------------ */

/* The files of format @p f in the directory (by extension, then content), sorted. */
static int format_files(const struct wfs_dir *d, const struct wfs_format *f, struct wfs_names *out)
{
	for (size_t e = 0; f->extensions && f->extensions[e]; e++) {
		struct wfs_names all = {0};
		int rc = d->ops->list(d->ctx, f->extensions[e], &all);
		for (size_t i = 0; i < all.n && rc == 0; i++) {
			uint8_t head[WFS_PROBE_LEN];
			ssize_t n = d->ops->read_head(d->ctx, all.v[i], head, sizeof(head));
			if (n >= 0 && wfs_format_probe(head, (size_t)n, all.v[i], NULL) == f)
				rc = wfs_names_add(out, all.v[i]);
		}
		wfs_names_free(&all);
		if (rc < 0)
			return rc;
	}
	names_sort(out);
	return 0;
}

/*
 * The format's index in the directory: PREFERRED.index.json, else the one
 * *EXT.index.json. Several (diffusers variants) are an error that names them.
 * 1 with *out set, 0 when there is none, or an error.
 */
static int find_index(const struct wfs_dir *d, const struct wfs_format *f, char **out, struct wfs_error *err)
{
	*out = NULL;
	if (f->preferred == NULL)
		return 0;
	char want[PATH_MAX];
	snprintf(want, sizeof(want), "%s.index.json", f->preferred);
	if (d->ops->exists(d->ctx, want))
		return (*out = strdup(want)) ? 1 : -ENOMEM;
	struct wfs_names found = {0};
	int rc = 0;
	for (size_t e = 0; f->extensions && f->extensions[e] && rc == 0; e++) {
		char suffix[64];
		snprintf(suffix, sizeof(suffix), "%s.index.json", f->extensions[e]);
		rc = d->ops->list(d->ctx, suffix, &found);
	}
	names_sort(&found);
	if (rc == 0 && found.n == 1) {
		*out = found.v[0];
		found.v[0] = NULL;
		found.n = 0;
		rc = 1;
	} else if (rc == 0 && found.n > 1) {
		char list[1024];
		size_t o = 0;
		for (size_t i = 0; i < found.n && o < sizeof(list); i++)
			o += (size_t)snprintf(list + o, sizeof(list) - o, "%s%s", i ? ", " : "", found.v[i]);
		wfs_error_add(err, "the directory has %zu indexes (%s): give the one to mount as SOURCE", found.n, list);
		rc = WFS_EINVALID;
	}
	wfs_names_free(&found);
	return rc;
}

/* TensorFlow's entry points: a `checkpoint` file naming the prefix, or a SavedModel's variables/. */
static int tf_entry(const struct wfs_dir *d, char **out)
{
	*out = NULL;
	char *text = NULL;
	size_t len = 0;
	if (d->ops->read_file(d->ctx, "checkpoint", 1 << 20, &text, &len) == 0) {
		/* text format: model_checkpoint_path: "PREFIX" */
		const char *key = strstr(text, "model_checkpoint_path:");
		const char *q1 = key ? strchr(key, '"') : NULL, *q2 = q1 ? strchr(q1 + 1, '"') : NULL;
		if (q2 && q2 > q1 + 1) {
			/* Older TF writes an absolute path: the bundle is the one next to the file. */
			const char *start = q1 + 1;
			if (*start == '/')
				for (const char *c = start; c < q2; c++)
					if (*c == '/')
						start = c + 1;
			size_t n = (size_t)(q2 - start);
			char *p = malloc(n + sizeof(".index"));
			if (p) {
				memcpy(p, start, n);
				strcpy(p + n, ".index");
			}
			free(text);
			*out = p;
			return p ? 1 : -ENOMEM;
		}
		free(text);
	}
	if (d->ops->exists(d->ctx, "saved_model.pb") && d->ops->exists(d->ctx, "variables/variables.index"))
		return (*out = strdup("variables/variables.index")) ? 1 : -ENOMEM;
	return 0;
}

int wfs_resolve_dir(struct wfs_model *m, const struct wfs_dir *d, const char *source,
		    const struct wfs_open_options *opts, struct wfs_error *err)
{
	struct resolver r = {.b = {.m = m, .opts = opts, .warn = &opts->warn}, .dir = d};
	const struct wfs_format *only = opts->format ? wfs_format_find(opts->format) : NULL;
	for (size_t i = 0; wfs_formats[i]; i++) {
		const struct wfs_format *f = wfs_formats[i];
		if (only && f != only)
			continue;
		char *entry = NULL;
		int rc = find_index(d, f, &entry, err);
		if (rc < 0)
			return rc;
		if (rc == 1) {
			rc = open_indexed(&r, entry, f, err);
			free(entry);
			return rc;
		}
		if (strcmp(f->name, "tfbundle") == 0 && (rc = tf_entry(d, &entry)) != 0) {
			if (rc < 0)
				return rc;
			if (!wfs_shard_path_ok(entry, strlen(entry))) {
				wfs_error_add(err, "checkpoint: model_checkpoint_path %s is not inside the directory", QUOTE(entry));
				rc = WFS_EINVALID;
			} else {
				rc = open_files(&r.b, &entry, 1, f, err);
			}
			free(entry);
			return rc == 0 ? wfs_model_finish(m, err) : rc;
		}
		struct wfs_names files = {0};
		if ((rc = format_files(d, f, &files)) < 0) {
			wfs_names_free(&files);
			wfs_error_add(err, "%s: %s", source, strerror(-rc));
			return rc;
		}
		if (files.n == 0) {
			wfs_names_free(&files);
			continue;
		}
		for (size_t k = 0; f->preferred && k < files.n; k++) {
			if (strcmp(files.v[k], f->preferred) == 0) { /* it alone */
				char *keep = files.v[k];
				files.v[k] = NULL;
				wfs_names_free(&files);
				files = (struct wfs_names){0};
				rc = wfs_names_add(&files, keep);
				free(keep);
				if (rc < 0)
					return rc;
				break;
			}
		}
		rc = open_units(&r, &files, f, err);
		wfs_names_free(&files);
		return rc;
	}
	/* Say what was looked for: every extension of every format asked. */
	char looked[512];
	size_t o = 0;
	looked[0] = '\0';
	for (size_t i = 0; wfs_formats[i] && o < sizeof(looked); i++)
		for (size_t e = 0; (!only || wfs_formats[i] == only) && wfs_formats[i]->extensions &&
				   wfs_formats[i]->extensions[e] && o < sizeof(looked); e++)
			o += (size_t)snprintf(looked + o, sizeof(looked) - o, "%s*%s", o ? ", " : "",
					      wfs_formats[i]->extensions[e]);
	wfs_error_add(err, "%s: no model index and no model files (looked for %s)", source, looked);
	return -ENOENT;
}

int wfs_resolve_file(struct wfs_model *m, const struct wfs_dir *d, const char *name,
		     const struct wfs_open_options *opts, struct wfs_error *err)
{
	struct resolver r = {.b = {.m = m, .opts = opts, .warn = &opts->warn}, .dir = d};
	const struct wfs_format *only = opts->format ? wfs_format_find(opts->format) : NULL;
	if (ends_with(name, ".json"))
		return open_indexed(&r, name, only, err);
	/* Which format, from the first bytes, before any shard is added. */
	uint8_t head[WFS_PROBE_LEN];
	ssize_t n = d->ops->read_head(d->ctx, name, head, sizeof(head));
	const struct wfs_format *f = n < 0 ? NULL : wfs_format_probe(head, (size_t)n, name, only);
	struct wfs_names parts = {0};
	size_t stem;
	unsigned long part, count;
	int rc;
	if (f && f->open_all_parts && split_part(name, extension_of(f, name), &stem, &part, &count))
		rc = split_parts(d, name, extension_of(f, name), &parts, err);
	else
		rc = wfs_names_add(&parts, name);
	if (rc == 0)
		rc = open_files(&r.b, parts.v, parts.n, only, err);
	wfs_names_free(&parts);
	if (rc == 0)
		rc = wfs_model_finish(m, err);
	return rc;
}

/* ---- local directories --------------------------------------------------------- */

static int local_read_file(void *ctx, const char *name, size_t limit, char **out, size_t *len)
{
	int dirfd = *(int *)ctx;
	int fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	struct stat st;
	int rc = 0;
	char *buf = NULL;
	if (fstat(fd, &st) < 0) {
		rc = -errno;
	} else if (!S_ISREG(st.st_mode)) {
		rc = -EINVAL;
	} else if ((uint64_t)st.st_size > limit) {
		rc = -EFBIG;
	} else if ((buf = malloc((size_t)st.st_size + 1)) == NULL) {
		rc = -ENOMEM;
	} else if ((rc = wfs_read_exact(fd, buf, (size_t)st.st_size, 0)) == 0) {
		buf[st.st_size] = '\0';
		*out = buf;
		*len = (size_t)st.st_size;
		buf = NULL;
	}
	free(buf);
	close(fd);
	return rc;
}

static int local_list(void *ctx, const char *suffix, struct wfs_names *out)
{
	int dirfd = *(int *)ctx;
	int fd = dup(dirfd);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (dir == NULL) {
		int e = errno;
		if (fd >= 0)
			close(fd);
		return -e;
	}
	rewinddir(dir); /* a dup shares the offset of every earlier listing */
	int rc = 0;
	struct dirent *e;
	while ((e = readdir(dir)) != NULL && rc == 0) {
		struct stat st;
		if (e->d_name[0] == '.' || !ends_with(e->d_name, suffix) ||
		    fstatat(dirfd, e->d_name, &st, 0) < 0 || !S_ISREG(st.st_mode))
			continue;
		rc = wfs_names_add(out, e->d_name);
	}
	closedir(dir);
	return rc;
}

static bool local_exists(void *ctx, const char *path)
{
	struct stat st;
	return fstatat(*(int *)ctx, path, &st, 0) == 0 && S_ISREG(st.st_mode);
}

static ssize_t local_read_head(void *ctx, const char *path, uint8_t *buf, size_t cap)
{
	int fd = openat(*(int *)ctx, path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	size_t got = 0;
	while (got < cap) {
		ssize_t n = pread(fd, buf + got, cap - got, (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	return (ssize_t)got;
}

static const struct wfs_dir_ops local_dir = {
	.list = local_list,
	.exists = local_exists,
	.read_file = local_read_file,
	.read_head = local_read_head,
};

static bool is_dir_at(int dirfd, const char *path)
{
	struct stat st;
	return fstatat(dirfd, path, &st, 0) == 0 && S_ISDIR(st.st_mode);
}

/* Writes the names in snapshots/ to @p out, sorted, comma-separated (cut with "..."). */
static void list_snapshots(int dirfd, char *out, size_t cap)
{
	out[0] = '\0';
	int fd = openat(dirfd, "snapshots", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	DIR *dir = fd < 0 ? NULL : fdopendir(fd);
	if (dir == NULL) {
		if (fd >= 0)
			close(fd);
		return;
	}
	struct wfs_names names = {0};
	struct dirent *d;
	while ((d = readdir(dir)) != NULL)
		if (d->d_name[0] != '.' && wfs_names_add(&names, d->d_name) < 0)
			break;
	closedir(dir);
	names_sort(&names);
	size_t o = 0;
	bool cut = false;
	for (size_t i = 0; i < names.n && !cut; i++) {
		char q[WFS_QUOTE_MAX];
		wfs_quote(names.v[i], strlen(names.v[i]), q);
		if (o + strlen(q) + 8 >= cap) {
			snprintf(out + o, cap - o, "%s...", i ? ", " : "");
			cut = true;
		} else {
			o += (size_t)snprintf(out + o, cap - o, "%s%s", i ? ", " : "", q);
		}
	}
	if (names.n == 0)
		snprintf(out, cap, "none");
	wfs_names_free(&names);
}

/*
 * A Hugging Face cache repository (models--org--name/: blobs/, refs/,
 * snapshots/) holds no model itself: refs/main names the snapshot to open.
 * Returns a descriptor of that snapshot, -1 when @p dirfd is not such a
 * repository, or -ENOENT (said in @p err, with the snapshots there are) when
 * refs/main is missing or names a snapshot that is not there.
 */
static int hf_repo_snapshot(int dirfd, const char *source, struct wfs_error *err)
{
	char *ref = NULL;
	size_t len = 0;
	char snaps[1024];
	if (faccessat(dirfd, "model.safetensors.index.json", F_OK, 0) == 0)
		return -1;
	if (local_read_file(&dirfd, "refs/main", 256, &ref, &len) < 0) {
		if (!is_dir_at(dirfd, "snapshots") || !is_dir_at(dirfd, "blobs"))
			return -1;
		list_snapshots(dirfd, snaps, sizeof(snaps));
		wfs_error_add(err, "%s: a Hugging Face cache repository without refs/main, which names the snapshot "
			      "to mount; snapshots there: %s (mount one of %s/snapshots/REVISION)", source, snaps, source);
		return -ENOENT;
	}
	while (len && (ref[len - 1] == '\n' || ref[len - 1] == ' ' || ref[len - 1] == '\r'))
		ref[--len] = '\0';
	bool plain = len > 0;
	for (size_t i = 0; i < len; i++)
		plain &= (ref[i] >= '0' && ref[i] <= '9') || (ref[i] >= 'a' && ref[i] <= 'z') ||
			 (ref[i] >= 'A' && ref[i] <= 'Z') || ref[i] == '-' || ref[i] == '_' || ref[i] == '.';
	int fd = -1;
	if (plain && strcmp(ref, ".") && strcmp(ref, "..")) {
		char path[300];
		snprintf(path, sizeof(path), "snapshots/%s", ref);
		fd = openat(dirfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	}
	if (fd < 0) {
		char q[WFS_QUOTE_MAX];
		list_snapshots(dirfd, snaps, sizeof(snaps));
		wfs_error_add(err, "%s: refs/main names snapshot %s, which is not in snapshots/; snapshots there: %s "
			      "(mount one of %s/snapshots/REVISION)", source, wfs_quote(ref, len, q), snaps, source);
		fd = -ENOENT;
	}
	free(ref);
	return fd;
}

/* Shows the directory's files that are not part of the model. */
static int scan_extras(struct wfs_model *m, const struct wfs_open_options *opts, struct wfs_error *err)
{
	struct wfs_str *skip = malloc((m->nshards + 1) * sizeof(*skip));
	if (skip == NULL)
		return -ENOMEM;
	size_t nskip = 0;
	if (m->sharded)
		skip[nskip++] = m->index_name;
	for (size_t i = 0; i < m->nshards; i++)
		skip[nskip++] = m->shards[i].name;
	int rc = wfs_extras_scan(m, skip, nskip, &opts->warn, err);
	free(skip);
	return rc;
}

int wfs_resolve_local(struct wfs_model *m, const char *source, const struct wfs_open_options *opts,
		      struct wfs_error *err)
{
	struct stat st;
	char *alt = NULL;
	if (stat(source, &st) < 0) {
		int e = errno;
		/* A TensorFlow checkpoint is named by its prefix: model.ckpt for model.ckpt.index. */
		size_t n = strlen(source);
		if (e == ENOENT && (alt = malloc(n + sizeof(".index"))) != NULL) {
			memcpy(alt, source, n);
			strcpy(alt + n, ".index");
			if (stat(alt, &st) == 0 && S_ISREG(st.st_mode)) {
				source = alt;
				e = 0;
			}
		}
		if (e) {
			free(alt);
			wfs_error_add(err, "%s: %s", source, strerror(e));
			return -e;
		}
	}
	struct wfs_dir dir = {.ops = &local_dir, .ctx = &m->dirfd};
	int rc;
	if (S_ISDIR(st.st_mode)) {
		m->dirfd = open(source, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dirfd < 0) {
			rc = -errno;
			wfs_error_add(err, "%s: %s", source, strerror(-rc));
			goto out;
		}
		int snap = hf_repo_snapshot(m->dirfd, source, err);
		if (snap < -1) {
			rc = snap;
			goto out;
		}
		if (snap >= 0) {
			close(m->dirfd);
			m->dirfd = snap;
		}
		rc = wfs_resolve_dir(m, &dir, source, opts, err);
		if (rc == 0 && !opts->no_extras)
			rc = scan_extras(m, opts, err);
	} else if (S_ISREG(st.st_mode)) {
		char *copy1 = strdup(source), *copy2 = strdup(source);
		if (copy1 == NULL || copy2 == NULL) {
			free(copy1);
			free(copy2);
			rc = -ENOMEM;
			goto out;
		}
		const char *parent = dirname(copy1), *base = basename(copy2);
		m->dirfd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
		if (m->dirfd < 0) {
			rc = -errno;
			wfs_error_add(err, "%s: %s", parent, strerror(-rc));
		} else {
			rc = wfs_resolve_file(m, &dir, base, opts, err);
		}
		free(copy1);
		free(copy2);
	} else {
		wfs_error_add(err, "%s: not a directory or a regular file", source);
		rc = -EINVAL;
	}
out:
	free(alt);
	return rc;
}
