"""Program settings: every setting validated, changes all or nothing."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.errors import NotFound, ValidationFailed
from scheduling.models import AvailabilityMode, MentoringMode, Program
from scheduling.services.program import (
    SETTINGS,
    create_program,
    get_program,
    settings_dict,
    update_settings,
)
from tests.factories import make_program

INVALID: list[tuple[str, Any]] = [
    ("name", ""),
    ("name", "x" * 201),
    ("name", 5),
    ("description", ["list"]),
    ("mentoring_mode", "sometimes"),
    ("availability_mode", "whenever"),
    ("slot_minutes", 25),
    ("slot_minutes", 0),
    ("slot_minutes", "30"),
    ("slot_minutes", True),
    ("buffer_minutes", -5),
    ("buffer_minutes", 121),
    ("lead_time_hours", -1),
    ("lead_time_hours", 721),
    ("lead_time_hours", 2.5),
    ("mentors_may_create", "yes"),
    ("mentors_may_create", 1),
    ("remind_after_days", 0),
    ("remind_after_days", 91),
    ("auto_close_after_days", 0),
    ("auto_close_after_days", 91),
    ("max_meetings_per_month", 0),
    ("max_meetings_per_year", -1),
    ("max_pending_requests", 0),
    ("max_pending_requests", "3"),
    ("meeting_reminder_hours", 0),
    ("survey_delay_hours", -1),
    ("survey_delay_hours", None),
    ("prefer_other_department", None),
    ("directory_hidden", "false"),
    ("admin_routed", 0),
    ("video_links", "on"),
    ("video_url_template", "meet.example.org/{room}"),  # not a web address
    ("video_url_template", "ftp://meet.example.org/{room}"),
    ("video_url_template", "https://meet.example.org/{person}"),  # no such placeholder
    ("video_url_template", "https://meet.example.org/{room!r}"),
    ("video_url_template", "https://meet.example.org/{room"),
    ("video_url_template", "https://meet.example.org/" + "x" * 500),
    ("video_url_template", 5),
    ("video_url_template", "https://meet.example.org/\x00{room}"),
    ("calendar_holds", "yes"),
    ("action_plan_reminder_days", 0),
    ("action_plan_reminder_days", 366),
    ("action_plan_reminder_days", "soon"),
    ("mentee_term", ""),
    ("mentee_term", "learner2"),
    ("mentor_term", "g" * 41),
    ("mentor_term", 5),
]


@pytest.mark.parametrize(("field", "value"), INVALID)
def test_every_invalid_value_is_refused_with_its_field(db: Session, field: str, value: Any) -> None:
    program = make_program(db)
    before = settings_dict(program)
    with pytest.raises(ValidationFailed) as err:
        update_settings(db, program, {field: value})
    assert err.value.field == field
    db.expire_all()
    assert settings_dict(db.get(Program, program.id)) == before  # type: ignore[arg-type]


def test_every_setting_has_an_invalid_case() -> None:
    assert {field for field, _ in INVALID} == set(SETTINGS)


def test_valid_changes_are_stored(db: Session) -> None:
    program = make_program(db)
    update_settings(
        db,
        program,
        {
            "slot_minutes": 45,
            "lead_time_hours": 0,
            "remind_after_days": None,
            "auto_close_after_days": 7,
            "max_meetings_per_month": 2,
            "max_meetings_per_year": 12,
            "mentoring_mode": "mentor_choice",
            "availability_mode": "free_text",
            "mentors_may_create": True,
            "buffer_minutes": 15,
        },
    )
    db.expire_all()
    stored = db.get(Program, program.id)
    assert stored is not None
    assert stored.slot_minutes == 45 and stored.lead_time_hours == 0
    assert stored.remind_after_days is None and stored.auto_close_after_days == 7
    assert stored.mentoring_mode is MentoringMode.MENTOR_CHOICE
    assert stored.availability_mode is AvailabilityMode.FREE_TEXT
    assert stored.mentors_may_create is True


@pytest.mark.parametrize(("remind", "close"), [(14, 14), (20, 10)])
def test_reminder_must_come_before_auto_close(db: Session, remind: int, close: int) -> None:
    program = make_program(db, remind_after_days=3, auto_close_after_days=14)
    with pytest.raises(ValidationFailed) as err:
        update_settings(db, program, {"remind_after_days": remind, "auto_close_after_days": close})
    assert err.value.field == "remind_after_days"


def test_cross_check_uses_the_current_settings(db: Session) -> None:
    program = make_program(db, remind_after_days=3, auto_close_after_days=14)
    with pytest.raises(ValidationFailed):
        update_settings(db, program, {"auto_close_after_days": 2})  # before the stored reminder
    update_settings(db, program, {"remind_after_days": None})
    update_settings(db, program, {"auto_close_after_days": 2})  # reminder off: any close is fine
    assert program.auto_close_after_days == 2


def test_monthly_limit_cannot_exceed_yearly(db: Session) -> None:
    program = make_program(db, max_meetings_per_year=5)
    with pytest.raises(ValidationFailed) as err:
        update_settings(db, program, {"max_meetings_per_month": 6})
    assert err.value.field == "max_meetings_per_month"


def test_change_is_all_or_nothing(db: Session) -> None:
    program = make_program(db, slot_minutes=30, lead_time_hours=24)
    with pytest.raises(ValidationFailed) as err:
        update_settings(db, program, {"slot_minutes": 60, "lead_time_hours": 9999})
    assert err.value.field == "lead_time_hours"
    db.expire_all()
    assert (program.slot_minutes, program.lead_time_hours) == (30, 24)


def test_unknown_settings_are_refused(db: Session) -> None:
    program = make_program(db)
    with pytest.raises(ValidationFailed) as err:
        update_settings(db, program, {"slot_minutes": 60, "created_at": "2020-01-01"})
    assert err.value.field == "created_at"
    with pytest.raises(ValidationFailed):
        update_settings(db, program, {})
    db.expire_all()
    assert program.slot_minutes == 30


def test_get_program_is_the_first_program(db: Session) -> None:
    with pytest.raises(NotFound):
        get_program(db)
    first = create_program(db, name="First", slot_minutes=60)
    create_program(db, name="Second")
    assert get_program(db).id == first.id
    assert get_program(db).slot_minutes == 60


def test_create_program_validates(db: Session) -> None:
    with pytest.raises(ValidationFailed) as err:
        create_program(db, name="Bad", remind_after_days=20)  # default auto-close is 14 days
    assert err.value.field == "remind_after_days"


def test_settings_dict_is_json_ready(db: Session) -> None:
    program = make_program(db)
    out = settings_dict(program)
    assert out["mentoring_mode"] == "one_time" and out["availability_mode"] == "weekly_slots"
    assert set(out) == {"id", *SETTINGS}
