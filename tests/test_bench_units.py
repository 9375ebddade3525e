"""The bench report prints every figure in a unit that shows it."""

from __future__ import annotations

import pytest

from benchmarks.report import seconds


@pytest.mark.parametrize(
    ("value", "shown"),
    [
        (0.0, "0 s"),
        (2.5, "2.50 s"),
        (0.042, "42 ms"),
        (0.0042, "4.2 ms"),
        (0.00042, "420 us"),
        (4.2e-6, "4.2 us"),
        (2.4e-7, "240 ns"),
        (3e-8, "30 ns"),
        (float("nan"), "n/a"),
    ],
)
def test_every_figure_shows(value: float, shown: str) -> None:
    assert seconds(value) == shown
