/* Remote sources through wfs_model_open, without a network: options and
 * SOURCE errors are reported before anything is fetched, and a server that
 * refuses connections is an error (after retries), not a crash. */
#include "check.h"
#include "weightfs/model.h"

static int open_remote(const char *source, struct wfs_remote_options ro, struct wfs_error *err)
{
	struct wfs_open_options opts = {.remote = ro};
	struct wfs_model *m = NULL;
	int rc = wfs_model_open(source, &opts, &m, err);
	CHECK((rc == 0) == (m != NULL));
	wfs_model_free(m);
	return rc;
}

int main(void)
{
	struct wfs_error err = {0};
	CHECK(wfs_source_is_remote("hf://a/b") && wfs_source_is_remote("s3://b/p") &&
	      wfs_source_is_remote("https://h/") && !wfs_source_is_remote("/models/x"));

	CHECK(open_remote("hf://org/x", (struct wfs_remote_options){.chunk_size = 100}, &err) == -EINVAL);
	CHECK_CONTAINS(err.text, "chunk_size=100: must be between 4K and 1G");
	wfs_error_clear(&err);
	CHECK(open_remote("hf://org/x", (struct wfs_remote_options){.chunk_size = 1 << 20, .cache_size = 4096}, &err) ==
	      -EINVAL);
	CHECK_CONTAINS(err.text, "must be at least chunk_size");
	wfs_error_clear(&err);
	CHECK(open_remote("hf://org/../x", (struct wfs_remote_options){0}, &err) == -EINVAL);
	CHECK_CONTAINS(err.text, "hf://org/../x: expected hf://ORG/NAME");
	wfs_error_clear(&err);

	/* Nothing listens on port 1 of loopback: refused, retried, then an error. */
	CHECK(open_remote("http://127.0.0.1:1/model/", (struct wfs_remote_options){0}, &err) < 0);
	CHECK_CONTAINS(err.text, "http://127.0.0.1:1/model/: model.safetensors.index.json:");
	wfs_error_clear(&err);

	setenv("AWS_ACCESS_KEY_ID", "AKID", 1);
	unsetenv("AWS_SECRET_ACCESS_KEY");
	CHECK(open_remote("s3://bucket/p/", (struct wfs_remote_options){0}, &err) == -EINVAL);
	CHECK_CONTAINS(err.text, "must be set together");
	wfs_error_clear(&err);
	return check_report("test_remote_open");
}
