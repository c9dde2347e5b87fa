"""The message thread and what follows a meeting, through the Flask test client.

Each action: it works for the right person, and a refusal (wrong person, wrong state,
program setting off, bad input) answers 4xx with the message next to its field and
changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, time, timedelta
from html import unescape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from app.web.common import when
from scheduling.models import (
    FollowUp,
    FollowUpKind,
    FollowUpState,
    Initiator,
    Meeting,
    MeetingRequest,
    Message,
    Person,
    Program,
    RequestState,
    SkillReassessment,
)
from scheduling.services.people import set_skills
from tests.factories import (
    count_rows,
    login,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
TABLES = (Message, FollowUp, MeetingRequest, Meeting, SkillReassessment)


def html(resp: Any) -> str:
    return unescape(resp.get_data(as_text=True))


def error_of(page: str, field: str) -> str:
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return found.group(1)


def options_of(page: str, name: str) -> list[str]:
    block = re.search(rf'<select id="{name}" name="{name}".*?</select>', page, re.S)
    assert block, f"no select {name}"
    return [v for v in re.findall(r'<option value="([^"]*)"', block.group(0)) if v]


def past_meeting(db: Session, program: Program, mentee: Person, mentor: Person, **kw: Any) -> Meeting:
    """A meeting that took place two days ago (booked five days ago)."""
    start = datetime.combine((datetime.now(UTC) - timedelta(days=2)).date(), time(10), tzinfo=UTC)
    return make_meeting(db, program=program, mentee=mentee, mentor=mentor, start=start,
                        now=start - timedelta(days=3), **kw)


# --- the thread ----------------------------------------------------------------------------------


def test_mentee_and_mentor_write_and_read_the_thread_in_their_own_zone(client, db):
    program = make_program(db)
    mentor = make_mentor(db, name="Grace Mentor", time_zone="Asia/Kolkata")
    mentee = make_mentee(db, name="Ada Mentee", time_zone="America/New_York")
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentee)
    page = html(client.get(f"/requests/{req.id}"))
    assert "No messages yet." in page and 'name="body"' in page
    resp = client.post(f"/requests/{req.id}/messages", data={"body": "  Shall I bring my slides?  "})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/requests/{req.id}#messages")
    message = db.scalars(select(Message)).one()
    assert (message.author_id, message.body) == (mentee.id, "Shall I bring my slides?")

    login(client, mentor)
    page = html(client.get(f"/requests/{req.id}"))
    assert "Ada Mentee" in page and "Shall I bring my slides?" in page
    assert when(message.created_at, mentor) in page and when(message.created_at, mentor).endswith("IST")
    resp = client.post(f"/requests/{req.id}/messages", data={"body": "Yes please."})
    assert resp.status_code == 302
    login(client, mentee)
    page = html(client.get(f"/requests/{req.id}"))
    assert page.index("Shall I bring my slides?") < page.index("Yes please.")
    assert "Grace Mentor" in page and re.search(r"\d\d:\d\d E[SD]T", page)


def test_a_refused_message_is_shown_by_the_field_and_nothing_is_stored(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentee)
    resp = client.post(f"/requests/{req.id}/messages", data={"body": "   "})
    assert resp.status_code == 422 and error_of(html(resp), "body") == "Message is required."
    assert 'aria-describedby="body-help body-error"' in html(resp)
    resp = client.post(f"/requests/{req.id}/messages", data={"body": "x" * 2001})
    assert resp.status_code == 422
    assert error_of(html(resp), "body") == "Message is too long (at most 2000 characters)."
    assert "x" * 2001 in html(resp)  # what was typed is kept in the field
    assert count_rows(db, Message)["Message"] == 0


def test_only_the_two_people_write_and_an_admin_only_reads(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentee)
    client.post(f"/requests/{req.id}/messages", data={"body": "Hello"})

    login(client, make_mentee(db))  # someone else: the request does not exist for them
    assert client.get(f"/requests/{req.id}").status_code == 404
    assert client.post(f"/requests/{req.id}/messages", data={"body": "Hi"}).status_code == 404

    login(client, make_admin(db))
    page = html(client.get(f"/requests/{req.id}"))
    assert "Hello" in page and 'name="body"' not in page
    assert "only the mentee and the mentor write" in page
    assert "/accept" not in page and "/withdraw" not in page  # reading, not acting
    resp = client.post(f"/requests/{req.id}/messages", data={"body": "Admin here"})
    assert resp.status_code == 403
    assert error_of(html(resp), "thread") == \
        "Only the mentee and the mentor write in this thread; admins read it."
    assert [m.body for m in db.scalars(select(Message))] == ["Hello"]


def test_meeting_page_carries_the_same_thread(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentor)
    resp = client.post(f"/meetings/{meeting.id}/messages", data={"body": "See you Wednesday"})
    assert resp.status_code == 302 and resp.headers["Location"].endswith(f"/meetings/{meeting.id}#messages")
    resp = client.post(f"/meetings/{meeting.id}/messages", data={"body": ""})
    assert resp.status_code == 422 and error_of(html(resp), "body") == "Message is required."
    login(client, mentee)
    for url in (f"/meetings/{meeting.id}", f"/requests/{meeting.request_id}"):
        page = html(client.get(url))
        assert "See you Wednesday" in page and "Grace Mentor" in page
    login(client, make_mentee(db))
    assert client.post(f"/meetings/{meeting.id}/messages", data={"body": "Hi"}).status_code == 404
    assert [m.body for m in db.scalars(select(Message))] == ["See you Wednesday"]


# --- after a meeting: a follow-up meeting --------------------------------------------------------


def test_mentee_books_a_follow_up_from_shared_free_times(client, db):
    program = make_program(db)
    mentor = make_mentor(db, name="Grace Mentor", weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Mentee")
    meeting = past_meeting(db, program, mentee, mentor, topic="Conference talk")
    login(client, mentee)
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Book a follow-up" in page
    options = options_of(page, "fu_time1")
    assert options
    resp = client.post(f"/meetings/{meeting.id}/follow-up",
                       data={"fu_time1": options[0], "fu_time2": options[3], "fu_message": "Part two?"})
    assert resp.status_code == 302
    follow = db.scalars(select(FollowUp)).one()
    req = db.get(MeetingRequest, follow.request_id)
    assert follow.kind == FollowUpKind.FOLLOW_UP and follow.proposed_by_id == mentee.id
    assert req is not None and req.state == RequestState.PENDING and req.initiated_by == Initiator.MENTEE
    assert req.topic == "Follow-up: Conference talk" and req.description == "Part two?"
    assert [p.start_at for p in req.proposed_times] == [datetime.fromisoformat(options[i]) for i in (0, 3)]

    login(client, mentor)  # the mentor sees it on the meeting and answers it like any request
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Follow-up meeting" in page and f'href="/requests/{req.id}"' in page and "Ada Mentee" in page
    assert "Accept" in html(client.get(f"/requests/{req.id}"))


def test_follow_up_refusals_change_nothing(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db, weekly=EVERY_DAY), make_mentee(db)
    over = past_meeting(db, program, mentee, mentor)
    upcoming = make_meeting(db, program=program, mentee=mentee, mentor=mentor)  # 9 Jan 2030
    before = count_rows(db, *TABLES)
    login(client, mentee)
    # no time chosen: the error sits by the first time field
    resp = client.post(f"/meetings/{over.id}/follow-up", data={"fu_message": "Again?"})
    assert resp.status_code == 422 and error_of(html(resp), "fu_time1") == "Choose at least one time."
    assert 'value="Again?"' not in html(resp) and "Again?" in html(resp)  # the message is kept
    # a time the two do not share: 03:00 UTC is outside the mentor's hours
    night = datetime.combine((datetime.now(UTC) + timedelta(days=5)).date(), time(3), tzinfo=UTC)
    resp = client.post(f"/meetings/{over.id}/follow-up", data={"fu_time1": night.isoformat()})
    assert resp.status_code == 422 and "not available" in error_of(html(resp), "fu_time1")
    # wrong state: the meeting has not taken place yet; the form is not even offered
    assert "Book a follow-up" not in html(client.get(f"/meetings/{upcoming.id}"))
    resp = client.post(f"/meetings/{upcoming.id}/follow-up", data={"fu_time1": night.isoformat()})
    assert resp.status_code == 409
    assert error_of(html(resp), "form") == "Propose a follow-up after the meeting has taken place."
    # wrong person
    login(client, make_mentee(db))
    resp = client.post(f"/meetings/{over.id}/follow-up", data={"fu_time1": night.isoformat()})
    assert resp.status_code == 404
    assert count_rows(db, *TABLES) == before


def test_a_mentor_books_a_follow_up_only_where_mentors_may_create_meetings(client, db):
    program = make_program(db, mentors_may_create=False)
    mentor, mentee = make_mentor(db, weekly=EVERY_DAY), make_mentee(db)
    meeting = past_meeting(db, program, mentee, mentor)
    login(client, mentor)
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Book a follow-up" not in page and "only mentees book meetings" in page
    # the form is not shown; a forged post is refused with the program's rule
    login(client, mentee)
    option = options_of(html(client.get(f"/meetings/{meeting.id}")), "fu_time1")[0]
    login(client, mentor)
    before = count_rows(db, *TABLES)
    resp = client.post(f"/meetings/{meeting.id}/follow-up", data={"fu_time1": option})
    assert resp.status_code == 403
    assert error_of(html(resp), "follow_up") == "In this program only mentees can ask for meetings."
    assert count_rows(db, *TABLES) == before

    program.mentors_may_create = True
    db.commit()
    resp = client.post(f"/meetings/{meeting.id}/follow-up",
                       data={"fu_time1": option, "fu_topic": "Next steps"})
    assert resp.status_code == 302
    req = db.scalars(select(MeetingRequest).where(MeetingRequest.topic == "Next steps")).one()
    assert req.initiated_by == Initiator.MENTOR  # the mentee answers this one


# --- after a meeting: ongoing mentorship ---------------------------------------------------------


def test_ongoing_mentorship_is_proposed_and_the_other_side_answers(client, db):
    program = make_program(db, mentoring_mode="both")
    mentor, mentee = make_mentor(db, name="Grace Mentor", weekly=EVERY_DAY), make_mentee(db)
    meeting = past_meeting(db, program, mentee, mentor)
    login(client, mentor)
    resp = client.post(f"/meetings/{meeting.id}/ongoing", data={"ongoing_message": "Monthly?"})
    assert resp.status_code == 302
    follow = db.scalars(select(FollowUp)).one()
    assert (follow.kind, follow.state, follow.message) == (FollowUpKind.ONGOING, FollowUpState.PROPOSED,
                                                          "Monthly?")
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Accept ongoing mentorship" not in page  # the proposer does not answer
    assert "already proposed or agreed" in page
    # the proposer cannot accept their own proposal, nor propose it twice
    resp = client.post(f"/follow-ups/{follow.id}/accept")
    assert resp.status_code == 403 and error_of(html(resp), f"follow_up_{follow.id}") == \
        "The other side answers a proposal."
    resp = client.post(f"/meetings/{meeting.id}/ongoing", data={})
    assert resp.status_code == 409 and "already proposed" in error_of(html(resp), "ongoing")
    db.refresh(follow)
    assert follow.state == FollowUpState.PROPOSED and count_rows(db, FollowUp)["FollowUp"] == 1

    login(client, mentee)
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Grace Mentor" in page and "Monthly?" in page and "Accept ongoing mentorship" in page
    resp = client.post(f"/follow-ups/{follow.id}/accept")
    assert resp.status_code == 302
    db.refresh(follow)
    assert follow.state == FollowUpState.ACCEPTED and follow.answered_at is not None
    resp = client.post(f"/follow-ups/{follow.id}/decline")  # wrong state now
    assert resp.status_code == 409
    assert error_of(html(resp), f"follow_up_{follow.id}") == "This proposal is already accepted."
    db.refresh(follow)
    assert follow.state == FollowUpState.ACCEPTED
    login(client, make_mentee(db))
    assert client.post(f"/follow-ups/{follow.id}/decline").status_code == 404


def test_ongoing_mentorship_is_refused_in_a_one_time_program(client, db):
    program = make_program(db)  # one-time meetings only
    mentor, mentee = make_mentor(db, weekly=EVERY_DAY), make_mentee(db)
    meeting = past_meeting(db, program, mentee, mentor)
    login(client, mentee)
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Propose ongoing mentorship" not in page and "one-time meetings only" in page
    resp = client.post(f"/meetings/{meeting.id}/ongoing", data={"ongoing_message": "Please?"})
    assert resp.status_code == 403
    assert error_of(html(resp), "ongoing") == "This program offers one-time meetings only."
    assert count_rows(db, FollowUp)["FollowUp"] == 0


# --- after a meeting: re-assessing a skill -------------------------------------------------------


def test_mentee_reassesses_a_skill_for_their_manager_to_confirm(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db, weekly=EVERY_DAY), make_mentee(db)
    set_skills(db, mentor, {"offers": ["Public speaking"]})
    set_skills(db, mentee, {"has": [{"name": "Python", "level": 2}]})
    meeting = past_meeting(db, program, mentee, mentor)
    login(client, mentee)
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert options_of(page, "skill") == ["Public speaking", "Python"] and "Python (now 2 of 5)" in page
    resp = client.post(f"/meetings/{meeting.id}/reassess", data={"skill": "Python", "level": ""})
    assert resp.status_code == 422 and error_of(html(resp), "level") == "Give the new level, 1 to 5."
    resp = client.post(f"/meetings/{meeting.id}/reassess", data={"skill": "", "level": "3"})
    assert resp.status_code == 422 and error_of(html(resp), "skill") == "Choose a skill."
    resp = client.post(f"/meetings/{meeting.id}/reassess", data={"skill": "Python", "level": "9"})
    assert resp.status_code == 422 and "1 to 5" in error_of(html(resp), "level")
    assert count_rows(db, SkillReassessment)["SkillReassessment"] == 0

    resp = client.post(f"/meetings/{meeting.id}/reassess", data={"skill": "Python", "level": "3"})
    assert resp.status_code == 302
    row = db.scalars(select(SkillReassessment)).one()
    assert (row.previous_level, row.new_level, row.meeting_id) == (2, 3, meeting.id)
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Python: 3 of 5 · Waiting for your manager to confirm" in page
    # wrong state: one is still waiting for confirmation
    resp = client.post(f"/meetings/{meeting.id}/reassess", data={"skill": "Python", "level": "4"})
    assert resp.status_code == 409 and "still waiting" in error_of(html(resp), "skill")
    # wrong person: the mentor was not the mentee of this meeting (no form for them, a clear refusal)
    login(client, mentor)
    assert "Re-assess a skill" not in html(client.get(f"/meetings/{meeting.id}"))
    resp = client.post(f"/meetings/{meeting.id}/reassess", data={"skill": "Public speaking", "level": "4"})
    assert resp.status_code == 422
    assert error_of(html(resp), "form") == "That is not one of your meetings as a mentee."
    assert count_rows(db, SkillReassessment)["SkillReassessment"] == 1


def test_an_admin_reads_a_meeting_page_without_its_forms(client, db):
    program = make_program(db, mentoring_mode="both")
    mentor, mentee = make_mentor(db, weekly=EVERY_DAY), make_mentee(db)
    meeting = past_meeting(db, program, mentee, mentor)
    login(client, mentee)
    client.post(f"/meetings/{meeting.id}/ongoing", data={"ongoing_message": "Keep going?"})
    login(client, make_admin(db))
    page = html(client.get(f"/meetings/{meeting.id}"))
    assert "Keep going?" in page and "Ongoing mentorship" in page
    for form in ("Book a follow-up", "Accept ongoing mentorship", "Re-assess a skill", 'name="body"'):
        assert form not in page
    assert client.post(f"/meetings/{meeting.id}/ongoing").status_code == 403
    assert count_rows(db, FollowUp)["FollowUp"] == 1
