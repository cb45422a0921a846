/**
 * @file remote.c
 * Remote models (http://, https://, hf://, s3://): not built yet.
 * Placeholder so the rest of the library links; see issue 6.
 */
#include <stdio.h>

#include "internal.h"

int wfs_remote_open_model(struct wfs_model *m, const char *source, const struct wfs_open_options *opts,
			  struct wfs_error *err)
{
	(void)m, (void)opts;
	wfs_error_add(err, "%s: remote sources are not supported by this build", source);
	return -EPROTONOSUPPORT;
}

ssize_t wfs_remote_pread(struct wfs_remote_file *f, void *buf, size_t len, uint64_t off)
{
	(void)f, (void)buf, (void)len, (void)off;
	return -EIO;
}

void wfs_remote_free(struct wfs_remote *r)
{
	(void)r;
}

size_t wfs_remote_stats(const struct wfs_remote *r, char *buf, size_t cap)
{
	(void)r;
	return (size_t)snprintf(buf, cap, "{}");
}
