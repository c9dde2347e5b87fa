"""The mail outbox of a demo or development installation: every mail sent is also kept as a file.

With ``FLASHMENTOR_MAIL_OUTBOX`` set (``bin/demo`` sets it), the worker writes each message it sends
(or, with no SMTP server, would send) as one ``.eml`` file into that folder, and admins read them on
``/admin/outbox``: the invitations, reminders and surveys the product sends become visible without a
mail server. Files are written whole (a temporary name, then renamed), so a reader never sees half a
message; only the newest :data:`KEEP` are kept.
"""

from __future__ import annotations

import os
import time
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

KEEP = 500
SUFFIX = ".eml"


@dataclass(frozen=True)
class KeptMail:
    name: str  # the file's name: sortable by time, unique
    sent_at: datetime
    to: str
    subject: str
    text: str
    has_invitation: bool  # a text/calendar part (a meeting invitation or its update)


def keep(message: EmailMessage, folder: str | Path) -> Path:
    """Write ``message`` into ``folder`` as a new file; drop the oldest beyond :data:`KEEP`."""
    where = Path(folder)
    where.mkdir(parents=True, exist_ok=True)
    name = f"{time.time_ns():020d}-{uuid.uuid4().hex[:8]}{SUFFIX}"
    partial = where / f".{name}.part"
    partial.write_bytes(message.as_bytes(policy=policy.SMTP))
    os.replace(partial, where / name)
    for old in _names(where)[:-KEEP]:
        (where / old).unlink(missing_ok=True)
    return where / name


def recent(folder: str | Path, limit: int = 100) -> list[KeptMail]:
    """The newest ``limit`` kept mails, newest first (none when the folder does not exist yet)."""
    where = Path(folder)
    if not where.is_dir():
        return []
    out = []
    for name in reversed(_names(where)[-limit:]):
        try:
            raw = (where / name).read_bytes()
        except FileNotFoundError:  # pruned by a writer meanwhile
            continue
        out.append(_read(name, raw))
    return out


def _names(where: Path) -> list[str]:
    return sorted(p.name for p in where.iterdir() if p.name.endswith(SUFFIX) and not p.name.startswith("."))


def _read(name: str, raw: bytes) -> KeptMail:
    message = BytesParser(policy=policy.default).parsebytes(raw)
    assert isinstance(message, EmailMessage)
    body = message.get_body(preferencelist=("plain",))
    text = body.get_content() if body is not None else ""
    stamp = int(name.split("-", 1)[0]) / 1e9
    return KeptMail(
        name=name,
        sent_at=datetime.fromtimestamp(stamp, UTC),
        to=str(message.get("To", "")),
        subject=str(message.get("Subject", "")),
        text=text,
        has_invitation=any(part.get_content_type() == "text/calendar" for part in message.walk()),
    )
