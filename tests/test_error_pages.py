"""Error pages are pages of the site: the layout's stylesheet, icon and navigation, a heading that says
what happened, and a way back. When the navigation cannot be built (the database is away) the page
still renders, with only the brand in its header. ``/favicon.ico`` is the site icon, not a 404."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from tests.factories import login, make_mentee, make_mentor, make_program


@pytest.fixture
def app(fresh_app: Flask) -> Flask:
    """Tests here add routes that fail: an app of their own."""
    return fresh_app


def _nav(page: str) -> str:
    found = re.search(r'<nav aria-label="Main">(.*?)</nav>', page, re.S)
    assert found, page
    return found.group(1)


def _in_layout(page: str) -> None:
    assert '<link rel="stylesheet" href="/static/app.css">' in page
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    assert 'href="/">Back to start</a>' in page and "Traceback" not in page


def test_a_404_is_a_page_of_the_site_with_navigation_and_a_way_back(client: Any, db: Session) -> None:
    make_program(db)
    mentee = make_mentee(db)
    login(client, mentee)
    answer = client.get("/meetings/424242", headers={"Referer": "http://localhost/meetings"})
    page = answer.get_data(as_text=True)
    assert answer.status_code == 404
    _in_layout(page)
    assert "<title>Page not found · Flashmentor</title>" in page and ">Page not found</h1>" in page
    assert "No such meeting." in page
    nav = _nav(page)
    assert 'href="/meetings">Meetings</a>' in nav and "Sign out" in nav and mentee.name in nav
    assert 'href="/meetings">Back to the previous page</a>' in page


def test_a_403_says_so_in_the_layout(client: Any, db: Session) -> None:
    make_program(db)
    login(client, make_mentor(db))
    answer = client.get("/home")  # a mentee's page
    page = answer.get_data(as_text=True)
    assert answer.status_code == 403
    _in_layout(page)
    assert ">You cannot open this page</h1>" in page and "Sign out" in _nav(page)
    assert "Back to the previous page" not in page  # no referrer: no second way back


def test_a_500_shows_no_details_and_keeps_the_layout(app: Flask, db: Session) -> None:
    make_program(db)
    app.config["PROPAGATE_EXCEPTIONS"] = False  # as in production: the handler answers

    @app.get("/boom")
    def boom() -> Any:
        raise RuntimeError("secret internals")

    client = app.test_client()
    login(client, make_mentee(db))
    answer = client.get("/boom")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 500
    _in_layout(page)
    assert ">Something went wrong on our side</h1>" in page and "secret internals" not in page
    assert "Sign out" in _nav(page)


def test_with_the_database_away_the_error_page_still_renders_bare(database_url: str, tmp_path: Any) -> None:
    from app import create_app

    url = (f"sqlite:///{tmp_path / 'no-such-dir' / 'db.sqlite'}" if database_url.startswith("sqlite")
           else "postgresql+psycopg://postgres@127.0.0.1:1/nothing?connect_timeout=2")
    app = create_app({"TESTING": True, "DATABASE_URL": url, "SECRET_KEY": "test", "RATELIMIT_ENABLED": False})
    client = app.test_client()
    with client.session_transaction() as s:
        s["person_id"] = 1  # signed in: the navigation would need the database
    answer = client.get("/meetings")
    page = answer.get_data(as_text=True)
    assert answer.status_code == 503
    _in_layout(page)
    assert ">Flashmentor is briefly unavailable</h1>" in page and "database cannot be reached" in page
    assert _nav(page).strip() == '<a class="brand" href="/">Flashmentor</a>'
    app.extensions["db_engine"].dispose()


def test_favicon_is_served_where_browsers_ask_for_it(client: Any) -> None:
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/svg+xml"
    assert icon.data.startswith(b"<svg") and icon.data == client.get("/static/favicon.svg").data
