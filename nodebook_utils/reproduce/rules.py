"""How a measurement is judged against a claim (the reproduction report; 07-09).

Each :class:`Rule` states what it tests; each claim says why its rule fits it. A rule sees
the claimed value and the measured values (one per seed or per run where there are several)
and returns a verdict: ``reproduced`` or ``differs``. Two verdicts come from the row
instead of a rule: ``not comparable`` (the conditions cannot match, e.g. an absolute time on
the source's unknown hardware: the measured value is still shown, with why) and
``not measured`` (no result holds the number, or too few seeds for an accuracy).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

VERDICTS = ("reproduced", "differs", "not comparable", "not measured")
#: Row kinds: only ``experiment`` rows could have come out otherwise; the headline counts them.
KINDS = ("experiment", "by construction", "arithmetic", "derived")
#: Accuracy and loss claims are judged on at least this many seeds.
MIN_SEEDS = 3


@dataclass(frozen=True)
class Rule:
    """A named test of a measurement against a claim: ``judge(claimed, values) -> bool``."""

    name: str
    statement: str
    judge: Callable[[Any, Any], bool]

    def verdict(self, claimed: Any, measured: Any) -> str:
        """``reproduced`` if :attr:`judge` holds, else ``differs``."""
        return "reproduced" if self.judge(claimed, measured) else "differs"


def _values(measured: Any) -> list[float]:
    return [float(v) for v in (measured if isinstance(measured, (list, tuple)) else [measured])]


def _bounds(claimed: Any) -> tuple[float, float]:
    low, high = claimed if isinstance(claimed, (list, tuple)) else (claimed, claimed)
    return float(low), float(high)


def _rounds_to(claimed: float | str, measured: float) -> bool:
    """Equal when rounded as the claim is written, to its last stated digit: a claim written
    with a trailing zero ("0.60") is given as a string so that the zero counts."""
    text = claimed if isinstance(claimed, str) else repr(float(claimed)).rstrip("0").rstrip(".")
    value = float(text)
    decimals = len(text.split(".")[1]) if "." in text else 0
    if decimals == 0 and value >= 1000:  # "110,000": its significant digits
        digits = len(str(int(value)).rstrip("0"))
        scale = 10 ** (len(str(int(value))) - digits)
        return round(measured / scale) * scale == value
    return round(measured, decimals) == round(value, decimals)


def _seed_range(claimed: float, measured: Sequence[float]) -> bool:
    values = _values(measured)
    return min(values) <= claimed <= max(values)


def _overlap(claimed: Any, measured: Any) -> bool:
    low, high = _bounds(claimed)
    values = _values(measured)
    return min(values) <= high and low <= max(values)


def _below(claimed: float, measured: Any) -> bool:
    return all(v < claimed for v in _values(measured))


def _above(claimed: float, measured: Any) -> bool:
    return all(v > claimed for v in _values(measured))


def _within_quarter_order(claimed: float, measured: Any) -> bool:
    return all(abs(v - claimed) <= 0.25 for v in _values(measured))


def _constant(claimed: Any, measured: dict[str, float]) -> bool:
    return measured["ratio_last_first"] <= 1.1


def _linear(claimed: Any, measured: dict[str, float]) -> bool:
    return measured["r2"] >= 0.95 and measured["ratio_last_first"] > 1.1


def _decreasing(claimed: Any, measured: Sequence[float]) -> bool:
    values = _values(measured)
    return all(b < a for a, b in zip(values, values[1:], strict=False))


def _fraction_band(claimed: float, measured: Any) -> bool:
    return all(0.8 * claimed <= v <= 1.2 * claimed for v in _values(measured))


def _same_text(claimed: Any, measured: Any) -> bool:
    return str(claimed) == str(measured)


EXACT = Rule("exact", "equal to the claim", lambda c, m: all(v == c for v in _values(m)))
ROUNDED = Rule("rounded", "equal to the claim when rounded as the source rounded it (to its "
               "last stated digit)", lambda c, m: all(_rounds_to(c, v) for v in _values(m)))
SEED_RANGE = Rule("seed range", f"the claim lies within the range (lowest to highest) of our "
                  f"runs over at least {MIN_SEEDS} seeds at the claim's budget",
                  _seed_range)
OVERLAP = Rule("overlap", "the claimed range and the range of our per-seed values overlap, "
               "neither widened", _overlap)
BELOW = Rule("below", "every measured value is below the claimed bound, as the source wrote "
             "it", _below)
ABOVE = Rule("above", "every measured value is above the claimed bound", _above)
ORDER = Rule("order", "the observed order (slope of log error against log step size) is "
             "within 0.25 of the claimed order", _within_quarter_order)
CONSTANT = Rule("constant", "O(1): the value at the largest depth is within 10% of the value at "
                "the smallest", _constant)
LINEAR = Rule("linear", "O(L): a straight line fits the values against depth (R² ≥ 0.95) and "
              "they grow, by more than the 10% that O(1) allows, from the smallest depth to the "
              "largest (a large part that does not depend on depth, such as the stem, is the "
              "line's intercept)", _linear)
DECREASING = Rule("decreasing", "the error falls at every tighter tolerance", _decreasing)
ABOUT = Rule("about", "'about x': every measured value lies within ±20% of x", _fraction_band)
RANKING = Rule("ranking", "our means rank the same way and every adjacent difference is "
               "significant (paired t-test over seeds, p < 0.05); a difference within the "
               "noise is written '≈'", _same_text)
NOT_COMPARABLE = Rule("not comparable", "an absolute time measured on the source's unknown "
                      "hardware cannot be compared with ours: shown, not judged",
                      lambda c, m: False)

RULES: dict[str, Rule] = {r.name: r for r in (
    EXACT, ROUNDED, SEED_RANGE, OVERLAP, BELOW, ABOVE, ORDER, CONSTANT, LINEAR,
    DECREASING, ABOUT, RANKING, NOT_COMPARABLE)}


def finite(value: Any) -> bool:
    """Whether ``value`` is a finite number (or a list of them)."""
    try:
        return all(math.isfinite(v) for v in _values(value))
    except (TypeError, ValueError):
        return False
