"""Exercise checkers of 08_mnist_odenet (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

__all__: list[str] = []
