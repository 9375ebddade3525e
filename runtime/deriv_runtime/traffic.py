"""Recorded traffic checked against one release of an API: the contract check behind
``deriv-check`` / ``deriv-codegen check`` and :func:`deriv_runtime.testing.assert_traffic_matches`.

**What is read** (:func:`read_recording`): a JSON file holding one message or an array of them, or a
JSON Lines file (one message, or an array of messages, a line). Each message is what went over the
wire: a request or an answer of the Deriv WebSocket APIs, a JSON-RPC request, answer or notification
of Deribit, or a REST exchange written as ``{"method": "POST", "path": "/...", "body": {...},
"status": 200, "response": {...}}`` (``url`` instead of ``path``, ``body``, ``status`` and ``response``
optional). A line or file that is not JSON, or a value that is not an object, is *garbage*: counted,
shown, never fatal.

**How a message's call is told** (from its content only):

* Deriv WebSocket (Options and v3): an answer by its ``msg_type`` (``tick`` is the answer of
  ``ticks``: a message type only one call answers with is that call's), else by the call named in its
  ``echo_req``; a request by its first key that names a call (``{"ticks": "R_100", ...}``).
* Deribit JSON-RPC: a request by its ``method``; an answer by the method of the request with the same
  ``id`` in the same recording (file), else the ``method`` given to the check; a notification
  (``"method": "subscription"``) by its ``params.channel`` matched against the channel templates
  (``ticker.{instrument_name}.{interval}``); ``heartbeat`` notifications are known and carry nothing
  to check.
* REST (the Options package's OpenAPI document): by method and path template
  (``POST /trading/v1/options/accounts``).

Anything else is an *unknown call*, with the reason (a call the release does not have, an answer
whose request is not in the recording...).

**Verdicts.** Every message is checked twice:

* *strict*: against the published JSON schema, exactly; every violation is named by its path
  (``proposal_open_contract.audit_details.all_ticks[*].epoch``, list indexes folded) and the schema
  keyword it breaks (``type``, ``required``, ``additionalProperties``, ``pattern``, ``enum``...);
* *tolerant*: would the generated client read it. Answers are checked against the schema the client's
  tolerant models are generated from (:func:`tolerant_schema`): unknown fields allowed, required
  fields optional (a Deriv answer's ``msg_type`` excepted), enums read as their base type, patterns,
  bounds, lengths and formats not checked; what remains is the JSON types. Requests have no tolerant
  reading: the client builds them strictly and the server checks them, so their tolerant verdict is
  their strict one.

A message is ``ok`` (no violation), ``drift`` (strict violations only: the client reads it), or
``broken`` (the client cannot read it as typed); an ``error`` answer (Deriv's ``error``, JSON-RPC's
``error``) is the server refusing a request, counted and not checked (REST error statuses are checked
against the documented error schema). :class:`Report` counts them per call, per path and per rule,
with the first example of each; :meth:`Report.exit_status` applies a policy
(``strict``/``tolerant``/``never``).

Secrets never reach a report: values of fields whose name says credential (token, password, secret,
signature, api key, authorization, OTP, verification code...) or that the schema marks ``sensitive``
are replaced by ``***`` in examples, and violation texts never carry the offending value.

Schemas come from a generated package (:meth:`Contract.from_package`: its ``schemas.json`` and
``openapi.json``) or from documents (:meth:`Contract.from_documents`: what ``deriv-codegen check``
reads from a pinned release or a bundle).
"""

from __future__ import annotations

from .schema_tolerance import tolerant_schema
from .traffic_contract import Contract, check_files, check_messages
from .traffic_match import GARBAGE_SHOWN
from .traffic_read import read_recording
from .traffic_results import (
    FAIL_ON,
    Checked,
    Example,
    FailOn,
    Garbage,
    Kind,
    Report,
    Status,
    Tally,
    Violation,
)
from .traffic_schema import (
    SECRET_NAME,
    mask,
)

__all__ = [
    "FAIL_ON",
    "GARBAGE_SHOWN",
    "SECRET_NAME",
    "Checked",
    "Contract",
    "Example",
    "FailOn",
    "Garbage",
    "Kind",
    "Report",
    "Status",
    "Tally",
    "Violation",
    "check_files",
    "check_messages",
    "mask",
    "read_recording",
    "tolerant_schema",
]
