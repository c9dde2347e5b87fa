"""Single sign-on with OpenID Connect: the sign-in routes (``sso``) and the admin pages (``sso_admin``).

Routes only carry values between the browser session and :mod:`scheduling.oidc` /
:mod:`scheduling.services.sso_signin`; every check lives there.
"""

from __future__ import annotations

from flask import Blueprint

bp = Blueprint("sso", __name__)
admin_bp = Blueprint("sso_admin", __name__, url_prefix="/admin/identity")

from app.sso import admin, signin  # noqa: E402,F401
