"""Reuse werkzeug's generated URL builders across the many apps a test run creates.

Every test that uses ``app`` calls ``create_app``; registering its ~200 routes makes werkzeug
generate and ``compile()`` two Python builder functions per rule, a third of the suite's CPU
time. A builder depends only on the rule's parsed parts, its defaults and ``append_unknown``,
so the code werkzeug generates for the same inputs is the same function: it is made once per
run and bound to each new ``Rule`` as werkzeug binds it. Matching, converters and the app stay
werkzeug's own; only the repeated code generation is skipped.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from werkzeug.routing.rules import Rule

Builder = Callable[..., tuple[str, str]]

_generate: Callable[[Rule, bool], Builder] = Rule._compile_builder
_builders: dict[Hashable, Builder] = {}


def _key(rule: Rule, append_unknown: bool) -> Hashable:
    defaults = rule.defaults or {}
    resolved = tuple(
        (name, type(rule._converters[name]), rule._converters[name].to_url(value))
        if name in rule._converters
        else (name, repr(value))
        for name, value in defaults.items()
    )
    return (rule.rule, tuple(rule._trace), resolved, append_unknown)


def _compile_builder(self: Rule, append_unknown: bool = True) -> Builder:
    key = _key(self, append_unknown)
    builder = _builders.get(key)
    if builder is None:
        builder = _builders[key] = _generate(self, append_unknown)
    return builder


def install() -> None:
    """Make werkzeug's builder generation reuse what it generated before (idempotent)."""
    Rule._compile_builder = _compile_builder  # type: ignore[method-assign,assignment]

