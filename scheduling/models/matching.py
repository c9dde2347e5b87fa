"""Matching: the competency model, admin-pushed recommendations, admin routing,
skill re-assessments after meetings, and follow-up proposals."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.db import Base, UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from scheduling.models.people import Person, Skill


class Competency(Base):
    """In the program's competency model, people in ``role`` should reach ``target_level`` in a skill.

    A person's role is their job title (matched by :attr:`role_key`, case- and
    spacing-insensitive), so the model works with the titles HR imports already carry.
    """

    __tablename__ = "competencies"
    __table_args__ = (
        UniqueConstraint("program_id", "role_key", "skill_id"),
        CheckConstraint("target_level >= 1 AND target_level <= 5", name="target_level_range"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(200))
    role_key: Mapped[str] = mapped_column(String(200), index=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), index=True)
    target_level: Mapped[int] = mapped_column(Integer)

    skill: Mapped[Skill] = relationship(lazy="joined")


class Recommendation(Base):
    """An admin suggests ``mentor`` to ``mentee``; shown before the computed matches."""

    __tablename__ = "recommendations"
    __table_args__ = (UniqueConstraint("program_id", "mentee_id", "mentor_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    pushed_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    mentee: Mapped[Person] = relationship(foreign_keys=[mentee_id])
    mentor: Mapped[Person] = relationship(foreign_keys=[mentor_id])


class RoutingState(enum.StrEnum):
    OPEN = "open"  # waiting for an admin
    ASSIGNED = "assigned"  # an admin picked a mentor; a meeting request was made
    WITHDRAWN = "withdrawn"  # the mentee took it back


class RoutingRequest(Base):
    """In an admin-routed program, a mentee's ranked list of preferred mentors for one topic."""

    __tablename__ = "routing_requests"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    mentee_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    topic: Mapped[str] = mapped_column(String(200))
    description: Mapped[str] = mapped_column(Text, default="")
    state: Mapped[RoutingState] = mapped_column(
        str_enum(RoutingState, 16), default=RoutingState.OPEN, index=True
    )
    assigned_mentor_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting_requests.id", ondelete="SET NULL")
    )
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    mentee: Mapped[Person] = relationship(foreign_keys=[mentee_id])
    choices: Mapped[list[RoutingChoice]] = relationship(
        back_populates="routing", cascade="all, delete-orphan", order_by="RoutingChoice.rank",
        lazy="selectin",
    )


class RoutingChoice(Base):
    __tablename__ = "routing_choices"
    __table_args__ = (
        # Named by their first column: mentor and rank are each unique within one routing request.
        UniqueConstraint("mentor_id", "routing_id"),
        UniqueConstraint("rank", "routing_id"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    routing_id: Mapped[int] = mapped_column(
        ForeignKey("routing_requests.id", ondelete="CASCADE"), index=True
    )
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    rank: Mapped[int] = mapped_column(Integer)  # 1 = first choice

    routing: Mapped[RoutingRequest] = relationship(back_populates="choices")
    mentor: Mapped[Person] = relationship(lazy="joined")


class ReassessmentState(enum.StrEnum):
    PENDING = "pending"  # the manager has not answered yet
    CONFIRMED = "confirmed"  # the new level is now the person's level
    REJECTED = "rejected"


class SkillReassessment(Base):
    """A person's new self-assessed level in a skill (usually after a meeting), for the manager to confirm."""

    __tablename__ = "skill_reassessments"
    __table_args__ = (CheckConstraint("new_level >= 1 AND new_level <= 5", name="new_level_range"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"))
    meeting_id: Mapped[int | None] = mapped_column(ForeignKey("meetings.id", ondelete="SET NULL"), index=True)
    previous_level: Mapped[int | None] = mapped_column(Integer)
    new_level: Mapped[int] = mapped_column(Integer)
    state: Mapped[ReassessmentState] = mapped_column(
        str_enum(ReassessmentState, 16), default=ReassessmentState.PENDING, index=True
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))

    person: Mapped[Person] = relationship(foreign_keys=[person_id])
    skill: Mapped[Skill] = relationship(lazy="joined")


class FollowUpKind(enum.StrEnum):
    ONGOING = "ongoing"  # continue as an ongoing mentorship
    FOLLOW_UP = "follow_up"  # one more meeting (a new request is made at once)


class FollowUpState(enum.StrEnum):
    PROPOSED = "proposed"
    ACCEPTED = "accepted"
    DECLINED = "declined"


class FollowUp(Base):
    """After a meeting, one side proposes to continue; the other side answers."""

    __tablename__ = "follow_ups"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    proposed_by_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))
    kind: Mapped[FollowUpKind] = mapped_column(str_enum(FollowUpKind, 16))
    state: Mapped[FollowUpState] = mapped_column(
        str_enum(FollowUpState, 16), default=FollowUpState.PROPOSED
    )
    message: Mapped[str] = mapped_column(Text, default="")
    # For a follow-up meeting: the request made for it (answered like any request).
    request_id: Mapped[int | None] = mapped_column(
        ForeignKey("meeting_requests.id", ondelete="SET NULL")
    )
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
