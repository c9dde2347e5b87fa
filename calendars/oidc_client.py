"""The OpenID Provider over HTTP (requests + Authlib): discovery, the key set, the code exchange.

Implements :class:`calendars.oidc_base.OidcClient`; takes and returns plain values. Discovery
documents and key sets are cached for an hour per URL (a refresh fetches again, as the domain
asks when a token names a key id the cached set lacks).
"""

from __future__ import annotations

import threading
import time
from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session

from calendars import deadlines
from calendars.base import GrantRefused, ProviderUnavailable
from calendars.oauth_code import fetch_token
from calendars.oidc_base import OidcEndpoints

READ_TIMEOUT = 10.0
CACHE_SECONDS = 3600.0


class HttpOidcClient:
    def __init__(self, cache_seconds: float = CACHE_SECONDS) -> None:
        self.cache_seconds = cache_seconds
        self._lock = threading.Lock()
        self._documents: dict[str, tuple[float, dict[str, Any]]] = {}

    def _timeout(self) -> tuple[float, float]:
        return deadlines.current().calendar_connect, READ_TIMEOUT

    def _get_json(self, url: str, *, refresh: bool) -> dict[str, Any]:
        now = time.monotonic()
        with self._lock:
            cached = self._documents.get(url)
        if cached and not refresh and now - cached[0] < self.cache_seconds:
            return cached[1]
        try:
            resp = requests.get(url, timeout=self._timeout(), headers={"Accept": "application/json"})
            resp.raise_for_status()
            body = resp.json()
        except (requests.RequestException, ValueError) as exc:
            raise ProviderUnavailable(
                f"The identity provider did not answer at {url}: {type(exc).__name__}") from None
        if not isinstance(body, dict):
            raise ProviderUnavailable(f"The identity provider's answer at {url} is not a JSON object.")
        with self._lock:
            self._documents[url] = (now, body)
        return body

    def discover(self, issuer: str, *, refresh: bool = False) -> OidcEndpoints:
        doc = self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration", refresh=refresh)
        for key in ("issuer", "authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(doc.get(key), str):
                raise ProviderUnavailable(f"The discovery document has no {key}.")
        end_session = doc.get("end_session_endpoint")
        return OidcEndpoints(issuer=doc["issuer"], authorization_endpoint=doc["authorization_endpoint"],
                             token_endpoint=doc["token_endpoint"], jwks_uri=doc["jwks_uri"],
                             end_session_endpoint=end_session if isinstance(end_session, str) else None)

    def key_set(self, jwks_uri: str, *, refresh: bool = False) -> dict[str, Any]:
        return self._get_json(jwks_uri, refresh=refresh)

    def exchange_code(self, token_endpoint: str, *, client_id: str, client_secret: str, code: str,
                      redirect_uri: str, code_verifier: str) -> str:
        client = OAuth2Session(client_id, client_secret, redirect_uri=redirect_uri)
        token = fetch_token(client, token_endpoint, code=code, code_verifier=code_verifier,
                            timeout=self._timeout(),
                            unreachable="The identity provider's token endpoint did not answer: ")
        id_token = token.get("id_token")
        if not isinstance(id_token, str):
            raise GrantRefused("", "The identity provider sent no ID token.")
        return id_token
