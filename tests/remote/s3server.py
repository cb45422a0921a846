"""A small S3-compatible server (path-style) for the tests: ListObjectsV2
with pagination, GetObject with Range, HeadObject. Every request must carry
an AWS Signature V4 that this server verifies on its own (hashlib, hmac):
the canonical request is rebuilt from what arrived, so a client that signs
something else than what it sends is refused with SignatureDoesNotMatch.
"""

import datetime
import hashlib
import hmac
import threading
import urllib.parse
from xml.sax.saxutils import escape

from servers import serve_http

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()


def _quote(s, safe="-_.~"):
    return urllib.parse.quote(s, safe=safe)


def _hmac(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


class S3Server:
    def __init__(self, access_key, secret_key, region="us-east-1", session_token=None, page_size=3):
        self.access_key, self.secret_key, self.region = access_key, secret_key, region
        self.session_token = session_token
        self.page_size = page_size
        self.objects = {}        # (bucket, key) -> bytes
        self.log = []            # (method, path, query, range, status)
        self.lock = threading.Lock()
        self.httpd = serve_http(lambda h: self.handle(h, body=h.command != "HEAD"))
        self.port = self.httpd.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def put(self, bucket, key, data):
        self.objects[(bucket, key)] = data

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()

    # ---- SigV4 ------------------------------------------------------------

    def verify(self, h, path, query):
        auth = h.headers.get("Authorization", "")
        if not auth.startswith("AWS4-HMAC-SHA256 "):
            return "AccessDenied", "the request is not signed"
        fields = dict(part.strip().split("=", 1) for part in auth[len("AWS4-HMAC-SHA256 "):].split(","))
        cred = fields.get("Credential", "").split("/")
        if len(cred) != 5 or cred[4] != "aws4_request" or cred[3] != "s3":
            return "AuthorizationHeaderMalformed", "bad credential scope"
        key, date, region = cred[0], cred[1], cred[2]
        if key != self.access_key:
            return "InvalidAccessKeyId", "unknown access key"
        if region != self.region:
            # What AWS answers, with HTTP 400.
            return ("AuthorizationHeaderMalformed", "The authorization header is malformed; the region "
                    f"'{region}' is wrong; expecting '{self.region}'", 400)
        amz_date = h.headers.get("x-amz-date", "")
        try:
            when = datetime.datetime.strptime(amz_date, "%Y%m%dT%H%M%SZ").replace(tzinfo=datetime.timezone.utc)
        except ValueError:
            return "AccessDenied", "missing or bad x-amz-date"
        if abs((datetime.datetime.now(datetime.timezone.utc) - when).total_seconds()) > 900 or \
                not amz_date.startswith(date):
            return "RequestTimeTooSkewed", "x-amz-date is too far from now"
        signed = fields.get("SignedHeaders", "").split(";")
        if "host" not in signed or "x-amz-date" not in signed:
            return "AccessDenied", "host and x-amz-date must be signed"
        payload = h.headers.get("x-amz-content-sha256")
        if payload is None:
            return "InvalidRequest", "missing x-amz-content-sha256"
        if payload not in (EMPTY_SHA256, "UNSIGNED-PAYLOAD"):
            return "XAmzContentSHA256Mismatch", "payload hash"
        if self.session_token is not None:
            if h.headers.get("x-amz-security-token") != self.session_token or \
                    "x-amz-security-token" not in signed:
                return "InvalidToken", "the session token is missing, wrong or unsigned"
        canon_headers = ""
        for name in signed:
            value = h.headers.get(name)
            if value is None:
                return "AccessDenied", f"signed header {name} is missing"
            canon_headers += f"{name}:{' '.join(value.split())}\n"
        canon_uri = _quote(urllib.parse.unquote(path), safe="/-_.~")
        pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
        canon_query = "&".join(sorted(f"{_quote(k)}={_quote(v)}" for k, v in pairs))
        creq = "\n".join([h.command,
                          canon_uri, canon_query, canon_headers, ";".join(signed), payload])
        scope = f"{date}/{region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
        k = _hmac(("AWS4" + self.secret_key).encode(), date)
        k = _hmac(k, region)
        k = _hmac(k, "s3")
        k = _hmac(k, "aws4_request")
        want = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(want, fields.get("Signature", "")):
            return "SignatureDoesNotMatch", ("The request signature we calculated does not match the "
                                             "signature you provided. Check your key and signing method.")
        return None

    # ---- requests ---------------------------------------------------------

    def reply(self, h, status, body=b"", headers=(), send_body=True):
        h.send_response(status)
        for k, v in headers:
            h.send_header(k, v)
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if send_body:
            h.wfile.write(body)
        with self.lock:
            self.log.append((h.command, h.path, h.headers.get("Range"), status))

    def error(self, h, status, code, message, send_body=True):
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>{code}</Code>'
                f"<Message>{escape(message)}</Message></Error>").encode()
        self.reply(h, status, body, [("Content-Type", "application/xml")], send_body)

    def handle(self, h, body):
        url = urllib.parse.urlsplit(h.path)
        problem = self.verify(h, url.path, url.query)
        if problem:
            return self.error(h, problem[2] if len(problem) > 2 else 403, problem[0], problem[1], body)
        parts = urllib.parse.unquote(url.path).lstrip("/").split("/", 1)
        bucket = parts[0]
        key = parts[1] if len(parts) > 1 else ""
        if key == "":
            q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            if q.get("list-type") != "2":
                return self.error(h, 400, "InvalidArgument", "only ListObjectsV2 here", body)
            return self.list(h, bucket, q, body)
        data = self.objects.get((bucket, key))
        if data is None:
            return self.error(h, 404, "NoSuchKey", "The specified key does not exist.", body)
        etag = '"' + hashlib.md5(data).hexdigest() + '"'
        rng = h.headers.get("Range")
        headers = [("ETag", etag), ("Last-Modified", "Sun, 01 Nov 2026 10:00:00 GMT"),
                   ("Accept-Ranges", "bytes")]
        if rng:
            a, b = rng.split("=", 1)[1].split("-")
            a, b = int(a), min(int(b), len(data) - 1)
            if a >= len(data):
                return self.reply(h, 416, b"", headers + [("Content-Range", f"bytes */{len(data)}")], body)
            return self.reply(h, 206, data[a:b + 1],
                              headers + [("Content-Range", f"bytes {a}-{b}/{len(data)}")], body)
        self.reply(h, 200, data, headers, body)

    def list(self, h, bucket, q, body):
        prefix = q.get("prefix", "")
        keys = sorted(k for (b, k) in self.objects if b == bucket and k.startswith(prefix))
        start = 0
        if "continuation-token" in q:
            token = q["continuation-token"]
            start = int(token.split("=", 1)[1]) if token.startswith("tok/+=") else -1
            if start < 0:
                return self.error(h, 400, "InvalidArgument", "bad continuation token", body)
        page = keys[start:start + self.page_size]
        truncated = start + self.page_size < len(keys)
        items = ""
        for k in page:
            data = self.objects[(bucket, k)]
            items += (f"<Contents><Key>{escape(k)}</Key><LastModified>2026-11-01T10:00:00.000Z</LastModified>"
                      f"<ETag>&quot;{hashlib.md5(data).hexdigest()}&quot;</ETag><Size>{len(data)}</Size>"
                      f"<StorageClass>STANDARD</StorageClass></Contents>")
        # Tokens with characters that must be percent-encoded when sent back.
        nxt = f"<NextContinuationToken>tok/+={start + self.page_size}</NextContinuationToken>" if truncated else ""
        xml = (f'<?xml version="1.0" encoding="UTF-8"?>\n<ListBucketResult '
               f'xmlns="http://s3.amazonaws.com/doc/2006-03-01/"><Name>{escape(bucket)}</Name>'
               f"<Prefix>{escape(prefix)}</Prefix><KeyCount>{len(page)}</KeyCount>"
               f"<MaxKeys>{self.page_size}</MaxKeys><IsTruncated>{'true' if truncated else 'false'}"
               f"</IsTruncated>{items}{nxt}</ListBucketResult>").encode()
        self.reply(h, 200, xml, [("Content-Type", "application/xml")], body)
