"""Test helpers: an in-memory transport, and the contract check of recorded traffic.

* :class:`InMemoryTransport` - a function answers each request: ``handler(payload)`` returns the
  answer (a dict) for a request, or an iterable of messages for a subscription. ``req_id``,
  ``echo_req`` and ``msg_type`` are filled in when the handler omits them.
* :func:`assert_traffic_matches` - recorded messages still match the release a generated package
  was made from (for a project's CI).
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from .transport import JsonObject

if TYPE_CHECKING:
    from .traffic import Report

Handler = Callable[[JsonObject], JsonObject | Iterable[JsonObject]]


class InMemoryTransport:
    def __init__(self, handler: Handler) -> None:
        self._handler = handler
        self._next_id = 0
        #: Every payload sent, in order.
        self.sent: list[JsonObject] = []

    def _complete(self, payload: JsonObject, answer: JsonObject, req_id: int) -> JsonObject:
        message: dict[str, Any] = {"echo_req": payload, "req_id": req_id}
        message.update(answer)
        return message

    async def request(self, payload: JsonObject, *, timeout: float | None, **_: Any) -> JsonObject:
        self._next_id += 1
        sent = {**payload, "req_id": self._next_id}
        self.sent.append(sent)
        answer = self._handler(sent)
        if not isinstance(answer, dict):
            answer = next(iter(answer))
        return self._complete(payload, answer, self._next_id)

    @asynccontextmanager
    async def subscribe(self, payload: JsonObject, **_: Any) -> AsyncIterator[AsyncIterator[JsonObject]]:
        self._next_id += 1
        req_id = self._next_id
        sent = {**payload, "req_id": req_id}
        self.sent.append(sent)
        answers = self._handler(sent)
        batch = [answers] if isinstance(answers, dict) else list(answers)

        async def messages() -> AsyncIterator[JsonObject]:
            for answer in batch:
                yield self._complete(payload, answer, req_id)

        yield messages()


def assert_traffic_matches(
    paths: str | os.PathLike[str] | Iterable[str | os.PathLike[str]],
    package: str = "deriv_options",
    *,
    strict: bool = False,
    method: str | None = None,
    allow_unknown: bool = False,
) -> Report:
    """Assert that recorded messages still match the release ``package`` was generated from: the
    contract check of ``deriv-check`` (:mod:`deriv_runtime.traffic`), for a project's own CI::

        from deriv_runtime.testing import assert_traffic_matches

        def test_recorded_fixtures_match_the_pinned_release():
            assert_traffic_matches("tests/recordings/*.jsonl", package="deriv_options")

    ``paths``: files or glob patterns (JSON: one message or an array; JSON Lines), one or many;
    a pattern that matches nothing fails. ``strict=False`` (default) fails only on what the
    generated client cannot read (``broken`` messages) and on unknown calls; ``strict=True`` on
    any schema violation, unknown call or garbage line. ``method``: the JSON-RPC method of answers
    whose request is not in the same file. ``allow_unknown``: messages of calls the release does
    not have do not fail. The failure message is the drift report (secrets masked); the
    :class:`~deriv_runtime.traffic.Report` is returned for further assertions.

    The same check is the ``assert_traffic`` fixture of the pytest plugin
    (``deriv_runtime.mock.pytest_plugin``), with ``package`` defaulting to ``mock_package``.
    """
    import glob

    from .traffic import check_files
    from .traffic_report import render

    given = [paths] if isinstance(paths, str | os.PathLike) else list(paths)
    files: list[str] = []
    for entry in given:
        text = os.fspath(entry)
        matched = sorted(glob.glob(text, recursive=True)) if glob.has_magic(text) else [text]
        if not matched:
            raise AssertionError(f"no recording matches {text!r}")
        files += matched
    if not files:
        raise AssertionError("no recordings given")
    report = check_files(package, files, method=method)
    failing = report.failures("strict" if strict else "tolerant")
    if allow_unknown:
        failing -= report.statuses["unknown"]
    if failing:
        policy = "strict" if strict else "tolerant"
        raise AssertionError(
            f"{failing} recorded message(s) do not match {report.source} {report.version} ({policy} check)\n"
            + render(report, "text")
        )
    return report
