"""Signed one-click links in meeting emails: the meeting page, signed in, to reschedule or cancel.

The invitation and reminder emails link each person to ``/meetings/<id>/open?t=<token>``. The token
names the person and the meeting and is good until a day after the meeting ends; it is an HMAC under
a key derived from ``FLASHMENTOR_SECRET_KEYS`` (the keys web and worker share), so nothing is stored
and a key rotation keeps older links working while their key is listed. Whoever holds the email can
already reset the password through it, so the link signs its person in (not in an SSO-only program:
there it only leads to the sign-in). Without keys the emails carry the plain meeting address.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from datetime import datetime, timedelta

from scheduling.models import Meeting, Person

KEYS_ENV = "FLASHMENTOR_SECRET_KEYS"
GOOD_AFTER_END = timedelta(days=1)


class LinkInvalid(ValueError):
    """The link is malformed, forged, for another meeting, or expired."""


def _keys() -> list[bytes]:
    raw = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
    return [hashlib.sha256(b"flashmentor-meeting-link:" + k.encode()).digest() for k in raw]


def _mac(key: bytes, person_id: int, meeting_id: int, expires: int) -> str:
    return hmac.new(key, f"{person_id}:{meeting_id}:{expires}".encode(), hashlib.sha256).hexdigest()[:32]


def token(meeting: Meeting, person: Person) -> str | None:
    """The person's token for the meeting; None when no key is configured."""
    keys = _keys()
    if not keys:
        return None
    expires = int((meeting.end_at + GOOD_AFTER_END).timestamp())
    return f"{person.id}.{expires}.{_mac(keys[0], person.id, meeting.id, expires)}"


def url(base_url: str, meeting: Meeting, person: Person) -> str:
    """Where the person's email sends them: the one-click link, or the plain page without keys."""
    signed = token(meeting, person)
    page = f"{base_url.rstrip('/')}/meetings/{meeting.id}"
    return f"{page}/open?t={signed}" if signed else page


def person_of(raw: str | None, meeting_id: int, now: datetime) -> int:
    """The person id a valid token for ``meeting_id`` names; raises :class:`LinkInvalid`."""
    parts = (raw or "").split(".")
    if len(parts) != 3 or not parts[0].isdigit() or not parts[1].isdigit():
        raise LinkInvalid("This link is not complete: open the meeting from your email again, or sign in.")
    person_id, expires, mac = int(parts[0]), int(parts[1]), parts[2]
    if not any(hmac.compare_digest(_mac(key, person_id, meeting_id, expires), mac) for key in _keys()):
        raise LinkInvalid("This link is not valid for this meeting: sign in to open it.")
    if now.timestamp() > expires:
        raise LinkInvalid("This link has expired: sign in to open the meeting.")
    return person_id
