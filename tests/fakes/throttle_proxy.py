"""A loopback reverse proxy that can answer the next N requests with a throttling or
outage response, and forwards everything else to a real server (Radicale, Xandikos).

Real CalDAV servers never throttle on demand, so this is how the contract tests show
the connector's 429/503 handling against them.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import requests

from tests.serving import running

HOP_BY_HOP = {
    "connection",
    "keep-alive",
    "transfer-encoding",
    "te",
    "trailer",
    "upgrade",
    "proxy-authorization",
    "proxy-authenticate",
    "host",
    "content-length",
    "content-encoding",
}


@dataclass
class Proxy:
    upstream: str
    verify: str | bool = True
    base_url: str = ""
    failures: list[tuple[int, dict[str, str]]] = field(default_factory=list)
    requests: int = 0
    seen: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)
    holding: int = 0  # the next this many requests wait until release() (a provider that hangs)
    held: threading.Event = field(default_factory=threading.Event)  # set when one is waiting
    gate: threading.Event = field(default_factory=threading.Event)
    dropping: bool = False
    hold_method: str | None = None

    def fail_next(self, count: int, status: int = 429, headers: dict[str, str] | None = None) -> None:
        with self.lock:
            self.failures.extend((status, dict(headers or {})) for _ in range(count))

    def hold_next(self, count: int = 1, *, method: str | None = None) -> None:
        """The next ``count`` requests (of ``method`` only, if given) hang until release()."""
        with self.lock:
            self.holding += count
            self.hold_method = method
            self.gate.clear()
            self.held.clear()

    def release(self, *, drop: bool = False) -> None:
        """Let held requests go on; ``drop``: close them unanswered and unforwarded, as a
        provider does for a client that died meanwhile."""
        self.dropping = drop
        self.gate.set()


def _handler(proxy: Proxy) -> type[BaseHTTPRequestHandler]:
    session = requests.Session()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _forward(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else None
            with proxy.lock:
                proxy.requests += 1
                proxy.seen.append(f"{self.command} {self.path}")
                failure = proxy.failures.pop(0) if proxy.failures else None
                hold = proxy.holding > 0 and proxy.hold_method in (None, self.command)
                proxy.holding -= int(hold)
            if hold:
                proxy.held.set()
                proxy.gate.wait(60)
                if proxy.dropping:
                    self.close_connection = True
                    return
            if failure is not None:
                status, headers = failure
                self.send_response(status)
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP_BY_HOP}
            upstream = session.request(
                self.command,
                proxy.upstream.rstrip("/") + self.path,
                data=body,
                headers=headers,
                verify=proxy.verify,
                allow_redirects=False,
                timeout=30,
            )
            content = upstream.content
            self.send_response(upstream.status_code)
            for key, value in upstream.headers.items():
                if key.lower() not in HOP_BY_HOP:
                    self.send_header(key, value)
            self.send_header("Content-Length", str(len(content)))
            self.end_headers()
            self.wfile.write(content)

        do_GET = do_PUT = do_POST = do_DELETE = do_OPTIONS = _forward
        do_PROPFIND = do_REPORT = do_MKCALENDAR = do_PROPPATCH = _forward

    return Handler


@contextmanager
def throttle_proxy(upstream: str, verify: str | bool = True) -> Iterator[Proxy]:
    proxy = Proxy(upstream, verify)
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(proxy))
    server.daemon_threads = True
    proxy.base_url = f"http://127.0.0.1:{server.server_address[1]}/"
    with running(server, "throttle-proxy"):
        yield proxy
