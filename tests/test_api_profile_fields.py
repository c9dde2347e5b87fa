"""The program's own profile fields in the JSON API (seed 003, issue 17): ``GET /api/v1/people`` and
``GET /api/v1/matches`` filter by ``field[<id>]=<answer>`` (several AND together, directory filters
only), a wrong filter is a 422 naming the parameter, and a profile carries the answers its viewer may
see; a hidden directory stays hidden under a field filter."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pytest
from sqlalchemy.orm import Session

from scheduling.models import Person, ProfileAnswer, ProfileField, Program, Recommendation
from scheduling.services import people as people_svc
from scheduling.services import profile_fields as svc
from tests.factories import count_rows, login, make_admin, make_mentee, make_mentor, make_program


@dataclass
class Cast:
    program: Program
    admin: Person
    mentee: Person
    mentors: dict[str, Person]
    location: ProfileField  # a directory filter
    language: ProfileField  # a directory filter
    pronouns: ProfileField  # free text: no filter, shown only to the person and admins
    team: ProfileField  # answers to pick from, but no filter


def answer(db: Session, person: Person, **by_field: tuple[ProfileField, str]) -> None:
    svc.store_answers(db, person, {field.id: value for field, value in by_field.values()})


@pytest.fixture
def cast(db: Session) -> Cast:
    program = make_program(db)
    admin = make_admin(db, name="Alex Admin")
    location = svc.add_field(db, admin, program, label="Location", choices="Berlin\nParis\nPune",
                             filterable=True)
    language = svc.add_field(db, admin, program, label="Language", choices="English\nGerman",
                             filterable=True)
    pronouns = svc.add_field(db, admin, program, label="Pronouns")
    team = svc.add_field(db, admin, program, label="Team size", choices="Small\nLarge")
    mentors = {name: make_mentor(db, name=name) for name in ("Ada", "Ben", "Cy", "Dee")}
    answer(db, mentors["Ada"], loc=(location, "Berlin"), lang=(language, "German"), pro=(pronouns, "she/her"),
           team=(team, "Small"))
    answer(db, mentors["Ben"], loc=(location, "Berlin"), lang=(language, "English"))
    answer(db, mentors["Cy"], loc=(location, "Paris"), lang=(language, "German"))
    mentee = make_mentee(db, name="Mo Mentee")
    answer(db, mentee, loc=(location, "Berlin"))
    return Cast(program, admin, mentee, mentors, location, language, pronouns, team)


def names(resp: Any) -> list[str]:
    assert resp.status_code == 200, resp.get_json()
    return [p["name"] for p in resp.get_json()["items"]]


def test_a_field_filter_lists_exactly_the_people_who_gave_that_answer(client: Any, cast: Cast) -> None:
    login(client, cast.mentee)
    loc, lang = cast.location.id, cast.language.id
    assert names(client.get("/api/v1/people")) == ["Ada", "Ben", "Cy", "Dee"]
    assert names(client.get(f"/api/v1/people?field[{loc}]=Berlin")) == ["Ada", "Ben"]
    assert names(client.get(f"/api/v1/people?field[{loc}]=Paris")) == ["Cy"]
    assert names(client.get(f"/api/v1/people?field[{lang}]=German")) == ["Ada", "Cy"]
    nobody = client.get(f"/api/v1/people?field[{loc}]=Pune")
    assert names(nobody) == [] and nobody.get_json()["total"] == 0
    page = client.get(f"/api/v1/people?field[{loc}]=Berlin&limit=1&offset=1").get_json()
    assert [p["name"] for p in page["items"]] == ["Ben"] and page["total"] == 2
    assert names(client.get(f"/api/v1/people?field[{loc}]=Berlin&q=ben")) == ["Ben"]
    everyone = ["Ada", "Ben", "Cy", "Dee"]
    assert names(client.get(f"/api/v1/people?field[{loc}]=")) == everyone  # empty: not given


def test_two_field_filters_must_both_match(client: Any, cast: Cast) -> None:
    login(client, cast.mentee)
    loc, lang = cast.location.id, cast.language.id
    assert names(client.get(f"/api/v1/people?field[{loc}]=Berlin&field[{lang}]=German")) == ["Ada"]
    assert names(client.get(f"/api/v1/people?field[{loc}]=Berlin&field[{lang}]=English")) == ["Ben"]
    assert names(client.get(f"/api/v1/people?field[{loc}]=Paris&field[{lang}]=English")) == []
    login(client, cast.admin)  # any role: the mentee answered Berlin too
    assert names(client.get(f"/api/v1/people?role=any&field[{loc}]=Berlin")) == ["Ada", "Ben", "Mo Mentee"]


def _bad(cast: Cast) -> list[tuple[str, str, str]]:
    loc, pronouns, team = cast.location.id, cast.pronouns.id, cast.team.id
    return [
        ("field[999999]=Berlin", "field[999999]", "no profile field 999999"),
        (f"field[{pronouns}]=she", f"field[{pronouns}]", "'Pronouns' is not a directory filter"),
        (f"field[{team}]=Small", f"field[{team}]", "'Team size' is not a directory filter"),
        (f"field[{loc}]=Mars", f"field[{loc}]", "'Mars' is not an answer of 'Location'; choose one of: "
                                               "Berlin, Paris, Pune."),
        (f"field[{loc}]=berlin", f"field[{loc}]", "'berlin' is not an answer"),
        ("field[abc]=Berlin", "field[abc]", "named by its id"),
        (f"field[{loc}]={'x' * 101}", "field", "at most 100 characters"),
        ("field=Berlin", "field", "field is given as field[key]=value"),
    ]


@pytest.mark.parametrize("path", ["/api/v1/people", "/api/v1/matches"])
def test_a_wrong_field_filter_is_a_422_naming_the_parameter(client: Any, db: Session, cast: Cast,
                                                           path: str) -> None:
    login(client, cast.mentee)
    before = count_rows(db, ProfileAnswer, ProfileField)
    for query, field, message in _bad(cast):
        resp = client.get(f"{path}?{query}")
        assert resp.status_code == 422, (query, resp.get_json())
        error = resp.get_json()["error"]
        assert error["code"] == "validation_failed" and error["field"] == field, (query, error)
        assert message in error["message"] and error["message"].startswith(field), (query, error)
    db.expire_all()
    assert count_rows(db, ProfileAnswer, ProfileField) == before


def _answers(profile: dict[str, Any]) -> dict[str, str]:
    return {a["label"]: a["value"] for a in profile["profile_fields"]}


def test_a_profile_carries_the_answers_its_viewer_may_see(client: Any, cast: Cast) -> None:
    ada = cast.mentors["Ada"]
    every = {"Location": "Berlin", "Language": "German", "Pronouns": "she/her", "Team size": "Small"}
    filters = {"Location": "Berlin", "Language": "German"}  # what Ada's card in the directory shows

    login(client, cast.mentee)
    shown = client.get(f"/api/v1/people/{ada.id}").get_json()["person"]
    assert shown["profile_fields"] == [{"id": cast.location.id, "label": "Location", "value": "Berlin"},
                                       {"id": cast.language.id, "label": "Language", "value": "German"}]
    listed = {p["name"]: p for p in client.get("/api/v1/people").get_json()["items"]}
    assert _answers(listed["Ada"]) == filters and listed["Dee"]["profile_fields"] == []
    assert _answers(client.get("/api/v1/me").get_json()["person"]) == {"Location": "Berlin"}

    login(client, ada)  # her own view: every field, in the fields' order
    own = client.get(f"/api/v1/people/{ada.id}").get_json()["person"]
    assert [a["label"] for a in own["profile_fields"]] == ["Location", "Language", "Pronouns", "Team size"]
    assert _answers(own) == every == _answers(client.get("/api/v1/me").get_json()["person"])
    skills = client.put("/api/v1/me/skills", json={"offers": ["Python"]})
    assert skills.status_code == 200 and _answers(skills.get_json()["person"]) == every

    login(client, cast.admin)
    assert _answers(client.get(f"/api/v1/people/{ada.id}").get_json()["person"]) == every
    listed = {p["name"]: p for p in client.get("/api/v1/people").get_json()["items"]}
    assert _answers(listed["Ada"]) == every


def test_the_fields_are_listed_for_clients(client: Any, cast: Cast) -> None:
    login(client, cast.mentee)
    fields = client.get("/api/v1/profile-fields").get_json()["fields"]
    assert fields == [
        {"id": cast.location.id, "label": "Location", "choices": ["Berlin", "Paris", "Pune"], "filter": True},
        {"id": cast.language.id, "label": "Language", "choices": ["English", "German"], "filter": True},
        {"id": cast.pronouns.id, "label": "Pronouns", "choices": [], "filter": False},
        {"id": cast.team.id, "label": "Team size", "choices": ["Small", "Large"], "filter": False},
    ]


def test_matches_rank_only_the_mentors_a_field_filter_keeps(client: Any, cast: Cast) -> None:
    login(client, cast.mentee)
    loc, lang = cast.location.id, cast.language.id

    def ranked(query: str) -> set[str]:
        resp = client.get(f"/api/v1/matches?{query}")
        assert resp.status_code == 200, resp.get_json()
        return {m["mentor"]["name"] for m in resp.get_json()["matches"]}

    assert ranked("") == {"Ada", "Ben", "Cy", "Dee"}
    assert ranked(f"field[{loc}]=Berlin") == {"Ada", "Ben"}
    assert ranked(f"field[{loc}]=Berlin&field[{lang}]=German") == {"Ada"}
    assert ranked(f"field[{loc}]=Pune") == set()


def test_a_hidden_directory_stays_hidden_under_a_field_filter(client: Any, db: Session, cast: Cast) -> None:
    cast.program.directory_hidden = True
    extra = [make_mentor(db, name=f"Extra {i}") for i in range(6)]
    db.add(Recommendation(program_id=cast.program.id, mentee_id=cast.mentee.id, mentor_id=extra[5].id))
    db.commit()
    login(client, cast.mentee)
    visible = names(client.get("/api/v1/people?limit=200"))
    assert len(visible) == 5 and "Extra 5" in visible  # the pushed one, then the best matches
    hidden = [m for m in [*cast.mentors.values(), *extra] if m.name not in visible]
    for mentor in [*cast.mentors.values(), *extra]:  # everyone in Pune: the filter itself keeps all
        svc.store_answers(db, mentor, {cast.location.id: "Pune"})
    found = client.get(f"/api/v1/people?limit=200&field[{cast.location.id}]=Pune").get_json()
    assert sorted(p["name"] for p in found["items"]) == sorted(visible) and found["total"] == 5
    svc.store_answers(db, hidden[0], {cast.location.id: "Paris"})  # the only one in Paris is not for her
    svc.store_answers(db, extra[5], {cast.location.id: "Paris"})
    assert names(client.get(f"/api/v1/people?field[{cast.location.id}]=Paris")) == ["Extra 5"]

    login(client, cast.admin)  # admins see the whole directory: all ten mentors but the two in Paris
    assert len(names(client.get(f"/api/v1/people?limit=200&field[{cast.location.id}]=Pune"))) == 8


def test_a_hidden_directory_stays_hidden_in_the_matches_under_a_field_filter(
    client: Any, db: Session, cast: Cast
) -> None:
    cast.program.directory_hidden = True
    extra = [make_mentor(db, name=f"Extra {i}") for i in range(6)]
    db.add(Recommendation(program_id=cast.program.id, mentee_id=cast.mentee.id, mentor_id=extra[5].id))
    db.commit()
    everyone = [*cast.mentors.values(), *extra]
    for mentor in everyone:  # everyone in Pune: the filter itself keeps all
        svc.store_answers(db, mentor, {cast.location.id: "Pune"})
    login(client, cast.mentee)
    loc = cast.location.id

    def ranked(query: str) -> list[str]:
        resp = client.get(f"/api/v1/matches?limit=100&{query}")
        assert resp.status_code == 200, resp.get_json()
        return sorted(m["mentor"]["name"] for m in resp.get_json()["matches"])

    visible = sorted(names(client.get("/api/v1/people?limit=200")))
    assert len(visible) == 5 and "Extra 5" in visible
    assert ranked(f"field[{loc}]=Pune") == visible
    hidden = next(m for m in everyone if m.name not in visible)
    svc.store_answers(db, hidden, {loc: "Paris"})  # the only one in Paris but hers is not for her
    svc.store_answers(db, extra[5], {loc: "Paris"})
    assert ranked(f"field[{loc}]=Paris") == ["Extra 5"]

    login(client, cast.admin)  # an admin ranks the whole directory for her: all ten but the two in Paris
    assert len(ranked(f"mentee_id={cast.mentee.id}&field[{loc}]=Pune")) == 8
    assert ranked(f"mentee_id={cast.mentee.id}&field[{loc}]=Paris") == sorted(["Extra 5", hidden.name])


def test_the_document_describes_the_filter_and_the_answers(client: Any) -> None:
    doc = client.get("/api/v1/openapi.json").get_json()
    for path in ("/api/v1/people", "/api/v1/matches"):
        param = next(p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "field")
        assert param["in"] == "query" and param["style"] == "deepObject" and param["explode"] is True
        assert param["schema"]["type"] == "object"
        assert param["schema"]["propertyNames"] == {"pattern": "^[0-9]+$"}
        assert param["schema"]["additionalProperties"] == {"type": "string", "maxLength": 100}
    profile = doc["components"]["schemas"]["Profile"]
    assert "profile_fields" in profile["required"]
    assert doc["components"]["schemas"]["FieldAnswer"]["required"] == ["id", "label", "value"]
    assert "/api/v1/profile-fields" in doc["paths"]


def test_the_directory_page_and_the_profiles_agree_on_answers(db: Session, cast: Cast) -> None:
    """The directory reads columns, one profile reads the ``Person``: the same answers either way."""
    ada = cast.mentors["Ada"]
    mine = {ada.id}.__contains__
    page, total = people_svc.directory_page(db, private_for=mine, role="mentor")
    by_name = {p["name"]: p for p in page}
    assert total == 4
    assert by_name["Ada"] == people_svc.private_profile(ada)
    assert by_name["Ben"] == people_svc.public_profile(cast.mentors["Ben"])
    assert [a["label"] for a in by_name["Ada"]["profile_fields"]] == ["Location", "Language", "Pronouns",
                                                                       "Team size"]
    assert [a["label"] for a in by_name["Cy"]["profile_fields"]] == ["Location", "Language"]
