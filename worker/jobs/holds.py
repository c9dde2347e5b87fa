"""The job that keeps a request's holds in the mentor's calendar in line with the request."""

from __future__ import annotations

from worker import request_holds, runtime


def update_holds(request_id: int) -> dict[str, list[int]]:
    """Write the holds the request should have now and remove the rest (a no-op when in line)."""
    with runtime.session_scope() as db:
        result = request_holds.write_holds(request_id, session=db, base_url=runtime.base_url())
    return {"written": result.written, "removed": result.removed}
