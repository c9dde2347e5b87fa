"""What the pages call a request's state (its list, its page, and a meeting's follow-ups)."""

from __future__ import annotations

from scheduling.models import RequestState

STATE_LABELS = {
    RequestState.PENDING: "Waiting for an answer",
    RequestState.ACCEPTED: "Accepted",
    RequestState.COUNTERED: "Another time proposed",
    RequestState.DECLINED: "Declined",
    RequestState.EXPIRED: "Closed (no answer in time)",
    RequestState.WITHDRAWN: "Withdrawn",
}
