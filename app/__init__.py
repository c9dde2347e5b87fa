"""The Flask app factory. Thin: routes parse input, call ``scheduling``, render output."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_wtf.csrf import CSRFProtect

csrf = CSRFProtect()
# Limits are declared per route (sign-in); RATELIMIT_ENABLED/RATELIMIT_STORAGE_URI come from config.
limiter = Limiter(key_func=get_remote_address)


def create_app(overrides: dict[str, Any] | None = None) -> Flask:
    from app import config
    from app.db import init_db
    from app.errors import init_errors
    from app.resilience import init_resilience

    app = Flask(__name__, instance_relative_config=False)
    app.config.update(config.from_env())
    if overrides:
        app.config.update(overrides)
    app.json.sort_keys = False  # type: ignore[attr-defined]
    from app.proxies import trust_proxies

    trust_proxies(app)  # behind reverse proxies: the real client address (sign-in limits, /metrics)
    init_resilience(app)  # deadlines, rate-limit store options, calendar budget, 503 when the DB is down
    from app.observability import init_observability

    init_observability(app)  # request ids, JSON logs, latency metrics, /metrics
    from app.signin_gate import init_signin_gate

    init_signin_gate(app)  # a login storm cannot take every thread

    from app.id_converter import init_id_converter

    init_id_converter(app)  # <int:...> stops at the largest id a column holds (else a 500 on PostgreSQL)
    init_db(app)
    init_errors(app)
    from app.look import init_look

    init_look(app)  # the site icon, also at /favicon.ico
    csrf.init_app(app)
    limiter.init_app(app)

    from app.api import bp as api_bp

    csrf.exempt(api_bp)
    app.register_blueprint(api_bp)

    from app.api.calendar_push import bp as push_bp

    csrf.exempt(push_bp)  # providers' change notifications: no cookies, checked by token
    app.register_blueprint(push_bp)

    from app.admin import bp as admin_bp
    from app.web import bp as web_bp

    app.register_blueprint(web_bp)
    app.register_blueprint(admin_bp)

    from app.sso import admin_bp as sso_admin_bp
    from app.sso import bp as sso_bp

    app.register_blueprint(sso_bp)
    app.register_blueprint(sso_admin_bp)

    from app.scim import bp as scim_bp

    csrf.exempt(scim_bp)  # provisioning clients: no cookies, a bearer token per identity provider
    app.register_blueprint(scim_bp)

    from worker import startup

    # Calendar and identity providers (scheduling reaches them only through calendars' interfaces)
    # and the busy cache (memory in TESTING).
    startup.wire(app.config, app.extensions["db_sessions"])

    from app.cli import register_cli

    register_cli(app)
    if app.config.get("JOBS_ENABLED") and not app.config.get("TESTING"):
        # Work planned by a request is handed to the worker as soon as it commits (tests
        # install this where they need it).
        startup.install(app.config)
    return app
