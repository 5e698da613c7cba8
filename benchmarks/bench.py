"""What the speed benchmarks share (10_fast_neural_odes): averages over seeds, ratios to a
baseline row measured in the same run, the Markdown table and the JSON file."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import numpy as np
import torch

from nodebook_utils.experiments.common import environment, hardware, jsonable
from nodebook_utils.fast import benchmark_table


def mean_std(values: list[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for one value)."""
    return float(np.mean(values)), float(np.std(values, ddof=1)) if len(values) > 1 else 0.0


def avg(values: Iterable[float | None]) -> float | None:
    """The mean of the values that are not None (None if there are none)."""
    present = [v for v in values if v is not None]
    return float(np.mean(present)) if present else None


def _ratio(a: float | None, b: float | None) -> float | None:
    return a / b if a is not None and b else None


def add_ratios(rows: list[dict[str, Any]], baseline: str, original: str | None = None) -> None:
    """Add to each row its training-step, evaluation and memory ratios to the row named
    ``baseline``, its accuracy gap to it in percentage points, and its training speed-up over
    the first row whose name starts with ``original``."""
    base = next(r for r in rows if r["name"] == baseline)
    first = next((r for r in rows if original and r["name"].startswith(original)), None)
    for row in rows:
        row["train_ratio"] = _ratio(row["train_step_ms"], base["train_step_ms"])
        row["eval_ratio"] = _ratio(row["eval_test_seconds"], base["eval_test_seconds"])
        row["memory_ratio"] = _ratio(row["peak_memory_mb"], base["peak_memory_mb"])
        row["accuracy_gap_pp"] = 100 * (base["test_accuracy_mean"] - row["test_accuracy_mean"])
        row[f"speedup_over_{original}"] = (_ratio(first["train_step_ms"], row["train_step_ms"])
                                           if first else None)


def table(rows: list[dict[str, Any]], baseline: str) -> str:
    """The rows as a Markdown table, ratios to ``baseline`` (the lesson's own table,
    :func:`nodebook_utils.fast.benchmark_table`)."""
    return benchmark_table(rows, baseline)


def finish(result: dict[str, Any], rows: list[dict[str, Any]], device: torch.device,
           start: float, json_path: Path | None, *, quiet: bool = False) -> dict[str, Any]:
    """Complete ``result`` with the hardware, environment, duration and rows; print the table
    (ratios to the ``resnet`` row) unless ``quiet`` and write the JSON to ``json_path`` if
    given."""
    result.update(hardware=hardware(device), environment=environment(),
                  seconds=time.perf_counter() - start, rows=rows)
    if not quiet:
        print(table(rows, "resnet"))
        print(f"\n{result['hardware']['summary']}; {result['seconds'] / 60:.1f} min in all")
    if json_path:
        json_path.parent.mkdir(parents=True, exist_ok=True)
        json_path.write_text(json.dumps(jsonable(result), indent=1) + "\n", encoding="utf-8")
    return result


def readme_table(result: dict[str, Any], original: str) -> str:
    """The README's summary of a committed run: the hardware, then per configuration its
    ratios to the ResNet, its speed-up over the row whose name starts with ``original``, and
    its test accuracy with the seeds and epochs behind it."""
    key = f"speedup_over_{original}"
    lines = [f"Measured on {result['hardware']['summary']} ({result['mode']} run, "
             f"{result['seconds'] / 60:.0f} min).", "",
             f"| configuration | train × ResNet | eval × ResNet | speed-up over {original} | "
             "test accuracy % (seeds × epochs) |", "|---|---|---|---|---|"]
    for r in result["rows"]:
        speedup = f"{r[key]:.1f}×" if r.get(key) else "—"
        lines.append(f"| {r['name']} | {r['train_ratio']:.2f} | {r['eval_ratio']:.2f} | "
                     f"{speedup} | {100 * r['test_accuracy_mean']:.2f} ± "
                     f"{100 * r['test_accuracy_std']:.2f} ({r['seeds']} × {r['epochs']:.0f}) |")
    return "\n".join(lines)
