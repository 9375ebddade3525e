"""Base classes of every generated model.

* :class:`RequestModel` - strict: no type coercion (``"10"`` is not an int, ``10.5`` is not
  silently truncated), unknown fields rejected where the schema says so, patterns/enums/bounds
  enforced. A request that fails here is never sent. Its validation errors never carry the values
  given (a request may hold a PAT, a password or a verification code): ``str()``/``repr()`` of the
  :class:`~pydantic.ValidationError` leave them out, and ``errors()``/``json()`` show ``'***'``
  as each error's ``input``.
* :class:`ResponseModel` - a tolerant reader: unknown fields are kept (``model_extra``), every
  field is optional, and documented constraints are not re-checked. Contract checks against the
  JSON schema are a separate, opt-in step. An answer that still fails (a number where a string is
  documented, ``{}`` for a list) is read field by field by the clients, the bad field kept as
  received and the drift reported on the model: :mod:`deriv_runtime.drift`
  (``drift_of(model)``, ``raw_of(model)``).
"""

from __future__ import annotations

from typing import Any, Self

from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic_core import InitErrorDetails, PydanticCustomError

#: What a request model's validation error shows in place of each input value.
HIDDEN_INPUT = "***"


def hide_inputs(exc: ValidationError) -> ValidationError:
    """The same errors (type, location, message, context) with every input value replaced."""
    lines = exc.errors(include_url=False, include_input=False)
    try:
        return ValidationError.from_exception_data(
            exc.title,
            [_line(e, e["type"]) for e in lines],
            hide_input=True,
        )
    except (KeyError, TypeError, ValueError):  # a custom error type: keep its message as it is
        return ValidationError.from_exception_data(
            exc.title,
            [_line({**e, "ctx": None}, PydanticCustomError(e["type"], e["msg"])) for e in lines],
            hide_input=True,
        )


def _line(error: Any, kind: Any) -> InitErrorDetails:
    line: InitErrorDetails = {"type": kind, "loc": tuple(error["loc"]), "input": HIDDEN_INPUT}
    if error.get("ctx"):
        line["ctx"] = error["ctx"]
    return line


class RequestModel(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
        hide_input_in_errors=True,
    )

    # The entry points a user calls re-raise with the inputs removed from ``errors()`` too (the
    # config above only hides them from ``str()``). Nested models are validated by the core
    # validator, not through ``__init__`` (``__pydantic_base_init__``), so this costs nothing there.
    def __init__(self, /, **data: Any) -> None:
        try:  # BaseModel.__init__'s validation, without its frame (request models have no model validators)
            self.__pydantic_validator__.validate_python(data, self_instance=self)
        except ValidationError as exc:
            hidden = hide_inputs(exc)
        else:
            return
        raise hidden  # outside the except block: the original error is not kept as __context__

    __init__.__pydantic_base_init__ = True  # type: ignore[attr-defined]

    @classmethod
    def model_validate(cls, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate(*args, **kwargs)
        except ValidationError as exc:
            hidden = hide_inputs(exc)
        raise hidden

    @classmethod
    def model_validate_json(cls, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_json(*args, **kwargs)
        except ValidationError as exc:
            hidden = hide_inputs(exc)
        raise hidden

    @classmethod
    def model_validate_strings(cls, *args: Any, **kwargs: Any) -> Self:
        try:
            return super().model_validate_strings(*args, **kwargs)
        except ValidationError as exc:
            hidden = hide_inputs(exc)
        raise hidden


class ResponseModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
    )
