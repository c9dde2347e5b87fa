"""``<int:...>`` in a route matches only ids a database column can hold.

An id past 2^63-1 reached PostgreSQL as an out-of-range bigint and answered 500
(``POST /admin/recommendations/<2^63>/remove``). Replacing Flask's ``int`` converter bounds
every route at once: a larger number matches no route and answers 404, like any unknown id.
"""

from __future__ import annotations

from typing import Any

from flask import Flask
from werkzeug.routing import IntegerConverter, Map

from scheduling.db import MAX_ID


class RowIdConverter(IntegerConverter):
    def __init__(self, map: Map, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)


def init_id_converter(app: Flask) -> None:
    """Install before any blueprint is registered (rules look their converter up when added)."""
    app.url_map.converters["int"] = RowIdConverter
