"""Free loopback ports for the servers tests start, never the same one to two test processes.

A port is found by binding port 0 and closing the socket; the server binds it a moment later. Test
processes run side by side (bin/test's two passes), and in that moment another one could be handed
the same number: its server then fails to bind, and the first answer on the port comes from the
other process's server (the test then talks to, say, the other pass's Redis). So every port handed
out is written, under a lock, to a file all test processes share, and not handed out again for
:data:`HELD_SECONDS`.
"""

from __future__ import annotations

import fcntl
import socket
import tempfile
import time
from pathlib import Path

HELD_SECONDS = 300
LEDGER = Path(tempfile.gettempdir()) / "flashmentor-test-ports"


def free_port() -> int:
    """A loopback port nobody listens on, not handed to any test process in the last few minutes."""
    with open(LEDGER, "a+") as ledger:
        fcntl.flock(ledger, fcntl.LOCK_EX)
        ledger.seek(0)
        now = time.time()
        recent: dict[int, float] = {}
        for entry in ledger.read().split():
            port, _, when = entry.partition("@")
            if port.isdigit() and now - float(when or 0) < HELD_SECONDS:
                recent[int(port)] = float(when)
        while True:
            with socket.socket() as s:
                s.bind(("127.0.0.1", 0))
                port = int(s.getsockname()[1])
            if port not in recent:
                break
        recent[port] = now
        ledger.seek(0)
        ledger.truncate()
        ledger.write(" ".join(f"{p}@{when}" for p, when in recent.items()))
    return port
