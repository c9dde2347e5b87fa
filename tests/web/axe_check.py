"""axe-core in the browser: a page has no serious or critical accessibility violation."""

from __future__ import annotations

from typing import Any

from axe_playwright_python.sync_playwright import Axe

BLOCKING = ("serious", "critical")
_axe = Axe()


def blocking_violations(page: Any) -> list[str]:
    """``rule id: help (n nodes)`` for each serious or critical violation axe finds on the page."""
    results = _axe.run(page)
    return [f"{v['id']}: {v['help']} ({len(v['nodes'])} nodes: {v['nodes'][0]['target']})"
            for v in results.response["violations"] if v.get("impact") in BLOCKING]


def assert_accessible(page: Any) -> None:
    found = blocking_violations(page)
    assert not found, f"{page.url}: " + "; ".join(found)
