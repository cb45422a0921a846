"""Servers the remote tests start on loopback: nginx (Debian's nginx-light)
serving the generated Hub layout, and a second nginx server block acting as
the CDN the Hub redirects to; and serve_http(), the Python server under the
fault proxy and the S3 server.

nginx runs in the foreground (`daemon off`) with its own prefix directory,
and logs every request as one JSON line with $http_range and $status. A
server that cannot start is a test failure, never a skip.
"""

import http.server
import json
import os
import shutil
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

NGINX = shutil.which("nginx") or "/usr/sbin/nginx"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_port(port, proc=None, timeout=10):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return True
        except OSError:
            time.sleep(0.05)
    return False


def serve_http(handle):
    """A threading HTTP/1.1 server on 127.0.0.1 (a free port), serving in a
    daemon thread: every GET and HEAD request goes to handle(request), a
    BaseHTTPRequestHandler (request.command tells which). Nothing is logged.
    Returns the server (its port is server.server_address[1])."""
    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args):
            pass

        def do_GET(self):
            handle(self)

        def do_HEAD(self):
            handle(self)

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


CONF = """
user root;
daemon off;
master_process on;
worker_processes 2;
pid {prefix}/nginx.pid;
error_log {prefix}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    default_type application/octet-stream;
    sendfile on;
    keepalive_requests 100000;
    client_body_temp_path {prefix}/tmp/body;
    proxy_temp_path {prefix}/tmp/proxy;
    fastcgi_temp_path {prefix}/tmp/fastcgi;
    uwsgi_temp_path {prefix}/tmp/uwsgi;
    scgi_temp_path {prefix}/tmp/scgi;
    log_format wfs escape=json '{{"port":$server_port,"method":"$request_method","uri":"$uri",'
        '"args":"$args","range":"$http_range","status":$status,"bytes":$body_bytes_sent,'
        '"auth":"$http_authorization"}}';
    access_log {prefix}/access.log wfs;
    server {{
        listen 127.0.0.1:{port};
        root {root};
        location /api/ {{ default_type application/json; }}
        # The Hub sends downloads of this repository to a CDN (another origin).
        location /org/redir/resolve/ {{ return 302 http://127.0.0.1:{cdn_port}$request_uri; }}
    }}
    server {{
        listen 127.0.0.1:{cdn_port};
        root {root};
    }}
}}
"""


class Nginx:
    def __init__(self, root, prefix):
        self.root = Path(root)
        self.prefix = Path(prefix)
        self.port = None
        self.cdn_port = None
        self.proc = None

    def start(self):
        if not os.path.exists(NGINX):
            pytest.fail("nginx is not installed: apt-get install nginx-light (contrib/deps.sh)")
        (self.prefix / "tmp").mkdir(parents=True, exist_ok=True)
        for attempt in range(5):
            self.port, self.cdn_port = free_port(), free_port()
            conf = self.prefix / "nginx.conf"
            conf.write_text(CONF.format(prefix=self.prefix, root=self.root, port=self.port,
                                        cdn_port=self.cdn_port))
            self.out = open(self.prefix / "nginx.out", "wb")
            self.proc = subprocess.Popen([NGINX, "-p", str(self.prefix), "-c", str(conf)],
                                         stdin=subprocess.DEVNULL, stdout=self.out, stderr=self.out)
            if wait_port(self.port, self.proc) and wait_port(self.cdn_port, self.proc):
                return self
            self.stop()
        pytest.fail("nginx did not start:\n" + self.errors())

    def errors(self):
        text = ""
        for name in ("nginx.out", "error.log"):
            p = self.prefix / name
            if p.exists():
                text += p.read_text(errors="replace")
        return text

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def log(self):
        """Every request so far, oldest first (dicts of the JSON log line)."""
        path = self.prefix / "access.log"
        if not path.exists():
            return []
        return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]

    def mark(self):
        time.sleep(0.2)  # nginx logs a request once it has sent the answer
        return len(self.log())

    def since(self, mark):
        time.sleep(0.2)
        return self.log()[mark:]


S3RVER_DIR = Path(__file__).resolve().parent / "s3rver"


class S3rver:
    """@20minutes/s3rver 4.x (npm; tests/remote/s3rver/package-lock.json),
    a third-party S3 implementation that verifies every AWS Signature V4,
    run by node on 127.0.0.1 through s3rver/serve.js. uploads maps
    "BUCKET/PREFIX" to a local directory whose files become objects.
    contrib/test.sh installs it with `npm ci`; a missing install is a test
    failure that says so."""

    def __init__(self, access_key, secret_key, uploads, store):
        self.access_key, self.secret_key = access_key, secret_key
        self.uploads, self.store = uploads, Path(store)
        self.proc = None
        self.port = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"

    def start(self):
        node = shutil.which("node") or shutil.which("nodejs")
        if node is None:
            pytest.fail("node is missing: apt-get install nodejs npm (contrib/test.sh does)")
        if not (S3RVER_DIR / "node_modules" / "@20minutes" / "s3rver").is_dir():
            pytest.fail(f"@20minutes/s3rver is not installed: cd {S3RVER_DIR} && npm ci "
                        "(contrib/test.sh does)")
        self.store.mkdir(parents=True, exist_ok=True)
        args = [node, str(S3RVER_DIR / "serve.js"), str(self.store), self.access_key,
                self.secret_key, *(f"{k}={v}" for k, v in self.uploads.items())]
        self.proc = subprocess.Popen(args, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, cwd=S3RVER_DIR)
        line = self.proc.stdout.readline()
        if not line:
            err = self.proc.stderr.read().decode(errors="replace")
            self.proc.wait()
            pytest.fail(f"s3rver did not start:\n{err}")
        self.port = json.loads(line)["port"]
        if not wait_port(self.port, self.proc):
            pytest.fail("s3rver is not listening")
        return self

    def stop(self):
        if self.proc is None:
            return
        self.proc.stdin.close()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        self.proc = None
