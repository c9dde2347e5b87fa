"""What tests/compiled_once.py keeps for the whole run gives what compiling again would: every route's
URL builder builds werkzeug's URLs, with and without query arguments, and templates render their
current source."""

from __future__ import annotations

import re
from typing import Any

from jinja2 import DictLoader, Environment
from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import AnyConverter, NumberConverter

from tests import compiled_once


def _value(converter: Any) -> Any:
    if isinstance(converter, NumberConverter):
        return 7
    if isinstance(converter, AnyConverter):
        return sorted(converter.items)[0]
    return "a b/é"  # text that needs quoting


def _values(rule: Rule) -> dict[str, Any]:
    defaults = rule.defaults or {}
    return {name: _value(rule._converters[name]) for name in rule.arguments if name not in defaults}


def test_every_route_builds_the_same_url_as_werkzeug_generates(app: Any) -> None:
    rules = list(app.url_map.iter_rules())
    assert len(rules) > 100
    for cached in rules:
        fresh = Map(converters=app.url_map.converters)
        own = cached.empty()
        fresh.add(own)  # compiled again through the cache; regenerate werkzeug's own below
        own._build = compiled_once._generate(own, False).__get__(own, None)
        own._build_unknown = compiled_once._generate(own, True).__get__(own, None)
        values = _values(cached)
        assert cached.build(values) == own.build(values), cached.rule
        extra = {**values, "next": "/x?y=1", "page": 2}
        assert cached.build(extra, append_unknown=True) == own.build(extra, append_unknown=True), cached.rule


def test_a_second_app_reuses_the_generated_builders(app: Any) -> None:
    from app import create_app

    other = create_app({"TESTING": True, "DATABASE_URL": app.config["DATABASE_URL"], "SECRET_KEY": "x"})
    try:
        first = {r.endpoint: r._build.__func__ for r in app.url_map.iter_rules()}
        second = {r.endpoint: r._build.__func__ for r in other.url_map.iter_rules()}
        assert first == second
        with other.test_request_context():
            from flask import url_for

            assert url_for("static", filename="a b.css") == "/static/a%20b.css"
    finally:
        other.extensions["db_engine"].dispose()


def _without_csrf_token(page: str) -> str:
    return re.sub(r'name="csrf_token"[^>]*>', "", page)


def test_a_second_app_renders_templates_from_the_run_wide_cache(client: Any) -> None:
    from app import create_app

    first = client.get("/signin")
    assert first.status_code == 200
    assert compiled_once.TEMPLATES.compiled
    other = create_app({"TESTING": True, "DATABASE_URL": client.application.config["DATABASE_URL"],
                        "SECRET_KEY": "x", "WTF_CSRF_ENABLED": False})
    try:
        assert other.jinja_env.bytecode_cache is compiled_once.TEMPLATES
        second = other.test_client().get("/signin").get_data(as_text=True)
        assert _without_csrf_token(second) == _without_csrf_token(first.get_data(as_text=True))
    finally:
        other.extensions["db_engine"].dispose()


def test_an_edited_template_is_compiled_again() -> None:
    cache = compiled_once.TemplateCache()
    sources = {"page.html": "before {{ n }}"}

    def render(n: int) -> str:
        env = Environment(loader=DictLoader(sources), bytecode_cache=cache)
        return env.get_template("page.html").render(n=n)

    assert render(1) == "before 1"
    assert cache.compiled
    sources["page.html"] = "after {{ n }}"
    assert render(2) == "after 2"
