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
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import MockServer


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
    from .server import MockServer

    with MockServer(mock_package, **mock_server_options).run_in_thread() as server:
        yield server


@pytest.fixture
def mock_server_url(mock_server: MockServer) -> str:
    """The mock server's authenticated WebSocket URL."""
    return mock_server.url
