"""The flash-mentoring domain: people, programs, requests, meetings, surveys, reports.

Nothing here imports Flask or a calendar provider SDK; callers pass a SQLAlchemy
``Session`` and receive domain objects or :mod:`scheduling.errors` exceptions.
"""
