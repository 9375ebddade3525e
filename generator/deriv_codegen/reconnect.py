"""What the runtime may do with each call after a lost connection: data, from the override file.

``[reconnect]`` in ``schemas/overrides/<source>.toml``::

    [reconnect]
    repeatable = ["balance", ...]      # only read: re-sent after a reconnect
    never_repeat = ["buy", ...]        # act (order, money): never sent twice
    read_scopes = ["read"]             # scopes that only read, where the API distinguishes them

    [reconnect.resume.buy]             # a stream that acted follows what it created
    call = "proposal_open_contract"
    request = { proposal_open_contract = 1, subscribe = 1 }
    from_receipt = { contract_id = "buy.contract_id" }
    check = "portfolio or profit_table"

A call the file does not name gets a fail-safe default from its schema: repeatable when it needs
no authentication or only read scopes, never repeated otherwise. Each *streaming* call that fell
back to "never repeated" is reported, so that a maintainer decides.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from .errors import Problem, SourcesError
from .ir import Operation

#: What a rule is decided for: an operation, whatever its wire (Deriv WebSocket calls may stream,
#: Deribit's JSON-RPC methods never do: their streams are channels).
Call = Operation

DEFAULT_READ_SCOPES = ("read",)


@dataclass(frozen=True)
class ResumeRule:
    call: str
    request: tuple[tuple[str, bool | int | float | str], ...]
    from_receipt: tuple[tuple[str, tuple[str, ...]], ...]


@dataclass(frozen=True)
class ReconnectRule:
    repeatable: bool
    resume: ResumeRule | None = None
    check: str = ""


def _names(table: Mapping[str, Any], key: str, where: str) -> set[str]:
    value = table.get(key, [])
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise SourcesError(f"{where}: [reconnect] {key} must be a list of call names")
    return set(value)


def _scalar(value: Any, where: str) -> bool | int | float | str:
    if isinstance(value, bool | int | float | str):
        return value
    raise SourcesError(f"{where}: request values must be strings, numbers or booleans, not {value!r}")


def _streams(call: Call) -> bool:
    return call.streaming is not None


def reconnect_rules(
    calls: Sequence[Call], table: Mapping[str, Any], where: str
) -> tuple[dict[str, ReconnectRule], list[Problem]]:
    """The rule of every call, and problems to report. ``where`` names the override file."""
    problems: list[Problem] = []
    by_name = {c.name: c for c in calls}
    repeatable = _names(table, "repeatable", where)
    never = _names(table, "never_repeat", where)
    read_scopes = set(table.get("read_scopes", DEFAULT_READ_SCOPES))
    resumes = table.get("resume", {})
    if not isinstance(resumes, Mapping):
        raise SourcesError(f"{where}: [reconnect.resume] must be a table of tables")
    both = sorted(repeatable & never)
    if both:
        raise SourcesError(f"{where}: [reconnect] names {', '.join(both)} both repeatable and never_repeat")
    for name in sorted((repeatable | never | set(resumes)) - set(by_name)):
        problems.append(Problem(where, f"[reconnect] names {name!r}, which this bundle does not have"))

    rules: dict[str, ReconnectRule] = {}
    for call in calls:
        if call.name in repeatable:
            rules[call.name] = ReconnectRule(True)
            continue
        if call.name in never or call.name in resumes:
            rules[call.name] = ReconnectRule(False)
            continue
        safe = not call.auth_required or (bool(call.auth_scopes) and set(call.auth_scopes) <= read_scopes)
        rules[call.name] = ReconnectRule(safe)
        if _streams(call) and not safe:
            scopes = ", ".join(call.auth_scopes) or "authentication"
            problems.append(
                Problem(
                    call.name,
                    f"streams and needs {scopes}: never re-sent after a reconnect (the stream ends with "
                    f"OutcomeUnknown); if it only reads, list it in [reconnect] repeatable of {where}, "
                    "otherwise in never_repeat",
                )
            )

    for name, spec in sorted(resumes.items()):
        if name in by_name:
            resume = _resume(spec, by_name, rules, f"{where} [reconnect.resume.{name}]")
            rules[name] = ReconnectRule(False, resume, str(spec.get("check", "")))
    return rules, problems


def _resume(
    spec: Any, by_name: Mapping[str, Call], rules: Mapping[str, ReconnectRule], where: str
) -> ResumeRule:
    if not isinstance(spec, Mapping):
        raise SourcesError(f"{where}: must be a table with call, request, from_receipt and check")
    follow = spec.get("call")
    if not isinstance(follow, str) or follow not in by_name or not _streams(by_name[follow]):
        raise SourcesError(f"{where}: call must name a streaming call of the bundle, not {follow!r}")
    if not rules[follow].repeatable:
        raise SourcesError(f"{where}: the follow-up call {follow!r} must be repeatable (it is re-sent)")
    request = spec.get("request", {})
    receipt = spec.get("from_receipt", {})
    if not isinstance(request, Mapping) or not isinstance(receipt, Mapping) or not receipt:
        raise SourcesError(f"{where}: request and from_receipt must be tables; from_receipt names a field")
    paths: list[tuple[str, tuple[str, ...]]] = []
    for field_name, path in sorted(receipt.items()):
        if not isinstance(path, str) or not all(path.split(".")):
            raise SourcesError(
                f"{where}: from_receipt.{field_name} must be a dotted path like 'buy.contract_id'"
            )
        paths.append((str(field_name), tuple(path.split("."))))
    return ResumeRule(
        follow,
        tuple(sorted((str(k), _scalar(v, where)) for k, v in request.items())),
        tuple(paths),
    )
