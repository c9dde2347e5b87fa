"""All mapped classes, importable from one place (Alembic needs them all loaded)."""

from scheduling.db import Base
from scheduling.models.access import AccessLink, LinkPurpose
from scheduling.models.availability import DatedSlot, WeeklySlot
from scheduling.models.calendars import (
    CalendarAccount,
    CalendarTenant,
    ConnectionHealth,
    Provider,
    PushSubscription,
)
from scheduling.models.holds import RequestHold
from scheduling.models.identity import (
    IdentityProvider,
    PersonIdentity,
    ScimGroup,
    ScimGroupMember,
    ScimToken,
)
from scheduling.models.matching import (
    Competency,
    FollowUp,
    FollowUpKind,
    FollowUpState,
    ReassessmentState,
    Recommendation,
    RoutingChoice,
    RoutingRequest,
    RoutingState,
    SkillReassessment,
)
from scheduling.models.meetings import (
    ACTIVE_MEETING_STATES,
    AttendeeAnswer,
    CalendarEventLink,
    Meeting,
    MeetingState,
)
from scheduling.models.messages import DirectMessage, Message
from scheduling.models.notifications import (
    EmailChoice,
    EmailState,
    Notification,
    NotificationKind,
    NotificationPreference,
)
from scheduling.models.people import Person, PersonSkill, Skill, SkillAlias, SkillRelation
from scheduling.models.profile_fields import ProfileAnswer, ProfileField
from scheduling.models.program import AvailabilityMode, MentoringMode, Program
from scheduling.models.requests import (
    OPEN_REQUEST_STATES,
    DeclineReason,
    Initiator,
    MeetingMode,
    MeetingRequest,
    ProposedTime,
    RequestKind,
    RequestState,
)
from scheduling.models.surveys import (
    QuestionKind,
    SurveyAnswer,
    SurveyAudience,
    SurveyInvitation,
    SurveyQuestion,
    SurveyVariant,
)
from scheduling.models.work import OPEN_WORK_STATES, TimedWork, WorkKind, WorkState

__all__ = [
    "ACTIVE_MEETING_STATES",
    "OPEN_REQUEST_STATES",
    "OPEN_WORK_STATES",
    "AccessLink",
    "AttendeeAnswer",
    "AvailabilityMode",
    "Base",
    "CalendarAccount",
    "CalendarEventLink",
    "CalendarTenant",
    "Competency",
    "ConnectionHealth",
    "DatedSlot",
    "DeclineReason",
    "DirectMessage",
    "EmailChoice",
    "EmailState",
    "FollowUp",
    "FollowUpKind",
    "FollowUpState",
    "IdentityProvider",
    "Initiator",
    "LinkPurpose",
    "Meeting",
    "MeetingMode",
    "MeetingRequest",
    "MeetingState",
    "MentoringMode",
    "Message",
    "Notification",
    "NotificationKind",
    "NotificationPreference",
    "Person",
    "PersonIdentity",
    "PersonSkill",
    "ProfileAnswer",
    "ProfileField",
    "Program",
    "ProposedTime",
    "Provider",
    "PushSubscription",
    "QuestionKind",
    "ReassessmentState",
    "Recommendation",
    "RequestHold",
    "RequestKind",
    "RequestState",
    "RoutingChoice",
    "RoutingRequest",
    "RoutingState",
    "ScimGroup",
    "ScimGroupMember",
    "ScimToken",
    "Skill",
    "SkillAlias",
    "SkillReassessment",
    "SkillRelation",
    "SurveyAnswer",
    "SurveyAudience",
    "SurveyInvitation",
    "SurveyQuestion",
    "SurveyVariant",
    "TimedWork",
    "WeeklySlot",
    "WorkKind",
    "WorkState",
]
