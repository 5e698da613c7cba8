"""Exercise checkers of 07_spiral_dynamics (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

__all__: list[str] = []
