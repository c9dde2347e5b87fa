"""People, their roles, skills and profile."""

from __future__ import annotations

import enum
import secrets
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import BigInteger, ForeignKey, Integer, String, Text, UniqueConstraint, false, true
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.db import Base, UTCDateTime, str_enum, utcnow

if TYPE_CHECKING:
    from scheduling.models.availability import DatedSlot, WeeklySlot


def new_rules_version() -> int:
    """A fresh ``Person.weekly_rules_version``: random, so that no two states of anyone's weekly
    slots share one (ids are reused when a test database is emptied; counters would repeat)."""
    return secrets.randbits(62) + 1


class SkillRelation(enum.StrEnum):
    OFFERS = "offers"  # a mentor offers the skill at a level
    WANTS = "wants"  # a mentee wants to learn it
    HAS = "has"  # self-assessed level, used for competency gaps


class Person(Base):
    __tablename__ = "people"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(254), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    department: Mapped[str] = mapped_column(String(200), default="")
    title: Mapped[str] = mapped_column(String(200), default="")
    region: Mapped[str] = mapped_column(String(100), default="")
    time_zone: Mapped[str] = mapped_column(String(64), default="UTC")
    bio: Mapped[str] = mapped_column(Text, default="")
    password_hash: Mapped[str | None] = mapped_column(String(255))
    is_mentee: Mapped[bool] = mapped_column(default=True)
    is_mentor: Mapped[bool] = mapped_column(default=False)
    is_admin: Mapped[bool] = mapped_column(default=False)
    active: Mapped[bool] = mapped_column(default=True)
    manager_id: Mapped[int | None] = mapped_column(ForeignKey("people.id", ondelete="SET NULL"))
    # Free-text availability ("Tuesday mornings, ask me") for programs in free-text mode.
    availability_note: Mapped[str] = mapped_column(Text, default="")
    # A mentor's own cap on meetings per month (None: only the program's rules apply).
    monthly_meeting_cap: Mapped[int | None] = mapped_column(Integer)
    # "Not taking requests" until this moment (None: taking them): hidden from recommendations
    # and the directory; pending requests stay as they are.
    paused_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
    # The mentoring a mentor offers where the program lets mentors choose (mentor_choice).
    offers_one_time: Mapped[bool] = mapped_column(default=True, server_default=true())
    offers_ongoing: Mapped[bool] = mapped_column(default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    # Set when they accept an invitation: the first sign-in asks for the profile before Home.
    needs_profile: Mapped[bool] = mapped_column(default=False, server_default=false())
    # Changes (to a new random value) whenever the person's weekly slots change
    # (``scheduling.models.availability``), so a process may keep their weekly rules in a memo
    # keyed by it (``scheduling.availability.mentors_rules``). 0: unknown, never memoised.
    weekly_rules_version: Mapped[int] = mapped_column(
        BigInteger, default=new_rules_version, server_default="0"
    )

    manager: Mapped[Person | None] = relationship(remote_side=[id])
    skills: Mapped[list[PersonSkill]] = relationship(
        back_populates="person", cascade="all, delete-orphan", lazy="selectin"
    )
    weekly_slots: Mapped[list[WeeklySlot]] = relationship(
        back_populates="mentor", cascade="all, delete-orphan", lazy="selectin"
    )
    dated_slots: Mapped[list[DatedSlot]] = relationship(
        back_populates="mentor", cascade="all, delete-orphan"
    )

    def paused_at(self, now: datetime) -> bool:
        """Whether the mentor is not taking requests at ``now``."""
        return self.paused_until is not None and self.paused_until > now

    @property
    def roles(self) -> list[str]:
        return [r for r, on in (("mentee", self.is_mentee), ("mentor", self.is_mentor),
                                ("admin", self.is_admin)) if on]

    def skill_names(self, relation: SkillRelation = SkillRelation.OFFERS) -> list[str]:
        return sorted(ps.skill.name for ps in self.skills if ps.relation == relation)

    def __repr__(self) -> str:
        return f"<Person {self.id} {self.email}>"


class Skill(Base):
    __tablename__ = "skills"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)
    # Lower-cased, punctuation-free form used for matching and de-duplication.
    key: Mapped[str] = mapped_column(String(120), unique=True, index=True)
    category: Mapped[str] = mapped_column(String(120), default="")

    aliases: Mapped[list[SkillAlias]] = relationship(
        back_populates="skill", cascade="all, delete-orphan", lazy="selectin"
    )


class SkillAlias(Base):
    __tablename__ = "skill_aliases"

    id: Mapped[int] = mapped_column(primary_key=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), index=True)
    key: Mapped[str] = mapped_column(String(120), unique=True)
    skill: Mapped[Skill] = relationship(back_populates="aliases")


class PersonSkill(Base):
    __tablename__ = "person_skills"
    __table_args__ = (UniqueConstraint("person_id", "skill_id", "relation"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    skill_id: Mapped[int] = mapped_column(ForeignKey("skills.id", ondelete="CASCADE"), index=True)
    relation: Mapped[SkillRelation] = mapped_column(
        str_enum(SkillRelation, 16), default=SkillRelation.OFFERS
    )
    level: Mapped[int | None] = mapped_column(Integer)  # 1..5

    person: Mapped[Person] = relationship(back_populates="skills")
    skill: Mapped[Skill] = relationship(lazy="joined")
