"""A mentor's page for a mentee (``GET /mentors/<id>``): statements and CPU per page.

The page counts this week's shared free times and lists the next ones (``scheduling.slot_weeks``):
this week's slots, then, if too few, the rest of the weeks ahead in one more look. Three mentors:
free this week, free only in ten weeks, never free (the look-ahead's worst case). Prints statements
per page (SQLAlchemy cursor executions) and CPU time per page (``time.process_time``), mean of
``--repeat`` warm requests through Flask's test client. The schema is created afresh: point
``--database-url`` only at a scratch database (default: a temporary SQLite file).

    python -m bench.mentor_page [--database-url URL] [--repeat 20]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from datetime import timedelta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--database-url", default="")
    parser.add_argument("--repeat", type=int, default=20)
    args = parser.parse_args(argv)
    url = args.database_url or f"sqlite:///{tempfile.mkdtemp()}/mentor_page.db"
    os.environ.update({"DATABASE_URL": url, "FLASHMENTOR_JOBS": "0"})

    from sqlalchemy import event

    from app import create_app
    from scheduling.db import make_session_factory, utcnow
    from scheduling.models import Base
    from tests.factories import add_dated_slot, login, make_mentee, make_mentor, make_program

    app = create_app({"TESTING": True, "DATABASE_URL": url, "WTF_CSRF_ENABLED": False,
                      "RATELIMIT_ENABLED": False, "SECRET_KEY": "bench"})
    engine = app.extensions["db_engine"]
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    db = make_session_factory(engine)()
    make_program(db, lead_time_hours=24)
    soon = make_mentor(db, time_zone="Europe/London", weekly=[(d, "09:00", "17:00") for d in range(7)])
    late = make_mentor(db, time_zone="UTC", weekly=[])
    start = utcnow().replace(minute=0, second=0, microsecond=0) + timedelta(weeks=10)
    add_dated_slot(db, late, start, start + timedelta(hours=1))
    never = make_mentor(db, time_zone="UTC", weekly=[])
    mentee = make_mentee(db, time_zone="America/New_York")
    db.commit()

    statements = [0]

    def counted(*_: object, **__: object) -> None:
        statements[0] += 1

    event.listen(engine, "before_cursor_execute", counted)
    client = app.test_client()
    login(client, mentee)
    print(f"database: {engine.dialect.name}; mean of {args.repeat} warm requests")
    for name, mentor in (("free this week", soon), ("free in 10 weeks", late), ("never free", never)):
        assert client.get(f"/mentors/{mentor.id}").status_code == 200
        statements[0] = 0
        cpu = time.process_time()
        for _ in range(args.repeat):
            assert client.get(f"/mentors/{mentor.id}").status_code == 200
        per = (time.process_time() - cpu) / args.repeat * 1000
        print(f"{name:18s} {statements[0] / args.repeat:5.1f} statements/page  {per:6.1f} ms CPU/page")
    engine.dispose()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
