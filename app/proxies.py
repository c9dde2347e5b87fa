"""The client's address and scheme behind reverse proxies.

Behind a load balancer every request comes from the proxy's address, so the per-client sign-in
limit (``app.signin_limits``) would count the whole organisation as one client and the
``/metrics`` network allow-list would see only the proxy. With ``TRUSTED_PROXIES`` = N (the
number of proxies in front of the app, each appending to ``X-Forwarded-For``), werkzeug's
``ProxyFix`` takes the client from the Nth address from the right of ``X-Forwarded-For`` and
the scheme from ``X-Forwarded-Proto``. 0 (the default) trusts no header: a client could
otherwise name any address and escape its limit.
"""

from __future__ import annotations

from flask import Flask
from werkzeug.middleware.proxy_fix import ProxyFix


def trust_proxies(app: Flask) -> None:
    """Wrap the WSGI app in ``ProxyFix`` for ``TRUSTED_PROXIES`` hops (0: leave it as it is)."""
    raw = app.config.get("TRUSTED_PROXIES") or 0
    try:
        hops = int(raw)
    except (TypeError, ValueError):
        raise ValueError(f"TRUSTED_PROXIES must be a whole number of proxies, not {raw!r}.") from None
    if hops < 0:
        raise ValueError(f"TRUSTED_PROXIES must be 0 or more, not {hops}.")
    if hops:
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops)  # type: ignore[method-assign]
