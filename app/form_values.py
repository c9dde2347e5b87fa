"""Posted form text turned into the JSON-like values the services judge (admin and web forms alike).

Kept outside the ``admin`` and ``web`` packages so either can use it without importing the
other's blueprint.
"""

from __future__ import annotations


def as_int_or_text(raw: str) -> int | str:
    """A whole number when the text is one (so the service judges the range), else the text itself
    (so the service refuses it with its own message)."""
    text = raw.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    return text
