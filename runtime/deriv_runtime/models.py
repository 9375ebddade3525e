"""Base classes of every generated model.

* :class:`RequestModel` - strict: no type coercion (``"10"`` is not an int, ``10.5`` is not
  silently truncated), unknown fields rejected where the schema says so, patterns/enums/bounds
  enforced. A request that fails here is never sent.
* :class:`ResponseModel` - a tolerant reader: unknown fields are kept (``model_extra``), every
  field is optional, and documented constraints are not re-checked. Contract checks against the
  JSON schema are a separate, opt-in step.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class RequestModel(BaseModel):
    model_config = ConfigDict(
        strict=True,
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
    )


class ResponseModel(BaseModel):
    model_config = ConfigDict(
        extra="allow",
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        defer_build=True,
    )
