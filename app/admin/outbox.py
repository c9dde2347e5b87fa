"""The mail outbox ("Mail sent"): what the product emailed, for a demo or development installation.

Only when ``MAIL_OUTBOX_DIR`` (``FLASHMENTOR_MAIL_OUTBOX``) is set: the worker keeps a copy of every
mail there (``worker/outbox.py``); otherwise mail goes to a real server and this page is not there.
"""

from __future__ import annotations

from typing import Any

from flask import abort, current_app, render_template

from app.admin import bp
from worker import outbox

SHOWN = 100


def outbox_enabled() -> bool:
    return bool(current_app.config.get("MAIL_OUTBOX_DIR"))


@bp.get("/outbox")
def outbox_page() -> Any:
    if not outbox_enabled():
        abort(404, description="The mail outbox is off: mail goes to the mail server "
                               "(set FLASHMENTOR_MAIL_OUTBOX to a folder to keep a copy here).")
    mails = outbox.recent(current_app.config["MAIL_OUTBOX_DIR"], limit=SHOWN)
    return render_template("admin/outbox.html", mails=mails, shown=SHOWN)
