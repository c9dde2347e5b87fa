"""In-app notifications and each person's email preferences per kind of notification."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import ForeignKey, Index, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scheduling.db import Base, UTCDateTime, str_enum, utcnow


class NotificationKind(enum.StrEnum):
    """What a notification is about; preferences are kept per kind."""

    REQUEST = "request"  # a request to me, or what became of mine
    MEETING = "meeting"  # booked, moved, canceled
    RECOMMENDATION = "recommendation"  # an admin recommended a mentor to me
    MESSAGE = "message"  # a new message on a request or meeting
    ROUTED = "routed"  # an admin matched me (admin-routed programs)
    FOLLOW_UP = "follow_up"  # a follow-up or ongoing mentorship was proposed
    REASSESSMENT = "reassessment"  # a skill re-assessment waits for me (managers)
    SURVEY = "survey"  # feedback on a past meeting
    CALENDAR = "calendar"  # my calendar connection broke: availability no longer reads it


class EmailChoice(enum.StrEnum):
    IMMEDIATE = "immediate"
    DIGEST = "digest"  # one email a day with everything of the kind
    OFF = "off"


class EmailState(enum.StrEnum):
    """What became of a notification's email."""

    NONE = "none"  # not emailed (preference off, or the rule's own email says it)
    PLANNED = "planned"  # an immediate email is planned as timed work
    DIGEST = "digest"  # waits for the person's daily digest
    SENT = "sent"


class Notification(Base):
    __tablename__ = "notifications"
    __table_args__ = (Index("ix_notifications_person_unread", "person_id", "read_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind, 20))
    title: Mapped[str] = mapped_column(String(300))
    body: Mapped[str] = mapped_column(Text, default="")
    link: Mapped[str] = mapped_column(String(500), default="")  # a path in the web app
    email: Mapped[EmailState] = mapped_column(str_enum(EmailState, 16), default=EmailState.NONE)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    read_at: Mapped[datetime | None] = mapped_column(UTCDateTime)


class NotificationPreference(Base):
    __tablename__ = "notification_preferences"
    __table_args__ = (UniqueConstraint("person_id", "kind"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    kind: Mapped[NotificationKind] = mapped_column(str_enum(NotificationKind, 20))
    email: Mapped[EmailChoice] = mapped_column(str_enum(EmailChoice, 16), default=EmailChoice.IMMEDIATE)
