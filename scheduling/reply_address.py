"""The address a mentee's calendar sends her answer (iTIP REPLY) to: ``<box>+<token>@<domain>``.

The app's invitation names it as the ORGANIZER (calendar clients reply there) and as Reply-To.
The token says which meeting and which person it was sent for and is signed, so a reply is
only taken from the mail the app sent to that person: ``<meeting>.<person>.<mac>`` where
``mac`` is an HMAC-SHA256 (80 bits, base32) under the newest ``FLASHMENTOR_SECRET_KEYS`` key;
older keys still verify, so keys rotate without orphaning invitations already sent.

Base32 in lower case because mail systems may fold the case of a local part; the whole token
stays well inside the 64 characters RFC 5321 allows a local part.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import re
from dataclasses import dataclass

KEYS_ENV = "FLASHMENTOR_SECRET_KEYS"
_TOKEN = re.compile(r"^(\d{1,18})\.(\d{1,18})\.([a-z2-7]{16})$")


class ReplyKeysMissing(RuntimeError):
    pass


@dataclass(frozen=True)
class ReplyToken:
    meeting_id: int
    person_id: int


def _keys() -> list[bytes]:
    keys = [k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip()]
    if not keys:
        raise ReplyKeysMissing(f"{KEYS_ENV} is not set: reply addresses cannot be signed.")
    return [hashlib.sha256(b"flashmentor-itip-reply:" + k.encode()).digest() for k in keys]


def _mac(key: bytes, meeting_id: int, person_id: int) -> str:
    digest = hmac.new(key, f"{meeting_id}.{person_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:10]).decode().lower()


def _split(mailbox: str) -> tuple[str, str]:
    local, at, domain = mailbox.strip().rpartition("@")
    if not at or not local or not domain or "+" in local:
        raise ValueError(f"ITIP_REPLY_MAILBOX must be a plain address (meetings@example.org): {mailbox!r}")
    return local, domain


def check_mailbox(mailbox: str) -> str:
    """``mailbox`` if it is a plain address the ``+token`` addresses can be made from (ValueError if not)."""
    _split(mailbox)
    return mailbox


def address_for(mailbox: str, meeting_id: int, person_id: int) -> str:
    """The signed reply address for ``person_id`` 's invitation to ``meeting_id``."""
    local, domain = _split(mailbox)
    return f"{local}+{meeting_id}.{person_id}.{_mac(_keys()[0], meeting_id, person_id)}@{domain}"


def is_ours(mailbox: str, address: str) -> bool:
    """Whether ``address`` is one of the mailbox's ``+token`` addresses (signed or not)."""
    local, domain = _split(mailbox)
    got_local, _, got_domain = address.strip().strip("<>").rpartition("@")
    return got_domain.lower() == domain.lower() and got_local.lower().startswith(local.lower() + "+")


def read(mailbox: str, address: str) -> ReplyToken | None:
    """The meeting and person ``address`` was signed for; None when it is not ours or forged."""
    if not is_ours(mailbox, address):
        return None
    local, _ = _split(mailbox)
    token = address.strip().strip("<>").rpartition("@")[0][len(local) + 1 :].lower()
    match = _TOKEN.match(token)
    if match is None:
        return None
    meeting_id, person_id, mac = int(match[1]), int(match[2]), match[3]
    if not any(hmac.compare_digest(_mac(key, meeting_id, person_id), mac) for key in _keys()):
        return None
    return ReplyToken(meeting_id, person_id)
