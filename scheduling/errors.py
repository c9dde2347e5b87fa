"""Domain errors. Each has a stable ``code`` (API clients key on it), a human
message, the offending ``field`` where there is one, and the HTTP status the
app layer should answer with. Raising one means nothing was changed."""

from __future__ import annotations


class DomainError(Exception):
    code = "domain_error"
    status = 400

    def __init__(self, message: str, field: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.field = field

    def as_dict(self) -> dict[str, str | None]:
        return {"code": self.code, "message": self.message, "field": self.field}


class ValidationFailed(DomainError):
    code = "validation_failed"
    status = 422


class NotFound(DomainError):
    code = "not_found"
    status = 404


class Forbidden(DomainError):
    code = "forbidden"
    status = 403


class Conflict(DomainError):
    code = "conflict"
    status = 409


class InvalidTransition(Conflict):
    code = "invalid_transition"


class LeadTimeTooShort(DomainError):
    code = "lead_time_too_short"
    status = 422


class TimeInPast(DomainError):
    code = "time_in_past"
    status = 422


class SlotNotAvailable(Conflict):
    code = "slot_not_available"


class SlotOutsideAvailability(DomainError):
    code = "slot_outside_availability"
    status = 422


class BadSlotLength(DomainError):
    code = "bad_slot_length"
    status = 422


class PendingLimitReached(Conflict):
    code = "pending_limit_reached"


class MonthlyLimitReached(Conflict):
    code = "monthly_limit_reached"


class YearlyLimitReached(Conflict):
    code = "yearly_limit_reached"


class MentorCreationNotAllowed(Forbidden):
    code = "mentor_creation_not_allowed"


class NotAMentor(DomainError):
    code = "not_a_mentor"
    status = 422


class SelfRequest(DomainError):
    code = "self_request"
    status = 422


class MeetingOverlap(Conflict):
    code = "meeting_overlap"


class ConcurrentChange(Conflict):
    """Someone changed the same rows at the same moment and the database gave up on this
    change (a deadlock or serialization failure), even after retrying; nothing was changed."""

    code = "concurrent_change"


class UnknownTimeZone(ValidationFailed):
    code = "unknown_time_zone"


class NotAMentee(DomainError):
    code = "not_a_mentee"
    status = 422


class NotParticipant(Forbidden):
    """The actor is neither side of the request or meeting (nor an admin where admins may act)."""

    code = "not_participant"


class MentorCapReached(Conflict):
    """The mentor's own monthly cap (``Person.monthly_meeting_cap``) is used up."""

    code = "mentor_cap_reached"


class ImportFailed(ValidationFailed):
    """A bulk import was refused as a whole; ``errors`` lists every (row, field, message) found."""

    code = "import_failed"

    def __init__(self, message: str, errors: list[tuple[int, str | None, str]]) -> None:
        super().__init__(message, errors[0][1] if errors else None)
        self.errors = errors


class InvalidCredentials(DomainError):
    """Sign-in refused: unknown email, wrong password or deactivated account (not told apart)."""

    code = "invalid_credentials"
    status = 401


class SurveyAlreadyAnswered(Conflict):
    """A survey is answered once; the first answer about whether the meeting took place stands."""

    code = "survey_already_answered"


class AdminRoutingRequired(Forbidden):
    """The program routes requests through admins: a mentee sends preferences, not requests."""

    code = "admin_routing_required"


class AdminRoutingOff(Forbidden):
    """Preferences for admin routing are only taken when the program routes requests."""

    code = "admin_routing_off"


class OneTimeNotOffered(Forbidden):
    """The program (or, where mentors choose, the mentor) offers ongoing mentoring only."""

    code = "one_time_not_offered"


class MentorPaused(Conflict):
    """The mentor is not taking new requests until a date they set."""

    code = "mentor_paused"


class OngoingNotOffered(Forbidden):
    """The program runs one-time meetings only, so an ongoing mentorship cannot be agreed."""

    code = "ongoing_not_offered"
