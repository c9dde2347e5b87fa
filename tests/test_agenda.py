"""My week: meetings and the times of open requests, day by day in the viewer's own zone, with whose step
is next; weeks navigate; a week that is not a date is refused with a clear message."""

from __future__ import annotations

import re
from typing import Any

from sqlalchemy.orm import Session

from scheduling.services import meetings as meetings_svc
from scheduling.services.requests import counter
from tests.factories import (
    NOW,
    at,
    login,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
    slot,
)


def _days(page: str) -> dict[str, str]:
    """Day heading -> that day's text."""
    pattern = r'<section class="agenda-day[^"]*"[^>]*>\s*<h2[^>]*>(.*?)</h2>(.*?)</section>'
    found = re.findall(pattern, page, re.S)
    return {re.sub(r"<[^>]+>", "", h).replace("Today", "").strip(): re.sub(r"\s+", " ", body)
            for h, body in found}


def test_my_week_shows_meetings_and_open_requests_in_my_zone(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor = make_mentor(db, name="Mona Mentor", time_zone="Europe/Berlin",
                         weekly=[(d, "00:00", "23:30") for d in range(7)])
    mentee = make_mentee(db, name="Ned Mentee", time_zone="America/New_York")
    # Thursday 10 January 03:00 UTC is Wednesday 9 January 22:00 in New York.
    make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=at("2030-01-10", "03:00"),
                 topic="Late call")
    canceled = make_meeting(db, program=program, mentor=mentor, mentee=mentee,
                            start=at("2030-01-08", "15:00"), topic="Dropped")
    meetings_svc.cancel(db, canceled, actor=mentee, reason="", now=NOW)
    make_request(db, program=program, mentee=mentee, mentor=mentor, topic="Pricing",
                 times=[slot(at("2030-01-11", "14:00")), slot(at("2030-01-20", "14:00"))])
    countered = make_request(db, program=program, mentee=mentee, mentor=mentor, topic="Roadmap",
                             times=[slot(at("2030-01-09", "09:00"))])
    start, end = slot(at("2030-01-12", "16:00"))
    counter(db, countered, actor=mentor, start=start, end=end, now=NOW)
    make_meeting(db, program=program, mentor=mentor, mentee=make_mentee(db), start=at("2030-01-09", "12:00"),
                 topic="Someone else's")

    login(client, mentee)
    page = client.get("/meetings/week?week=2030-01-09").get_data(as_text=True)
    assert "in your time zone, America/New_York" in page
    days = _days(page)
    assert list(days) == ["Mon 7 Jan", "Tue 8 Jan", "Wed 9 Jan", "Thu 10 Jan", "Fri 11 Jan", "Sat 12 Jan",
                          "Sun 13 Jan"]
    assert "22:00\u201322:30 EST" in days["Wed 9 Jan"] and "Late call" in days["Wed 9 Jan"]
    assert "Late call" not in days["Thu 10 Jan"] and "Someone else" not in page
    assert "Dropped" in days["Tue 8 Jan"] and "Canceled" in days["Tue 8 Jan"]
    pricing = days["Fri 11 Jan"]
    assert "09:00\u201309:30 EST" in pricing and "Proposed: waiting for Mona Mentor" in pricing
    assert "Needs your action" not in pricing
    roadmap = days["Sat 12 Jan"]  # the counter's time, the mentee's step
    assert "11:00\u201311:30 EST" in roadmap and "confirm or decline" in roadmap
    assert "Needs your action" in roadmap
    assert "Roadmap" not in days["Wed 9 Jan"]  # the time the counter replaced is not shown
    assert 'href="/meetings/week?week=2030-01-14">Next week' in page
    assert 'href="/meetings/week?week=2029-12-31">&larr; Previous week' in page
    assert "Pricing" in client.get("/meetings/week?week=2030-01-20").get_data(as_text=True)

    login(client, mentor)
    days = _days(client.get("/meetings/week?week=2030-01-07").get_data(as_text=True))
    assert "04:00\u201304:30 CET" in days["Thu 10 Jan"] and "Late call" in days["Thu 10 Jan"]
    assert "Proposed: answer the request" in days["Fri 11 Jan"] and "Needs your action" in days["Fri 11 Jan"]
    assert "You proposed it; Ned Mentee confirms" in days["Sat 12 Jan"]


def test_the_meetings_page_and_home_link_to_my_week(client: Any, db: Session) -> None:
    make_program(db)
    login(client, make_mentee(db))
    assert 'href="/meetings/week">See my week</a>' in client.get("/meetings").get_data(as_text=True)
    assert 'href="/meetings/week">My week</a>' in client.get("/home").get_data(as_text=True)
    page = client.get("/meetings/week").get_data(as_text=True)
    assert "<h1>My week</h1>" in page and page.count('class="agenda-day') == 7 and ">Today</span>" in page


def test_a_week_that_is_not_a_date_is_refused(client: Any, db: Session) -> None:
    make_program(db)
    login(client, make_mentee(db))
    for bad in ("next", "2030-13-01", "9999-12-31", "0001-01-01"):
        answer = client.get(f"/meetings/week?week={bad}")
        assert answer.status_code == 422, bad
        text = answer.get_data(as_text=True)
        assert "like 2030-01-07" in text or "out of range" in text


def test_visitors_are_sent_to_sign_in(client: Any) -> None:
    answer = client.get("/meetings/week")
    assert answer.status_code == 302 and "/signin" in answer.headers["Location"]
