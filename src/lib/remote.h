/**
 * @file remote.h
 * Remote models, shared between the remote*.c files; not installed.
 *
 *   remote_url.c      SOURCE parsing, URL building and percent-encoding,
 *                     origins, small text parsers (Content-Range, Retry-After,
 *                     S3 listing XML)
 *   remote_http.c     the HTTP transport: curl multi, retries with backoff,
 *                     manual redirects, status / Content-Range / ETag checks
 *   remote_discover.c what files a source has: Hub model API, S3 ListObjectsV2,
 *                     or probing a plain base URL
 *   remote_cache.c    the chunk cache (memory + disk) and readahead
 *   remote_model.c    assembling the model: index, headers, extras; the
 *                     wfs_remote_* entry points of internal.h
 */
#ifndef WEIGHTFS_REMOTE_H
#define WEIGHTFS_REMOTE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>
#include <time.h>

#include "internal.h"

#define WFS_REMOTE_DEFAULT_CHUNK (4u << 20)
#define WFS_REMOTE_DEFAULT_CACHE (256u << 20)
#define WFS_REMOTE_MIN_CHUNK (4u << 10)
#define WFS_REMOTE_MAX_CHUNK (1u << 30)
#define WFS_SIZE_UNKNOWN UINT64_MAX

/* ---- SOURCE and URLs (remote_url.c) ------------------------------------ */

enum wfs_src_kind { WFS_SRC_HTTP, WFS_SRC_HF, WFS_SRC_S3 };

struct wfs_source {
	enum wfs_src_kind kind;
	/* http: the base URL, ending in '/'; file: the file named by the URL
	 * (a .safetensors or an index .json), else NULL. */
	char *base;
	char *file;
	/* hf: repo "org/name" (or "name"), revision (default "main"). */
	char *repo;
	char *revision;
	/* s3: bucket and key prefix ("" or ending in '/'). */
	char *bucket;
	char *prefix;
};

/** Parses a remote SOURCE. 0, or -EINVAL with a message in @p err. */
int wfs_source_parse(const char *source, struct wfs_source *out, struct wfs_error *err);
void wfs_source_release(struct wfs_source *s);

/**
 * Appends @p s to @p out percent-encoding every byte but the unreserved
 * ones (A-Z a-z 0-9 - . _ ~) and, when @p keep_slash, '/'. Uppercase hex,
 * as AWS SigV4 canonical requests need. Returns the new string (malloc) or NULL.
 */
char *wfs_url_encode(const char *prefix, const char *s, bool keep_slash);

/** "scheme://host[:port]" of @p url, lowercased, default ports removed; 0 or -EINVAL. */
int wfs_url_origin(const char *url, char *out, size_t cap);

/** Copies @p url without its query string (for messages: presigned URLs hold credentials). */
void wfs_url_for_log(const char *url, char *out, size_t cap);

/** Parses "bytes FIRST-LAST/TOTAL" (TOTAL may be "*": WFS_SIZE_UNKNOWN). 0 or -EINVAL. */
int wfs_parse_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total);

/** Parses "bytes * /TOTAL" of a 416 answer. 0 or -EINVAL. */
int wfs_parse_unsatisfied_range(const char *v, uint64_t *total);

/** Retry-After as delta-seconds or an HTTP date, in ms from @p now; -1 if unparsable. */
long long wfs_parse_retry_after(const char *v, time_t now);

/** One object of an S3 ListObjectsV2 answer. */
struct wfs_s3_object {
	char *key;
	uint64_t size;
	char *etag;
};

struct wfs_s3_page {
	struct wfs_s3_object *objects;
	size_t nobjects, cap;
	bool truncated;
	char *next_token;
};

/** Parses one ListObjectsV2 page (appending to @p page). 0, -EINVAL or -ENOMEM. */
int wfs_s3_parse_list(const char *xml, size_t len, struct wfs_s3_page *page);
void wfs_s3_page_release(struct wfs_s3_page *page);

/** The text of the first <Tag>...</Tag> in @p xml, entity-decoded (malloc), or NULL. */
char *wfs_xml_text(const char *xml, size_t len, const char *tag);

/** Trims ASCII whitespace at both ends in place; returns s. */
char *wfs_trim(char *s);

uint64_t wfs_fnv1a64(const void *data, size_t len);

/* ---- counters ------------------------------------------------------------ */

struct wfs_counters {
	atomic_ullong requests;    /**< HTTP requests sent (every attempt) */
	atomic_ullong bytes;       /**< body bytes received */
	atomic_ullong retries;     /**< attempts repeated after a failure */
	atomic_ullong redirects;
	atomic_ullong errors;      /**< requests that finally failed, reads that returned EIO */
	atomic_ullong cache_hits;  /**< chunks found in memory */
	atomic_ullong disk_hits;   /**< chunks found in the disk cache */
	atomic_ullong fetches;     /**< chunks fetched over the network */
	atomic_ullong readahead;   /**< of those, fetched ahead of the reader */
	atomic_ullong waits;       /**< reads that waited for a chunk already in flight */
};

/* ---- HTTP transport (remote_http.c) ------------------------------------ */

enum wfs_auth { WFS_AUTH_NONE, WFS_AUTH_BEARER, WFS_AUTH_SIGV4 };

struct wfs_conn;

struct wfs_http {
	enum wfs_auth auth;
	char origin[512];      /**< credentials go only to this origin */
	char *bearer;          /**< "Authorization: Bearer ..." (never logged) */
	char *aws_key, *aws_secret, *aws_token_header, *sigv4;
	struct wfs_warn warn;
	bool verbose;
	int max_attempts;
	long base_delay_ms;
	long max_delay_ms;
	struct wfs_counters *stats;
	pthread_mutex_t lock;  /**< guards the pool of connections */
	struct wfs_conn *pool;
	/** The shortest wait for a first byte seen, in microseconds (INT64_MAX: none yet). */
	_Atomic int64_t first_byte_us;
};

/**
 * Whether the server is near: an answer's first byte has come less than
 * 1 ms after its request was sent (the minimum over all answers, which
 * is what the network allows; more requests at once only make answers
 * slower). Then a round trip costs less than moving a chunk, and the
 * chunk cache reads ahead less (remote_cache.c).
 */
bool wfs_http_near(const struct wfs_http *h);

/** One request. Fill the inputs, run it with wfs_http_run, read the outputs. */
struct wfs_req {
	/* inputs */
	const char *url;
	bool has_range;
	uint64_t first, last;       /**< inclusive byte range */
	uint64_t known_size;        /**< the file's size, or WFS_SIZE_UNKNOWN */
	const char *etag;           /**< the file's ETag, checked when both are known */
	uint8_t *buf;               /**< body destination (not owned when !grow) */
	size_t cap;
	const struct iovec *iov;    /**< or: the body scattered over these pieces in order (cap: their sum) */
	bool grow;                  /**< buf grows with malloc up to limit; caller frees */
	size_t limit;
	const char *what;           /**< names the request in messages */
	/* outputs */
	size_t len;                 /**< body bytes in buf */
	long status;
	uint64_t total;             /**< file size from Content-Range, or WFS_SIZE_UNKNOWN */
	char resp_etag[160];
	time_t mtime;               /**< Last-Modified, or -1 */
	int rc;                     /**< 0, or -ENOENT, -EACCES, -ESTALE (changed), -EIO... */
	char why[320];              /**< what went wrong, for messages */
	/* internal */
	char *cur_url;
	int attempt, redirects;
	long long next_at;
	bool running, done, overflow, body_ok, status_known;
	uint64_t resp_first, resp_last;
	bool has_content_range, unsatisfied;
	long long retry_after_ms;
	char errbody[512];
	size_t errlen;
	long long started;
	long long first_at;         /**< when the first attempt was due (monotonic ms) */
	bool told;                  /**< "still retrying" was said (after RETRY_NOTICE_MS) */
	void *easy;
	void *headers;
};

int wfs_http_init(struct wfs_http *h, const struct wfs_warn *warn, bool verbose, struct wfs_counters *stats);
void wfs_http_release(struct wfs_http *h);

/** Sends the bearer token (HF) to @p origin_url's origin only. */
int wfs_http_set_bearer(struct wfs_http *h, const char *origin_url, const char *token);
/** Signs requests to @p origin_url's origin with AWS SigV4. */
int wfs_http_set_sigv4(struct wfs_http *h, const char *origin_url, const char *region,
		       const char *key, const char *secret, const char *token);

/**
 * Runs @p n requests, at most @p parallel at once, each with its retries
 * and redirects. Returns when all are done; each has its own rc.
 */
void wfs_http_run(struct wfs_http *h, struct wfs_req *reqs, size_t n, size_t parallel);

/** Frees what wfs_http_run left in @p r (a grown buffer is the caller's). */
void wfs_req_reset(struct wfs_req *r);

/** A short description of a failed request, including an S3 or Hub error text. */
const char *wfs_req_error(const struct wfs_req *r, char *out, size_t cap);

/* ---- files and the session ----------------------------------------------- */

struct wfs_cache;

/**
 * How many sequential readers of one file readahead follows at once: a read
 * that continues none of them starts a stream in place of the least
 * recently used one (ZFS's prefetcher keeps streams alike), so parallel
 * loaders of one shard each get readahead.
 */
#define WFS_RA_STREAMS 8

/** A sequential reader of a remote file, as readahead sees it. */
struct wfs_ra_stream {
	uint64_t last;          /**< the last chunk read; UINT64_MAX: unused */
	uint64_t end;           /**< the byte after the furthest one read */
	unsigned streak;        /**< reads in a row that went forward (at most 16) */
	uint64_t used;          /**< when a read last continued it (the cache's count of reads) */
};

struct wfs_remote_file {
	struct wfs_remote *r;
	char *url;
	char *path;             /**< relative to the model directory */
	uint64_t size;
	char etag[160];         /**< "" until known */
	pthread_mutex_t etag_lock;
	char *identity;         /**< the disk cache key, or NULL: not disk-cached */
	uint64_t *ends;         /**< sorted ends of the tensors in this file (readahead stops there) */
	size_t nends;
	uint32_t id;
	/* readahead state, guarded by the cache lock: one stream per sequential reader */
	struct wfs_ra_stream ra[WFS_RA_STREAMS];
	/* the disk cache directory of this file: 0 unknown, 1 usable, -1 not */
	int disk_state;
	char *disk_dir;
};

struct wfs_remote {
	struct wfs_http http;
	struct wfs_counters stats;
	struct wfs_cache *cache;
	struct wfs_remote_file **files;
	size_t nfiles, cap_files;
	size_t chunk_size;
	char *source;           /**< for messages */
	const struct wfs_listing *listing; /**< while the model is opened: its files */
};

/* ---- discovery (remote_discover.c) ------------------------------------- */

struct wfs_listed {
	char *path;
	uint64_t size;          /**< WFS_SIZE_UNKNOWN when the listing does not say */
	char *etag;             /**< S3 listings give one */
};

struct wfs_listing {
	struct wfs_listed *files;
	size_t n, cap;
	char *base;             /**< URL that encoded paths are appended to */
	char *identity_prefix;  /**< e.g. "hf\nhttps://host/org/name\nCOMMIT\n" */
	char *index_name;       /**< the index file, or NULL: no index */
	char *index_text;       /**< its text once fetched */
	size_t index_len;
	bool complete;          /**< hf/s3: the list is every file of the model */
};

/** Sets up authentication and lists the files of @p src. */
int wfs_discover(struct wfs_remote *r, const struct wfs_source *src, const char *source,
		 const struct wfs_remote_options *ro, struct wfs_listing *out, struct wfs_error *err);
void wfs_listing_release(struct wfs_listing *l);
int wfs_listing_add(struct wfs_listing *l, const char *path, size_t len, uint64_t size, const char *etag);

/** The URL of @p path under the listing's base (percent-encoded). malloc. */
char *wfs_listing_url(const struct wfs_listing *l, const char *path);

/* ---- the chunk cache (remote_cache.c) ---------------------------------- */

/** The default of cache_dir_size: 10 GiB. */
#define WFS_REMOTE_DEFAULT_DIR_SIZE (10ULL << 30)

int wfs_cache_new(struct wfs_remote *r, size_t capacity, const char *dir, uint64_t dir_limit,
		  struct wfs_cache **out, struct wfs_error *err);
void wfs_cache_free(struct wfs_cache *c);

/** Bytes of chunks the cache holds in memory now (being loaded, or loaded). */
size_t wfs_cache_bytes(struct wfs_cache *c);
/**
 * Turns readahead on or off (off when made). It stays off while the model is
 * opened: formats read through the cache then, and readahead would start
 * worker threads that the daemon's fork leaves behind, with their chunks
 * marked loading for ever in the child.
 */
void wfs_cache_readahead(struct wfs_cache *c, bool on);

/** Reads exactly @p len bytes at @p off through the cache: len or -EIO. */
ssize_t wfs_cache_read(struct wfs_cache *c, struct wfs_remote_file *f, void *buf, size_t len, uint64_t off);

/**
 * Pins the chunks holding [off, off + len) of @p f and lends them as @p v
 * (one piece per chunk): len, -EAGAIN when that takes more than
 * WFS_VIEW_PARTS chunks, or -EIO. wfs_cache_unview() unpins them, whatever
 * this returned.
 */
ssize_t wfs_cache_view(struct wfs_cache *c, struct wfs_remote_file *f, size_t len, uint64_t off,
		       struct wfs_view *v);
void wfs_cache_unview(struct wfs_cache *c, struct wfs_view *v);

/** Offers bytes fetched at mount (a whole small file) to the memory cache. */
void wfs_cache_offer(struct wfs_cache *c, struct wfs_remote_file *f, uint64_t off, const void *data,
		     size_t len);

/**
 * Fetches the bytes of @p f from @p off on into the @p n pieces of @p iov
 * in order, with one request (no cache): 0 or a negative errno.
 */
int wfs_remote_fetchv(struct wfs_remote_file *f, const struct iovec *iov, size_t n, uint64_t off);

#endif
