"""Mentee and mentor pages through the Flask test client: what they show, and that bad input
re-renders the form with the error by its field and changes nothing."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta
from typing import Any

from sqlalchemy import select

from scheduling.models import DatedSlot, Meeting, MeetingRequest, RequestState, WeeklySlot
from scheduling.services.people import set_skills
from tests.factories import (
    PASSWORD,
    count_rows,
    login,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday())


def html(resp: Any) -> str:
    return resp.get_data(as_text=True)


def error_of(page: str, field: str) -> str:
    """The error text tied to ``field`` (the element with id ``<field>-error``)."""
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return found.group(1)


# --- sign in --------------------------------------------------------------------------------------


def test_pages_send_visitors_to_sign_in_and_back(client, db):
    make_program(db)
    resp = client.get("/requests")
    assert resp.status_code == 302
    assert resp.headers["Location"].startswith("/signin?next=/requests")


def test_sign_in_with_wrong_password_shows_error_and_right_one_lands_on_home(client, db):
    make_program(db)
    mentee = make_mentee(db, email="ada@example.com")
    resp = client.post("/signin", data={"email": "ada@example.com", "password": "wrong"})
    assert resp.status_code == 422
    assert "do not match" in html(resp)
    resp = client.post("/signin", data={"email": "ada@example.com", "password": ""})
    assert error_of(html(resp), "password") == "Enter your password."
    assert 'aria-describedby="password-error"' in html(resp)
    resp = client.post("/signin",
                       data={"email": "ADA@example.com", "password": PASSWORD, "next": "/meetings"})
    assert resp.status_code == 302 and resp.headers["Location"] == "/meetings"
    with client.session_transaction() as s:
        assert s["person_id"] == mentee.id


def test_sign_in_ignores_an_off_site_next(client, db):
    make_program(db)
    make_mentee(db, email="bo@example.com")
    resp = client.post("/signin", data={"email": "bo@example.com", "password": PASSWORD,
                                        "next": "//evil.example/"})
    assert resp.headers["Location"] == "/home"


def test_nav_depends_on_role(client, db):
    make_program(db)
    mentor = make_mentor(db)
    login(client, mentor)
    page = html(client.get("/requests"))
    assert "My availability" in page and 'href="/mentors"' not in page
    mentee = make_mentee(db)
    login(client, mentee)
    page = html(client.get("/requests"))
    assert 'href="/mentors"' in page and "My availability" not in page


# --- finding a mentor ----------------------------------------------------------------------------


def test_directory_filters_by_skill_department_and_free_time(client, db):
    make_program(db, lead_time_hours=0)
    ada = make_mentor(db, name="Ada Mentor", department="Engineering", weekly=EVERY_DAY)
    bea = make_mentor(db, name="Bea Mentor", department="Sales", weekly=EVERY_DAY)
    cy = make_mentor(db, name="Cy Busy", department="Sales", weekly=[])
    set_skills(db, ada, {"offers": ["Python"]})
    set_skills(db, bea, {"offers": ["Negotiation"]})
    set_skills(db, cy, {"offers": ["Negotiation"]})
    login(client, make_mentee(db))
    page = html(client.get("/mentors?skill=python"))
    assert "Ada Mentor" in page and "Bea Mentor" not in page
    page = html(client.get("/mentors?department=Sales"))
    assert "Bea Mentor" in page and "Cy Busy" in page and "Ada Mentor" not in page
    page = html(client.get("/mentors?skill=Negotiation&free=1"))
    assert "Bea Mentor" in page and "Cy Busy" not in page
    page = html(client.get("/mentors?q=engineer"))
    assert "Ada Mentor" in page and "Bea Mentor" not in page


def test_home_recommends_mentors_with_reasons(client, db):
    make_program(db, lead_time_hours=0)
    ada = make_mentor(db, name="Ada Mentor", weekly=EVERY_DAY)
    set_skills(db, ada, {"offers": ["Python"]})
    mentee = make_mentee(db)
    set_skills(db, mentee, {"wants": ["Python"]})
    login(client, mentee)
    page = html(client.get("/home"))
    assert "Ada Mentor" in page
    assert "Python" in page
    assert "Request meeting" in page


# --- requesting a meeting ------------------------------------------------------------------------


def test_request_details_errors_are_shown_by_the_field_and_nothing_is_stored(client, db):
    make_program(db)
    mentor = make_mentor(db, weekly=EVERY_DAY)
    login(client, make_mentee(db))
    before = count_rows(db, MeetingRequest)
    resp = client.post(f"/mentors/{mentor.id}/request",
                       data={"topic": "", "mode": "in_person", "location": ""})
    assert resp.status_code == 422
    page = html(resp)
    assert error_of(page, "topic") == "Topic is required."
    assert "Say where to meet" in error_of(page, "location")
    assert 'aria-describedby="topic-help topic-error"' in page
    assert count_rows(db, MeetingRequest) == before


def test_mentee_picks_a_shared_slot_shown_in_their_zone(client, db):
    make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, time_zone="Europe/London", weekly=EVERY_DAY)
    mentee = make_mentee(db, time_zone="America/New_York")
    login(client, mentee)
    resp = client.post(f"/mentors/{mentor.id}/request",
                       data={"topic": "Career", "description": "", "mode": "video", "location": ""})
    assert resp.status_code == 302 and "/request/time" in resp.headers["Location"]
    monday = next_monday()
    page = html(client.get(f"/mentors/{mentor.id}/request/time?week={monday.isoformat()}"))
    assert "America/New_York" in page
    # 09:00 London is 04:00 in New York (or 05:00 in the weeks the clocks change at different dates)
    values = re.findall(r'name="slot" value="([^"]+)"', page)
    assert values, "no slots offered"
    first = datetime.fromisoformat(values[0])
    assert first.astimezone(UTC).date() >= monday - timedelta(days=1)
    assert re.search(r"\d\d:\d\d\u2013\d\d:\d\d E[SD]T", page)
    # nothing chosen: error, nothing stored
    resp = client.post(f"/mentors/{mentor.id}/request/time?week={monday.isoformat()}", data={})
    assert resp.status_code == 422 and "Choose at least one time" in html(resp)
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0
    resp = client.post(f"/mentors/{mentor.id}/request/time", data={"slot": values[:2]})
    assert resp.status_code == 302
    req = db.scalars(select(MeetingRequest)).one()
    assert req.state == RequestState.PENDING and len(req.proposed_times) == 2
    assert req.proposed_times[0].start_at == first


def test_the_picker_opens_on_the_first_week_with_free_time(client, db):
    make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, time_zone="UTC", weekly=[])
    later = next_monday() + timedelta(weeks=1)  # a Monday two weeks out at most
    start = datetime.combine(later + timedelta(days=2), datetime.min.time(), tzinfo=UTC) + timedelta(hours=10)
    db.add(DatedSlot(mentor_id=mentor.id, start_at=start, end_at=start + timedelta(hours=1)))
    db.commit()
    mentee = make_mentee(db, time_zone="UTC")
    login(client, mentee)
    client.post(f"/mentors/{mentor.id}/request",
                data={"topic": "Career", "description": "", "mode": "video", "location": ""})

    page = html(client.get(f"/mentors/{mentor.id}/request/time"))
    assert f"Week of Monday {later.day} " in page
    assert "No shared free time is left this week; this is the first week with some." in page
    offered = [datetime.fromisoformat(v) for v in re.findall(r'name="slot" value="([^"]+)"', page)]
    assert offered == [start, start + timedelta(minutes=30)]
    assert f"week={(later - timedelta(weeks=1)).isoformat()}" in page  # the way back is there

    asked = html(client.get(f"/mentors/{mentor.id}/request/time?week={next_monday().isoformat()}"))
    assert "No shared free times this week" in asked and "first week with some" not in asked


def test_proposing_a_time_outside_availability_is_refused_with_the_row_marked(client, db):
    make_program(db, lead_time_hours=0)
    mentor = make_mentor(db, weekly=[(0, "09:00", "10:00")])
    login(client, make_mentee(db))
    client.post(f"/mentors/{mentor.id}/request", data={"topic": "Career", "mode": "video"})
    monday = next_monday()
    resp = client.post(f"/mentors/{mentor.id}/request/propose",
                       data={"date0": monday.isoformat(), "time0": "09:00",
                             "date1": monday.isoformat(), "time1": "13:00"})
    assert resp.status_code == 422
    assert "not available" in error_of(html(resp), "time1")
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0
    resp = client.post(f"/mentors/{mentor.id}/request/propose",
                       data={"date0": monday.isoformat(), "time0": "09:30"})
    assert resp.status_code == 302
    assert db.scalars(select(MeetingRequest)).one().proposed_times[0].start_at.hour == 9


# --- answering -----------------------------------------------------------------------------------


def test_mentor_declines_only_with_a_reason_and_the_mentee_sees_it(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentor)
    resp = client.post(f"/requests/{req.id}/decline", data={"reason": "", "decline_message": ""})
    assert resp.status_code == 422 and error_of(html(resp), "reason") == "Choose a reason."
    resp = client.post(f"/requests/{req.id}/decline", data={"reason": "other", "decline_message": ""})
    assert resp.status_code == 422 and "Say why" in error_of(html(resp), "decline_message")
    db.refresh(req)
    assert req.state == RequestState.PENDING
    resp = client.post(f"/requests/{req.id}/decline",
                       data={"reason": "not_my_expertise", "decline_message": "Ask Bea instead"})
    assert resp.status_code == 302
    login(client, mentee)
    page = html(client.get("/requests"))
    assert "Declined" in page and "not my area of expertise" in page
    assert "Ask Bea instead" in html(client.get(f"/requests/{req.id}"))


def test_counter_then_confirm_books_the_meeting(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db, time_zone="Asia/Kolkata"), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)  # Wed 9 Jan 2030 10:00 UTC
    login(client, mentor)
    page = html(client.get(f"/requests/{req.id}"))
    assert "15:30\u201316:00 IST" in page  # 10:00 UTC shown in the mentor's zone
    resp = client.post(f"/requests/{req.id}/counter", data={"date": "2020-01-09", "time": "11:00"})
    assert resp.status_code == 422  # the past (off-slot times are allowed: test_counter_times)
    assert "already passed" in error_of(html(resp), "date")
    resp = client.post(f"/requests/{req.id}/counter",
                       data={"date": "2030-01-10", "time": "11:00", "counter_message": "Thursday?"})
    assert resp.status_code == 302
    db.refresh(req)
    assert req.state == RequestState.COUNTERED
    login(client, mentee)
    page = html(client.get(f"/requests/{req.id}"))
    assert "05:30\u201306:00 UTC" in page and "Thursday?" in page
    resp = client.post(f"/requests/{req.id}/confirm")
    assert resp.status_code == 302
    meeting = db.scalars(select(Meeting)).one()
    assert meeting.start_at == datetime(2030, 1, 10, 5, 30, tzinfo=UTC)
    assert "Took place" not in html(client.get("/meetings"))
    assert "05:30\u201306:00 UTC" in html(client.get("/meetings"))


def test_someone_else_cannot_see_or_answer_a_request(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    login(client, make_mentee(db))
    assert client.get(f"/requests/{req.id}").status_code == 404
    assert client.post(f"/requests/{req.id}/withdraw").status_code == 404
    db.refresh(req)
    assert req.state == RequestState.PENDING


# --- meetings ------------------------------------------------------------------------------------


def test_meeting_shows_join_link_and_can_be_canceled(client, db):
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor, location="https://meet.example/abc")
    login(client, mentee)
    page = html(client.get("/meetings"))
    assert 'href="https://meet.example/abc"' in page
    resp = client.post(f"/meetings/{meeting.id}/cancel", data={"reason": "x" * 3000})
    assert resp.status_code == 422 and "too long" in error_of(html(resp), "reason")
    db.refresh(meeting)
    assert meeting.is_active
    resp = client.post(f"/meetings/{meeting.id}/cancel", data={"reason": "Ill"})
    assert resp.status_code == 302
    db.refresh(meeting)
    assert meeting.state.value == "canceled"


# --- availability --------------------------------------------------------------------------------


def test_week_grid_saves_merged_weekly_slots(client, db):
    make_program(db)
    mentor = make_mentor(db, time_zone="Europe/Berlin", weekly=[])
    login(client, mentor)
    resp = client.post("/availability/weekly", data={"cell": ["1-09:00", "1-09:30", "1-11:00", "3-14:00"]})
    assert resp.status_code == 302
    slots = sorted((w.weekday, f"{w.start_time:%H:%M}", f"{w.end_time:%H:%M}", w.time_zone)
                   for w in db.scalars(select(WeeklySlot)))
    assert slots == [(1, "09:00", "10:00", "Europe/Berlin"), (1, "11:00", "11:30", "Europe/Berlin"),
                     (3, "14:00", "14:30", "Europe/Berlin")]
    page = html(client.get("/availability"))
    assert re.search(r'value="1-09:30" aria-label="Tuesday 09:30-10:00" checked', page)
    assert not re.search(r'value="1-10:00" aria-label="[^"]*" checked', page)
    # a forged cell is refused and the slots stay
    resp = client.post("/availability/weekly", data={"cell": ["9-09:00"]})
    assert resp.status_code == 422
    assert count_rows(db, WeeklySlot)["WeeklySlot"] == 3


def test_dated_slot_in_the_past_is_refused_by_its_field(client, db):
    make_program(db)
    mentor = make_mentor(db)
    login(client, mentor)
    resp = client.post("/availability/dated", data={"dated_date": "2001-01-01", "dated_start": "09:00",
                                                    "dated_end": "10:00"})
    assert resp.status_code == 422
    assert "future" in error_of(html(resp), "dated_start")
    assert count_rows(db, DatedSlot)["DatedSlot"] == 0
    day = (next_monday() + timedelta(days=2)).isoformat()
    resp = client.post("/availability/dated", data={"dated_date": day, "dated_start": "18:00",
                                                    "dated_end": "19:00"})
    assert resp.status_code == 302
    assert "18:00\u201319:00 UTC" in html(client.get("/availability"))


def test_mentee_cannot_open_the_availability_editor(client, db):
    make_program(db)
    login(client, make_mentee(db))
    assert client.get("/availability").status_code == 403
