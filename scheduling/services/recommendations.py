"""Admin-pushed recommendations: chosen mentors for chosen mentees, from a pick list or a CSV.

A push is all or nothing: every pair is checked (both people exist and are active,
the mentor is a mentor, the mentee a mentee, not the same person) before anything is
written, and a refused push names every bad row. Pushing a pair again is harmless.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.errors import Forbidden, ImportFailed, NotFound, ValidationFailed
from scheduling.models import NotificationKind, Person, Program, Recommendation
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import text
from scheduling.terms import terms_of

MAX_PAIRS = 5000
NOTE_MAX = 500


def _require_admin(actor: Person) -> None:
    if not actor.is_admin:
        raise Forbidden("Only admins push recommendations.")


def push(
    session: Session,
    program: Program,
    actor: Person,
    pairs: Iterable[tuple[int, int]],
    *,
    note: str = "",
) -> list[Recommendation]:
    """Recommend each ``(mentee_id, mentor_id)``; returns the rows (new and already there)."""
    _require_admin(actor)
    note = text(note, "note", max_length=NOTE_MAX)
    return _push(session, program, actor, [(a, b, note) for a, b in pairs])


def _push(
    session: Session,
    program: Program,
    actor: Person,
    items: Sequence[tuple[int, int, str]],
    first_row: int = 1,
    *,
    notify_each: bool = True,
    commit: bool = True,
) -> list[Recommendation]:
    wanted = list({(a, b): (a, b, n) for a, b, n in items}.values())
    if not wanted:
        raise ValidationFailed("Choose at least one mentee and one mentor.", "pairs")
    if len(wanted) > MAX_PAIRS:
        raise ValidationFailed(f"At most {MAX_PAIRS} recommendations at once.", "pairs")
    ids = {i for a, b, _ in wanted for i in (a, b)}
    people = {p.id: p for p in session.scalars(select(Person).where(Person.id.in_(ids)))}
    errors: list[tuple[int, str | None, str]] = []
    for row, (mentee_id, mentor_id, _) in enumerate(wanted, start=first_row):
        mentee, mentor = people.get(mentee_id), people.get(mentor_id)
        if mentee is None or not mentee.active or not mentee.is_mentee:
            errors.append((row, "mentee", f"#{mentee_id} is not an active mentee."))
        if mentor is None or not mentor.active or not mentor.is_mentor:
            errors.append((row, "mentor", f"#{mentor_id} is not an active mentor."))
        if mentee_id == mentor_id:
            errors.append((row, "mentor", "A mentee cannot be recommended to themself."))
    if errors:
        raise ImportFailed(f"{len(errors)} problem(s); nothing was recommended.", errors)
    with unit_of_work(session):
        existing = {
            (r.mentee_id, r.mentor_id): r
            for r in session.scalars(select(Recommendation).where(
                Recommendation.program_id == program.id,
                Recommendation.mentee_id.in_({m for m, _, _ in wanted}),
            ))
        }
        out = []
        for mentee_id, mentor_id, note in wanted:
            rec = existing.get((mentee_id, mentor_id))
            if rec is None:
                rec = Recommendation(program_id=program.id, mentee_id=mentee_id, mentor_id=mentor_id,
                                     pushed_by_id=actor.id, note=note)
                session.add(rec)
                if notify_each:  # the rules require this email (seed 003): always sent
                    mentor = people[mentor_id]
                    role = mentor.title or terms_of(program).a_mentor
                    about = note or f"{mentor.name} ({role}) could help."
                    notifications.notify(session, mentee_id, NotificationKind.RECOMMENDATION,
                                         f"Recommended for you: {mentor.name}", body=about,
                                         link=f"/mentors/{mentor_id}")
            elif note:
                rec.note = note
            out.append(rec)
        if commit:
            session.commit()
    return out


def push_pick_list(
    session: Session, program: Program, actor: Person, mentee_ids: Sequence[int], mentor_ids: Sequence[int],
    *, note: str = "",
) -> list[Recommendation]:
    """Every chosen mentor to every chosen mentee (the admin's pick list)."""
    if not mentee_ids:
        raise ValidationFailed("Choose at least one mentee.", "mentee_ids")
    if not mentor_ids:
        raise ValidationFailed("Choose at least one mentor.", "mentor_ids")
    return push(session, program, actor, [(a, b) for a in mentee_ids for b in mentor_ids], note=note)


def push_csv(session: Session, program: Program, actor: Person, data: str) -> list[Recommendation]:
    """Rows ``mentee_email,mentor_email[,note]`` (a header row with those names is optional)."""
    _require_admin(actor)
    if not isinstance(data, str) or not data.strip():
        raise ValidationFailed("The CSV is empty.", "csv")
    rows = [r for r in csv.reader(io.StringIO(data)) if any(c.strip() for c in r)]
    if rows and [c.strip().lower() for c in rows[0][:2]] == ["mentee_email", "mentor_email"]:
        rows = rows[1:]
    start = 2 if data.lstrip().lower().startswith("mentee_email") else 1
    if not rows:
        raise ValidationFailed("The CSV has no rows.", "csv")
    if len(rows) > MAX_PAIRS:
        raise ValidationFailed(f"At most {MAX_PAIRS} rows at once.", "csv")
    emails = {c.strip().lower() for r in rows for c in r[:2]}
    people = {p.email: p for p in session.scalars(select(Person).where(Person.email.in_(emails)))}
    errors: list[tuple[int, str | None, str]] = []
    items: list[tuple[int, int, str]] = []
    for i, row in enumerate(rows, start=start):
        if len(row) < 2 or len(row) > 3:
            errors.append((i, None, "Each row is mentee_email,mentor_email[,note]."))
            continue
        mentee, mentor = people.get(row[0].strip().lower()), people.get(row[1].strip().lower())
        if mentee is None:
            errors.append((i, "mentee_email", f"Nobody has the email {row[0].strip()!r}."))
        if mentor is None:
            errors.append((i, "mentor_email", f"Nobody has the email {row[1].strip()!r}."))
        note = row[2].strip() if len(row) == 3 else ""
        if len(note) > NOTE_MAX:
            errors.append((i, "note", f"A note has at most {NOTE_MAX} characters."))
        if mentee is not None and mentor is not None:
            items.append((mentee.id, mentor.id, note))
    if errors:
        raise ImportFailed(f"{len(errors)} problem(s) in the CSV; nothing was recommended.", errors)
    return _push(session, program, actor, items, first_row=start)


def remove(session: Session, program: Program, actor: Person, recommendation_id: int) -> None:
    _require_admin(actor)
    with unit_of_work(session):
        found = session.execute(delete(Recommendation).where(
            Recommendation.id == recommendation_id, Recommendation.program_id == program.id
        ))
        if not getattr(found, "rowcount", 0):
            raise NotFound("No such recommendation.")
        session.commit()


def list_recommendations(
    session: Session, program: Program, *, mentee_id: int | None = None
) -> list[Recommendation]:
    query = select(Recommendation).where(Recommendation.program_id == program.id)
    if mentee_id is not None:
        query = query.where(Recommendation.mentee_id == mentee_id)
    return list(session.scalars(query.order_by(Recommendation.created_at, Recommendation.id)))


def recommendation_view(rec: Recommendation) -> Mapping[str, Any]:
    return {
        "id": rec.id,
        "mentee": {"id": rec.mentee.id, "name": rec.mentee.name, "email": rec.mentee.email},
        "mentor": {"id": rec.mentor.id, "name": rec.mentor.name, "email": rec.mentor.email},
        "note": rec.note,
        "pushed_by_id": rec.pushed_by_id,
        "created_at": rec.created_at.isoformat(),
    }
