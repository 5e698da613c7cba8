"""The reproduction report: every quantitative claim of the sources beside the course's
measurement, with a verdict (07_spiral_dynamics to 09_ecg_resnet_vs_node).

The parts, each in its own module: :mod:`.sources` (the sources' numbers, in one place),
:mod:`.claims` (each claim's kind, rule, why the rule fits, and where its measurement lies in
the committed results), :mod:`.rules` (how a verdict is reached) and :mod:`.render` (the
Markdown). This module judges: :func:`report` turns results into rows.

``python -m nodebook_utils.reproduce [--result FILE ...] [--out DIR]`` reads the committed
results (by default :data:`COMMITTED`; the experiments' command lines write them), and
writes ``reproduction.md`` and ``reproduction.json`` into ``DIR`` (default ``figures/``).
It runs no experiment.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from ..config import short_path
from .claims import Claim, Evidence, Missing, claims
from .render import HEADLINES, headline_markdown, markdown
from .rules import KINDS, MIN_SEEDS, RULES, VERDICTS
from .sources import CHEN, LECUN, MATH179, REVIEW

__all__ = ["COMMITTED", "HEADLINES", "KINDS", "MIN_SEEDS", "RULES", "VERDICTS", "CHEN",
           "LECUN", "MATH179", "REVIEW", "Claim", "Evidence", "ResultError", "claims",
           "evaluate", "headline_markdown", "load", "main", "markdown", "report", "write"]

ROOT = Path(__file__).resolve().parents[2]
#: The results the committed report is made from (paths relative to the repository).
COMMITTED = ("results/spiral-standard.json", "results/mnist-full.json", "results/ecg-full.json",
             "results/scaling-standard.json", "benchmarks/results/mnist_speed.json")


class ResultError(ValueError):
    """A ``--result`` file that is missing or is not a result of this course."""


def load(paths: Sequence[str | Path]) -> dict[str, dict[str, Any]]:
    """The results by name (an experiment's ``experiment``, a benchmark's ``benchmark``),
    each with ``_file``, the path it was read from; :class:`ResultError` names a file that
    is missing, is not JSON, or is not a result."""
    results = {}
    for path in paths:
        path = Path(path)
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ResultError(f"{path}: no such file") from None
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ResultError(f"{path}: not a JSON result ({exc})") from None
        name = result.get("experiment") or result.get("benchmark") if isinstance(
            result, dict) else None
        if not name or "mode" not in result or "hardware" not in result:
            raise ResultError(f"{path}: not an experiment or benchmark result of this course "
                              "(it needs 'experiment' or 'benchmark', 'mode' and 'hardware')")
        try:
            shown = path.resolve().relative_to(ROOT).as_posix()
        except ValueError:
            shown = short_path(path)
        results[name] = {**result, "_file": shown}
    return results


def evaluate(claim: Claim, results: dict[str, dict]) -> dict[str, Any]:
    """One row of the report: the claim, its kind and rule, our measurement with its
    conditions and JSON keys, the verdict and why."""
    row: dict[str, Any] = {
        "source": claim.source, "claim": claim.claim, "claimed": claim.claimed,
        "kind": claim.kind, "rule": claim.rule.name, "rule_statement": claim.rule.statement,
        "why": claim.why, "experiment": claim.experiment,
    }
    try:
        evidence = claim.measure(results)
    except (Missing, KeyError, TypeError, IndexError, ZeroDivisionError) as exc:
        reason = str(exc) if isinstance(exc, Missing) else (
            f"this {claim.experiment} result lacks what the row reads ({type(exc).__name__}: "
            f"{exc})")
        return {**row, "measured": None, "verdict": "not measured", "note": reason,
                "conditions": {}, "evidence": None, "mode": None}
    result = results.get(claim.experiment, {})
    conditions = dict(evidence.conditions)
    if result.get("hardware"):
        conditions["hardware"] = result["hardware"]["summary"]
    if evidence.verdict is not None:
        verdict = evidence.verdict
    elif claim.rule is RULES["not comparable"]:
        verdict = "not comparable"
    else:
        judged = evidence.judged if evidence.judged is not None else evidence.value
        verdict = claim.rule.verdict(claim.claimed, judged)
    return {**row, "measured": evidence.value, "verdict": verdict, "note": evidence.note,
            "conditions": conditions, "evidence": _evidence(evidence.keys, claim, results),
            "mode": result.get("mode")}


def _evidence(keys: list[str], claim: Claim, results: dict[str, dict]) -> list[dict] | None:
    """Each key with the file it is read from: the claim's experiment's, or the result named
    before a colon (``"spiral: runs[...]"``)."""
    out = []
    for key in keys:
        name, _, rest = key.partition(": ")
        if rest and name in results:
            out.append({"file": results[name].get("_file"), "key": rest})
        elif claim.experiment in results:
            out.append({"file": results[claim.experiment].get("_file"), "key": key})
    return out or None


def report(results: dict[str, dict]) -> dict[str, Any]:
    """``{"results", "counts", "claims"}``: the results used (file, mode, hardware), the
    verdicts of the experiment rows and the rows of each kind, and one row per claim."""
    rows = [evaluate(c, results) for c in claims()]
    experiment = [r for r in rows if r["kind"] == "experiment"]
    return {
        "results": {name: {"file": r.get("_file"), "mode": r["mode"],
                           "hardware": r["hardware"]["summary"]}
                    for name, r in results.items()},
        "counts": {
            "experiment": {v: sum(r["verdict"] == v for r in experiment) for v in VERDICTS},
            "kinds": {k: sum(r["kind"] == k for r in rows) for k in KINDS},
        },
        "rules": {name: rule.statement for name, rule in RULES.items()},
        "claims": rows,
    }


def write(rep: dict[str, Any], out: str | Path) -> tuple[Path, Path]:
    """Write ``reproduction.md`` and ``reproduction.json`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "reproduction.md", out / "reproduction.json"
    md.write_text(markdown(rep), encoding="utf-8")
    js.write_text(json.dumps(rep, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    return md, js


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m nodebook_utils.reproduce",
                                     description=__doc__.split("\n\n")[0])
    parser.add_argument("--result", action="append", metavar="JSON",
                        help="a result file (repeatable; default: the committed results)")
    parser.add_argument("--out", default=None,
                        help="folder for the report (default: figures/, the committed one)")
    args = parser.parse_args(argv)
    paths = args.result or [ROOT / p for p in COMMITTED]
    try:
        results = load(paths)
    except ResultError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    out = Path(args.out) if args.out else ROOT / "figures"
    fast = sorted(name for name, r in results.items() if r["mode"] == "fast")
    if fast and out.resolve() == (ROOT / "figures").resolve():
        print(f"error: {', '.join(fast)}: fast-mode results never replace the committed report;"
              " give --out another folder", file=sys.stderr)
        return 2
    rep = report(results)
    md, js = write(rep, out)
    counts = rep["counts"]["experiment"]
    print(f"{len(rep['claims'])} rows, {sum(counts.values())} of them experiments: "
          + ", ".join(f"{n} {v}" for v, n in counts.items()))
    print(f"wrote {short_path(md)} and {short_path(js)}")
    return 0
