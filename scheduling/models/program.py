"""A mentoring program and the rules its admin sets."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from scheduling.db import Base, UTCDateTime, str_enum, utcnow


class MentoringMode(enum.StrEnum):
    ONE_TIME = "one_time"
    ONGOING = "ongoing"
    BOTH = "both"
    MENTOR_CHOICE = "mentor_choice"


class AvailabilityMode(enum.StrEnum):
    WEEKLY_SLOTS = "weekly_slots"
    FREE_TEXT = "free_text"


class Program(Base):
    __tablename__ = "programs"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    mentoring_mode: Mapped[MentoringMode] = mapped_column(
        str_enum(MentoringMode, 20), default=MentoringMode.ONE_TIME
    )
    availability_mode: Mapped[AvailabilityMode] = mapped_column(
        str_enum(AvailabilityMode, 20), default=AvailabilityMode.WEEKLY_SLOTS
    )
    slot_minutes: Mapped[int] = mapped_column(Integer, default=30)
    buffer_minutes: Mapped[int] = mapped_column(Integer, default=0)
    lead_time_hours: Mapped[int] = mapped_column(Integer, default=24)
    mentors_may_create: Mapped[bool] = mapped_column(default=False)
    remind_after_days: Mapped[int | None] = mapped_column(Integer, default=3)
    auto_close_after_days: Mapped[int | None] = mapped_column(Integer, default=14)
    max_meetings_per_month: Mapped[int | None] = mapped_column(Integer)
    max_meetings_per_year: Mapped[int | None] = mapped_column(Integer)
    max_pending_requests: Mapped[int | None] = mapped_column(Integer, default=3)
    meeting_reminder_hours: Mapped[int | None] = mapped_column(Integer, default=24)
    survey_delay_hours: Mapped[int] = mapped_column(Integer, default=2)
    # Matching preferences (issue: finding the right mentor).
    prefer_other_department: Mapped[bool] = mapped_column(default=True)
    directory_hidden: Mapped[bool] = mapped_column(default=False)
    admin_routed: Mapped[bool] = mapped_column(default=False)
    # Video meetings get a join link: a Google Meet / Teams meeting made by the organizer's
    # calendar, else the template filled in (``scheduling.video``).
    video_links: Mapped[bool] = mapped_column(default=False, server_default=false())
    video_url_template: Mapped[str] = mapped_column(String(500), default="", server_default="")
    # Each pending request goes on the mentor's calendar as a tentative hold (an invitation for
    # each proposed time) that the mentor can answer there (``scheduling.request_holds``).
    calendar_holds: Mapped[bool] = mapped_column(default=False, server_default=false())
    # False: people sign in only through the organization's identity provider (SSO only).
    password_signin: Mapped[bool] = mapped_column(default=True)
    # What this program calls its two sides ("mentee"/"mentor" unless the admin renames them).
    mentee_term: Mapped[str] = mapped_column(String(40), default="mentee", server_default="mentee")
    mentor_term: Mapped[str] = mapped_column(String(40), default="mentor", server_default="mentor")
    # Days after an action plan is recorded that both sides are reminded of it (None: no reminder).
    action_plan_reminder_days: Mapped[int | None] = mapped_column(Integer, default=14, server_default="14")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
