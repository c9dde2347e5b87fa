"""Timed work: every follow-up of a state change, kept as a row in the database.

A reminder, a survey, a calendar write or a notice is written in the same transaction
as the change that calls for it, so it exists exactly when the change does. The
database is the truth; RQ on Redis is only the transport that a relay
(:mod:`worker.relay`) moves due rows onto. Redis may forget, a worker may die: the row
is still here, still due, and is relayed again.
"""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from scheduling.db import Base, UTCDateTime, str_enum, utcnow


class WorkKind(enum.StrEnum):
    """What a row asks the worker to do; the worker maps each kind to one job function."""

    REQUEST_CREATED = "request.created"  # tell the person asked
    REQUEST_ANSWERED = "request.answered"  # tell the other side what became of it
    REQUEST_REMINDER = "request.reminder"
    REQUEST_AUTO_CLOSE = "request.auto_close"
    CALENDAR_WRITE = "meeting.calendar_write"
    CALENDAR_CANCEL = "meeting.calendar_cancel"
    REQUEST_HOLDS = "request.calendar_holds"  # a request's holds in the mentor's calendar, brought in line
    MEETING_INVITE = "meeting.invite"  # the iTIP email (REQUEST or CANCEL)
    MEETING_REMINDER = "meeting.reminder"
    SURVEY_INVITE = "meeting.survey"
    SURVEY_REMINDER = "meeting.survey_reminder"
    ACTION_PLAN_REMINDER = "meeting.action_plan_reminder"  # both sides, days after the plan
    TENANT_SYNC = "calendar.sync_tenant"
    ENSURE_PUSH = "calendar.ensure_push"
    SYNC_ROUND = "calendar.sync_round"  # periodic: one TENANT_SYNC per tenant
    PUSH_ROUND = "calendar.push_round"  # periodic: one ENSURE_PUSH per person due
    STOP_PUSH = "calendar.stop_push"  # a deactivated person's channels, stopped at the provider
    ACCOUNT_EMAIL = "person.account_email"  # an invitation or password-reset link
    NOTIFICATION_EMAIL = "notice.notification"  # one in-app notification's immediate email
    NOTIFICATION_DIGEST = "notice.digest"  # a person's daily digest of notifications


class WorkState(enum.StrEnum):
    DUE = "due"  # waiting for its time (or for a retry), then for the relay
    QUEUED = "queued"  # handed to RQ; done when the job says so
    DONE = "done"
    CANCELED = "canceled"  # the change it followed was undone or superseded
    DEAD = "dead"  # failed every attempt; an admin may retry it


OPEN_WORK_STATES = (WorkState.DUE, WorkState.QUEUED)


def job_id_for(key: str, relays: int) -> str:
    """The RQ job id of a row's ``relays``-th hand-over (``fm-<key>``, then ``fm-<key>-r<n>``)."""
    return f"fm-{key}" if relays <= 0 else f"fm-{key}-r{relays}"


class TimedWork(Base):
    __tablename__ = "timed_work"
    __table_args__ = (Index("ix_timed_work_state_due_at", "state", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    # Idempotency key, e.g. ``request-12-reminder``: planning the same key again re-times the row.
    key: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[WorkKind] = mapped_column(str_enum(WorkKind, 40))
    args: Mapped[list[Any]] = mapped_column(JSON, default=list)
    due_at: Mapped[datetime] = mapped_column(UTCDateTime)
    state: Mapped[WorkState] = mapped_column(str_enum(WorkState, 16), default=WorkState.DUE)
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # failed runs so far
    max_attempts: Mapped[int] = mapped_column(Integer, default=6)
    # Bumped whenever the row is handed to RQ again (re-planned, retried, recovered), so each
    # hand-over has its own job id and a stale job can tell it was superseded.
    relays: Mapped[int] = mapped_column(Integer, default=0)
    last_error: Mapped[str] = mapped_column(Text, default="")
    relayed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The RQ job of the batch the row was last handed over in (several rows of one kind per
    # job, see worker.relay); None when it went in a job of its own (``job_id``).
    batch_job_id: Mapped[str | None] = mapped_column(String(250), default=None)
    finished_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    @property
    def job_id(self) -> str:
        """The RQ job id of the current hand-over: deterministic, so a relay that runs twice
        finds the job it enqueued the first time instead of enqueuing another."""
        return job_id_for(self.key, self.relays)

    @property
    def handed_job_id(self) -> str:
        """The RQ job that runs the current hand-over: the batch's, or the row's own."""
        return self.batch_job_id or self.job_id

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_WORK_STATES
