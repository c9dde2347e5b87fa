"""Match scores follow their rules and explain themselves with the facts they used."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta

import pytest
from sqlalchemy.orm import Session

from calendars.base import BusyInterval
from freebusy.busy import StaticBusySource
from freebusy.cache import BusyCache, CachedBusySource
from freebusy.intervals import IntervalSet
from scheduling.availability import bookable_slots, shared_slot_counts
from scheduling.errors import UnknownTimeZone
from scheduling.matching import rank_mentors, recommendations_for
from scheduling.models import Person, Program, WeeklySlot
from scheduling.services import requests as request_service
from scheduling.services.competencies import set_role_targets
from scheduling.services.people import set_skills
from scheduling.services.recommendations import push
from tests.factories import (
    NOW,
    add_dated_slot,
    at,
    make_admin,
    make_meeting,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)


def offering(db: Session, *skills: tuple[str, int | None], **kw: object) -> Person:
    mentor = make_mentor(db, **kw)  # type: ignore[arg-type]
    set_skills(db, mentor, {"offers": [{"name": n, "level": lv} for n, lv in skills]})
    return mentor


def wanting(db: Session, *skills: str, **kw: object) -> Person:
    mentee = make_mentee(db, **kw)  # type: ignore[arg-type]
    set_skills(db, mentee, {"wants": list(skills)})
    return mentee


def ranked(db: Session, program: Program, mentee: Person, **kw: object) -> list[str]:
    return [m.mentor.name for m in rank_mentors(db, program, mentee, now=NOW, **kw)]  # type: ignore[arg-type]


def match_of(db: Session, program: Program, mentee: Person, mentor: Person) -> object:
    return next(m for m in rank_mentors(db, program, mentee, now=NOW) if m.mentor.id == mentor.id)


def test_higher_offered_level_ranks_higher_and_spellings_meet(db: Session) -> None:
    program = make_program(db)
    mentee = wanting(db, "Salesforce CRM")
    low = offering(db, ("CRM - Salesforce", 2), name="Low Level")
    high = offering(db, ("salesforce  crm", 4), name="High Level")
    offering(db, ("Python", 5), name="Other Skill")

    matches = rank_mentors(db, program, mentee, now=NOW)
    assert [m.mentor.name for m in matches] == ["High Level", "Low Level", "Other Skill"]
    by_id = {m.mentor.id: m for m in matches}
    assert "offers Salesforce CRM at level 4" in by_id[high.id].reasons
    assert "offers Salesforce CRM at level 2" in by_id[low.id].reasons
    assert by_id[high.id].score > by_id[low.id].score
    assert not any(r.startswith("offers") for r in matches[2].reasons)


def test_overloaded_mentor_ranks_lower_with_the_reason(db: Session) -> None:
    program = make_program(db, max_pending_requests=None)
    mentee = wanting(db, "Negotiation")
    busy = offering(db, ("Negotiation", 4), name="Busy Mentor", monthly_meeting_cap=2)
    free = offering(db, ("Negotiation", 4), name="Free Mentor", monthly_meeting_cap=2)
    other = make_mentee(db)
    # Two meetings later this month, outside the 14-day window, so only the load differs.
    for day in ("2030-01-28", "2030-01-29"):
        make_meeting(db, program=program, mentee=other, mentor=busy, start=at(day, "10:00"))

    matches = rank_mentors(db, program, mentee, now=NOW)
    assert [m.mentor.id for m in matches] == [free.id, busy.id]
    loaded = matches[1]
    assert "fully booked this month (2 of 2 meetings)" in loaded.reasons
    assert loaded.components["load"] < 0 == matches[0].components["load"]
    assert loaded.shared_slots == matches[0].shared_slots  # the only difference is the load


def test_half_loaded_mentor_sits_between(db: Session) -> None:
    program = make_program(db, max_pending_requests=None)
    mentee = wanting(db, "Negotiation")
    mentors = [offering(db, ("Negotiation", 4), name=f"M{i}", monthly_meeting_cap=4) for i in range(3)]
    for mentor, n in zip(mentors, (0, 2, 4), strict=True):
        for k in range(n):
            make_meeting(
                db,
                program=program,
                mentee=make_mentee(db),
                mentor=mentor,
                start=at(f"2030-01-{28 + k}", "10:00"),
            )
    matches = rank_mentors(db, program, mentee, now=NOW)
    assert [m.mentor.name for m in matches] == ["M0", "M1", "M2"]
    assert "2 of 4 meetings booked this month" in matches[1].reasons


@pytest.mark.parametrize("prefer_other", [True, False])
def test_department_preference_is_respected(db: Session, prefer_other: bool) -> None:
    program = make_program(db, prefer_other_department=prefer_other)
    mentee = wanting(db, "Forecasting", department="Sales", region="EMEA")
    same = offering(db, ("Forecasting", 3), name="Same Dept", department="sales", region="EMEA")
    other = offering(db, ("Forecasting", 3), name="Other Dept", department="Finance", region="EMEA")

    matches = rank_mentors(db, program, mentee, now=NOW)
    first, second = matches
    if prefer_other:
        assert first.mentor.id == other.id
        assert "from another department (Finance): a fresh view" in first.reasons
        assert not any("department" in r for r in second.reasons)
    else:
        assert first.mentor.id == same.id
        assert "same department as you: knows your context" in first.reasons
        assert "same region as you: knows your context" in first.reasons
        assert "same region as you: knows your context" in second.reasons
    assert first.score > second.score


def test_more_shared_free_time_ranks_higher_and_is_counted_like_the_engine(db: Session) -> None:
    program = make_program(db)
    mentee = wanting(db, "SQL")
    wide = offering(db, ("SQL", 3), name="Wide Hours")
    narrow = offering(db, ("SQL", 3), name="Narrow Hours", weekly=[(2, "10:00", "11:00")])
    matches = rank_mentors(db, program, mentee, now=NOW)
    assert [m.mentor.id for m in matches] == [wide.id, narrow.id]
    engine = shared_slot_counts(db, program, [wide, narrow], mentee, NOW, NOW + timedelta(days=14), now=NOW)
    assert matches[1].shared_slots == engine[narrow.id] == 4  # two Wednesdays, two 30-minute slots each
    assert "4 times free for you both in the next 14 days: easy to book" in matches[1].reasons
    wide_reason = f"{engine[wide.id]} times free for you both in the next 14 days: easy to book"
    assert wide_reason in matches[0].reasons


def test_mentor_without_shared_time_says_so(db: Session) -> None:
    program = make_program(db)
    mentee = wanting(db, "SQL")
    offering(db, ("SQL", 3), name="Never Free", weekly=[])
    (match,) = rank_mentors(db, program, mentee, now=NOW)
    assert match.shared_slots == 0
    assert "no shared free time in the next 14 days: hard to book soon" in match.reasons


def test_competency_gap_counts_as_a_need(db: Session) -> None:
    program = make_program(db)
    set_role_targets(db, program, "Account Executive", [{"name": "Negotiation", "level": 4}])
    mentee = make_mentee(db, title="account  executive")
    set_skills(db, mentee, {"has": [{"name": "Negotiation", "level": 1}]})
    helps = offering(db, ("Negotiation", 3), name="Helps")
    offering(db, ("Knitting", 5), name="Does Not")
    matches = rank_mentors(db, program, mentee, now=NOW)
    assert matches[0].mentor.id == helps.id
    assert "offers Negotiation at level 3 (your gap: 3 levels)" in matches[0].reasons


def test_declined_mentor_stays_visible_and_can_be_asked_again(db: Session) -> None:
    program = make_program(db)
    mentee = wanting(db, "SQL")
    mentor = offering(db, ("SQL", 4), name="Said No")
    req = make_request(db, program=program, mentee=mentee, mentor=mentor)
    request_service.decline(db, req, actor=mentor, reason="no_time", now=NOW)
    assert ranked(db, program, mentee) == ["Said No"]
    again = make_request(
        db,
        program=program,
        mentee=mentee,
        mentor=mentor,
        times=[(at("2030-01-10", "10:00"), at("2030-01-10", "10:30"))],
    )
    assert again.state.value == "pending"


def test_only_active_mentors_other_than_the_mentee(db: Session) -> None:
    program = make_program(db)
    both = make_mentor(db, name="Both Roles", is_mentee=True)
    make_mentor(db, name="Gone", active=False)
    make_mentee(db, name="Just A Mentee")
    make_mentor(db, name="Real Mentor")
    assert ranked(db, program, both) == ["Real Mentor"]


def test_limit_gives_the_top_of_the_full_ranking(db: Session) -> None:
    rnd = random.Random(3)
    program = make_program(db)
    skills = ["SQL", "Python", "Negotiation", "Forecasting", "Design"]
    mentee = wanting(db, "SQL", "Design", department="Sales")
    for i in range(40):
        days = rnd.sample(range(5), rnd.randint(0, 3))
        mentor = offering(
            db,
            *[(s, rnd.choice([None, 1, 3, 5])) for s in rnd.sample(skills, 2)],
            name=f"Mentor {i:02d}",
            department=rnd.choice(["Sales", "Finance"]),
            weekly=[(d, "09:00", "11:00") for d in days],
            monthly_meeting_cap=rnd.choice([None, 1]),
        )
        if days and days[0] < 4 and i % 5 == 0:  # a meeting later this month (outside the window): load only
            make_meeting(
                db,
                program=program,
                mentee=make_mentee(db),
                mentor=mentor,
                start=at(f"2030-01-{28 + days[0]}", "10:00"),
            )
    full = rank_mentors(db, program, mentee, now=NOW)
    for limit in (1, 3, 10):
        top = rank_mentors(db, program, mentee, now=NOW, limit=limit)
        assert [(m.mentor.id, m.score, m.reasons) for m in top] == [
            (m.mentor.id, m.score, m.reasons) for m in full[:limit]
        ]
    scores = [m.score for m in full]
    assert scores == sorted(scores, reverse=True)


def test_batch_counts_agree_with_slots_listed_one_mentor_at_a_time(db: Session) -> None:
    program = make_program(db, buffer_minutes=15)
    mentee = make_mentee(db, time_zone="Europe/London")
    mentors = [
        make_mentor(db, time_zone="America/New_York"),
        make_mentor(db, time_zone="Asia/Kolkata", weekly=[(0, "09:15", "12:45"), (3, "14:00", "18:00")]),
        make_mentor(db, weekly=[]),
        make_mentor(db, time_zone="Australia/Sydney"),
    ]
    add_dated_slot(db, mentors[2], at("2030-01-12", "08:00"), at("2030-01-12", "12:00"))
    make_meeting(db, program=program, mentee=mentee, mentor=mentors[0], start=at("2030-01-09", "15:00"))
    busy = {
        mentee.id: IntervalSet([(at("2030-01-10", "09:00"), at("2030-01-10", "16:00"))]),
        mentors[3].id: IntervalSet([(at("2030-01-13", "22:00"), at("2030-01-14", "03:00"))]),
    }
    end = NOW + timedelta(days=14)
    ours = shared_slot_counts(db, program, mentors, mentee, NOW, end, now=NOW, busy=busy)
    one_by_one = {
        m.id: len(bookable_slots(db, program, m, mentee, NOW, end, now=NOW, busy=busy)) for m in mentors
    }
    assert ours == one_by_one
    assert all(ours[m.id] > 0 for m in mentors)


@pytest.mark.parametrize("slot_minutes", [30, 45, 60])
def test_batch_counts_agree_across_clock_changes_with_a_cached_calendar(
    db: Session, slot_minutes: int
) -> None:
    # The 14 days hold London's spring change (Sunday 31 March, 01:00 -> 02:00) and the
    # autumn changes of Sydney and Lord Howe (Sunday 7 April); "now" is a Wednesday 10:07.
    now = datetime(2030, 3, 27, 10, 7, tzinfo=UTC)
    end = now + timedelta(days=14)
    program = make_program(db, slot_minutes=slot_minutes, buffer_minutes=10, lead_time_hours=5)
    mentee = make_mentee(db, time_zone="Europe/London")
    nights = [(6, "00:15", "03:45"), (0, "09:00", "12:30"), (2, "08:00", "10:00"), (2, "10:00", "11:15")]
    zones = ["Europe/London", "Australia/Sydney", "Australia/Lord_Howe", "Asia/Kathmandu",
             "America/New_York", "Asia/Kolkata"]
    mentors = [make_mentor(db, time_zone=z, weekly=nights) for z in zones]
    running = make_mentor(db, weekly=[(2, "09:30", "13:00")])  # a window already open at "now"
    dated = make_mentor(db, time_zone="Australia/Sydney", weekly=[(6, "01:00", "04:00")])
    add_dated_slot(db, dated, at("2030-04-06", "13:00"), at("2030-04-06", "17:30"))
    mentors += [running, dated]
    make_meeting(db, program=program, mentee=make_mentee(db), mentor=mentors[0],
                 start=at("2030-04-01", "09:00", "Europe/London"), now=now)
    make_meeting(db, program=program, mentee=mentee, mentor=mentors[4],
                 start=at("2030-04-01", "09:00", "America/New_York"), now=now)
    calendar = StaticBusySource({
        mentee.id: [BusyInterval(at("2030-03-31", "00:40"), at("2030-03-31", "01:20"))],
        mentors[1].id: [BusyInterval(at("2030-04-06", "14:30"), at("2030-04-06", "16:00")),
                        BusyInterval(at("2030-04-06", "15:00"), at("2030-04-07", "00:30"))],  # over midnight
        mentors[3].id: [BusyInterval(at("2030-04-01", "03:15"), at("2030-04-01", "04:00"))],
        running.id: [BusyInterval(at("2030-03-27", "11:00"), at("2030-03-27", "11:45"))],
    })
    cached = CachedBusySource(calendar, BusyCache())

    asked = [*mentors, mentors[0], mentee]  # twice, and the mentee: counted once, the mentee as 0
    ours = shared_slot_counts(db, program, asked, mentee, now, end, now=now, busy=cached)
    one_by_one = {
        m.id: len(bookable_slots(db, program, m, mentee, now, end, now=now, busy=cached)) for m in mentors
    }
    assert ours == {**one_by_one, mentee.id: 0}
    assert sum(1 for m in mentors if ours[m.id] > 0) >= 6
    ranked = {m.mentor.id: m.shared_slots for m in rank_mentors(db, program, mentee, now=now, busy=cached)}
    assert ranked == one_by_one


def test_an_unknown_zone_in_weekly_slots_names_the_mentor(db: Session) -> None:
    program = make_program(db)
    mentee = make_mentee(db)
    fine = make_mentor(db)
    broken = make_mentor(db, name="Zed Broken", weekly=[])
    db.add(WeeklySlot(mentor_id=broken.id, weekday=1, start_time=time(9), end_time=time(10),
                      time_zone="Mars/Olympus"))
    db.commit()
    with pytest.raises(UnknownTimeZone, match="Zed Broken's weekly availability"):
        shared_slot_counts(db, program, [fine, broken], mentee, NOW, NOW + timedelta(days=14), now=NOW)


def test_recommendations_put_admin_pushes_first(db: Session) -> None:
    program = make_program(db)
    admin = make_admin(db)
    mentee = wanting(db, "SQL")
    best = offering(db, ("SQL", 5), name="Best")
    second = offering(db, ("SQL", 4), name="Second")
    offering(db, ("SQL", 3), name="Third")
    pushed = offering(db, ("Knitting", 5), name="Pushed")

    first = recommendations_for(db, program, mentee, n=2, now=NOW)
    assert [m.mentor.name for m in first] == ["Best", "Second"]
    push(db, program, admin, [(mentee.id, pushed.id)])
    recs = recommendations_for(db, program, mentee, n=3, now=NOW)
    assert [m.mentor.id for m in recs] == [pushed.id, best.id, second.id]
    assert recs[0].recommended and "recommended by the program admin" in recs[0].reasons
    assert not recs[1].recommended
