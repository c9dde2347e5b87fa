"""SCIM 2.0 at ``/scim/v2`` (RFC 7644): parse with ``scim2-models``, call :mod:`scheduling.scim`, answer.

Every request carries a provider's bearer token; every error is a SCIM Error message
(``schemas``, ``status``, ``scimType``, ``detail``) with its 4xx, and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import Blueprint, Response, g, json, request
from pydantic import ValidationError
from scim2_models import (
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    ETag,
    Filter,
    Group,
    ListResponse,
    Meta,
    Patch,
    PatchOp,
    ResourceType,
    ResponseParameters,
    Schema,
    SearchRequest,
    ServiceProviderConfig,
    Sort,
    User,
)
from scim2_models import Error as ScimError

from app.db import db
from scheduling import scim
from scheduling.errors import DomainError
from scheduling.services import scim_tokens

PREFIX = "/scim/v2"
bp = Blueprint("scim", __name__, url_prefix=PREFIX)
MEDIA_TYPE = "application/scim+json"
DEFAULT_COUNT = 100


class ScimFailure(Exception):
    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def _response_parameters() -> Any:
    """``attributes`` / ``excludedAttributes`` of the query (RFC 7644 section 3.9)."""
    asked = {key: [a.strip() for a in request.args.get(arg, "").split(",") if a.strip()] or None
             for key, arg in (("attributes", "attributes"), ("excluded_attributes", "excludedAttributes"))}
    if not any(asked.values()):
        return None
    try:
        return ResponseParameters[Any].model_validate(asked)
    except ValidationError:
        raise ScimFailure(400, "attributes and excludedAttributes name attributes.", "invalidValue") from None


def _answer(body: Any, status: int = 200, headers: dict[str, str] | None = None,
            parameters: Any = None) -> Response:
    data = body if not hasattr(body, "model_dump") else body.model_dump(
        scim_ctx=Context.RESOURCE_QUERY_RESPONSE, response_parameters=parameters or _response_parameters())
    return Response(json.dumps(data), status=status, mimetype=MEDIA_TYPE, headers=headers)


def _error(status: int, detail: str, scim_type: str | None = None) -> Response:
    error = ScimError(status=status, detail=detail, scim_type=scim_type)
    headers = {"WWW-Authenticate": 'Bearer realm="scim"'} if status == 401 else None
    return Response(json.dumps(error.model_dump()), status=status, mimetype=MEDIA_TYPE, headers=headers)


def base_url() -> str:
    return request.url_root.rstrip("/") + PREFIX


@bp.before_request
def _authenticate() -> Any:
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    provider = scim_tokens.authenticate(db(), token.strip()) if scheme.lower() == "bearer" else None
    if provider is None:
        return _error(401, "Send a valid SCIM bearer token (Authorization: Bearer ...).")
    g.scim_provider = provider
    return None


@bp.errorhandler(ScimFailure)
def _failure(exc: ScimFailure) -> Response:
    db().rollback()
    return _error(exc.status, exc.detail, exc.scim_type)


@bp.errorhandler(DomainError)
def _domain(exc: DomainError) -> Response:
    db().rollback()
    status = exc.status if exc.status in (401, 403, 404, 409) else 400  # SCIM: invalid input is a 400
    return _error(status, exc.message, scim.scim_type(exc))


@bp.route("/<path:unknown>", methods=["GET", "POST", "PUT", "PATCH", "DELETE"])
def unknown_endpoint(unknown: str) -> Response:
    if unknown.split("/")[0] in ("ServiceProviderConfig", "ResourceTypes", "Schemas", "Users", "Groups"):
        return _error(405, f"{request.method} is not supported on /{unknown}.")
    return _error(404, f"No SCIM endpoint /{unknown}.")


@bp.errorhandler(404)
def _not_found(exc: Exception) -> Response:
    return _error(404, "No such SCIM endpoint.")


@bp.errorhandler(405)
def _not_allowed(exc: Exception) -> Response:
    return _error(405, f"{request.method} is not supported here.")


def _payload() -> dict[str, Any]:
    body = request.get_json(force=True, silent=True)
    if not isinstance(body, dict):
        raise ScimFailure(400, "Send a JSON object.", "invalidSyntax")
    return body


def _parse(model: Any, ctx: Context) -> Any:
    try:
        return model.model_validate(_payload(), scim_ctx=ctx)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ()))
        raise ScimFailure(400, f"{where}: {first.get('msg')}" if where else str(first.get("msg")),
                          "invalidValue") from None


def _paging() -> tuple[int, int]:
    try:
        start = int(request.args.get("startIndex", "1"))
        count = int(request.args.get("count", str(DEFAULT_COUNT)))
    except ValueError:
        raise ScimFailure(400, "startIndex and count are whole numbers.", "invalidValue") from None
    return start, count


def _list(page: scim.Page, model: Any, parameters: Any = None) -> Response:
    return _answer(ListResponse[model](
        total_results=page.total, start_index=page.start_index, items_per_page=len(page.resources),
        resources=page.resources or None), parameters=parameters)


Lister = Callable[..., scim.Page]  # (session, provider, filter, start index, count, base url)


def _listed(lister: Lister, model: Any) -> Response:
    """GET a collection: filter and paging from the URL."""
    start, count = _paging()
    return _list(lister(db(), g.scim_provider, request.args.get("filter"), start, count, base_url()), model)


def _search(lister: Lister, model: Any) -> Response:
    """POST ``.../.search`` (RFC 7644 3.4.3): the query in a SearchRequest body instead of the URL."""
    search = _parse(SearchRequest[Any], Context.SEARCH_REQUEST)
    if search.sort_by is not None:
        raise ScimFailure(400, "Sorting is not supported (see ServiceProviderConfig).", "invalidValue")
    page = lister(db(), g.scim_provider, str(search.filter) if search.filter is not None else None,
                  search.start_index or 1, DEFAULT_COUNT if search.count is None else search.count,
                  base_url())
    parameters = None
    if search.attributes or search.excluded_attributes:
        parameters = ResponseParameters[Any](attributes=search.attributes,
                                             excluded_attributes=search.excluded_attributes)
    return _list(page, model, parameters)


@bp.post("/.search")
def search_all() -> Response:
    return _search(scim.search_all, User[Any] | Group)


# ----------------------------------------------------------------- discovery


@bp.get("/ServiceProviderConfig")
def service_provider_config() -> Response:
    return _answer(ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True), bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=scim.MAX_PAGE),
        change_password=ChangePassword(supported=False), sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[AuthenticationScheme(
            type=AuthenticationScheme.Type.oauthbearertoken, name="Bearer token",
            description="A token made on the admin's Sign-in page, one or more per identity provider.",
            primary=True)],
    ))


def _located(items: list[Any], kind: str) -> list[Any]:
    """Discovery resources (``kind``: ResourceType or Schema) with their meta and address."""
    for item in items:
        item.meta = Meta(resource_type=kind, location=f"{base_url()}/{kind}s/{item.id}")
    return items


def _discovery_list(items: list[Any], kind: str, model: Any) -> Response:
    return _answer(ListResponse[model](total_results=len(items), start_index=1, items_per_page=len(items),
                                       resources=_located(items, kind)))


def _discovery_get(items: list[Any], kind: str, item_id: str, missing: str) -> Response:
    for item in _located(items, kind):
        if item.id == item_id:
            return _answer(item)
    raise ScimFailure(404, missing)


@bp.get("/ResourceTypes")
def resource_types_list() -> Response:
    return _discovery_list(scim.resource_types(), "ResourceType", ResourceType)


@bp.get("/ResourceTypes/<name>")
def resource_type_get(name: str) -> Response:
    return _discovery_get(scim.resource_types(), "ResourceType", name, f"No resource type {name}.")


@bp.get("/Schemas")
def schemas_list() -> Response:
    return _discovery_list(scim.schemas(), "Schema", Schema)


@bp.get("/Schemas/<schema_id>")
def schema_get(schema_id: str) -> Response:
    return _discovery_get(scim.schemas(), "Schema", schema_id, f"No schema {schema_id}.")


# ----------------------------------------------------------------- users


@bp.get("/Users")
def users_list() -> Response:
    return _listed(scim.list_users, User[Any])


@bp.post("/Users/.search")
def users_search() -> Response:
    return _search(scim.list_users, User[Any])


@bp.post("/Users")
def users_create() -> Response:
    user = _parse(User[Any], Context.RESOURCE_CREATION_REQUEST)
    created = scim.create_user(db(), g.scim_provider, user, base_url())
    return _answer(created, 201, {"Location": str(created.meta.location)})  # type: ignore[union-attr]


@bp.get("/Users/<user_id>")
def users_get(user_id: str) -> Response:
    return _answer(scim.get_user(db(), g.scim_provider, user_id, base_url()))


@bp.put("/Users/<user_id>")
def users_replace(user_id: str) -> Response:
    user = _parse(User[Any], Context.RESOURCE_REPLACEMENT_REQUEST)
    return _answer(scim.replace_user(db(), g.scim_provider, user_id, user, base_url()))


@bp.patch("/Users/<user_id>")
def users_patch(user_id: str) -> Response:
    return _patched(scim.get_user, scim.replace_user, user_id, PatchOp[User[Any]])


@bp.delete("/Users/<user_id>")
def users_delete(user_id: str) -> Response:
    scim.delete_user(db(), g.scim_provider, user_id)
    return Response(status=204)


def _patched(get: Callable[..., Any], replace: Callable[..., Any], resource_id: str,
             op_model: Any) -> Response:
    """PATCH: the current resource with the operations applied, then stored as a PUT would be."""
    current = get(db(), g.scim_provider, resource_id, base_url())
    _apply_patch(current, op_model)
    return _answer(replace(db(), g.scim_provider, resource_id, current, base_url()))


def _apply_patch(resource: Any, op_model: Any) -> None:
    patch = _parse(op_model, Context.RESOURCE_PATCH_REQUEST)
    try:
        patch.patch(resource)
    except (ValueError, TypeError, AttributeError, ValidationError) as exc:
        raise ScimFailure(400, f"The patch cannot be applied: {exc}", "invalidPath") from None
    except Exception as exc:  # scim2-models raises SCIMException subclasses with their own scimType
        scim_type = getattr(exc, "scim_type", None) or "invalidValue"
        raise ScimFailure(int(getattr(exc, "status", 400) or 400), str(exc), scim_type) from None


# ----------------------------------------------------------------- groups


@bp.get("/Groups")
def groups_list() -> Response:
    return _listed(scim.list_groups, Group)


@bp.post("/Groups/.search")
def groups_search() -> Response:
    return _search(scim.list_groups, Group)


@bp.post("/Groups")
def groups_create() -> Response:
    group = _parse(Group, Context.RESOURCE_CREATION_REQUEST)
    created = scim.create_group(db(), g.scim_provider, group, base_url())
    return _answer(created, 201, {"Location": str(created.meta.location)})  # type: ignore[union-attr]


@bp.get("/Groups/<group_id>")
def groups_get(group_id: str) -> Response:
    return _answer(scim.get_group(db(), g.scim_provider, group_id, base_url()))


@bp.put("/Groups/<group_id>")
def groups_replace(group_id: str) -> Response:
    group = _parse(Group, Context.RESOURCE_REPLACEMENT_REQUEST)
    return _answer(scim.replace_group(db(), g.scim_provider, group_id, group, base_url()))


@bp.patch("/Groups/<group_id>")
def groups_patch(group_id: str) -> Response:
    return _patched(scim.get_group, scim.replace_group, group_id, PatchOp[Group])


@bp.delete("/Groups/<group_id>")
def groups_delete(group_id: str) -> Response:
    scim.delete_group(db(), g.scim_provider, group_id)
    return Response(status=204)
