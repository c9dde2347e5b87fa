"""Input types for the API's pydantic models: one type per kind of value a client sends.

Each type parses with the checks in :mod:`app.api.params` (so wrong input gets the same
field-named 422 as before) and carries the JSON Schema the OpenAPI document shows for it:
the validator and the document are the same object.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from datetime import datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, PlainValidator, WithJsonSchema

from app.api.params import MAX_INT, as_datetime, as_enum, as_flag, as_int, as_str
from scheduling.errors import ValidationFailed

FIELD = "{field}"  # where the field's path goes in a message; filled in from the error's location


class FieldProblem(ValueError):
    """A value failed its check; ``template`` names the field as ``{field}``."""

    def __init__(self, template: str) -> None:
        super().__init__(template)
        self.template = template


class Input(BaseModel):
    """A JSON body or a query string: unknown keys are ignored, as they always were."""

    model_config = ConfigDict(extra="ignore")


def checked(check: Callable[[Any, str], Any], *, required: bool = True) -> PlainValidator:
    """A pydantic validator running ``check(value, field)``; null counts as missing."""

    def validate(value: Any) -> Any:
        if value is None and required:
            raise FieldProblem(f"{FIELD} is required.")
        try:
            return check(value, FIELD)
        except ValidationFailed as exc:
            raise FieldProblem(exc.message) from None

    return PlainValidator(validate)


INT_SCHEMA = {"type": "integer", "minimum": 0, "maximum": MAX_INT}

Id = Annotated[int, checked(as_int), WithJsonSchema(INT_SCHEMA)]
"""A whole number that fits an id column (a digit string is taken too)."""

Text = Annotated[str, checked(as_str, required=False), WithJsonSchema({"type": ["string", "null"]})]
"""Free text; null reads as empty."""

When = Annotated[datetime, checked(as_datetime), WithJsonSchema({"type": "string", "format": "date-time"})]
"""An ISO-8601 date-time with a UTC offset, read as UTC."""

Flag = Annotated[bool, checked(as_flag), WithJsonSchema({"type": "boolean"})]
"""A query-string switch: 1/true/yes or 0/false/no."""

Given = Annotated[Any, checked(lambda value, field: value), WithJsonSchema({})]
"""Any value, checked further by the service; null counts as missing."""

AnyObject = Annotated[dict[str, Any], WithJsonSchema({"type": "object"})]
AnyList = Annotated[list[Any], WithJsonSchema({"type": "array"})]


def one_of(cls: type[enum.Enum]) -> Any:
    """A value of ``cls`` given by its value (``mode: "video"``)."""
    values = [m.value for m in cls]
    return Annotated[cls, checked(lambda v, f: as_enum(cls, v, f)),
                     WithJsonSchema({"type": "string", "enum": values})]


def between(lo: int, hi: int, template: str) -> Any:
    """A whole number from ``lo`` to ``hi``; ``template`` is the message when it is outside."""

    def check(value: Any, field: str) -> int:
        number = as_int(value, field)
        if not lo <= number <= hi:
            raise ValidationFailed(template.replace(FIELD, field), field)
        return number

    return Annotated[int, checked(check), WithJsonSchema({"type": "integer", "minimum": lo, "maximum": hi})]


def short_text(max_length: int) -> Any:
    """Query text, stripped, at most ``max_length`` characters (empty reads as absent)."""

    def check(value: Any, field: str) -> str | None:
        text = as_str(value, field).strip()
        if len(text) > max_length:
            raise ValidationFailed(f"{field} is too long (at most {max_length} characters).", field)
        return text or None

    return Annotated[str, checked(check), WithJsonSchema({"type": "string", "maxLength": max_length})]


def text_map(max_length: int, description: str, key_pattern: str) -> Any:
    """An object in the query string, ``name[key]=value`` (OpenAPI's deepObject style, see
    :func:`app.api.operations.query_values`): text keys to text values, checked further by the service."""

    def check(value: Any, field: str) -> dict[str, str]:
        if not isinstance(value, dict):
            raise ValidationFailed(f"{field} is given as {field}[key]=value.", field)
        for key, text in value.items():
            if not isinstance(text, str):
                raise ValidationFailed(f"{field}[{key}] must be text.", f"{field}[{key}]")
            if len(text) > max_length:
                raise ValidationFailed(f"{field}[{key}] is too long (at most {max_length} characters).",
                                       f"{field}[{key}]")
        return value

    schema = {"type": "object", "description": description, "propertyNames": {"pattern": key_pattern},
              "additionalProperties": {"type": "string", "maxLength": max_length}}
    return Annotated[dict[str, str], checked(check), WithJsonSchema(schema)]


def hint(schema: dict[str, Any]) -> Any:
    """A value the service checks itself (its rules and messages live there); ``schema`` documents it."""
    return Annotated[Any, WithJsonSchema(schema)]


class Passed(Input):
    """A body the service checks key by key (unknown keys included): the model only says it is an
    object and documents the keys; :meth:`given` hands the service exactly what was sent."""

    model_config = ConfigDict(extra="allow")

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_unset=True, by_alias=True)
