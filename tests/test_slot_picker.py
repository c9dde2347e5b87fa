"""The slot picker and the counts of shared free time around it, through the Flask test client.

The clock of the pages is fixed (a Thursday) so that "this week" and a rolling seven days
differ by whole days: the directory once counted the next seven days while the picker listed
the rest of the calendar week, and said 16 where the picker showed 6.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import select

from scheduling.models import MeetingRequest, RequestState
from scheduling.services.program import get_program
from tests.factories import count_rows, login, make_meeting, make_mentee, make_mentor, make_program

EVERY_DAY = [(d, "09:00", "17:00") for d in range(7)]
THURSDAY = datetime(2030, 1, 10, 15, 0, tzinfo=UTC)  # 10:00 in New York, 15:00 in London
DETAILS = {"topic": "Career", "description": "", "mode": "video", "location": ""}


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """The pages' "now": Thursday 10 Jan 2030, 15:00 UTC."""
    for module in ("app.web.booking", "app.web.directory"):
        monkeypatch.setattr(f"{module}.utcnow", lambda: THURSDAY)
    return THURSDAY


def html(resp: Any) -> str:
    return resp.get_data(as_text=True)


def slot_values(page: str) -> list[str]:
    return re.findall(r'name="slot" value="([^"]+)"', page)


def week_count(page: str) -> int:
    found = re.search(r'id="week-count">(\d+) shared free time', page)
    assert found, "the picker does not say how many times its week has"
    return int(found.group(1))


def slot_labels(page: str) -> list[tuple[str, str]]:
    """(shown time, the other person's time beside it) of each slot, in order."""
    return re.findall(r'<span class="slot-time">([^<]*)</span>'
                      r'(?: <span class="slot-beside muted">([^<]*)</span>)?', page)


def cast(db: Any, **program: Any) -> tuple[Any, Any]:
    make_program(db, lead_time_hours=program.pop("lead_time_hours", 0), **program)
    mentor = make_mentor(db, name="Grace Hopper", time_zone="Europe/London", weekly=EVERY_DAY)
    mentee = make_mentee(db, name="Ada Lovelace", time_zone="America/New_York")
    return mentor, mentee


def start_request(client: Any, mentor: Any) -> None:
    resp = client.post(f"/mentors/{mentor.id}/request", data=DETAILS)
    assert resp.status_code == 302 and "/request/time" in resp.headers["Location"]


def test_directory_mentor_page_and_picker_count_the_same_week(client, db, clock):
    mentor, mentee = cast(db)
    login(client, mentee)
    # the rest of the mentee's week (to Sunday midnight in New York, 05:00 UTC Monday): Thursday
    # 15:00-17:00 UTC and Friday to Sunday 09:00-17:00 London, half-hour slots
    expected = 4 + 3 * 16
    directory = html(client.get("/mentors?free=1"))
    found = re.search(r"(\d+) shared free times? this week", directory)
    assert found and int(found.group(1)) == expected
    card = html(client.get(f"/mentors/{mentor.id}"))
    assert f'id="free-this-week">{expected} shared free times with you this week' in card
    start_request(client, mentor)
    page = html(client.get(f"/mentors/{mentor.id}/request/time"))
    assert week_count(page) == len(slot_values(page)) == expected
    assert "Week of Monday 7 January 2030" in page
    # the week at a glance agrees with the list: one count per day
    strip = dict(re.findall(r'<span class="sr-only">(\w+ \d+ \w+): (\d+|no) times?</span>', page))
    assert strip == {"Monday 7 January": "no", "Tuesday 8 January": "no", "Wednesday 9 January": "no",
                     "Thursday 10 January": "4", "Friday 11 January": "16", "Saturday 12 January": "16",
                     "Sunday 13 January": "16"}
    assert 'href="#day-2030-01-11"' in page and 'id="day-2030-01-11"' in page


def test_each_slot_is_in_the_mentees_zone_with_the_mentors_local_time_beside_it(client, db, clock):
    mentor, mentee = cast(db)
    login(client, mentee)
    start_request(client, mentor)
    page = html(client.get(f"/mentors/{mentor.id}/request/time"))
    assert slot_labels(page)[0] == ("10:00\u201310:30 EST", "15:00\u201315:30 GMT for Grace Hopper")
    assert "Times shown in <strong>America/New_York</strong>" in page

    tokyo = html(client.get(f"/mentors/{mentor.id}/request/time?tz=other&tz_other=Asia/Tokyo"))
    assert slot_labels(tokyo)[0] == ("00:00\u201300:30 JST", "Thu 15:00\u201315:30 GMT for Grace Hopper")
    assert 'value="Asia/Tokyo"' in tokyo and "tz=Asia/Tokyo" in tokyo  # the week links keep the zone

    london = html(client.get(f"/mentors/{mentor.id}/request/time?tz=Europe/London"))
    assert slot_labels(london)[0] == ("15:00\u201315:30 GMT", "10:00\u201310:30 EST for you")
    assert len(slot_values(london)) == week_count(london)


def test_an_unknown_zone_is_refused_by_the_field_and_times_stay_in_the_viewers_zone(client, db, clock):
    mentor, mentee = cast(db)
    login(client, mentee)
    start_request(client, mentor)
    resp = client.get(f"/mentors/{mentor.id}/request/time?tz=other&tz_other=Mars/Olympus_Mons")
    assert resp.status_code == 422
    page = html(resp)
    assert re.search(r'id="tz_other-error"[^>]*>No time zone is called Mars/Olympus_Mons: give an IANA', page)
    assert slot_labels(page)[0][0].endswith("EST")
    resp = client.get(f"/mentors/{mentor.id}/request/time?tz=other&tz_other=")
    assert resp.status_code == 422 and "Type a time zone" in html(resp)


def test_the_lead_time_is_explained_and_no_slot_starts_inside_it(client, db, clock):
    mentor, mentee = cast(db, lead_time_hours=24)
    login(client, mentee)
    start_request(client, mentor)
    page = html(client.get(f"/mentors/{mentor.id}/request/time"))
    assert ("Times start 24 hours from now because the program asks for 24 hours' notice: "
            "the earliest is Fri 11 Jan, 10:00 EST.") in page
    starts = [datetime.fromisoformat(v) for v in slot_values(page)]
    assert starts and min(starts) == clock + timedelta(hours=24)
    assert week_count(page) == len(starts) == 4 + 2 * 16
    directory = html(client.get("/mentors?free=1"))
    assert f"{len(starts)} shared free times this week" in directory


def test_the_mentors_page_lists_the_next_times_each_opening_the_picker_with_it_chosen(client, db, clock):
    mentor, mentee = cast(db)
    login(client, mentee)
    card = html(client.get(f"/mentors/{mentor.id}"))
    links = re.findall(rf'href="(/mentors/{mentor.id}/request\?slot=[^"]+)">([^<]+)<', card)
    assert [label for _, label in links] == [
        "Thu 10 Jan 2030, 10:00\u201310:30 EST", "Thu 10 Jan 2030, 10:30\u201311:00 EST",
        "Thu 10 Jan 2030, 11:00\u201311:30 EST", "Thu 10 Jan 2030, 11:30\u201312:00 EST",
        "Fri 11 Jan 2030, 04:00\u201304:30 EST"]
    assert "09:00\u201309:30 GMT for Grace Hopper" in card  # Friday's first, in London

    chosen_link = links[4][0].replace("&amp;", "&")
    form = html(client.get(chosen_link))
    chosen = re.search(r'type="hidden" name="slot" value="([^"]+)"', form)
    assert chosen and datetime.fromisoformat(chosen.group(1)) == datetime(2030, 1, 11, 9, 0, tzinfo=UTC)
    resp = client.post(f"/mentors/{mentor.id}/request", data={**DETAILS, "slot": chosen.group(1)})
    assert resp.status_code == 302 and "slot=" in resp.headers["Location"]
    page = html(client.get(resp.headers["Location"]))
    ticked = re.findall(r'name="slot" value="([^"]+)" checked', page)
    assert ticked == [chosen.group(1)]
    assert "no longer free" not in page


def test_the_picker_books_as_a_plain_form_in_another_zone(client, db, clock):
    """No script: the zone switcher is a GET form, the week a POST form; the request keeps the time."""
    mentor, mentee = cast(db)
    login(client, mentee)
    start_request(client, mentor)
    page = html(client.get(f"/mentors/{mentor.id}/request/time?tz=other&tz_other=Asia/Tokyo&week=2030-01-14"))
    action = re.search(r'<form method="post" action="([^"]+)"', page)
    assert action and "tz=Asia/Tokyo" in action.group(1) and "week=2030-01-14" in action.group(1)
    values = slot_values(page)
    target = action.group(1).replace("&amp;", "&")
    resp = client.post(target, data={})
    assert resp.status_code == 422 and "Choose at least one time" in html(resp)
    assert "tz=Asia/Tokyo" in html(resp) and slot_labels(html(resp))[0][0].endswith("JST")
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0
    resp = client.post(target, data={"slot": values[:2]})
    assert resp.status_code == 302
    req = db.scalars(select(MeetingRequest)).one()
    assert req.state == RequestState.PENDING
    assert [t.start_at for t in req.proposed_times] == [datetime.fromisoformat(v) for v in values[:2]]


def test_a_time_chosen_beforehand_and_taken_meanwhile_is_not_ticked_and_the_page_says_so(client, db, clock):
    mentor, mentee = cast(db)
    other = make_mentor(db, name="Alan Turing", time_zone="Europe/London", weekly=EVERY_DAY)
    login(client, mentee)
    card = html(client.get(f"/mentors/{mentor.id}"))
    chosen = re.findall(r'request\?slot=([^"]+)"', card)[0]
    make_meeting(db, program=get_program(db), mentee=mentee, mentor=other,
                 start=datetime.fromisoformat(chosen), now=clock)
    resp = client.post(f"/mentors/{mentor.id}/request", data={**DETAILS, "slot": chosen})
    page = html(client.get(resp.headers["Location"]))
    assert "The time you chose is no longer free for you both; pick another." in page
    assert chosen not in slot_values(page) and " checked" not in page.split('<form method="post"', 1)[1]


def test_no_next_times_link_into_a_request_the_mentee_cannot_make(client, db, clock):
    mentor, mentee = cast(db)
    login(client, mentee)
    assert "Next times you are both free" in html(client.get(f"/mentors/{mentor.id}"))
    mentor.paused_until = clock + timedelta(days=30)  # not taking requests
    db.commit()
    page = html(client.get(f"/mentors/{mentor.id}"))
    assert "Next times you are both free" not in page and "request?slot=" not in page
    mentor.paused_until = None
    get_program(db).admin_routed = True  # admins assign mentors: mentees send preferences, not times
    db.commit()
    page = html(client.get(f"/mentors/{mentor.id}"))
    assert "Next times you are both free" not in page and "request?slot=" not in page


def test_a_zone_typed_without_its_radio_is_shown_and_a_radio_ticked_wins_over_the_box(client, db, clock):
    mentor, mentee = cast(db)
    login(client, mentee)
    start_request(client, mentor)
    base = f"/mentors/{mentor.id}/request/time"
    typed = html(client.get(f"{base}?shown=America/New_York&tz=America/New_York&tz_other=Asia/Tokyo"))
    assert "Times shown in <strong>Asia/Tokyo</strong>" in typed
    back = html(client.get(f"{base}?shown=Asia/Tokyo&tz=America/New_York&tz_other=Asia/Tokyo"))
    assert "Times shown in <strong>America/New_York</strong>" in back
    theirs = html(client.get(f"{base}?shown=America/New_York&tz=Europe/London&tz_other="))
    assert "Times shown in <strong>Europe/London</strong>" in theirs
