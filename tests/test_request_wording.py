"""The request page's words match what happened: an accepted request shows what was booked (not
"Proposed times"), and the counter-proposal form is titled like its "Propose this time" button."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from tests.factories import login, make_meeting, make_mentee, make_mentor, make_program, make_request


def test_an_accepted_request_shows_the_booked_time_not_proposed_times(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentee)
    page = client.get(f"/requests/{meeting.request_id}").get_data(as_text=True)
    assert "<h2>Booked</h2>" in page and f'href="/meetings/{meeting.id}"' in page
    assert "<h2>Proposed times</h2>" not in page and "<h2>Times that were proposed</h2>" in page


def test_the_counter_form_says_propose_another_time(client: Any, db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    request = make_request(db, program=program, mentee=mentee, mentor=mentor)
    login(client, mentor)
    page = client.get(f"/requests/{request.id}").get_data(as_text=True)
    assert "<h2>Proposed times</h2>" in page
    assert "<legend>Propose another time</legend>" in page and "Accept with another time" not in page
