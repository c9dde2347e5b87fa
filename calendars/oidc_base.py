"""What single sign-on needs from an OpenID Provider over the network, as plain values.

:mod:`scheduling.oidc` (the domain) makes state, nonce and PKCE, checks the ID token
(signature against the key set, issuer, audience, expiry, nonce) and links accounts; it
reaches the network only through an :class:`OidcClient`, which start-up hands it
(``worker.startup.connect_providers``: ``calendars.oidc_client.HttpOidcClient``), the
way calendar providers are reached through :class:`calendars.base.CalendarProviders`.
This module imports no HTTP library, so the domain may import it. Its failures are the ones every
grant raises (:mod:`calendars.oauth_code`): ``calendars.base.ProviderUnavailable`` (not reached, or
not what was asked) and ``calendars.base.GrantRefused`` (an OAuth error, e.g. ``invalid_grant``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol


@dataclass(frozen=True)
class OidcEndpoints:
    """The parts of a discovery document sign-in uses."""

    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str
    end_session_endpoint: str | None = None


class OidcClient(Protocol):
    def discover(self, issuer: str, *, refresh: bool = False) -> OidcEndpoints:
        """The issuer's discovery document (may be cached; ``refresh`` fetches it again).
        Raises ``ProviderUnavailable``; checking that it names ``issuer`` is the caller's job."""
        ...

    def key_set(self, jwks_uri: str, *, refresh: bool = False) -> dict[str, Any]:
        """The provider's JWKS as JSON (may be cached; ``refresh`` fetches it again, as after a
        key rotation). Raises ``ProviderUnavailable``."""
        ...

    def exchange_code(self, token_endpoint: str, *, client_id: str, client_secret: str, code: str,
                      redirect_uri: str, code_verifier: str) -> str:
        """The raw ID token for an authorization code (unchecked). Raises ``GrantRefused`` or
        ``ProviderUnavailable``."""
        ...
