"""One SQLAlchemy session per request, removed at teardown."""

from __future__ import annotations

from flask import Flask, current_app, g
from sqlalchemy.orm import Session, sessionmaker

from scheduling.db import make_engine, make_session_factory


def init_db(app: Flask) -> None:
    engine = make_engine(app.config.get("DATABASE_URL"))
    app.extensions["db_engine"] = engine
    app.extensions["db_sessions"] = make_session_factory(engine)

    @app.teardown_appcontext
    def _close(exc: BaseException | None) -> None:
        session: Session | None = g.pop("db_session", None)
        if session is not None:
            if exc is not None:
                session.rollback()
            session.close()


def session_factory() -> sessionmaker[Session]:
    factory: sessionmaker[Session] = current_app.extensions["db_sessions"]
    return factory


def new_session() -> Session:
    """A session of its own, outside any request: the CLI's commands open one each."""
    return session_factory()()


def db() -> Session:
    if "db_session" not in g:
        g.db_session = new_session()
    session: Session = g.db_session
    return session
