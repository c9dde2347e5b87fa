""""Propose another time" (issue 17): a counter-proposal is bound by both people being free, not by the
mentor's published weekly slots, and the page suggests times the two share even in a program whose
mentors publish no slots (free-text availability)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from html import unescape
from typing import Any
from zoneinfo import ZoneInfo

import pytest
import time_machine
from sqlalchemy.orm import Session

from scheduling import counter_times
from scheduling.errors import DomainError
from scheduling.models import MeetingRequest, RequestState
from scheduling.services import requests as svc
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

SAT_10 = at("2030-01-12", "10:00")  # the mentor's weekly slots are weekdays 09:00-17:00
WED_10 = at("2030-01-09", "10:00")


def test_the_mentor_may_propose_a_time_outside_their_weekly_slots_and_the_mentee_confirms_it(
    db: Session,
) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    req = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(WED_10)])
    svc.counter(db, req, actor=mentor, start=SAT_10, end=SAT_10 + timedelta(minutes=30), now=NOW)
    assert req.state == RequestState.COUNTERED
    meeting = svc.confirm_counter(db, req, actor=mentee, now=NOW)
    assert meeting.start_at == SAT_10


def test_a_counter_proposal_still_needs_both_people_free(db: Session) -> None:
    program = make_program(db)
    mentor, mentee = make_mentor(db), make_mentee(db)
    make_meeting(db, program=program, mentee=mentee, mentor=make_mentor(db), start=at("2030-01-10", "10:00"))
    req = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(WED_10)])
    with pytest.raises(DomainError) as refused:
        svc.counter(db, req, actor=mentor, start=at("2030-01-10", "10:00"), end=at("2030-01-10", "10:30"),
                    now=NOW)
    assert (refused.value.code, refused.value.field) == ("slot_not_available", "start")
    db.expire_all()
    assert db.get(MeetingRequest, req.id).state == RequestState.PENDING  # type: ignore[union-attr]


def test_suggestions_in_a_free_text_program_are_shared_working_hours_clear_of_meetings(db: Session) -> None:
    program = make_program(db, availability_mode="free_text")
    mentor = make_mentor(db, time_zone="Europe/Berlin")
    mentor.weekly_slots.clear()  # a free-text program: the mentor publishes no slots
    mentee = make_mentee(db, time_zone="America/New_York")
    db.commit()
    busy_at = at("2030-01-09", "15:00")  # inside both people's working hours
    make_meeting(db, program=program, mentee=mentee, mentor=make_mentor(db), start=busy_at)

    found = counter_times.suggestions(db, program, mentor, mentee, NOW, NOW + timedelta(days=7), now=NOW)
    assert found, "times both are free are suggested"
    assert all(s.start >= NOW + timedelta(hours=program.lead_time_hours) for s in found)
    for s in found:
        for zone in ("Europe/Berlin", "America/New_York"):
            local_start, local_end = s.start.astimezone(ZoneInfo(zone)), s.end.astimezone(ZoneInfo(zone))
            assert local_start.weekday() < 5 and local_start.hour >= 8
            assert (local_end.hour, local_end.minute) <= (18, 0)
    assert busy_at not in {s.start for s in found}  # the mentee's meeting
    assert at("2030-01-09", "14:30") in {s.start for s in found}  # the free half hour before it


def option_values(page: str) -> list[str]:
    select = re.search(r'<select id="slot".*?</select>', page, flags=re.S)
    assert select, "the counter form has a list of times"
    return [v for v in re.findall(r'<option value="([^"]*)"', unescape(select.group(0))) if v]


def test_the_request_page_offers_times_for_both_in_a_free_text_program(client: Any, db: Session) -> None:
    program = make_program(db, availability_mode="free_text")
    mentor, mentee = make_mentor(db), make_mentee(db)
    mentor.weekly_slots.clear()
    db.commit()
    req = make_request(db, program=program, mentee=mentee, mentor=mentor, times=[slot(WED_10)])
    with time_machine.travel(NOW, tick=False):  # the page reads the clock; signed in at that time too
        login(client, mentor)
        values = option_values(client.get(f"/requests/{req.id}").get_data(as_text=True))
        assert values and WED_10.isoformat() not in values  # the proposed time is not offered again
        chosen = values[0]
        resp = client.post(f"/requests/{req.id}/counter", data={"slot": chosen})
    assert resp.status_code == 302, resp.get_data(as_text=True)
    db.expire_all()
    counter = svc.counter_time(db.get(MeetingRequest, req.id))  # type: ignore[arg-type]
    assert counter is not None and counter.start_at == datetime.fromisoformat(chosen).astimezone(UTC)
