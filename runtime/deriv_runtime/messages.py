"""What every generated call does to its messages: build and validate the request, raise the
server's error, read the answer into its type (tolerantly: :mod:`deriv_runtime.drift`)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from .calls import CallInfo
from .errors import APIError, RequestValidationError, ResponseError, problems
from .transport import JsonObject

R = TypeVar("R", bound=BaseModel)
M = TypeVar("M", bound=BaseModel)


def build_request(info: CallInfo, request_type: type[BaseModel], payload: Mapping[str, Any]) -> JsonObject:
    """Validate ``payload`` against the request model and return the JSON object to send."""
    validate = _VALIDATORS.get(request_type)
    if validate is None:
        validate = _VALIDATORS[request_type] = model_validator(request_type)
    try:
        model: BaseModel = validate(payload)
    except ValidationError as exc:  # the errors without their inputs (a request may hold secrets)
        raise RequestValidationError(info.name, exc.errors(include_input=False, include_url=False)) from None
    # The payload is keyed by wire names and was checked strictly (no coercion), so its values go out
    # as they are; only nested models need serialising. Anything more unusual: the model's own dump.
    body: JsonObject = {}
    for key, value in payload.items():
        if isinstance(value, BaseModel):  # model_dump(mode="json", by_alias=True, exclude_unset=True)
            body[key] = value.__pydantic_serializer__.to_python(
                value, mode="json", by_alias=True, exclude_unset=True
            )
        elif isinstance(value, list) and any(isinstance(item, BaseModel) for item in value):
            return model.model_dump(mode="json", by_alias=True, exclude_unset=True)
        else:
            body[key] = value
    return body


#: Core validators of the request and answer models calls use, looked up once per model: the same
#: validation as ``model_validate`` without its wrappers (a call's hot path).
_VALIDATORS: dict[type[BaseModel], Callable[[Any], Any]] = {}


def model_validator(model: type[M]) -> Callable[[Any], M]:
    """``model``'s core validator (built now if the model defers it). Calling it directly skips the
    ``model_validate`` wrapper: the hot path of every stream message."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    validate: Callable[[Any], M] = model.__pydantic_validator__.validate_python
    return validate


def _json_validator(model: type[M]) -> Callable[[bytes], M]:
    """``model``'s core validator reading JSON text (built now if the model defers it): one pass of
    pydantic's parser instead of decoding, then validating."""
    if not model.__pydantic_complete__:
        model.model_rebuild()
    validate: Callable[[bytes], M] = model.__pydantic_validator__.validate_json
    return validate


def raise_for_error(info: CallInfo, message: Mapping[str, Any]) -> None:
    """Raise :class:`APIError` for the server's error object. An ``error`` that is present but not an
    object (a string, a list, ``null``) is not a success either: :class:`ResponseError`, with the
    message kept in ``.raw``."""
    if "error" not in message:
        return
    error = message["error"]
    if not isinstance(error, Mapping):
        raise ResponseError(
            f"{info.name}: the answer carries an error that is not an object "
            f"({type(error).__name__}); the raw message is in .raw",
            raw=message,
        )
    raise APIError(
        info.name,
        str(error.get("code", "UnknownError")),
        str(error.get("message", "")),
        error.get("details") if isinstance(error.get("details"), Mapping) else None,
        message.get("echo_req") if isinstance(message.get("echo_req"), Mapping) else None,
    )


def parse_response(
    info: CallInfo, response_type: type[R], message: Mapping[str, Any], strict: bool = False
) -> R:
    """``message`` as ``response_type``. One that drifts from its schema is read field by field, the
    drift reported on the result (:mod:`deriv_runtime.drift`); ``strict``: refused
    (:class:`~deriv_runtime.drift.DriftError`, every violation with its path)."""
    if "error" in message:
        raise_for_error(info, message)
    validate = _VALIDATORS.get(response_type)
    if validate is None:
        validate = _VALIDATORS[response_type] = model_validator(response_type)
    try:
        answer: R = validate(message)
        return answer
    except ValidationError as exc:
        what = f"{info.name}: cannot read the response"
        from .drift import read_drifted  # only for an answer that drifted

        read: R = read_drifted(
            response_type, message, exc, call=info.name, what=what, raw=message, strict=strict
        )
        return read


#: Field paths and broken rules of a ``ValidationError``, without the values.
_problems = problems
