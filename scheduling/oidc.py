"""OpenID Connect relying party: the authorization request and the ID token checks.

Authorization code flow with PKCE (S256); ``state`` and ``nonce`` are made here and
kept by the caller (the web session) between :func:`begin` and :func:`finish`. The ID
token's signature is checked against the issuer's JWKS; when a token names a key id the
cached set lacks, the set is fetched again once (key rotation). Issuer, audience,
authorized party, expiry and nonce are checked with a small clock leeway.

The network (discovery, key set, code exchange) is reached only through the
:class:`calendars.oidc_base.OidcClient` installed by :func:`use_client` at start-up.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet
from joserfc.jws import extract_compact

from calendars.base import GrantRefused, ProviderUnavailable
from calendars.oidc_base import OidcClient, OidcEndpoints
from scheduling.errors import DomainError
from scheduling.models import IdentityProvider

LEEWAY_SECONDS = 60
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "ES256", "ES384")

_client: OidcClient | None = None


def use_client(client: OidcClient) -> None:
    """Install the network side (``worker.startup.connect_providers`` does, with HttpOidcClient)."""
    global _client
    _client = client


def _network() -> OidcClient:
    if _client is None:
        raise RuntimeError("scheduling.oidc.use_client() was not called at start-up "
                           "(worker.startup.connect_providers does)")
    return _client


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


def discover(issuer: str, *, refresh: bool = False) -> OidcEndpoints:
    """The issuer's endpoints; its discovery document must name exactly the issuer configured."""
    try:
        endpoints = _network().discover(issuer, refresh=refresh)
    except ProviderUnavailable as exc:
        raise ProviderUnreachable(str(exc), "issuer") from None
    if endpoints.issuer != issuer:
        raise ProviderUnreachable(
            f"The discovery document names the issuer {endpoints.issuer!r}, not {issuer!r}.", "issuer")
    return endpoints


def _keys(jwks_uri: str, *, refresh: bool) -> KeySet:
    try:
        return KeySet.import_key_set(_network().key_set(jwks_uri, refresh=refresh))  # type: ignore[arg-type]
    except ProviderUnavailable as exc:
        raise ProviderUnreachable(str(exc)) from None
    except (JoseError, ValueError, TypeError) as exc:
        raise ProviderUnreachable(f"The identity provider's key set at {jwks_uri} is not usable.") from exc


def _with_params(url: str, params: dict[str, str]) -> str:
    parts = urlsplit(url)
    query = urlencode([*parse_qsl(parts.query, keep_blank_values=True), *params.items()])
    return urlunsplit(parts._replace(query=query))


def _s256(verifier: str) -> str:
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


def begin(provider: IdentityProvider, redirect_uri: str, *, login_hint: str = "") -> AuthRequest:
    """The authorization request: code flow, PKCE S256, fresh state and nonce."""
    doc = discover(provider.issuer)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    params: dict[str, str] = {
        "response_type": "code", "client_id": provider.client_id, "redirect_uri": redirect_uri,
        "scope": "openid email profile", "state": state, "nonce": nonce,
        "code_challenge": _s256(verifier), "code_challenge_method": "S256",
    }
    if login_hint:
        params["login_hint"] = login_hint
    if provider.preset == "google" and len(provider.domains) == 1:
        params["hd"] = provider.domains[0]
    url = _with_params(doc.authorization_endpoint, params)
    return AuthRequest(url=url, state=state, nonce=nonce, code_verifier=verifier)


def finish(provider: IdentityProvider, *, code: str, redirect_uri: str, code_verifier: str,
           nonce: str) -> tuple[dict[str, Any], str]:
    """Exchange the code for tokens and return the validated ID token's claims and the raw token."""
    doc = discover(provider.issuer)
    try:
        id_token = _network().exchange_code(
            doc.token_endpoint, client_id=provider.client_id, client_secret=provider.client_secret or "",
            code=code, redirect_uri=redirect_uri, code_verifier=code_verifier)
    except ProviderUnavailable as exc:
        raise ProviderUnreachable(str(exc)) from None
    except GrantRefused as exc:
        raise SignInFailed(f"The identity provider refused the sign-in: {exc}") from None
    return validate_id_token(provider, id_token, nonce=nonce), id_token


def validate_id_token(provider: IdentityProvider, id_token: str, *, nonce: str) -> dict[str, Any]:
    """Signature (JWKS, refetched once for an unknown key id), issuer, audience, azp, expiry, nonce."""
    doc = discover(provider.issuer)
    keys = _keys(doc.jwks_uri, refresh=False)
    try:
        token = _decode(id_token, keys)
    except _UnknownKey:
        try:
            token = _decode(id_token, _keys(doc.jwks_uri, refresh=True))
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
    if doc.end_session_endpoint is None:
        return None
    return _with_params(doc.end_session_endpoint, {
        "id_token_hint": id_token, "post_logout_redirect_uri": post_logout_redirect_uri,
        "client_id": provider.client_id})
