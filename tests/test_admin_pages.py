"""Admin pages through the Flask test client: admins only, validation shown next to the field
with nothing saved, CSV import all-or-nothing with row errors, the requests monitor, tenants."""

from __future__ import annotations

import enum
import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from html import unescape
from io import BytesIO
from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import timed_work
from scheduling.db import utcnow
from scheduling.models import (
    CalendarTenant,
    MeetingRequest,
    Person,
    Program,
    RequestState,
    WorkKind,
    WorkState,
)
from scheduling.services.program import settings_values
from tests import worker_harness
from tests.factories import (
    count_rows,
    login,
    make_admin,
    make_mentee,
    make_mentor,
    make_program,
    make_request,
)
from tests.fakes.dav_servers import DavServer
from tests.fakes.smtp_server import SmtpServer
from worker import startup

ADMIN_PAGES = [
    "/admin/settings", "/admin/people", "/admin/requests", "/admin/jobs/failed", "/admin/tenants",
    "/admin/surveys", "/admin/report", "/admin/report.csv", "/admin/recommendations",
]
HEADER = "name,email,department,title,skills,time_zone,roles\n"


@pytest.fixture
def program(db: Session) -> Program:
    return make_program(db)


@pytest.fixture
def admin(db: Session, client: Any, program: Program) -> Person:
    person = make_admin(db, email="root@example.com", time_zone="Europe/Berlin")
    login(client, person)
    return person


def text_of(res: Any) -> str:
    """The page's visible text, tags stripped and whitespace folded."""
    html = res.get_data(as_text=True)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def settings_form(program: Program, **changes: Any) -> dict[str, str]:
    """What the settings form posts when an admin changes only ``changes`` (checkboxes: on/absent)."""
    form: dict[str, str] = {}
    for key, value in {**settings_values(program), **changes}.items():
        if isinstance(value, bool):
            if value:
                form[key] = "on"
        elif isinstance(value, enum.Enum):
            form[key] = str(value.value)
        else:
            form[key] = "" if value is None else str(value)
    return form


# --- access ---------------------------------------------------------------------------------------


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_pages_are_for_admins_only(db: Session, client: Any, program: Program, path: str) -> None:
    anonymous = client.get(path)
    assert anonymous.status_code == 302
    assert anonymous.headers["Location"] == f"/signin?next={path}"
    login(client, make_mentee(db))
    assert client.get(path).status_code == 403
    login(client, make_mentor(db))
    assert client.get(path).status_code == 403
    login(client, make_admin(db))
    assert client.get(path).status_code == 200


def test_a_mentee_cannot_change_settings(db: Session, client: Any, program: Program) -> None:
    assert client.post("/admin/settings", data=settings_form(program, lead_time_hours=1)).status_code == 401
    login(client, make_mentee(db))
    res = client.post("/admin/settings", data=settings_form(program, lead_time_hours=1))
    assert res.status_code == 403
    db.refresh(program)
    assert program.lead_time_hours == 24


def test_forms_need_a_csrf_token(db: Session, engine: Any, database_url: str) -> None:
    from app import create_app

    app = create_app({"TESTING": True, "DATABASE_URL": database_url, "RATELIMIT_ENABLED": False,
                      "SECRET_KEY": "test"})
    try:
        program = make_program(db)
        client = app.test_client()
        login(client, make_admin(db))
        form = settings_form(program, lead_time_hours=48)
        assert client.post("/admin/settings", data=form).status_code == 400
        db.refresh(program)
        assert program.lead_time_hours == 24

        page = client.get("/admin/settings").get_data(as_text=True)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page)
        assert token is not None
        assert client.post("/admin/settings", data={**form, "csrf_token": token[1]}).status_code == 303
        db.refresh(program)
        assert program.lead_time_hours == 48
    finally:
        app.extensions["db_engine"].dispose()


# --- program settings -----------------------------------------------------------------------------


def test_settings_page_shows_every_setting(client: Any, admin: Person, program: Program) -> None:
    html = client.get("/admin/settings").get_data(as_text=True)
    for key in settings_values(program):
        assert f'name="{key}"' in html, key
    assert 'value="24"' in html  # lead time
    assert 'option value="weekly_slots" selected' in html


def test_saving_settings_changes_them(db: Session, client: Any, admin: Person, program: Program) -> None:
    form = settings_form(program, lead_time_hours=48, slot_minutes=45, max_meetings_per_month=None,
                         mentors_may_create=True, mentoring_mode="both", name="Spring flash")
    form["remind_after_days"] = ""  # switch the reminder off
    res = client.post("/admin/settings", data=form)
    assert res.status_code == 303
    db.refresh(program)
    assert (program.lead_time_hours, program.slot_minutes, program.remind_after_days) == (48, 45, None)
    assert program.mentors_may_create is True
    assert program.mentoring_mode.value == "both"
    assert program.name == "Spring flash"
    assert "Settings saved." in text_of(client.get("/admin/settings"))

    form = settings_form(program, mentors_may_create=False)  # unchecked box posts nothing
    assert client.post("/admin/settings", data=form).status_code == 303
    db.refresh(program)
    assert program.mentors_may_create is False


@pytest.mark.parametrize(
    ("changes", "field", "message"),
    [
        ({"lead_time_hours": "soon"}, "lead_time_hours", "must be a whole number from 0 to 720"),
        ({"lead_time_hours": "1000"}, "lead_time_hours", "must be from 0 to 720"),
        ({"slot_minutes": "25"}, "slot_minutes", "must be one of 15, 20, 30"),
        ({"name": "  "}, "name", "cannot be empty"),
        ({"mentoring_mode": "weekly"}, "mentoring_mode", "must be one of: one_time"),
        ({"remind_after_days": "20", "auto_close_after_days": "10"}, "remind_after_days",
         "must come before the auto-close"),
    ],
)
def test_bad_settings_show_the_error_next_to_the_field_and_save_nothing(
    db: Session, client: Any, admin: Person, program: Program, changes: dict[str, str], field: str,
    message: str,
) -> None:
    before = settings_values(program)
    form = {**settings_form(program, max_pending_requests=7), **changes}  # a good change alongside
    res = client.post("/admin/settings", data=form)
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    error = re.search(rf'<p class="error" id="{field}-error" role="alert">([^<]*)</p>', html)
    assert error is not None and message in error[1]
    assert f'aria-describedby="{field}-help {field}-error"' in html or \
        f'aria-describedby="{field}-error"' in html
    assert "Nothing was saved" in text_of(res)
    db.expire_all()
    assert settings_values(db.get(Program, program.id)) == before  # the good change was not kept either
    # the admin's input is kept in the form for fixing; empty optional settings stay empty
    assert 'name="max_pending_requests" id="max_pending_requests" value="7"' in html
    assert 'name="max_meetings_per_month" id="max_meetings_per_month" value=""' in html


def test_several_bad_fields_are_all_reported(client: Any, admin: Person, program: Program) -> None:
    form = {**settings_form(program), "lead_time_hours": "-1", "buffer_minutes": "x", "slot_minutes": "7"}
    html = client.post("/admin/settings", data=form).get_data(as_text=True)
    for field in ("lead_time_hours", "buffer_minutes", "slot_minutes"):
        assert f'id="{field}-error"' in html


# --- people ---------------------------------------------------------------------------------------


def test_people_list_and_search(db: Session, client: Any, admin: Person) -> None:
    make_mentor(db, name="Grace Hopper", email="grace@example.com", department="Engineering")
    make_mentee(db, name="Alan Turing", email="alan@example.com", department="Research")
    page = text_of(client.get("/admin/people"))
    assert "Grace Hopper" in page and "Alan Turing" in page and "grace@example.com" in page
    found = text_of(client.get("/admin/people?q=grace"))
    assert "Grace Hopper" in found and "Alan Turing" not in found
    mentees = text_of(client.get("/admin/people?role=mentee"))
    assert "Alan Turing" in mentees and "Grace Hopper" not in mentees
    research = text_of(client.get("/admin/people?department=Research"))
    assert "Alan Turing" in research and "Grace Hopper" not in research


def test_csv_upload_imports_everyone(db: Session, client: Any, admin: Person) -> None:
    data = HEADER + (
        'Ada Lovelace,ada@example.com,Engineering,Staff Engineer,"Python:5; SQL",Europe/London,mentor\n'
        "Mo Mentee,mo@example.com,Sales,Account Executive,Negotiation,America/New_York,\n"
    )
    res = client.post(
        "/admin/people/import",
        data={"csv_file": (BytesIO(data.encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 303
    db.expire_all()
    ada = db.scalar(select(Person).where(Person.email == "ada@example.com"))
    assert ada is not None and ada.roles == ["mentor"] and ada.skill_names() == ["Python", "SQL"]
    page = text_of(client.get("/admin/people"))
    assert "Imported 2 people." in page
    assert "Ada Lovelace" in page and "Mo Mentee" in page


def test_csv_with_bad_rows_imports_nobody_and_lists_each_row(db: Session, client: Any, admin: Person) -> None:
    make_mentee(db, email="taken@example.com")
    data = HEADER + (
        "Good Person,good@example.com,Ops,,,Europe/Paris,mentee\n"
        "Bad Zone,zone@example.com,Ops,,,Mars/Olympus,mentee\n"
        "No Email,,Ops,,,UTC,mentee\n"
        "Bad Role,role@example.com,Ops,,,UTC,boss\n"
    )
    before = count_rows(db, Person)
    res = client.post(
        "/admin/people/import",
        data={"csv_file": (BytesIO(data.encode()), "people.csv")},
        content_type="multipart/form-data",
    )
    assert res.status_code == 422
    assert count_rows(db, Person) == before
    html = res.get_data(as_text=True)
    rows = re.findall(r"<tr><td>(\d+)</td><td>([^<]*)</td><td>([^<]*)</td></tr>", html)
    assert [(int(r), f) for r, f, _ in rows] == [(3, "time_zone"), (4, "email"), (5, "roles")]
    assert "Nothing was imported; 3 row(s) need fixing" in text_of(res)


def test_pasted_csv_with_an_existing_email_is_refused(db: Session, client: Any, admin: Person) -> None:
    make_mentee(db, email="taken@example.com")
    pasted = HEADER + "New One,new@example.com,,,,UTC,\nAgain,TAKEN@example.com,,,,UTC,\n"
    res = client.post("/admin/people/import", data={"csv_text": pasted})
    assert res.status_code == 422
    assert "taken@example.com already exists" in text_of(res)
    assert db.scalar(select(Person).where(Person.email == "new@example.com")) is None
    assert "new@example.com" in res.get_data(as_text=True)  # pasted text kept for fixing


def test_import_without_a_file_says_so(client: Any, admin: Person) -> None:
    res = client.post("/admin/people/import", data={})
    assert res.status_code == 422
    assert "Choose a CSV file" in text_of(res)


# --- pending requests -----------------------------------------------------------------------------


def test_requests_monitor_filters(db: Session, client: Any, admin: Person, program: Program) -> None:
    grace = make_mentor(db, name="Grace Hopper", email="grace@example.com")
    linus = make_mentor(db, name="Linus T", email="linus@example.com")
    mo = make_mentee(db, name="Mo Mentee", email="mo@example.com")
    kim = make_mentee(db, name="Kim Mentee", email="kim@example.com")
    old = make_request(db, program=program, mentee=mo, mentor=grace, topic="Old question")
    new = make_request(db, program=program, mentee=kim, mentor=linus, topic="Fresh question")
    done = make_request(db, program=program, mentee=kim, mentor=grace, topic="Withdrawn one",
                        times=[(old.proposed_times[0].start_at + timedelta(hours=2),
                                old.proposed_times[0].end_at + timedelta(hours=2))])
    old.created_at = utcnow() - timedelta(days=5)
    new.created_at = utcnow() - timedelta(hours=3)
    done.state = RequestState.WITHDRAWN
    db.commit()

    page = text_of(client.get("/admin/requests"))
    assert "Old question" in page and "Fresh question" in page and "Withdrawn one" not in page
    assert "2 requests" in page
    assert re.search(r"Old question .* 5 d 0 h", page)
    assert "Times in Europe/Berlin" in page

    assert "Fresh question" not in text_of(client.get("/admin/requests?mentor=grace"))
    assert "Old question" not in text_of(client.get("/admin/requests?mentee=KIM@"))
    aged = text_of(client.get("/admin/requests?older_than_days=2"))
    assert "Old question" in aged and "Fresh question" not in aged
    withdrawn = text_of(client.get("/admin/requests?state=withdrawn"))
    assert "Withdrawn one" in withdrawn and "Old question" not in withdrawn
    everything = client.get("/admin/requests?state=any").get_data(as_text=True)
    assert len(re.findall(r'id="request-\d+"', everything)) == 3
    assert f'<a href="/requests/{old.id}">Old question</a>' in everything  # the admin reads it there
    assert "Old question" in text_of(client.get(f"/requests/{old.id}"))


def test_requests_monitor_refuses_bad_filters(client: Any, admin: Person) -> None:
    res = client.get("/admin/requests?older_than_days=lots")
    assert res.status_code == 422
    assert "Age must be a whole number of days" in text_of(res)
    assert client.get("/admin/requests?state=bogus").status_code == 422


@pytest.fixture
def worker_installed(app: Any, redis: Any, smtp: SmtpServer) -> Iterator[Any]:
    """Domain events schedule real jobs on the test Redis; mail goes to a real SMTP server."""
    startup.install({**app.config, **smtp.config(), "QUEUE_NAME": worker_harness.QUEUE}, connection=redis)
    try:
        yield redis
    finally:
        startup.uninstall()


def run_jobs(redis: Any) -> None:
    worker_harness.drain(redis)


def test_send_reminder_mails_the_mentor_now(
    db: Session, client: Any, admin: Person, program: Program, worker_installed: Any, smtp: SmtpServer
) -> None:
    mentor = make_mentor(db, email="grace@example.com")
    req = make_request(db, program=program, mentee=make_mentee(db), mentor=mentor, topic="Career advice")
    run_jobs(worker_installed)  # the "request created" mail
    smtp.clear()

    res = client.post(f"/admin/requests/{req.id}/remind", data={"mentor": "grace"})
    assert res.status_code == 303 and "mentor=grace" in res.headers["Location"]
    assert f"Reminder sent for request #{req.id}." in text_of(client.get(res.headers["Location"]))
    run_jobs(worker_installed)

    [mail] = smtp.to("grace@example.com")
    assert "Career advice" in mail.subject + mail.text()
    db.expire_all()
    assert db.get(MeetingRequest, req.id).reminders_sent == 1
    page = text_of(client.get("/admin/requests"))
    assert re.search(rf"{req.id} Career advice .* 1 last ", page)


def test_closing_a_request_expires_it_and_tells_the_mentee(
    db: Session, client: Any, admin: Person, program: Program, worker_installed: Any, smtp: SmtpServer
) -> None:
    req = make_request(db, program=program, mentee=make_mentee(db, email="mo@example.com"),
                       mentor=make_mentor(db), topic="Career advice")
    run_jobs(worker_installed)
    smtp.clear()

    res = client.post(f"/admin/requests/{req.id}/close")
    assert res.status_code == 303
    page = text_of(client.get("/admin/requests"))
    assert f"Request #{req.id} closed." in page and "No requests match." in page
    db.expire_all()
    closed = db.get(MeetingRequest, req.id)
    assert closed.state == RequestState.EXPIRED and closed.closed_at is not None
    run_jobs(worker_installed)
    assert len(smtp.to("mo@example.com")) == 1
    sent = len(smtp.received)

    # reminding about it now is refused and sends nothing
    client.post(f"/admin/requests/{req.id}/remind")
    assert "only pending requests get reminders" in text_of(client.get("/admin/requests"))
    run_jobs(worker_installed)
    assert len(smtp.received) == sent


def test_failed_jobs_are_listed_with_their_error(
    db: Session, client: Any, admin: Person, worker_installed: Any
) -> None:
    assert "No failed jobs." in text_of(client.get("/admin/jobs/failed"))
    timed_work.plan(db, WorkKind.REQUEST_REMINDER, "broken-job", due_at=datetime.now(UTC),
                    args=[1, "one", "too many"])
    db.commit()
    run_jobs(worker_installed)
    page = text_of(client.get("/admin/jobs/failed"))
    assert "broken-job" in page and "request.reminder" in page and "1, one, too many" in page
    assert "TypeError" in page and "Traceback" in page

    row = timed_work.find(db, "broken-job")
    assert row is not None and (row.state, row.attempts) == (WorkState.DUE, 1)  # a retry is booked
    assert client.post("/admin/jobs/999999/retry").status_code == 404
    client.post(f"/admin/jobs/{row.id}/drop")
    db.refresh(row)
    assert row.state == WorkState.CANCELED
    assert "No failed jobs." in text_of(client.get("/admin/jobs/failed"))
    response = client.post(f"/admin/jobs/{row.id}/retry", follow_redirects=True)
    assert "Only failed work can be retried" in text_of(response)


def test_closing_an_already_closed_request_changes_nothing(
    db: Session, client: Any, admin: Person, program: Program
) -> None:
    req = make_request(db, program=program, mentee=make_mentee(db), mentor=make_mentor(db))
    req.state = RequestState.DECLINED
    db.commit()
    res = client.post(f"/admin/requests/{req.id}/close", data={"state": "any"})
    assert res.status_code == 303 and "state=any" in res.headers["Location"]
    assert "already declined" in text_of(client.get("/admin/requests"))
    db.expire_all()
    assert db.get(MeetingRequest, req.id).state == RequestState.DECLINED
    assert client.post("/admin/requests/999999/close").status_code == 404


# --- calendar tenants -----------------------------------------------------------------------------


def test_tenant_form_errors_name_the_field_and_keep_no_secret(
    db: Session, client: Any, admin: Person
) -> None:
    res = client.post("/admin/tenants", data={"provider": "google", "name": "Acme", "domain": "example.com",
                                              "secret": '{"client_email": "x@y"} top-secret'})
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    assert "The service account key is not valid JSON." in html
    assert "top-secret" not in html
    assert 'value="example.com"' in html  # non-secret input kept
    res = client.post("/admin/tenants", data={"provider": "microsoft", "name": "Contoso", "client_id": "c",
                                              "secret": "s3cr3t-value"})
    assert res.status_code == 422 and "tenant_id is required." in text_of(res)
    assert "s3cr3t-value" not in res.get_data(as_text=True)
    assert count_rows(db, CalendarTenant) == {"CalendarTenant": 0}


def test_microsoft_tenant_shows_the_admin_consent_link(db: Session, client: Any, admin: Person) -> None:
    res = client.post("/admin/tenants", data={"provider": "microsoft", "name": "Contoso",
                                              "tenant_id": "contoso.onmicrosoft.com", "client_id": "app-123",
                                              "secret": "s3cr3t-value"})
    assert res.status_code == 303
    html = client.get("/admin/tenants").get_data(as_text=True)
    assert "Grant admin consent" in html
    assert re.search(r'href="https://login\.microsoftonline\.com/contoso\.onmicrosoft\.com/adminconsent\?'
                     r'[^"]*client_id=app-123', html)
    assert "s3cr3t-value" not in html
    assert "never synced" in html
    tenant = db.scalar(select(CalendarTenant))
    assert tenant is not None and tenant.secret == "s3cr3t-value"  # stored (encrypted), not shown


def test_microsoft_tenant_with_a_certificate(db: Session, client: Any, admin: Person) -> None:
    key = "-----BEGIN PRIVATE KEY-----\nMIIEvQ...\n-----END PRIVATE KEY-----\n"
    base = {"provider": "microsoft", "name": "Contoso", "tenant_id": "contoso.onmicrosoft.com",
            "client_id": "app-123", "secret": key}
    res = client.post("/admin/tenants", data=base)
    assert res.status_code == 422
    field_then_error = (r'id="microsoft-certificate_thumbprint".*?'
                        r'A certificate key needs certificate_thumbprint')
    assert re.search(field_then_error, res.get_data(as_text=True), re.S)
    assert count_rows(db, CalendarTenant) == {"CalendarTenant": 0}

    res = client.post("/admin/tenants", data={**base, "certificate_thumbprint": "AB12CD"})
    assert res.status_code == 303
    tenant = db.scalar(select(CalendarTenant))
    assert tenant is not None and tenant.config["certificate_thumbprint"] == "AB12CD" and tenant.secret == key


def test_caldav_tenant_connect_and_test_connection(
    db: Session, client: Any, admin: Person, radicale_server: DavServer
) -> None:
    res = client.post("/admin/tenants", data={
        "provider": "caldav", "name": "Team DAV", "url": radicale_server.base_url,
        "username": radicale_server.username, "secret": radicale_server.password,
    })
    assert res.status_code == 303
    tenant = db.scalar(select(CalendarTenant).where(CalendarTenant.name == "Team DAV"))
    assert tenant is not None
    html = client.get("/admin/tenants").get_data(as_text=True)
    assert radicale_server.password not in html and "Team DAV" in html

    res = client.post(f"/admin/tenants/{tenant.id}/test")
    assert res.status_code == 303
    tested = text_of(client.get("/admin/tenants"))
    assert "Team DAV: The connection works: the credentials were accepted" in tested

    tenant.secret = "wrong password"
    db.commit()
    client.post(f"/admin/tenants/{tenant.id}/test")
    page = text_of(client.get("/admin/tenants"))
    assert "Team DAV: The credentials were refused" in page


def test_google_tenant_where_each_person_signs_in(db: Session, client: Any, admin: Person) -> None:
    page = client.get("/admin/tenants").get_data(as_text=True)
    assert "Google (each person signs in)" in page
    assert "http://127.0.0.1:5000/calendar/oauth/callback" in page  # the redirect URI to register

    res = client.post("/admin/tenants", data={
        "provider": "google_oauth", "name": "Staff Google", "domain": "example.com", "client_id": "",
        "secret": "client-secret-value",
    })
    assert res.status_code == 422
    assert "OAuth needs the client id." in text_of(res)
    assert db.scalar(select(CalendarTenant)) is None

    res = client.post("/admin/tenants", data={
        "provider": "google_oauth", "name": "Staff Google", "domain": "Example.com",
        "client_id": "123.apps.googleusercontent.com", "secret": "client-secret-value",
    })
    assert res.status_code == 303
    tenant = db.scalar(select(CalendarTenant))
    assert tenant is not None and tenant.provider.value == "google"
    assert tenant.config["auth"] == "oauth" and tenant.config["domain"] == "example.com"
    assert tenant.secret == "client-secret-value"
    assert "client-secret-value" not in client.get("/admin/tenants").get_data(as_text=True)


def test_consent_answer_from_microsoft(client: Any, admin: Person) -> None:
    client.get("/admin/tenants/consent?admin_consent=True&tenant=x&state=tenant-1")
    assert "Consent granted" in text_of(client.get("/admin/tenants"))
    client.get("/admin/tenants/consent?error=access_denied&error_description=The+admin+said+no")
    assert "Consent was not granted: The admin said no" in text_of(client.get("/admin/tenants"))


# --- survey editor --------------------------------------------------------------------------------


def survey_form(html: str) -> dict[str, str]:
    """The editor's fields as the browser would post them (inputs, selected options, textareas)."""
    form: dict[str, str] = {}
    for name, value in re.findall(r'<input type="(?:hidden|text)"[^>]*?name="([^"]+)" value="([^"]*)"', html):
        form[name] = value
    for name, value in re.findall(r'<input type="text"[^>]*?id="[^"]+" name="([^"]+)" value="([^"]*)"', html):
        form[name] = value
    for name, body in re.findall(r'<select[^>]*name="([^"]+)"[^>]*>(.*?)</select>', html, re.S):
        chosen = re.search(r'<option value="([^"]+)" selected', body)
        form[name] = chosen[1] if chosen else ""
    for name, body in re.findall(r'<textarea[^>]*name="([^"]+)"[^>]*>(.*?)</textarea>', html, re.S):
        form[name] = body
    for name in re.findall(r'<input type="checkbox" name="([^"]+)" value="on" checked', html):
        form[name] = "on"
    form.pop("csrf_token", None)
    return form


def test_survey_editor_shows_the_default_questions(client: Any, admin: Person) -> None:
    page = client.get("/admin/surveys")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert 'value="Did this meeting take place?"' in html and "Question 1 (fixed)" in html
    assert 'value="How useful was the meeting for you?"' in html
    canceled = client.get("/admin/surveys?variant=canceled").get_data(as_text=True)
    assert 'value="Why was the meeting canceled?"' in canceled


def test_survey_editor_adds_edits_reorders_and_removes(
    db: Session, client: Any, admin: Person, program: Program
) -> None:
    from scheduling.services.surveys import questions_for

    form = survey_form(client.get("/admin/surveys").get_data(as_text=True))
    assert form["q-1-text"] == "How useful was the meeting for you?"
    form["q-1-text"] = "How useful was it?"
    form["q-2-remove"] = "on"
    form["q-5-text"] = "Which format suited you?"
    form["q-5-kind"] = "choice"
    form["q-5-choices"] = "Video\nPhone\n\nIn person\n"
    form["q-5-order"] = "1.5"  # right after the first question
    res = client.post("/admin/surveys", data=form)
    assert res.status_code == 303, text_of(res)
    db.expire_all()
    saved = questions_for(db, program, "held")
    assert [q.text for q in saved] == [
        "Did this meeting take place?",
        "Which format suited you?",
        "How useful was it?",
        "Would you recommend flash mentoring to a colleague?",
        "What was most valuable, or what could be better?",
    ]
    assert saved[1].choices == ["Video", "Phone", "In person"]
    assert "The held survey is saved (5 questions)." in text_of(client.get("/admin/surveys"))


def test_a_bad_question_is_marked_and_nothing_is_saved(
    db: Session, client: Any, admin: Person, program: Program
) -> None:
    from scheduling.services.surveys import question_dict, questions_for

    form = survey_form(client.get("/admin/surveys").get_data(as_text=True))
    before = [question_dict(q) for q in questions_for(db, program, "held")]
    form["q-1-text"] = "Changed but not saved"
    form["q-5-text"] = "Pick one"
    form["q-5-kind"] = "choice"
    form["q-5-choices"] = "Only one"
    res = client.post("/admin/surveys", data=form)
    assert res.status_code == 422
    html = res.get_data(as_text=True)
    error = re.search(r'<p class="error" id="q-5-choices-error" role="alert">([^<]*)</p>', html)
    assert error is not None and "at least two choices" in error[1]
    assert 'value="Changed but not saved"' in html  # the admin's edits stay in the form
    db.expire_all()
    assert [question_dict(q) for q in questions_for(db, program, "held")] == before


# --- health report --------------------------------------------------------------------------------


def report_data(db: Session, program: Program) -> None:
    """Four requests to one Python mentor: answered after 1 h, 4 h (accepted) and 10 h (declined),
    one still pending; the first meeting held, with its mentee's survey answered."""
    from scheduling.models import SkillRelation
    from scheduling.services import requests as svc
    from scheduling.services.followups import decide, reassess
    from scheduling.services.messages import post_message
    from scheduling.services.skills import SkillLevel, replace_skills
    from scheduling.services.surveys import invite, questions_for, record_survey
    from tests.factories import NOW, at, slot

    mentor = make_mentor(db, name="Grace")
    replace_skills(db, mentor, SkillRelation.OFFERS, [SkillLevel("Python", 4)])
    db.commit()
    requests = [
        make_request(db, program=program, mentee=make_mentee(db), mentor=mentor,
                     times=[slot(at("2030-01-09", hhmm))])
        for hhmm in ("10:00", "11:00", "12:00", "13:00")
    ]
    first = svc.accept(db, requests[0], actor=mentor, now=NOW + timedelta(hours=1))
    svc.accept(db, requests[1], actor=mentor, now=NOW + timedelta(hours=4))
    svc.decline(db, requests[2], actor=mentor, reason="no_time", now=NOW + timedelta(hours=10))
    after = at("2030-01-09", "12:00")
    mentee_invitation = next(i for i in invite(db, first, now=after) if i.person_id == first.mentee_id)
    took_place, useful = questions_for(db, program, "held")[:2]
    mentee = db.get(Person, first.mentee_id)
    assert mentee is not None
    record_survey(db, mentee_invitation.id, mentee, {str(took_place.id): True, str(useful.id): 4}, now=after)
    # two messages in the first request's thread; the mentee then rates themself level 4 in Python
    post_message(db, requests[0].id, mentee, "Shall I bring my code?", now=after)
    post_message(db, requests[0].id, mentor, "Yes, please.", now=after)
    row = reassess(db, mentee, "Python", 4, meeting_id=first.id, now=after)
    decide(db, row, make_admin(db), confirm=True, now=after)


def test_report_shows_the_figures(db: Session, client: Any, admin: Person, program: Program) -> None:
    report_data(db, program)
    res = client.get("/admin/report")
    assert res.status_code == 200
    html = res.get_data(as_text=True)

    def figure(name: str) -> str:
        found = re.search(rf'id="fig-{name}"><strong>([^<]*)</strong>', html)
        assert found is not None, name
        return found[1]

    assert figure("total") == "4"
    assert figure("acceptance") == "67%"  # 2 accepted of 3 settled
    assert figure("average") == "5.0 h"  # (1 + 4 + 10) / 3
    assert figure("median") == "4.0 h"
    assert figure("waiting") == "1"
    by_state = html.split('id="requests-by-state"')[1]
    states = dict(re.findall(r"<tr><td>(\w+)</td><td>(\d+)</td></tr>", by_state))
    assert states["pending"] == "1" and states["accepted"] == "2" and states["declined"] == "1"
    assert re.search(r"<tr><td>2030-01</td><td>1</td><td>0</td><td>0</td><td>1</td></tr>", html)
    assert re.search(r"<tr><td>Python</td><td>4</td><td>0</td><td>1</td></tr>", html)
    assert "held: 1 of 2 answered" in text_of(res)
    assert "2 messages written in 1 request." in text_of(res)
    assert re.search(r"<tr><td>Python</td><td>1</td><td>\+4</td></tr>", html)  # confirmed: none -> 4
    # charts: accessible SVG with a title and the numbers in the description
    assert '<svg class="chart" role="img"' in html
    assert re.search(r"<desc[^>]*>[^<]*pending: 1 request; accepted: 2 requests", html)
    assert re.search(r"<desc[^>]*>2030-01: 1 held</desc>", html)
    assert re.search(r"<desc[^>]*>Python: requested 4, offered by mentors 1</desc>", html)
    assert re.search(r"<title[^>]*>How useful was the meeting for you\?</title>", html)


def test_report_csv_export(db: Session, client: Any, admin: Person, program: Program) -> None:
    report_data(db, program)
    res = client.get("/admin/report.csv")
    assert res.status_code == 200
    assert res.mimetype == "text/csv"
    assert res.headers["Content-Disposition"].startswith('attachment; filename="program-health-')
    body = res.get_data(as_text=True)
    assert "acceptance_rate,0.6667" in body and "median_hours_pending,4.0" in body
    assert "Python,4,0,1" in body
    assert "messages,2\nrequests_with_messages,1\n" in body
    assert "skill_changes_after_meetings\nskill,people,average_level_change\nPython,1,4.0\n" in body


def test_report_of_an_empty_program(client: Any, admin: Person) -> None:
    res = client.get("/admin/report")
    assert res.status_code == 200
    page = text_of(res)
    assert "0 requests" in page and "— acceptance rate" in page and "No meetings yet." in page


def test_bar_chart_is_accessible_and_escaped() -> None:
    from app.admin.charts import Bar, bar_chart

    svg = str(bar_chart("Skills <top>", [Bar("C++ & <b>", 3), Bar("Go", 1.5)], unit="requests"))
    assert svg.startswith('<svg class="chart" role="img" aria-labelledby="')
    assert "<title" in svg and "Skills &lt;top&gt;" in svg and "<b>" not in svg
    assert "C++ &amp; &lt;b&gt;: 3 requests; Go: 1.5 requests" in svg
    widths = [float(w) for w in re.findall(r'class="bar" x="\d+" y="[\d.]+" width="([\d.]+)"', svg)]
    assert widths == [300.0, 150.0]  # proportional to the values
    empty = str(bar_chart("Nothing", []))
    assert "No data yet." in empty


# --- recommendations ------------------------------------------------------------------------------


def test_pushing_recommendations_from_the_pick_list_and_csv(
    db: Session, client: Any, admin: Person, program: Program
) -> None:
    from scheduling.models import Recommendation

    grace = make_mentor(db, name="Grace Hopper", email="grace@example.com")
    alan = make_mentor(db, name="Alan Turing", email="alan@example.com")
    mo = make_mentee(db, name="Mo Mentee", email="mo@example.com")
    pick = {"mentee_ids": [str(mo.id)], "mentor_ids": [str(grace.id)], "note": "Ask about talks"}
    res = client.post("/admin/recommendations", data=pick)
    assert res.status_code == 303
    page = client.get("/admin/recommendations")
    assert "1 recommendation pushed." in text_of(page)
    assert re.search(r"Mo Mentee</td><td>Grace Hopper</td><td>Ask about talks", page.get_data(as_text=True))

    bad = client.post("/admin/recommendations",
                      data={"csv": "mo@example.com,alan@example.com\nmo@example.com,nobody@example.com\n"})
    assert bad.status_code == 422
    assert "Nobody has the email 'nobody@example.com'." in text_of(bad)
    assert count_rows(db, Recommendation) == {"Recommendation": 1}  # the good row was not kept either

    assert client.post("/admin/recommendations",
                       data={"csv": "mo@example.com,alan@example.com,Crypto\n"}).status_code == 303
    db.expire_all()
    pairs = {(r.mentee_id, r.mentor_id, r.note) for r in db.scalars(select(Recommendation))}
    assert pairs == {(mo.id, grace.id, "Ask about talks"), (mo.id, alan.id, "Crypto")}

    first = db.scalar(select(Recommendation).where(Recommendation.mentor_id == grace.id))
    assert first is not None
    assert client.post(f"/admin/recommendations/{first.id}/remove").status_code == 303
    db.expire_all()
    assert count_rows(db, Recommendation) == {"Recommendation": 1}


def test_pushing_nothing_says_what_is_missing(client: Any, admin: Person) -> None:
    res = client.post("/admin/recommendations", data={"mentor_ids": ["1"]})
    assert res.status_code == 422 and "Choose at least one mentee." in text_of(res)


def test_the_report_says_when_background_work_is_overdue(
    db: Session, client: Any, admin: Person, program: Program
) -> None:
    assert "Background work needs a look" not in text_of(client.get("/admin/report"))
    timed_work.plan(db, WorkKind.REQUEST_REMINDER, "request-1-reminder",
                    due_at=datetime.now(UTC) - timedelta(hours=2), args=[1])
    db.commit()  # no worker: nothing relays it
    page = text_of(client.get("/admin/report"))
    assert "Background work needs a look: 1 overdue, 0 given up." in page
