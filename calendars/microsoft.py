"""Microsoft 365 calendars through Microsoft Graph, app-only (client credentials after admin consent).

Tokens come from ``msal.ConfidentialClientApplication`` (client secret or certificate);
Graph is called with ``requests``. The authority host and the Graph base URL are
per-tenant settings (national clouds, proxies, tests); a private CA bundle can be
given for both. MSAL only accepts https authorities, and for a host it does not know
it must not run instance discovery against login.microsoftonline.com, so
``instance_discovery`` is turned off for non-default hosts.

- busy: ``POST /users/{id}/calendar/getSchedule`` with up to ``schedule_batch`` (20)
  addresses per call; Graph limits one look-up to less than 42 days, so longer
  ranges are split.
- writes: ``POST /users/{id}/events`` with ``transactionId`` = meeting UID (Graph's
  documented guard against duplicate creates on client retries), PATCH, and
  ``POST .../cancel`` (the organizer's cancel sends the cancellation to attendees).
- changes: ``/users/{id}/calendarView/delta`` followed through ``@odata.nextLink`` to
  the ``@odata.deltaLink``, which is the cursor; 410 -> start a new delta round.
- push: ``POST /subscriptions`` on ``users/{id}/events`` (Graph first checks that
  ``notificationUrl`` echoes a ``validationToken``), ``PATCH /subscriptions/{id}`` to extend,
  ``DELETE`` to stop. Outlook event subscriptions live at most 4230 minutes.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote, urlencode

import msal
import requests

from calendars.base import (
    AuthError,
    BusyInterval,
    CalendarError,
    CalendarIdentity,
    ChangeBatch,
    ChangeKind,
    ConsentMissing,
    EventChange,
    EventRef,
    EventSpec,
    Gone,
    NotFound,
    ProviderUnavailable,
    PushChannel,
)
from calendars.http import DEFAULT_POLICY, RetryPolicy, error_for_status
from calendars.ical import merge

log = logging.getLogger(__name__)
DEFAULT_AUTHORITY_HOST = "https://login.microsoftonline.com"
DEFAULT_GRAPH_URL = "https://graph.microsoft.com/v1.0"
GRAPH_SCOPE = ["https://graph.microsoft.com/.default"]
SCHEDULE_BATCH = 20  # addresses per getSchedule call (kept small: Exchange answers slowly above ~20)
SCHEDULE_MAX_SPAN = timedelta(days=41)  # "the time period to look up must be less than 42 days"
# The one free/tentative rule (docs/calendars.md): a person is free only where their calendar
# says free. Graph's freeBusyStatus is free, tentative, busy, oof, workingElsewhere or unknown;
# tentative (Exchange files an unanswered invitation so) and unknown stay busy.
FREE_STATUSES = frozenset({"free", "workingelsewhere"})
PUSH_MAX_LIFETIME = timedelta(minutes=4230)  # Graph's maximum for Outlook event subscriptions
PUSH_LIFETIME = PUSH_MAX_LIFETIME - timedelta(minutes=30)  # room for our clock running ahead
PUSH_CHANGE_TYPES = "created,updated,deleted"
TEAMS = "teamsForBusiness"  # onlineMeetingProvider of a Teams meeting
# A request's hold is an appointment the app writes into the mentor's own calendar (Graph cannot
# put another organizer's invitation into a mailbox): no attendees, so Exchange mails nobody, and
# ``showAs: tentative``. The mentor answers in Outlook by what an appointment offers: "Show as"
# Busy (or Away, Working elsewhere) accepts the time; deleting the appointment declines it.
HOLD_HOWTO = "In Outlook: set Show as to Busy to accept this time; delete this appointment to decline it."
# The owner's answer (``EventChange.answer``, an iCalendar PARTSTAT) on an event they were
# invited to (``responseStatus.response``) ...
_PARTSTAT = {"accepted": "accepted", "tentativelyAccepted": "tentative", "declined": "declined",
             "notResponded": "needs-action", "none": "needs-action"}
# ... and on an appointment of their own (a hold): its "Show as".
_SHOWN_ANSWER = {"tentative": "needs-action", "busy": "accepted", "oof": "accepted",
                 "workingElsewhere": "accepted"}


class _Session(requests.Session):
    """A session whose ``verify`` setting wins over REQUESTS_CA_BUNDLE (requests lets the
    environment override ``Session.verify``; a tenant's private CA must not be ignored), and
    whose ``timeout`` applies to calls made without one (MSAL's tenant discovery passes none)."""

    timeout: float | tuple[float, float] | None = None

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> requests.Response:
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


def admin_consent_url(
    tenant_id: str,
    client_id: str,
    redirect_uri: str,
    *,
    authority_host: str = DEFAULT_AUTHORITY_HOST,
    state: str = "",
) -> str:
    """Where a tenant admin grants our app its application permissions (admin consent endpoint)."""
    query = {"client_id": client_id, "redirect_uri": redirect_uri}
    if state:
        query["state"] = state
    return f"{authority_host.rstrip('/')}/{quote(tenant_id)}/adminconsent?{urlencode(query)}"


def _graph_time(dt: datetime) -> dict[str, str]:
    return {"dateTime": dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S"), "timeZone": "UTC"}


def _parse_graph_time(value: Mapping[str, str]) -> datetime:
    """Graph dateTimeTimeZone -> aware UTC (we ask for UTC with ``Prefer: outlook.timezone``)."""
    text = value["dateTime"]
    if "." in text:
        head, frac = text.split(".", 1)
        text = f"{head}.{frac[:6]}"
    parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        if value.get("timeZone", "UTC") not in ("UTC", "tzone://Microsoft/Utc"):
            log.warning("Graph returned a time in %s; treating it as UTC", value.get("timeZone"))
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


WINDOW_SLIDE = timedelta(days=1)  # how stale a delta round's window may get before a new one


def _split_cursor(cursor: str | None) -> tuple[datetime | None, str | None]:
    """``<anchor>|<deltaLink>`` -> (anchor, link); a bare link (stored before anchors) has none."""
    if not cursor:
        return None, None
    head, sep, link = cursor.partition("|")
    if not sep:
        return None, cursor
    try:
        return datetime.fromisoformat(head), link
    except ValueError:
        return None, cursor


def _join_cursor(anchor: datetime | None, link: str | None) -> str | None:
    return f"{anchor.isoformat()}|{link}" if link and anchor is not None else link


class MicrosoftConnector:
    provider = "microsoft"
    push_lifetime = PUSH_LIFETIME

    def __init__(
        self,
        *,
        tenant_id: str,
        client_id: str,
        client_secret: str | None = None,
        certificate_key: str | None = None,
        certificate_thumbprint: str | None = None,
        authority_host: str = DEFAULT_AUTHORITY_HOST,
        graph_url: str = DEFAULT_GRAPH_URL,
        schedule_user: str = "",
        schedule_batch: int = SCHEDULE_BATCH,
        delta_past_days: int = 30,
        delta_future_days: int = 365,
        policy: RetryPolicy = DEFAULT_POLICY,
        timeout: float = 30,
        connect_timeout: float | None = None,
        verify: bool | str = True,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        if not client_secret and not (certificate_key and certificate_thumbprint):
            raise ValueError("Microsoft needs a client secret or a certificate key and thumbprint")
        self.tenant_id = tenant_id
        self.client_id = client_id
        self._secret = client_secret
        self._cert = (
            {"private_key": certificate_key, "thumbprint": certificate_thumbprint}
            if certificate_key
            else None
        )
        self.authority_host = authority_host.rstrip("/")
        self.graph_url = graph_url.rstrip("/")
        self.schedule_user = schedule_user
        self.schedule_batch = max(1, schedule_batch)
        self.delta_window = (timedelta(days=delta_past_days), timedelta(days=delta_future_days))
        self.policy = policy
        # requests' (connect, read) pair, for Graph and for sign-in through MSAL alike.
        self.timeout: tuple[float, float] = (connect_timeout or timeout, timeout)
        self.verify = verify
        self._http = _Session()
        self._http.verify = verify
        self._http.timeout = self.timeout
        self._app: msal.ConfidentialClientApplication | None = None
        self._lock = threading.Lock()
        self._clock = clock or (lambda: datetime.now(UTC))

    # --- tokens ---------------------------------------------------------------------------------

    def _msal(self) -> msal.ConfidentialClientApplication:
        with self._lock:
            if self._app is None:
                default_host = self.authority_host == DEFAULT_AUTHORITY_HOST
                try:
                    self._app = msal.ConfidentialClientApplication(
                        self.client_id,
                        client_credential=self._secret or self._cert,
                        authority=f"{self.authority_host}/{self.tenant_id}",
                        instance_discovery=None if default_host else False,
                        http_client=self._http,
                        timeout=self.timeout,
                    )
                except ValueError as exc:  # OIDC discovery answered, but not for this tenant
                    raise AuthError(f"Microsoft tenant {self.tenant_id!r} not found: {exc}") from exc
                except requests.RequestException as exc:
                    raise ProviderUnavailable(f"Microsoft sign-in unreachable: {exc}") from exc
            return self._app

    def _token(self) -> str:
        try:
            result = self._msal().acquire_token_for_client(scopes=GRAPH_SCOPE)
        except requests.RequestException as exc:
            raise ProviderUnavailable(f"Microsoft sign-in unreachable: {exc}") from exc
        if "access_token" in result:
            return str(result["access_token"])
        error = str(result.get("error", ""))
        description = str(result.get("error_description", ""))
        if "AADSTS65001" in description or error == "consent_required":
            raise ConsentMissing("the app has no admin consent in this tenant: " + description)
        if error in ("temporarily_unavailable", "server_error"):
            raise ProviderUnavailable("Microsoft sign-in failed: " + description)
        raise AuthError(f"Microsoft rejected the app credentials ({error}): {description}")

    def _forget_token(self) -> None:
        """Drop MSAL's cached tokens, so the next call signs in afresh."""
        with self._lock:
            app = self._app
        if app is None:
            return
        cache = app.token_cache
        for item in list(cache.search(msal.TokenCache.CredentialType.ACCESS_TOKEN)):
            cache.remove_at(item)

    # --- Graph calls ----------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        params: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        what: str = "",
    ) -> requests.Response:
        full = url if url.startswith("http") else self.graph_url + url
        if not full.startswith(self.graph_url + "/"):
            raise CalendarError(f"refusing to send the Graph token to {full}")

        def send() -> requests.Response:
            token = self._token()
            hdrs = {"Authorization": f"Bearer {token}", "Prefer": 'outlook.timezone="UTC"', **(headers or {})}
            try:
                return self._http.request(
                    method, full, json=json, params=params, headers=hdrs, timeout=self.timeout
                )
            except requests.RequestException as exc:
                raise ProviderUnavailable(f"Microsoft Graph unreachable: {exc}") from exc

        def attempt() -> requests.Response:
            response = send()
            if response.status_code == 401:
                # A cached token Graph no longer takes (revoked, keys rolled): once, with a new one.
                self._forget_token()
                response = send()
            if response.status_code >= 400:
                raise self._error(response)
            return response

        return self.policy.run(attempt, what=f"Graph {what or method}")

    @staticmethod
    def _error(response: requests.Response) -> CalendarError:
        try:
            err = response.json().get("error", {})
        except ValueError:
            err = {}
        code, message = str(err.get("code", "")), str(err.get("message", ""))
        text = f"Microsoft Graph: HTTP {response.status_code} {code} {message}".strip()
        mapped = error_for_status(
            response.status_code, text, reasons=[code], retry_after=response.headers.get("Retry-After")
        )
        assert mapped is not None
        if response.status_code == 403:
            return ConsentMissing(
                text + " (grant the Calendars.ReadWrite application permission and admin consent)"
            )
        return mapped

    @staticmethod
    def _user(owner: CalendarIdentity) -> str:
        return quote(owner.external_id, safe="@.")

    # --- busy -----------------------------------------------------------------------------------

    def busy(
        self, people: Sequence[CalendarIdentity], start: datetime, end: datetime
    ) -> Mapping[str, list[BusyInterval]]:
        people = list(people)
        spans: dict[str, list[tuple[datetime, datetime]]] = {}
        failed: set[str] = set()
        for i in range(0, len(people), self.schedule_batch):
            batch = people[i : i + self.schedule_batch]
            lo = start
            while lo < end:
                hi = min(end, lo + SCHEDULE_MAX_SPAN)
                for key, items in self._schedule(batch, lo, hi).items():
                    if items is None:
                        failed.add(key)
                    else:
                        spans.setdefault(key, []).extend(items)
                lo = hi
        return {
            p.person_key: merge(spans.get(p.person_key, [])) for p in people if p.person_key not in failed
        }

    def _schedule(
        self, batch: Sequence[CalendarIdentity], start: datetime, end: datetime
    ) -> dict[str, list[tuple[datetime, datetime]] | None]:
        asker = self.schedule_user or batch[0].external_id
        by_address = {p.external_id.lower(): p.person_key for p in batch}
        body = {
            "schedules": [p.external_id for p in batch],
            "startTime": _graph_time(start),
            "endTime": _graph_time(end),
            "availabilityViewInterval": 60,
        }
        data = self._request(
            "POST", f"/users/{quote(asker, safe='@.')}/calendar/getSchedule", json=body, what="getSchedule"
        ).json()
        out: dict[str, list[tuple[datetime, datetime]] | None] = {}
        for info in data.get("value", []):
            key = by_address.get(str(info.get("scheduleId", "")).lower())
            if key is None:
                continue
            if info.get("error"):
                log.warning("Graph schedule for %s failed: %s", key, info["error"].get("responseCode"))
                out[key] = None  # unknown, not free: left out of the mapping
                continue
            items = []
            for item in info.get("scheduleItems", []):
                if str(item.get("status", "")).lower() in FREE_STATUSES:
                    continue
                s, e = _parse_graph_time(item["start"]), _parse_graph_time(item["end"])
                s, e = max(s, start), min(e, end)
                if s < e:
                    items.append((s, e))
            out[key] = items
        return out

    # --- writes ---------------------------------------------------------------------------------

    @staticmethod
    def _body(spec: EventSpec) -> dict[str, Any]:
        if spec.hold:
            return {
                "subject": spec.summary,
                "body": {"contentType": "text", "content": f"{spec.description}\n{HOLD_HOWTO}"},
                "start": _graph_time(spec.start),
                "end": _graph_time(spec.end),
                "location": {"displayName": spec.location},
                "showAs": "tentative",
                "attendees": [],
            }
        body: dict[str, Any] = {
            "subject": spec.summary,
            "body": {"contentType": "text", "content": spec.description},
            "start": _graph_time(spec.start),
            "end": _graph_time(spec.end),
            "location": {"displayName": spec.location or spec.video_url},
            "showAs": "busy",
            "attendees": [
                {"emailAddress": {"address": a.email, "name": a.name}, "type": "required"}
                for a in spec.attendees
                if a.email.lower() != spec.organizer.email.lower()
            ],
        }
        if spec.online_meeting:
            # Once on, Graph keeps the Teams meeting: it cannot be switched off or changed.
            body.update(isOnlineMeeting=True, onlineMeetingProvider=TEAMS)
        return body

    @staticmethod
    def _ref(calendar_id: str, event_id: str, data: Mapping[str, Any], spec: EventSpec) -> EventRef:
        """The written event's ref, with the Teams join link (``onlineMeeting.joinUrl``) and the
        ``iCalUId`` Exchange assigned (read-only in Graph: the UID its invitations carry) read back."""
        url = str((data.get("onlineMeeting") or {}).get("joinUrl") or "") if spec.online_meeting else ""
        return EventRef(calendar_id, event_id, data.get("@odata.etag", ""), video_url=url,
                        ical_uid=str(data.get("iCalUId") or ""))

    def _teams_allowed(self, owner: CalendarIdentity) -> bool:
        """Whether the owner's calendar offers Teams meetings (``allowedOnlineMeetingProviders``)."""
        data = self._request("GET", f"/users/{self._user(owner)}/calendar", what="open calendar").json()
        return TEAMS in (data.get("allowedOnlineMeetingProviders") or [])

    def create_event(self, owner: CalendarIdentity, spec: EventSpec) -> EventRef:
        if spec.online_meeting and not self._teams_allowed(owner):
            spec = replace(spec, online_meeting=False)  # no Teams here: the caller falls back
        body = {**self._body(spec), "transactionId": spec.uid}
        data = self._request(
            "POST", f"/users/{self._user(owner)}/events", json=body, what="create event"
        ).json()
        return self._ref(owner.external_id, data["id"], data, spec)

    def update_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> EventRef:
        if spec.online_meeting and not self._teams_allowed(owner):
            spec = replace(spec, online_meeting=False)
        data = self._request(
            "PATCH",
            f"/users/{self._user(owner)}/events/{quote(ref.event_id, safe='')}",
            json=self._body(spec),
            what="update event",
        ).json()
        return self._ref(ref.calendar_id, ref.event_id, data, spec)

    def cancel_event(self, owner: CalendarIdentity, ref: EventRef, spec: EventSpec) -> None:
        if spec.hold:  # an appointment of the owner's, with nobody to tell: it goes
            with contextlib.suppress(NotFound):  # already gone
                self._request("DELETE", f"/users/{self._user(owner)}/events/{quote(ref.event_id, safe='')}",
                              what="delete hold")
            return
        try:
            self._request(
                "POST",
                f"/users/{self._user(owner)}/events/{quote(ref.event_id, safe='')}/cancel",
                json={"comment": "This meeting was cancelled."},
                what="cancel event",
            )
        except NotFound:
            return  # already deleted: nothing left to cancel

    # --- changes --------------------------------------------------------------------------------

    def changes(self, owner: CalendarIdentity, since: str | None) -> ChangeBatch:
        """Changes in the tracked window (``delta_window`` around the day the round started).

        A delta round keeps the window it started with, so the cursor carries that day
        (``<iso date>|<deltaLink>``); once it is ``WINDOW_SLIDE`` old, the old round is read to
        its end (nothing in it is lost) and a new round starts around today.
        """
        anchor, link = _split_cursor(since)
        try:
            batch = self._delta(owner, link)
        except Gone:
            if link is None:
                raise
            return self._delta(owner, None)  # delta token expired: start a new round
        if link is None:
            return batch
        if anchor is not None and self._clock() - anchor < WINDOW_SLIDE:
            return ChangeBatch(batch.changes, _join_cursor(anchor, batch.cursor))
        fresh = self._delta(owner, None)
        return ChangeBatch(batch.changes + fresh.changes, fresh.cursor)

    def _delta(self, owner: CalendarIdentity, link: str | None) -> ChangeBatch:
        params: dict[str, str] | None = None
        anchor = None
        if link is None:
            now = anchor = self._clock()
            link = f"/users/{self._user(owner)}/calendarView/delta"
            params = {
                "startDateTime": (now - self.delta_window[0]).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "endDateTime": (now + self.delta_window[1]).strftime("%Y-%m-%dT%H:%M:%SZ"),
            }
        changes: list[EventChange] = []
        while True:
            data = self._request(
                "GET",
                link,
                params=params,
                headers={"Prefer": 'odata.maxpagesize=50, outlook.timezone="UTC"'},
                what="calendarView delta",
            ).json()
            params = None
            for item in data.get("value", []):
                change = self._change_from(owner, item)
                if change is not None:
                    changes.append(change)
            if "@odata.nextLink" in data:
                link = data["@odata.nextLink"]
                continue
            return ChangeBatch(changes, _join_cursor(anchor, data.get("@odata.deltaLink")))

    @staticmethod
    def _change_from(owner: CalendarIdentity, item: Mapping[str, Any]) -> EventChange | None:
        calendar_id, event_id = owner.external_id, str(item.get("id", ""))
        uid = str(item.get("transactionId") or "")
        if "@removed" in item or item.get("isCancelled"):
            return EventChange(ChangeKind.CANCELED, calendar_id, event_id, uid)
        timed = "start" in item and "end" in item
        start = _parse_graph_time(item["start"]) if timed else None
        end = _parse_graph_time(item["end"]) if timed else None
        mine = str((item.get("responseStatus") or {}).get("response") or "")
        if mine == "declined":
            return EventChange(ChangeKind.DECLINED, calendar_id, event_id, uid, start, end,
                               by=owner.address.lower(), answer="declined")
        attendees = item.get("attendees") or []
        if mine == "organizer":  # an appointment of their own (a hold) answers by its "Show as"
            answer = "" if attendees else _SHOWN_ANSWER.get(str(item.get("showAs") or ""), "")
        else:
            answer = _PARTSTAT.get(mine, "")
        # The organizer's event shows each attendee's answer (``attendees[].status.response``).
        for attendee in attendees:
            if (attendee.get("status") or {}).get("response") == "declined":
                address = str((attendee.get("emailAddress") or {}).get("address", "")).lower()
                return EventChange(ChangeKind.DECLINED, calendar_id, event_id, uid, start, end, by=address)
        if not timed:
            return EventChange(ChangeKind.UPDATED, calendar_id, event_id, uid, answer=answer)
        return EventChange(ChangeKind.MOVED, calendar_id, event_id, uid, start, end, answer=answer)

    # --- push ---------------------------------------------------------------------------------------

    def _push_expiry(self, lifetime: timedelta | None) -> str:
        # The wall clock, not ``self._clock``: Graph compares it with its own.
        span = min(lifetime or self.push_lifetime, PUSH_LIFETIME)
        return (datetime.now(UTC) + span).strftime("%Y-%m-%dT%H:%M:%SZ")

    @staticmethod
    def _channel(data: Mapping[str, Any], secret: str) -> PushChannel:
        expires = _parse_graph_time({"dateTime": str(data["expirationDateTime"])})
        return PushChannel(str(data["id"]), str(data.get("resource", "")), expires, secret)

    def subscribe(
        self, owner: CalendarIdentity, address: str, secret: str, *, lifetime: timedelta | None = None
    ) -> PushChannel:
        """A subscription on the owner's events; lifecycle notices (``subscriptionRemoved``,
        ``missed``, ``reauthorizationRequired``) go to the same address."""
        body = {
            "changeType": PUSH_CHANGE_TYPES,
            "notificationUrl": address,
            "lifecycleNotificationUrl": address,
            "resource": f"users/{self._user(owner)}/events",
            "expirationDateTime": self._push_expiry(lifetime),
            "clientState": secret,
            "latestSupportedTlsVersion": "v1_2",
        }
        data = self._request("POST", "/subscriptions", json=body, what="create subscription").json()
        return self._channel(data, secret)

    def renew(
        self,
        owner: CalendarIdentity,
        channel: PushChannel,
        address: str,
        *,
        lifetime: timedelta | None = None,
    ) -> PushChannel:
        """Extend the subscription in place (same id and clientState); NotFound once Graph dropped it."""
        data = self._request(
            "PATCH",
            f"/subscriptions/{quote(channel.channel_id, safe='')}",
            json={"expirationDateTime": self._push_expiry(lifetime)},
            what="renew subscription",
        ).json()
        return self._channel(data, channel.secret)

    def unsubscribe(self, owner: CalendarIdentity, channel: PushChannel) -> None:
        try:
            self._request(
                "DELETE", f"/subscriptions/{quote(channel.channel_id, safe='')}", what="delete subscription"
            )
        except NotFound:
            return  # expired or deleted already

    # --- connection check -----------------------------------------------------------------------

    def test_connection(self, probe: Iterable[CalendarIdentity] = ()) -> None:
        self.policy.run(self._token, what="Microsoft sign-in")
        for person in probe:
            self._request("GET", f"/users/{self._user(person)}/calendar", what="open calendar")
