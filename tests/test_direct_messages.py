"""A mentee writes to a mentor before any request (seed 002), from the mentor's card; the mentor
answers; nobody else reads or writes first; the hidden directory's rule holds."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from scheduling import mentor_visibility
from scheduling.errors import Forbidden, ValidationFailed
from scheduling.models import DirectMessage, MeetingRequest, Notification
from scheduling.services import direct_messages as svc
from tests.factories import count_rows, login, make_mentee, make_mentor, make_program


def test_a_mentee_writes_first_and_the_mentor_answers(db: Session) -> None:
    program = make_program(db)
    mentor, mentee, other_mentor = make_mentor(db, name="Grace"), make_mentee(db, name="Ada"), make_mentor(db)
    with pytest.raises(Forbidden):  # a mentor does not write first
        svc.send(db, program, mentor, mentee, "Want to meet?")
    with pytest.raises(Forbidden):
        svc.send(db, program, other_mentor, mentor, "Hello colleague")
    with pytest.raises(ValidationFailed):
        svc.send(db, program, mentee, mentor, "   ")
    assert count_rows(db, DirectMessage)["DirectMessage"] == 0

    svc.send(db, program, mentee, mentor, "Do you mentor on public speaking?")
    note = db.scalars(select(Notification).where(Notification.person_id == mentor.id)).one()
    assert note.link == f"/messages/{mentee.id}" and "Ada wrote to you" in note.title
    svc.send(db, program, mentor, mentee, "Yes, ask me for a meeting.")  # an answer is allowed
    assert [m.body for m in svc.conversation(db, mentee, mentor)] == [
        "Do you mentor on public speaking?", "Yes, ask me for a meeting."]
    assert [c.other.id for c in svc.inbox(db, mentor)] == [mentee.id]
    assert count_rows(db, MeetingRequest)["MeetingRequest"] == 0  # no request was needed


def test_with_the_directory_hidden_only_a_mentor_the_mentee_may_see_is_written_to(db: Session) -> None:
    program = make_program(db, directory_hidden=True)
    mentee = make_mentee(db)
    mentors = [make_mentor(db) for _ in range(12)]
    visible = set(mentor_visibility.visible_mentor_ids(db, program, mentee) or [])
    hidden = next(m for m in mentors if m.id not in visible)
    with pytest.raises(Forbidden):
        svc.send(db, program, mentee, hidden, "Hello")
    shown = next(m for m in mentors if m.id in visible)
    svc.send(db, program, mentee, shown, "Hello")


def test_the_mentor_card_sends_a_message_and_the_mentor_replies_on_the_page(client: Any, db: Session) -> None:
    make_program(db)
    mentor, mentee = make_mentor(db, name="Grace Mentor"), make_mentee(db, name="Ada Mentee")
    stranger = make_mentee(db, name="Sam Stranger")
    login(client, mentee)
    card = client.get(f"/mentors/{mentor.id}").get_data(as_text=True)
    assert f'action="/messages/{mentor.id}"' in card and "Send a message" in card
    empty = client.post(f"/messages/{mentor.id}", data={"body": ""})
    assert empty.status_code == 422 and 'id="body-error"' in empty.get_data(as_text=True)
    long = client.post(f"/messages/{mentor.id}", data={"body": "x" * 2001})
    assert long.status_code == 422 and "Message is too long" in long.get_data(as_text=True)
    assert count_rows(db, DirectMessage)["DirectMessage"] == 0
    sent = client.post(f"/messages/{mentor.id}", data={"body": "Could we talk about sales?"})
    assert sent.status_code == 302 and sent.headers["Location"].startswith(f"/messages/{mentor.id}")

    login(client, mentor)
    inbox = client.get("/messages").get_data(as_text=True)
    assert "Ada Mentee" in inbox and "Could we talk about sales?" in inbox
    page = client.get(f"/messages/{mentee.id}").get_data(as_text=True)
    assert "Could we talk about sales?" in page and 'id="compose"' in page
    assert client.post(f"/messages/{mentee.id}", data={"body": "Sure, pick a time."}).status_code == 302
    assert client.get(f"/messages/{stranger.id}").status_code == 404  # no conversation, may not start one
    assert client.post(f"/messages/{stranger.id}", data={"body": "Hi"}).status_code == 404

    login(client, stranger)  # a third person reads nothing of it
    assert client.get(f"/messages/{mentee.id}").status_code == 404
    assert "Could we talk" not in client.get("/messages").get_data(as_text=True)
    login(client, mentee)
    assert "Sure, pick a time." in client.get(f"/messages/{mentor.id}").get_data(as_text=True)
    assert count_rows(db, DirectMessage)["DirectMessage"] == 2


def test_the_api_writes_reads_and_refuses_like_the_pages(client: Any, db: Session) -> None:
    make_program(db)
    mentor, mentee, stranger = make_mentor(db, name="Grace"), make_mentee(db, name="Ada"), make_mentee(db)
    login(client, mentor)
    refused = client.post(f"/api/v1/messages/{mentee.id}", json={"body": "Hi"})
    assert refused.status_code == 404  # a mentor does not write first
    login(client, mentee)
    assert client.post(f"/api/v1/messages/{mentor.id}", json={"body": " "}).status_code == 422
    assert client.post(f"/api/v1/messages/{mentor.id}", json={}).status_code in (400, 422)
    sent = client.post(f"/api/v1/messages/{mentor.id}", json={"body": "Free next week?"})
    assert sent.status_code == 201 and sent.json["message"]["body"] == "Free next week?"

    login(client, mentor)
    inbox = client.get("/api/v1/messages").json["conversations"]
    assert [(c["person_id"], c["count"]) for c in inbox] == [(mentee.id, 1)]
    thread = client.get(f"/api/v1/messages/{mentee.id}").json
    assert thread["can_write"] is True and [m["body"] for m in thread["messages"]] == ["Free next week?"]
    assert client.post(f"/api/v1/messages/{mentee.id}", json={"body": "Yes"}).status_code == 201
    login(client, stranger)
    assert client.get(f"/api/v1/messages/{mentee.id}").status_code == 404
    assert client.get("/api/v1/messages").json["conversations"] == []
    assert count_rows(db, DirectMessage)["DirectMessage"] == 2
