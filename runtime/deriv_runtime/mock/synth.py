"""Schema-driven synthesis (moved to :mod:`deriv_runtime.mock.core.synth`; kept importable here)."""

from __future__ import annotations

from .core.synth import Synthesiser, SynthesisError, regex_string, synthesise

__all__ = ["SynthesisError", "Synthesiser", "regex_string", "synthesise"]
