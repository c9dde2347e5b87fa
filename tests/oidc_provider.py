"""A real OpenID Provider on loopback: the certified ``oidc-provider`` npm package run by Node.

``tests/oidc_op/`` holds its package.json and lock file; the first run installs it
with ``npm ci`` (node_modules is not committed). The provider listens on a free port
and the tests drive it as a browser would, with ``requests``: authorization request,
the provider's interaction (login) endpoint, the redirect back with a code.
"""

from __future__ import annotations

import fcntl
import json
import secrets
import selectors
import shutil
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urljoin, urlsplit

import requests

OP_DIR = Path(__file__).parent / "oidc_op"
START_DEADLINE = 60.0
INSTALL_TIMEOUT = 300


def ensure_installed() -> str:
    node = shutil.which("node")
    npm = shutil.which("npm")
    if node is None or npm is None:
        raise RuntimeError("The SSO tests need Node.js and npm (apt-get install nodejs npm).")
    # One install at a time: pytest-xdist workers may all get here first.
    with open(Path(tempfile.gettempdir()) / "flashmentor-oidc-op-install.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (OP_DIR / "node_modules" / "oidc-provider").is_dir():
            subprocess.run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=OP_DIR,
                           check=True, timeout=INSTALL_TIMEOUT)
    return node


@dataclass
class OpenIDProvider:
    issuer: str
    client_id: str
    client_secret: str
    redirect_uri: str
    process: subprocess.Popen[bytes]
    accounts: dict[str, dict[str, Any]] = field(default_factory=dict)

    def set_mode(self, mode: str) -> None:
        """How the next ID tokens leave the token endpoint: ok | audience | expired | signature."""
        requests.post(f"{self.issuer}/__test/mode", params={"m": mode}, timeout=10).raise_for_status()

    def rotate_keys(self) -> list[str]:
        resp = requests.post(f"{self.issuer}/__test/rotate", timeout=10)
        resp.raise_for_status()
        return list(resp.json()["kids"])

    def authorize(self, auth_url: str, account: str, browser: requests.Session | None = None) -> str:
        """Act as the person's browser at the provider: sign in as ``account``, return the
        redirect back to the app (its full URL, with code and state)."""
        browser = browser or requests.Session()
        url = auth_url
        for _ in range(10):
            if url.startswith(self.redirect_uri):
                return url
            path = urlsplit(url).path
            if path.startswith("/interaction/"):
                resp = browser.post(url.rstrip("/") + "/login", data={"account": account},
                                    allow_redirects=False, timeout=10)
            else:
                resp = browser.get(url, allow_redirects=False, timeout=10)
            if resp.status_code not in (302, 303):
                raise AssertionError(f"provider answered {resp.status_code} at {url}: {resp.text[:300]}")
            url = urljoin(url, resp.headers["Location"])
        raise AssertionError("the provider never redirected back to the app")


def start(redirect_uri: str, post_logout_uri: str, accounts: dict[str, dict[str, Any]]) \
        -> Iterator[OpenIDProvider]:
    node = ensure_installed()
    client_id, client_secret = "flashmentor-test", secrets.token_urlsafe(32)
    config = {"port": 0, "accounts": accounts, "clients": [{
        "client_id": client_id, "client_secret": client_secret, "redirect_uris": [redirect_uri],
        "post_logout_redirect_uris": [post_logout_uri], "grant_types": ["authorization_code"],
        "response_types": ["code"],
    }]}
    config_path = OP_DIR / f".config-{secrets.token_hex(4)}.json"
    config_path.write_text(json.dumps(config))
    proc = subprocess.Popen([node, "server.js", str(config_path)], cwd=OP_DIR,
                            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        port = _wait_for_port(proc)
        yield OpenIDProvider(issuer=f"http://127.0.0.1:{port}", client_id=client_id,
                             client_secret=client_secret, redirect_uri=redirect_uri,
                             process=proc, accounts=accounts)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        config_path.unlink(missing_ok=True)


def _wait_for_port(proc: subprocess.Popen[bytes]) -> int:
    assert proc.stdout is not None
    selector = selectors.DefaultSelector()
    selector.register(proc.stdout, selectors.EVENT_READ)
    deadline = time.monotonic() + START_DEADLINE
    while time.monotonic() < deadline:
        if selector.select(timeout=deadline - time.monotonic()):
            line = proc.stdout.readline().decode()
            if line.startswith("LISTENING "):
                return int(line.split()[1])
            if not line:
                break
    raise RuntimeError(f"the OpenID Provider did not start (exit code {proc.poll()})")
