"""The run-wide cache of werkzeug URL builders (tests/route_builders.py) builds the same URLs
as werkzeug's own generation, for every route of the app, with and without query arguments."""

from __future__ import annotations

from typing import Any

from werkzeug.routing import Map, Rule
from werkzeug.routing.converters import AnyConverter, NumberConverter

from tests import route_builders


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
        own._build = route_builders._generate(own, False).__get__(own, None)
        own._build_unknown = route_builders._generate(own, True).__get__(own, None)
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
