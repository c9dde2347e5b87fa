"""What ``bin/demo`` shows of the product (issue 17): real calendars and the mail that was sent.

``flask demo calendars`` gives every demo person a calendar on a local Radicale (no sign-in, as
``bin/demo`` starts it) with busy events the app then reads; the mailer keeps a copy of every mail
in the outbox folder and admins read them on ``/admin/outbox`` ("Mail sent")."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import demo, tenants
from scheduling.models import CalendarAccount, Person
from scheduling.notices import Notice
from tests.factories import login, make_admin
from tests.fakes.dav_servers import DavServer, radicale
from worker import outbox
from worker.mail import Mailer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def open_dav(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DavServer]:
    """Radicale as bin/demo starts it: no authentication, loopback only."""
    with radicale(Path(tmp_path_factory.mktemp("demo-radicale")), auth=False) as server:
        yield server


def notice(subject: str = "Accepted: Career advice", to: str = "mia@example.com") -> Notice:
    return Notice(to=[to], subject=subject, text=f"Hello Mia,\n\n{subject}\n\nOpen the meeting: https://x/m/1",
                  html=f"<p>{subject}</p>")


# --- the demo's calendars -----------------------------------------------------------------------------


def test_every_demo_person_gets_a_connected_calendar_whose_busy_time_the_app_reads(
    app: Any, db: Session, open_dav: DavServer
) -> None:
    now = datetime.now(UTC)
    demo.load_demo(db, now=now)
    runner = app.test_cli_runner()
    first = runner.invoke(args=["demo", "calendars", "--url", open_dav.base_url])
    assert first.exit_code == 0, first.output
    people = list(db.scalars(select(Person).where(Person.active)))
    assert f"{len(people)} people connected to {open_dav.base_url}" in first.output

    db.expire_all()
    accounts = {a.person_id: a for a in db.scalars(select(CalendarAccount))}
    assert set(accounts) == {p.id for p in people}
    mentee = db.scalar(select(Person).where(Person.email == demo.LOGINS["mentee"]))
    mentor = db.scalar(select(Person).where(Person.email == demo.LOGINS["mentor"]))
    assert mentee is not None and mentor is not None
    busy = tenants.TenantBusySource(db).busy([mentee, mentor], now, now + timedelta(days=14))
    assert busy[mentee.id] and busy[mentor.id], "the seeded events are read back as busy time"
    assert all(b.end > b.start for b in busy[mentee.id])

    again = runner.invoke(args=["demo", "calendars", "--url", open_dav.base_url])
    assert again.exit_code == 0 and "0 people connected" in again.output  # nobody linked twice
    assert db.scalar(select(CalendarAccount).where(CalendarAccount.person_id == mentee.id)) is not None


def test_bin_demo_starts_radicale_connects_the_calendars_and_keeps_the_mail() -> None:
    """The script itself (it cannot run here: it installs and serves): each step is in it, in order."""
    script = (ROOT / "bin" / "demo").read_text()
    steps = ["bin/setup-venv demo", "FLASHMENTOR_MAIL_OUTBOX=", "demo load --if-empty", "-m radicale",
             "--auth-type none", "demo calendars --url", "flask --app wsgi worker", "flask --app wsgi run"]
    places = [script.index(step) for step in steps]
    assert places == sorted(places)
    assert subprocess.run(["bash", "-n", str(ROOT / "bin" / "demo")], check=False).returncode == 0
    assert 'demo = ["radicale' in (ROOT / "pyproject.toml").read_text()
    readme = (ROOT / "README.md").read_text()
    assert "Radicale" in readme and "/admin/outbox" in readme


# --- the outbox ---------------------------------------------------------------------------------------


def test_the_mailer_keeps_a_copy_of_each_mail_it_sends(tmp_path: Path) -> None:
    mailer = Mailer(outbox=str(tmp_path / "outbox"))
    mailer.send(notice("Meeting request from Mia"))
    mailer.send(notice("Accepted: Career advice", to="ola@example.com"))
    newest, oldest = outbox.recent(tmp_path / "outbox")
    assert (newest.subject, newest.to) == ("Accepted: Career advice", "ola@example.com")
    assert oldest.subject == "Meeting request from Mia" and "Hello Mia," in oldest.text
    assert not newest.has_invitation


def test_a_mail_that_could_not_be_sent_is_not_kept(tmp_path: Path) -> None:
    mailer = Mailer(host="127.0.0.1", port=1, timeout=2, outbox=str(tmp_path))
    with pytest.raises(OSError):
        mailer.send(notice())
    assert outbox.recent(tmp_path) == []  # the retried job keeps it once, when it is sent


def test_the_outbox_keeps_only_the_newest(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(outbox, "KEEP", 3)
    mailer = Mailer(outbox=str(tmp_path))
    for i in range(5):
        mailer.send(notice(f"Mail {i}"))
    assert [m.subject for m in outbox.recent(tmp_path)] == ["Mail 4", "Mail 3", "Mail 2"]


@pytest.fixture
def outbox_app(engine: Any, database_url: str, db: Session, tmp_path: Path) -> Iterator[Any]:
    from app import create_app

    application = create_app({"TESTING": True, "DATABASE_URL": database_url, "WTF_CSRF_ENABLED": False,
                              "RATELIMIT_ENABLED": False, "SECRET_KEY": "test",
                              "MAIL_OUTBOX_DIR": str(tmp_path / "outbox")})
    yield application
    application.extensions["db_engine"].dispose()


def test_admins_read_the_mail_sent(outbox_app: Any, db: Session, tmp_path: Path) -> None:
    from tests.factories import make_program

    make_program(db)
    client = outbox_app.test_client()
    login(client, make_admin(db))
    empty = client.get("/admin/outbox").get_data(as_text=True)
    assert "No mail sent yet." in empty and ">Mail sent</a>" in empty
    Mailer(outbox=str(tmp_path / "outbox")).send(notice("Reminder: Career advice with Ola"))
    page = client.get("/admin/outbox").get_data(as_text=True)
    assert "Reminder: Career advice with Ola" in page and "to mia@example.com" in page
    assert "Open the meeting: https://x/m/1" in page


def test_without_an_outbox_the_page_is_not_there(client: Any, db: Session) -> None:
    from tests.factories import make_program

    make_program(db)
    login(client, make_admin(db))
    missing = client.get("/admin/outbox")
    assert missing.status_code == 404 and "FLASHMENTOR_MAIL_OUTBOX" in missing.get_data(as_text=True)
    assert ">Mail sent</a>" not in client.get("/admin/requests").get_data(as_text=True)
