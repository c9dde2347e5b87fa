"""Sending notices by SMTP, or to the log when no SMTP server is configured (the demo), and a copy
into the outbox folder when one is configured (``worker/outbox.py``, the demo's "Mail sent" page).

A message is ``multipart/alternative`` (text, HTML and, for meetings, the
``text/calendar; method=...`` part calendar clients act on), wrapped in
``multipart/mixed`` with an ``invite.ics`` attachment for clients that only look
at attachments.
"""

from __future__ import annotations

import functools
import logging
import smtplib
import ssl
from collections.abc import Mapping
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import formatdate, make_msgid
from typing import Any

from calendars.deadlines import current as current_deadlines
from scheduling.notices import Notice
from worker import outbox

log = logging.getLogger(__name__)
TLS_MODES = ("none", "starttls", "ssl")


class MailConfigError(ValueError):
    pass


@dataclass
class Mailer:
    host: str | None = None
    port: int = 25
    tls: str = "none"  # none | starttls | ssl
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    mail_from: str = "flashmentor@localhost"
    timeout: float = 30.0  # connect and each SMTP command (SMTP_TIMEOUT, calendars/deadlines.py)
    ssl_context: ssl.SSLContext | None = field(default=None, repr=False)  # None: system CAs
    outbox: str | None = None  # a folder: every mail sent is also kept there (worker/outbox.py)

    def __post_init__(self) -> None:
        if self.tls not in TLS_MODES:
            raise MailConfigError(f"SMTP_TLS must be one of {', '.join(TLS_MODES)}, not {self.tls!r}.")

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Mailer:
        return cls(
            host=config.get("SMTP_HOST") or None,
            port=int(config.get("SMTP_PORT") or 25),
            tls=str(config.get("SMTP_TLS") or "none").lower(),
            username=config.get("SMTP_USERNAME") or None,
            password=config.get("SMTP_PASSWORD") or None,
            mail_from=config.get("MAIL_FROM") or "flashmentor@localhost",
            timeout=(config.get("DEADLINES") or current_deadlines()).smtp,
            outbox=config.get("MAIL_OUTBOX_DIR") or None,
        )

    def send(self, notice: Notice) -> EmailMessage:
        """Send (or log) the notice, then keep it in the outbox; SMTP errors propagate so the job is
        retried (and nothing is kept, so a retried mail is kept once)."""
        message = self._deliver(notice)
        if self.outbox:
            outbox.keep(message, self.outbox)
        return message

    def _deliver(self, notice: Notice) -> EmailMessage:
        message = build_message(notice, self.mail_from)
        if not self.host:
            log.info(
                "mail (no SMTP_HOST, not sent) to %s: %s\n%s",
                ", ".join(notice.to),
                notice.subject,
                notice.text,
            )
            return message
        smtp: smtplib.SMTP
        if self.tls == "ssl":
            smtp = smtplib.SMTP_SSL(self.host, self.port, timeout=self.timeout, context=self._tls())
        else:
            smtp = smtplib.SMTP(self.host, self.port, timeout=self.timeout)
        with smtp:
            if self.tls == "starttls":
                smtp.starttls(context=self._tls())
            if self.username:
                smtp.login(self.username, self.password or "")
            smtp.send_message(message)
        return message

    def _tls(self) -> ssl.SSLContext:
        return self.ssl_context or system_tls_context()


@functools.cache
def system_tls_context() -> ssl.SSLContext:
    """The client TLS context with the system's CAs, built once per process: loading the CA store
    costs ~25 ms of CPU, and every mail built its own (a mailer is made per job), TLS or not."""
    return ssl.create_default_context()


def build_message(notice: Notice, mail_from: str) -> EmailMessage:
    message = EmailMessage()
    message["From"] = mail_from
    message["To"] = ", ".join(notice.to)
    message["Subject"] = notice.subject
    if notice.reply_to:
        message["Reply-To"] = notice.reply_to
    message["Date"] = formatdate(localtime=False)
    message["Message-ID"] = make_msgid(domain=mail_from.rpartition("@")[2] or "flashmentor")
    message.set_content(notice.text)
    message.add_alternative(notice.html, subtype="html")
    if notice.ics is not None:
        method = notice.ics_method or "REQUEST"
        message.add_alternative(
            notice.ics.decode("utf-8"), subtype="calendar", params={"method": method}
        )
        message.make_mixed()
        message.add_attachment(
            notice.ics, maintype="application", subtype="ics", filename="invite.ics"
        )
    return message
