"""A redis-server of a test's own, on a free port, that the test stops, kills and restarts."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError

from tests.ports import free_port

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


@dataclass
class RedisProcess:
    """Persistence off, as on the project's machines: a restart comes back empty."""

    directory: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis(host="127.0.0.1", port=self.port, socket_connect_timeout=2, socket_timeout=5)

    def start(self) -> None:
        """Start on ``port`` and wait until it answers; it must be this process that answers."""
        self.process = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
             "--appendonly", "no", "--dir", str(self.directory)],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + 10
        while True:
            if self.process.poll() is not None:
                raise RuntimeError(f"redis-server on port {self.port} exited with {self.process.returncode}")
            try:
                answering = self.client().info("server")["process_id"]
            except RedisError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.05)
                continue
            if answering != self.process.pid:
                raise RuntimeError(f"port {self.port} is another redis-server's (pid {answering})")
            return

    def stop(self, sig: int = signal.SIGTERM) -> None:
        """Stop the server (SIGKILL: a crash) and wait until the port no longer answers."""
        if self.process is None:
            return
        self.process.send_signal(sig)
        self.process.wait(10)
        self.process = None

    def kill(self) -> None:
        self.stop(signal.SIGKILL)


@pytest.fixture
def redis_process(tmp_path: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(tmp_path)
    server.start()
    try:
        yield server
    finally:
        server.stop(signal.SIGKILL)
