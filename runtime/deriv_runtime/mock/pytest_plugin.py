"""pytest fixtures for the mock server; no async plugin needed.

Enable in a ``conftest.py``::

    pytest_plugins = ["deriv_runtime.mock.pytest_plugin"]

Fixtures:

* ``mock_server`` - a running :class:`~deriv_runtime.mock.MockServer` (on its own thread and event
  loop), one per test. Fault knobs and observations work from the test: ``mock_server.delay = 0.5``,
  ``mock_server.drop_after(3)``, ``mock_server.requests``...
* ``mock_server_url`` - its authenticated URL (``ws://127.0.0.1:PORT/trading/v1/options/ws/demo?otp=...``).
* ``mock_package`` - the generated package served (default ``"deriv_options"``); override it.
* ``mock_server_options`` - keyword arguments for ``MockServer`` (default ``{}``); override it,
  e.g. to return ``{"tick_interval": 0.01, "seed": 7}``.
* ``mock_deriv`` - a running :class:`~deriv_runtime.mock.MockDeriv`: the WebSocket mock plus the
  REST API and OAuth server (``mock_deriv.rest_url``, ``.ws_url``, ``.oauth_authorize_url``,
  ``.oauth_token_url``, ``.app_id``, ``.demo_account_id``, ``.register_pat(...)``,
  ``.fail_next(...)``...), one per test, on its own thread.
* ``mock_deriv_options`` - keyword arguments for ``MockDeriv`` (default ``{}``); override it.
* ``mock_deriv_pat`` - a personal access token (every scope) registered on ``mock_deriv``.
* ``assert_traffic`` - :func:`deriv_runtime.testing.assert_traffic_matches` with the package
  defaulting to ``mock_package``: ``assert_traffic("tests/recordings/*.jsonl")`` fails the test
  with the drift report when recorded messages no longer match the release (``strict=True``: any
  schema violation).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Protocol

import pytest

if TYPE_CHECKING:
    from ..traffic import Report
    from .deriv.mock_deriv import MockDeriv
    from .deriv.ws_server import MockServer


@pytest.fixture
def mock_package() -> str:
    """The generated client package the mock serves."""
    return "deriv_options"


@pytest.fixture
def mock_server_options() -> dict[str, Any]:
    """Keyword arguments for :class:`MockServer` (override to change the tick rate, seed...)."""
    return {}


@pytest.fixture
def mock_server(mock_package: str, mock_server_options: dict[str, Any]) -> Iterator[MockServer]:
    """A mock server running in a background thread for the duration of one test."""
    from .deriv.ws_server import MockServer

    with MockServer(mock_package, **mock_server_options).run_in_thread() as server:
        yield server


@pytest.fixture
def mock_server_url(mock_server: MockServer) -> str:
    """The mock server's authenticated WebSocket URL."""
    return mock_server.url


@pytest.fixture
def mock_deriv_options() -> dict[str, Any]:
    """Keyword arguments for :class:`MockDeriv` (override to set TTLs, PATs, the tick rate...)."""
    return {}


@pytest.fixture
def mock_deriv(mock_package: str, mock_deriv_options: dict[str, Any]) -> Iterator[MockDeriv]:
    """The mock WebSocket + REST + OAuth server, in a background thread for one test."""
    from .deriv.mock_deriv import MockDeriv

    with MockDeriv(mock_package, **mock_deriv_options).run_in_thread() as mock:
        yield mock


@pytest.fixture
def mock_deriv_pat(mock_deriv: MockDeriv) -> str:
    """A personal access token with every scope, registered on ``mock_deriv``."""
    import secrets

    token = f"mock-pat-{secrets.token_urlsafe(12)}"
    mock_deriv.register_pat(token)
    return token


class AssertTraffic(Protocol):
    """The ``assert_traffic`` fixture: :func:`~deriv_runtime.testing.assert_traffic_matches`."""

    def __call__(
        self,
        paths: Any,
        package: str | None = None,
        *,
        strict: bool = False,
        method: str | None = None,
        allow_unknown: bool = False,
    ) -> Report: ...


@pytest.fixture
def assert_traffic(mock_package: str) -> AssertTraffic:
    """Assert that recordings match the release of ``package`` (default: ``mock_package``)."""
    from ..testing import assert_traffic_matches

    def check(
        paths: Any,
        package: str | None = None,
        *,
        strict: bool = False,
        method: str | None = None,
        allow_unknown: bool = False,
    ) -> Report:
        return assert_traffic_matches(
            paths, package or mock_package, strict=strict, method=method, allow_unknown=allow_unknown
        )

    return check
