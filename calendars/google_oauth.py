"""Google's authorization-code grant with PKCE S256 (RFC 6749 §4.1, RFC 7636), by Authlib's client.

Takes a tenant's plain settings; :mod:`scheduling.oauth` keeps the person's pending grant,
checks what comes back and stores the refresh token, reaching this module only through
:class:`calendars.base.AuthorizationCodeGrant`. No error raised here quotes a token response.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from authlib.common.security import is_secure_transport
from authlib.integrations.requests_client import OAuth2Session

from calendars.base import GrantRefused, SettingsError
from calendars.oauth_code import fetch_token

GOOGLE_AUTH_URI = "https://accounts.google.com/o/oauth2/v2/auth"
GOOGLE_TOKEN_URI = "https://oauth2.googleapis.com/token"
# The scope calendars.google refreshes its tokens with: asking for less would make every refresh
# fail with invalid_scope (freeBusy, events.insert/patch/delete, events.list with syncToken).
CALENDAR_SCOPE = "https://www.googleapis.com/auth/calendar"


def endpoints(config: Mapping[str, Any]) -> tuple[str, str]:
    """(authorization endpoint, token endpoint): Google's unless the config overrides them.

    Only https is accepted, or plain http to a loopback address (RFC 8252 §7.3), so a
    misconfigured tenant cannot send codes and client secrets over the network in clear.
    """
    auth_uri = str(config.get("auth_uri") or GOOGLE_AUTH_URI)
    token_uri = str(config.get("token_uri") or GOOGLE_TOKEN_URI)
    for name, uri in (("auth_uri", auth_uri), ("token_uri", token_uri)):
        if not is_secure_transport(uri):
            raise SettingsError(f"{name} must be an https URL", name)
    return auth_uri, token_uri


class GoogleCodeGrant:
    """One tenant's OAuth client, for one callback address."""

    def __init__(self, config: Mapping[str, Any], client_secret: str | None, redirect_uri: str) -> None:
        self.auth_uri, self.token_uri = endpoints(config)
        self.client_id = str(config.get("client_id", ""))
        self.client_secret = client_secret or ""
        self.redirect_uri = redirect_uri
        self.timeout = float(config.get("timeout", 30))

    def _client(self) -> OAuth2Session:
        return OAuth2Session(
            client_id=self.client_id,
            client_secret=self.client_secret,
            token_endpoint_auth_method="client_secret_post",  # as google-auth sends it when refreshing
            scope=CALENDAR_SCOPE,
            redirect_uri=self.redirect_uri,
            code_challenge_method="S256",
            default_timeout=self.timeout,
        )

    def authorization_url(self, *, state: str, verifier: str, login_hint: str) -> str:
        """``access_type=offline`` + ``prompt=consent`` make Google issue a refresh token every
        time, also to someone who granted access before; ``login_hint`` preselects their account."""
        with self._client() as client:
            url, _state = client.create_authorization_url(
                self.auth_uri, state=state, code_verifier=verifier,
                access_type="offline", prompt="consent", login_hint=login_hint,
            )
        return str(url)

    def exchange(self, *, code: str, verifier: str) -> str:
        token = fetch_token(self._client(), self.token_uri, grant_type="authorization_code", code=code,
                            code_verifier=verifier)
        if CALENDAR_SCOPE not in str(token.get("scope") or CALENDAR_SCOPE).split():
            raise GrantRefused("missing_scope")
        refresh = token.get("refresh_token")
        if not refresh:
            raise GrantRefused("no_refresh_token")
        return str(refresh)
