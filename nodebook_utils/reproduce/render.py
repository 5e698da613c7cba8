"""The reproduction report as Markdown (07-09): the verdicts first, easy to scan, then every
row's rule, reason, conditions and the JSON keys its value came from."""

from __future__ import annotations

from typing import Any

from .rules import KINDS, VERDICTS

#: The rows README.md quotes (by claim text); a test keeps README in step with the report.
HEADLINES = (
    "ODE-Net test accuracy after 5 epochs",
    "Neural ODE test accuracy (5 epochs)",
    "Neural ODE memory / ResNet memory (\"less than one third\"): peak tensor memory of a "
    "training step",
    "spiral: errors rank Dopri5 < RK4 < Euler",
    "Figure 3c: the backward pass needs about half the NFE of the forward pass",
    "Table 1: ODE-Net memory O(1) (tensors saved for backward against RK4 steps)",
)

_MARK = {"reproduced": "✅ reproduced", "differs": "❌ differs",
         "not comparable": "➖ not comparable", "not measured": "⬜ not measured"}


def show(value: Any) -> str:
    """A claimed or measured value as the report prints it."""
    if value is None:
        return "—"
    if isinstance(value, list) and len(value) == 2 and all(
            isinstance(v, (int, float)) for v in value):
        low, high = value
        return f"{low:.3g}" if low == high else f"{low:.3g}–{high:.3g}"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _claimed(row: dict[str, Any]) -> str:
    text = show(row["claimed"])
    if row["rule"] == "below":
        return f"< {text}"
    if row["rule"] == "above":
        return f"> {text}"
    return text


def markdown(rep: dict[str, Any]) -> str:
    """The whole report: results used, counts, a table per source, then the details."""
    counts, kinds = rep["counts"]["experiment"], rep["counts"]["kinds"]
    lines = [
        "# Reproduction report",
        "",
        "Every quantitative claim of the sources (the Harvey Mudd Math 179 report, the Review "
        "of Literature, Chen et al. 2018's Table 1 and Figure 3) beside the course's "
        "measurement. Written by `python -m nodebook_utils.reproduce` from the committed "
        "results; do not edit by hand.",
        "",
        "**Experiments** (rows that could have come out otherwise): "
        + ", ".join(f"{counts[v]} {v}" for v in VERDICTS) + ".",
        "",
        "Rows by kind: " + ", ".join(f"{kinds[k]} {k}" for k in KINDS) + ". *By construction*: "
        "true because the course built it so (a copied architecture's parameter count, the "
        "rebuilt data's class shares); *arithmetic*: follows from numbers the source states; "
        "*derived*: a ratio the course computed from the source's numbers, not a number the "
        "source states. Only experiments count above.",
        "",
        "Verdicts: *reproduced* and *differs* by the row's rule; *not comparable* when the "
        "conditions cannot match (an absolute time on the source's unknown hardware, a far "
        "smaller training budget): our value is shown with why; *not measured* when no "
        "committed result holds the number, or too few seeds.",
        "",
        "Results used:",
        "",
        *(f"- {name}: `{r['file']}` ({r['mode']} mode; {r['hardware']})"
          for name, r in rep["results"].items()),
        "",
    ]
    sources = list(dict.fromkeys(r["source"] for r in rep["claims"]))
    for source in sources:
        lines += [f"## {source}", "",
                  "| # | claim | claimed | measured | verdict | kind | rule |",
                  "|---|---|---|---|---|---|---|"]
        for i, r in enumerate(rep["claims"], 1):
            if r["source"] == source:
                lines.append(f"| {i} | {r['claim']} | {_claimed(r)} | {show(r['measured'])} | "
                             f"{_MARK[r['verdict']]} | {r['kind']} | {r['rule']} |")
        lines.append("")
    lines += ["## Rules", "", *(f"- **{name}**: {statement}." for name, statement in
                                rep["rules"].items()), "", "## Every row in detail", ""]
    for i, r in enumerate(rep["claims"], 1):
        c = r["conditions"]
        details = [f"**{i}. {r['claim']}** ({r['source']}): claimed {_claimed(r)}, measured "
                   f"{show(r['measured'])}: {r['verdict']}.",
                   f"  - Rule: {r['rule_statement']}. Why: {r['why']}.",
                   f"  - {r['note']}."]
        conditions = [f"{k}: {', '.join(map(str, v)) if isinstance(v, list) else v}"
                      for k, v in c.items() if k != "deviations"]
        if conditions:
            details.append("  - Conditions: " + "; ".join(conditions) + ".")
        if c.get("deviations"):
            details.append("  - Changed from the source: " + "; ".join(c["deviations"]) + ".")
        if r["evidence"]:
            details.append("  - From " + ", ".join(f"`{e['file']}`: `{e['key']}`"
                                                   for e in r["evidence"]) + ".")
        lines += details + [""]
    return "\n".join(lines).rstrip() + "\n"


def headline_markdown(rep: dict[str, Any]) -> str:
    """The :data:`HEADLINES` rows as a short Markdown table (the website's home page)."""
    rows = {r["claim"]: r for r in rep["claims"]}
    lines = ["| claim | claimed | measured | verdict |", "|---|---|---|---|"]
    for name in HEADLINES:
        r = rows[name]
        lines.append(f"| {r['source']}: {r['claim']} | {_claimed(r)} | {show(r['measured'])} | "
                     f"{r['verdict']} |")
    return "\n".join(lines)
