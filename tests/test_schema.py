"""The Alembic migration builds exactly the schema the models describe."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Engine

from scheduling.db import Base, make_engine
from scheduling.migrate import downgrade, upgrade


def test_migration_matches_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    url = f"sqlite:///{tmp_path / 'mig.sqlite'}"
    upgrade(url)
    eng: Engine = make_engine(url)
    with eng.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    eng.dispose()
    assert diff == [], f"models and migration differ; run bin/make-migration: {diff}"
    downgrade(url)
    upgrade(url)


def test_health_endpoint_answers(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/health")
    assert resp.status_code == 200
    assert resp.get_json() == {"status": "ok",
                               "checks": {"database": {"status": "up"}, "redis": {"status": "up"}}}


def test_unknown_api_route_is_json_404(client) -> None:  # type: ignore[no-untyped-def]
    resp = client.get("/api/v1/nope")
    assert resp.status_code == 404
    assert resp.get_json()["error"]["code"] == "not_found"


def test_a_migration_that_rebuilds_a_table_keeps_the_rows_hanging_off_it(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """SQLite alters ``programs`` by rebuilding it; with foreign keys on, dropping the old table
    used to cascade and delete every survey question (and request, meeting...) of every program."""
    from sqlalchemy import select

    from scheduling.db import make_session_factory
    from scheduling.models import Program, SurveyQuestion
    from scheduling.services.surveys import ensure_default_questions

    url = f"sqlite:///{tmp_path / 'keep.sqlite'}"
    upgrade(url)
    eng = make_engine(url)
    with make_session_factory(eng)() as session:
        program = Program(name="Kept")
        session.add(program)
        session.flush()
        ensure_default_questions(session, program)
        session.commit()
        before = session.scalars(select(SurveyQuestion.id).order_by(SurveyQuestion.id)).all()
    downgrade(url, "0007")  # below the migrations that add columns to programs (0008, 0011)

    upgrade(url)

    with make_session_factory(eng)() as session:
        assert session.scalars(select(SurveyQuestion.id).order_by(SurveyQuestion.id)).all() == before
        assert session.scalars(select(Program.name)).all() == ["Kept"]
    eng.dispose()
