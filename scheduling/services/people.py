"""People and their profiles: creating, editing, and the directory search.

Who may change what is decided here, not in the routes: a person edits their
own profile fields; only an admin changes email, roles, manager, password or
whether someone is active. Every change is validated completely before anything
is written, so a refused edit leaves the person as they were.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any
from zoneinfo import available_timezones

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import Select, and_, exists, func, or_, select
from sqlalchemy.orm import Session, object_session

from scheduling.db import get_row
from scheduling.errors import Conflict, Forbidden, NotFound, UnknownTimeZone, ValidationFailed
from scheduling.models import Person, PersonSkill, Skill, SkillAlias, SkillRelation
from scheduling.passwords import hash_password
from scheduling.services.competencies import known_skill
from scheduling.services.profile_fields import answer_views
from scheduling.services.safe_text import is_storable, storable
from scheduling.services.skills import (
    SkillLevel,
    find_skill,
    parse_skill_entries,
    replace_skills,
    skill_key,
    skills_of,
)
from scheduling.services.transaction import unit_of_work

ROLES = ("mentee", "mentor", "admin")
ROLE_FLAGS = {"mentee": "is_mentee", "mentor": "is_mentor", "admin": "is_admin"}
TEXT_LIMITS = {"name": 200, "department": 200, "title": 200, "region": 100, "bio": 5000}
SELF_EDITABLE = frozenset(
    {"name", "department", "title", "region", "bio", "time_zone", "monthly_meeting_cap"}
)
ADMIN_ONLY = frozenset({"email", "roles", "manager_id", "active", "password"})
PASSWORD_MIN = 8
MEETING_CAP_MAX = 100


# ---------------------------------------------------------------- field checks


@lru_cache(maxsize=1)
def _zones() -> frozenset[str]:
    return frozenset(available_timezones())


def check_email(value: object, field: str = "email") -> str:
    """A deliverable-looking address, lower-cased (no DNS lookup: offline and fast)."""
    if not isinstance(value, str) or not value.strip():
        raise ValidationFailed("An email address is required.", field)
    storable(value, field)
    try:
        result = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValidationFailed(f"Not a valid email address: {exc}", field) from None
    email = result.normalized.lower()
    if len(email) > 254:
        raise ValidationFailed("The email address is too long.", field)
    return email


def check_time_zone(value: object, field: str = "time_zone") -> str:
    """An IANA zone name such as Europe/London (offsets like +02:00 miss DST, so they are refused)."""
    if not isinstance(value, str) or value.strip() not in _zones():
        raise UnknownTimeZone(
            f"Unknown time zone {value!r}; use an IANA name such as Europe/London or America/New_York.",
            field,
        )
    return value.strip()


def check_text(value: object, field: str, *, required: bool = False) -> str:
    limit = TEXT_LIMITS.get(field, 200)
    if value is None:
        value = ""
    if not isinstance(value, str):
        raise ValidationFailed(f"{field} must be text.", field)
    storable(value, field)
    value = value.strip() if field != "bio" else value.rstrip()
    if required and not value:
        raise ValidationFailed(f"{field.capitalize()} is required.", field)
    if len(value) > limit:
        raise ValidationFailed(f"{field.capitalize()} is too long (at most {limit} characters).", field)
    return value


def check_roles(value: object, field: str = "roles") -> frozenset[str]:
    """A non-empty set of mentee/mentor/admin, from a list or a comma/semicolon-separated string."""
    if isinstance(value, str):
        items: list[Any] = [p for p in value.replace(";", ",").replace(" ", ",").split(",") if p]
    elif isinstance(value, list | tuple | set | frozenset):
        items = list(value)
    else:
        raise ValidationFailed("roles must be a list such as [\"mentee\", \"mentor\"].", field)
    roles = set()
    for item in items:
        role = item.strip().lower() if isinstance(item, str) else item
        if role not in ROLES:
            raise ValidationFailed(f"Unknown role {item!r}; use mentee, mentor or admin.", field)
        roles.add(role)
    if not roles:
        raise ValidationFailed("A person needs at least one role.", field)
    return frozenset(roles)


def check_password(value: object, field: str = "password") -> str:
    if not isinstance(value, str) or len(value) < PASSWORD_MIN:
        raise ValidationFailed(f"A password needs at least {PASSWORD_MIN} characters.", field)
    storable(value, field)
    if len(value) > 1000:
        raise ValidationFailed("The password is too long.", field)
    return value


def check_optional_count(value: object, field: str, *, maximum: int) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= maximum:
        raise ValidationFailed(f"{field} must be empty or a whole number from 1 to {maximum}.", field)
    return value


# ---------------------------------------------------------------- create / update


def email_taken(session: Session, email: str, *, except_id: int | None = None) -> bool:
    query = select(Person.id).where(Person.email == email)
    if except_id is not None:
        query = query.where(Person.id != except_id)
    return session.scalar(query.limit(1)) is not None


def _check_manager(session: Session, person: Person | None, manager_id: object) -> Person | None:
    if manager_id is None:
        return None
    if isinstance(manager_id, bool) or not isinstance(manager_id, int):
        raise ValidationFailed("manager_id must be a person id or null.", "manager_id")
    manager = get_row(session, Person, manager_id)
    if manager is None:
        raise ValidationFailed("No such person to be the manager.", "manager_id")
    if person is not None:
        # Walk up the chain: a person cannot (indirectly) manage themselves.
        seen: set[int] = set()
        boss: Person | None = manager
        while boss is not None and boss.id not in seen:
            if boss.id == person.id:
                raise ValidationFailed("That would make a person their own manager.", "manager_id")
            seen.add(boss.id)
            boss = boss.manager
    return manager


@dataclass(frozen=True)
class NewPerson:
    """Validated fields of a person to create (see :func:`check_new_person`)."""

    name: str
    email: str
    time_zone: str
    roles: frozenset[str]
    department: str = ""
    title: str = ""
    region: str = ""
    bio: str = ""
    password: str | None = None
    manager_id: int | None = None


def check_new_person(fields: Mapping[str, Any]) -> NewPerson:
    """Validate the fields of a new person (no database access); unknown keys are refused."""
    allowed = {"name", "email", "time_zone", "roles", "department", "title", "region", "bio",
               "password", "manager_id"}
    for key in fields:
        if key not in allowed:
            raise ValidationFailed(f"Unknown field {key!r}.", key)
    password = fields.get("password")
    return NewPerson(
        name=check_text(fields.get("name"), "name", required=True),
        email=check_email(fields.get("email")),
        time_zone=check_time_zone(fields.get("time_zone", "UTC")),
        roles=check_roles(fields.get("roles", ["mentee"])),
        department=check_text(fields.get("department"), "department"),
        title=check_text(fields.get("title"), "title"),
        region=check_text(fields.get("region"), "region"),
        bio=check_text(fields.get("bio"), "bio"),
        password=None if password is None else check_password(password),
        manager_id=fields.get("manager_id"),
    )


def add_person(session: Session, new: NewPerson, *, password_hash: str | None = None) -> Person:
    """Insert a validated person (no commit); the email must not be taken."""
    if email_taken(session, new.email):
        raise Conflict(f"Someone already has the email {new.email}.", "email")
    _check_manager(session, None, new.manager_id)
    person = Person(
        name=new.name,
        email=new.email,
        time_zone=new.time_zone,
        department=new.department,
        title=new.title,
        region=new.region,
        bio=new.bio,
        manager_id=new.manager_id,
        password_hash=password_hash or (hash_password(new.password) if new.password else None),
        **{flag: role in new.roles for role, flag in ROLE_FLAGS.items()},
    )
    session.add(person)
    session.flush()
    return person


def create_person(session: Session, fields: Mapping[str, Any] | None = None, /, **more: Any) -> Person:
    """Create one person (admin action) from a mapping and/or keywords; one transaction."""
    if not isinstance(fields, Mapping | None):
        raise ValidationFailed("Send the person as a JSON object.")
    merged = {**(fields or {}), **more}
    with unit_of_work(session):
        person = add_person(session, check_new_person(merged))
        session.commit()
    return person


def _active_admins(session: Session) -> int:
    return session.scalar(select(func.count(Person.id)).where(Person.is_admin, Person.active)) or 0


def update_person(
    session: Session, person: Person, changes: Mapping[str, Any], *, actor: Person | None
) -> Person:
    """Apply ``changes`` to ``person`` as ``actor`` (None: the system); all or nothing.

    People edit their own profile fields; admins edit anything. The last active
    admin cannot drop the admin role or be deactivated (nobody could undo it).
    """
    if not isinstance(changes, Mapping) or not changes:
        raise ValidationFailed("Send at least one field to change.")
    is_admin = actor is None or actor.is_admin
    if actor is not None and not is_admin and actor.id != person.id:
        raise Forbidden("You can only edit your own profile.")
    for key in changes:
        if key not in SELF_EDITABLE | ADMIN_ONLY:
            raise ValidationFailed(f"Unknown field {key!r}.", key)
        if key in ADMIN_ONLY and not is_admin:
            raise Forbidden(f"Only an admin can change {key}.", key)

    with unit_of_work(session):
        values: dict[str, Any] = {}
        for key, value in changes.items():
            if key in TEXT_LIMITS:
                values[key] = check_text(value, key, required=key == "name")
            elif key == "time_zone":
                values[key] = check_time_zone(value)
            elif key == "monthly_meeting_cap":
                values[key] = check_optional_count(value, key, maximum=MEETING_CAP_MAX)
            elif key == "email":
                email = check_email(value)
                if email_taken(session, email, except_id=person.id):
                    raise Conflict(f"Someone already has the email {email}.", "email")
                values[key] = email
            elif key == "roles":
                values[key] = check_roles(value)
            elif key == "manager_id":
                manager = _check_manager(session, person, value)
                values[key] = manager.id if manager else None
            elif key == "active":
                if not isinstance(value, bool):
                    raise ValidationFailed("active must be true or false.", key)
                values[key] = value
            elif key == "password":
                values[key] = hash_password(check_password(value))

        loses_admin = person.is_admin and person.active and (
            ("roles" in values and "admin" not in values["roles"]) or values.get("active") is False
        )
        if loses_admin and _active_admins(session) <= 1:
            raise Conflict("This is the last admin; make someone else admin first.", "roles")

        for key, value in values.items():
            if key == "roles":
                for role, flag in ROLE_FLAGS.items():
                    setattr(person, flag, role in value)
            elif key == "password":
                person.password_hash = value
            else:
                setattr(person, key, value)
        session.commit()
    return person


def set_skills(session: Session, person: Person, lists: Mapping[str, Any]) -> Person:
    """Replace some of a person's skill lists: ``{"offers": [...], "wants": [...], "has": [...]}``.

    Each entry is a name or ``{"name", "level"}`` with level 1..5. Only mentors offer skills.
    Lists not given are left alone; one transaction.
    """
    if not isinstance(lists, Mapping) or not lists:
        raise ValidationFailed("Send at least one of offers, wants, has.")
    parsed = {}
    for key, entries in lists.items():
        try:
            relation = SkillRelation(key)
        except ValueError:
            raise ValidationFailed(f"Unknown skill list {key!r}; use offers, wants or has.", key) from None
        parsed[relation] = parse_skill_entries(entries, key)
    if parsed.get(SkillRelation.OFFERS) and not person.is_mentor:
        raise Forbidden("Only mentors offer skills.", "offers")
    with unit_of_work(session):
        for relation, entries in parsed.items():
            replace_skills(session, person, relation, entries, field=relation.value)
        session.commit()
    return person


def _check_own_field(key: str, value: Any) -> Any:
    if key in TEXT_LIMITS:
        return check_text(value, key, required=key == "name")
    if key == "time_zone":
        return check_time_zone(value)
    return check_optional_count(value, key, maximum=MEETING_CAP_MAX)


def update_profile(
    session: Session,
    person: Person,
    changes: Mapping[str, Any],
    skills: Mapping[str, Any],
    *,
    actor: Person,
) -> Person:
    """The profile page's save: own fields and skill lists in one transaction, all or nothing.

    ``changes`` holds fields a person edits themself (see :data:`SELF_EDITABLE`);
    ``skills`` maps "wants", "offers", "has" to ``[{"name", "level"}]`` as in
    :func:`set_skills`, except that every name must already be in the catalogue (any
    spelling or alias): on a page people pick skills, a typo is refused, not added.
    """
    if actor.id != person.id and not actor.is_admin:
        raise Forbidden("You can only edit your own profile.")
    values = {}
    for key, value in changes.items():
        if key not in SELF_EDITABLE:
            raise ValidationFailed(f"Unknown field {key!r}.", key)
        values[key] = _check_own_field(key, value)
    parsed: dict[SkillRelation, list[SkillLevel]] = {}
    for key, entries in skills.items():
        try:
            relation = SkillRelation(key)
        except ValueError:
            raise ValidationFailed(f"Unknown skill list {key!r}; use offers, wants or has.", key) from None
        parsed[relation] = [
            SkillLevel(known_skill(session, e.name, f"{key}[{i}].name").name, e.level)
            for i, e in enumerate(parse_skill_entries(entries, key))
        ]
    if parsed.get(SkillRelation.OFFERS) and not person.is_mentor:
        raise Forbidden("Only mentors offer skills.", "offers")
    with unit_of_work(session):
        for relation, levels in parsed.items():
            replace_skills(session, person, relation, levels, field=relation.value)
        for key, value in values.items():
            setattr(person, key, value)
        session.commit()
    return person


def direct_reports(session: Session, manager: Person, *, limit: int | None = None) -> list[Person]:
    """Active people whose manager is ``manager``, by name (they see these people's gaps)."""
    query = (select(Person).where(Person.manager_id == manager.id, Person.active)
             .order_by(func.lower(Person.name), Person.id))
    return list(session.scalars(query.limit(limit) if limit is not None else query))


def get_person(session: Session, person_id: int, *, include_inactive: bool = False) -> Person:
    person = get_row(session, Person, person_id)
    if person is None or (not person.active and not include_inactive):
        raise NotFound("No such person.")
    return person


# ---------------------------------------------------------------- directory


def _search_query(
    session: Session,
    *,
    q: str | None,
    skill: str | None,
    department: str | None,
    title: str | None,
    time_zone: str | None,
    role: str | None,
    only_ids: Collection[int] | None = None,
    taking_requests_at: datetime | None = None,
) -> Select[Person] | None:
    """The filtered query, or None when the filters cannot match anyone (unknown skill)."""
    for name, value in (("q", q), ("skill", skill), ("department", department), ("title", title),
                        ("time_zone", time_zone), ("role", role)):
        if value is not None and (not isinstance(value, str) or not is_storable(value)):
            raise ValidationFailed(f"{name} contains characters that cannot be searched for.", name)
    query = select(Person).where(Person.active)
    if role not in (None, "", "any"):
        if role not in ROLES:
            raise ValidationFailed(f"Unknown role {role!r}; use mentee, mentor, admin or any.", "role")
        query = query.where(getattr(Person, ROLE_FLAGS[role]))
    if skill:
        found = find_skill(session, skill)
        if found is None:
            return None
        has_skill = select(PersonSkill.id).where(
            PersonSkill.person_id == Person.id, PersonSkill.skill_id == found.id
        )
        if role == "mentor":
            has_skill = has_skill.where(PersonSkill.relation == SkillRelation.OFFERS)
        query = query.where(exists(has_skill))
    if department:
        query = query.where(func.lower(Person.department) == department.strip().lower())
    if title:
        query = query.where(func.lower(Person.title).contains(title.strip().lower(), autoescape=True))
    if time_zone:
        query = query.where(Person.time_zone == time_zone.strip())
    for term in (q or "").split()[:10]:
        query = query.where(_matches_term(term))
    if only_ids is not None:  # e.g. a hidden directory: only the mentee's recommendations
        query = query.where(Person.id.in_(list(only_ids)))
    if taking_requests_at is not None:  # mentors who paused themselves are not listed
        query = query.where(taking_requests(taking_requests_at))
    return query


def taking_requests(now: datetime) -> Any:
    """SQL: the person has not paused taking requests past ``now``."""
    return or_(Person.paused_until.is_(None), Person.paused_until <= now)


def _matches_term(term: str) -> Any:
    """Name, title, department, or one of the person's skills (name, key or alias) contains ``term``."""
    low = term.lower()
    key = skill_key(term)
    skill_match = or_(
        func.lower(Skill.name).contains(low, autoescape=True),
        *([Skill.key.contains(key, autoescape=True)] if key else []),
        *([exists(select(SkillAlias.id).where(SkillAlias.skill_id == Skill.id,
                                              SkillAlias.key.contains(key, autoescape=True)))]
          if key else []),
    )
    has_skill = exists(
        select(PersonSkill.id)
        .join(Skill, Skill.id == PersonSkill.skill_id)
        .where(and_(PersonSkill.person_id == Person.id, skill_match))
    )
    return or_(
        func.lower(Person.name).contains(low, autoescape=True),
        func.lower(Person.title).contains(low, autoescape=True),
        func.lower(Person.department).contains(low, autoescape=True),
        has_skill,
    )


def search_people(
    session: Session,
    *,
    q: str | None = None,
    skill: str | None = None,
    department: str | None = None,
    title: str | None = None,
    time_zone: str | None = None,
    role: str | None = "mentor",
    only_ids: Collection[int] | None = None,
    limit: int = 50,
    offset: int = 0,
    taking_requests_at: datetime | None = None,
) -> list[Person]:
    """Active people matching every given filter, by name.

    ``skill`` goes through the catalogue (so any spelling or alias of a skill
    finds it); ``q`` is free text: each word must appear in the name, title,
    department or a skill. ``role`` "mentor" (default) lists mentors by the
    skills they offer; None or "any" lists everyone.
    """
    query = _search_query(session, q=q, skill=skill, department=department, title=title,
                          time_zone=time_zone, role=role, only_ids=only_ids,
                          taking_requests_at=taking_requests_at)
    if query is None:
        return []
    query = query.order_by(func.lower(Person.name), Person.id).limit(limit).offset(offset)
    return list(session.scalars(query))


def count_people(
    session: Session,
    *,
    q: str | None = None,
    skill: str | None = None,
    department: str | None = None,
    title: str | None = None,
    time_zone: str | None = None,
    role: str | None = "mentor",
    only_ids: Collection[int] | None = None,
    taking_requests_at: datetime | None = None,
) -> int:
    """How many people :func:`search_people` would find without paging."""
    query = _search_query(session, q=q, skill=skill, department=department, title=title,
                          time_zone=time_zone, role=role, only_ids=only_ids,
                          taking_requests_at=taking_requests_at)
    if query is None:
        return 0
    return session.scalar(select(func.count()).select_from(query.subquery())) or 0


def departments(session: Session) -> list[str]:
    """Distinct non-empty departments of active people (for directory filters)."""
    rows = session.scalars(
        select(Person.department).where(Person.active, Person.department != "").distinct()
    )
    return sorted(rows, key=str.casefold)


# ---------------------------------------------------------------- views


def public_profile(person: Person) -> dict[str, Any]:
    """What anyone signed in may see: never the password hash or calendar secrets."""
    return _public(person, skills_of(person, SkillRelation.OFFERS), skills_of(person, SkillRelation.WANTS),
                   _answers(person, private=False))


def private_profile(person: Person) -> dict[str, Any]:
    """The person's own view (and an admin's): adds the fields only they manage."""
    return _private(_public(person, skills_of(person, SkillRelation.OFFERS),
                            skills_of(person, SkillRelation.WANTS), _answers(person, private=True)),
                    person, skills_of(person, SkillRelation.HAS), person.password_hash is not None)


def _answers(person: Person, *, private: bool) -> list[dict[str, Any]]:
    """The person's profile-field answers this view shows (:func:`profile_fields.answer_views`)."""
    session = object_session(person)
    if session is None:
        return []
    return answer_views(session, [person.id], lambda _: private)[person.id]


def _public(person: Any, offers: list[dict[str, object]], wants: list[dict[str, object]],
            answers: list[dict[str, Any]]) -> dict[str, Any]:
    """``person``: a ``Person`` or a row of :data:`PROFILE_COLUMNS` (same attribute names);
    ``answers``: the profile-field answers the viewer may see."""
    return {
        "id": person.id,
        "name": person.name,
        "email": person.email,
        "department": person.department,
        "title": person.title,
        "region": person.region,
        "time_zone": person.time_zone,
        "bio": person.bio,
        "roles": [r for r, on in (("mentee", person.is_mentee), ("mentor", person.is_mentor),
                                  ("admin", person.is_admin)) if on],
        "is_mentor": person.is_mentor,
        "offers": offers,
        "wants": wants,
        "availability_note": person.availability_note if person.is_mentor else "",
        "profile_fields": answers,
    }


def _private(public: dict[str, Any], person: Any, has: list[dict[str, object]],
             has_password: bool) -> dict[str, Any]:
    return {
        **public,
        "has": has,
        "manager_id": person.manager_id,
        "monthly_meeting_cap": person.monthly_meeting_cap,
        "active": person.active,
        "has_password": has_password,
    }


PROFILE_COLUMNS = (
    Person.id, Person.name, Person.email, Person.department, Person.title, Person.region,
    Person.time_zone, Person.bio, Person.is_mentee, Person.is_mentor, Person.is_admin,
    Person.availability_note, Person.manager_id, Person.monthly_meeting_cap, Person.active,
    Person.password_hash.is_not(None).label("has_password"),
)


def directory_page(
    session: Session,
    *,
    private_for: Callable[[int], bool],
    q: str | None = None,
    skill: str | None = None,
    department: str | None = None,
    title: str | None = None,
    time_zone: str | None = None,
    role: str | None = "mentor",
    only_ids: Collection[int] | None = None,
    taking_requests_at: datetime | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict[str, Any]], int]:
    """One page of :func:`search_people` as profiles, and the total without paging.

    The same answer as ``[private_profile(p) if private_for(p.id) else public_profile(p) ...]``
    with :func:`count_people`, read as columns: one query for the page (the total rides along as a
    window count) and one for the page's skills, instead of ``Person`` objects with their
    relationships (skills, weekly slots, skill aliases) loaded for every row of the directory; the
    page's profile-field answers come in one more query.
    """
    query = _search_query(session, q=q, skill=skill, department=department, title=title,
                          time_zone=time_zone, role=role, only_ids=only_ids,
                          taking_requests_at=taking_requests_at)
    if query is None:
        return [], 0
    page = (query.with_only_columns(*PROFILE_COLUMNS, func.count().over().label("total"))
            .order_by(func.lower(Person.name), Person.id).limit(limit).offset(offset))
    rows = session.execute(page).all()
    if not rows:  # past the last page (or nobody): the window count came with no row
        total = session.scalar(select(func.count()).select_from(
            query.with_only_columns(Person.id).subquery())) or 0
        return [], total
    skills: dict[tuple[int, str], list[dict[str, object]]] = {}
    found = session.execute(
        select(PersonSkill.person_id, PersonSkill.relation, Skill.name, PersonSkill.level)
        .join(Skill, Skill.id == PersonSkill.skill_id)
        .where(PersonSkill.person_id.in_([row.id for row in rows]))
        .order_by(PersonSkill.id))
    for person_id, relation, name, level in sorted(found, key=lambda r: r.name.casefold()):
        skills.setdefault((person_id, SkillRelation(relation)), []).append({"name": name, "level": level})
    answers = answer_views(session, [row.id for row in rows], private_for)
    profiles = []
    for row in rows:
        profile = _public(row, skills.get((row.id, SkillRelation.OFFERS), []),
                          skills.get((row.id, SkillRelation.WANTS), []), answers[row.id])
        if private_for(row.id):
            profile = _private(profile, row, skills.get((row.id, SkillRelation.HAS), []), row.has_password)
        profiles.append(profile)
    return profiles, rows[0].total


def people_by_email(session: Session, emails: Iterable[str]) -> dict[str, Person]:
    wanted = list(set(emails))
    found: dict[str, Person] = {}
    for i in range(0, len(wanted), 500):
        for person in session.scalars(select(Person).where(Person.email.in_(wanted[i:i + 500]))):
            found[person.email] = person
    return found
