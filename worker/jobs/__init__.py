"""RQ job functions, one module per family, and which kind of timed work each one runs.

Jobs take ids (and the version of the thing they were planned for), load the rows,
and do nothing when the thing moved on since: an answered request is not reminded, a
moved meeting's old reminder stays silent. Every job may run twice (a retry, a relay
after Redis lost its memory, a recovered crash) and changes nothing more the second time.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from scheduling.models import WorkKind
from worker.jobs import calendars, holds, meetings, notices, notifications, requests, surveys

JOBS: dict[WorkKind, Callable[..., Any]] = {
    WorkKind.REQUEST_CREATED: requests.notify_request_created,
    WorkKind.REQUEST_ANSWERED: requests.notify_request_answered,
    WorkKind.REQUEST_REMINDER: requests.remind_request,
    WorkKind.REQUEST_AUTO_CLOSE: requests.auto_close_request,
    WorkKind.CALENDAR_WRITE: meetings.write_calendar,
    WorkKind.CALENDAR_CANCEL: meetings.cancel_calendar,
    WorkKind.REQUEST_HOLDS: holds.update_holds,
    WorkKind.MEETING_INVITE: meetings.send_meeting_invite,
    WorkKind.MEETING_REMINDER: meetings.remind_meeting,
    WorkKind.ACTION_PLAN_REMINDER: meetings.remind_action_plan,
    WorkKind.SURVEY_INVITE: surveys.invite_survey,
    WorkKind.SURVEY_REMINDER: surveys.remind_survey,
    WorkKind.TENANT_SYNC: calendars.sync_calendars,
    WorkKind.ENSURE_PUSH: calendars.ensure_push,
    WorkKind.SYNC_ROUND: calendars.sync_round,
    WorkKind.PUSH_ROUND: calendars.push_round,
    WorkKind.STOP_PUSH: calendars.stop_push,
    WorkKind.NOTIFICATION_EMAIL: notifications.email_notification,
    WorkKind.NOTIFICATION_DIGEST: notifications.send_digest,
    WorkKind.ACCOUNT_EMAIL: notices.send_account_email,
}

# RQ job timeout per family (seconds): a notice or a calendar write needs seconds, a
# tenant's sync may page through many calendars.
TIMEOUTS: dict[WorkKind, int] = {
    WorkKind.CALENDAR_WRITE: 120,
    WorkKind.CALENDAR_CANCEL: 120,
    WorkKind.REQUEST_HOLDS: 120,
    WorkKind.TENANT_SYNC: 600,
    WorkKind.ENSURE_PUSH: 60,
    WorkKind.SYNC_ROUND: 60,
    WorkKind.PUSH_ROUND: 120,
    WorkKind.STOP_PUSH: 120,
}
MAIL_TIMEOUT = 60


def timeout(kind: WorkKind) -> int:
    return TIMEOUTS.get(kind, MAIL_TIMEOUT)
