"""A loopback OAuth 2.0 authorization server (RFC 6749 authorization-code grant + RFC 7636 PKCE).

Stands in for Google's ``/o/oauth2/v2/auth`` and ``/token`` in the per-user OAuth tests:

- ``GET /authorize``: checks ``response_type=code``, the client, the registered redirect URI
  (a wrong one gets a 400 page, never a redirect: RFC 6749 §4.1.2.1), the scope and an S256
  ``code_challenge``; then "the person" answers at once as ``consent`` says: a 302 back to the
  redirect URI with ``code`` and ``state``, or ``error=access_denied`` and ``state``.
- ``POST /token`` (form-encoded, answers JSON with ``Cache-Control: no-store``, §5.1/§5.2):
  client authentication by HTTP Basic or ``client_id``/``client_secret`` in the body (§2.3.1);
  ``authorization_code``: the code is single-use, bound to its client and redirect URI, and
  ``code_verifier`` must hash to the challenge; ``refresh_token``: a scope wider than granted
  is ``invalid_scope``. Access tokens go into ``tokens`` (share ``GoogleFake.tokens`` so the
  fake Calendar API accepts them).
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlencode, urlsplit

from tests.serving import running

Answer = tuple[int, dict[str, Any]]


@dataclass
class Client:
    secret: str
    redirect_uris: set[str]


@dataclass
class Grant:
    client_id: str
    redirect_uri: str
    challenge: str
    scope: str
    user: str
    used: bool = False


@dataclass
class OAuthFake:
    base_url: str = ""
    clients: dict[str, Client] = field(default_factory=dict)
    user: str = "someone@example.com"  # who consents (login_hint, when given, wins)
    consent: str = "allow"  # or "deny": the person clicks Cancel
    granted_scope: str | None = None  # None: what was asked; else e.g. a narrower scope
    issue_refresh_token: bool = True
    token_error: tuple[int, str, str] | None = None  # next /token answer: (status, error, description)
    codes: dict[str, Grant] = field(default_factory=dict)
    refresh_tokens: dict[str, Grant] = field(default_factory=dict)
    tokens: dict[str, str] = field(default_factory=dict)  # access token -> user
    authorize_requests: list[dict[str, str]] = field(default_factory=list)
    token_requests: list[dict[str, str]] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    @property
    def auth_uri(self) -> str:
        return self.base_url + "/authorize"

    @property
    def token_uri(self) -> str:
        return self.base_url + "/token"

    def register(self, client_id: str, secret: str, *redirect_uris: str) -> None:
        self.clients[client_id] = Client(secret, set(redirect_uris))

    # --- authorization endpoint -------------------------------------------------------------------

    def authorize(self, query: dict[str, str]) -> tuple[int, str, str]:
        """(status, Location or "", error text for a page that must not redirect)."""
        with self.lock:
            self.authorize_requests.append(dict(query))
        client = self.clients.get(query.get("client_id", ""))
        if client is None:
            return 400, "", "invalid_client: The OAuth client was not found."
        redirect_uri = query.get("redirect_uri", "")
        if redirect_uri not in client.redirect_uris:
            return 400, "", "redirect_uri_mismatch: The redirect URI is not registered for this client."
        state = query.get("state")

        def back(**params: str) -> tuple[int, str, str]:
            if state is not None:
                params["state"] = state
            return 302, f"{redirect_uri}?{urlencode(params)}", ""

        if query.get("response_type") != "code":
            return back(error="unsupported_response_type")
        if not query.get("scope"):
            return back(error="invalid_request", error_description="Missing required parameter: scope")
        challenge = query.get("code_challenge", "")
        if query.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
            return back(error="invalid_request", error_description="PKCE S256 code_challenge required")
        if self.consent != "allow":
            return back(error="access_denied")
        scope = self.granted_scope if self.granted_scope is not None else query["scope"]
        code = "4/" + secrets.token_urlsafe(24)
        user = query.get("login_hint") or self.user
        with self.lock:
            self.codes[code] = Grant(query["client_id"], redirect_uri, challenge, scope, user)
        return back(code=code, scope=scope)

    # --- token endpoint ---------------------------------------------------------------------------

    def token(self, form: dict[str, str], authorization: str) -> Answer:
        with self.lock:
            self.token_requests.append(dict(form))
            injected, self.token_error = self.token_error, None
        if injected is not None:
            status, error, description = injected
            return status, {"error": error, "error_description": description}
        client_id, secret = form.get("client_id", ""), form.get("client_secret")
        if authorization.startswith("Basic "):
            user, _, password = base64.b64decode(authorization[6:]).decode().partition(":")
            client_id, secret = unquote_plus(user), unquote_plus(password)
        client = self.clients.get(client_id)
        if client is None or not secrets.compare_digest(client.secret, secret or ""):
            return 401, {"error": "invalid_client", "error_description": "Unauthorized"}
        grant = form.get("grant_type")
        if grant == "authorization_code":
            return self._code_grant(client_id, form)
        if grant == "refresh_token":
            return self._refresh_grant(client_id, form)
        return 400, {"error": "unsupported_grant_type", "error_description": f"Invalid grant_type: {grant}"}

    def _code_grant(self, client_id: str, form: dict[str, str]) -> Answer:
        with self.lock:
            found = self.codes.get(form.get("code", ""))
            if found is None or found.used:
                return 400, {"error": "invalid_grant", "error_description": "Malformed auth code."}
            found.used = True  # single use, even when the rest of the request is wrong
        if found.client_id != client_id or found.redirect_uri != form.get("redirect_uri"):
            return 400, {"error": "invalid_grant", "error_description": "Bad Request"}
        verifier = form.get("code_verifier", "")
        digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
        if base64.urlsafe_b64encode(digest).rstrip(b"=").decode() != found.challenge:
            return 400, {"error": "invalid_grant", "error_description": "Invalid code verifier."}
        answer = self._issue(found)
        if self.issue_refresh_token:
            refresh = "1//" + secrets.token_urlsafe(32)
            with self.lock:
                self.refresh_tokens[refresh] = found
            answer["refresh_token"] = refresh
        return 200, answer

    def _refresh_grant(self, client_id: str, form: dict[str, str]) -> Answer:
        found = self.refresh_tokens.get(form.get("refresh_token", ""))
        if found is None or found.client_id != client_id:
            return 400, {"error": "invalid_grant", "error_description": "Token has been expired or revoked."}
        asked = set(form.get("scope", "").split())
        if not asked <= set(found.scope.split()):
            return 400, {"error": "invalid_scope", "error_description": "Bad Request"}
        return 200, self._issue(found)

    def _issue(self, grant: Grant) -> dict[str, Any]:
        token = "ya29." + secrets.token_urlsafe(16)
        with self.lock:
            self.tokens[token] = grant.user.lower()
        return {"access_token": token, "expires_in": 3599, "token_type": "Bearer", "scope": grant.scope}


def _handler(fake: OAuthFake) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def _send(self, status: int, body: bytes, headers: dict[str, str]) -> None:
            self.send_response(status)
            for key, value in headers.items():
                self.send_header(key, value)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:
            split = urlsplit(self.path)
            if split.path != "/authorize":
                self._send(404, b"not found", {"Content-Type": "text/plain"})
                return
            query = {k: v[0] for k, v in parse_qs(split.query).items()}
            status, location, problem = fake.authorize(query)
            if location:
                self._send(status, b"", {"Location": location})
            else:
                self._send(status, f"Error 400: {problem}".encode(), {"Content-Type": "text/plain"})

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            raw = self.rfile.read(length).decode() if length else ""
            if urlsplit(self.path).path != "/token":
                self._send(404, b"not found", {"Content-Type": "text/plain"})
                return
            if not self.headers.get("Content-Type", "").startswith("application/x-www-form-urlencoded"):
                status, body = 400, {"error": "invalid_request", "error_description": "Form body expected."}
            else:
                form = {k: v[0] for k, v in parse_qs(raw).items()}
                status, body = fake.token(form, self.headers.get("Authorization", ""))
            headers = {"Content-Type": "application/json; charset=utf-8", "Cache-Control": "no-store",
                       "Pragma": "no-cache"}
            if status == 401:
                headers["WWW-Authenticate"] = 'Basic realm="token"'
            self._send(status, json.dumps(body).encode(), headers)

    return Handler


@contextmanager
def oauth_server(fake: OAuthFake | None = None) -> Iterator[OAuthFake]:
    """Serve ``fake`` on a free loopback port for the duration of the block."""
    fake = fake or OAuthFake()
    server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(fake))
    server.daemon_threads = True
    fake.base_url = f"http://127.0.0.1:{server.server_address[1]}"
    with running(server, "oauth-fake"):
        yield fake
