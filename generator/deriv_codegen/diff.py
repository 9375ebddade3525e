"""What changed between two releases of one API, and whom it breaks: ``deriv-codegen diff``.

Both bundles are read by the same reader into the IR (:class:`~deriv_codegen.ir.ApiIR`) and compared
there, so the three APIs are compared the same way: every :class:`~deriv_codegen.ir.Operation` (Deriv
WebSocket calls, Deriv REST operations ``GET /v1/health``, Deribit JSON-RPC methods) by name, every
subscription :class:`~deriv_codegen.ir.Channel` by name template, every REST-shaped schema pair of the
Options bundle by name, the API's servers and security schemes, and the problems the reader reports
(what the generator leaves out, with the reason). Schemas are compared field by field
(:mod:`deriv_codegen.schema_diff`): each difference is located by a JSON path inside the request
(``request $.contract_parameters.amount``), the answer (``response $.data[*].balance``), a REST
answer of another status (``response 404 $...``), a channel's notification or name parameters.

Classification
--------------
Each :class:`Change` says what it does to code that **sends** requests (builds parameters, calls the
method, subscribes) and to code that **reads** answers and notifications, as an :data:`Impact`:

``breaking``
    code written against the old release can fail against the new one;
``strict``
    only code that rejects what it does not know breaks: it validates answers against the old
    schema, matches enums exhaustively, or refuses unknown message types. The generated clients are
    tolerant in answers (unknown fields kept, unknown enum values accepted), so ``strict`` changes
    do not break them;
``none``
    compatible.

The rules. Data the client **sends** (request parameters, bodies, headers, channel parameters) breaks
senders when the new release refuses something the old one accepted:

* a field removed; a new required field; a field that became required;
* a type narrowed or changed; enum values removed (or an enum introduced); a pattern or format added
  or changed (whether the new one accepts less cannot be decided, so it counts); a bound tightened;
  ``additionalProperties: false`` introduced; ``oneOf``/``anyOf`` alternatives changed;
* anything else (a new optional field, a widened type, a loosened bound...) is compatible.

Data the client **reads** (answers, notifications) breaks readers when it may hold what old code does
not expect:

* a field removed (the typed model loses the attribute, even when it was optional); a field that
  became optional (it may now be missing); a type widened or changed; alternatives changed;
* enum values added (or an enum dropped), a pattern or format loosened, removed or changed, a bound
  loosened, ``additionalProperties`` opened, and a new field where the object was closed:
  ``strict`` (they break strict readers only);
* anything else (a new field, a narrowed type, a tightened bound...) is compatible.

Whole calls: a call, REST operation, method or channel removed breaks both; added is compatible. A
call that now needs authentication, or needs more auth scopes, breaks senders (fewer scopes:
compatible). A wire (binding) removed, a parameter moved elsewhere in the HTTP request, a call that no
longer streams, or a renamed Python method breaks senders; a new ``msg_type`` or a new REST answer
status is ``strict`` for readers. A server removed breaks senders. Problems the reader reports for the
new release but not the old are listed with their reason, as information (impact ``none``). Default
values changing are listed as ``none``.

The REST-shaped schema pairs of the Options bundle (``get_accounts_request/_response``) describe REST
calls as documentation; the REST client is generated from the OpenAPI operations. Their changes are
classified by the same rules (they are upstream's contract too) and marked with subject type
``rest-schema``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .diff_compare import diff_irs
from .diff_model import IMPACTS, JSON_FORMAT_VERSION, ApiDiff, Change, Impact, Role, Side, SubjectType
from .diff_release import looks_like_location, open_release, open_tag, read_release
from .diff_rules import classify

if TYPE_CHECKING:
    from pathlib import Path

    from .config import ApiConfig
    from .ir import BundleInfo
    from .limits import Limits

__all__ = [
    "IMPACTS",
    "JSON_FORMAT_VERSION",
    "ApiDiff",
    "Change",
    "Impact",
    "Role",
    "Side",
    "SubjectType",
    "classify",
    "diff_bundles",
    "diff_irs",
    "looks_like_location",
    "open_release",
    "open_tag",
    "read_release",
]


def diff_bundles(
    old: tuple[Path, BundleInfo],
    new: tuple[Path, BundleInfo],
    layout: str,
    config: ApiConfig | None = None,
    limits: Limits | None = None,
) -> ApiDiff:
    """Read both bundles with the reader of ``layout`` (and the same override ``config``) and compare."""
    from .limits import DEFAULT_LIMITS

    lim = limits or DEFAULT_LIMITS
    return diff_irs(read_release(*old, layout, config, lim), read_release(*new, layout, config, lim), layout)
