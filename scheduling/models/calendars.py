"""Calendar tenants (set up by IT admins) and the accounts people reach through them.

Non-secret settings live in ``config`` (JSON); credentials live in ``secret``,
encrypted at rest by :class:`scheduling.crypto.EncryptedText`.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.crypto import EncryptedText
from scheduling.db import Base, UTCDateTime, str_enum, utcnow


class Provider(enum.StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"
    CALDAV = "caldav"


class CalendarTenant(Base):
    __tablename__ = "calendar_tenants"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    provider: Mapped[Provider] = mapped_column(str_enum(Provider, 16))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    # Provider sync cursors (sync tokens, delta links) per calendar; not secret.
    sync_state: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    last_sync_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    last_sync_status: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    accounts: Mapped[list[CalendarAccount]] = relationship(
        back_populates="tenant", cascade="all, delete-orphan"
    )


class CalendarAccount(Base):
    """A person's calendar inside a tenant (per-user credentials are optional)."""

    __tablename__ = "calendar_accounts"
    __table_args__ = (UniqueConstraint("person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    tenant_id: Mapped[int] = mapped_column(ForeignKey("calendar_tenants.id", ondelete="CASCADE"))
    # Provider-side identity: Google/Microsoft user principal or CalDAV calendar URL.
    external_id: Mapped[str] = mapped_column(String(500))
    username: Mapped[str] = mapped_column(String(254), default="")
    secret: Mapped[str | None] = mapped_column(EncryptedText)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    tenant: Mapped[CalendarTenant] = relationship(back_populates="accounts", lazy="joined")
