"""Exercise checkers of 09_ecg_resnet_vs_node (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

__all__: list[str] = []
