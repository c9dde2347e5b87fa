"""Serving a test server (a fake provider, the live app) on a background thread.

``socketserver``'s ``serve_forever`` looks for a shutdown request every ``poll_interval`` seconds,
0.5 by default: every fixture that stopped a server waited up to half a second for it (~15 s of
every run). Here it looks every 20 ms.
"""

from __future__ import annotations

import socketserver
import threading
from collections.abc import Iterator
from contextlib import contextmanager

POLL_SECONDS = 0.02


@contextmanager
def running(server: socketserver.BaseServer, name: str = "test-server") -> Iterator[None]:
    """Serve until the block ends, then stop and close the server."""
    thread = threading.Thread(target=server.serve_forever, args=(POLL_SECONDS,), name=name, daemon=True)
    thread.start()
    try:
        yield
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
