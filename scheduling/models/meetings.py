"""Meetings that came out of accepted requests, and their calendar events."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Integer,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.db import Base, UTCDateTime, str_enum, utcnow
from scheduling.models.requests import MeetingMode

if TYPE_CHECKING:
    from scheduling.models.people import Person
    from scheduling.models.requests import MeetingRequest


class MeetingState(enum.StrEnum):
    SCHEDULED = "scheduled"
    RESCHEDULED = "rescheduled"
    CANCELED = "canceled"
    COMPLETED = "completed"
    NOT_HELD = "not_held"  # the survey said it did not take place


ACTIVE_MEETING_STATES = (MeetingState.SCHEDULED, MeetingState.RESCHEDULED)


class AttendeeAnswer(enum.StrEnum):
    """The mentee's answer to the invitation (an iTIP REPLY's PARTSTAT); a decline cancels."""

    ACCEPTED = "accepted"
    TENTATIVE = "tentative"
    DECLINED = "declined"


class Meeting(Base):
    __tablename__ = "meetings"
    __table_args__ = (CheckConstraint("start_at < end_at", name="start_before_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("meeting_requests.id"), unique=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime, index=True)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[MeetingState] = mapped_column(
        str_enum(MeetingState, 16), default=MeetingState.SCHEDULED, index=True
    )
    topic: Mapped[str] = mapped_column(String(200))
    mode: Mapped[MeetingMode] = mapped_column(str_enum(MeetingMode, 16))
    location: Mapped[str] = mapped_column(String(500), default="")
    # The video call's join link (``scheduling.video``): the program's template, or the Meet/Teams
    # meeting the organizer's calendar made; "" for other modes or when the program makes none.
    video_url: Mapped[str] = mapped_column(String(1300), default="", server_default="")
    # Stable across retries: calendar writes and the iCalendar UID derive from it.
    uid: Mapped[str] = mapped_column(String(200), unique=True)
    sequence: Mapped[int] = mapped_column(Integer, default=0)  # iTIP SEQUENCE
    # The next step both sides agreed on, recorded by either after the meeting (reminded later).
    action_plan: Mapped[str] = mapped_column(Text, default="", server_default="")
    action_plan_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    action_plan_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    canceled_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    cancel_reason: Mapped[str] = mapped_column(Text, default="")
    # The mentee's answer to the current version's invitation (None: not answered, or the time
    # moved since); ``mentee_answered_at`` is the answer's DTSTAMP, so an older answer never wins.
    mentee_answer: Mapped[AttendeeAnswer | None] = mapped_column(str_enum(AttendeeAnswer, 16))
    mentee_answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    request: Mapped[MeetingRequest] = relationship(back_populates="meeting")
    mentor: Mapped[Person] = relationship(foreign_keys=[mentor_id])
    mentee: Mapped[Person] = relationship(foreign_keys=[mentee_id])
    events: Mapped[list[CalendarEventLink]] = relationship(
        back_populates="meeting", cascade="all, delete-orphan", lazy="selectin"
    )

    @property
    def is_active(self) -> bool:
        return self.state in ACTIVE_MEETING_STATES


class CalendarEventLink(Base):
    """The event a meeting has in one person's calendar (one row per side)."""

    __tablename__ = "calendar_event_links"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"))
    tenant_id: Mapped[int | None] = mapped_column(ForeignKey("calendar_tenants.id", ondelete="SET NULL"))
    provider: Mapped[str] = mapped_column(String(20))
    calendar_id: Mapped[str] = mapped_column(String(500), default="")
    event_id: Mapped[str] = mapped_column(String(500))
    etag: Mapped[str] = mapped_column(String(200), default="")
    # The UID the provider assigned the event (Exchange's ``iCalUId``); empty when it carries ``Meeting.uid``.
    ical_uid: Mapped[str] = mapped_column(String(500), default="", server_default="")
    synced_sequence: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    meeting: Mapped[Meeting] = relationship(back_populates="events")
