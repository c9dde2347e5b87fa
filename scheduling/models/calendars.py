"""Calendar tenants (set up by IT admins) and the accounts people reach through them.

Non-secret settings live in ``config`` (JSON); credentials live in ``secret``,
encrypted at rest by :class:`scheduling.crypto.EncryptedText`.
"""

from __future__ import annotations

import enum
import hmac
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


class PushSubscription(Base):
    """A provider's promise to notify us when one person's calendar changes (a Google watch
    channel or a Graph subscription), until ``expires_at``; the worker renews it before then.

    ``secret`` is what the provider echoes with every notification (``X-Goog-Channel-Token`` /
    ``clientState``): random per subscription, encrypted at rest, compared in constant time.
    """

    __tablename__ = "calendar_push_subscriptions"
    __table_args__ = (
        UniqueConstraint("tenant_id", "person_id"),  # one channel per calendar
        UniqueConstraint("channel_id", "tenant_id"),  # a notification names its channel
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    tenant_id: Mapped[int] = mapped_column(ForeignKey("calendar_tenants.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    # The provider's ids: Google channel id / Graph subscription id, and Google's resourceId
    # (needed to stop the channel) / Graph's resource path.
    channel_id: Mapped[str] = mapped_column(String(255))
    resource_id: Mapped[str] = mapped_column(String(500), default="")
    # What it watches and where it reports: a changed account or base URL means a new one.
    calendar_id: Mapped[str] = mapped_column(String(500))
    address: Mapped[str] = mapped_column(String(1000))
    secret: Mapped[str] = mapped_column(EncryptedText)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    renewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    def matches(self, token: str | None) -> bool:
        """Whether a notification carries this subscription's secret (constant-time compare)."""
        return bool(token) and hmac.compare_digest(self.secret.encode(), str(token).encode())
