"""Issue 17's leftovers on the admin side and in mail: a program that calls its people "learners"
and "guides" (seed 003's terminology) reads those words on the admin pages and in the bulk
recommendation's email, which each mentee really receives; and a request's skill shows in the
person's requests list and in the admin's pending-requests monitor."""

from __future__ import annotations

import re
from datetime import timedelta
from html import unescape
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.models import Person, Program
from scheduling.services.competencies import add_skill
from scheduling.services.people import set_skills
from scheduling.services.top_recommendations import push_top
from tests.factories import NOW, login, make_admin, make_mentee, make_mentor, make_program, make_request
from tests.worker_harness import Life, life

__all__ = ["life"]  # the fixture

ADMIN_PAGES = (
    "/admin/requests", "/admin/recommendations", "/admin/routing", "/admin/report", "/admin/surveys",
)
DEFAULT_WORDS = re.compile(r"\b(?:[Mm]entors?|[Mm]entees?)(?:'s?)?\b")


def termed_program(db: Session, **kw: Any) -> Program:
    return make_program(db, mentee_term="learner", mentor_term="guide", **kw)


def words(html: str) -> str:
    """The page's visible text: tags, scripts and styles dropped, entities resolved."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    return unescape(re.sub(r"<[^>]+>", " ", html))


def main_text(html: str) -> str:
    """The text of the page's <main> (the shared navigation has its own test)."""
    found = re.search(r"<main\b.*?</main>", html, flags=re.S)
    assert found, "page has no <main>"
    return words(found.group(0))


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_admin_pages_use_the_programs_terms(client: Any, db: Session, path: str) -> None:
    termed_program(db)
    login(client, make_admin(db))
    res = client.get(path)
    assert res.status_code == 200
    text = main_text(res.get_data(as_text=True))
    leftover = sorted(set(DEFAULT_WORDS.findall(text)))
    assert not leftover, f"{path} still says {leftover}"
    assert re.search(r"\b(?:[Ll]earners?|[Gg]uides?)\b", text), f"{path} names neither side"


def test_the_monitor_and_the_recommendations_page_name_each_side_in_the_programs_words(
    client: Any, db: Session
) -> None:
    termed_program(db)
    login(client, make_admin(db))
    monitor = words(client.get("/admin/requests").get_data(as_text=True))
    assert "Learner" in monitor and "Guide" in monitor
    recs = words(client.get("/admin/recommendations").get_data(as_text=True))
    for phrase in ("Recommend guides", "Recommend the top guides to every learner", "Guides per learner",
                   "Note to the learner (optional)"):
        assert phrase in recs, phrase


def _offering(db: Session, name: str, level: int) -> Person:
    guide = make_mentor(db, name=name)
    set_skills(db, guide, {"offers": [{"name": "Negotiation", "level": level}]})
    return guide


def test_each_learner_receives_one_email_naming_their_guides(life: Life) -> None:
    db = life.db
    program = termed_program(db, availability_mode="free_text")
    for i, level in enumerate((5, 4, 3)):
        _offering(db, f"Guide {chr(65 + i)}", level)
    learners = [make_mentee(db, name=f"Learner {i}", email=f"learner{i}@example.com") for i in range(2)]
    for learner in learners:
        set_skills(db, learner, {"wants": ["Negotiation"]})

    result = push_top(db, program, make_admin(db), 2, now=life.at(NOW))
    assert (result.mentees, result.pushed) == (2, 4)
    life.run_until(NOW + timedelta(minutes=1))

    for learner in learners:
        [mail] = life.mail.to(learner.email)
        assert mail.subject.startswith("2 guides recommended for you: Guide ")
        assert "Your program admin picked these guides for you." in mail.text()
        assert learner.name in mail.text()
        assert not DEFAULT_WORDS.search(mail.subject + mail.text()), mail.text()


def test_a_requests_skill_shows_in_the_requests_list_and_the_admins_monitor(client: Any, db: Session) -> None:
    program = make_program(db)
    add_skill(db, "Python")
    mentor, mentee = make_mentor(db), make_mentee(db)
    make_request(db, program=program, mentee=mentee, mentor=mentor, topic="Typing my code", skill="python")
    make_request(db, program=program, mentee=make_mentee(db), mentor=mentor, topic="No skill named")

    for person in (mentee, mentor):
        login(client, person)
        page = words(client.get("/requests").get_data(as_text=True))
        assert re.search(r"Typing my code\s+Skill: Python", page), page
    login(client, make_admin(db))
    monitor = words(client.get("/admin/requests").get_data(as_text=True))
    assert re.search(r"Typing my code\s+Skill: Python", monitor)
    assert monitor.count("Skill: ") == 1  # the request without a skill says nothing


# --- the people's pages --------------------------------------------------------------------------------

MENTEE_PAGES = (
    "/home", "/mentors", "/requests", "/messages", "/profile", "/routing/new", "/notifications/preferences",
)
MENTOR_PAGES = ("/mentoring", "/profile", "/availability", "/mentees", "/requests")


@pytest.mark.parametrize(("side", "path"), [("mentee", p) for p in MENTEE_PAGES] +
                         [("mentor", p) for p in MENTOR_PAGES])
def test_the_peoples_pages_use_the_programs_terms(client: Any, db: Session, side: str, path: str) -> None:
    termed_program(db, availability_mode="free_text", mentors_may_create=True, admin_routed=True)
    guide = make_mentor(db, name="Gil Guide")
    learner = make_mentee(db, name="Lea Learner")
    login(client, learner if side == "mentee" else guide)
    res = client.get(path)
    assert res.status_code == 200, res.status_code
    text = main_text(res.get_data(as_text=True))
    leftover = sorted(set(DEFAULT_WORDS.findall(text)))
    assert not leftover, f"{path} still says {leftover}"
