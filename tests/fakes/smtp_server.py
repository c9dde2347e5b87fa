"""A real SMTP server (aiosmtpd) on a loopback port that keeps what it receives, parsed.

Plain, STARTTLS (with AUTH, refused before TLS) or implicit TLS, using the test CA
from :mod:`tests.fakes.tls` so clients verify the certificate as they would in use.
"""

from __future__ import annotations

import email
import email.policy
import ssl
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import icalendar
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult, LoginPassword

from tests.fakes.tls import make_tls_files
from tests.ports import free_port


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage

    @property
    def to(self) -> str:
        return str(self.message["To"])

    @property
    def subject(self) -> str:
        return str(self.message["Subject"])

    def part(self, content_type: str) -> EmailMessage | None:
        for part in self.message.walk():
            if part.get_content_type() == content_type and part.get_content_disposition() != "attachment":
                return part  # type: ignore[return-value]
        return None

    def text(self) -> str:
        part = self.part("text/plain")
        assert part is not None
        return str(part.get_content())

    def html(self) -> str:
        part = self.part("text/html")
        assert part is not None
        return str(part.get_content())

    def calendar(self) -> icalendar.Calendar | None:
        part = self.part("text/calendar")
        if part is None:
            return None
        content = part.get_content()
        return icalendar.Calendar.from_ical(content if isinstance(content, str) else content.decode())

    def event(self) -> Any:
        cal = self.calendar()
        assert cal is not None
        [event] = cal.walk("VEVENT")
        return event


@dataclass
class _Handler:
    received: list[Received] = field(default_factory=list)

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        message = email.message_from_bytes(envelope.content, policy=email.policy.default)
        assert isinstance(message, EmailMessage)
        self.received.append(Received(envelope.mail_from, list(envelope.rcpt_tos), message))
        return "250 Message accepted"


@dataclass
class SmtpServer:
    host: str
    port: int
    handler: _Handler
    ca_file: Path | None = None
    username: str = ""
    password: str = ""

    @property
    def received(self) -> list[Received]:
        return self.handler.received

    def to(self, address: str) -> list[Received]:
        return [r for r in self.received if address.lower() in [a.lower() for a in r.rcpt_tos]]

    def clear(self) -> None:
        self.handler.received.clear()

    def config(self, tls: str = "none") -> dict[str, Any]:
        return {
            "SMTP_HOST": self.host,
            "SMTP_PORT": self.port,
            "SMTP_TLS": tls,
            "SMTP_USERNAME": self.username or None,
            "SMTP_PASSWORD": self.password or None,
            "MAIL_FROM": "flashmentor@example.com",
        }

    def client_context(self) -> ssl.SSLContext:
        assert self.ca_file is not None
        return ssl.create_default_context(cafile=str(self.ca_file))


def _authenticator(username: str, password: str) -> Any:
    def check(server: Any, session: Any, envelope: Any, mechanism: str, auth_data: Any) -> AuthResult:
        ok = (
            isinstance(auth_data, LoginPassword)
            and auth_data.login.decode() == username
            and auth_data.password.decode() == password
        )
        return AuthResult(success=ok, handled=False)

    return check


@contextmanager
def smtp_server(tls_dir: Path | None = None, mode: str = "none") -> Iterator[SmtpServer]:
    """``mode``: none (plain, no auth), starttls (TLS required, then AUTH), ssl (implicit TLS)."""
    handler = _Handler()
    port = free_port()
    kwargs: dict[str, Any] = {}
    ca_file = None
    username, password = ("", "")
    if mode != "none":
        assert tls_dir is not None
        ca_file, cert, key = make_tls_files(tls_dir)
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(str(cert), str(key))
        if mode == "starttls":
            username, password = "mailer", "s3cret-for-tests"
            kwargs.update(
                tls_context=context,
                require_starttls=True,
                authenticator=_authenticator(username, password),
                auth_required=True,
            )
        else:
            kwargs.update(ssl_context=context)
    controller = Controller(handler, hostname="127.0.0.1", port=port, **kwargs)
    controller.start()
    try:
        yield SmtpServer("127.0.0.1", port, handler, ca_file, username, password)
    finally:
        controller.stop()
