"""Post-meeting surveys: per-program questions, one invitation per person and meeting."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import JSON, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.db import Base, UTCDateTime, str_enum, utcnow


class QuestionKind(enum.StrEnum):
    TOOK_PLACE = "took_place"  # yes/no, always first and required
    RATING = "rating"  # 1..5
    CHOICE = "choice"
    TEXT = "text"


class SurveyVariant(enum.StrEnum):
    HELD = "held"
    CANCELED = "canceled"


class SurveyAudience(enum.StrEnum):
    """Who is asked a question: the seed has a mentor survey and a mentee survey."""

    EVERYONE = "everyone"
    MENTOR = "mentor"
    MENTEE = "mentee"


class SurveyQuestion(Base):
    __tablename__ = "survey_questions"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    variant: Mapped[SurveyVariant] = mapped_column(
        str_enum(SurveyVariant, 16), default=SurveyVariant.HELD
    )
    audience: Mapped[SurveyAudience] = mapped_column(
        str_enum(SurveyAudience, 16), default=SurveyAudience.EVERYONE,
        server_default=SurveyAudience.EVERYONE.value,
    )
    position: Mapped[int] = mapped_column(Integer, default=0)
    text: Mapped[str] = mapped_column(String(500))
    kind: Mapped[QuestionKind] = mapped_column(str_enum(QuestionKind, 16))
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    required: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)


class SurveyInvitation(Base):
    __tablename__ = "survey_invitations"
    __table_args__ = (UniqueConstraint("meeting_id", "person_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    variant: Mapped[SurveyVariant] = mapped_column(str_enum(SurveyVariant, 16))
    sent_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    reminders_sent: Mapped[int] = mapped_column(Integer, default=0)
    answered_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    took_place: Mapped[bool | None] = mapped_column()

    answers: Mapped[list[SurveyAnswer]] = relationship(
        back_populates="invitation", cascade="all, delete-orphan", lazy="selectin"
    )


class SurveyAnswer(Base):
    __tablename__ = "survey_answers"
    __table_args__ = (UniqueConstraint("invitation_id", "question_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    invitation_id: Mapped[int] = mapped_column(
        ForeignKey("survey_invitations.id", ondelete="CASCADE"), index=True
    )
    question_id: Mapped[int] = mapped_column(ForeignKey("survey_questions.id", ondelete="CASCADE"))
    value: Mapped[Any] = mapped_column(JSON)
    text: Mapped[str] = mapped_column(Text, default="")

    invitation: Mapped[SurveyInvitation] = relationship(back_populates="answers")
    question: Mapped[SurveyQuestion] = relationship(lazy="joined")
