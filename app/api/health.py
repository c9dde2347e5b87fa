from __future__ import annotations

from typing import Any

from sqlalchemy import text

from app.api import bp
from app.db import db


@bp.get("/health")
def health() -> Any:
    db().execute(text("SELECT 1"))
    return {"status": "ok"}
