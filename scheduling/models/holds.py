"""A pending request's tentative hold in the mentor's calendar, one per proposed time.

The hold is an invitation to the mentor for that time, written by the worker through the
mentor's calendar connector (``worker.request_holds``); the mentor's answer to it in their
calendar app answers the request. A row exists while the event does: the worker writes the
event, then stores the row; it removes the event, then deletes the row.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from scheduling.db import Base, UTCDateTime, utcnow


class RequestHold(Base):
    __tablename__ = "request_holds"
    __table_args__ = (UniqueConstraint("request_id", "proposed_time_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("meeting_requests.id", ondelete="CASCADE"), index=True)
    proposed_time_id: Mapped[int] = mapped_column(ForeignKey("proposed_times.id", ondelete="CASCADE"))
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id", ondelete="CASCADE"))  # whose calendar
    tenant_id: Mapped[int] = mapped_column(ForeignKey("calendar_tenants.id", ondelete="CASCADE"))
    uid: Mapped[str] = mapped_column(String(255), unique=True)
    calendar_id: Mapped[str] = mapped_column(String(500), default="")
    event_id: Mapped[str] = mapped_column(String(500))
    etag: Mapped[str] = mapped_column(String(200), default="")
    start_at: Mapped[datetime] = mapped_column(UTCDateTime)
    end_at: Mapped[datetime] = mapped_column(UTCDateTime)
    # The mentor's last answer read from the calendar (a PARTSTAT in lower case; "" none yet).
    answer: Mapped[str] = mapped_column(String(20), default="")
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
