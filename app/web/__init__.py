"""Server-rendered pages for mentees and mentors (sign-in, directory, requests, meetings)."""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("web", __name__)
