"""Per-user OAuth for Google tenants: how a person grants us their calendar and we get the refresh token.

The authorization-code grant (RFC 6749 §4.1) with PKCE S256 (RFC 7636); the protocol itself
is the tenant's :class:`calendars.base.AuthorizationCodeGrant` (``calendars.google_oauth``),
reached through the installed providers. :func:`begin` builds the address to send the person
to and the :class:`Pending` grant their session keeps; :func:`finish` checks what came back
(state, error), has the code exchanged at the tenant's ``token_uri`` and stores the refresh
token through :func:`scheduling.tenants.connect_account` (encrypted at rest), then tests the
connection.

The refresh token never leaves this module but into the encrypted column: it is not logged,
not returned, and no error message quotes a token response.
"""

from __future__ import annotations

import hmac
import secrets
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy.orm import Session

from calendars.base import (
    AuthorizationCodeGrant,
    ConnectionCheck,
    GrantRefused,
    ProviderUnavailable,
    SettingsError,
)
from scheduling import tenants
from scheduling.errors import DomainError, ValidationFailed
from scheduling.models import CalendarTenant, Person, Provider

AGAIN = 'Nothing was stored; try "Connect with Google" again.'


class OAuthFailed(DomainError):
    """The grant could not be completed; nothing was stored."""

    code = "oauth_failed"
    status = 400


class StateMismatch(OAuthFailed):
    """The answer does not belong to a grant this browser session started (CSRF, or an old tab)."""

    code = "oauth_state_mismatch"


class AccessDenied(OAuthFailed):
    """The person said no on the provider's consent screen."""

    code = "oauth_access_denied"
    status = 403


class ProviderUnreachable(OAuthFailed):
    code = "oauth_unreachable"
    status = 502


@dataclass(frozen=True)
class Pending:
    """What the person's session keeps while they are at the provider: one grant, used once."""

    tenant_id: int
    person_id: int
    state: str
    verifier: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: Any) -> Pending | None:
        if not isinstance(data, dict):
            return None
        try:
            return cls(int(data["tenant_id"]), int(data["person_id"]), str(data["state"]),
                       str(data["verifier"]))
        except (KeyError, TypeError, ValueError):
            return None


def per_user_oauth(tenant: CalendarTenant) -> bool:
    """True for a Google tenant where each person grants access themselves."""
    return tenant.provider == Provider.GOOGLE and tenant.config.get("auth") == "oauth"


def _grant(tenant: CalendarTenant, redirect_uri: str) -> AuthorizationCodeGrant:
    """The tenant's OAuth client; refuses endpoints that would send codes and the client secret
    over the network in clear (only https, or plain http to a loopback address)."""
    try:
        return tenants.providers().authorization_code_grant(
            tenant.provider.value, tenant.config, tenant.secret, redirect_uri)
    except SettingsError as exc:
        raise ValidationFailed(
            f"The calendar service is misconfigured ({exc}); ask a program admin.", "tenant_id") from None


def begin(tenant: CalendarTenant, person: Person, redirect_uri: str) -> tuple[str, Pending]:
    """Where to send ``person`` to grant calendar access, and the grant their session must keep."""
    if not per_user_oauth(tenant):
        raise ValidationFailed(f"{tenant.name} does not use Connect with Google.", "tenant_id")
    domain = str(tenant.config.get("domain", ""))
    if domain and not person.email.lower().endswith("@" + domain):
        raise ValidationFailed(f"{person.email} is not in {tenant.name}'s domain {domain}.", "tenant_id")
    grant = _grant(tenant, redirect_uri)
    # PKCE verifier: 64 characters of the unreserved set (RFC 7636 §4.1 allows 43-128).
    pending = Pending(tenant.id, person.id, secrets.token_urlsafe(32), secrets.token_urlsafe(48))
    url = grant.authorization_url(state=pending.state, verifier=pending.verifier, login_hint=person.email)
    return url, pending


def check_state(pending: Pending | None, person: Person, state: str | None) -> Pending:
    """The pending grant the answer belongs to; :class:`StateMismatch` if it is not ours."""
    if pending is None:
        raise StateMismatch(
            'This answer from Google does not match a "Connect with Google" started in this browser '
            f"session (it may have expired). {AGAIN}")
    if not state or pending.person_id != person.id or not hmac.compare_digest(pending.state, state):
        raise StateMismatch(
            "This answer from Google does not belong to your connection attempt (the state "
            f"does not match), so it was refused. {AGAIN}")
    return pending


def finish(
    session: Session,
    person: Person,
    pending: Pending,
    *,
    redirect_uri: str,
    code: str | None,
    error: str | None = None,
    error_description: str | None = None,
) -> ConnectionCheck:
    """Complete a grant whose state was checked: exchange the code, store the refresh token,
    test the connection. Raises :class:`OAuthFailed` (nothing stored) on any refusal."""
    tenant = tenants.get_tenant(session, pending.tenant_id)
    if error:
        if error == "access_denied":
            raise AccessDenied("You did not allow access to your Google Calendar, so nothing was "
                               "connected. You can try again whenever you like.")
        detail = f": {error_description[:200]}" if error_description else ""
        raise OAuthFailed(f"Google did not grant access ({error[:60]}{detail}). {AGAIN}")
    if not code:
        raise OAuthFailed(f"Google's answer has no authorization code. {AGAIN}")
    grant = _grant(tenant, redirect_uri)
    try:
        refresh = grant.exchange(code=code, verifier=pending.verifier)
    except GrantRefused as exc:
        raise OAuthFailed(_refusal(exc.error, exc.description)) from None
    except ProviderUnavailable as exc:
        raise ProviderUnreachable(
            f"Google's token endpoint could not be reached or answered nonsense ({exc}). {AGAIN}") from None
    tenants.connect_account(session, person=person, tenant=tenant, external_id=person.email,
                            secret=refresh)
    return tenants.test_connection(session, tenant, person=person)


def _refusal(error: str, description: str) -> str:
    """A token-endpoint error (RFC 6749 §5.2), or an answer we cannot use, in words a person can act on."""
    if error == "missing_scope":
        return ("You signed in but did not allow access to your calendars; "
                f"tick the calendar permission on Google's page. {AGAIN}")
    if error == "no_refresh_token":
        return ("Google granted access but sent no refresh token, so we could not keep the connection. "
                "Remove this app under your Google Account's third-party access, then connect again.")
    words = {
        "invalid_grant": "the authorization code was refused (it expired, was already used, or does "
                         "not match this request)",
        "invalid_client": "the program's OAuth client was refused (its id or secret is wrong; tell a "
                          "program admin)",
        "unauthorized_client": "the program's OAuth client may not use this grant (tell a program admin)",
    }.get(error, f"Google refused the code ({error or 'unknown error'})")
    detail = f": {description[:200]}" if description else ""
    return f"Could not finish connecting: {words}{detail}. {AGAIN}"
