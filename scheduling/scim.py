"""SCIM 2.0 provisioning (RFC 7643/7644) as domain services; resources are ``scim2-models`` objects.

What an identity provider provisions maps onto people:

- a **User** is a :class:`Person` (``userName`` and ``externalId`` kept on the provider's
  :class:`PersonIdentity`); ``displayName`` is the name, ``title`` the title, the primary
  email the sign-in address, ``active`` whether they are in the program. ``active=false``
  and DELETE go through :mod:`scheduling.services.deactivation`: nothing is deleted.
- a **Group** named ``mentees``, ``mentors`` or ``admins`` grants that role to its members;
  any other group is a department its members get.

The schemas served list only these attributes, so a client never sends what would be
dropped. Every change is one transaction (deactivation: one per closed item, re-runnable).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from scim2_models import (
    Context,
    Email,
    Group,
    GroupMember,
    Meta,
    Required,
    ResourceType,
    Schema,
    User,
)
from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from scheduling.db import get_row
from scheduling.errors import Conflict, DomainError, NotFound, ValidationFailed
from scheduling.models import IdentityProvider, Person, PersonIdentity, ScimGroup, ScimGroupMember
from scheduling.services import deactivation
from scheduling.services.people import (
    add_person,
    check_email,
    check_new_person,
    check_text,
    email_taken,
)
from scheduling.services.transaction import unit_of_work

USER_ATTRIBUTES = ("userName", "displayName", "title", "active", "emails")
GROUP_ATTRIBUTES = ("displayName", "members")
MEMBER_SUBATTRIBUTES = ("value", "$ref")
ROLE_GROUPS = {"mentees": "mentee", "mentors": "mentor", "admins": "admin"}
MAX_PAGE = 200
_FILTER = re.compile(r'^\s*([A-Za-z.$\[\] "=]+?)\s+eq\s+"((?:[^"\\]|\\.)*)"\s*$', re.IGNORECASE)


class InvalidFilter(ValidationFailed):
    code = "invalidFilter"


@dataclass(frozen=True)
class Page:
    total: int
    start_index: int
    resources: list[Any]


# --------------------------------------------------------------------- discovery


def schemas() -> list[Schema]:
    """The User and Group schemas, narrowed to what this service stores."""
    user = User.to_schema()
    user.attributes = [a for a in user.attributes or [] if a.name in USER_ATTRIBUTES]
    for attribute in user.attributes:
        if attribute.name == "emails":
            # People sign in with an email (the primary one), so a user has at least one, with a
            # value: a client filling only required attributes sends a usable address. An
            # email-like userName stands in for missing emails (see _primary_email).
            attribute.required = Required.true
            for sub in attribute.sub_attributes or []:
                if sub.name == "value":
                    sub.required = Required.true
    group = Group.to_schema()
    group.attributes = [a for a in group.attributes or [] if a.name in GROUP_ATTRIBUTES]
    for attribute in group.attributes:
        if attribute.name == "members":
            attribute.sub_attributes = [s for s in attribute.sub_attributes or []
                                        if s.name in MEMBER_SUBATTRIBUTES]
    return [user, group]


def resource_types() -> list[ResourceType]:
    return [ResourceType.from_resource(User), ResourceType.from_resource(Group)]


# --------------------------------------------------------------------- users


def _link(session: Session, provider: IdentityProvider, person_id: int) -> PersonIdentity | None:
    return session.scalar(select(PersonIdentity).where(
        PersonIdentity.provider_id == provider.id, PersonIdentity.person_id == person_id))


def user_resource(person: Person, link: PersonIdentity | None, base_url: str) -> User:
    attrs = (link.scim_attributes or {}) if link is not None else {}
    provisioned = link is not None and link.scim_attributes is not None
    emails = [Email.model_validate(e) for e in attrs.get("emails") or []] or \
        [Email(value=person.email, primary=True, type=Email.Type.work)]
    main = next((e for e in emails if e.primary), emails[0])
    main.value = person.email
    user: User[Any] = User(
        id=str(person.id),
        external_id=link.external_id if link is not None else None,
        user_name=(link.user_name if link is not None and link.user_name else person.email),
        display_name=person.name if not provisioned or "displayName" in attrs else None,
        title=(person.title or None) if not provisioned or "title" in attrs else None,
        # An active person whose provider stopped stating ``active`` (PATCH remove, PUT without
        # it) shows it unassigned, as sent; an inactive person always shows false.
        active=None if person.active and provisioned and "active" not in attrs else person.active,
        emails=emails,
    )
    user.meta = Meta(resource_type="User", created=person.created_at, last_modified=person.created_at,
                     location=f"{base_url}/Users/{person.id}")
    return user


def _visible(session: Session, provider: IdentityProvider,
             person_id: object) -> tuple[Person, PersonIdentity | None]:
    person = get_row(session, Person, int(str(person_id))) if str(person_id).isdigit() else None
    link = _link(session, provider, person.id) if person is not None else None
    if person is None or (not person.active and link is None):
        raise NotFound(f"No user {person_id}.")
    return person, link


def get_user(session: Session, provider: IdentityProvider, user_id: str, base_url: str) -> User:
    return user_resource(*_visible(session, provider, user_id), base_url)


def _primary_email(user: User) -> str:
    emails = user.emails or []
    chosen = next((e.value for e in emails if e.primary and e.value), None) or \
        next((e.value for e in emails if e.value), None)
    if chosen is None and user.user_name and "@" in user.user_name:
        chosen = user.user_name
    if chosen is None:
        raise ValidationFailed("A user needs an email address (emails or an email-like userName).", "emails")
    return check_email(str(chosen), "emails")


def _stored_attributes(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: payload[k] for k in ("displayName", "title", "emails", "active") if payload.get(k) is not None}


def _check_user_name(session: Session, provider: IdentityProvider, user: User, person_id: int | None) -> str:
    name = str(user.user_name or "").strip()
    if not name or len(name) > 254:
        raise ValidationFailed("userName is required (at most 254 characters).", "userName")
    clash = session.scalar(select(PersonIdentity).where(
        PersonIdentity.provider_id == provider.id, func.lower(PersonIdentity.user_name) == name.lower()))
    if clash is not None and clash.person_id != person_id:
        raise Conflict(f"userName {name!r} is already taken.", "userName")
    return name


def create_user(session: Session, provider: IdentityProvider, user: User, base_url: str) -> User:
    """Provision a user: a new person, or an existing one (imported earlier) adopted by email."""
    payload = user.model_dump(scim_ctx=Context.RESOURCE_CREATION_REQUEST)
    with unit_of_work(session):
        user_name = _check_user_name(session, provider, user, None)
        email = _primary_email(user)
        person = session.scalar(select(Person).where(Person.email == email))
        if person is not None and _link(session, provider, person.id) is not None:
            raise Conflict(f"{email} is already provisioned.", "userName")
        if person is None:
            person = add_person(session, check_new_person({
                "email": email, "name": user.display_name or user_name.partition("@")[0],
                "title": user.title or "", "roles": ["mentee"]}))
            person.needs_profile = True  # no zone or skills yet: the first-sign-in profile before Home
        else:
            _apply_user_fields(person, user)
        link = PersonIdentity(provider_id=provider.id, person_id=person.id, user_name=user_name,
                              external_id=user.external_id, scim_attributes=_stored_attributes(payload))
        session.add(link)
        session.commit()
    if user.active is False:
        deactivation.deactivate(session, person)
    elif user.active and not person.active:
        deactivation.reactivate(session, person)
    return user_resource(person, link, base_url)


def _apply_user_fields(person: Person, user: User) -> None:
    if user.display_name:
        person.name = check_text(user.display_name, "displayName", required=True)
    if user.title is not None:
        person.title = check_text(user.title, "title")


def replace_user(session: Session, provider: IdentityProvider, user_id: str, user: User,
                 base_url: str, *, now: datetime | None = None) -> User:
    """PUT (and PATCH, applied to the current resource first): the user becomes ``user``."""
    person, link = _visible(session, provider, user_id)
    payload = user.model_dump(scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST)
    with unit_of_work(session):
        user_name = _check_user_name(session, provider, user, person.id)
        email = _primary_email(user)
        if email != person.email and email_taken(session, email, except_id=person.id):
            raise Conflict(f"Someone already has the email {email}.", "emails")
        person.email = email
        _apply_user_fields(person, user)
        if link is None:
            link = PersonIdentity(provider_id=provider.id, person_id=person.id)
            session.add(link)
        link.user_name = user_name
        link.external_id = user.external_id
        link.scim_attributes = _stored_attributes(payload)
        session.commit()
    if user.active is False and person.active:
        deactivation.deactivate(session, person, now=now)
    elif user.active is not False and not person.active:
        deactivation.reactivate(session, person)
    return user_resource(person, link, base_url)


def delete_user(session: Session, provider: IdentityProvider, user_id: str,
                *, now: datetime | None = None) -> None:
    """Deprovision: deactivate (closing what is open) and forget the provider's link; keep the person."""
    person, link = _visible(session, provider, user_id)
    if person.active:
        deactivation.deactivate(session, person, now=now)
    with unit_of_work(session):
        if link is not None:
            session.delete(link)
        session.commit()


def _users_query(session: Session, provider: IdentityProvider, filter_: str | None) -> Any:
    linked = select(PersonIdentity.person_id).where(PersonIdentity.provider_id == provider.id)
    query = select(Person).where(or_(Person.active, Person.id.in_(linked)))
    if filter_:
        attribute, value = _parse_filter(filter_)
        if attribute == "username":
            by_link = select(PersonIdentity.person_id).where(
                PersonIdentity.provider_id == provider.id,
                func.lower(PersonIdentity.user_name) == value.lower())
            query = query.where(or_(Person.id.in_(by_link), func.lower(Person.email) == value.lower()))
        elif attribute == "externalid":
            query = query.where(Person.id.in_(select(PersonIdentity.person_id).where(
                PersonIdentity.provider_id == provider.id, PersonIdentity.external_id == value)))
        elif attribute in ("emails", "emails.value", "emails[value"):
            query = query.where(func.lower(Person.email) == value.lower())
        elif attribute == "displayname":
            query = query.where(Person.name == value)
        else:
            raise InvalidFilter(f"Filtering on {attribute!r} is not supported; use userName, externalId, "
                                "emails or displayName with eq.", "filter")
    return query.order_by(Person.id)


def list_users(session: Session, provider: IdentityProvider, filter_: str | None, start_index: int,
               count: int, base_url: str) -> Page:
    return _page(session, _users_query(session, provider, filter_), start_index, count,
                 lambda p: user_resource(p, _link(session, provider, p.id), base_url))


def search_all(session: Session, provider: IdentityProvider, filter_: str | None, start_index: int,
               count: int, base_url: str) -> Page:
    """``POST /.search`` at the root (RFC 7644 3.4.3): users, then groups, paged as one list.

    A filter on an attribute one type lacks matches none of that type; one neither has is refused.
    """
    queries: list[tuple[Any, Any]] = []
    refused: InvalidFilter | None = None
    for build, render in (
            (_users_query, lambda p: user_resource(p, _link(session, provider, p.id), base_url)),
            (_groups_query, lambda g: group_resource(g, base_url))):
        try:
            queries.append((build(session, provider, filter_), render))
        except InvalidFilter as exc:
            refused = exc
    if not queries and refused is not None:
        raise InvalidFilter("Filter on userName, externalId, emails or displayName with eq.", "filter")
    start, count = max(1, start_index), max(0, min(count, MAX_PAGE))
    total, skip = 0, start - 1
    resources: list[Any] = []
    for query, render in queries:
        found = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
        total += found
        take = min(max(0, count - len(resources)), max(0, found - skip))
        if take:
            resources += [render(r) for r in session.scalars(query.offset(skip).limit(take)).all()]
        skip = max(0, skip - found)
    return Page(total=total, start_index=start, resources=resources)


def _parse_filter(text: str) -> tuple[str, str]:
    match = _FILTER.match(text)
    if not match:
        raise InvalidFilter('Use a filter like userName eq "ada@example.com".', "filter")
    attribute = match.group(1).strip().lower().replace(" ", "")
    return attribute, match.group(2).replace('\\"', '"')


def _page(session: Session, query: Any, start_index: int, count: int, render: Any) -> Page:
    start = max(1, start_index)
    count = max(0, min(count, MAX_PAGE))
    total = session.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0
    rows = session.scalars(query.offset(start - 1).limit(count)).all() if count else []
    return Page(total=total, start_index=start, resources=[render(r) for r in rows])


# --------------------------------------------------------------------- groups


def group_resource(group: ScimGroup, base_url: str) -> Group:
    resource = Group(id=str(group.id), external_id=group.external_id, display_name=group.display_name,
                     members=[GroupMember.model_validate(
                         {"value": str(m.person_id), "$ref": f"{base_url}/Users/{m.person_id}"})
                              for m in sorted(group.members, key=lambda m: m.id)] or None)
    resource.meta = Meta(resource_type="Group", created=group.created_at, last_modified=group.created_at,
                         location=f"{base_url}/Groups/{group.id}")
    return resource


def _group(session: Session, provider: IdentityProvider, group_id: object) -> ScimGroup:
    group = get_row(session, ScimGroup, int(str(group_id))) if str(group_id).isdigit() else None
    if group is None or group.provider_id != provider.id:
        raise NotFound(f"No group {group_id}.")
    return group


def get_group(session: Session, provider: IdentityProvider, group_id: str, base_url: str) -> Group:
    return group_resource(_group(session, provider, group_id), base_url)


def _member_ids(session: Session, members: Sequence[GroupMember] | None) -> list[int]:
    ids: list[int] = []
    for member in members or []:
        value = str(member.value or "")
        person = get_row(session, Person, int(value)) if value.isdigit() else None
        if person is None:
            raise ValidationFailed(f"Member {member.value!r} is not a user here.", "members")
        ids.append(person.id)
    return ids


def _grant(person: Person, group: ScimGroup, on: bool) -> None:
    if group.maps_to == "department":
        if on:
            person.department = group.display_name
        elif person.department == group.display_name:
            person.department = ""
    else:
        setattr(person, f"is_{group.maps_to}", on)


def _set_members(session: Session, group: ScimGroup, wanted: list[int]) -> None:
    current = {m.person_id: m for m in group.members}
    for person_id, member in current.items():
        if person_id not in wanted:
            _grant(session.get_one(Person, person_id), group, False)
            group.members.remove(member)
    for person_id in dict.fromkeys(wanted):
        if person_id not in current:
            group.members.append(ScimGroupMember(person_id=person_id))
            _grant(session.get_one(Person, person_id), group, True)


def _check_group_name(session: Session, provider: IdentityProvider, name: str | None,
                      group_id: int | None) -> str:
    name = check_text(name, "displayName", required=True)
    clash = session.scalar(select(ScimGroup).where(ScimGroup.provider_id == provider.id,
                                                   func.lower(ScimGroup.display_name) == name.lower()))
    if clash is not None and clash.id != group_id:
        raise Conflict(f"A group named {name!r} exists already.", "displayName")
    return name


def create_group(session: Session, provider: IdentityProvider, group: Group, base_url: str) -> Group:
    with unit_of_work(session):
        name = _check_group_name(session, provider, group.display_name, None)
        row = ScimGroup(provider_id=provider.id, display_name=name, external_id=group.external_id,
                        maps_to=ROLE_GROUPS.get(name.lower(), "department"))
        session.add(row)
        _set_members(session, row, _member_ids(session, group.members))
        session.commit()
    return group_resource(row, base_url)


def replace_group(session: Session, provider: IdentityProvider, group_id: str, group: Group,
                  base_url: str) -> Group:
    row = _group(session, provider, group_id)
    with unit_of_work(session):
        name = _check_group_name(session, provider, group.display_name, row.id)
        if ROLE_GROUPS.get(name.lower(), "department") != row.maps_to:
            raise ValidationFailed("A role group cannot be renamed into a department or another role "
                                   "(and back); create a new group.", "displayName")
        if name != row.display_name and row.maps_to == "department":
            for member in row.members:
                person = session.get_one(Person, member.person_id)
                if person.department == row.display_name:
                    person.department = name
        row.display_name, row.external_id = name, group.external_id
        _set_members(session, row, _member_ids(session, group.members))
        session.commit()
    return group_resource(row, base_url)


def delete_group(session: Session, provider: IdentityProvider, group_id: str) -> None:
    """The group goes; its members lose what it gave them (the role, or the department)."""
    row = _group(session, provider, group_id)
    with unit_of_work(session):
        _set_members(session, row, [])
        session.delete(row)
        session.commit()


def _groups_query(session: Session, provider: IdentityProvider, filter_: str | None) -> Any:
    query = select(ScimGroup).where(ScimGroup.provider_id == provider.id)
    if filter_:
        attribute, value = _parse_filter(filter_)
        if attribute == "displayname":
            query = query.where(func.lower(ScimGroup.display_name) == value.lower())
        elif attribute == "externalid":
            query = query.where(ScimGroup.external_id == value)
        else:
            raise InvalidFilter("Filter groups on displayName or externalId with eq.", "filter")
    return query.order_by(ScimGroup.id)


def list_groups(session: Session, provider: IdentityProvider, filter_: str | None, start_index: int,
                count: int, base_url: str) -> Page:
    return _page(session, _groups_query(session, provider, filter_), start_index, count,
                 lambda g: group_resource(g, base_url))


def scim_type(exc: DomainError) -> str | None:
    """The RFC 7644 ``scimType`` for a domain error, where one fits."""
    if isinstance(exc, InvalidFilter):
        return "invalidFilter"
    if isinstance(exc, Conflict):
        return "uniqueness"
    if isinstance(exc, ValidationFailed):
        return "invalidValue"
    return None
