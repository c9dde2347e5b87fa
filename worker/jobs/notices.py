"""Sending a notice once: a notice to one person about one version of a thing is marked
sent in Redis, so a retried job (one SMTP failure among two recipients) sends only what
is missing."""

from __future__ import annotations

from collections.abc import Callable

from scheduling.notices import Notice
from scheduling.services import access
from worker import runtime

SENT_MARK_TTL = 60 * 24 * 3600  # how long "this notice was sent" is remembered (seconds)


def send_once(key: str, notice: Notice) -> bool:
    """Send unless a notice with this key was sent already; mark it after sending."""
    conn = runtime.redis_connection()
    mark = f"flashmentor:sent:{key}"
    if conn.exists(mark):
        return False
    runtime.mailer().send(notice)
    conn.set(mark, "1", ex=SENT_MARK_TTL)
    return True


def send_all(items: list[Notice], key: Callable[[Notice], str]) -> int:
    return sum(1 for n in items if send_once(key(n), n))


def send_account_email(link_id: int) -> bool:
    """An invitation or password-reset email; nothing when the link was sent, used or retired
    meanwhile. The token is wiped from the database once the email is out."""
    with runtime.session_scope() as db:
        email = access.pending_email(db, link_id)
        if email is None:
            return False
        runtime.mailer().send(access.link_notice(email, runtime.base_url()))
        access.mark_sent(db, link_id)
    return True
