"""Home shows the program's description and what needs the mentee's action: a counter-proposal to
confirm, or a mentor's offer to answer; nothing for requests waiting on the other side."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from scheduling.services.requests import counter, waiting_for
from tests.factories import at, login, make_mentee, make_mentor, make_program, make_request, slot


def test_home_lists_what_needs_the_mentees_action(client: Any, db: Session) -> None:
    program = make_program(db, description="Half an hour with someone who knows.", mentors_may_create=True)
    mentor, mentee = make_mentor(db, name="Cora Counter"), make_mentee(db)
    other = make_mentor(db, name="Otto Offer")
    waiting = make_request(db, program=program, mentee=mentee, mentor=mentor, topic="Pricing")
    make_request(db, program=program, mentee=mentee, mentor=make_mentor(db), topic="Still with the mentor")
    offer = make_request(db, program=program, mentee=mentee, mentor=other, topic="Your roadmap",
                         initiated_by="mentor", times=[slot(at("2030-01-10", "11:00"))])
    assert [r.id for r in waiting_for(db, mentee)] == [offer.id]
    start, end = slot(at("2030-01-09", "14:00"))
    counter(db, waiting, actor=mentor, start=start, end=end)

    assert [r.id for r in waiting_for(db, mentee)] == [waiting.id, offer.id]
    assert [r.id for r in waiting_for(db, mentor)] == []
    login(client, mentee)
    page = client.get("/home").get_data(as_text=True)
    assert "Half an hour with someone who knows." in page and "Needs your action" in page
    assert "Confirm or decline the other time Cora Counter proposed: Pricing" in page
    assert "Answer Otto Offer\u2019s request: Your roadmap" in page
    assert "Still with the mentor" not in page
