"""The authorization-code token request (RFC 6749 §4.1.3) both our grants make, by Authlib's client:
Google calendar access (:mod:`calendars.google_oauth`) and OpenID Connect sign-in
(:mod:`calendars.oidc_client`), with one mapping of what can go wrong. The server's OAuth error is a
:class:`~calendars.base.GrantRefused` (its RFC 6749 §5.2 code and description); no answer, or one that
is not a token response, is a :class:`~calendars.base.ProviderUnavailable`. No error quotes a token.
"""

from __future__ import annotations

from typing import Any

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError

from calendars.base import GrantRefused, ProviderUnavailable


def fetch_token(client: OAuth2Session, token_endpoint: str, *, unreachable: str = "",
                **params: Any) -> dict[str, Any]:
    """The token response for an authorization code; ``unreachable`` prefixes the message of a
    :class:`ProviderUnavailable` (which names only the kind of failure)."""
    try:
        with client:
            return dict(client.fetch_token(token_endpoint, **params))
    except OAuthError as exc:
        raise GrantRefused(str(exc.error or ""), str(exc.description or "")) from None
    except (requests.RequestException, ValueError) as exc:
        raise ProviderUnavailable(f"{unreachable}{type(exc).__name__}") from None
