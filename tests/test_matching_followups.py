"""After a meeting: continuing, and re-assessing a skill with the manager's confirmation."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import (
    Conflict,
    Forbidden,
    InvalidTransition,
    MentorCreationNotAllowed,
    OngoingNotOffered,
)
from scheduling.models import FollowUpState, MentoringMode, ReassessmentState, SkillRelation
from scheduling.services import followups as svc
from scheduling.services import meetings as meeting_service
from scheduling.services.people import set_skills
from tests.factories import NOW, at, make_admin, make_meeting, make_mentee, make_mentor, make_program, slot

AFTER = at("2030-01-09", "12:00")


def held(db: Session, **program_kw: object):  # type: ignore[no-untyped-def]
    program = make_program(db, **program_kw)
    manager = make_mentee(db, name="Manager")
    mentee, mentor = make_mentee(db, manager_id=manager.id), make_mentor(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=at("2030-01-09", "10:00"))
    return program, meeting, mentee, mentor, manager


def test_ongoing_needs_a_program_that_offers_it_and_the_other_sides_yes(db: Session) -> None:
    _, meeting, mentee, mentor, _ = held(db)
    with pytest.raises(OngoingNotOffered):
        svc.propose(db, meeting, mentee, "ongoing", now=AFTER)
    _, meeting, mentee, mentor, _ = held(db, mentoring_mode=MentoringMode.ONGOING)
    with pytest.raises(InvalidTransition):  # before it happened
        svc.propose(db, meeting, mentee, "ongoing", now=NOW)
    follow = svc.propose(db, meeting, mentor, "ongoing", now=AFTER)
    with pytest.raises(Conflict):
        svc.propose(db, meeting, mentee, "ongoing", now=AFTER)
    with pytest.raises(Forbidden):
        svc.answer(db, follow, mentor, accept=True, now=AFTER)
    svc.answer(db, follow, mentee, accept=False, now=AFTER)
    assert follow.state == FollowUpState.DECLINED
    assert svc.ongoing_mentorships(db, mentee) == []
    again = svc.propose(db, meeting, mentee, "ongoing", now=AFTER)
    svc.answer(db, again, mentor, accept=True, now=AFTER)
    assert svc.ongoing_mentorships(db, mentor) == [meeting]


def test_follow_up_meeting_is_a_request_under_the_same_rules(db: Session) -> None:
    _, meeting, mentee, mentor, _ = held(db)
    with pytest.raises(MentorCreationNotAllowed):
        svc.propose(db, meeting, mentor, "follow_up", times=[slot(at("2030-01-16", "10:00"))], now=AFTER)
    assert svc.follow_ups_of(db, meeting) == []  # the refused proposal left nothing behind
    follow = svc.propose(db, meeting, mentee, "follow_up", times=[slot(at("2030-01-16", "10:00"))], now=AFTER)
    assert follow.request_id is not None and svc.follow_ups_of(db, meeting) == [follow]


def test_canceled_meeting_has_no_follow_up(db: Session) -> None:
    _, meeting, mentee, _, _ = held(db, mentoring_mode=MentoringMode.BOTH)
    meeting_service.cancel(db, meeting, actor=mentee, now=NOW)
    with pytest.raises(InvalidTransition):
        svc.propose(db, meeting, mentee, "ongoing", now=AFTER)


def test_reassessment_becomes_the_level_only_when_the_manager_confirms(db: Session) -> None:
    program, meeting, mentee, mentor, manager = held(db)
    set_skills(db, mentee, {"has": [{"name": "Negotiation", "level": 2}]})
    row = svc.reassess(db, mentee, "negotiation", 4, meeting_id=meeting.id, now=AFTER)
    assert row.previous_level == 2 and row.state == ReassessmentState.PENDING
    with pytest.raises(Conflict):
        svc.reassess(db, mentee, "Negotiation", 5, now=AFTER)
    for outsider in (mentee, mentor):
        with pytest.raises(Forbidden):
            svc.decide(db, row, outsider, confirm=True, now=AFTER)
    assert [ps.level for ps in mentee.skills if ps.relation == SkillRelation.HAS] == [2]
    assert svc.skill_changes(db, program)["changes"] == []
    svc.decide(db, row, manager, confirm=True, now=AFTER)
    db.expire_all()
    assert [ps.level for ps in mentee.skills if ps.relation == SkillRelation.HAS] == [4]
    report = svc.skill_changes(db, program)
    assert report["by_skill"] == [{"skill": "Negotiation", "people": 1, "average_delta": 2.0}]
    rejected = svc.reassess(db, mentee, "Negotiation", 5, meeting_id=meeting.id, now=AFTER)
    svc.decide(db, rejected, make_admin(db), confirm=False, now=AFTER)
    db.expire_all()
    assert [ps.level for ps in mentee.skills if ps.relation == SkillRelation.HAS] == [4]
    assert len(svc.skill_changes(db, program)["changes"]) == 1
