"""Meeting requests and the times proposed in them."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.db import Base, UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from scheduling.models.meetings import Meeting
    from scheduling.models.people import Person, Skill
    from scheduling.models.program import Program


class RequestState(enum.StrEnum):
    PENDING = "pending"
    ACCEPTED = "accepted"
    COUNTERED = "countered"  # mentor accepted with another time; mentee confirms or withdraws
    DECLINED = "declined"
    EXPIRED = "expired"  # auto-closed (or closed by an admin)
    WITHDRAWN = "withdrawn"


OPEN_REQUEST_STATES = (RequestState.PENDING, RequestState.COUNTERED)


class MeetingMode(enum.StrEnum):
    VIDEO = "video"
    PHONE = "phone"
    IN_PERSON = "in_person"


class DeclineReason(enum.StrEnum):
    NO_TIME = "no_time"
    NOT_MY_EXPERTISE = "not_my_expertise"
    TOO_MANY_REQUESTS = "too_many_requests"
    TIMES_DO_NOT_WORK = "times_do_not_work"
    OTHER = "other"
    DECLINED_FROM_CALENDAR = "declined_from_calendar"  # the mentor declined the request's hold


class Initiator(enum.StrEnum):
    MENTEE = "mentee"
    MENTOR = "mentor"


class RequestKind(enum.StrEnum):
    ONE_TIME = "one_time"  # one (flash) meeting
    ONGOING = "ongoing"  # a mentoring connection: a first meeting that starts an ongoing mentorship


class MeetingRequest(Base):
    __tablename__ = "meeting_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    initiated_by: Mapped[Initiator] = mapped_column(
        str_enum(Initiator, 10), default=Initiator.MENTEE
    )
    kind: Mapped[RequestKind] = mapped_column(
        str_enum(RequestKind, 16), default=RequestKind.ONE_TIME, server_default=RequestKind.ONE_TIME.value
    )
    topic: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    # The catalogue skill the request is about (optional), so outcomes can be counted per skill.
    skill_id: Mapped[int | None] = mapped_column(ForeignKey("skills.id", ondelete="SET NULL"), index=True)
    # What the mentee wants out of the meeting, stated before it (the mentor reads it to prepare).
    goals: Mapped[str] = mapped_column(Text, default="", server_default="")
    mode: Mapped[MeetingMode] = mapped_column(
        str_enum(MeetingMode, 16), default=MeetingMode.VIDEO
    )
    location: Mapped[str] = mapped_column(String(500), default="")
    state: Mapped[RequestState] = mapped_column(
        str_enum(RequestState, 16), default=RequestState.PENDING, index=True
    )
    decline_reason: Mapped[DeclineReason | None] = mapped_column(
        str_enum(DeclineReason, 32)
    )
    decline_message: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    last_reminded_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # Optimistic lock: two people answering at once cannot both win.
    version: Mapped[int] = mapped_column(Integer, default=1)

    __mapper_args__ = {"version_id_col": version}

    program: Mapped[Program] = relationship()
    mentee: Mapped[Person] = relationship(foreign_keys=[mentee_id])
    mentor: Mapped[Person] = relationship(foreign_keys=[mentor_id])
    skill: Mapped[Skill | None] = relationship()
    proposed_times: Mapped[list[ProposedTime]] = relationship(
        back_populates="request", cascade="all, delete-orphan", order_by="ProposedTime.start_at",
        lazy="selectin",
    )
    meeting: Mapped[Meeting | None] = relationship(back_populates="request", uselist=False)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_REQUEST_STATES


class ProposedTime(Base):
    __tablename__ = "proposed_times"
    __table_args__ = (CheckConstraint("start_at < end_at", name="start_before_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(
        ForeignKey("meeting_requests.id", ondelete="CASCADE"), index=True
    )
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    proposed_by: Mapped[Initiator] = mapped_column(
        str_enum(Initiator, 10), default=Initiator.MENTEE
    )

    request: Mapped[MeetingRequest] = relationship(back_populates="proposed_times")
