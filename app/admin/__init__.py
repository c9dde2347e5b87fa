"""Server-rendered pages for program admins (settings, people, requests, tenants, surveys, report)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("admin", __name__, url_prefix="/admin")
