"""Mentor-initiated meetings (offers) and admin routing, through the Flask test client.

Each action works for the right person where the program allows it; a refusal (wrong
person, wrong state, program setting off, bad input) answers 4xx with the message by
its field and changes nothing.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from html import unescape
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling.models import (
    Initiator,
    Meeting,
    MeetingRequest,
    Person,
    RequestState,
    RoutingChoice,
    RoutingRequest,
    RoutingState,
)
from scheduling.services.people import set_skills
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
TABLES = (MeetingRequest, Meeting, RoutingRequest, RoutingChoice)


def html(resp: Any) -> str:
    return unescape(resp.get_data(as_text=True))


def error_of(page: str, field: str) -> str:
    found = re.search(rf'id="{re.escape(field)}-error"[^>]*>([^<]*)<', page)
    assert found, f"no error shown for {field}"
    return found.group(1)


def next_monday() -> date:
    today = datetime.now(UTC).date()
    return today + timedelta(days=7 - today.weekday())


def slot_values(page: str) -> list[str]:
    return re.findall(r'name="slot" value="([^"]+)"', page)


def draft_offer(client: Any, mentee: Person, topic: str = "Your first code review") -> list[str]:
    """Step one of an offer; returns the shared free times offered next week (step two)."""
    resp = client.post(f"/offers/new?mentee_id={mentee.id}",
                       data={"topic": topic, "description": "", "mode": "video", "location": ""})
    assert resp.status_code == 302 and f"/offers/new/time?mentee_id={mentee.id}" in resp.headers["Location"]
    return slot_values(html(client.get(f"/offers/new/time?mentee_id={mentee.id}&week={next_monday()}")))


# --- offers --------------------------------------------------------------------------------------


def test_mentor_offers_a_meeting_and_the_mentee_accepts_it(client, db):
    make_program(db, mentors_may_create=True)
    mentor = make_mentor(db, name="Grace Mentor", time_zone="Europe/London", weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Mentee", time_zone="America/New_York", department="Product")
    set_skills(db, mentee, {"wants": ["Code review"]})
    login(client, mentor)
    page = html(client.get("/mentees?q=product"))
    assert 'href="/mentees"' in page  # "Offer a meeting" in the navigation
    assert "Ada Mentee" in page and "Code review" in page and f"/offers/new?mentee_id={mentee.id}" in page
    assert "Ada Mentee" not in html(client.get("/mentees?q=sales"))
    assert "Offer a meeting to Ada Mentee" in html(client.get(f"/offers/new?mentee_id={mentee.id}"))
    values = draft_offer(client, mentee)
    assert values
    page = html(client.get(f"/offers/new/time?mentee_id={mentee.id}&week={next_monday()}"))
    assert re.search(r"\d\d:\d\d\u2013\d\d:\d\d (GMT|BST)", page)  # the mentor's zone
    resp = client.post(f"/offers/new/time?mentee_id={mentee.id}", data={"slot": values[:2]})
    assert resp.status_code == 302
    req = db.scalars(select(MeetingRequest)).one()
    assert resp.headers["Location"] == f"/requests/{req.id}"
    assert (req.initiated_by, req.state, req.topic) == (Initiator.MENTOR, RequestState.PENDING,
                                                         "Your first code review")
    assert [p.start_at for p in req.proposed_times] == [datetime.fromisoformat(v) for v in values[:2]]
    page = html(client.get(f"/requests/{req.id}"))
    assert "Offer from you" in page and "Withdraw offer" in page and "Accept" not in page

    login(client, mentee)
    page = html(client.get("/requests"))
    assert "Requests and offers to me" in page and "Offer" in page and "Grace Mentor" in page
    page = html(client.get(f"/requests/{req.id}"))
    assert "Offer from Grace Mentor" in page and "Message to the mentor" in page
    resp = client.post(f"/requests/{req.id}/accept", data={"time_id": str(req.proposed_times[1].id)})
    assert resp.status_code == 302
    meeting = db.scalars(select(Meeting)).one()
    assert meeting.start_at == req.proposed_times[1].start_at and meeting.mentee_id == mentee.id


def test_offer_refusals_change_nothing(client, db):
    make_program(db, mentors_may_create=True)
    mentor = make_mentor(db, weekly=EVERY_DAY)
    mentee, other = make_mentee(db), make_mentee(db)
    login(client, mentor)
    resp = client.post(f"/offers/new?mentee_id={mentee.id}", data={"topic": "", "mode": "in_person"})
    assert resp.status_code == 422
    assert error_of(html(resp), "topic") == "Topic is required."
    assert "Say where to meet" in error_of(html(resp), "location")
    assert client.get("/offers/new?mentee_id=999999").status_code == 404
    assert client.get(f"/offers/new?mentee_id={mentor.id}").status_code == 404  # not a mentee
    draft_offer(client, mentee)
    resp = client.post(f"/offers/new/time?mentee_id={mentee.id}", data={})
    assert resp.status_code == 422 and error_of(html(resp), "slot") == "Choose at least one time."
    night = datetime.combine(next_monday() + timedelta(days=7), time(3), tzinfo=UTC)  # outside their hours
    resp = client.post(f"/offers/new/time?mentee_id={mentee.id}", data={"slot": night.isoformat()})
    assert resp.status_code == 422 and "not available" in error_of(html(resp), "slot")
    assert count_rows(db, *TABLES)["MeetingRequest"] == 0

    login(client, mentee)  # mentees do not offer meetings
    assert client.get("/mentees").status_code == 403
    assert client.get(f"/offers/new?mentee_id={other.id}").status_code == 403
    assert count_rows(db, *TABLES)["MeetingRequest"] == 0


def test_offers_are_closed_where_mentors_may_not_create_meetings(client, db):
    program = make_program(db, mentors_may_create=False)
    mentor = make_mentor(db, weekly=EVERY_DAY)
    mentee = make_mentee(db)
    login(client, mentor)
    assert 'href="/mentees"' not in html(client.get("/requests"))
    ten = datetime.combine(next_monday() + timedelta(days=7), time(10), tzinfo=UTC).isoformat()
    for resp in (client.get("/mentees"), client.get(f"/offers/new?mentee_id={mentee.id}"),
                 client.post(f"/offers/new?mentee_id={mentee.id}", data={"topic": "x", "mode": "video"}),
                 client.post(f"/offers/new/time?mentee_id={mentee.id}", data={"slot": ten})):
        assert resp.status_code == 403
        assert "In this program only mentees can ask for meetings." in html(resp)
    assert count_rows(db, *TABLES)["MeetingRequest"] == 0
    # switched on by an admin: the same pages open
    program.mentors_may_create = True
    db.commit()
    assert client.get("/mentees").status_code == 200


def test_the_mentee_declines_an_offer_and_the_mentor_withdraws_another(client, db):
    make_program(db, mentors_may_create=True)
    mentor = make_mentor(db, weekly=EVERY_DAY)
    mentee = make_mentee(db)
    login(client, mentor)
    first = draft_offer(client, mentee, "First")
    client.post(f"/offers/new/time?mentee_id={mentee.id}", data={"slot": first[0]})
    second = draft_offer(client, mentee, "Second")
    client.post(f"/offers/new/time?mentee_id={mentee.id}", data={"slot": second[-1]})
    one, two = db.scalars(select(MeetingRequest).order_by(MeetingRequest.id)).all()
    # wrong person: the mentor cannot accept their own offer; someone else cannot see it
    resp = client.post(f"/requests/{one.id}/accept")
    assert resp.status_code == 403 and "Only the mentee can accept" in html(resp)
    login(client, make_mentee(db))
    assert client.post(f"/requests/{one.id}/decline", data={"reason": "no_time"}).status_code == 404

    login(client, mentee)
    resp = client.post(f"/requests/{one.id}/decline",
                       data={"reason": "no_time", "decline_message": "Busy month"})
    assert resp.status_code == 302
    login(client, mentor)
    resp = client.post(f"/requests/{two.id}/withdraw")
    assert resp.status_code == 302
    assert "Offer withdrawn." in html(client.get(f"/requests/{two.id}"))
    resp = client.post(f"/requests/{two.id}/withdraw")  # wrong state now
    assert resp.status_code == 409 and "withdrawn" in html(resp)
    db.refresh(one)
    db.refresh(two)
    assert (one.state, one.decline_message, two.state) == (RequestState.DECLINED, "Busy month",
                                                           RequestState.WITHDRAWN)
    assert count_rows(db, Meeting)["Meeting"] == 0


# --- admin routing: the mentee's side ------------------------------------------------------------


def routed_cast(db: Session) -> tuple[Person, Person, Person]:
    make_program(db, admin_routed=True)
    first = make_mentor(db, name="Grace Mentor", weekly=EVERY_DAY)
    second = make_mentor(db, name="Alan Mentor", weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Mentee")
    return mentee, first, second


def test_request_meeting_leads_to_the_preferences_form_in_an_admin_routed_program(client, db):
    mentee, grace, alan = routed_cast(db)
    login(client, mentee)
    page = html(client.get(f"/mentors/{grace.id}"))
    assert f'href="/routing/new?mentor_id={grace.id}"' in page and "an admin assigns mentors" in page
    resp = client.get(f"/mentors/{grace.id}/request")
    assert resp.status_code == 302 and resp.headers["Location"] == f"/routing/new?mentor_id={grace.id}"
    page = html(client.get(f"/routing/new?mentor_id={grace.id}"))
    assert "Send your preferences to the admin" in page
    assert re.search(rf'<option value="{grace.id}" selected>Grace Mentor', page)
    resp = client.post("/routing/new", data={"choice1": str(grace.id), "choice2": "", "choice3": str(alan.id),
                                             "topic": "Product management", "description": "Switching teams"})
    assert resp.status_code == 302
    routing = db.scalars(select(RoutingRequest)).one()
    assert resp.headers["Location"] == f"/routing/{routing.id}"
    assert routing.state == RoutingState.OPEN and routing.topic == "Product management"
    assert [(c.rank, c.mentor_id) for c in routing.choices] == [(1, grace.id), (2, alan.id)]
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0  # nobody is asked until an admin assigns
    page = html(client.get("/requests"))
    assert "Preferences sent to the admin" in page and "Waiting for an admin" in page
    assert "Grace Mentor, Alan Mentor" in page
    page = html(client.get(f"/routing/{routing.id}"))
    assert "Waiting for an admin" in page and "Withdraw preferences" in page


def test_preferences_refusals_are_shown_by_the_field_and_nothing_is_stored(client, db):
    mentee, grace, alan = routed_cast(db)
    login(client, mentee)
    resp = client.post("/routing/new", data={"choice1": str(grace.id), "topic": ""})
    assert resp.status_code == 422 and error_of(html(resp), "topic") == "Topic is required."
    resp = client.post("/routing/new", data={"topic": "Career"})
    assert resp.status_code == 422 and error_of(html(resp), "choices") == "Rank at least one mentor."
    resp = client.post("/routing/new",
                       data={"choice1": str(grace.id), "choice2": str(grace.id), "topic": "x"})
    assert resp.status_code == 422 and error_of(html(resp), "choices") == "A mentor is ranked twice."
    resp = client.post("/routing/new",
                       data={"choice1": str(grace.id), "choice4": str(mentee.id), "topic": "x"})
    assert resp.status_code == 422 and "is not a mentor you can ask" in error_of(html(resp), "choice4")
    resp = client.post("/routing/new", data={"choice2": "abc", "topic": "x"})
    assert resp.status_code == 422 and error_of(html(resp), "choice2") == "Choose a mentor from the list."
    assert count_rows(db, *TABLES) == {"MeetingRequest": 0, "Meeting": 0, "RoutingRequest": 0,
                                       "RoutingChoice": 0}
    login(client, grace)  # mentors do not send preferences
    assert client.post("/routing/new", data={"choice1": str(alan.id), "topic": "x"}).status_code == 403
    assert count_rows(db, RoutingRequest)["RoutingRequest"] == 0


def test_preferences_are_closed_where_the_program_is_not_admin_routed(client, db):
    make_program(db, admin_routed=False)
    mentor, mentee = make_mentor(db, weekly=EVERY_DAY), make_mentee(db)
    login(client, mentee)
    msg = "This program does not route requests through admins; ask a mentor directly."
    for resp in (client.get(f"/routing/new?mentor_id={mentor.id}"),
                 client.post("/routing/new", data={"choice1": str(mentor.id), "topic": "x"})):
        assert resp.status_code == 403 and msg in html(resp)
    assert client.get(f"/mentors/{mentor.id}/request").status_code == 200  # booking as usual
    assert f"/routing/new?mentor_id={mentor.id}" not in html(client.get(f"/mentors/{mentor.id}"))
    assert count_rows(db, RoutingRequest)["RoutingRequest"] == 0


def test_the_mentee_withdraws_open_preferences_only(client, db):
    mentee, grace, _ = routed_cast(db)
    login(client, mentee)
    client.post("/routing/new", data={"choice1": str(grace.id), "topic": "Career"})
    routing = db.scalars(select(RoutingRequest)).one()
    login(client, make_mentee(db))  # someone else: it does not exist for them
    assert client.get(f"/routing/{routing.id}").status_code == 404
    assert client.post(f"/routing/{routing.id}/withdraw").status_code == 404
    login(client, make_admin(db))  # an admin reads it but does not withdraw for the mentee
    resp = client.post(f"/routing/{routing.id}/withdraw")
    assert resp.status_code == 403
    assert error_of(html(resp), "form") == "Only the mentee can withdraw their preferences."
    db.refresh(routing)
    assert routing.state == RoutingState.OPEN

    login(client, mentee)
    assert client.post(f"/routing/{routing.id}/withdraw").status_code == 302
    db.refresh(routing)
    assert routing.state == RoutingState.WITHDRAWN
    page = html(client.get(f"/routing/{routing.id}"))
    assert "Withdrawn" in page and "Withdraw preferences" not in page
    resp = client.post(f"/routing/{routing.id}/withdraw")
    assert resp.status_code == 409
    assert error_of(html(resp), "form") == "Cannot withdraw preferences that are withdrawn."


# --- admin routing: the admin's side -------------------------------------------------------------


def test_admin_assigns_a_ranked_mentor_who_is_then_asked_as_usual(client, db):
    mentee, grace, alan = routed_cast(db)
    login(client, mentee)
    client.post("/routing/new", data={"choice1": str(grace.id), "choice2": str(alan.id), "topic": "Career"})
    routing = db.scalars(select(RoutingRequest)).one()
    admin = make_admin(db, time_zone="Europe/Berlin")
    login(client, admin)
    page = html(client.get("/admin/routing"))
    assert 'href="/admin/routing" aria-current="page">Routing' in page
    assert "Career" in page and "Ada Mentee" in page
    assert re.search(r"1\. Grace Mentor\s*<span class=\"muted\">· \d+ shared free times", page)
    resp = client.post(f"/admin/routing/{routing.id}/assign", data={"mentor_id": str(alan.id)})
    assert resp.status_code == 303
    db.refresh(routing)
    req = db.scalars(select(MeetingRequest)).one()
    assert (routing.state, routing.assigned_mentor_id, routing.request_id) == (RoutingState.ASSIGNED, alan.id,
                                                                               req.id)
    assert (req.mentor_id, req.mentee_id, req.initiated_by, req.state) == (
        alan.id, mentee.id, Initiator.MENTEE, RequestState.PENDING)
    assert "No preferences waiting" in html(client.get("/admin/routing"))
    assert "Alan Mentor" in html(client.get("/admin/routing?state=assigned"))

    login(client, alan)  # the mentor is asked as usual
    page = html(client.get(f"/requests/{req.id}"))
    assert "Accept" in page and "Career" in page
    login(client, mentee)
    page = html(client.get(f"/routing/{routing.id}"))
    assert "Mentor assigned" in page and f'href="/requests/{req.id}"' in page


def test_refused_assignments_are_shown_on_their_row_and_change_nothing(client, db):
    mentee, grace, alan = routed_cast(db)
    busy = make_mentor(db, name="Never Free", weekly=[])
    login(client, mentee)
    client.post("/routing/new", data={"choice1": str(grace.id), "choice2": str(busy.id), "topic": "Career"})
    routing = db.scalars(select(RoutingRequest)).one()
    login(client, make_admin(db))
    resp = client.post(f"/admin/routing/{routing.id}/assign", data={"mentor_id": str(alan.id)})  # not ranked
    assert resp.status_code == 422
    assert error_of(html(resp), f"routing-{routing.id}") == "Assign one of the mentors the mentee ranked."
    resp = client.post(f"/admin/routing/{routing.id}/assign", data={"mentor_id": str(busy.id)})
    assert resp.status_code == 409 and "share no free time" in error_of(html(resp), f"routing-{routing.id}")
    resp = client.post(f"/admin/routing/{routing.id}/assign", data={"mentor_id": ""})
    assert resp.status_code == 422
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0
    db.refresh(routing)
    assert routing.state == RoutingState.OPEN and routing.assigned_mentor_id is None

    assign_grace = {"mentor_id": str(grace.id)}
    assert client.post(f"/admin/routing/{routing.id}/assign", data=assign_grace).status_code == 303
    resp = client.post(f"/admin/routing/{routing.id}/assign", data={"mentor_id": str(busy.id)})  # wrong state
    assert resp.status_code == 409
    assert re.search(rf'id="problem">#{routing.id}: These preferences are already assigned.<', html(resp))
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 1
    assert client.post("/admin/routing/999999/assign", data={"mentor_id": str(grace.id)}).status_code == 404

    login(client, mentee)  # not an admin
    assert client.get("/admin/routing").status_code == 403
    assert client.post(f"/admin/routing/{routing.id}/assign", data=assign_grace).status_code == 403
