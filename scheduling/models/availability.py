"""A mentor's availability: recurring weekly slots and dated one-off slots."""

from __future__ import annotations

from datetime import datetime, time
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Time, event, update
from sqlalchemy.orm import Mapped, mapped_column, relationship

from scheduling.db import Base, UTCDateTime
from scheduling.models.people import Person, new_rules_version


class WeeklySlot(Base):
    """Every week on ``weekday`` from ``start`` to ``end`` wall time in ``time_zone``.

    The zone is stored on the slot (copied from the mentor) so that "Tuesdays
    09:00 London" keeps meaning London time even if the profile zone changes later.
    """

    __tablename__ = "weekly_slots"
    __table_args__ = (
        CheckConstraint("weekday >= 0 AND weekday <= 6", name="weekday_range"),
        CheckConstraint("start_time < end_time", name="start_before_end"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    weekday: Mapped[int] = mapped_column(Integer)  # Monday = 0
    start_time: Mapped[time] = mapped_column(Time)
    end_time: Mapped[time] = mapped_column(Time)
    time_zone: Mapped[str] = mapped_column(String(64))

    mentor: Mapped[Person] = relationship(back_populates="weekly_slots")


class DatedSlot(Base):
    __tablename__ = "dated_slots"
    __table_args__ = (CheckConstraint("start_at < end_at", name="start_before_end"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    mentor_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), index=True)
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)

    mentor: Mapped[Person] = relationship(back_populates="dated_slots")


@event.listens_for(WeeklySlot, "after_insert")
@event.listens_for(WeeklySlot, "after_update")
@event.listens_for(WeeklySlot, "after_delete")
def _new_rules_version(mapper: Any, connection: Any, slot: WeeklySlot) -> None:
    """Any weekly slot written through the ORM (added, changed, deleted, or dropped as an orphan)
    gives its mentor a new ``weekly_rules_version``, in the same transaction, so processes that
    memoise weekly rules read them again. Bulk SQL writes do not pass here: they are for new
    people only (seeds), whose version is new anyway."""
    connection.execute(update(Person).where(Person.id == slot.mentor_id)
                       .values(weekly_rules_version=new_rules_version()))
