"""Exercise checkers: each prints one clear line, PASS or FAIL with a hint, and returns a bool
(introduced in 00_start_here; lesson-specific checkers build on these three)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch


def report(name: str, passed: bool, hint: str = "") -> bool:
    """Print ``PASS name`` or ``FAIL name: hint`` and return ``passed`` (00_start_here)."""
    print(f"PASS {name}" if passed else f"FAIL {name}: {hint}".rstrip(": "))
    return passed


def check_value(
    name: str, answer: Any, expected: Any, *, atol: float = 0.0, hint: str = ""
) -> bool:
    """Compare a number or tensor answer with the expected one, within ``atol`` (00_start_here)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    try:
        a = torch.as_tensor(answer, dtype=torch.float64)
        e = torch.as_tensor(expected, dtype=torch.float64)
        passed = a.shape == e.shape and bool(torch.allclose(a, e, rtol=0.0, atol=atol))
    except (TypeError, ValueError, RuntimeError):
        passed = False
    return report(name, passed, hint or f"got {answer!r}, which is not the expected value")


def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    *,
    atol: float = 1e-5,
    hint: str = "",
) -> bool:
    """Call ``fn`` and ``reference`` on each argument tuple in ``cases`` and compare the results
    (tensors of equal shape, equal within ``atol``); the hint names the first case that differs
    (00_start_here)."""
    for i, args in enumerate(cases):
        try:
            got = fn(*args)
        except NotImplementedError:
            return report(name, False, "not implemented yet")
        except Exception as exc:  # a learner's bug becomes a hint, not a traceback
            return report(name, False, f"case {i} raised {type(exc).__name__}: {exc}")
        want = reference(*args)
        got_t, want_t = torch.as_tensor(got), torch.as_tensor(want)
        if got_t.shape != want_t.shape:
            shapes = f"shape {tuple(got_t.shape)}, expected {tuple(want_t.shape)}"
            return report(name, False, f"case {i}: {shapes}. {hint}")
        if not torch.allclose(got_t.double(), want_t.double(), rtol=0.0, atol=atol):
            err = (got_t.double() - want_t.double()).abs().max().item()
            return report(name, False, f"case {i}: values differ by up to {err:.3g}. {hint}")
    return report(name, True)
