"""Importing people from a CSV file (HR export): all rows or none.

Columns (header row required, any order, case-insensitive):
``name,email,department,title,skills,time_zone,roles``. ``skills`` is
semicolon-separated, each optionally with a level (``Python:4; SQL``); they are
offered skills for mentors and wanted skills for people who are only mentees.
``roles`` lists mentee/mentor/admin separated by ``;`` (blank: mentee).

Every row is checked before anything is written and every problem is reported
with its spreadsheet row number (the header is row 1), so an admin can fix the
file in one pass. The CLI and the admin web page both call :func:`import_people`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from sqlalchemy.orm import Session

from scheduling.errors import DomainError, ImportFailed
from scheduling.models import Person, SkillRelation
from scheduling.services.people import NewPerson, add_person, check_new_person, people_by_email
from scheduling.services.skills import SkillLevel, clean_name, replace_skills
from scheduling.services.transaction import unit_of_work

COLUMNS = ("name", "email", "department", "title", "skills", "time_zone", "roles")
REQUIRED_COLUMNS = ("name", "email", "time_zone")
MAX_ROWS = 10_000
MAX_ERRORS_SHOWN = 20


@dataclass
class ImportRow:
    row: int
    person: NewPerson
    skills: list[SkillLevel] = field(default_factory=list)


@dataclass
class ImportResult:
    created: list[Person]

    @property
    def count(self) -> int:
        return len(self.created)


def parse_skills(raw: str, row_field: str) -> list[SkillLevel]:
    """``"Python:4; SQL"`` -> [Python level 4, SQL]; a level is a whole number 1..5."""
    skills: list[SkillLevel] = []
    for part in raw.split(";"):
        part = part.strip()
        if not part:
            continue
        name, sep, level_text = part.rpartition(":")
        level: int | None = None
        if sep and level_text.strip().isdigit():
            level = int(level_text.strip())
            if not 1 <= level <= 5:
                raise DomainError(f"skill level of {name.strip()!r} must be 1 to 5", row_field)
        else:
            name = part
        skills.append(SkillLevel(clean_name(name, row_field), level))
    return skills


def parse_people_csv(data: str | bytes) -> list[ImportRow]:
    """Validate a whole file; raise :class:`ImportFailed` listing every bad row."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            raise ImportFailed("The file is not UTF-8 text.", [(1, None, "not UTF-8 text")]) from None
    data = data.removeprefix("\ufeff")
    reader = csv.reader(io.StringIO(data, newline=""))
    try:
        header = next(reader)
    except StopIteration:
        raise ImportFailed("The file is empty.", [(1, None, "the file is empty")]) from None
    except csv.Error as exc:
        raise ImportFailed(f"Row 1: {exc}", [(1, None, str(exc))]) from None
    names = [h.strip().lower() for h in header]
    missing = [c for c in REQUIRED_COLUMNS if c not in names]
    unknown = [h for h in names if h and h not in COLUMNS]
    if missing or unknown:
        problems = ([f"missing column(s): {', '.join(missing)}"] if missing else []) + (
            [f"unknown column(s): {', '.join(unknown)}"] if unknown else [])
        message = "; ".join(problems) + f" (expected: {','.join(COLUMNS)})"
        raise ImportFailed(f"Row 1: {message}", [(1, None, message)])

    errors: list[tuple[int, str | None, str]] = []
    rows: list[ImportRow] = []
    seen_emails: dict[str, int] = {}
    try:
        for line_no, values in enumerate(reader, start=2):
            if not any(v.strip() for v in values):
                continue
            if len(rows) + len(errors) >= MAX_ROWS:
                errors.append((line_no, None, f"more than {MAX_ROWS} rows; split the file"))
                break
            if len(values) > len(names):
                errors.append((line_no, None, f"{len(values)} values but {len(names)} columns"))
                continue
            record = dict(zip(names, [v.strip() for v in values], strict=False))
            try:
                new = check_new_person({
                    "name": record.get("name", ""),
                    "email": record.get("email", ""),
                    "department": record.get("department", ""),
                    "title": record.get("title", ""),
                    "time_zone": record.get("time_zone", ""),
                    "roles": record.get("roles") or "mentee",
                })
                skills = parse_skills(record.get("skills", ""), "skills")
                keys = [s.name.casefold() for s in skills]
                if len(set(keys)) != len(keys):
                    raise DomainError("a skill is listed twice", "skills")
            except DomainError as exc:
                errors.append((line_no, exc.field, exc.message))
                continue
            if new.email in seen_emails:
                errors.append((line_no, "email", f"{new.email} is also on row {seen_emails[new.email]}"))
                continue
            seen_emails[new.email] = line_no
            rows.append(ImportRow(line_no, new, skills))
    except csv.Error as exc:
        errors.append((reader.line_num, None, str(exc)))
    if errors:
        raise _failed(errors)
    if not rows:
        raise ImportFailed("The file has no people in it.", [(2, None, "no data rows")])
    return rows


def _failed(errors: list[tuple[int, str | None, str]]) -> ImportFailed:
    lines = [f"row {row}: {fld + ': ' if fld else ''}{msg}" for row, fld, msg in errors[:MAX_ERRORS_SHOWN]]
    more = len(errors) - MAX_ERRORS_SHOWN
    if more > 0:
        lines.append(f"... and {more} more")
    summary = f"Nothing was imported; {len(errors)} row(s) need fixing:\n"
    return ImportFailed(summary + "\n".join(lines), errors)


def import_people(session: Session, data: str | bytes) -> ImportResult:
    """Create every person in the CSV ``data`` in one transaction, or none of them."""
    rows = parse_people_csv(data)
    existing = people_by_email(session, (r.person.email for r in rows))
    errors: list[tuple[int, str | None, str]] = [
        (r.row, "email", f"{r.person.email} already exists") for r in rows if r.person.email in existing
    ]
    if errors:
        raise _failed(errors)
    created: list[Person] = []
    with unit_of_work(session):
        for r in rows:
            try:
                person = add_person(session, r.person)
                relation = SkillRelation.OFFERS if "mentor" in r.person.roles else SkillRelation.WANTS
                replace_skills(session, person, relation, r.skills)
            except DomainError as exc:
                raise _failed([(r.row, exc.field, exc.message)]) from None
            created.append(person)
        session.commit()
    return ImportResult(created)
