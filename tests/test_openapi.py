"""The OpenAPI document of /api/v1 is made from the models that check input, and the live app keeps it.

schemathesis (in-process, through the WSGI app) calls every documented operation on the demo
program as a mentee, a mentor and an admin, with input that fits the document and input that does
not: no answer may be a server error, and every answer's status, content type and body must be
the document's. Runs are derandomized, so a run is the same every time.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import func, literal, select
from sqlalchemy.orm import Session

from app.api.openapi import api_operations
from app.api.requests import NewRequest
from scheduling import demo, tenants
from scheduling.models import (
    DatedSlot,
    FollowUp,
    Meeting,
    MeetingRequest,
    Person,
    Recommendation,
    RoutingRequest,
    Skill,
    SkillReassessment,
    SurveyInvitation,
    TimedWork,
)

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
EXAMPLES = {"admin": 4, "mentor": 3, "mentee": 3}  # per operation and mode
REACHED = {"admin": 30, "mentor": 20, "mentee": 20}  # operations that answered 2xx at least once


def sign_in(app: Any, email: str) -> tuple[Any, str]:
    """A client signed in as ``email`` the way an API client signs in, and its session cookie."""
    client = app.test_client()
    resp = client.post("/api/v1/auth/login", json={"email": email, "password": demo.DEMO_PASSWORD})
    assert resp.status_code == 200, resp.get_json()
    cookie = client.get_cookie("session")
    assert cookie is not None
    return client, cookie.value


def real_ids(db: Session, person: Person) -> dict[str, int]:
    """One existing row per path parameter, the person's own where it matters, so generated calls
    reach past "not found" into the operations themselves."""
    nowhere = {"url": "https://127.0.0.1:9/", "timeout": 1, "retry": {"max_attempts": 1}}
    tenant = tenants.create_tenant(db, name="Nowhere", provider="caldav", config=nowhere)
    anyone = literal(person.is_admin)  # admins see every request and meeting
    mine = anyone | (MeetingRequest.mentee_id == person.id) | (MeetingRequest.mentor_id == person.id)
    request = db.scalars(select(MeetingRequest).where(mine).order_by(MeetingRequest.id)).first()
    ours = anyone | (Meeting.mentee_id == person.id) | (Meeting.mentor_id == person.id)
    meeting = db.scalars(select(Meeting).where(ours).order_by(Meeting.id)).first()
    mentor = db.scalars(select(Person).where(Person.is_mentor, Person.id != person.id)).first()
    found: dict[str, Any] = {
        "request_id": request, "meeting_id": meeting, "person_id": person, "mentor_id": mentor,
        "tenant_id": tenant,
        "invitation_id": db.scalars(select(SurveyInvitation).where(SurveyInvitation.person_id == person.id))
        .first(),
        "skill_id": db.scalars(select(Skill)).first(),
        "slot_id": db.scalars(select(DatedSlot).where(DatedSlot.mentor_id == person.id)).first(),
        "routing_id": db.scalars(select(RoutingRequest)).first(),
        "follow_up_id": db.scalars(select(FollowUp)).first(),
        "reassessment_id": db.scalars(select(SkillReassessment)).first(),
        "recommendation_id": db.scalars(select(Recommendation)).first(),
        "work_id": db.scalars(select(TimedWork)).first(),
    }
    return {name: row.id for name, row in found.items() if row is not None}


def test_every_api_route_is_documented(app: Any) -> None:
    missing = [(rule, method) for rule, method, op, _ in api_operations(app) if op is None]
    assert missing == []
    doc = app.test_client().get("/api/v1/openapi.json").get_json()
    assert doc["openapi"] == "3.1.0"
    assert len([m for item in doc["paths"].values() for m in item]) >= 70


def test_the_document_shows_the_model_that_checks_the_body(app: Any, client: Any, db: Session) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    body = doc["paths"]["/api/v1/requests"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert body == {"$ref": "#/components/schemas/NewRequest"}
    shown = doc["components"]["schemas"]["NewRequest"]
    assert shown["required"] == ["times"]
    assert shown["properties"]["mode"]["enum"] == ["video", "phone", "in_person"]
    assert NewRequest.model_fields["mode"].default.value == "video"
    error = doc["components"]["schemas"]["Error"]["properties"]["error"]
    assert error["required"] == ["code", "message", "field"]


def test_input_the_document_refuses_is_a_field_named_422(app: Any, db: Session) -> None:
    demo.load_demo(db)
    client, _ = sign_in(app, demo.LOGINS["mentee"])
    before = db.scalar(select(func.count()).select_from(MeetingRequest))
    mentor = db.scalars(select(Person).where(Person.is_mentor)).first()
    assert mentor is not None
    resp = client.post("/api/v1/requests", json={"mentor_id": mentor.id, "mode": "telepathy",
                                                  "times": [{"start": "2030-01-09T10:00Z"}]})
    assert resp.status_code == 422
    assert resp.get_json()["error"]["field"] == "mode"
    half = [{"start": "2030-01-09T10:00:00Z"}]
    resp = client.post("/api/v1/requests", json={"mentor_id": mentor.id, "times": half})
    assert resp.get_json()["error"] == {"code": "validation_failed", "message": "times[0].end is required.",
                                        "field": "times[0].end"}
    resp = client.get("/api/v1/requests?limit=0")
    assert resp.status_code == 422 and resp.get_json()["error"]["field"] == "limit"
    db.expire_all()
    assert db.scalar(select(func.count()).select_from(MeetingRequest)) == before


def _run(operation: Any, mode: GenerationMode, cookie: str, examples: int, statuses: dict[str, set[int]],
         ids: dict[str, int] | None = None) -> list[str]:
    """Every failing check of ``examples`` generated calls of one operation, as text; the statuses
    answered go to ``statuses`` by operation."""
    problems: list[str] = []
    names = {p.name for p in operation.path_parameters}
    fixed = {name: value for name, value in (ids or {}).items() if name in names}

    @settings(max_examples=examples, derandomize=True, database=None, deadline=None,
              phases=[Phase.explicit, Phase.generate], suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode, path_parameters=fixed or None))
    def call(case: Any) -> None:
        try:
            response = case.call_and_validate(cookies={"session": cookie}, checks=CHECKS)
            statuses.setdefault(operation.label, set()).add(response.status_code)
        except Exception as exc:  # a check failed: keep it, go on with the other examples
            problems.append(f"{mode.value} {operation.label}: {str(exc)[:600]}")

    try:
        call()
    except Unsatisfiable:  # nothing to get wrong (no parameters, no body): no negative calls
        assert mode == GenerationMode.NEGATIVE
    return problems


@pytest.mark.parametrize("role", ["mentee", "mentor", "admin"])
def test_the_live_app_keeps_its_document(app: Any, db: Session, role: str) -> None:
    demo.load_demo(db)
    person = db.scalars(select(Person).where(Person.email == demo.LOGINS[role])).one()
    ids = real_ids(db, person)
    db.commit()
    _, cookie = sign_in(app, demo.LOGINS[role])
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    problems: list[str] = []
    statuses: dict[str, set[int]] = {}
    results = list(schema.get_all_operations())
    operations = [result.ok() for result in results if isinstance(result, Ok)]
    assert len(operations) == len(results)  # every operation of the document loads
    # writes that remove things go last, so every other operation still finds them
    operations.sort(key=lambda op: op.method.upper() == "DELETE")
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            problems += _run(operation, mode, cookie, EXAMPLES[role], statuses, ids)
        if operation.path_parameters:  # and ids that may not exist
            problems += _run(operation, GenerationMode.POSITIVE, cookie, 2, statuses)
    assert len(operations) >= 70
    assert problems == [], "\n".join(problems)
    answered = {label for label, codes in statuses.items() if any(200 <= c < 300 for c in codes)}
    assert len(answered) >= REACHED[role], sorted(statuses.items())
