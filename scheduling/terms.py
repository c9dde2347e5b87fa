"""What a program calls its two sides (seed 003: "program terminology").

An admin may rename "mentee" and "mentor" (e.g. "learner" and "guide"); pages use the
terms in headings and navigation and emails in their greeting lines. Stored singular and
lower-case as typed; plurals and capitalised forms are derived here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from scheduling.errors import ValidationFailed
from scheduling.models import Program
from scheduling.services.safe_text import storable

TERM_MAX = 40
_TERM = re.compile(r"[^\W\d_][^\W\d_' -]*(?:[ '-][^\W\d_]+)*")


def plural(word: str) -> str:
    """English plural of a term's last word: coach -> coaches, buddy -> buddies, guide -> guides."""
    lower = word.lower()
    if lower.endswith("y") and len(word) > 1 and lower[-2] not in "aeiou":
        return word[:-1] + "ies"
    if lower.endswith(("s", "x", "z", "ch", "sh")):
        return word + "es"
    return word + "s"


def _article(word: str) -> str:
    return ("an " if word[:1].lower() in "aeiou" else "a ") + word


def _capital(word: str) -> str:
    return word[:1].upper() + word[1:]


@dataclass(frozen=True)
class Terms:
    mentee: str = "mentee"
    mentor: str = "mentor"

    @property
    def mentees(self) -> str:
        return plural(self.mentee)

    @property
    def mentors(self) -> str:
        return plural(self.mentor)

    @property
    def a_mentee(self) -> str:
        """'a learner', 'an intern'."""
        return _article(self.mentee)

    @property
    def a_mentor(self) -> str:
        return _article(self.mentor)

    @property
    def Mentee(self) -> str:  # capitalised forms, read in templates as terms.Mentee
        return _capital(self.mentee)

    @property
    def Mentor(self) -> str:
        return _capital(self.mentor)

    @property
    def Mentees(self) -> str:
        return _capital(self.mentees)

    @property
    def Mentors(self) -> str:
        return _capital(self.mentors)


DEFAULT = Terms()


def terms_of(program: Program | None) -> Terms:
    if program is None:
        return DEFAULT
    return Terms(program.mentee_term or DEFAULT.mentee, program.mentor_term or DEFAULT.mentor)


def check_term(value: Any, field: str) -> str:
    """A singular noun of letters (spaces, hyphens and apostrophes between words), lower-cased."""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    cleaned = " ".join(storable(value, field).split()).lower()
    if not cleaned:
        raise ValidationFailed(f"{field} cannot be empty: give the word for one person, e.g. learner.", field)
    if len(cleaned) > TERM_MAX:
        raise ValidationFailed(f"{field} has at most {TERM_MAX} characters.", field)
    if not _TERM.fullmatch(cleaned):
        raise ValidationFailed(f"{field} takes letters only (words may be joined by a space, - or ').", field)
    return cleaned
