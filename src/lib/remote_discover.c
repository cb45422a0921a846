/**
 * @file remote_discover.c
 * Which files a remote source has, and how to reach them.
 *
 *   hf://org/name[@rev]  the Hub's model API names the commit (the mount is
 *                        pinned to it) and every file; files are read from
 *                        {endpoint}/{repo}/resolve/{commit}/{path}
 *   s3://bucket/prefix/  ListObjectsV2, every page; SigV4 when credentials
 *                        are in the environment
 *   https://host/dir/    no listing: the index is asked for, else
 *                        model.safetensors; -o files= names the rest
 *
 * Credentials come from the environment and are handed to the transport,
 * which sends them only to the origin they belong to.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "remote.h"

#define INDEX_NAME "model.safetensors.index.json"
#define MAX_FILES 100000
#define MAX_LIST_PAGES 1000

void wfs_listing_release(struct wfs_listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->files[i].path);
		free(l->files[i].etag);
	}
	free(l->files);
	free(l->base);
	free(l->identity_prefix);
	free(l->index_name);
	free(l->index_text);
	memset(l, 0, sizeof(*l));
}

int wfs_listing_add(struct wfs_listing *l, const char *path, size_t len, uint64_t size, const char *etag)
{
	if (l->n >= MAX_FILES)
		return -E2BIG;
	if (WFS_GROW(l->files, l->cap, l->n, 1) < 0)
		return -ENOMEM;
	struct wfs_listed *f = &l->files[l->n];
	f->path = strndup(path, len);
	f->size = size;
	f->etag = etag ? strdup(etag) : NULL;
	if (f->path == NULL || (etag && f->etag == NULL)) {
		free(f->path);
		free(f->etag);
		return -ENOMEM;
	}
	l->n++;
	return 0;
}

char *wfs_listing_url(const struct wfs_listing *l, const char *path)
{
	return wfs_url_encode(l->base, path, true);
}

static char *concat(const char *a, const char *b, const char *c)
{
	size_t n = strlen(a) + strlen(b) + strlen(c) + 1;
	char *s = malloc(n);
	if (s)
		snprintf(s, n, "%s%s%s", a, b, c);
	return s;
}

/* GETs a small document (JSON, XML) into r->buf. */
static void get_document(struct wfs_remote *r, struct wfs_req *q, const char *url, const char *what, size_t limit)
{
	memset(q, 0, sizeof(*q));
	q->url = url;
	q->grow = true;
	q->limit = limit;
	q->known_size = WFS_SIZE_UNKNOWN;
	q->what = what;
	wfs_http_run(&r->http, q, 1, 1);
}

static int req_failed(const char *source, const char *what, struct wfs_req *q, const char *hint,
		      struct wfs_error *err)
{
	char why[800];
	wfs_error_add(err, "%s: %s: %s%s", source, what, wfs_req_error(q, why, sizeof(why)), hint ? hint : "");
	int rc = q->rc;
	free(q->buf);
	q->buf = NULL;
	wfs_req_reset(q);
	return rc == -ENOMEM ? rc : rc == -ESTALE ? -EIO : rc;
}

/* ---- Hugging Face -------------------------------------------------------- */

static char *read_token_file(void)
{
	char path[4096];
	const char *p = getenv("HF_TOKEN_PATH");
	const char *home = getenv("HF_HOME");
	if (p && *p)
		snprintf(path, sizeof(path), "%s", p);
	else if (home && *home)
		snprintf(path, sizeof(path), "%s/token", home);
	else if ((home = getenv("HOME")) != NULL && *home)
		snprintf(path, sizeof(path), "%s/.cache/huggingface/token", home);
	else
		return NULL;
	FILE *f = fopen(path, "re");
	if (f == NULL)
		return NULL;
	char buf[1024];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	char *t = strdup(wfs_trim(buf));
	explicit_bzero(buf, sizeof(buf));
	if (t && *t == '\0') {
		free(t);
		t = NULL;
	}
	return t;
}

static bool is_commit(const char *s)
{
	size_t n = strlen(s);
	if (n != 40)
		return false;
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

static int discover_hf(struct wfs_remote *r, const struct wfs_source *src, const char *source,
		       struct wfs_listing *out, struct wfs_error *err)
{
	const char *env = getenv("HF_ENDPOINT");
	char endpoint[1024];
	snprintf(endpoint, sizeof(endpoint), "%s", env && *env ? env : "https://huggingface.co");
	size_t elen = strlen(endpoint);
	while (elen && endpoint[elen - 1] == '/')
		endpoint[--elen] = '\0';
	char origin[512];
	if ((strncmp(endpoint, "https://", 8) != 0 && strncmp(endpoint, "http://", 7) != 0) ||
	    wfs_url_origin(endpoint, origin, sizeof(origin)) < 0) {
		wfs_error_add(err, "HF_ENDPOINT=%s: expected an http:// or https:// URL", endpoint);
		return -EINVAL;
	}
	const char *tok = getenv("HF_TOKEN");
	if (tok == NULL || *tok == '\0')
		tok = getenv("HUGGING_FACE_HUB_TOKEN");
	char *token = tok && *tok ? strdup(tok) : read_token_file();
	int rc = 0;
	if (token) {
		rc = wfs_http_set_bearer(&r->http, endpoint, wfs_trim(token));
		explicit_bzero(token, strlen(token));
		free(token);
		if (rc < 0)
			return rc;
	}

	char *prefix = concat(endpoint, "/api/models/", "");
	char *api1 = prefix ? wfs_url_encode(prefix, src->repo, true) : NULL;
	char *api2 = api1 ? concat(api1, "/revision/", "") : NULL;
	char *api3 = api2 ? wfs_url_encode(api2, src->revision, false) : NULL;
	char *api = api3 ? concat(api3, "?blobs=true", "") : NULL;
	free(prefix);
	free(api1);
	free(api2);
	free(api3);
	if (api == NULL)
		return -ENOMEM;
	struct wfs_req q;
	get_document(r, &q, api, "model API", 256u << 20);
	free(api);
	if (q.rc < 0) {
		const char *hint = q.rc == -EACCES ? " (a gated or private model needs HF_TOKEN or a token file)"
				   : q.rc == -ENOENT ? " (no such repository or revision)" : NULL;
		return req_failed(source, "model API", &q, hint, err);
	}
	wfs_req_reset(&q);
	struct json_tokener *tk = json_tokener_new();
	struct json_object *root = tk ? json_tokener_parse_ex(tk, (const char *)q.buf, (int)q.len) : NULL;
	if (tk)
		json_tokener_free(tk);
	free(q.buf);
	struct json_object *sha = NULL, *siblings = NULL;
	if (root == NULL || !json_object_is_type(root, json_type_object) ||
	    !json_object_object_get_ex(root, "sha", &sha) || !json_object_is_type(sha, json_type_string) ||
	    !is_commit(json_object_get_string(sha)) ||
	    !json_object_object_get_ex(root, "siblings", &siblings) ||
	    !json_object_is_type(siblings, json_type_array)) {
		wfs_error_add(err, "%s: the model API answered without a commit \"sha\" and a \"siblings\" list", source);
		json_object_put(root);
		return -EIO;
	}
	const char *commit = json_object_get_string(sha);
	char *p1 = concat(endpoint, "/", "");
	char *p2 = p1 ? wfs_url_encode(p1, src->repo, true) : NULL;
	out->base = p2 ? concat(p2, "/resolve/", commit) : NULL;
	char *b2 = out->base ? concat(out->base, "/", "") : NULL;
	free(out->base);
	out->base = b2;
	size_t ilen = strlen(endpoint) + strlen(src->repo) + strlen(commit) + 16;
	out->identity_prefix = malloc(ilen);
	if (out->identity_prefix)
		snprintf(out->identity_prefix, ilen, "hf\n%s/%s\n%s\n", endpoint, src->repo, commit);
	free(p1);
	free(p2);
	if (out->base == NULL || out->identity_prefix == NULL) {
		json_object_put(root);
		return -ENOMEM;
	}
	if (r->http.verbose)
		wfs_warnf(&r->http.warn, "remote: %s is commit %s", source, commit);
	size_t n = json_object_array_length(siblings);
	for (size_t i = 0; i < n && rc == 0; i++) {
		struct json_object *s = json_object_array_get_idx(siblings, i), *name, *size;
		if (!json_object_is_type(s, json_type_object) || !json_object_object_get_ex(s, "rfilename", &name) ||
		    !json_object_is_type(name, json_type_string))
			continue;
		uint64_t sz = WFS_SIZE_UNKNOWN;
		if (json_object_object_get_ex(s, "size", &size) && json_object_is_type(size, json_type_int) &&
		    json_object_get_int64(size) >= 0)
			sz = (uint64_t)json_object_get_int64(size);
		const char *path = json_object_get_string(name);
		size_t plen = (size_t)json_object_get_string_len(name);
		if (!wfs_shard_path_ok(path, plen) || strlen(path) != plen) {
			char q2[WFS_QUOTE_MAX];
			wfs_warnf(&r->http.warn, "%s: file %s is not a relative path inside the repository; not shown",
				  source, wfs_quote(path, plen, q2));
			continue;
		}
		rc = wfs_listing_add(out, path, plen, sz, NULL);
	}
	json_object_put(root);
	if (rc == -E2BIG) {
		wfs_warnf(&r->http.warn, "%s: more than %d files; the rest are not shown", source, MAX_FILES);
		rc = 0;
	}
	out->complete = true;
	return rc;
}

/* ---- S3 ------------------------------------------------------------------ */

static int discover_s3(struct wfs_remote *r, const struct wfs_source *src, const char *source,
		       struct wfs_listing *out, struct wfs_error *err)
{
	const char *region = getenv("AWS_REGION");
	if (region == NULL || *region == '\0')
		region = getenv("AWS_DEFAULT_REGION");
	if (region == NULL || *region == '\0')
		region = "us-east-1";
	const char *endpoint = getenv("AWS_ENDPOINT_URL_S3");
	if (endpoint == NULL || *endpoint == '\0')
		endpoint = getenv("AWS_ENDPOINT_URL");
	char list_base[1024], objects[1024];
	if (endpoint && *endpoint) {
		/* S3-compatible stores: path-style addressing. */
		char ep[900];
		snprintf(ep, sizeof(ep), "%s", endpoint);
		size_t n = strlen(ep);
		while (n && ep[n - 1] == '/')
			ep[--n] = '\0';
		if (strncmp(ep, "http://", 7) != 0 && strncmp(ep, "https://", 8) != 0) {
			wfs_error_add(err, "AWS_ENDPOINT_URL=%s: expected an http:// or https:// URL", endpoint);
			return -EINVAL;
		}
		snprintf(list_base, sizeof(list_base), "%s/%s", ep, src->bucket);
		snprintf(objects, sizeof(objects), "%s/%s/", ep, src->bucket);
	} else {
		snprintf(list_base, sizeof(list_base), "https://%s.s3.%s.amazonaws.com/", src->bucket, region);
		snprintf(objects, sizeof(objects), "%s", list_base);
	}
	const char *key = getenv("AWS_ACCESS_KEY_ID"), *secret = getenv("AWS_SECRET_ACCESS_KEY");
	bool has_key = key && *key, has_secret = secret && *secret;
	if (has_key != has_secret) {
		wfs_error_add(err, "%s: AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY must be set together", source);
		return -EINVAL;
	}
	int rc;
	if (has_key && (rc = wfs_http_set_sigv4(&r->http, objects, region, key, secret,
						 getenv("AWS_SESSION_TOKEN"))) < 0)
		return rc;
	out->base = wfs_url_encode(objects, src->prefix, true);
	size_t ilen = strlen(objects) + 8;
	out->identity_prefix = malloc(ilen);
	if (out->base == NULL || out->identity_prefix == NULL)
		return -ENOMEM;
	snprintf(out->identity_prefix, ilen, "s3\n%s\n", objects);

	struct wfs_s3_page page = {0};
	size_t plen = strlen(src->prefix);
	rc = 0;
	for (int pages = 0; rc == 0 && pages < MAX_LIST_PAGES; pages++) {
		/* Parameters sorted by name and encoded as SigV4 canonicalizes them. */
		char *tok = page.next_token ? wfs_url_encode("continuation-token=", page.next_token, false)
					    : strdup("");
		char *pre = wfs_url_encode("list-type=2&prefix=", src->prefix, false);
		char *url = tok && pre ? malloc(strlen(list_base) + strlen(tok) + strlen(pre) + 4) : NULL;
		if (url)
			sprintf(url, "%s?%s%s%s", list_base, tok, *tok ? "&" : "", pre);
		free(tok);
		free(pre);
		if (url == NULL) {
			rc = -ENOMEM;
			break;
		}
		struct wfs_req q;
		get_document(r, &q, url, "ListObjectsV2", 64u << 20);
		free(url);
		if (q.rc < 0) {
			/* 403 for a key or signature, 400 for a region (AuthorizationHeaderMalformed). */
			const char *hint = q.rc == -EACCES || q.status == 400 ? " (check AWS_ACCESS_KEY_ID, AWS_SECRET_ACCESS_KEY, "
							     "AWS_SESSION_TOKEN and AWS_REGION)" : NULL;
			rc = req_failed(source, "listing the bucket", &q, hint, err);
			break;
		}
		wfs_req_reset(&q);
		size_t before = page.nobjects;
		rc = wfs_s3_parse_list((const char *)q.buf, q.len, &page);
		free(q.buf);
		if (rc == -EINVAL) {
			wfs_error_add(err, "%s: the ListObjectsV2 answer is not a listing", source);
			rc = -EIO;
			break;
		}
		for (size_t i = before; i < page.nobjects && rc == 0; i++) {
			const struct wfs_s3_object *o = &page.objects[i];
			size_t klen = strlen(o->key);
			if (klen <= plen || strncmp(o->key, src->prefix, plen) != 0 || o->key[klen - 1] == '/')
				continue;
			const char *rel = o->key + plen;
			if (!wfs_shard_path_ok(rel, klen - plen)) {
				char q2[WFS_QUOTE_MAX];
				wfs_warnf(&r->http.warn, "%s: object %s is not a relative path; not shown", source,
					  wfs_quote(rel, klen - plen, q2));
				continue;
			}
			rc = wfs_listing_add(out, rel, klen - plen, o->size, o->etag);
		}
		if (!page.truncated)
			break;
	}
	wfs_s3_page_release(&page);
	if (rc == -E2BIG) {
		wfs_warnf(&r->http.warn, "%s: more than %d objects; the rest are not shown", source, MAX_FILES);
		rc = 0;
	}
	out->complete = true;
	return rc;
}

/* ---- plain HTTP(S) ------------------------------------------------------- */

static int discover_http(struct wfs_remote *r, const struct wfs_source *src, const char *source,
			 const struct wfs_remote_options *ro, struct wfs_listing *out, struct wfs_error *err)
{
	out->base = strdup(src->base);
	out->identity_prefix = concat("http\n", src->base, "\n");
	if (out->base == NULL || out->identity_prefix == NULL)
		return -ENOMEM;
	int rc = 0;
	const char *file = src->file;
	size_t flen = file ? strlen(file) : 0;
	if (file && flen > 5 && strcmp(file + flen - 5, ".json") == 0) {
		out->index_name = strdup(file);
		if (out->index_name == NULL)
			return -ENOMEM;
	} else if (file) {
		rc = wfs_listing_add(out, file, flen, WFS_SIZE_UNKNOWN, NULL);
	} else {
		/* No listing over plain HTTP: ask for the index. */
		char *url = wfs_listing_url(out, INDEX_NAME);
		if (url == NULL)
			return -ENOMEM;
		struct wfs_req q;
		get_document(r, &q, url, INDEX_NAME, 1u << 30);
		free(url);
		if (q.rc == 0) {
			wfs_req_reset(&q);
			out->index_name = strdup(INDEX_NAME);
			out->index_text = (char *)q.buf;
			out->index_len = q.len;
			if (out->index_name == NULL)
				return -ENOMEM;
		} else if (q.rc == -ENOENT) {
			free(q.buf);
			wfs_req_reset(&q);
			rc = wfs_listing_add(out, "model.safetensors", 17, WFS_SIZE_UNKNOWN, NULL);
		} else {
			return req_failed(source, INDEX_NAME, &q, NULL, err);
		}
	}
	/* -o files=a.json,b.json */
	const char *p = ro->files;
	while (rc == 0 && p && *p) {
		size_t n = strcspn(p, ",");
		char name[4096];
		snprintf(name, sizeof(name), "%.*s", (int)(n < sizeof(name) ? n : sizeof(name) - 1), p);
		wfs_trim(name);
		bool seen = false;
		for (size_t i = 0; i < out->n && !seen; i++)
			seen = strcmp(out->files[i].path, name) == 0;
		if (*name && !seen) {
			if (!wfs_shard_path_ok(name, strlen(name))) {
				char q2[WFS_QUOTE_MAX];
				wfs_error_add(err, "files=%s: not a relative path inside the model directory",
					      wfs_quote(name, strlen(name), q2));
				return -EINVAL;
			}
			rc = wfs_listing_add(out, name, strlen(name), WFS_SIZE_UNKNOWN, NULL);
		}
		p += n;
		if (*p == ',')
			p++;
	}
	return rc == -E2BIG ? 0 : rc;
}

int wfs_discover(struct wfs_remote *r, const struct wfs_source *src, const char *source,
		 const struct wfs_remote_options *ro, struct wfs_listing *out, struct wfs_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc;
	switch (src->kind) {
	case WFS_SRC_HF:
		rc = discover_hf(r, src, source, out, err);
		break;
	case WFS_SRC_S3:
		rc = discover_s3(r, src, source, out, err);
		break;
	default:
		rc = discover_http(r, src, source, ro, out, err);
		break;
	}
	if (rc == 0 && ro->files && *ro->files && src->kind != WFS_SRC_HTTP)
		wfs_warnf(&r->http.warn, "%s: files= is only for http(s) sources; every file is shown already", source);
	if (rc == 0 && out->complete && out->index_name == NULL) {
		for (size_t i = 0; i < out->n; i++)
			if (strcmp(out->files[i].path, INDEX_NAME) == 0) {
				out->index_name = strdup(INDEX_NAME);
				if (out->index_name == NULL)
					rc = -ENOMEM;
				break;
			}
	}
	return rc;
}
