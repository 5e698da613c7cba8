"""Exercise checkers of 00_start_here (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

from collections.abc import Callable

from ..config import get_settings
from .core import Verdict, _call, _Hint, checker, report

__all__ = ["check_device_summary"]


@checker
def check_device_summary(name: str, fn: Callable[[], str]) -> Verdict:
    """``fn()`` must return the type of the course's device as a string: ``"cpu"``,
    ``"cuda"`` or ``"mps"`` (00_start_here, exercise 2)."""
    try:
        got = _call(fn, where="your function", nothing="your function returned nothing: "
                    "return a string such as 'cpu'")
    except _Hint as exc:
        return report(name, False, str(exc))
    want = get_settings().device.type
    if not isinstance(got, str):
        return report(name, False, f"got a {type(got).__name__}; return the string "
                      "cfg.device.type (a torch.device is not a string)")
    if got != want:
        return report(name, False, f"got {got!r}, but this notebook runs on {want!r}: return "
                      "cfg.device.type")
    return report(name, True)
