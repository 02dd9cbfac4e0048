"""Pydantic validation errors as one ``file:line: field.path: value, what is allowed``
message (:class:`~simtrial.errors.ScenarioError`)."""

from __future__ import annotations

import difflib
import types
import typing
from collections.abc import Mapping
from typing import Annotated, Any

from pydantic import (
    BaseModel,
    ValidationError,
)

from simtrial.errors import ScenarioError
from simtrial.scenario.schema import (
    FieldIssue,
    Scenario,
)
from simtrial.yamlio import Loc, locate_merged


def _unwrap(annotation: Any) -> Any:
    """Strip Annotated / Optional / Union down to a model, dict or list type."""
    origin = typing.get_origin(annotation)
    if origin is Annotated:
        return _unwrap(typing.get_args(annotation)[0])
    if origin in (typing.Union, types.UnionType):
        for arg in typing.get_args(annotation):
            inner = _unwrap(arg)
            if isinstance(inner, type) and issubclass(inner, BaseModel):
                return inner
            if typing.get_origin(inner) in (dict, list):
                return inner
        return None
    return annotation


def _model_at(loc: Loc) -> type[BaseModel] | None:
    """The model class whose fields live at ``loc`` (for 'unknown field' suggestions)."""
    current: Any = Scenario
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return None
            current = field.annotation
        elif typing.get_origin(current) in (dict, list):
            current = typing.get_args(current)[-1]
        else:
            return None
    current = _unwrap(current)
    return current if isinstance(current, type) and issubclass(current, BaseModel) else None


def _describe_error(err: Mapping[str, Any]) -> tuple[Loc, str]:
    loc: Loc = tuple(err["loc"])
    ctx = err.get("ctx") or {}
    exc = ctx.get("error")
    if isinstance(exc, FieldIssue):
        return loc + exc.sub, str(exc)
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(loc[:-1])
        allowed = sorted(model.model_fields) if model else []
        hint = difflib.get_close_matches(str(loc[-1]), allowed, n=1)
        msg = f"unknown field {loc[-1]!r}"
        if hint:
            msg += f"; did you mean {hint[0]!r}?"
        if allowed:
            msg += f" (allowed: {', '.join(allowed)})"
        return loc, msg
    if kind == "missing":
        return loc, "required field is missing"
    if kind == "literal_error":
        return loc, f"got {value!r}; allowed: {ctx.get('expected')}"
    message = err["msg"]
    if message.startswith("Value error, "):
        message = message[len("Value error, ") :]
    if kind not in ("value_error",) and value is not None and not isinstance(value, dict | list):
        message += f", got {value!r}"
    return loc, message


def _raise_at(
    loc: Loc,
    message: str,
    file: str | None,
    lines: Mapping[Loc, int],
    variant: str | None,
    base_data: Any,
    variant_data: Any,
    in_every_variant: bool = False,
) -> typing.NoReturn:
    """Raise at ``loc``; an error from the base that only some variant causes says which."""
    line, path = locate_merged(loc, lines, variant, base_data, variant_data)
    if variant is not None and not path.startswith("variants.") and not in_every_variant:
        message += f" (in variant {variant!r})"
    raise ScenarioError(message, file=file, line=line, path=path or None) from None


def _first_error(data: Any) -> tuple[Loc, str] | None:
    try:
        Scenario.model_validate(data)
    except ValidationError as exc:
        return _describe_error(exc.errors(include_url=False)[0])
    return None


def _raise_validation(
    exc: ValidationError,
    file: str | None,
    lines: Mapping[Loc, int],
    variant: str | None,
    base_data: Any,
    variant_data: Any,
    others: list[dict[str, Any]] | None = None,
) -> typing.NoReturn:
    errors = exc.errors(include_url=False)
    loc, message = _describe_error(errors[0])
    shared = bool(others) and all(_first_error(m) == (loc, message) for m in others or [])
    if len(errors) > 1:
        message += f" (and {len(errors) - 1} more problem{'s' * (len(errors) > 2)})"
    _raise_at(loc, message, file, lines, variant, base_data, variant_data, shared)
