"""The HTTP plumbing the Google and Graph fakes share: a quiet JSON handler and a loopback server.

Each fake subclasses :class:`JsonHandler` and implements ``dispatch``; what a request means
stays in the fake, only reading the request and writing a JSON answer is here.
"""

from __future__ import annotations

import json
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import SplitResult, parse_qs, urlsplit

from tests.serving import running


class JsonHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    json_type = "application/json"

    def log_message(self, *args: Any) -> None:
        pass

    def dispatch(self, method: str, split: SplitResult, raw: bytes) -> None:
        raise NotImplementedError

    def send_json(self, status: int, body: Any, headers: dict[str, str] | None = None) -> None:
        data = b"" if body is None else json.dumps(body).encode()
        self.send_response(status)
        for key, value in (headers or {}).items():
            self.send_header(key, value)
        if body is not None:
            self.send_header("Content-Type", self.json_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def _read(self, method: str) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self.dispatch(method, urlsplit(self.path), self.rfile.read(length) if length else b"")

    def do_GET(self) -> None:
        self._read("GET")

    def do_POST(self) -> None:
        self._read("POST")

    def do_PATCH(self) -> None:
        self._read("PATCH")

    def do_PUT(self) -> None:
        self._read("PUT")

    def do_DELETE(self) -> None:
        self._read("DELETE")


def form_of(raw: bytes) -> dict[str, str]:
    """An ``application/x-www-form-urlencoded`` body (or query string) as a flat dict."""
    return {k: v[0] for k, v in parse_qs(raw.decode()).items()}


@contextmanager
def serve(handler: type[BaseHTTPRequestHandler], tls: ssl.SSLContext | None = None) -> Iterator[str]:
    """Serve ``handler`` on a free loopback port until the block ends; yields the base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    if tls is not None:
        server.socket = tls.wrap_socket(server.socket, server_side=True)
    scheme = "https" if tls is not None else "http"
    with running(server, "json-http-fake"):
        yield f"{scheme}://127.0.0.1:{server.server_address[1]}"
