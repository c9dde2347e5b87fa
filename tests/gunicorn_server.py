"""The app under gunicorn, as in production: several worker processes, each with several threads.

The listening socket is opened here (port 0) and handed to gunicorn as ``fd://``, so the port
is free by construction and known before gunicorn starts. The web app schedules no jobs
(``FLASHMENTOR_JOBS=0``): these servers exist to race HTTP requests against one database.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import requests

ROOT = Path(__file__).resolve().parent.parent
GUNICORN = Path(sys.executable).with_name("gunicorn")
SECRET = "concurrency-tests"


@dataclass
class Gunicorn:
    url: str
    process: subprocess.Popen[bytes]

    def login(self, email: str, password: str) -> dict[str, str]:
        """The session cookie of a signed-in person (signed with one key, so every worker accepts it)."""
        reply = requests.post(f"{self.url}/api/v1/auth/login", json={"email": email, "password": password},
                              timeout=30)
        reply.raise_for_status()
        return reply.cookies.get_dict()

    def post(self, path: str, cookies: dict[str, str], body: dict[str, Any]) -> requests.Response:
        """One POST on a connection of its own (a requests.Session is not shared between threads)."""
        return requests.post(f"{self.url}{path}", json=body, cookies=cookies, timeout=60)


@contextmanager
def gunicorn(database_url: str, log: Path, *, workers: int = 4, threads: int = 4,
             env_overrides: dict[str, str] | None = None) -> Iterator[Gunicorn]:
    listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", 0))
    listener.listen(128)
    listener.set_inheritable(True)
    port = listener.getsockname()[1]
    env = {
        **os.environ,
        "DATABASE_URL": database_url,
        "FLASK_SECRET_KEY": SECRET,
        "FLASHMENTOR_JOBS": "0",
        "FLASHMENTOR_CSRF": "0",
        "FLASHMENTOR_RATELIMIT": "0",
        "FLASHMENTOR_CALENDAR_SYNC_SECONDS": "0",
        "FLASHMENTOR_CALENDAR_PUSH_SECONDS": "0",
        **(env_overrides or {}),
    }
    with log.open("wb") as out:
        process = subprocess.Popen(
            [str(GUNICORN), "--bind", f"fd://{listener.fileno()}", "--workers", str(workers),
             "--threads", str(threads), "--worker-class", "gthread", "--timeout", "60", "wsgi:app"],
            cwd=ROOT, env=env, pass_fds=(listener.fileno(),), stdout=out, stderr=subprocess.STDOUT,
        )
    listener.close()  # gunicorn holds its own copy
    server = Gunicorn(f"http://127.0.0.1:{port}", process)
    try:
        _wait_until_serving(server, workers, log)
        yield server
    finally:
        process.terminate()
        try:
            process.wait(20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(10)


def _wait_until_serving(server: Gunicorn, workers: int, log: Path) -> None:
    """Until every worker has booted (gunicorn logs each) and the app answers."""
    deadline = time.monotonic() + 60
    while True:
        if server.process.poll() is not None:
            raise RuntimeError(f"gunicorn exited: {log.read_text(errors='replace')[-2000:]}")
        booted = log.read_text(errors="replace").count("Booting worker")
        try:
            answered = requests.get(f"{server.url}/api/v1/me", timeout=5).status_code < 500
        except requests.RequestException:  # refused while booting, or slow on a busy machine
            answered = False
        if booted >= workers and answered:
            return
        if time.monotonic() > deadline:
            raise RuntimeError(f"gunicorn did not start: {log.read_text(errors='replace')[-2000:]}")
        time.sleep(0.1)
