/**
 * @file remote_http.c
 * The HTTP transport of remote models: libcurl multi, retries, redirects,
 * and the checks that keep wrong bytes out.
 *
 * A request is one logical GET (optionally of a byte range). wfs_http_run
 * drives any number of them on one multi handle with bounded concurrency:
 * connection errors, timeouts, 408, 429 (Retry-After honoured) and 5xx are
 * retried with exponential backoff and jitter; a short body or a
 * Content-Range that is not the one asked for is retried too. A size or
 * ETag different from the file's is final (-ESTALE): the file changed.
 *
 * Redirects are followed here, not by curl, so credentials (the Hub's
 * bearer token, the S3 signature) are attached only while the request's
 * URL is on the origin they were given for: a redirect to a CDN drops them.
 * Tokens are never logged, and URLs are logged without their query (a
 * presigned URL's query is a credential).
 *
 * Connections: a pool of contexts, each a multi handle with its easy
 * handles (whose live connections curl keeps in the multi's cache). A
 * thread takes a context for one wfs_http_run and gives it back, so
 * connections are reused across reads without sharing a handle between
 * threads.
 */
#include <curl/curl.h>
#include <stdarg.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "remote.h"

#define MAX_REDIRECTS 10
#define MAX_RETRY_AFTER_MS 60000LL
/* A request still retrying this long after its first attempt is reported
 * through warn (stderr in the foreground): which URL, what failed. */
#define RETRY_NOTICE_MS 2000LL

struct wfs_conn {
	CURLM *multi;
	CURL **easy;
	bool *busy;
	size_t neasy, cap;
	struct wfs_conn *next;
};

static pthread_once_t global_once = PTHREAD_ONCE_INIT;
static CURLcode global_rc;

static void global_init(void)
{
	global_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static long long now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

int wfs_http_init(struct wfs_http *h, const struct wfs_warn *warn, bool verbose, struct wfs_counters *stats)
{
	memset(h, 0, sizeof(*h));
	pthread_once(&global_once, global_init);
	if (global_rc != CURLE_OK)
		return -ENOMEM;
	if (warn)
		h->warn = *warn;
	h->verbose = verbose;
	h->stats = stats;
	h->max_attempts = 6;
	h->base_delay_ms = 100;
	h->max_delay_ms = 5000;
	pthread_mutex_init(&h->lock, NULL);
	atomic_store(&h->first_byte_us, INT64_MAX);
	return 0;
}

static void conn_free(struct wfs_conn *c)
{
	for (size_t i = 0; i < c->neasy; i++)
		curl_easy_cleanup(c->easy[i]);
	curl_multi_cleanup(c->multi);
	free(c->easy);
	free(c->busy);
	free(c);
}

static void secret_free(char *s)
{
	if (s) {
		explicit_bzero(s, strlen(s));
		free(s);
	}
}

void wfs_http_release(struct wfs_http *h)
{
	struct wfs_conn *c = h->pool;
	while (c) {
		struct wfs_conn *next = c->next;
		conn_free(c);
		c = next;
	}
	h->pool = NULL;
	secret_free(h->bearer);
	secret_free(h->aws_key);
	secret_free(h->aws_secret);
	secret_free(h->aws_token_header);
	free(h->sigv4);
	pthread_mutex_destroy(&h->lock);
}

int wfs_http_set_bearer(struct wfs_http *h, const char *origin_url, const char *token)
{
	if (wfs_url_origin(origin_url, h->origin, sizeof(h->origin)) < 0)
		return -EINVAL;
	size_t n = strlen(token) + 32;
	h->bearer = malloc(n);
	if (h->bearer == NULL)
		return -ENOMEM;
	snprintf(h->bearer, n, "Authorization: Bearer %s", token);
	h->auth = WFS_AUTH_BEARER;
	return 0;
}

int wfs_http_set_sigv4(struct wfs_http *h, const char *origin_url, const char *region,
		       const char *key, const char *secret, const char *token)
{
	if (wfs_url_origin(origin_url, h->origin, sizeof(h->origin)) < 0)
		return -EINVAL;
	size_t n = strlen(region) + 32;
	h->sigv4 = malloc(n);
	h->aws_key = strdup(key);
	h->aws_secret = strdup(secret);
	if (token && *token) {
		size_t t = strlen(token) + 32;
		if ((h->aws_token_header = malloc(t)) != NULL)
			snprintf(h->aws_token_header, t, "x-amz-security-token: %s", token);
	}
	if (h->sigv4 == NULL || h->aws_key == NULL || h->aws_secret == NULL ||
	    (token && *token && h->aws_token_header == NULL))
		return -ENOMEM;
	snprintf(h->sigv4, n, "aws:amz:%s:s3", region);
	h->auth = WFS_AUTH_SIGV4;
	return 0;
}

static struct wfs_conn *conn_acquire(struct wfs_http *h)
{
	pthread_mutex_lock(&h->lock);
	struct wfs_conn *c = h->pool;
	if (c)
		h->pool = c->next;
	pthread_mutex_unlock(&h->lock);
	if (c)
		return c;
	c = calloc(1, sizeof(*c));
	if (c == NULL || (c->multi = curl_multi_init()) == NULL) {
		free(c);
		return NULL;
	}
	curl_multi_setopt(c->multi, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
	return c;
}

static void conn_release(struct wfs_http *h, struct wfs_conn *c)
{
	pthread_mutex_lock(&h->lock);
	c->next = h->pool;
	h->pool = c;
	pthread_mutex_unlock(&h->lock);
}

static CURL *conn_easy(struct wfs_conn *c)
{
	for (size_t i = 0; i < c->neasy; i++)
		if (!c->busy[i]) {
			c->busy[i] = true;
			curl_easy_reset(c->easy[i]);
			return c->easy[i];
		}
	if (c->neasy == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 4;
		CURL **e = realloc(c->easy, cap * sizeof(*e));
		if (e == NULL)
			return NULL;
		c->easy = e;
		bool *b = realloc(c->busy, cap * sizeof(*b));
		if (b == NULL)
			return NULL;
		c->busy = b;
		c->cap = cap;
	}
	CURL *e = curl_easy_init();
	if (e == NULL)
		return NULL;
	c->easy[c->neasy] = e;
	c->busy[c->neasy++] = true;
	return e;
}

static void conn_easy_done(struct wfs_conn *c, CURL *e)
{
	for (size_t i = 0; i < c->neasy; i++)
		if (c->easy[i] == e)
			c->busy[i] = false;
}

static void logf_(struct wfs_http *h, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void logf_(struct wfs_http *h, const char *fmt, ...)
{
	if (h->warn.fn == NULL)
		return;
	char msg[1024];
	va_list ap;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	h->warn.fn(h->warn.ctx, msg);
}

/* ---- callbacks --------------------------------------------------------- */

static size_t on_header(char *data, size_t size, size_t nmemb, void *ud)
{
	struct wfs_req *r = ud;
	size_t n = size * nmemb;
	char line[512];
	size_t k = n < sizeof(line) - 1 ? n : sizeof(line) - 1;
	memcpy(line, data, k);
	line[k] = '\0';
	wfs_trim(line);
	if (strncmp(line, "HTTP/", 5) == 0) {
		/* A new response (after 100 Continue): forget the previous headers. */
		r->has_content_range = r->unsatisfied = false;
		r->resp_etag[0] = '\0';
		r->retry_after_ms = -1;
		r->total = WFS_SIZE_UNKNOWN;
		return n;
	}
	char *colon = strchr(line, ':');
	if (colon == NULL)
		return n;
	*colon = '\0';
	char *value = wfs_trim(colon + 1);
	if (strcasecmp(line, "content-range") == 0) {
		uint64_t a, b, t;
		if (wfs_parse_content_range(value, &a, &b, &t) == 0) {
			r->has_content_range = true;
			r->resp_first = a;
			r->resp_last = b;
			r->total = t;
		} else if (wfs_parse_unsatisfied_range(value, &t) == 0) {
			r->unsatisfied = true;
			r->total = t;
		} else {
			r->has_content_range = true; /* present but malformed: fails the checks */
			r->resp_first = UINT64_MAX;
			r->resp_last = 0;
		}
	} else if (strcasecmp(line, "etag") == 0) {
		snprintf(r->resp_etag, sizeof(r->resp_etag), "%s", value);
	} else if (strcasecmp(line, "retry-after") == 0) {
		r->retry_after_ms = wfs_parse_retry_after(value, time(NULL));
	}
	return n;
}

/* Copies @p n body bytes to where byte r->len of the body goes in r->iov (r->len + n <= r->cap). */
static void scatter(struct wfs_req *r, const char *data, size_t n)
{
	size_t i = 0, skip = r->len;
	while (skip >= r->iov[i].iov_len) {
		skip -= r->iov[i].iov_len;
		i++;
	}
	while (n > 0) {
		size_t k = r->iov[i].iov_len - skip < n ? r->iov[i].iov_len - skip : n;
		memcpy((char *)r->iov[i].iov_base + skip, data, k);
		data += k;
		n -= k;
		skip = 0;
		i++;
	}
}

static size_t on_body(char *data, size_t size, size_t nmemb, void *ud)
{
	struct wfs_req *r = ud;
	size_t n = size * nmemb;
	if (!r->status_known) {
		long code = 0;
		curl_easy_getinfo((CURL *)r->easy, CURLINFO_RESPONSE_CODE, &code);
		r->status_known = true;
		r->body_ok = code == 200 || code == 206;
	}
	if (!r->body_ok) {
		size_t k = sizeof(r->errbody) - 1 - r->errlen;
		k = n < k ? n : k;
		memcpy(r->errbody + r->errlen, data, k);
		r->errlen += k;
		r->errbody[r->errlen] = '\0';
		return n;
	}
	if (n > r->cap - r->len) {
		if (!r->grow || n > r->limit - r->len) {
			r->overflow = true;
			return 0; /* aborts the transfer */
		}
		size_t want = r->cap ? r->cap : 65536;
		while (want - r->len < n)
			want = want > r->limit / 2 ? r->limit : want * 2;
		uint8_t *p = realloc(r->buf, want);
		if (p == NULL) {
			r->overflow = true;
			return 0;
		}
		r->buf = p;
		r->cap = want;
	}
	if (r->iov != NULL)
		scatter(r, data, n);
	else
		memcpy(r->buf + r->len, data, n);
	r->len += n;
	return n;
}

/* ---- one attempt --------------------------------------------------------- */

static bool same_origin(const struct wfs_http *h, const char *url)
{
	char o[512];
	return h->auth != WFS_AUTH_NONE && wfs_url_origin(url, o, sizeof(o)) == 0 && strcmp(o, h->origin) == 0;
}

static int start(struct wfs_http *h, struct wfs_conn *c, struct wfs_req *r)
{
	CURL *e = conn_easy(c);
	if (e == NULL)
		return -ENOMEM;
	r->easy = e;
	r->len = 0;
	r->status = 0;
	r->status_known = r->body_ok = r->overflow = false;
	r->has_content_range = r->unsatisfied = false;
	r->resp_etag[0] = '\0';
	r->retry_after_ms = -1;
	r->total = WFS_SIZE_UNKNOWN;
	r->errlen = 0;
	r->errbody[0] = '\0';
	r->started = now_ms();

	curl_easy_setopt(e, CURLOPT_URL, r->cur_url);
	curl_easy_setopt(e, CURLOPT_PRIVATE, r);
	curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L);
	curl_easy_setopt(e, CURLOPT_UNRESTRICTED_AUTH, 0L);
	curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(e, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(e, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2TLS);
	curl_easy_setopt(e, CURLOPT_PIPEWAIT, 1L);
	curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(e, CURLOPT_LOW_SPEED_TIME, 30L);
	curl_easy_setopt(e, CURLOPT_TCP_KEEPALIVE, 1L);
	curl_easy_setopt(e, CURLOPT_BUFFERSIZE, 1024L * 1024);
	curl_easy_setopt(e, CURLOPT_FILETIME, 1L);
	curl_easy_setopt(e, CURLOPT_USERAGENT, "weightfs/" WEIGHTFS_VERSION);
	curl_easy_setopt(e, CURLOPT_HEADERFUNCTION, on_header);
	curl_easy_setopt(e, CURLOPT_HEADERDATA, r);
	curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(e, CURLOPT_WRITEDATA, r);
	char range[64];
	if (r->has_range) {
		snprintf(range, sizeof(range), "%" PRIu64 "-%" PRIu64, r->first, r->last);
		curl_easy_setopt(e, CURLOPT_RANGE, range);
	}
	struct curl_slist *hdr = NULL, *t;
	bool ok = true;
#define ADD(line) ok = ok && (t = curl_slist_append(hdr, (line))) != NULL && (hdr = t, true)
	ADD("Accept-Encoding: identity");
	if (same_origin(h, r->cur_url)) {
		if (h->auth == WFS_AUTH_BEARER) {
			ADD(h->bearer);
		} else if (h->auth == WFS_AUTH_SIGV4) {
			/* S3 wants the payload hash; curl signs with that of the empty body. */
			ADD("x-amz-content-sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
			if (h->aws_token_header)
				ADD(h->aws_token_header);
			curl_easy_setopt(e, CURLOPT_AWS_SIGV4, h->sigv4);
			curl_easy_setopt(e, CURLOPT_USERNAME, h->aws_key);
			curl_easy_setopt(e, CURLOPT_PASSWORD, h->aws_secret);
		}
	}
#undef ADD
	if (!ok) {
		curl_slist_free_all(hdr);
		conn_easy_done(c, e);
		r->easy = NULL;
		return -ENOMEM;
	}
	curl_easy_setopt(e, CURLOPT_HTTPHEADER, hdr);
	r->headers = hdr;
	if (curl_multi_add_handle(c->multi, e) != CURLM_OK) {
		curl_slist_free_all(hdr);
		r->headers = NULL;
		conn_easy_done(c, e);
		r->easy = NULL;
		return -ENOMEM;
	}
	r->running = true;
	atomic_fetch_add(&h->stats->requests, 1);
	return 0;
}

static bool retryable_curl(CURLcode rc)
{
	switch (rc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
	case CURLE_OPERATION_TIMEDOUT:
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_PARTIAL_FILE:
	case CURLE_GOT_NOTHING:
	case CURLE_HTTP2:
	case CURLE_HTTP2_STREAM:
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_WEIRD_SERVER_REPLY:
	case CURLE_HTTP3:
		return true;
	default:
		return false;
	}
}

enum outcome { DONE_OK, RETRY, REDIRECT, FAIL };

/* Judges a finished attempt. Sets r->rc and r->why for failures. */
static enum outcome judge(struct wfs_http *h, struct wfs_req *r, CURLcode cc)
{
	CURL *e = r->easy;
	curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &r->status);
	curl_off_t ft = -1;
	curl_easy_getinfo(e, CURLINFO_FILETIME_T, &ft);
	r->mtime = (time_t)ft;
	atomic_fetch_add(&h->stats->bytes, r->body_ok ? r->len : r->errlen);

	if (cc != CURLE_OK && !(cc == CURLE_WRITE_ERROR && r->overflow)) {
		snprintf(r->why, sizeof(r->why), "%s", curl_easy_strerror(cc));
		r->rc = cc == CURLE_OPERATION_TIMEDOUT ? -ETIMEDOUT : -EIO;
		return retryable_curl(cc) ? RETRY : FAIL;
	}
	long s = r->status;
	if (s >= 300 && s < 400) {
		char *loc = NULL;
		curl_easy_getinfo(e, CURLINFO_REDIRECT_URL, &loc);
		if (loc == NULL || r->redirects >= MAX_REDIRECTS) {
			snprintf(r->why, sizeof(r->why), "HTTP %ld %s", s, loc ? "(too many redirects)" : "without a Location");
			r->rc = -EIO;
			return FAIL;
		}
		char *next = strdup(loc);
		if (next == NULL) {
			r->rc = -ENOMEM;
			return FAIL;
		}
		free(r->cur_url);
		r->cur_url = next;
		r->redirects++;
		atomic_fetch_add(&h->stats->redirects, 1);
		return REDIRECT;
	}
	if (s == 408 || s == 429 || s >= 500) {
		snprintf(r->why, sizeof(r->why), "HTTP %ld", s);
		r->rc = -EIO;
		return RETRY;
	}
	if (s == 404 || s == 410) {
		snprintf(r->why, sizeof(r->why), "HTTP %ld (not found)", s);
		r->rc = -ENOENT;
		return FAIL;
	}
	if (s == 401 || s == 403) {
		snprintf(r->why, sizeof(r->why), "HTTP %ld (%s)", s, s == 401 ? "unauthorized" : "forbidden");
		r->rc = -EACCES;
		return FAIL;
	}
	if (s == 416 && r->has_range && r->unsatisfied && r->first == 0 && r->total == 0 &&
	    (r->known_size == WFS_SIZE_UNKNOWN || r->known_size == 0)) {
		r->len = 0; /* an empty file */
		r->rc = 0;
		return DONE_OK;
	}
	if (s != 200 && s != 206) {
		snprintf(r->why, sizeof(r->why), "HTTP %ld", s);
		r->rc = -EIO;
		return FAIL;
	}
	/* A file that changed under us: never retried into a mix of versions. */
	if (r->etag && r->etag[0] && r->resp_etag[0] && strcmp(r->etag, r->resp_etag) != 0) {
		snprintf(r->why, sizeof(r->why), "the ETag changed from %s to %s: the file was replaced",
			 r->etag, r->resp_etag);
		r->rc = -ESTALE;
		return FAIL;
	}
	if (!r->has_range) {
		if (s != 200 || r->overflow) {
			snprintf(r->why, sizeof(r->why), r->overflow ? "the body is larger than %zu bytes"
								  : "HTTP %ld to a plain GET", r->overflow ? r->limit : (size_t)s);
			r->rc = r->overflow ? -EFBIG : -EIO;
			return r->overflow ? FAIL : RETRY;
		}
		r->total = r->len;
		r->rc = 0;
		return DONE_OK;
	}
	uint64_t want = r->last - r->first + 1;
	if (s == 200) {
		/* The server ignored the range: the body is the whole file. */
		if (r->overflow || r->first != 0) {
			snprintf(r->why, sizeof(r->why), "the server ignored the Range request (HTTP 200)");
			r->rc = -EIO;
			return FAIL;
		}
		if (r->known_size != WFS_SIZE_UNKNOWN && r->len != r->known_size) {
			snprintf(r->why, sizeof(r->why), "HTTP 200 with %zu bytes, not the file's %" PRIu64,
				 r->len, r->known_size);
			r->rc = -EIO;
			return RETRY;
		}
		r->total = r->len;
		r->rc = 0;
		return DONE_OK;
	}
	if (!r->has_content_range) {
		snprintf(r->why, sizeof(r->why), "HTTP 206 without a valid Content-Range");
		r->rc = -EIO;
		return RETRY;
	}
	if (r->total != WFS_SIZE_UNKNOWN && r->known_size != WFS_SIZE_UNKNOWN && r->total != r->known_size) {
		snprintf(r->why, sizeof(r->why), "the file is now %" PRIu64 " bytes, not %" PRIu64 ": it was replaced",
			 r->total, r->known_size);
		r->rc = -ESTALE;
		return FAIL;
	}
	uint64_t expect_last = r->last;
	if (r->known_size == WFS_SIZE_UNKNOWN && r->total != WFS_SIZE_UNKNOWN && r->total <= r->last)
		expect_last = r->total - 1; /* a probe past the end of a file of unknown size */
	if (r->resp_first != r->first || r->resp_last != expect_last || r->overflow) {
		snprintf(r->why, sizeof(r->why), "asked for bytes %" PRIu64 "-%" PRIu64 ", got Content-Range %" PRIu64
			 "-%" PRIu64, r->first, r->last, r->resp_first, r->resp_last);
		r->rc = -EIO;
		return RETRY;
	}
	want = expect_last - r->first + 1;
	if (r->len != want) {
		snprintf(r->why, sizeof(r->why), "short body: %zu of %" PRIu64 " bytes", r->len, want);
		r->rc = -EIO;
		return RETRY;
	}
	r->rc = 0;
	return DONE_OK;
}

static long long backoff_ms(struct wfs_http *h, struct wfs_req *r)
{
	if (r->retry_after_ms >= 0)
		return r->retry_after_ms > MAX_RETRY_AFTER_MS ? MAX_RETRY_AFTER_MS : r->retry_after_ms;
	long long d = h->base_delay_ms;
	for (int i = 1; i < r->attempt && d < h->max_delay_ms; i++)
		d *= 2;
	if (d > h->max_delay_ms)
		d = h->max_delay_ms;
	/* Jitter: somewhere in [d/2, 3d/2). */
	unsigned seed = (unsigned)(now_ms() ^ (uintptr_t)r);
	return d / 2 + (long long)(rand_r(&seed) % (int)(d > 0 ? d : 1));
}

#define NEAR_US 1000

/* Notes how soon the first byte of an answer came (see wfs_http_near). */
static void note_first_byte(struct wfs_http *h, CURL *e)
{
	curl_off_t pre, start;
	if (curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pre) != CURLE_OK ||
	    curl_easy_getinfo(e, CURLINFO_STARTTRANSFER_TIME_T, &start) != CURLE_OK || start < pre)
		return;
	int64_t us = (int64_t)(start - pre), seen = atomic_load(&h->first_byte_us);
	while (us < seen && !atomic_compare_exchange_weak(&h->first_byte_us, &seen, us))
		;
}

bool wfs_http_near(const struct wfs_http *h)
{
	return atomic_load(&h->first_byte_us) < NEAR_US;
}

static void finish(struct wfs_http *h, struct wfs_conn *c, struct wfs_req *r, CURLcode cc)
{
	curl_multi_remove_handle(c->multi, (CURL *)r->easy);
	enum outcome o = judge(h, r, cc);
	if (o == DONE_OK)
		note_first_byte(h, (CURL *)r->easy);
	char u[600];
	if (h->verbose) {
		wfs_url_for_log(r->cur_url, u, sizeof(u));
		char range[64] = "";
		if (r->has_range)
			snprintf(range, sizeof(range), " bytes=%" PRIu64 "-%" PRIu64, r->first, r->last);
		logf_(h, "remote: GET %s%s -> %ld, %zu bytes, %lld ms%s%s", u, range, r->status,
		      r->body_ok ? r->len : r->errlen, now_ms() - r->started,
		      o == DONE_OK || o == REDIRECT ? "" : ": ", o == DONE_OK || o == REDIRECT ? "" : r->why);
	}
	conn_easy_done(c, (CURL *)r->easy);
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	r->easy = NULL;
	r->running = false;
	if (o == REDIRECT) {
		r->next_at = 0;
		return;
	}
	if (o == RETRY && r->attempt < h->max_attempts) {
		long long d = backoff_ms(h, r);
		r->attempt++;
		r->next_at = now_ms() + d;
		atomic_fetch_add(&h->stats->retries, 1);
		if (h->verbose)
			logf_(h, "remote: %s: %s; retry %d of %d in %lld ms", r->what ? r->what : u, r->why,
			      r->attempt - 1, h->max_attempts - 1, d);
		return;
	}
	r->done = true;
	if (r->told && r->rc == 0) {
		wfs_url_for_log(r->cur_url, u, sizeof(u));
		logf_(h, "remote: %s: answered after %d attempts", u, r->attempt);
	}
	if (r->rc < 0) {
		atomic_fetch_add(&h->stats->errors, 1);
		if (h->verbose) {
			wfs_url_for_log(r->cur_url, u, sizeof(u));
			logf_(h, "remote: %s: failed after %d attempt%s: %s", r->what ? r->what : u, r->attempt,
			      r->attempt == 1 ? "" : "s", r->why);
		}
	}
}

/*
 * Says which requests have been retrying for RETRY_NOTICE_MS (once each):
 * a mount waiting on a failing server is not silent until it gives up.
 * The URL is shown without its query (no signature or token).
 */
static void tell_retrying(struct wfs_http *h, struct wfs_req *reqs, size_t n, long long now)
{
	for (size_t i = 0; i < n; i++) {
		struct wfs_req *r = &reqs[i];
		if (r->done || r->told || r->attempt < 2 || now - r->first_at < RETRY_NOTICE_MS)
			continue;
		r->told = true;
		char u[600];
		wfs_url_for_log(r->cur_url, u, sizeof(u));
		logf_(h, "remote: %s: %s for %lld s; still retrying (attempt %d of %d)", u,
		      r->why[0] ? r->why : "failing", (now - r->first_at) / 1000, r->attempt, h->max_attempts);
	}
}

void wfs_req_reset(struct wfs_req *r)
{
	free(r->cur_url);
	r->cur_url = NULL;
}

void wfs_http_run(struct wfs_http *h, struct wfs_req *reqs, size_t n, size_t parallel)
{
	if (parallel == 0)
		parallel = 1;
	struct wfs_conn *c = conn_acquire(h);
	size_t done = 0, running = 0;
	for (size_t i = 0; i < n; i++) {
		struct wfs_req *r = &reqs[i];
		r->cur_url = c ? strdup(r->url) : NULL;
		r->attempt = 1;
		r->redirects = 0;
		r->next_at = 0;
		r->done = r->running = false;
		r->rc = 0;
		r->why[0] = '\0';
		r->mtime = -1;
		r->total = WFS_SIZE_UNKNOWN;
		r->first_at = now_ms();
		r->told = false;
		if (r->cur_url == NULL) {
			r->rc = -ENOMEM;
			snprintf(r->why, sizeof(r->why), "out of memory");
			r->done = true;
			done++;
		}
	}
	while (done < n) {
		long long now = now_ms(), wake = now + 1000;
		tell_retrying(h, reqs, n, now);
		/* Start what is due, oldest first, up to the bound. */
		for (size_t k = 0; k < n && running < parallel; k++) {
			struct wfs_req *r = &reqs[k];
			if (r->done || r->running)
				continue;
			if (r->next_at > now) {
				if (r->next_at < wake)
					wake = r->next_at;
				continue;
			}
			int rc = start(h, c, r);
			if (rc < 0) {
				r->rc = rc;
				snprintf(r->why, sizeof(r->why), "%s", strerror(-rc));
				r->done = true;
				done++;
				continue;
			}
			running++;
		}
		if (running == 0) {
			if (done < n && wake > now) {
				struct timespec ts = {(time_t)((wake - now) / 1000), (long)((wake - now) % 1000) * 1000000};
				nanosleep(&ts, NULL);
			}
			continue;
		}
		int still = 0;
		curl_multi_perform(c->multi, &still);
		CURLMsg *msg;
		int left;
		while ((msg = curl_multi_info_read(c->multi, &left)) != NULL) {
			if (msg->msg != CURLMSG_DONE)
				continue;
			struct wfs_req *r = NULL;
			curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, (char **)&r);
			running--;
			finish(h, c, r, msg->data.result);
			if (r->done)
				done++;
		}
		if (done < n && running > 0) {
			long long t = wake - now_ms();
			curl_multi_poll(c->multi, NULL, 0, t < 0 ? 0 : t > 1000 ? 1000 : (int)t, NULL);
		}
	}
	if (c)
		conn_release(h, c);
}

const char *wfs_req_error(const struct wfs_req *r, char *out, size_t cap)
{
	/* S3 and the Hub explain themselves in the body: show the gist. */
	char *code = wfs_xml_text(r->errbody, r->errlen, "Code");
	char *msg = wfs_xml_text(r->errbody, r->errlen, "Message");
	char detail[400] = "";
	if (code || msg) {
		snprintf(detail, sizeof(detail), ": %s%s%s", code ? code : "", code && msg ? ": " : "", msg ? msg : "");
	} else if (r->errlen && r->errbody[0] == '{') {
		const char *e = strstr(r->errbody, "\"error\"");
		if (e) {
			const char *q = strchr(e + 7, '"');
			const char *q2 = q ? strchr(q + 1, '"') : NULL;
			if (q && q2 && q2 - q < 300)
				snprintf(detail, sizeof(detail), ": %.*s", (int)(q2 - q - 1), q + 1);
		}
	}
	free(code);
	free(msg);
	snprintf(out, cap, "%s%s", r->why[0] ? r->why : strerror(r->rc < 0 ? -r->rc : EIO), detail);
	return out;
}
