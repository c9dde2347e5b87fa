"""Calendar tenants (set up by IT admins) and the calendar accounts people reach through them.

Secrets go into the encrypted ``secret`` columns and never come back out of this
module except to build a connector; :func:`describe_tenant` shows only whether one
is set. Everything that needs a provider (checking settings, building connectors,
testing a connection, admin consent addresses, the per-user OAuth grant) is asked of
the :class:`calendars.base.CalendarProviders` handed over at start-up
(:func:`use_providers`, called by ``worker.startup.connect_providers`` with
``calendars.registry.PROVIDERS``), so this package imports no provider module.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import os
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, Literal

from sqlalchemy import select, text
from sqlalchemy.orm import Session

from calendars.base import (
    BusyInterval,
    CalendarConnector,
    CalendarIdentity,
    CalendarProviders,
    ConnectionCheck,
    SettingsError,
)
from freebusy.cache import BusyCache, CacheStore
from scheduling import calendar_health, calendar_reads, events
from scheduling.db import get_row
from scheduling.errors import Conflict, Forbidden, ValidationFailed
from scheduling.errors import NotFound as DomainNotFound
from scheduling.models import CalendarAccount, CalendarTenant, ConnectionHealth, Meeting, Person, Provider

log = logging.getLogger(__name__)
NAME_MAX = 200
_providers: list[CalendarProviders] = []


def use_providers(providers: CalendarProviders) -> None:
    """Start-up: the providers every tenant is checked and connected through (stateless, set once)."""
    _providers[:] = [providers]


def providers() -> CalendarProviders:
    if not _providers:
        raise RuntimeError("No calendar providers installed: call worker.startup.connect_providers() "
                           "at start-up (the app factory does).")
    return _providers[0]


# --- tenants --------------------------------------------------------------------------------------


def _provider(value: str) -> Provider:
    try:
        return Provider(str(value).strip().lower())
    except ValueError:
        raise ValidationFailed("Provider must be google, microsoft or caldav.", "provider") from None


def _checked(provider: Provider, config: Any, secret: str | None) -> dict[str, Any]:
    if not isinstance(config, Mapping):
        raise ValidationFailed("config must be an object.", "config")
    try:
        return providers().validate(provider.value, config, secret)
    except SettingsError as exc:
        raise ValidationFailed(str(exc), exc.field) from None


def _name(session: Session, name: Any, tenant_id: int | None = None) -> str:
    text = str(name or "").strip()
    if not text:
        raise ValidationFailed("Give the tenant a name.", "name")
    if len(text) > NAME_MAX:
        raise ValidationFailed(f"The name is longer than {NAME_MAX} characters.", "name")
    clash = session.scalar(select(CalendarTenant).where(CalendarTenant.name == text))
    if clash is not None and clash.id != tenant_id:
        raise Conflict(f"A tenant named {text!r} exists already.", "name")
    return text


def create_tenant(
    session: Session, *, name: str, provider: str, config: Mapping[str, Any], secret: str | None = None
) -> CalendarTenant:
    """Validate everything, then store the tenant (secret encrypted at rest)."""
    kind = _provider(provider)
    secret = secret or None
    clean = _checked(kind, config, secret)
    tenant = CalendarTenant(
        name=_name(session, name), provider=kind, config=clean, secret=secret, sync_state={}
    )
    session.add(tenant)
    session.commit()
    return tenant


_KEEP = object()


def update_tenant(
    session: Session,
    tenant: CalendarTenant,
    *,
    name: str | None = None,
    config: Mapping[str, Any] | None = None,
    secret: str | object | None = _KEEP,
) -> CalendarTenant:
    """Change name/config/secret; omitted values stay. The result is validated as a whole."""
    new_name = _name(session, name, tenant.id) if name is not None else tenant.name
    new_secret = tenant.secret if secret is _KEEP else (secret or None)
    assert new_secret is None or isinstance(new_secret, str)
    merged = {**tenant.config, **config} if config is not None else dict(tenant.config)
    clean = _checked(tenant.provider, merged, new_secret)
    tenant.name = new_name
    tenant.config = clean
    if secret is not _KEEP:
        tenant.secret = new_secret
        tenant.sync_state = {}  # new credentials may see other calendars: start cursors over
    session.commit()
    return tenant


def get_tenant(session: Session, tenant_id: int) -> CalendarTenant:
    tenant = get_row(session, CalendarTenant, tenant_id)
    if tenant is None:
        raise DomainNotFound("No such calendar tenant.")
    return tenant


def list_tenants(session: Session) -> list[CalendarTenant]:
    return list(session.scalars(select(CalendarTenant).order_by(CalendarTenant.name)))


def delete_tenant(session: Session, tenant: CalendarTenant) -> None:
    session.delete(tenant)
    session.commit()


def admin_consent_url(tenant: CalendarTenant, redirect_uri: str) -> str | None:
    """For Microsoft tenants: where their admin grants the app its permissions."""
    if tenant.provider != Provider.MICROSOFT:
        return None
    return providers().admin_consent_url(tenant.provider.value, tenant.config, redirect_uri,
                                         f"tenant-{tenant.id}")


def describe_tenant(tenant: CalendarTenant, *, redirect_uri: str | None = None) -> dict[str, Any]:
    """A tenant as admins see it: settings, "set"/"not set" for the secret, never the secret."""
    ok_times = [a.last_ok_at for a in tenant.accounts if a.last_ok_at is not None]
    out: dict[str, Any] = {
        "id": tenant.id,
        "name": tenant.name,
        "provider": tenant.provider.value,
        "config": dict(tenant.config),
        "secret": "set" if tenant.secret else "not set",
        "accounts": len(tenant.accounts),
        "last_sync_at": tenant.last_sync_at.isoformat() if tenant.last_sync_at else None,
        "last_sync_status": tenant.last_sync_status,
        # Connection health: the latest sync or test of one of its calendars that got through,
        # and every connection that is broken (since when, why).
        "last_ok_sync_at": max(ok_times).isoformat() if ok_times else None,
        "broken_accounts": [
            {"person_id": a.person_id, **calendar_health.describe(a)} for a in tenant.accounts if a.broken
        ],
        "created_at": tenant.created_at.isoformat() if tenant.created_at else None,
    }
    if redirect_uri and tenant.provider == Provider.MICROSOFT:
        out["admin_consent_url"] = admin_consent_url(tenant, redirect_uri)
    return out


def rotate_secrets(session: Session) -> int:
    """Re-encrypt every stored calendar secret with the newest key (after prepending one to
    FLASHMENTOR_SECRET_KEYS); returns how many values were rewritten. Old keys can then go."""
    from scheduling import crypto

    count = 0
    for table in ("calendar_tenants", "calendar_accounts", "calendar_push_subscriptions"):
        rows = session.execute(text(f"SELECT id, secret FROM {table} WHERE secret IS NOT NULL")).all()
        for row_id, token in rows:
            session.execute(text(f"UPDATE {table} SET secret = :secret WHERE id = :id"),
                            {"secret": crypto.rotate(token), "id": row_id})
            count += 1
    session.commit()
    return count


# --- connectors -----------------------------------------------------------------------------------


def connector_for(tenant: CalendarTenant) -> CalendarConnector:
    """The tenant's connector, reused while its settings are unchanged (keeps tokens and sessions)."""
    try:
        return providers().connector(tenant.id, tenant.provider.value, tenant.config, tenant.secret)
    except SettingsError as exc:
        raise ValidationFailed(str(exc), exc.field) from None


def identity_for(account: CalendarAccount, person: Person) -> CalendarIdentity:
    return CalendarIdentity(
        person_key=str(person.id),
        external_id=account.external_id,
        username=account.username,
        secret=account.secret,
        email=person.email,
        time_zone=person.time_zone,
    )


# --- accounts -------------------------------------------------------------------------------------


OPERATOR: Literal["operator"] = "operator"
"""``assigned_by`` for the command line: whoever holds the server's database settings assigns."""


def _check_mailbox(person: Person, external: str, assigned_by: Person | Literal["operator"] | None) -> None:
    """A Google or Microsoft tenant reaches every mailbox of the organisation, so the address decides
    whose calendar is read and written. A person links only their own verified address; another
    address is an explicit assignment by an admin (or the operator at the command line)."""
    if external.lower() == person.email.lower():
        return
    if assigned_by == OPERATOR or (isinstance(assigned_by, Person) and assigned_by.is_admin):
        return
    raise Forbidden(
        f"You can link only your own calendar ({person.email}); ask an admin to assign {external}.",
        "external_id",
    )


def connect_account(
    session: Session,
    *,
    person: Person,
    tenant: CalendarTenant,
    external_id: str | None = None,
    username: str = "",
    secret: str | None = None,
    assigned_by: Person | Literal["operator"] | None = None,
) -> CalendarAccount:
    """Link ``person`` to their calendar in ``tenant`` (replacing an earlier link).

    ``assigned_by`` is who acts: ``None`` when the person links their own calendar (a Google or
    Microsoft address must then be their own email), an admin (or :data:`OPERATOR`) for an explicit
    assignment of another address.
    """
    external = str(external_id or "").strip()
    if tenant.provider == Provider.CALDAV:
        if not external:
            raise ValidationFailed(
                "Give the person's calendar URL (or its path on the server).", "external_id"
            )
        try:
            external = providers().calendar_address(tenant.provider.value, tenant.config, external)
        except SettingsError as exc:
            raise ValidationFailed(str(exc), exc.field) from None
        if tenant.config.get("auth") == "none":
            if username.strip() or secret:
                raise ValidationFailed(
                    "This CalDAV server asks for no sign-in: leave the username and password empty.",
                    "username",
                )
        elif not tenant.config.get("username") and not (username and secret):
            raise ValidationFailed(
                "This CalDAV server has no shared account: give the person's username and password.",
                "username",
            )
    else:
        external = external or person.email
        if "@" not in external:
            raise ValidationFailed("Give the person's calendar address (their email).", "external_id")
        domain = str(tenant.config.get("domain", ""))
        if tenant.provider == Provider.GOOGLE and domain and not external.lower().endswith("@" + domain):
            raise ValidationFailed(f"{external} is not in the tenant's domain {domain}.", "external_id")
        _check_mailbox(person, external, assigned_by)
        if tenant.provider == Provider.GOOGLE and tenant.config.get("auth") == "oauth" and not secret:
            raise ValidationFailed("Per-user OAuth needs the person's refresh token.", "secret")
    account = session.scalar(select(CalendarAccount).where(CalendarAccount.person_id == person.id))
    if account is None:
        account = CalendarAccount(person_id=person.id, tenant_id=tenant.id, external_id=external)
        session.add(account)
    account.tenant_id = tenant.id
    account.tenant = tenant
    account.external_id = external
    account.username = username.strip()
    account.secret = secret or None
    events.record(session, events.CalendarConnected(person.id, tenant.id))
    session.commit()
    from scheduling.availability import forget_busy

    forget_busy([person.id])  # what was cached for them came from no (or another) calendar
    return account


def account_of(session: Session, person: Person) -> CalendarAccount | None:
    return session.scalar(select(CalendarAccount).where(CalendarAccount.person_id == person.id))


# --- connection test ------------------------------------------------------------------------------


def test_connection(
    session: Session, tenant: CalendarTenant, *, person: Person | None = None
) -> ConnectionCheck:
    """Try the tenant's credentials (and one person's calendar): say plainly what failed."""
    probe: list[CalendarIdentity] = []
    account = account_of(session, person) if person is not None else None
    if person is not None and (account is None or account.tenant_id != tenant.id):
        return ConnectionCheck(
            False, "wrong_calendar", f"{person.email} has no calendar connected in this tenant."
        )
    if account is None:
        account = session.scalar(
            select(CalendarAccount)
            .where(CalendarAccount.tenant_id == tenant.id)
            .order_by(CalendarAccount.id)
            .limit(1)
        )
    if account is not None:
        owner = session.get(Person, account.person_id)
        assert owner is not None
        probe.append(identity_for(account, owner))
    check = providers().test_connection(tenant.provider.value, tenant.config, tenant.secret, probe)
    if account is not None and (check.ok or person is not None):
        # A test that got through mends the probed connection; the person's own test that is
        # refused breaks it (they are told). A failed tenant test blames nobody in particular.
        mended = check.ok and account.broken
        calendar_health.record_check(session, account, check)
        session.commit()
        if mended:
            from scheduling.availability import forget_busy

            forget_busy([account.person_id])  # read their calendar again, not what was cached
    return check


# --- busy time --------------------------------------------------------------------------------------


class TenantBusySource:
    """Busy time of people from their own calendars, grouped per tenant (one batched call per tenant).

    People without a connected calendar are left out (nothing known); so are people
    whose calendar could not be read. Provider errors propagate: callers decide
    whether to fail or to go on without calendar data. In a web request the provider
    calls share the request's budget (``scheduling.calendar_reads``): one that has not
    answered when it is spent raises ``ProviderUnavailable``.
    """

    def __init__(self, session: Session) -> None:
        self.session = session

    def busy(self, people: Sequence[Any], start: datetime, end: datetime) -> dict[int, list[BusyInterval]]:
        """``people``: anything with the person's ``id`` (a ``Person`` row, or a row of its columns)."""
        if not people:
            return {}
        ids = list({int(p.id) for p in people})
        # The connected ones only, with the person each calendar belongs to (email and zone). A
        # broken connection is not asked (it would fail, or hold up the tenant's batch):
        # availability names those people instead (``scheduling.calendar_health``).
        connected = self.session.execute(
            select(CalendarAccount, Person).join(Person, Person.id == CalendarAccount.person_id)
            .where(CalendarAccount.person_id.in_(ids), CalendarAccount.health != ConnectionHealth.BROKEN)
        )
        groups: dict[int, list[CalendarIdentity]] = {}
        tenants: dict[int, CalendarTenant] = {}
        for account, person in connected:
            groups.setdefault(account.tenant_id, []).append(identity_for(account, person))
            tenants[account.tenant_id] = account.tenant
        out: dict[int, list[BusyInterval]] = {}
        for tenant_id, identities in groups.items():
            connector = connector_for(tenants[tenant_id])
            # In a web request, within its calendar budget (a provider that never answers costs no more).
            found = calendar_reads.within_budget(
                partial(connector.busy, identities, start, end), f"calendar tenant {tenant_id}"
            )
            for key, intervals in found.items():
                out[int(key)] = list(intervals)
        return out


# --- the app's busy time: calendars through a shared cache ------------------------------------------

_meeting_sessions: list[Callable[[], Session]] = []
BUSY_NAMESPACE = "calendar"
BUSY_TTL_SECONDS = 300


def busy_cache_prefix(database_url: str | None) -> str:
    """The Redis key prefix of the busy cache for one database (web and worker must agree)."""
    scope = hashlib.sha256(str(database_url or "sqlite").encode()).hexdigest()[:12]
    return f"flashmentor:busy:{scope}:"


def install_calendar_busy(
    session_factory: Callable[[], Session],
    store: CacheStore | None = None,
    *,
    ttl: timedelta = timedelta(seconds=BUSY_TTL_SECONDS),
    namespace: str = BUSY_NAMESPACE,
) -> BusyCache:
    """Make availability read people's calendars (:class:`TenantBusySource`) through a cache.

    ``store``: a ``freebusy.cache.RedisStore`` shares the cache between web and worker
    processes; None keeps it in this process. People without a connected calendar cost
    no provider call (their busy time is their booked meetings). Cached days of both
    people are dropped when one of their meetings is booked, moved or canceled
    (``session_factory`` opens a session to look the meeting up after the commit).
    """
    from scheduling import availability

    cache = BusyCache(store, ttl=ttl, namespace=namespace)
    availability.use_busy_cache(TenantBusySource, cache)
    _meeting_sessions[:] = [session_factory]
    events.subscribe(_forget_meeting_people)
    return cache


def _forget_meeting_people(event: events.DomainEvent) -> None:
    """After a meeting is booked/moved/canceled: its people's calendars are about to change."""
    if not isinstance(event, events.MeetingScheduled | events.MeetingRescheduled | events.MeetingCanceled):
        return
    from scheduling import availability

    if availability.busy_cache() is None or not _meeting_sessions:
        return
    session = _meeting_sessions[0]()
    try:
        meeting = session.get(Meeting, event.meeting_id)
        if meeting is not None:
            availability.forget_busy([meeting.mentor_id, meeting.mentee_id])
    finally:
        session.close()


# --- push notifications -----------------------------------------------------------------------------

PUSH_KEYS_ENV = "FLASHMENTOR_SECRET_KEYS"


def _push_keys() -> list[bytes]:
    keys = [k.strip() for k in os.environ.get(PUSH_KEYS_ENV, "").split(",") if k.strip()]
    if not keys:
        raise ValidationFailed(f"{PUSH_KEYS_ENV} is not set: push notifications cannot be verified.", "token")
    return [hashlib.sha256(b"flashmentor-push:" + k.encode()).digest() for k in keys]


def push_token(tenant: CalendarTenant) -> str:
    """The shared secret a provider sends back with each notification for ``tenant``.

    Google: the watch channel's ``token`` (echoed as ``X-Goog-Channel-Token``); Microsoft:
    the subscription's ``clientState``. An HMAC of the tenant under the newest secret key,
    so nothing extra is stored; notifications signed under an older key still pass
    (:func:`check_push_token`) until the channels are renewed after a key rotation.
    """
    return _sign(_push_keys()[0], tenant)


def check_push_token(tenant: CalendarTenant, token: str | None) -> bool:
    if not token:
        return False
    return any(hmac.compare_digest(_sign(key, tenant), token) for key in _push_keys())


def _sign(key: bytes, tenant: CalendarTenant) -> str:
    message = f"{tenant.id}:{tenant.provider.value}".encode()
    return hmac.new(key, message, hashlib.sha256).hexdigest()
