"""The domain's side of single sign-on, with the network side given as plain values: what
``scheduling.oidc`` checks itself whatever the installed ``OidcClient`` answers (the real
client against a real provider is in test_sso.py)."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from joserfc import jwt
from joserfc.jwk import RSAKey

from calendars.base import GrantRefused, ProviderUnavailable
from calendars.oidc_base import OidcEndpoints
from calendars.oidc_client import HttpOidcClient
from scheduling import oidc
from scheduling.models import IdentityProvider

pytestmark = pytest.mark.no_database  # no SQL: the PostgreSQL pass leaves it out

ISSUER = "https://login.example.com"


class Answers:
    """An OidcClient that answers what a test sets, and records what it was asked."""

    def __init__(self, endpoints: OidcEndpoints, exchange: Exception | str = "x.y.z",
                 keys: list[dict[str, Any]] | None = None,
                 rotated: list[dict[str, Any]] | None = None) -> None:
        self.endpoints, self.exchange = endpoints, exchange
        self.keys, self.rotated = keys or [], rotated
        self.asked: list[tuple[str, bool]] = []

    def discover(self, issuer: str, *, refresh: bool = False) -> OidcEndpoints:
        return self.endpoints

    def key_set(self, jwks_uri: str, *, refresh: bool = False) -> dict[str, Any]:
        self.asked.append((jwks_uri, refresh))
        return {"keys": self.rotated if refresh and self.rotated is not None else self.keys}

    def exchange_code(self, token_endpoint: str, **kwargs: str) -> str:
        if isinstance(self.exchange, Exception):
            raise self.exchange
        return self.exchange


def _endpoints(issuer: str = ISSUER) -> OidcEndpoints:
    return OidcEndpoints(issuer=issuer, authorization_endpoint=f"{ISSUER}/auth?tenant=t",
                         token_endpoint=f"{ISSUER}/token", jwks_uri=f"{ISSUER}/jwks",
                         end_session_endpoint=f"{ISSUER}/logout")


@pytest.fixture(autouse=True)
def _restore() -> Iterator[None]:
    yield
    oidc.use_client(HttpOidcClient())


def _provider() -> IdentityProvider:
    return IdentityProvider(name="Corp", issuer=ISSUER, client_id="app", client_secret="s",
                            preset="generic", domains=["example.com"])


def test_a_discovery_document_naming_another_issuer_is_refused() -> None:
    oidc.use_client(Answers(_endpoints("https://evil.example.com")))
    with pytest.raises(oidc.ProviderUnreachable, match="evil"):
        oidc.begin(_provider(), "https://app.example.com/cb")


def test_the_authorization_request_keeps_the_endpoints_query_and_adds_pkce() -> None:
    oidc.use_client(Answers(_endpoints()))
    auth = oidc.begin(_provider(), "https://app.example.com/cb", login_hint="ada@example.com")
    query = parse_qs(urlsplit(auth.url).query)
    assert query["tenant"] == ["t"] and query["state"] == [auth.state] and query["nonce"] == [auth.nonce]
    assert query["code_challenge_method"] == ["S256"] and query["login_hint"] == ["ada@example.com"]
    assert query["code_challenge"][0] != auth.code_verifier and len(query["code_challenge"][0]) == 43


@pytest.mark.parametrize(("failure", "error"), [(GrantRefused("invalid_grant"), oidc.SignInFailed),
                                                (ProviderUnavailable("down"), oidc.ProviderUnreachable)])
def test_a_refused_or_failed_code_exchange_signs_nobody_in(failure: Exception, error: type) -> None:
    oidc.use_client(Answers(_endpoints(), exchange=failure))
    with pytest.raises(error):
        oidc.finish(_provider(), code="c", redirect_uri="https://app.example.com/cb", code_verifier="v",
                    nonce="n")


def _key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid})


def _id_token(key: RSAKey, **claims: Any) -> str:
    now = int(time.time())
    body = {"iss": ISSUER, "sub": "u1", "aud": "app", "iat": now, "exp": now + 300, "nonce": "n",
            "email": "ada@example.com", "email_verified": True, **claims}
    return jwt.encode({"alg": "RS256", "kid": key.kid}, body, key)


def test_a_rotated_signing_key_is_fetched_once_and_then_trusted() -> None:
    old, new = _key("old"), _key("new")
    answers = Answers(_endpoints(), exchange=_id_token(new), keys=[old.as_dict(private=False)],
                      rotated=[old.as_dict(private=False), new.as_dict(private=False)])
    oidc.use_client(answers)
    claims, _ = oidc.finish(_provider(), code="c", redirect_uri="https://app.example.com/cb",
                            code_verifier="v", nonce="n")
    assert claims["sub"] == "u1"
    assert answers.asked == [(f"{ISSUER}/jwks", False), (f"{ISSUER}/jwks", True)]


def test_a_key_the_provider_never_published_is_refused() -> None:
    answers = Answers(_endpoints(), exchange=_id_token(_key("stranger")),
                      keys=[_key("old").as_dict(private=False)])
    oidc.use_client(answers)
    with pytest.raises(oidc.SignInFailed, match="does not publish"):
        oidc.finish(_provider(), code="c", redirect_uri="https://app.example.com/cb", code_verifier="v",
                    nonce="n")


@pytest.mark.parametrize(("claims", "message"), [
    ({"nonce": "other"}, "nonce"), ({"aud": "other-app"}, "audience"),
    ({"iss": "https://evil.example.com"}, "iss"), ({"exp": 1}, "exp")])
def test_the_domain_checks_the_claims_whatever_the_client_returns(claims: dict[str, Any],
                                                                  message: str) -> None:
    key = _key("k")
    oidc.use_client(Answers(_endpoints(), exchange=_id_token(key, **claims),
                            keys=[key.as_dict(private=False)]))
    with pytest.raises(oidc.SignInFailed, match=message):
        oidc.finish(_provider(), code="c", redirect_uri="https://app.example.com/cb", code_verifier="v",
                    nonce="n")


def test_a_token_that_is_no_jwt_is_refused_before_any_key_is_trusted() -> None:
    answers = Answers(_endpoints(), exchange="not-a-jwt", keys=[_key("k").as_dict(private=False)])
    oidc.use_client(answers)
    with pytest.raises(oidc.SignInFailed, match="not a signed JWT"):
        oidc.finish(_provider(), code="c", redirect_uri="https://app.example.com/cb", code_verifier="v",
                    nonce="n")
