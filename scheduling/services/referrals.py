"""A mentor refers their mentee to another mentor (seed 001): a recommendation from the mentor,
so the other mentor shows first on the mentee's home (and is visible in a hidden directory), and a
notification whose link opens the request form with the topic filled in. Always emailed: it is a
pushed recommendation."""

from __future__ import annotations

from datetime import datetime
from urllib.parse import urlencode

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.errors import Forbidden, ValidationFailed
from scheduling.models import Meeting, NotificationKind, Person, Program, Recommendation
from scheduling.services.transaction import unit_of_work
from scheduling.services.validation import current_time, text

NOTE_MAX = 500


def referral_link(mentor_id: int, topic: str) -> str:
    """The request form for ``mentor_id`` with the topic filled in."""
    return f"/mentors/{mentor_id}/request?" + urlencode({"topic": topic[:200]})


def refer(
    session: Session, meeting: Meeting, mentor: Person, to_email: object, note: object = "", *,
    now: datetime | None = None,
) -> Recommendation:
    """The meeting's mentor refers its mentee to the mentor with ``to_email``; commits."""
    now = current_time(now)
    if meeting.mentor_id != mentor.id:
        raise Forbidden("Only the meeting's mentor refers the mentee to someone else.")
    why = text(note, "note", max_length=NOTE_MAX)
    email = to_email.strip().lower() if isinstance(to_email, str) else ""
    if not email:
        raise ValidationFailed("Give the email of the mentor you refer them to.", "to_email")
    target = session.scalar(select(Person).where(func.lower(Person.email) == email))
    if target is None or not target.is_mentor or not target.active:
        raise ValidationFailed(f"{email} is not an active mentor.", "to_email")
    if target.id in (mentor.id, meeting.mentee_id):
        raise ValidationFailed("Refer them to another mentor.", "to_email")
    if target.paused_at(now):
        raise ValidationFailed(f"{target.name} is not taking requests right now.", "to_email")
    program = session.get(Program, meeting.program_id)
    assert program is not None
    with unit_of_work(session):
        rec = session.scalar(select(Recommendation).where(
            Recommendation.program_id == program.id, Recommendation.mentee_id == meeting.mentee_id,
            Recommendation.mentor_id == target.id))
        body = f"{mentor.name} thinks {target.name} can help with “{meeting.topic}”."
        body += f" {why}" if why else ""
        if rec is None:
            rec = Recommendation(program_id=program.id, mentee_id=meeting.mentee_id, mentor_id=target.id,
                                 pushed_by_id=mentor.id, note=body[:500], created_at=now)
            session.add(rec)
        notifications.notify(session, meeting.mentee_id, NotificationKind.RECOMMENDATION,
                             f"{mentor.name} referred you to {target.name}", body=body,
                             link=referral_link(target.id, meeting.topic), now=now)
        session.commit()
    return rec
