"""After a meeting: continue (ongoing mentorship or one more meeting) and re-assess a skill.

* Either side proposes; an *ongoing* mentorship is agreed when the other side accepts
  (only where the program's mentoring mode allows ongoing mentoring). A *follow-up*
  meeting is a new request made at once through ``request_meeting`` - same rules, a
  mentor proposing needs ``mentors_may_create`` - and the other side answers it like
  any request.
* The mentee re-assesses their level in a skill; their manager (or an admin) confirms
  it, and only then does it become the person's level. :func:`skill_changes` reports
  the confirmed changes that followed meetings.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import notifications
from scheduling.db import get_row
from scheduling.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    NotFound,
    NotParticipant,
    OngoingNotOffered,
    ValidationFailed,
)
from scheduling.locks import lock_people, lock_row
from scheduling.models import (
    FollowUp,
    FollowUpKind,
    FollowUpState,
    Initiator,
    Meeting,
    MeetingState,
    MentoringMode,
    NotificationKind,
    Person,
    PersonSkill,
    Program,
    ReassessmentState,
    SkillReassessment,
    SkillRelation,
)
from scheduling.services.requests import request_meeting
from scheduling.services.skills import check_level, find_skill
from scheduling.services.transaction import retry_lost_races, unit_of_work
from scheduling.services.validation import current_time, enum_value, text

MESSAGE_MAX = 2000
FINISHED = (MeetingState.COMPLETED,)


# ---------------------------------------------------------------- continuing


def _require_over(meeting: Meeting, now: datetime) -> None:
    if meeting.state in (MeetingState.CANCELED, MeetingState.NOT_HELD):
        what = meeting.state.value.replace("_", " ")
        raise InvalidTransition(f"The meeting was {what}; there is nothing to follow up.")
    if meeting.state not in FINISHED and meeting.end_at > now:
        raise InvalidTransition("Propose a follow-up after the meeting has taken place.")


@retry_lost_races
def propose(
    session: Session,
    meeting: Meeting,
    actor: Person,
    kind: FollowUpKind | str,
    *,
    message: str = "",
    times: list[tuple[datetime, datetime]] | None = None,
    topic: str | None = None,
    now: datetime | None = None,
) -> FollowUp:
    """Propose to continue after ``meeting``; a follow-up meeting needs ``times`` and becomes a request."""
    now = current_time(now)
    if actor.id not in (meeting.mentor_id, meeting.mentee_id):
        raise NotParticipant("You were not part of this meeting.")
    kind = enum_value(FollowUpKind, kind, "kind")
    body = text(message, "message", max_length=MESSAGE_MAX)
    _require_over(meeting, now)
    program = session.get(Program, meeting.program_id)
    assert program is not None
    follow = FollowUp(meeting_id=meeting.id, proposed_by_id=actor.id, kind=kind,
                      state=FollowUpState.PROPOSED, message=body, created_at=now)
    if kind == FollowUpKind.ONGOING:
        if program.mentoring_mode == MentoringMode.ONE_TIME:
            raise OngoingNotOffered("This program offers one-time meetings only.")
        with unit_of_work(session):
            _lock(session, meeting)  # two proposals at once: the second sees the first
            _require_over(meeting, now)
            if session.scalar(select(FollowUp.id).where(
                FollowUp.meeting_id == meeting.id, FollowUp.kind == FollowUpKind.ONGOING,
                FollowUp.state.in_((FollowUpState.PROPOSED, FollowUpState.ACCEPTED)),
            ).limit(1)) is not None:
                raise Conflict("An ongoing mentorship was already proposed for this meeting.")
            session.add(follow)
            other = meeting.mentee_id if actor.id == meeting.mentor_id else meeting.mentor_id
            notifications.notify(session, other, NotificationKind.FOLLOW_UP,
                                 f"{actor.name} proposes an ongoing mentorship after “{meeting.topic}”",
                                 body=body, link=f"/meetings/{meeting.id}", now=now)
            session.commit()
        return follow
    if not times:
        raise ValidationFailed("Propose at least one time for the follow-up meeting.", "times")
    side = Initiator.MENTEE if actor.id == meeting.mentee_id else Initiator.MENTOR
    with unit_of_work(session):
        _lock(session, meeting)  # the people first, as request_meeting would
        session.add(follow)  # committed with the request, or rolled back with it
        request = request_meeting(
            session, program=program, mentee=meeting.mentee, mentor=meeting.mentor,
            topic=topic or f"Follow-up: {meeting.topic}"[:200], description=body, times=times, now=now,
            initiated_by=side, routed=True,
        )
    with unit_of_work(session):
        follow.request_id = request.id
        session.commit()
    return follow


@retry_lost_races
def answer(
    session: Session, follow: FollowUp, actor: Person, *, accept: bool, now: datetime | None = None
) -> FollowUp:
    """The other side accepts or declines an ongoing-mentorship proposal."""
    now = current_time(now)
    meeting = session.get(Meeting, follow.meeting_id)
    assert meeting is not None
    if actor.id not in (meeting.mentor_id, meeting.mentee_id):
        raise NotParticipant("You were not part of this meeting.")
    if actor.id == follow.proposed_by_id:
        raise Forbidden("The other side answers a proposal.")
    if follow.kind == FollowUpKind.FOLLOW_UP:
        raise InvalidTransition("Answer the follow-up meeting's request instead.")
    with unit_of_work(session):
        _lock(session, meeting)
        lock_row(session, follow)  # both sides at once: the second sees the first's answer
        if follow.state != FollowUpState.PROPOSED:
            raise InvalidTransition(f"This proposal is already {follow.state.value}.")
        follow.state = FollowUpState.ACCEPTED if accept else FollowUpState.DECLINED
        follow.answered_at = now
        session.commit()
    return follow


def get_follow_up(session: Session, follow_up_id: int, viewer: Person) -> FollowUp:
    follow = get_row(session, FollowUp, follow_up_id)
    meeting = session.get(Meeting, follow.meeting_id) if follow is not None else None
    if follow is None or meeting is None or not (
        viewer.is_admin or viewer.id in (meeting.mentor_id, meeting.mentee_id)
    ):
        raise NotFound("No such proposal.")
    return follow


def follow_ups_of(session: Session, meeting: Meeting) -> list[FollowUp]:
    return list(session.scalars(
        select(FollowUp).where(FollowUp.meeting_id == meeting.id).order_by(FollowUp.created_at, FollowUp.id)
    ))


def ongoing_mentorships(session: Session, person: Person) -> list[Meeting]:
    """Meetings of ``person`` that both sides agreed to continue as an ongoing mentorship."""
    return list(session.scalars(
        select(Meeting).join(FollowUp, FollowUp.meeting_id == Meeting.id).where(
            FollowUp.kind == FollowUpKind.ONGOING, FollowUp.state == FollowUpState.ACCEPTED,
            (Meeting.mentor_id == person.id) | (Meeting.mentee_id == person.id),
        ).order_by(Meeting.start_at)
    ))


def follow_up_view(follow: FollowUp) -> dict[str, Any]:
    return {
        "id": follow.id,
        "meeting_id": follow.meeting_id,
        "proposed_by_id": follow.proposed_by_id,
        "kind": follow.kind.value,
        "state": follow.state.value,
        "message": follow.message,
        "request_id": follow.request_id,
        "created_at": follow.created_at.isoformat(),
    }


# ---------------------------------------------------------------- re-assessing


@retry_lost_races
def reassess(
    session: Session,
    person: Person,
    skill_name: object,
    level: object,
    *,
    meeting_id: int | None = None,
    now: datetime | None = None,
) -> SkillReassessment:
    """The person's new self-assessed level, waiting for their manager (or an admin) to confirm."""
    now = current_time(now)
    new_level = check_level(level, "level")
    if new_level is None:
        raise ValidationFailed("Give the new level, 1 to 5.", "level")
    skill = find_skill(session, skill_name) if isinstance(skill_name, str) else None
    if skill is None:
        raise ValidationFailed(f"Unknown skill {skill_name!r}.", "skill")
    if meeting_id is not None:
        meeting = get_row(session, Meeting, meeting_id)
        if meeting is None or meeting.mentee_id != person.id:
            raise ValidationFailed("That is not one of your meetings as a mentee.", "meeting_id")
    with unit_of_work(session):
        lock_people(session, person.id)  # one pending re-assessment per skill, even when sent twice at once
        if session.scalar(select(SkillReassessment.id).where(
            SkillReassessment.person_id == person.id, SkillReassessment.skill_id == skill.id,
            SkillReassessment.state == ReassessmentState.PENDING,
        ).limit(1)) is not None:
            raise Conflict(f"Your re-assessment of {skill.name} is still waiting for confirmation.", "skill")
        row = SkillReassessment(person_id=person.id, skill_id=skill.id, meeting_id=meeting_id,
                                previous_level=_has_level(person, skill.id), new_level=new_level,
                                state=ReassessmentState.PENDING, created_at=now)
        session.add(row)
        if person.manager_id is not None:
            title = f"{person.name} re-assessed {skill.name} at level {new_level}: please confirm"
            notifications.notify(session, person.manager_id, NotificationKind.REASSESSMENT, title,
                                 link="/team", now=now)
        session.commit()
    return row


def _lock(session: Session, meeting: Meeting) -> None:
    """The meeting's two people, then the meeting (the order of ``scheduling.locks``)."""
    lock_people(session, meeting.mentor_id, meeting.mentee_id)
    lock_row(session, meeting)


def _has_level(person: Person, skill_id: int) -> int | None:
    return next((ps.level for ps in person.skills
                 if ps.skill_id == skill_id and ps.relation == SkillRelation.HAS), None)


def can_decide(actor: Person, person: Person) -> bool:
    return actor.id != person.id and (actor.is_admin or person.manager_id == actor.id)


@retry_lost_races
def decide(
    session: Session, row: SkillReassessment, actor: Person, *, confirm: bool, now: datetime | None = None
) -> SkillReassessment:
    """The manager (or an admin) confirms - the level becomes the person's - or rejects."""
    now = current_time(now)
    person = row.person
    if not can_decide(actor, person):
        raise Forbidden("Only the person's manager or an admin confirms a new level.")
    with unit_of_work(session):
        lock_people(session, person.id)  # the manager and an admin at once: the second sees the first
        session.refresh(row)
        if row.state != ReassessmentState.PENDING:
            raise InvalidTransition(f"This re-assessment is already {row.state.value}.")
        row.state = ReassessmentState.CONFIRMED if confirm else ReassessmentState.REJECTED
        row.decided_at = now
        row.decided_by_id = actor.id
        if confirm:
            held = next((ps for ps in person.skills
                         if ps.skill_id == row.skill_id and ps.relation == SkillRelation.HAS), None)
            if held is None:
                person.skills.append(PersonSkill(skill_id=row.skill_id, relation=SkillRelation.HAS,
                                                 level=row.new_level))
            else:
                held.level = row.new_level
        session.commit()
    return row


def get_reassessment(session: Session, reassessment_id: int, viewer: Person) -> SkillReassessment:
    row = get_row(session, SkillReassessment, reassessment_id)
    if row is None or not (viewer.id == row.person_id or can_decide(viewer, row.person)):
        raise NotFound("No such re-assessment.")
    return row


def reassessments_for(
    session: Session, viewer: Person, *, to_confirm: bool = False
) -> list[SkillReassessment]:
    """The viewer's own re-assessments, or (``to_confirm``) the pending ones of people they manage."""
    query = select(SkillReassessment)
    if to_confirm:
        query = query.join(Person, Person.id == SkillReassessment.person_id).where(
            SkillReassessment.state == ReassessmentState.PENDING,
            *(() if viewer.is_admin else (Person.manager_id == viewer.id,)),
            SkillReassessment.person_id != viewer.id,
        )
    else:
        query = query.where(SkillReassessment.person_id == viewer.id)
    return list(session.scalars(query.order_by(SkillReassessment.created_at, SkillReassessment.id)))


def reassessment_view(row: SkillReassessment) -> dict[str, Any]:
    return {
        "id": row.id,
        "person_id": row.person_id,
        "skill": row.skill.name,
        "meeting_id": row.meeting_id,
        "previous_level": row.previous_level,
        "new_level": row.new_level,
        "state": row.state.value,
        "created_at": row.created_at.isoformat(),
        "decided_at": row.decided_at.isoformat() if row.decided_at else None,
    }


def skill_changes(
    session: Session, program: Program, *, start: datetime | None = None, end: datetime | None = None
) -> dict[str, Any]:
    """Confirmed level changes that followed meetings of ``program`` (decided in ``[start, end)``).

    ``{"changes": [{person_id, skill, previous_level, new_level, delta, meeting_id}],
    "by_skill": [{skill, people, average_delta}]}``.
    """
    query = (
        select(SkillReassessment)
        .join(Meeting, Meeting.id == SkillReassessment.meeting_id)
        .where(Meeting.program_id == program.id, SkillReassessment.state == ReassessmentState.CONFIRMED)
    )
    if start is not None:
        query = query.where(SkillReassessment.decided_at >= start)
    if end is not None:
        query = query.where(SkillReassessment.decided_at < end)
    rows: Sequence[SkillReassessment] = list(session.scalars(query.order_by(SkillReassessment.decided_at)))
    changes = [
        {"person_id": r.person_id, "skill": r.skill.name, "previous_level": r.previous_level,
         "new_level": r.new_level, "delta": r.new_level - (r.previous_level or 0), "meeting_id": r.meeting_id}
        for r in rows
    ]
    grouped: dict[str, list[int]] = {}
    for r in rows:
        grouped.setdefault(r.skill.name, []).append(r.new_level - (r.previous_level or 0))
    by_skill = [
        {"skill": name, "people": len(deltas), "average_delta": round(sum(deltas) / len(deltas), 2)}
        for name, deltas in sorted(grouped.items(), key=lambda kv: kv[0].casefold())
    ]
    return {"changes": changes, "by_skill": by_skill}
