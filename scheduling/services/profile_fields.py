"""Profile fields a program's admin defines, people's answers, and the directory filter on them.

Seed 003: a program may ask for more than the built-in profile (location, languages, gender where
the program wants it). An admin adds a field with a label and, optionally, the answers to pick from;
a field with answers may be a directory filter, and then mentees narrow the mentor directory by it.
Every change is checked whole before anything is stored.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Collection, Mapping
from typing import Any

from sqlalchemy import Select, and_, delete, func, or_, select
from sqlalchemy.orm import Session

from scheduling.errors import Forbidden, NotFound, ValidationFailed
from scheduling.models import Person, ProfileAnswer, ProfileField, Program
from scheduling.services.validation import text

LABEL_MAX = 60
ANSWER_MAX = 100
MAX_CHOICES = 50
MAX_FIELDS = 20


def fields(session: Session, program: Program) -> list[ProfileField]:
    return list(session.scalars(select(ProfileField).where(ProfileField.program_id == program.id)
                                .order_by(ProfileField.position, ProfileField.id)))


def filters(session: Session, program: Program) -> list[ProfileField]:
    """The fields mentees filter the directory by."""
    return [f for f in fields(session, program) if f.is_filter]


def _choices(raw: object) -> list[str]:
    """One answer per line; blank lines dropped, repeats (in any case) refused."""
    lines = [line.strip() for line in text(raw, "choices", max_length=MAX_CHOICES * (ANSWER_MAX + 1))
             .splitlines() if line.strip()]
    if len(lines) > MAX_CHOICES:
        raise ValidationFailed(f"At most {MAX_CHOICES} answers to pick from.", "choices")
    seen: set[str] = set()
    for line in lines:
        if len(line) > ANSWER_MAX:
            raise ValidationFailed(f"An answer has at most {ANSWER_MAX} characters: {line[:30]}…", "choices")
        if line.casefold() in seen:
            raise ValidationFailed(f"The answer {line!r} is listed twice.", "choices")
        seen.add(line.casefold())
    return lines


def add_field(session: Session, actor: Person, program: Program, *, label: object, choices: object = "",
              filterable: bool = False) -> ProfileField:
    """A new field at the end; commits."""
    if not actor.is_admin:
        raise Forbidden("Only admins define profile fields.")
    name = text(label, "label", max_length=LABEL_MAX, required=True)
    picks = _choices(choices)
    existing = fields(session, program)
    if len(existing) >= MAX_FIELDS:
        raise ValidationFailed(f"A program has at most {MAX_FIELDS} profile fields.", "label")
    if any(f.label.casefold() == name.casefold() for f in existing):
        raise ValidationFailed(f"There is already a field {name!r}.", "label")
    if filterable and not picks:
        raise ValidationFailed("A directory filter needs answers to pick from.", "filterable")
    field = ProfileField(program_id=program.id, label=name, choices=picks, filterable=filterable,
                         position=1 + max((f.position for f in existing), default=0))
    session.add(field)
    session.commit()
    return field


def remove_field(session: Session, actor: Person, program: Program, field_id: int) -> None:
    """Drop the field and everyone's answers to it; commits."""
    if not actor.is_admin:
        raise Forbidden("Only admins define profile fields.")
    field = session.get(ProfileField, field_id)
    if field is None or field.program_id != program.id:
        raise NotFound("No such profile field.")
    session.execute(delete(ProfileAnswer).where(ProfileAnswer.field_id == field.id))
    session.delete(field)
    session.commit()


def answers(session: Session, person: Person) -> dict[int, str]:
    """``{field id: answer}`` of the person."""
    rows = session.execute(select(ProfileAnswer.field_id, ProfileAnswer.value)
                           .where(ProfileAnswer.person_id == person.id))
    return {field_id: value for field_id, value in rows}


def answers_of(session: Session, people: list[Person], shown: list[ProfileField]) -> dict[int, list[str]]:
    """``{person id: ["Label: answer", ...]}`` for the ``shown`` fields (one query for all)."""
    if not people or not shown:
        return {}
    label = {f.id: f.label for f in shown}
    rows = session.execute(select(ProfileAnswer.person_id, ProfileAnswer.field_id, ProfileAnswer.value).where(
        ProfileAnswer.person_id.in_([p.id for p in people]), ProfileAnswer.field_id.in_(list(label))))
    order = {f.id: i for i, f in enumerate(shown)}
    out: dict[int, list[tuple[int, str]]] = {}
    for pid, fid, value in rows:
        out.setdefault(pid, []).append((order[fid], f"{label[fid]}: {value}"))
    return {pid: [s for _, s in sorted(items)] for pid, items in out.items()}


def check_answers(session: Session, program: Program, given: Mapping[str, Any]) -> dict[int, str]:
    """The posted answers, keyed ``field-<id>``, checked (a choice must be one of the field's
    answers): ``{field id: answer}``, "" to clear. Fields not posted are left out."""
    wanted: dict[int, str] = {}
    for field in fields(session, program):
        key = f"field-{field.id}"
        if key not in given:
            continue
        value = text(given[key], key, max_length=ANSWER_MAX)
        if value and field.choices and value not in field.choices:
            raise ValidationFailed(f"{field.label}: choose one of the answers offered.", key)
        wanted[field.id] = value
    return wanted


def store_answers(session: Session, person: Person, wanted: Mapping[int, str]) -> None:
    """Write answers :func:`check_answers` let through; an empty one clears it. Commits."""
    stored = {a.field_id: a for a in session.scalars(select(ProfileAnswer).where(
        ProfileAnswer.person_id == person.id, ProfileAnswer.field_id.in_(list(wanted))))}
    for field_id, value in wanted.items():
        row = stored.get(field_id)
        if not value:
            if row is not None:
                session.delete(row)
        elif row is None:
            session.add(ProfileAnswer(person_id=person.id, field_id=field_id, value=value))
        else:
            row.value = value
    session.commit()


def read_filters(session: Session, program: Program, args: Mapping[str, str]) -> dict[int, str]:
    """The directory's profile-field filters from the query (``field-<id>``): known answers only."""
    chosen: dict[int, str] = {}
    for field in filters(session, program):
        key = f"field-{field.id}"
        value = (args.get(key) or "").strip()
        if value:
            if value not in field.choices:
                raise ValidationFailed(f"{field.label}: choose one of the answers offered.", key)
            chosen[field.id] = value
    return chosen


FILTER_ID = re.compile(r"[0-9]+")


def checked_filters(session: Session, program: Program | None, wanted: Mapping[str, str],
                    name: Callable[[str], str]) -> dict[int, str]:
    """An API client's filters ``{field id as text: answer}``, strictly: unlike the directory page's
    form (:func:`read_filters`, which shows only real filters), anything else here is the client's
    mistake, so an id that is no field, a field that is no filter, or an answer it does not offer is
    refused, the parameter named by ``name(key)``. ``{field id: answer}``."""
    offered = {f.id: f for f in (fields(session, program) if program is not None else [])}
    chosen: dict[int, str] = {}
    for key, raw in wanted.items():
        param = name(key)
        if not FILTER_ID.fullmatch(key):
            raise ValidationFailed(f"{param}: a profile field is named by its id, a whole number.", param)
        field = offered.get(int(key))
        if field is None:
            raise ValidationFailed(f"{param}: there is no profile field {key}.", param)
        if not field.is_filter:
            raise ValidationFailed(f"{param}: the field {field.label!r} is not a directory filter.", param)
        value = raw.strip()
        if value not in field.choices:
            raise ValidationFailed(f"{param}: {value!r} is not an answer of {field.label!r}; choose one of: "
                                   + ", ".join(field.choices) + ".", param)
        chosen[field.id] = value
    return chosen


def answer_views(session: Session, person_ids: Collection[int],
                 private_for: Callable[[int], bool]) -> dict[int, list[dict[str, Any]]]:
    """``{person id: [{"id", "label", "value"}, ...]}`` in the fields' order, answered fields only.

    Whose answer is shown to whom follows the pages: the person and admins (``private_for``) see
    every field, as on the profile page; anyone else sees the directory filters' answers, the ones a
    mentor's card in the directory shows. One query for all people."""
    if not person_ids:
        return {}
    rows = session.execute(
        select(ProfileAnswer.person_id, ProfileAnswer.value, ProfileField)
        .join(ProfileField, ProfileField.id == ProfileAnswer.field_id)
        .where(ProfileAnswer.person_id.in_(list(person_ids)))
        .order_by(ProfileField.position, ProfileField.id))
    out: dict[int, list[dict[str, Any]]] = {pid: [] for pid in person_ids}
    for pid, value, field in rows:
        if private_for(pid) or field.is_filter:
            out[pid].append({"id": field.id, "label": field.label, "value": value})
    return out


def only_answering(session: Session, chosen: Mapping[int, str], only: list[int] | None) -> list[int] | None:
    """``only`` (ids a search is limited to, None for everyone) narrowed to the people whose answers
    match every chosen filter; no filter leaves it as it is."""
    if not chosen:
        return only
    answered = set(session.scalars(matching_people(chosen)))
    return sorted(answered) if only is None else [i for i in only if i in answered]


def matching_people(chosen: Mapping[int, str]) -> Select[int]:
    """Ids of the people whose answers match every chosen filter."""
    pairs = list(chosen.items())
    query = select(ProfileAnswer.person_id).where(
        or_(*(and_(ProfileAnswer.field_id == f, ProfileAnswer.value == v) for f, v in pairs)))
    return query.group_by(ProfileAnswer.person_id).having(func.count() == len(pairs))
