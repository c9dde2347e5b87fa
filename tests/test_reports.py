"""The program health report, from a small realistic program built through the real services.

The scenario is written down as data (who asked whom, when it was answered, who
said what in the surveys); the expected figures are computed from that data in
the test with plain Python, not read back from the report's own code.
"""

from __future__ import annotations

import csv
import io
import statistics
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.models import Meeting, MeetingRequest, Person, Program, SurveyVariant
from scheduling.reports import health_csv, program_health
from scheduling.services import meetings as meeting_service
from scheduling.services import requests as request_service
from scheduling.services import surveys as survey_service
from scheduling.services.people import set_skills
from tests.factories import NOW, at, make_mentee, make_mentor, make_program, make_request, slot

H = timedelta(hours=1)
REPORT_NOW = NOW + 100 * H

OFFERS = {"M1": ["Python", "SQL"], "M2": ["Python", "Leadership"], "M3": ["Design"]}
WANTS = {"E1": ["Python", "Leadership"], "E2": ["Python"], "E3": ["Design"], "E4": ["Negotiation"]}
INACTIVE_WANTS = {"E5": ["Python"]}  # an inactive mentee does not count


@dataclass(frozen=True)
class Req:
    name: str
    mentee: str
    mentor: str
    created_h: int  # hours after NOW
    start: datetime
    outcome: str  # accept | decline:<reason> | counter | withdraw | expire | pending
    answered_h: int | None = None
    counter_start: datetime | None = None


REQUESTS = [
    Req("R1", "E1", "M1", 0, at("2030-01-09", "10:00"), "accept", 5),
    Req("R2", "E2", "M1", 1, at("2030-01-10", "10:00"), "decline:no_time", 11),
    Req("R3", "E3", "M3", 2, at("2030-01-10", "14:00"), "counter", 4, at("2030-01-11", "14:00")),
    Req("R4", "E2", "M2", 0, at("2030-02-06", "10:00"), "accept", 30),
    Req("R5", "E1", "M2", 0, at("2030-01-10", "11:00"), "pending"),
    Req("R6", "E4", "M3", 3, at("2030-01-11", "10:00"), "withdraw"),
    Req("R7", "E3", "M1", 1, at("2030-01-09", "14:00"), "expire"),
    Req("R8", "E4", "M1", 2, at("2030-01-11", "11:00"), "decline:not_my_expertise", 8),
    Req("R9", "E3", "M2", 5, at("2030-02-07", "10:00"), "accept", 6),
    Req("R10", "E4", "M2", 6, at("2030-03-06", "10:00"), "accept", 9),
]

# Survey answers by (request, side); keys are positions of the default questions.
# HELD: 0 took place, 1 useful (rating, required), 2 prepared (rating), 3 recommend (choice), 4 free text.
# CANCELED: 0 took place, 1 why (choice, required), 2 rebook (choice), 3 free text.
SURVEYS: list[tuple[str, str, dict[int, Any]]] = [
    ("R1", "mentee", {0: True, 1: 5, 2: 3, 3: "Yes", 4: "Great"}),
    ("R1", "mentor", {0: True, 1: 4, 3: "Maybe"}),
    ("R3", "mentor", {0: False}),  # first answer: not held
    ("R3", "mentee", {0: True, 1: 2, 3: "No"}),  # disagrees; kept, does not flip
    ("R9", "mentor", {0: True, 1: 4, 2: 5, 4: "Good questions"}),
    ("R4", "mentee", {0: False, 1: "A scheduling conflict came up", 2: "Yes"}),
]
INVITED = ("R1", "R3", "R4", "R9")  # meetings whose surveys were sent (R10 is still to come)


def build(db: Session) -> dict[str, Any]:
    program = make_program(db, max_pending_requests=None)
    people: dict[str, Person] = {}
    for name, skills in OFFERS.items():
        people[name] = make_mentor(db, name=name)
        set_skills(db, people[name], {"offers": skills})
    for name, skills in {**WANTS, **INACTIVE_WANTS}.items():
        people[name] = make_mentee(db, name=name)
        set_skills(db, people[name], {"wants": skills})
    people["E5"].active = False
    db.commit()

    requests: dict[str, MeetingRequest] = {}
    for r in sorted(REQUESTS, key=lambda r: r.created_h):
        requests[r.name] = make_request(
            db,
            program=program,
            mentee=people[r.mentee],
            mentor=people[r.mentor],
            times=[slot(r.start)],
            now=NOW + r.created_h * H,
        )
    meetings: dict[str, Meeting] = {}
    for r in REQUESTS:
        req, mentor, mentee = requests[r.name], people[r.mentor], people[r.mentee]
        answered = NOW + (r.answered_h or 0) * H
        if r.outcome == "accept":
            meetings[r.name] = request_service.accept(db, req, actor=mentor, now=answered)
        elif r.outcome.startswith("decline:"):
            request_service.decline(db, req, actor=mentor, reason=r.outcome.split(":")[1], now=answered)
        elif r.outcome == "counter":
            assert r.counter_start is not None
            start, end = slot(r.counter_start)
            request_service.counter(db, req, actor=mentor, start=start, end=end, now=answered)
            meetings[r.name] = request_service.confirm_counter(db, req, actor=mentee, now=answered + H)
        elif r.outcome == "withdraw":
            request_service.withdraw(db, req, actor=mentee, now=NOW + 12 * H)
        elif r.outcome == "expire":
            request_service.expire(db, req, now=NOW + 20 * H)

    # R4's meeting is called off by the mentee; the others run their course in the surveys.
    meeting_service.cancel(db, meetings["R4"], actor=people["E2"], reason="Clash", now=NOW + 40 * H)

    # A second program's request must not show up in this program's report.
    other = make_program(db, name="Other program", max_pending_requests=None)
    make_request(
        db,
        program=other,
        mentee=people["E2"],
        mentor=people["M3"],
        times=[slot(at("2030-01-10", "15:00"))],
        now=NOW,
    )

    for name in INVITED:
        survey_service.invite(db, meetings[name], now=meetings[name].end_at + 2 * H)
    db.commit()
    for name, side, answers in SURVEYS:
        meeting = meetings[name]
        person = meeting.mentor if side == "mentor" else meeting.mentee
        invitation = next(i for i in survey_service.invite(db, meeting) if i.person_id == person.id)
        questions = survey_service.questions_for(db, program, invitation.variant)
        survey_service.record_survey(
            db,
            invitation.id,
            person,
            {str(questions[i].id): v for i, v in answers.items()},
            now=meeting.end_at + 3 * H,
        )
    return {"program": program, "people": people, "meetings": meetings}


@pytest.fixture
def scenario(db: Session) -> dict[str, Any]:
    return build(db)


@pytest.fixture
def report(db: Session, scenario: dict[str, Any]) -> dict[str, Any]:
    return program_health(db, scenario["program"], now=REPORT_NOW)


def final_state(r: Req) -> str:
    return {
        "accept": "accepted",
        "counter": "accepted",
        "withdraw": "withdrawn",
        "expire": "expired",
        "pending": "pending",
    }.get(r.outcome, "declined")


def test_requests_by_state_and_acceptance_rate(report: dict[str, Any]) -> None:
    states = Counter(final_state(r) for r in REQUESTS)
    assert report["requests_by_state"] == {
        s: states.get(s, 0) for s in ("pending", "accepted", "countered", "declined", "expired", "withdrawn")
    }
    assert report["requests_total"] == len(REQUESTS)
    settled = states["accepted"] + states["declined"] + states["expired"]
    assert report["acceptance_rate"] == pytest.approx(states["accepted"] / settled, abs=1e-4)


def test_time_pending_average_and_median(report: dict[str, Any]) -> None:
    hours = [r.answered_h - r.created_h for r in REQUESTS if r.answered_h is not None]
    pending = report["time_pending_hours"]
    assert pending["answered"] == len(hours)
    assert pending["average"] == pytest.approx(sum(hours) / len(hours), abs=0.01)
    assert pending["median"] == pytest.approx(statistics.median(hours), abs=0.01)
    still = [r for r in REQUESTS if r.outcome == "pending"]
    assert pending["still_pending"] == len(still)
    oldest = min(r.created_h for r in still)
    assert pending["oldest_pending"] == pytest.approx((REPORT_NOW - (NOW + oldest * H)) / H, abs=0.01)


def test_meetings_per_month(report: dict[str, Any]) -> None:
    expected: dict[str, Counter[str]] = {}
    first_took_place = {}
    for name, _side, answers in SURVEYS:
        first_took_place.setdefault(name, answers[0])
    for r in REQUESTS:
        if r.outcome not in ("accept", "counter"):
            continue
        start = r.counter_start or r.start
        if r.name == "R4":
            fate = "canceled"
        elif r.name in first_took_place:
            fate = "held" if first_took_place[r.name] else "not_held"
        else:
            fate = "upcoming"
        expected.setdefault(start.strftime("%Y-%m"), Counter())[fate] += 1
    assert report["meetings_per_month"] == [
        {"month": month, **{k: expected[month][k] for k in ("held", "not_held", "canceled", "upcoming")}}
        for month in sorted(expected)
    ]


def test_survey_results_per_question(db: Session, scenario: dict[str, Any], report: dict[str, Any]) -> None:
    program: Program = scenario["program"]
    variant_of = {name: ("canceled" if name == "R4" else "held") for name in INVITED}
    surveys = report["surveys"]
    answered = Counter(variant_of[name] for name, _s, _a in SURVEYS)
    assert surveys["invitations"] == {
        v: {"sent": 2 * sum(1 for n in INVITED if variant_of[n] == v), "answered": answered[v]}
        for v in ("held", "canceled")
    }
    assert surveys["disagreements"] == 1

    by_id = {q["question_id"]: q for q in surveys["questions"]}
    for variant in SurveyVariant:
        questions = survey_service.questions_for(db, program, variant)
        assert [q["question_id"] for q in surveys["questions"] if q["variant"] == variant.value] == [
            q.id for q in questions
        ]
        for pos, question in enumerate(questions):
            given = [a[pos] for name, _s, a in SURVEYS if variant_of[name] == variant.value and pos in a]
            row = by_id[question.id]
            assert row["answers"] == len(given)
            if question.kind.value == "took_place":
                assert (row["yes"], row["no"]) == (given.count(True), given.count(False))
            elif question.kind.value == "rating":
                assert row["distribution"] == {str(k): given.count(k) for k in range(1, 6)}
                assert row["mean"] == (pytest.approx(sum(given) / len(given), abs=0.01) if given else None)
            elif question.kind.value == "choice":
                assert row["counts"] == {c: given.count(c) for c in question.choices}
            else:
                assert set(row) >= {"answers"} and "counts" not in row


def test_top_skills_requested_vs_offered(report: dict[str, Any]) -> None:
    requested: Counter[str] = Counter()
    for r in REQUESTS:
        requested.update(OFFERS[r.mentor])
    wanted = Counter(s for skills in WANTS.values() for s in skills)
    offered = Counter(s for skills in OFFERS.values() for s in skills)
    names = set(requested) | set(wanted) | set(offered)
    expected = sorted(
        ({"skill": s, "requested": requested[s], "wanted": wanted[s], "offered": offered[s]} for s in names),
        key=lambda r: (-r["requested"], -r["wanted"], -r["offered"], r["skill"]),
    )
    assert report["skills"] == expected
    assert report["skills"][0]["skill"] == "Python"


def test_decline_reasons(report: dict[str, Any]) -> None:
    reasons = Counter(r.outcome.split(":")[1] for r in REQUESTS if r.outcome.startswith("decline:"))
    assert report["decline_reasons"] == {
        k: reasons.get(k, 0)
        for k in ("no_time", "not_my_expertise", "too_many_requests", "times_do_not_work", "other",
                  "declined_from_calendar")
    }


def test_empty_program_has_zeroes_and_no_averages(db: Session) -> None:
    program = make_program(db)
    report = program_health(db, program, now=REPORT_NOW)
    assert report["requests_total"] == 0 and set(report["requests_by_state"].values()) == {0}
    assert report["acceptance_rate"] is None
    assert report["time_pending_hours"] == {
        "answered": 0,
        "average": None,
        "median": None,
        "still_pending": 0,
        "oldest_pending": None,
    }
    assert report["meetings_per_month"] == [] and report["skills"] == []
    assert report["surveys"]["disagreements"] == 0
    health_csv(report)  # renders without figures


def sections(text: str) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    rows = list(csv.reader(io.StringIO(text)))
    i = 0
    while i < len(rows):
        title, header = rows[i][0], rows[i + 1]
        i += 2
        body = []
        while rows[i]:
            body.append(dict(zip(header, rows[i], strict=True)))
            i += 1
        out[title] = body
        i += 1
    return out


def test_csv_has_one_section_per_table_with_stable_columns(report: dict[str, Any]) -> None:
    text = health_csv(report)
    got = sections(text)
    assert list(got) == [
        "summary",
        "requests_by_state",
        "meetings_per_month",
        "survey_questions",
        "survey_choices",
        "skills",
        "meetings_by_skill",
        "decline_reasons",
        "skill_changes_after_meetings",
    ]
    summary = {r["measure"]: r["value"] for r in got["summary"]}
    assert summary["requests_total"] == str(len(REQUESTS))
    assert float(summary["median_hours_pending"]) == report["time_pending_hours"]["median"]
    assert {r["state"]: int(r["count"]) for r in got["requests_by_state"]} == report["requests_by_state"]
    assert [r["month"] for r in got["meetings_per_month"]] == [
        m["month"] for m in report["meetings_per_month"]
    ]
    rating = next(q for q in report["surveys"]["questions"] if q["kind"] == "rating" and q["answers"])
    row = next(r for r in got["survey_questions"] if r["question_id"] == str(rating["question_id"]))
    assert [int(row[f"rating_{k}"]) for k in "12345"] == [rating["distribution"][k] for k in "12345"]
    assert row["yes"] == "" and float(row["mean"]) == rating["mean"]
    assert {(r["choice"], r["count"]) for r in got["survey_choices"] if r["question"].startswith("Why")} >= {
        ("A scheduling conflict came up", "1")
    }
    assert got["skills"][0] == {"skill": "Python", "requested": "8", "wanted": "2", "offered": "2"}
