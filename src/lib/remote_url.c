/**
 * @file remote_url.c
 * Text of remote sources: the SOURCE forms (https://, hf://, s3://), URLs
 * (percent-encoding, origins, what may be logged), and the small parsers of
 * what servers send back (Content-Range, Retry-After, S3 listing XML).
 *
 * Everything here is pure: no I/O, no curl, so it is unit-tested directly.
 */
#include <ctype.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "remote.h"

void wfs_source_release(struct wfs_source *s)
{
	if (s == NULL)
		return;
	free(s->base);
	free(s->file);
	free(s->repo);
	free(s->revision);
	free(s->bucket);
	free(s->prefix);
	memset(s, 0, sizeof(*s));
}

static bool ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && memcmp(s + n - k, suffix, k) == 0;
}

static bool name_char(char c)
{
	return isalnum((unsigned char)c) || c == '-' || c == '_' || c == '.';
}

/* One Hub name component: [A-Za-z0-9._-]+, not "." or "..". */
static bool hub_component_ok(const char *s, size_t n)
{
	if (n == 0 || n > 96 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.'))
		return false;
	for (size_t i = 0; i < n; i++)
		if (!name_char(s[i]))
			return false;
	return true;
}

static int parse_http(const char *source, struct wfs_source *out, struct wfs_error *err)
{
	const char *rest = strstr(source, "://") + 3;
	size_t hostlen = strcspn(rest, "/?#");
	if (hostlen == 0) {
		wfs_error_add(err, "%s: no host in the URL", source);
		return -EINVAL;
	}
	if (strpbrk(source, "?#")) {
		wfs_error_add(err, "%s: a model URL cannot have a query or a fragment", source);
		return -EINVAL;
	}
	for (const char *p = source; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			wfs_error_add(err, "%s: spaces and control characters must be percent-encoded", source);
			return -EINVAL;
		}
	size_t n = strlen(source);
	const char *last = strrchr(rest, '/');
	size_t lastlen = last ? strlen(last + 1) : 0;
	/* A URL ending in a model file's name (or an index) names that file; else a directory. */
	static const char *const file_ends[] = {".safetensors", ".json", ".bin", ".pt", ".pth", ".gguf", ".onnx", ".index"};
	bool is_file = false;
	for (size_t i = 0; i < sizeof(file_ends) / sizeof(file_ends[0]); i++)
		is_file |= ends_with(source, n, file_ends[i]);
	if (last && is_file && lastlen > 0) {
		out->file = strdup(last + 1);
		out->base = strndup(source, (size_t)(last + 1 - source));
	} else {
		out->base = malloc(n + 2);
		if (out->base)
			snprintf(out->base, n + 2, "%s%s", source, source[n - 1] == '/' ? "" : "/");
		if (out->base == NULL)
			return -ENOMEM;
		return 0;
	}
	return out->base && out->file ? 0 : -ENOMEM;
}

static int parse_hf(const char *source, struct wfs_source *out, struct wfs_error *err)
{
	const char *rest = source + 5;
	const char *at = strchr(rest, '@');
	size_t rlen = at ? (size_t)(at - rest) : strlen(rest);
	while (rlen && rest[rlen - 1] == '/')
		rlen--;
	const char *slash = memchr(rest, '/', rlen);
	bool ok = slash ? hub_component_ok(rest, (size_t)(slash - rest)) &&
				  hub_component_ok(slash + 1, rlen - (size_t)(slash - rest) - 1)
			: hub_component_ok(rest, rlen);
	if (!ok) {
		wfs_error_add(err, "%s: expected hf://ORG/NAME or hf://ORG/NAME@REVISION "
			      "(names of letters, digits, '-', '_' and '.')", source);
		return -EINVAL;
	}
	const char *rev = at ? at + 1 : "main";
	if (*rev == '\0' || strlen(rev) > 255) {
		wfs_error_add(err, "%s: empty or too long revision after '@'", source);
		return -EINVAL;
	}
	for (const char *p = rev; *p; p++)
		if ((unsigned char)*p <= 0x20 || *p == 0x7f) {
			wfs_error_add(err, "%s: the revision has a space or a control character", source);
			return -EINVAL;
		}
	out->repo = strndup(rest, rlen);
	out->revision = strdup(rev);
	return out->repo && out->revision ? 0 : -ENOMEM;
}

static int parse_s3(const char *source, struct wfs_source *out, struct wfs_error *err)
{
	const char *rest = source + 5;
	size_t blen = strcspn(rest, "/");
	bool ok = blen >= 1 && blen <= 255;
	for (size_t i = 0; i < blen && ok; i++)
		ok = name_char(rest[i]);
	if (!ok) {
		wfs_error_add(err, "%s: expected s3://BUCKET/PREFIX/", source);
		return -EINVAL;
	}
	const char *prefix = rest[blen] == '/' ? rest + blen + 1 : rest + blen;
	for (const char *p = prefix; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f) {
			wfs_error_add(err, "%s: the prefix has a control character", source);
			return -EINVAL;
		}
	size_t plen = strlen(prefix);
	out->bucket = strndup(rest, blen);
	out->prefix = malloc(plen + 2);
	if (out->bucket == NULL || out->prefix == NULL)
		return -ENOMEM;
	snprintf(out->prefix, plen + 2, "%s%s", prefix, plen && prefix[plen - 1] != '/' ? "/" : "");
	return 0;
}

int wfs_source_parse(const char *source, struct wfs_source *out, struct wfs_error *err)
{
	memset(out, 0, sizeof(*out));
	int rc;
	if (strncmp(source, "http://", 7) == 0 || strncmp(source, "https://", 8) == 0) {
		out->kind = WFS_SRC_HTTP;
		rc = parse_http(source, out, err);
	} else if (strncmp(source, "hf://", 5) == 0) {
		out->kind = WFS_SRC_HF;
		rc = parse_hf(source, out, err);
	} else if (strncmp(source, "s3://", 5) == 0) {
		out->kind = WFS_SRC_S3;
		rc = parse_s3(source, out, err);
	} else {
		wfs_error_add(err, "%s: not a remote source", source);
		rc = -EINVAL;
	}
	if (rc < 0)
		wfs_source_release(out);
	return rc;
}

char *wfs_url_encode(const char *prefix, const char *s, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t plen = strlen(prefix), n = strlen(s);
	char *out = malloc(plen + 3 * n + 1);
	if (out == NULL)
		return NULL;
	memcpy(out, prefix, plen);
	char *p = out + plen;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~' || (keep_slash && c == '/')) {
			*p++ = (char)c;
		} else {
			*p++ = '%';
			*p++ = hex[c >> 4];
			*p++ = hex[c & 15];
		}
	}
	*p = '\0';
	return out;
}

int wfs_url_origin(const char *url, char *out, size_t cap)
{
	const char *sep = strstr(url, "://");
	if (sep == NULL || sep == url)
		return -EINVAL;
	size_t slen = (size_t)(sep - url);
	const char *auth = sep + 3;
	size_t alen = strcspn(auth, "/?#");
	/* Drop user information. */
	const char *at = memchr(auth, '@', alen);
	if (at) {
		alen -= (size_t)(at + 1 - auth);
		auth = at + 1;
	}
	if (alen == 0 || slen + 3 + alen + 1 > cap)
		return -EINVAL;
	size_t k = 0;
	for (size_t i = 0; i < slen; i++)
		out[k++] = (char)tolower((unsigned char)url[i]);
	memcpy(out + k, "://", 3);
	k += 3;
	for (size_t i = 0; i < alen; i++)
		out[k++] = (char)tolower((unsigned char)auth[i]);
	out[k] = '\0';
	/* Default ports name the same origin. */
	bool https = strncmp(out, "https://", 8) == 0, http = strncmp(out, "http://", 7) == 0;
	if ((https && ends_with(out, k, ":443")) || (http && ends_with(out, k, ":80")))
		out[k - (https ? 4 : 3)] = '\0';
	return 0;
}

void wfs_url_for_log(const char *url, char *out, size_t cap)
{
	if (cap == 0)
		return;
	const char *sep = strstr(url, "://");
	const char *auth = sep ? sep + 3 : url;
	size_t alen = strcspn(auth, "/?#");
	const char *at = memchr(auth, '@', alen);
	size_t head = sep && at ? (size_t)(auth - url) : 0;
	const char *tail = sep && at ? at + 1 : url;
	size_t tlen = strcspn(tail, "?#");
	snprintf(out, cap, "%.*s%.*s%s", (int)head, url, (int)tlen, tail, tail[tlen] == '?' ? "?..." : "");
}

/* Strict decimal u64: digits only. Advances *p. */
static bool parse_u64(const char **p, uint64_t *out)
{
	const char *s = *p;
	if (!isdigit((unsigned char)*s))
		return false;
	uint64_t v = 0;
	while (isdigit((unsigned char)*s)) {
		if (__builtin_mul_overflow(v, 10, &v) || __builtin_add_overflow(v, (uint64_t)(*s - '0'), &v))
			return false;
		s++;
	}
	*p = s;
	*out = v;
	return true;
}

static const char *skip_spaces(const char *s)
{
	while (*s == ' ' || *s == '\t')
		s++;
	return s;
}

int wfs_parse_content_range(const char *v, uint64_t *first, uint64_t *last, uint64_t *total)
{
	const char *p = skip_spaces(v);
	if (strncasecmp(p, "bytes", 5) != 0)
		return -EINVAL;
	p = skip_spaces(p + 5);
	if (!parse_u64(&p, first) || *p++ != '-' || !parse_u64(&p, last) || *p++ != '/')
		return -EINVAL;
	if (*p == '*') {
		*total = WFS_SIZE_UNKNOWN;
		p++;
	} else if (!parse_u64(&p, total)) {
		return -EINVAL;
	}
	p = skip_spaces(p);
	if (*p != '\0' || *first > *last || (*total != WFS_SIZE_UNKNOWN && *last >= *total))
		return -EINVAL;
	return 0;
}

int wfs_parse_unsatisfied_range(const char *v, uint64_t *total)
{
	const char *p = skip_spaces(v);
	if (strncasecmp(p, "bytes", 5) != 0)
		return -EINVAL;
	p = skip_spaces(p + 5);
	if (*p++ != '*' || *p++ != '/' || !parse_u64(&p, total))
		return -EINVAL;
	return *skip_spaces(p) == '\0' ? 0 : -EINVAL;
}

long long wfs_parse_retry_after(const char *v, time_t now)
{
	const char *p = skip_spaces(v);
	uint64_t secs;
	const char *q = p;
	if (parse_u64(&q, &secs) && *skip_spaces(q) == '\0')
		return secs > 86400 ? 86400000LL : (long long)secs * 1000;
	struct tm tm;
	memset(&tm, 0, sizeof(tm));
	const char *end = strptime(p, "%a, %d %b %Y %H:%M:%S GMT", &tm);
	if (end == NULL || *skip_spaces(end) != '\0')
		return -1;
	time_t t = timegm(&tm);
	return t <= now ? 0 : (long long)(t - now) * 1000;
}

char *wfs_trim(char *s)
{
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	size_t i = 0;
	while (isspace((unsigned char)s[i]))
		i++;
	if (i)
		memmove(s, s + i, n - i + 1);
	return s;
}

uint64_t wfs_fnv1a64(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL;
	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	return h;
}

/* ---- XML: just enough for ListObjectsV2 and S3 error bodies ------------- */

static const char *find_n(const char *hay, size_t len, const char *needle)
{
	size_t k = strlen(needle);
	if (k == 0 || len < k)
		return NULL;
	for (const char *p = hay; (p = memchr(p, needle[0], len - (size_t)(p - hay) - k + 1)) != NULL; p++)
		if (memcmp(p, needle, k) == 0)
			return p;
	return NULL;
}

static size_t put_utf8(char *out, uint32_t cp)
{
	if (cp < 0x80) {
		out[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		out[0] = (char)(0xc0 | (cp >> 6));
		out[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		out[0] = (char)(0xe0 | (cp >> 12));
		out[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		out[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | (cp >> 18));
	out[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	out[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	out[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* Decodes XML entities; NULL on a malformed one or a NUL character. */
static char *xml_decode(const char *s, size_t n)
{
	char *out = malloc(n + 1);
	if (out == NULL)
		return NULL;
	size_t k = 0;
	for (size_t i = 0; i < n;) {
		if (s[i] != '&') {
			out[k++] = s[i++];
			continue;
		}
		const char *semi = memchr(s + i, ';', n - i);
		if (semi == NULL)
			goto bad;
		size_t elen = (size_t)(semi - (s + i)) + 1;
		static const struct { const char *name; char c; } named[] = {
			{"&amp;", '&'}, {"&lt;", '<'}, {"&gt;", '>'}, {"&quot;", '"'}, {"&apos;", '\''},
		};
		bool done = false;
		for (size_t j = 0; j < sizeof(named) / sizeof(named[0]) && !done; j++)
			if (elen == strlen(named[j].name) && memcmp(s + i, named[j].name, elen) == 0) {
				out[k++] = named[j].c;
				done = true;
			}
		if (!done) {
			if (elen < 4 || s[i + 1] != '#')
				goto bad;
			bool hexa = s[i + 2] == 'x' || s[i + 2] == 'X';
			uint32_t cp = 0;
			for (size_t j = i + 2 + hexa; j < i + elen - 1; j++) {
				int d = isdigit((unsigned char)s[j]) ? s[j] - '0'
					: hexa && isxdigit((unsigned char)s[j]) ? (tolower((unsigned char)s[j]) - 'a' + 10)
					: -1;
				if (d < 0 || cp > 0x10ffff)
					goto bad;
				cp = cp * (hexa ? 16 : 10) + (uint32_t)d;
			}
			if (cp == 0 || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
				goto bad;
			k += put_utf8(out + k, cp); /* an entity is at least as long as its UTF-8 */
		}
		i += elen;
	}
	out[k] = '\0';
	if (memchr(out, '\0', k))
		goto bad;
	return out;
bad:
	free(out);
	return NULL;
}

char *wfs_xml_text(const char *xml, size_t len, const char *tag)
{
	char open[64], close[64];
	snprintf(open, sizeof(open), "<%s>", tag);
	snprintf(close, sizeof(close), "</%s>", tag);
	const char *a = find_n(xml, len, open);
	if (a == NULL)
		return NULL;
	a += strlen(open);
	const char *b = find_n(a, len - (size_t)(a - xml), close);
	if (b == NULL)
		return NULL;
	return xml_decode(a, (size_t)(b - a));
}

void wfs_s3_page_release(struct wfs_s3_page *page)
{
	for (size_t i = 0; i < page->nobjects; i++) {
		free(page->objects[i].key);
		free(page->objects[i].etag);
	}
	free(page->objects);
	free(page->next_token);
	memset(page, 0, sizeof(*page));
}

int wfs_s3_parse_list(const char *xml, size_t len, struct wfs_s3_page *page)
{
	const char *end = xml + len;
	if (find_n(xml, len, "<ListBucketResult") == NULL)
		return -EINVAL;
	page->truncated = false;
	free(page->next_token);
	page->next_token = NULL;
	const char *p = xml;
	const char *c;
	/* Each <Contents> element in turn. */
	while ((c = find_n(p, (size_t)(end - p), "<Contents>")) != NULL) {
		const char *ce = find_n(c, (size_t)(end - c), "</Contents>");
		if (ce == NULL)
			return -EINVAL;
		size_t clen = (size_t)(ce - c);
		char *key = wfs_xml_text(c, clen, "Key");
		char *size = wfs_xml_text(c, clen, "Size");
		char *etag = wfs_xml_text(c, clen, "ETag");
		uint64_t sz = 0;
		const char *sp = size ? wfs_trim(size) : NULL;
		bool ok = key && sp && parse_u64(&sp, &sz) && *sp == '\0';
		free(size);
		if (!ok || WFS_GROW(page->objects, page->cap, page->nobjects, 1) < 0) {
			free(key);
			free(etag);
			return ok ? -ENOMEM : -EINVAL;
		}
		page->objects[page->nobjects++] = (struct wfs_s3_object){key, sz, etag};
		p = ce + strlen("</Contents>");
	}
	/* IsTruncated and NextContinuationToken are unique outside <Contents>. */
	char *trunc = wfs_xml_text(xml, len, "IsTruncated");
	page->truncated = trunc && strcmp(wfs_trim(trunc), "true") == 0;
	free(trunc);
	if (page->truncated) {
		page->next_token = wfs_xml_text(xml, len, "NextContinuationToken");
		if (page->next_token == NULL || page->next_token[0] == '\0')
			return -EINVAL;
	}
	return 0;
}
