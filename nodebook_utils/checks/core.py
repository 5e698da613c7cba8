"""The core of the exercise checkers (00_start_here): the :class:`Verdict`, :func:`report`,
the safe call of a learner's function, :func:`check_value` and :func:`check_function`.

Every checker prints one clear line, PASS or FAIL with a hint, and returns a Verdict that is
true when the answer passed. The lessons' own checkers live in one module per lesson and
build on these."""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch

C = TypeVar("C", bound=Callable[..., "Verdict"])


@dataclass(frozen=True)
class Verdict:
    """The result of a check: true when it passed. It shows nothing when it ends a notebook
    cell, because the checker has already printed its line (00_start_here)."""

    name: str
    passed: bool
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Display nothing in a notebook: the PASS/FAIL line is already printed."""


def expect(condition: bool, why: str) -> None:
    """Fail the notebook when this run contradicts the sentence that follows it: a lesson's
    text states what a run shows (a ranking, "within noise", "faster") only after a cell
    checks it with ``expect`` (07-10)."""
    if not condition:
        raise AssertionError(f"this run contradicts the lesson's text: {why}")


def report(name: str, passed: bool, hint: str = "") -> Verdict:
    """Print ``PASS name`` or ``FAIL name: hint``; return the :class:`Verdict` (00_start_here)."""
    passed = bool(passed)
    print(f"PASS {name}" if passed else f"FAIL {name}: {hint}".rstrip(": "))
    return Verdict(name, passed, "" if passed else hint)


def _random_states() -> tuple[Any, ...]:
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() else None
    return random.getstate(), np.random.get_state(), torch.get_rng_state(), cuda


def _restore_random_states(states: tuple[Any, ...]) -> None:
    python, numpy_state, torch_state, cuda = states
    random.setstate(python)
    np.random.set_state(numpy_state)
    torch.set_rng_state(torch_state)
    if cuda is not None:
        torch.cuda.set_rng_state_all(cuda)


class CheckerUsageError(ValueError):
    """A checker was called with arguments that make no sense (a lesson's bug, not the
    learner's): raised, not turned into a FAIL line."""


def _copied(value: Any) -> Any:
    """A copy of the tensors and arrays in ``value`` (also inside lists, tuples and dicts), so
    that a learner's function cannot change the checker's own inputs; modules and functions
    are passed as they are."""
    if isinstance(value, torch.Tensor):
        return value.clone()
    if isinstance(value, np.ndarray):
        return value.copy()
    if isinstance(value, (list, tuple)):
        return type(value)(_copied(v) for v in value)
    if isinstance(value, dict):
        return {k: _copied(v) for k, v in value.items()}
    return value


def checker(check: C) -> C:
    """Make ``check`` safe to run in a learner's notebook (00_start_here): the global random
    state of Python, NumPy and torch is the same afterwards as before (a check never changes
    later results), and whatever the answer (None, a string, NaN, a function that raises, an
    answer of the wrong kind), the learner sees one FAIL line with a hint, never a traceback.
    """

    @functools.wraps(check)
    def safe(name: str, *args: Any, **kwargs: Any) -> Verdict:
        states = _random_states()
        try:
            return check(name, *args, **kwargs)
        except CheckerUsageError:
            raise
        except Exception as exc:  # an answer the checker could not even compare
            return report(name, False, f"could not check this answer ({type(exc).__name__}: "
                          f"{exc}); see the exercise for what to return")
        finally:
            _restore_random_states(states)

    return safe  # type: ignore[return-value]


class _Hint(Exception):
    """Raised by :func:`_call` and :func:`_as_float64` when a learner's function gave no
    usable result; the message is the hint that the checker reports."""


def _call(fn: Callable[..., Any], *args: Any, where: str, nothing: str, **kwargs: Any) -> Any:
    """Return a learner's ``fn(*args, **kwargs)``. Raise :class:`_Hint` if it is not
    implemented yet, if it raises (the hint names the case, ``where``; the exception is its
    ``__cause__``) or if it returns nothing (``None`` or ``...``: the hint ``nothing``).
    ``fn`` gets its own copies of the arguments, so an answer that changes them in place cannot
    change what the checker compares with."""
    if not callable(fn):
        raise _Hint(f"expected a function, got {type(fn).__name__}: pass the function itself")
    args, kwargs = _copied(args), _copied(kwargs)
    try:
        got = fn(*args, **kwargs)
    except NotImplementedError:
        raise _Hint("not implemented yet: replace the raise with your code") from None
    except Exception as exc:  # a learner's bug becomes a hint, not a traceback
        raise _Hint(f"{where} raised {type(exc).__name__}: {exc}") from exc
    if got is None or got is ...:
        raise _Hint(nothing)
    return got


def _tensor_answer(fn: Callable[..., Any], *args: Any, where: str, want: torch.Tensor,
                   shape_hint: str, dtype_hint: str) -> torch.Tensor:
    """A learner's ``fn(*args)`` (via :func:`_call`) if it is a tensor of ``want``'s shape and
    dtype; otherwise raise :class:`_Hint` naming the case, ``where``, and what to change."""
    got = _call(fn, *args, where=where, nothing="your function returned nothing: return the "
                "tensor")
    if not isinstance(got, torch.Tensor):
        raise _Hint(f"{where}: return a tensor, not {type(got).__name__}")
    if got.shape != want.shape:
        raise _Hint(f"{where}: shape {tuple(got.shape)}, expected {tuple(want.shape)}: "
                    f"{shape_hint}")
    if got.dtype != want.dtype:
        raise _Hint(f"{where}: dtype {got.dtype}; {dtype_hint}")
    return got


def _as_float64(got: Any, where: str) -> torch.Tensor:
    """A learner's result as a detached float64 tensor; raise :class:`_Hint` if it is not one."""
    if isinstance(got, torch.Tensor):
        got = got.detach()
    try:
        return torch.as_tensor(got).to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise _Hint(f"{where}: return a tensor, not {type(got).__name__}") from None


@checker
def check_value(
    name: str, answer: Any, expected: Any, *, atol: float = 0.0, hint: str = ""
) -> Verdict:
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


@checker
def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    *,
    atol: float = 1e-5,
    hint: str = "",
) -> Verdict:
    """Call ``fn`` and ``reference`` on each argument tuple in ``cases`` and compare the results
    (tensors of equal shape, equal within ``atol``); the hint names the first case that differs
    (00_start_here)."""
    for i, args in enumerate(cases):
        try:
            got = _call(fn, *args, where=f"case {i}", nothing="your function returned nothing")
        except _Hint as exc:
            return report(name, False, str(exc))
        want = reference(*_copied(args))
        got_t, want_t = torch.as_tensor(got), torch.as_tensor(want)
        if got_t.shape != want_t.shape:
            shapes = f"shape {tuple(got_t.shape)}, expected {tuple(want_t.shape)}"
            return report(name, False, f"case {i}: {shapes}. {hint}")
        if not torch.allclose(got_t.double(), want_t.double(), rtol=0.0, atol=atol):
            err = (got_t.double() - want_t.double()).abs().max().item()
            return report(name, False, f"case {i}: values differ by up to {err:.3g}. {hint}")
    return report(name, True)
