"""One-time links that let a person set their password: an invitation, or a reset.

The token in the emailed link is random; only its SHA-256 is kept to look it up. The
token itself is also kept encrypted (``pending_token``) until the email carrying it has
gone out, because the email is sent later by a worker from a timed work row; the job
then wipes it. A link is good until ``expires_at``, once (``used_at``); issuing a new
link of a kind retires the person's earlier unused ones.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.crypto import EncryptedText
from scheduling.db import Base, UTCDateTime, str_enum, utcnow
from scheduling.models.people import Person


class LinkPurpose(enum.StrEnum):
    INVITE = "invite"  # an admin invited them: set a first password, then the first-sign-in step
    RESET = "reset"  # "forgot password"


class AccessLink(Base):
    __tablename__ = "access_links"

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    purpose: Mapped[LinkPurpose] = mapped_column(str_enum(LinkPurpose, 16))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    pending_token: Mapped[str | None] = mapped_column(EncryptedText)  # until the email is sent
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)  # used, or retired by a newer link
    sent_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    person: Mapped[Person] = relationship()
