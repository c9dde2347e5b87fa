"""What every page shares besides its layout: the site icon at the address browsers ask for.

``base.html`` links ``static/favicon.svg``; clients that ask ``/favicon.ico`` anyway (feed readers,
bookmarks, pages that are not HTML) get the same icon instead of a 404 in every log.
"""

from __future__ import annotations

from flask import Flask, Response, current_app, send_from_directory

FAVICON = "favicon.svg"


def favicon() -> Response:
    folder = current_app.static_folder
    assert folder is not None
    return send_from_directory(folder, FAVICON, mimetype="image/svg+xml", max_age=86400)


def init_look(app: Flask) -> None:
    app.add_url_rule("/favicon.ico", "favicon", favicon)
