"""The one interface every calendar provider implements.

Providers know nothing of the database: they receive plain values
(:class:`CalendarIdentity`, :class:`EventSpec`) and return plain values
(:class:`BusyInterval`, :class:`EventRef`, :class:`EventChange`). The worker
and the tenant registry translate between these and the domain models.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol, runtime_checkable


class CalendarError(Exception):
    """Base for provider errors; ``retryable`` tells the worker whether to retry."""

    retryable = False


class AuthError(CalendarError):
    """Credentials rejected, consent missing, or token expired and not refreshable."""


class ConsentMissing(AuthError):
    """The credentials are valid but the tenant has not granted us access (admin consent,
    domain-wide delegation, or a missing permission)."""


class NotFound(CalendarError):
    """The calendar or event does not exist (or is not visible to us)."""


class AlreadyExists(CalendarError):
    """HTTP 409: the resource (e.g. an event id we chose) exists already."""


class Gone(NotFound):
    """HTTP 410 or an expired sync token: the cursor is no longer valid, resync from scratch."""


class RateLimited(CalendarError):
    retryable = True

    def __init__(self, message: str, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ProviderUnavailable(CalendarError):
    """Network failure or 5xx: try again later."""

    retryable = True


@dataclass(frozen=True)
class CalendarIdentity:
    """Whose calendar: an email/UPN for Google and Microsoft, a calendar URL for CalDAV."""

    person_key: str  # stable key the caller uses (e.g. the person's email)
    external_id: str
    username: str = ""
    secret: str | None = field(default=None, repr=False)  # per-user credential, decrypted; never logged
    # The owner's address (to find their own ATTENDEE line) and IANA zone (all-day events).
    email: str = ""
    time_zone: str = "UTC"

    @property
    def address(self) -> str:
        """The owner's email: ``email`` when given, else ``person_key`` when it looks like one."""
        if self.email:
            return self.email
        return self.person_key if "@" in self.person_key else ""


@dataclass(frozen=True, order=True)
class BusyInterval:
    start: datetime  # aware
    end: datetime  # aware, exclusive

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("BusyInterval needs aware datetimes")


@dataclass(frozen=True)
class Attendee:
    email: str
    name: str = ""
    # Their answer as far as the app knows it (an iCalendar PARTSTAT, e.g. from their iTIP REPLY by
    # mail), written into the organizer's copy where the provider takes it (CalDAV); "": not known.
    partstat: str = ""


@dataclass(frozen=True)
class EventSpec:
    """What to write: provider-neutral, derived from a Meeting."""

    uid: str  # stable across retries; providers use it for idempotency
    summary: str
    description: str
    start: datetime
    end: datetime
    organizer: Attendee
    attendees: tuple[Attendee, ...]
    location: str = ""
    sequence: int = 0
    # The call's join link when it is known (written into the event as providers allow).
    video_url: str = ""
    # Ask the provider to make a conference for the event (Google Meet, Teams); CalDAV has none.
    online_meeting: bool = False
    # A tentative hold for a pending request: an invitation *to* the calendar's owner (an
    # attendee) from ``organizer``, which they accept or decline in their calendar app; it is
    # removed, not cancelled, when it goes (it was never anybody's agreed meeting).
    hold: bool = False


@dataclass(frozen=True)
class EventRef:
    calendar_id: str
    event_id: str
    etag: str = ""
    # The join link the provider made for an ``online_meeting`` event, as read back;
    # ``video_pending``: the provider is still making it (read the event again later).
    video_url: str = ""
    video_pending: bool = False
    # The UID the provider gave the event when it does not take ours (Exchange assigns ``iCalUId``;
    # Graph refuses a client's): the meeting's identity on that provider. Empty: the event has ours.
    ical_uid: str = ""


class ChangeKind(enum.StrEnum):
    MOVED = "moved"
    CANCELED = "canceled"  # deleted or status cancelled
    DECLINED = "declined"  # a participant declined: the owner, or an attendee (``EventChange.by``)
    UPDATED = "updated"  # something else changed (ignored by the domain)


@dataclass(frozen=True)
class EventChange:
    kind: ChangeKind
    calendar_id: str
    event_id: str
    uid: str = ""
    start: datetime | None = None
    end: datetime | None = None
    note: str = ""
    # Whose answer a DECLINED is: the owner's address, or the attendee whose answer shows on
    # the owner's copy (the organizer's event shows each attendee's response).
    by: str = ""
    # The owner's own answer on the event as an iCalendar PARTSTAT in lower case
    # ("accepted", "tentative", "declined", "needs-action"); "" when they are not an attendee.
    answer: str = ""


@dataclass
class ChangeBatch:
    changes: list[EventChange] = field(default_factory=list)
    cursor: str | None = None  # pass back as ``since`` next time


@runtime_checkable
class CalendarConnector(Protocol):
    provider: str

    def busy(
        self, people: Sequence[CalendarIdentity], start: datetime, end: datetime
    ) -> Mapping[str, list[BusyInterval]]:
        """Busy intervals per ``person_key`` in [start, end)."""
        ...

    def create_event(self, owner: CalendarIdentity, spec: EventSpec) -> EventRef:
        """Write the event once: a retry with the same ``spec.uid`` returns the same ref."""
        ...

    def update_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> EventRef: ...

    def cancel_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> None: ...

    def changes(self, owner: CalendarIdentity, since: str | None) -> ChangeBatch:
        """Events changed since the cursor (a full baseline when ``since`` is None)."""
        ...

    def test_connection(self, probe: Iterable[CalendarIdentity] = ()) -> None:
        """Raise a :class:`CalendarError` saying what is wrong, or return quietly."""
        ...


# --- optional: push notifications ------------------------------------------------------------------


@dataclass(frozen=True)
class PushChannel:
    """A provider's promise to POST to our address when one calendar changes, until ``expires_at``.

    ``channel_id``: Google's channel id / Graph's subscription id; ``resource_id``: what is
    watched (Google's opaque resourceId, needed to stop the channel; Graph's resource path);
    ``secret``: echoed with every notification (``X-Goog-Channel-Token`` / ``clientState``).
    """

    channel_id: str
    resource_id: str
    expires_at: datetime  # aware
    secret: str = field(default="", repr=False)


@runtime_checkable
class PushCapable(Protocol):
    """What a connector offers when its provider can push change notifications (Google, Graph;
    CalDAV cannot). A notification only says "look": changes are still read by ``changes``."""

    push_lifetime: timedelta  # how long a channel lives when ``lifetime`` is not given

    def subscribe(
        self, owner: CalendarIdentity, address: str, secret: str, *, lifetime: timedelta | None = None
    ) -> PushChannel:
        """Ask the provider to notify ``address`` about changes in ``owner``'s calendar."""
        ...

    def renew(
        self,
        owner: CalendarIdentity,
        channel: PushChannel,
        address: str,
        *,
        lifetime: timedelta | None = None,
    ) -> PushChannel:
        """Extend ``channel``. A provider that cannot extend returns a new channel; the caller
        stores it, then ``unsubscribe``s the old one. :class:`NotFound`: the provider dropped it."""
        ...

    def unsubscribe(self, owner: CalendarIdentity, channel: PushChannel) -> None:
        """Stop the channel (quietly when the provider no longer knows it)."""
        ...


def push_support(connector: CalendarConnector) -> PushCapable | None:
    """The connector's push capability, or None when its provider cannot push (CalDAV)."""
    return connector if isinstance(connector, PushCapable) else None


# --- what the domain asks of the providers, without importing one ---------------------------------


class SettingsError(ValueError):
    """Settings that cannot work; ``field`` names the offending one."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


class GrantRefused(CalendarError):
    """A token endpoint refused an authorization code (``error`` is the RFC 6749 §5.2 code), or its
    answer cannot be used: ``missing_scope``, ``no_refresh_token`` (calendar access), no ID token
    (sign-in). Raised by both grants, calendar access and OpenID Connect sign-in."""

    def __init__(self, error: str, description: str = "") -> None:
        super().__init__(error)
        self.error = error
        self.description = description

    def __str__(self) -> str:
        if self.error and self.description:
            return f"{self.error}: {self.description}"
        return self.error or self.description or "error"


@dataclass(frozen=True)
class ConnectionCheck:
    """The answer to "do these credentials work?", in words an admin can act on."""

    ok: bool
    problem: str  # "", bad_credentials, no_consent, unreachable, wrong_calendar, rate_limited, error
    message: str

    def as_dict(self) -> dict[str, Any]:
        return {"ok": self.ok, "problem": self.problem or None, "message": self.message}


class AuthorizationCodeGrant(Protocol):
    """One person granting us their calendar (authorization code + PKCE S256)."""

    def authorization_url(self, *, state: str, verifier: str, login_hint: str) -> str:
        """Where to send the person; raises nothing (no network)."""
        ...

    def exchange(self, *, code: str, verifier: str) -> str:
        """The refresh token for ``code``. Raises :class:`GrantRefused` or
        :class:`ProviderUnavailable` (the endpoint could not be reached or answered nonsense)."""
        ...


class CalendarProviders(Protocol):
    """Everything the domain needs from the providers, given a tenant's plain settings
    ``(provider, config, secret)``. ``calendars.registry.PROVIDERS`` implements it; the
    app factory hands it to ``scheduling`` at start-up, so ``scheduling`` imports no provider."""

    def validate(self, provider: str, config: Mapping[str, Any], secret: str | None) -> dict[str, Any]:
        """The cleaned config; raises :class:`SettingsError`."""
        ...

    def calendar_address(self, provider: str, config: Mapping[str, Any], external_id: str) -> str:
        """A person's calendar as it will be stored, checked against the tenant's settings:
        for CalDAV a path inside the tenant's base URL (never a URL of its own: the shared
        password goes wherever it points). Raises :class:`SettingsError` (field ``external_id``)."""
        ...

    def connector(self, key: object, provider: str, config: Mapping[str, Any],
                  secret: str | None) -> CalendarConnector:
        """A connector reused while ``key`` and the settings are unchanged (keeps tokens and
        sessions); raises :class:`SettingsError`."""
        ...

    def test_connection(self, provider: str, config: Mapping[str, Any], secret: str | None,
                        probe: Sequence[CalendarIdentity]) -> ConnectionCheck:
        """Try the settings (and the probe's calendars) with a fresh connector."""
        ...

    def admin_consent_url(self, provider: str, config: Mapping[str, Any], redirect_uri: str,
                          state: str) -> str | None:
        """Where a tenant's admin grants the app its permissions; None when the provider has none."""
        ...

    def authorization_code_grant(self, provider: str, config: Mapping[str, Any], secret: str | None,
                                 redirect_uri: str) -> AuthorizationCodeGrant:
        """The per-user grant of a tenant whose people connect themselves; raises
        :class:`SettingsError` when its endpoints are not safe to send codes to."""
        ...
