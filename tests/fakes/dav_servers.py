"""Real CalDAV servers (Radicale, Xandikos) started on loopback for the contract tests.

Each runs as a subprocess on a free port with its own temporary storage, so tests
exercise the connector against real server behaviour, not a model of it.
"""

from __future__ import annotations

import base64
import hashlib
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import requests

from tests.fakes.tls import make_tls_files
from tests.ports import free_port


@dataclass
class DavServer:
    name: str
    base_url: str  # server root, ends with "/"
    username: str
    password: str
    process: subprocess.Popen[bytes]
    ca_file: str | bool = True  # what the client should trust

    def calendar_url(self, owner: str, calendar: str) -> str:
        return f"{self.base_url}{owner}/{calendar}/"


def _wait_until_up(
    url: str, process: subprocess.Popen[bytes], auth: tuple[str, str] | None, verify: str | bool = True
) -> None:
    """Until the server answers; it must still be running then (one that could not bind the port
    exits at once, and the answer came from whoever has it)."""
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}")
        try:
            requests.request("OPTIONS", url, auth=auth, timeout=1, verify=verify)
        except requests.ConnectionError:
            time.sleep(0.05)
            continue
        if process.poll() is not None:
            raise RuntimeError(f"server exited with {process.returncode}; another one answers at {url}")
        return
    raise RuntimeError(f"server at {url} did not start")


def _stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(timeout=5)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@contextmanager
def radicale(
    tmp: Path, username: str = "alice", password: str = "wonderland", *, auth: bool = True
) -> Iterator[DavServer]:
    """Radicale with htpasswd (plain) auth; collections live under /<user>/.

    ``auth=False``: no authentication at all (``--auth-type none``): anyone may read and write
    every collection, as on a server behind a trusted network; ``username``/``password`` are ""."""
    port = free_port()
    htpasswd = tmp / "htpasswd"
    htpasswd.write_text(f"{username}:{password}\nbob:builder\n")
    storage = tmp / "radicale-storage"
    if auth:
        access = ["--auth-type", "htpasswd", "--auth-htpasswd-filename", str(htpasswd),
                  "--auth-htpasswd-encryption", "plain", "--auth-delay", "0", "--rights-type", "owner_only"]
    else:
        access = ["--auth-type", "none", "--rights-type", "authenticated"]
        username = password = ""
    cmd = [
        sys.executable,
        "-m",
        "radicale",
        "--server-hosts",
        f"127.0.0.1:{port}",
        "--storage-filesystem-folder",
        str(storage),
        *access,
        "--logging-level",
        "warning",
    ]
    process = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp)}
    )
    try:
        base = f"http://127.0.0.1:{port}/"
        _wait_until_up(base, process, (username, password) if auth else None)
        yield DavServer("radicale", base, username, password, process)
    finally:
        _stop(process)


@contextmanager
def xandikos(tmp: Path, username: str = "alice", password: str = "wonderland") -> Iterator[DavServer]:
    """Xandikos with HTTP Basic auth; it allows that only over TLS, so it gets a certificate
    from a throwaway CA that the client is told to trust. The principal is /user/."""
    port = free_port()
    root = tmp / "xandikos-data"
    state = tmp / "xandikos-state"
    (state / "certs").mkdir(parents=True)
    ca, cert, key = make_tls_files(tmp)
    shutil.copy(cert, state / "certs" / "selfsigned.crt")
    shutil.copy(key, state / "certs" / "selfsigned.key")
    htpasswd = tmp / "xandikos-htpasswd"
    digest = base64.b64encode(hashlib.sha1(password.encode()).digest()).decode()
    htpasswd.write_text(f"{username}:{{SHA}}{digest}\n")
    exe = Path(sys.executable).with_name("xandikos")
    cmd = [
        str(exe),
        "serve",
        "-d",
        str(root),
        "--autocreate",
        "-l",
        "127.0.0.1",
        "-p",
        str(port),
        "--no-detect-systemd",
        "--state-dir",
        str(state),
        "--autocert",
        "--htpasswd",
        str(htpasswd),
    ]
    process = subprocess.Popen(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env={**os.environ, "HOME": str(tmp)}
    )
    try:
        base = f"https://127.0.0.1:{port}/"
        _wait_until_up(base, process, (username, password), str(ca))
        yield DavServer("xandikos", base, username, password, process, str(ca))
    finally:
        _stop(process)
