"""Reads read: a GET leaves the database as it found it, even for a program whose default
survey questions were never stored (one older than ``create_program`` making them, or made
outside it); a program gets those defaults when it is created, so reads need not make them."""

from __future__ import annotations

from typing import Any

from flask.testing import FlaskClient
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from scheduling.db import Base, make_engine, make_session_factory
from scheduling.migrate import downgrade, upgrade
from scheduling.models import Program, SurveyQuestion, SurveyVariant
from scheduling.services import surveys as svc
from scheduling.services.program import create_program
from tests.factories import at, login, make_admin, make_meeting, make_mentee, make_mentor, make_program


def snapshot(session: Session) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, in a stable order."""
    session.expire_all()
    out: dict[str, list[tuple[Any, ...]]] = {}
    for table in Base.metadata.sorted_tables:
        rows = session.execute(select(table)).all()
        out[table.name] = sorted((tuple(row) for row in rows), key=repr)
    session.rollback()
    return out


def test_survey_and_report_reads_write_nothing(client: FlaskClient, db: Session) -> None:
    program = make_program(db)
    mentor, mentee, admin = make_mentor(db), make_mentee(db), make_admin(db)
    meeting = make_meeting(db, program=program, mentor=mentor, mentee=mentee, start=at("2024-01-10", "10:00"),
                           now=at("2024-01-08", "09:00"))
    _, invitation = svc.invite(db, meeting, now=at("2024-01-10", "13:00"))
    db.commit()
    db.execute(delete(SurveyQuestion))  # a program with no stored questions
    db.commit()
    before = snapshot(db)

    login(client, mentee)
    for path in (f"/api/v1/surveys/{invitation.id}", f"/surveys/{invitation.id}", "/api/v1/surveys"):
        assert client.get(path).status_code == 200, path
    login(client, admin)
    for path in ("/api/v1/program/survey-questions", "/api/v1/program/survey-questions?variant=canceled",
                 "/admin/surveys", "/admin/surveys?variant=canceled", "/admin/report", "/admin/report.csv",
                 "/api/v1/reports/health", f"/api/v1/surveys/{invitation.id}"):
        assert client.get(path).status_code == 200, path

    assert snapshot(db) == before


def test_a_new_program_has_its_default_questions_before_anyone_reads_them(db: Session) -> None:
    program = create_program(db, name="Second program")

    stored = db.scalars(select(SurveyQuestion).where(SurveyQuestion.program_id == program.id)).all()
    for variant in SurveyVariant:
        texts = [q.text for q in sorted(stored, key=lambda q: q.position) if q.variant == variant]
        assert texts == [q.text for q in svc.DEFAULT_QUESTIONS[variant]]


def test_the_first_survey_write_gives_an_older_program_its_defaults(db: Session) -> None:
    program = make_program(db)
    db.execute(delete(SurveyQuestion))
    db.commit()
    meeting = make_meeting(db, program=program, mentor=make_mentor(db), mentee=make_mentee(db),
                           start=at("2024-01-10", "10:00"), now=at("2024-01-08", "09:00"))
    assert svc.questions_for(db, program, SurveyVariant.HELD) == []  # a read makes nothing

    svc.invite(db, meeting, now=at("2024-01-10", "13:00"))
    db.commit()

    held = svc.questions_for(db, program, SurveyVariant.HELD)
    assert [q.text for q in held] == [q.text for q in svc.DEFAULT_QUESTIONS[SurveyVariant.HELD]]


def test_the_migration_gives_older_programs_their_defaults(tmp_path: Any) -> None:
    url = f"sqlite:///{tmp_path / 'older.sqlite'}"
    upgrade(url)
    engine = make_engine(url)
    with make_session_factory(engine)() as session:
        bare, half = Program(name="Bare"), Program(name="Held only")
        session.add_all([bare, half])
        session.flush()
        svc.ensure_default_questions(session, half)
        session.execute(delete(SurveyQuestion).where(SurveyQuestion.variant == SurveyVariant.CANCELED))
        session.commit()
        kept = [q.id for q in svc.questions_for(session, half, SurveyVariant.HELD)]
        ids = bare.id, half.id
    downgrade(url, "0009")  # a database from before the migration

    upgrade(url)

    with make_session_factory(engine)() as session:
        for program_id in ids:
            program = session.get(Program, program_id)
            assert program is not None
            for variant in SurveyVariant:
                texts = [q.text for q in svc.questions_for(session, program, variant)]
                assert texts == [q.text for q in svc.DEFAULT_QUESTIONS[variant]], (program.name, variant)
        assert [q.id for q in svc.questions_for(session, session.get(Program, ids[1]), "held")] == kept
    engine.dispose()
