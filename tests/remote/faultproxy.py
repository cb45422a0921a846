"""A fault-injecting HTTP proxy (on servers.serve_http) in front of nginx.

Rules say what to do to the next matching requests (path substring, only
requests with a Range header unless told otherwise): add latency, answer
500/503, 429 with Retry-After, cut the connection mid-body, send a short
body, a wrong Content-Range, or a different ETag.
"""

import http.client
import socket
import threading
import time

from servers import serve_http


class Rule:
    def __init__(self, kind, match="", count=1, ranged=True, **params):
        self.kind, self.match, self.count, self.ranged, self.params = kind, match, count, ranged, params
        self.hits = 0


class FaultProxy:
    def __init__(self, upstream_port):
        self.upstream_port = upstream_port
        self.rules = []
        self.lock = threading.Lock()
        self.requests = []
        self.server = serve_http(self.handle)
        self.port = self.server.server_address[1]

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def add(self, kind, match="", count=1, ranged=True, **params):
        rule = Rule(kind, match, count, ranged, **params)
        with self.lock:
            self.rules.append(rule)
        return rule

    def clear(self):
        with self.lock:
            self.rules.clear()

    def _take(self, path, has_range):
        with self.lock:
            for rule in self.rules:
                if rule.match in path and (has_range or not rule.ranged) and (rule.count is None or rule.count > 0):
                    if rule.count is not None:
                        rule.count -= 1
                    rule.hits += 1
                    return rule
        return None

    def close(self):
        self.server.shutdown()
        self.server.server_close()

    def handle(self, h):
        rng = h.headers.get("Range")
        with self.lock:
            self.requests.append((h.path, rng))
        rule = self._take(h.path, rng is not None)
        kind = rule.kind if rule else None
        if kind == "latency":
            time.sleep(rule.params.get("delay", 0.3))
        if kind in ("500", "503", "429"):
            body = b"injected failure\n"
            h.send_response(int(kind))
            if kind == "429":
                h.send_header("Retry-After", str(rule.params.get("after", 1)))
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            if h.command != "HEAD":
                h.wfile.write(body)
            return
        up = http.client.HTTPConnection("127.0.0.1", self.upstream_port, timeout=30)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in ("host", "connection")}
        up.request(h.command, h.path, headers=headers)
        resp = up.getresponse()
        body = resp.read()
        up.close()
        out_headers = [(k, v) for k, v in resp.getheaders()
                       if k.lower() not in ("connection", "keep-alive", "transfer-encoding", "content-length")]
        if kind == "short":
            body = body[:len(body) // 2]
        if kind == "badrange":
            fixed = []
            for k, v in out_headers:
                if k.lower() == "content-range":
                    unit, rest = v.split(" ", 1)
                    span, total = rest.split("/")
                    a, b = (int(x) for x in span.split("-"))
                    v = f"{unit} {a + 1}-{b + 1}/{total}"
                fixed.append((k, v))
            out_headers = fixed
        if kind == "etag":
            out_headers = [(k, '"changed-etag"' if k.lower() == "etag" else v) for k, v in out_headers]
        h.send_response(resp.status, resp.reason)
        for k, v in out_headers:
            h.send_header(k, v)
        if kind == "cut":
            h.send_header("Content-Length", str(len(body)))
            h.end_headers()
            h.wfile.write(body[:len(body) // 2])
            h.wfile.flush()
            h.close_connection = True
            try:
                h.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            return
        h.send_header("Content-Length", str(len(body)))
        h.end_headers()
        if h.command != "HEAD":
            h.wfile.write(body)
