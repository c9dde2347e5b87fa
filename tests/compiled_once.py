"""What every ``create_app`` of a test run would compile again, compiled once per run.

Every test that uses ``app`` calls ``create_app``. Registering its ~200 routes makes werkzeug
generate and ``compile()`` two Python URL-builder functions per rule (~60 ms of the ~90 ms an app
costs), and each new app's Jinja environment compiles every template it renders again (~10 ms a
template). Both are pure functions of their input, so the run keeps what was compiled:

- URL builders: a builder depends only on the rule's parsed parts, its defaults and
  ``append_unknown``; the function werkzeug generated for the same inputs is bound to each new
  ``Rule`` as werkzeug binds it. Matching, converters and the app stay werkzeug's own.
- Templates: Jinja's documented bytecode cache (``jinja_options["bytecode_cache"]``), keyed by the
  template's name and a checksum of its source, so an edited template is compiled again.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable

from flask import Flask
from jinja2.bccache import Bucket, BytecodeCache
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


class TemplateCache(BytecodeCache):
    """Compiled templates in memory, shared by every app of this process."""

    def __init__(self) -> None:
        self.compiled: dict[str, bytes] = {}

    def load_bytecode(self, bucket: Bucket) -> None:
        code = self.compiled.get(bucket.key)
        if code is not None:
            bucket.bytecode_from_string(code)

    def dump_bytecode(self, bucket: Bucket) -> None:
        self.compiled[bucket.key] = bucket.bytecode_to_string()


TEMPLATES = TemplateCache()


def install() -> None:
    """Make werkzeug and every Flask app of this process reuse what was compiled (idempotent)."""
    Rule._compile_builder = _compile_builder  # type: ignore[method-assign,assignment]
    Flask.jinja_options = {**Flask.jinja_options, "bytecode_cache": TEMPLATES}
