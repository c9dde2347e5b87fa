"""Profile fields a program's admin defines (e.g. location, languages), and each person's answers.

A field with choices is answered by picking one, and may be a directory filter; a field without
choices takes a short text. Seed 003: "admin-defined profile fields and filters".
"""

from __future__ import annotations

from sqlalchemy import JSON, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from scheduling.db import Base


class ProfileField(Base):
    __tablename__ = "profile_fields"

    id: Mapped[int] = mapped_column(primary_key=True)
    program_id: Mapped[int] = mapped_column(ForeignKey("programs.id", ondelete="CASCADE"), index=True)
    label: Mapped[str] = mapped_column(String(60))
    # The answers to pick from, in order; empty: a short free text.
    choices: Mapped[list[str]] = mapped_column(JSON, default=list)
    # Mentees filter the directory by it (fields with choices only), and cards show the answer.
    filterable: Mapped[bool] = mapped_column(default=False)
    position: Mapped[int] = mapped_column(Integer, default=0)

    @property
    def is_filter(self) -> bool:
        """A directory filter: marked so, with answers to pick from (the one rule the directory,
        the API's ``field[<id>]`` and the cards' answers follow)."""
        return bool(self.filterable and self.choices)


class ProfileAnswer(Base):
    __tablename__ = "profile_answers"

    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"), primary_key=True)
    field_id: Mapped[int] = mapped_column(ForeignKey("profile_fields.id", ondelete="CASCADE"),
                                          primary_key=True, index=True)
    value: Mapped[str] = mapped_column(String(100))
