"""OpenID Connect relying party: discovery, the authorization request, the code exchange, ID token checks.

Authorization code flow with PKCE (S256); ``state`` and ``nonce`` are made here and
kept by the caller (the web session) between :func:`begin` and :func:`finish`. The ID
token's signature is checked against the issuer's JWKS, fetched once and fetched again
when a token names a key id the cached set lacks (key rotation). Issuer, audience,
authorized party, expiry and nonce are checked with a small clock leeway.
"""

from __future__ import annotations

import secrets
import threading
import time
from dataclasses import dataclass
from typing import Any

import requests
from authlib.common.urls import add_params_to_uri
from authlib.integrations.requests_client import OAuth2Session
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from scheduling.errors import DomainError
from scheduling.models import IdentityProvider

HTTP_TIMEOUT = 10
DISCOVERY_TTL = 3600.0
JWKS_TTL = 3600.0
LEEWAY_SECONDS = 60
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")


class SignInFailed(DomainError):
    """The identity provider's answer could not be used to sign anyone in."""

    code = "sso_failed"
    status = 401


class ProviderUnreachable(DomainError):
    code = "sso_provider_unreachable"
    status = 502


@dataclass(frozen=True)
class AuthRequest:
    """Where to send the browser, and what the session must keep until the callback."""

    url: str
    state: str
    nonce: str
    code_verifier: str


_lock = threading.Lock()
_discovery: dict[str, tuple[float, dict[str, Any]]] = {}
_jwks: dict[str, tuple[float, KeySet]] = {}


def clear_caches() -> None:
    with _lock:
        _discovery.clear()
        _jwks.clear()


def _get_json(url: str) -> dict[str, Any]:
    try:
        resp = requests.get(url, timeout=HTTP_TIMEOUT, headers={"Accept": "application/json"})
        resp.raise_for_status()
        body = resp.json()
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnreachable(f"The identity provider did not answer at {url}: {exc}") from exc
    if not isinstance(body, dict):
        raise ProviderUnreachable(f"The identity provider's answer at {url} is not a JSON object.")
    return body


def discover(issuer: str, *, refresh: bool = False) -> dict[str, Any]:
    """The issuer's discovery document (cached); its ``issuer`` must be exactly the one configured."""
    now = time.monotonic()
    with _lock:
        cached = _discovery.get(issuer)
    if cached and not refresh and now - cached[0] < DISCOVERY_TTL:
        return cached[1]
    doc = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if doc.get("issuer") != issuer:
        raise ProviderUnreachable(
            f"The discovery document names the issuer {doc.get('issuer')!r}, not {issuer!r}.", "issuer")
    for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
        if not isinstance(doc.get(key), str):
            raise ProviderUnreachable(f"The discovery document has no {key}.", "issuer")
    with _lock:
        _discovery[issuer] = (now, doc)
    return doc


def _keys(jwks_uri: str, *, refresh: bool) -> KeySet:
    now = time.monotonic()
    with _lock:
        cached = _jwks.get(jwks_uri)
    if cached and not refresh and now - cached[0] < JWKS_TTL:
        return cached[1]
    try:
        keys = KeySet.import_key_set(_get_json(jwks_uri))  # type: ignore[arg-type]
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderUnreachable(f"The identity provider's key set at {jwks_uri} is not usable.") from exc
    with _lock:
        _jwks[jwks_uri] = (now, keys)
    return keys


def begin(provider: IdentityProvider, redirect_uri: str, *, login_hint: str = "") -> AuthRequest:
    """The authorization request: code flow, PKCE S256, fresh state and nonce."""
    doc = discover(provider.issuer)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    params: dict[str, str] = {
        "response_type": "code", "client_id": provider.client_id, "redirect_uri": redirect_uri,
        "scope": "openid email profile", "state": state, "nonce": nonce,
        "code_challenge": create_s256_code_challenge(verifier), "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    if provider.preset == "google" and len(provider.domains) == 1:
        params["hd"] = provider.domains[0]
    url = add_params_to_uri(doc["authorization_endpoint"], params)
    return AuthRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def finish(provider: IdentityProvider, *, code: str, redirect_uri: str, code_verifier: str,
           nonce: str) -> tuple[dict[str, Any], str]:
    """Exchange the code for tokens and return the validated ID token's claims and the raw token."""
    doc = discover(provider.issuer)
    client = OAuth2Session(provider.client_id, provider.client_secret, redirect_uri=redirect_uri)
    try:
        token = client.fetch_token(doc["token_endpoint"], code=code, code_verifier=code_verifier,
                                   timeout=HTTP_TIMEOUT)
    except requests.RequestException as exc:
        raise ProviderUnreachable(f"The identity provider's token endpoint did not answer: {exc}") from exc
    except Exception as exc:  # Authlib raises OAuthError subclasses for error answers
        raise SignInFailed(f"The identity provider refused the sign-in: {exc}") from exc
    id_token = token.get("id_token")
    if not isinstance(id_token, str):
        raise SignInFailed("The identity provider sent no ID token.")
    return validate_id_token(provider, id_token, nonce=nonce), id_token


def validate_id_token(provider: IdentityProvider, id_token: str, *, nonce: str) -> dict[str, Any]:
    """Signature (JWKS, refetched once for an unknown key id), issuer, audience, azp, expiry, nonce."""
    doc = discover(provider.issuer)
    keys = _keys(doc["jwks_uri"], refresh=False)
    try:
        token = _decode(id_token, keys)
    except _UnknownKey:
        try:
            token = _decode(id_token, _keys(doc["jwks_uri"], refresh=True))
        except _UnknownKey as exc:
            raise SignInFailed("The ID token is signed with a key the identity provider does not publish.") \
                from exc
    claims = dict(token.claims)
    registry = jwt.JWTClaimsRegistry(
        leeway=LEEWAY_SECONDS,
        iss={"essential": True, "value": provider.issuer},
        sub={"essential": True},
        exp={"essential": True},
        iat={"essential": True},
        nonce={"essential": True, "value": nonce},
    )
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise SignInFailed(f"The ID token was refused: {exc.description or exc.error}.") from exc
    audiences = claims.get("aud")
    audiences = [audiences] if isinstance(audiences, str) else list(audiences or [])
    if provider.client_id not in audiences:
        raise SignInFailed("The ID token was issued to another application (audience).")
    if len(audiences) > 1 and claims.get("azp") != provider.client_id:
        raise SignInFailed("The ID token's authorized party is another application.")
    return claims


class _UnknownKey(Exception):
    pass


def _decode(id_token: str, keys: KeySet) -> jwt.Token:
    try:
        header = extract_compact(id_token.encode()).headers()
    except (JoseError, ValueError) as exc:
        raise SignInFailed("The ID token is not a signed JWT.") from exc
    kid = header.get("kid")
    if kid is not None and not any(k.kid == kid for k in keys.keys):
        raise _UnknownKey(kid)
    try:
        return jwt.decode(id_token, keys, algorithms=list(SIGNING_ALGORITHMS))
    except JoseError as exc:
        raise SignInFailed("The ID token's signature does not verify.") from exc
    except ValueError as exc:  # no key in the set fits the token's algorithm
        raise SignInFailed(f"The ID token cannot be checked: {exc}.") from exc


def logout_url(provider: IdentityProvider, *, id_token: str, post_logout_redirect_uri: str) -> str | None:
    """RP-initiated logout at the provider, when its discovery document offers it."""
    try:
        doc = discover(provider.issuer)
    except DomainError:
        return None
    endpoint = doc.get("end_session_endpoint")
    if not isinstance(endpoint, str):
        return None
    return str(add_params_to_uri(endpoint, {
        "id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri,
        "client_id": provider.client_id}))
