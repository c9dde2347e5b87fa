"""Video links (issue 13, item 5): a video meeting in a program with ``video_links`` on gets one join
link, made by the organizer's calendar (a Google Meet through ``conferenceData.createRequest``, a
Teams meeting through ``isOnlineMeeting``) or filled in from the program's template (CalDAV, no
calendar). The link is stored on the meeting and is the same in the calendar event, the invitation
(iTIP) and the notices, on the meeting page and in the API, through retries and reschedules.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import icalendar
import pytest
import requests
from sqlalchemy.orm import Session

from calendars.google import conference_request_id
from scheduling import notices, tenants, video
from scheduling.models import Meeting, MeetingMode, Person, Program, TimedWork, WorkState
from scheduling.services import meetings as meeting_svc
from scheduling.services.program import update_settings
from scheduling.timed_work import meeting_key
from tests.factories import NOW, login, make_admin, make_meeting, make_mentee, make_mentor, make_program
from tests.fakes.dav_servers import DavServer
from tests.fakes.google_server import GoogleFake, make_service_account
from tests.fakes.graph_server import GraphFake
from tests.worker_harness import Life, life
from worker import calendar_jobs
from worker.jobs import meetings as meetings_jobs

__all__ = ["life"]
FAST = {"retry": {"max_attempts": 2, "base_delay": 0.0}}
BASE = "http://app.example"
TEMPLATE = "https://meet.example.org/{room}"


@pytest.fixture
def google(db: Session, google_fake: GoogleFake) -> Any:
    info, key = make_service_account(google_fake.token_uri)
    google_fake.register_service_account(info, key)
    google_fake.delegation_granted = True
    google_fake.store.failures.clear()
    google_fake.conference_pending_reads = 0
    google_fake.conference_types = {"hangoutsMeet"}
    return tenants.create_tenant(
        db, name=f"Google {uuid.uuid4().hex[:6]}", provider="google", secret=json.dumps(info),
        config={"domain": "example.com", "api_endpoint": google_fake.api_endpoint, **FAST},
    )


@pytest.fixture
def microsoft(db: Session, graph_fake: GraphFake) -> Any:
    graph_fake.consented = True
    graph_fake.store.failures.clear()
    graph_fake.online_providers = ["teamsForBusiness"]
    return tenants.create_tenant(
        db, name=f"Graph {uuid.uuid4().hex[:6]}", provider="microsoft", secret=graph_fake.client_secret,
        config={"tenant_id": graph_fake.tenant_id, "client_id": graph_fake.client_id,
                "authority_host": graph_fake.base_url, "graph_url": graph_fake.graph_url,
                "ca_bundle": graph_fake.ca_file, **FAST},
    )


def pair(db: Session) -> tuple[Person, Person]:
    tag = uuid.uuid4().hex[:8]
    return (make_mentor(db, email=f"mentor-{tag}@example.com", name="Grace Mentor"),
            make_mentee(db, email=f"mentee-{tag}@example.com", name="Ada Mentee"))


def video_program(db: Session, **overrides: Any) -> Program:
    return make_program(db, **{"video_links": True, "video_url_template": TEMPLATE, **overrides})


def mail_texts(meeting: Meeting) -> dict[str, str]:
    """Each person's invitation mail (words) for the meeting as it is now."""
    return {n.to[0]: n.text for n in notices.meeting_invite(meeting, BASE)}


def ics_event(meeting: Meeting) -> icalendar.cal.Component:
    return icalendar.Calendar.from_ical(notices.meeting_ics(meeting)[0]).walk("VEVENT")[0]


def later(meeting: Meeting) -> tuple[datetime, datetime]:
    start = meeting.start_at + timedelta(days=1)
    return start, start + timedelta(minutes=30)


# --- Google: a Meet made by conferenceData.createRequest ----------------------------------------------


def test_google_makes_one_meet_and_every_copy_and_mail_carries_it(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    mentor, mentee = pair(db)
    for person in (mentor, mentee):
        google_fake.store.add_calendar(person.email)
        tenants.connect_account(db, person=person, tenant=google)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)
    assert meeting.video_url == ""  # not the template: the mentor's Google calendar makes it

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)  # a retried job: the same Meet

    db.refresh(meeting)
    assert meeting.video_url.startswith("https://meet.google.com/")
    [organized] = google_fake.store.live_events(mentor.email)
    [copy] = google_fake.store.live_events(mentee.email)  # Google's attendee copy
    assert organized.conference["requestId"] == conference_request_id(meeting.uid)
    assert copy.conference is organized.conference  # one conference, on both calendars
    shown = google_fake.event_json(organized, mentor.email)
    assert shown["hangoutLink"] == meeting.video_url
    assert shown["conferenceData"]["entryPoints"][0] == {
        "entryPointType": "video", "uri": meeting.video_url, "label": meeting.video_url[8:]}
    assert all(f"Join the video call: {meeting.video_url}" in text for text in mail_texts(meeting).values())

    start, end = later(meeting)
    meeting_svc.reschedule(db, meeting, actor=mentee, start=start, end=end, now=NOW)
    link = meeting.video_url
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    assert meeting.video_url == link  # the same requestId: Google ignores it, the Meet stays
    [organized] = google_fake.store.live_events(mentor.email)
    assert organized.start == start
    assert google_fake.event_json(organized, mentor.email)["hangoutLink"] == link
    assert f"Join the video call: {link}" in organized.description  # written with the move


def test_a_meet_made_asynchronously_is_read_again_by_the_retry(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    """Google reports ``createRequest.status.statusCode: pending`` until the Meet exists: the write
    keeps the event and fails (so RQ retries), and the retry reads the link."""
    google_fake.conference_pending_reads = 3  # the insert's answer, a get, and a patch's answer
    mentor, mentee = pair(db)
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=google)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)

    with pytest.raises(calendar_jobs.VideoLinkPending):
        calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    assert meeting.video_url == "" and len(meeting.events) == 1  # the event is stored, once

    result = calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    assert result.updated == [mentor.id]
    assert meeting.video_url.startswith("https://meet.google.com/")
    [event] = google_fake.store.live_events(mentor.email)
    assert google_fake.event_json(event, mentor.email)["hangoutLink"] == meeting.video_url
    assert calendar_jobs.write_meeting_events(meeting.id, session=db).updated == []  # nothing left to read


def test_without_the_program_setting_google_gets_no_conference(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    mentor, mentee = pair(db)
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=google)
    meeting = make_meeting(db, program=make_program(db, video_url_template=TEMPLATE), mentee=mentee,
                           mentor=mentor)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    [event] = google_fake.store.live_events(mentor.email)
    assert event.conference == {} and meeting.video_url == ""
    assert "hangoutLink" not in google_fake.event_json(event, mentor.email)


# --- Microsoft Graph: a Teams meeting through isOnlineMeeting -------------------------------------------


def test_graph_makes_one_teams_meeting_and_keeps_it_through_a_move(
    db: Session, graph_fake: GraphFake, microsoft: Any
) -> None:
    mentor, mentee = pair(db)
    graph_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=microsoft)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor, start=start,
                           now=datetime.now(UTC))

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    calendar_jobs.write_meeting_events(meeting.id, session=db)  # a retried job: transactionId de-duplicates
    db.refresh(meeting)
    [event] = graph_fake.store.live_events(mentor.email)
    assert meeting.video_url == event.join_url
    assert meeting.video_url.startswith("https://teams.microsoft.com/l/meetup-join/")
    shown = graph_fake.event_json(event, mentor.email)
    assert shown["isOnlineMeeting"] is True and shown["onlineMeetingProvider"] == "teamsForBusiness"
    assert shown["onlineMeeting"] == {"joinUrl": meeting.video_url}

    link = meeting.video_url
    meeting_svc.reschedule(db, meeting, actor=mentee, start=later(meeting)[0], end=later(meeting)[1],
                           now=datetime.now(UTC))
    result = calendar_jobs.write_meeting_events(meeting.id, session=db)  # PATCH: isOnlineMeeting again
    db.refresh(meeting)
    assert result.updated == [mentor.id]
    [event] = graph_fake.store.live_events(mentor.email)
    assert meeting.video_url == link == event.join_url
    assert f"Join the video call: {link}" in event.description  # the body we write names it too
    assert all(link in text for text in mail_texts(meeting).values())


# --- a calendar that offers no conference: the template instead ----------------------------------------


def test_google_without_meet_gets_the_template_link_and_moves_without_a_conference(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    google_fake.conference_types = set()  # Meet switched off: a createRequest would be refused
    mentor, mentee = pair(db)
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=google)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    template = f"https://meet.example.org/{video.room_name(meeting.uid)}"
    [event] = google_fake.store.live_events(mentor.email)
    assert meeting.video_url == template and event.conference == {}
    assert event.location == template and f"Join the video call: {template}" in event.description

    start, end = later(meeting)
    meeting_svc.reschedule(db, meeting, actor=mentee, start=start, end=end, now=NOW)
    assert calendar_jobs.write_meeting_events(meeting.id, session=db).updated == [mentor.id]
    db.refresh(meeting)
    [event] = google_fake.store.live_events(mentor.email)
    assert (event.start, event.conference, meeting.video_url) == (start, {}, template)


def test_graph_without_teams_gets_the_template_link(
    db: Session, graph_fake: GraphFake, microsoft: Any
) -> None:
    graph_fake.online_providers = ["skypeForBusiness"]
    mentor, mentee = pair(db)
    graph_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=microsoft)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor, start=start,
                           now=datetime.now(UTC))
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    [event] = graph_fake.store.live_events(mentor.email)
    assert meeting.video_url == f"https://meet.example.org/{video.room_name(meeting.uid)}"
    assert event.join_url == "" and event.location == meeting.video_url


def test_a_link_people_were_told_stays_when_a_google_calendar_is_connected_later(
    db: Session, google_fake: GoogleFake, google: Any
) -> None:
    mentor, mentee = pair(db)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)
    told = meeting.video_url
    assert told.startswith("https://meet.example.org/")  # no calendar at booking: the template
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=google)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    [event] = google_fake.store.live_events(mentor.email)
    assert meeting.video_url == told and event.conference == {} and event.location == told


# --- CalDAV and no calendar: the program's template ------------------------------------------------------


@pytest.fixture(params=["radicale", "xandikos"])
def dav(request: pytest.FixtureRequest) -> DavServer:
    server: DavServer = request.getfixturevalue(f"{request.param}_server")
    return server


def dav_events(server: DavServer, calendar_url: str) -> list[icalendar.cal.Component]:
    body = ('<?xml version="1.0"?><c:calendar-query xmlns:d="DAV:" xmlns:c="urn:ietf:params:xml:ns:caldav">'
            '<d:prop><c:calendar-data/></d:prop><c:filter><c:comp-filter name="VCALENDAR"/></c:filter>'
            "</c:calendar-query>")
    response = requests.request("REPORT", calendar_url, data=body, auth=(server.username, server.password),
                                headers={"Depth": "1", "Content-Type": "application/xml"},
                                verify=server.ca_file)
    return [icalendar.Calendar.from_ical("BEGIN:VCALENDAR" + chunk.split("END:VCALENDAR")[0]
                                         + "END:VCALENDAR").walk("VEVENT")[0]
            for chunk in response.text.split("BEGIN:VCALENDAR")[1:]]


def test_caldav_events_carry_the_templates_link(db: Session, dav: DavServer) -> None:
    mentor, mentee = pair(db)
    trust = {"ca_bundle": dav.ca_file} if isinstance(dav.ca_file, str) else {}
    tenant = tenants.create_tenant(
        db, name=f"DAV {uuid.uuid4().hex[:6]}", provider="caldav",
        config={"url": dav.base_url, "username": dav.username, **trust, **FAST}, secret=dav.password)
    principal = "user" if dav.name == "xandikos" else dav.username
    path = f"{principal}/video-{uuid.uuid4().hex[:8]}/"
    made = requests.request("MKCALENDAR", dav.base_url + path, auth=(dav.username, dav.password),
                            verify=dav.ca_file)
    assert made.status_code == 201, made.text
    tenants.connect_account(db, person=mentor, tenant=tenant, external_id=path)

    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)
    link = meeting.video_url
    assert link == f"https://meet.example.org/{video.room_name(meeting.uid)}"  # filled in at booking

    calendar_jobs.write_meeting_events(meeting.id, session=db)
    [event] = dav_events(dav, dav.base_url + path)
    assert (str(event["URL"]), str(event["LOCATION"])) == (link, link)
    assert f"Join the video call: {link}" in str(event["DESCRIPTION"])
    invitation = ics_event(meeting)  # the mentee, without a calendar, is invited by mail
    assert (str(invitation["URL"]), str(invitation["LOCATION"])) == (link, link)
    assert f"Join the video call: {link}" in mail_texts(meeting)[mentee.email]

    meeting_svc.reschedule(db, meeting, actor=mentee, start=later(meeting)[0], end=later(meeting)[1], now=NOW)
    calendar_jobs.write_meeting_events(meeting.id, session=db)
    [event] = dav_events(dav, dav.base_url + path)
    assert str(event["URL"]) == link and int(event["SEQUENCE"]) == 1


def test_without_calendars_the_template_link_is_in_the_invitation_and_reminder(db: Session) -> None:
    mentor, mentee = pair(db)
    program = video_program(db, video_url_template="https://video.example.org/flash-{meeting_id}")
    meeting = make_meeting(db, program=program, mentee=mentee, mentor=mentor)
    assert meeting.video_url == f"https://video.example.org/flash-{meeting.id}"
    assert str(ics_event(meeting)["URL"]) == meeting.video_url
    for notice in notices.meeting_reminder(meeting, BASE):
        assert f"Join the video call: {meeting.video_url}" in notice.text


def test_only_video_meetings_without_a_link_of_their_own_get_one(db: Session) -> None:
    program = video_program(db)
    mentor, mentee = pair(db)
    phone = make_meeting(db, program=program, mentee=mentee, mentor=mentor, mode=MeetingMode.PHONE)
    own = make_meeting(db, program=program, mentee=make_mentee(db), mentor=make_mentor(db),
                       location="https://zoom.example/j/1")
    assert phone.video_url == "" and own.video_url == ""
    assert video.join_url(own) == "https://zoom.example/j/1"  # their own call stays theirs
    off = make_meeting(db, program=make_program(db, video_url_template=TEMPLATE), mentee=make_mentee(db),
                       mentor=make_mentor(db))
    assert off.video_url == ""


# --- the invitation waits for the link the calendar is making -------------------------------------------


def test_the_invitation_waits_for_the_meet_link(life: Life, google_fake: GoogleFake, google: Any) -> None:
    db = life.db
    mentor, mentee = pair(db)
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=google)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)

    # The invitation's job runs before the calendar write: it re-times itself instead of mailing.
    assert meetings_jobs.send_meeting_invite(meeting.id, 0) == 0
    db.expire_all()
    invite = db.query(TimedWork).filter_by(key=meeting_key(meeting.id, "invite-0")).one()
    assert invite.state == WorkState.DUE and invite.due_at > NOW
    assert life.mail.received == []

    life.run_until(NOW + timedelta(minutes=1))  # the calendar write, then the invitation
    db.refresh(meeting)
    assert meeting.video_url.startswith("https://meet.google.com/")
    mails = {m.to: m for m in life.mail.received if "Meeting:" in m.subject}
    assert set(mails) == {mentor.email, mentee.email}
    assert all(f"Join the video call: {meeting.video_url}" in m.text() for m in mails.values())


# --- where people see it ------------------------------------------------------------------------------


def test_the_meeting_page_and_the_api_show_the_link(client: Any, db: Session) -> None:
    mentor, mentee = pair(db)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor)
    login(client, mentee)
    page = client.get(f"/meetings/{meeting.id}").get_data(as_text=True)
    assert f'href="{meeting.video_url}"' in page
    listed = client.get("/meetings").get_data(as_text=True)
    assert f'href="{meeting.video_url}"' in listed
    answer = client.get(f"/api/v1/meetings/{meeting.id}")
    assert answer.status_code == 200 and answer.get_json()["join_url"] == meeting.video_url
    meeting_svc.cancel(db, meeting, actor=mentee, reason="Ill", now=NOW)
    assert meeting.video_url not in client.get(f"/meetings/{meeting.id}").get_data(as_text=True)


def test_admins_set_the_video_settings_and_a_bad_template_changes_nothing(client: Any, db: Session) -> None:
    program = make_program(db)
    login(client, make_admin(db))
    page = client.get("/admin/settings").get_data(as_text=True)
    assert 'name="video_links"' in page and 'name="video_url_template"' in page
    form = {"name": program.name, "slot_minutes": "30", "buffer_minutes": "0", "lead_time_hours": "24",
            "survey_delay_hours": "2", "mentoring_mode": "one_time", "availability_mode": "weekly_slots"}
    bad = client.post("/admin/settings", data={**form, "video_links": "y",
                                               "video_url_template": "https://meet.example.org/{who}"})
    assert bad.status_code == 422 and "may use only {meeting_id}, {room}" in bad.get_data(as_text=True)
    db.refresh(program)
    assert (program.video_links, program.video_url_template) == (False, "")

    good = client.post("/admin/settings", data={**form, "video_links": "y", "video_url_template": TEMPLATE})
    assert good.status_code == 303
    db.refresh(program)
    assert (program.video_links, program.video_url_template) == (True, TEMPLATE)


def test_a_template_is_checked_by_the_service(db: Session) -> None:
    program = make_program(db)
    update_settings(db, program, {"video_url_template": "  https://meet.example.org/x-{meeting_id}  "})
    assert program.video_url_template == "https://meet.example.org/x-{meeting_id}"
    update_settings(db, program, {"video_url_template": ""})
    assert program.video_url_template == ""


def test_the_api_changes_the_video_settings_and_refuses_a_bad_template(client: Any, db: Session) -> None:
    program = make_program(db)
    login(client, make_admin(db))
    bad = client.patch("/api/v1/program", json={"video_links": True, "video_url_template": "javascript:x"})
    assert bad.status_code == 422 and bad.get_json()["error"]["field"] == "video_url_template"
    db.refresh(program)
    assert (program.video_links, program.video_url_template) == (False, "")
    good = client.patch("/api/v1/program", json={"video_links": True, "video_url_template": TEMPLATE})
    assert good.status_code == 200
    shown = good.get_json()["program"]
    assert (shown["video_links"], shown["video_url_template"]) == (True, TEMPLATE)


def test_the_mentees_copy_in_another_tenant_carries_the_organizers_meet(
    db: Session, google_fake: GoogleFake, google: Any, graph_fake: GraphFake, microsoft: Any
) -> None:
    """The organizer's calendar makes the one link; a copy written after it carries that link and
    asks its own provider for nothing (no second conference)."""
    mentor, mentee = pair(db)
    google_fake.store.add_calendar(mentor.email)
    tenants.connect_account(db, person=mentor, tenant=google)
    graph_fake.store.add_calendar(mentee.email)
    tenants.connect_account(db, person=mentee, tenant=microsoft)
    start = (datetime.now(UTC) + timedelta(days=3)).replace(hour=10, minute=0, second=0, microsecond=0)
    meeting = make_meeting(db, program=video_program(db), mentee=mentee, mentor=mentor, start=start,
                           now=datetime.now(UTC))

    result = calendar_jobs.write_meeting_events(meeting.id, session=db)
    db.refresh(meeting)
    assert sorted(result.created) == sorted([mentor.id, mentee.id])
    assert meeting.video_url.startswith("https://meet.google.com/")
    [copy] = graph_fake.store.live_events(mentee.email)
    assert copy.join_url == "" and copy.location == meeting.video_url
    assert f"Join the video call: {meeting.video_url}" in copy.description
