"""How long the program health report takes on a big program.

Fills a fresh database with a synthetic program (people, skills, requests in
every state, meetings over a year, surveys with answers) using bulk inserts,
then times :func:`scheduling.reports.program_health` and :func:`health_csv`.

    python -m bench.reports [--url postgresql+psycopg://...] [--requests 20000]

Without ``--url`` it uses a temporary SQLite file. The database is emptied
(all tables dropped and created) first: never point it at data you want to keep.
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

import scheduling.models  # noqa: F401  (all tables)
from scheduling.db import Base, make_engine
from scheduling.models import (
    DeclineReason,
    Meeting,
    MeetingRequest,
    MeetingState,
    Person,
    PersonSkill,
    Program,
    QuestionKind,
    RequestState,
    Skill,
    SkillRelation,
    SurveyAnswer,
    SurveyInvitation,
    SurveyVariant,
)
from scheduling.reports import health_csv, program_health
from scheduling.services import surveys

START = datetime(2029, 1, 1, tzinfo=UTC)


def fill(session: Session, n_requests: int, seed: int = 7) -> Program:
    rng = random.Random(seed)
    program = Program(name="Bench program")
    session.add(program)
    session.flush()
    surveys.ensure_default_questions(session, program)
    questions = {v: surveys.questions_for(session, program, v) for v in SurveyVariant}

    n_mentors, n_mentees, n_skills = max(10, n_requests // 100), max(50, n_requests // 10), 300
    session.execute(insert(Skill), [{"name": f"Skill {i}", "key": f"skill {i}"} for i in range(n_skills)])
    people: list[dict[str, Any]] = [
        {"email": f"m{i}@bench.example", "name": f"Mentor {i}", "is_mentor": True, "is_mentee": False}
        for i in range(n_mentors)
    ] + [{"email": f"e{i}@bench.example", "name": f"Mentee {i}"} for i in range(n_mentees)]
    session.execute(insert(Person), people)
    ids = dict(session.query(Person.email, Person.id).all())
    skill_ids = [s for (s,) in session.query(Skill.id).all()]
    mentors = [ids[f"m{i}@bench.example"] for i in range(n_mentors)]
    mentees = [ids[f"e{i}@bench.example"] for i in range(n_mentees)]
    links = []
    for pid, relation in [(m, SkillRelation.OFFERS) for m in mentors] + [
        (e, SkillRelation.WANTS) for e in mentees
    ]:
        for sid in rng.sample(skill_ids, 4):
            links.append({"person_id": pid, "skill_id": sid, "relation": relation})
    session.execute(insert(PersonSkill), links)

    states = list(RequestState)
    weights = [5, 50, 3, 20, 10, 12]
    rows = []
    for i in range(n_requests):
        created = START + timedelta(minutes=rng.randrange(365 * 24 * 60))
        state = rng.choices(states, weights)[0]
        answered = (
            created + timedelta(hours=rng.expovariate(1 / 30))
            if state in (RequestState.ACCEPTED, RequestState.DECLINED, RequestState.COUNTERED)
            else None
        )
        rows.append(
            {
                "program_id": program.id,
                "mentee_id": rng.choice(mentees),
                "mentor_id": rng.choice(mentors),
                "topic": f"Topic {i}",
                "state": state,
                "created_at": created,
                "answered_at": answered,
                "decline_reason": rng.choice(list(DeclineReason)) if state == RequestState.DECLINED else None,
            }
        )
    session.execute(insert(MeetingRequest), rows)
    accepted = session.query(MeetingRequest).filter(MeetingRequest.state == RequestState.ACCEPTED).all()
    meeting_states = [
        MeetingState.COMPLETED,
        MeetingState.NOT_HELD,
        MeetingState.CANCELED,
        MeetingState.SCHEDULED,
    ]
    meetings = []
    for r in accepted:
        start = (r.answered_at or r.created_at) + timedelta(days=rng.randrange(1, 20))
        meetings.append(
            {
                "request_id": r.id,
                "program_id": program.id,
                "mentor_id": r.mentor_id,
                "mentee_id": r.mentee_id,
                "start_at": start,
                "end_at": start + timedelta(minutes=30),
                "topic": r.topic,
                "mode": "video",
                "uid": f"bench-{r.id}",
                "state": rng.choices(meeting_states, [70, 8, 12, 10])[0],
            }
        )
    session.execute(insert(Meeting), meetings)
    invitations, answers = [], []
    for m in session.query(Meeting.id, Meeting.mentor_id, Meeting.mentee_id, Meeting.state).all():
        if m.state == MeetingState.SCHEDULED:
            continue
        variant = SurveyVariant.CANCELED if m.state == MeetingState.CANCELED else SurveyVariant.HELD
        for pid in (m.mentor_id, m.mentee_id):
            invitations.append(
                {
                    "meeting_id": m.id,
                    "person_id": pid,
                    "variant": variant,
                    "answered_at": START if rng.random() < 0.6 else None,
                }
            )
    session.execute(insert(SurveyInvitation), invitations)
    for inv in session.query(SurveyInvitation).filter(SurveyInvitation.answered_at.is_not(None)).all():
        for q in questions[inv.variant]:
            if q.kind == QuestionKind.TOOK_PLACE:
                value: Any = rng.random() < 0.9
            elif q.kind == QuestionKind.RATING:
                value = rng.randint(1, 5)
            elif q.kind == QuestionKind.CHOICE:
                value = rng.choice(q.choices)
            else:
                value = None
            answers.append(
                {
                    "invitation_id": inv.id,
                    "question_id": q.id,
                    "value": value,
                    "text": "Fine." if q.kind == QuestionKind.TEXT else "",
                }
            )
    session.execute(insert(SurveyAnswer), answers)
    session.commit()
    print(
        f"rows: {n_requests} requests, {len(meetings)} meetings, {len(invitations)} invitations, "
        f"{len(answers)} answers, {len(people)} people, {len(links)} person skills"
    )
    return program


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="database URL (default: a temporary SQLite file)")
    parser.add_argument("--requests", type=int, default=20000)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.url or f"sqlite:///{Path(tmp) / 'bench.sqlite'}"
        engine = make_engine(url)
        Base.metadata.drop_all(engine)
        Base.metadata.create_all(engine)
        with Session(engine, expire_on_commit=False) as session:
            t0 = time.perf_counter()
            program = fill(session, args.requests)
            print(f"{engine.dialect.name}: filled in {time.perf_counter() - t0:.1f} s")
            times, csv_times = [], []
            for _ in range(args.runs):
                t0 = time.perf_counter()
                report = program_health(session, program)
                times.append(time.perf_counter() - t0)
                t0 = time.perf_counter()
                health_csv(report)
                csv_times.append(time.perf_counter() - t0)
                session.rollback()
            print(
                f"program_health: median {statistics.median(times) * 1000:.0f} ms, "
                f"best {min(times) * 1000:.0f} ms over {args.runs} runs; "
                f"health_csv: median {statistics.median(csv_times) * 1000:.1f} ms"
            )
        Base.metadata.drop_all(engine)
        engine.dispose()


if __name__ == "__main__":
    main()
