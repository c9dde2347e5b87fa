"""Calendar tenants (set up by IT admins) and the accounts people reach through them.

Non-secret settings live in ``config`` (JSON); credentials live in ``secret``,
encrypted at rest by :class:`scheduling.crypto.EncryptedText`.
"""

from __future__ import annotations

import enum
import hmac
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, String, Text, UniqueConstraint, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.crypto import EncryptedText
from scheduling.db import Base, UTCDateTime, str_enum, utcnow


class Provider(enum.StrEnum):
    GOOGLE = "google"
    MICROSOFT = "microsoft"
    CALDAV = "caldav"


class ConnectionHealth(enum.StrEnum):
    """Whether a person's calendar connection works (``scheduling.calendar_health`` decides)."""

    OK = "ok"
    BROKEN = "broken"  # consent revoked, credentials refused, or sync failing again and again


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
    # Connection health: broken since when and why (shown to the person and the admins, and
    # by availability instead of treating them as free); failed syncs in a row; the last
    # time a sync or a connection test got through.
    health: Mapped[ConnectionHealth] = mapped_column(
        str_enum(ConnectionHealth, 16), default=ConnectionHealth.OK, server_default=text("'ok'")
    )
    broken_since: Mapped[datetime | None] = mapped_column(UTCDateTime)
    broken_reason: Mapped[str] = mapped_column(Text, default="", server_default=text("''"))
    failed_syncs: Mapped[int] = mapped_column(default=0, server_default=text("0"))
    last_ok_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    tenant: Mapped[CalendarTenant] = relationship(back_populates="accounts", lazy="joined")

    @property
    def broken(self) -> bool:
        return self.health == ConnectionHealth.BROKEN


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
