"""The reproduction report: every quantitative claim of the sources beside our measurement
(07_spiral_dynamics to 09_ecg_resnet_vs_node).

``python -m nodebook_utils.reproduce --mode fast|standard|full [--out DIR] [--result JSON ...]``
runs the three experiments in that mode (or reads the results given with ``--result``, each
a JSON written earlier by an experiment, in any mode) and writes ``reproduction.md`` and
``reproduction.json`` into ``DIR`` (default ``figures/``).

``reproduction.json`` is ``{"mode", "hardware", "claims": [...]}``; each claim row has
``source``, ``claim``, ``claimed``, ``measured``, ``verdict`` (``reproduced``, ``differs`` or
``not measured``), a ``note`` saying why, and the ``mode`` and ``hardware`` of the result it
was measured in. The rules behind the verdicts are in :data:`RULES`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .config import MODES, get_settings, short_path
from .plotting import figures_dir

REVIEW = "Review of Literature"
MATH179 = "Math 179 report"
CHEN = "Chen et al. 2018, Table 1"
VERDICTS = ("reproduced", "differs", "not measured")

#: How a measurement is judged against a claim, by kind of claim (printed in the report).
RULES = {
    "count": "an exact count reproduces only if equal (a count in millions: equal when rounded "
             "as the source rounded it)",
    "accuracy": "an accuracy reproduces within 0.5 percentage points, and only when measured "
                "at the claim's training budget; at a smaller budget the row says 'not measured' "
                "and shows our number with its budget",
    "share": "a class share given to two decimals reproduces within 0.005",
    "time": "an absolute time reproduces within a factor of 1.5 of the claim (times depend on "
            "the machine; the ratio rows compare like with like)",
    "ratio": "a ratio reproduces when it falls in the claimed range, widened by a factor of 1.5",
    "spread": "an error of one run reproduces when it lies within two standard deviations of "
              "our mean over seeds",
    "ranking": "a ranking reproduces when our means rank the same way and every adjacent "
               "difference is significant (paired t-test over seeds, p < 0.05)",
}


@dataclass
class Claim:
    """One row: what a source claimed, and how to measure it from an experiment's result."""

    source: str
    claim: str
    claimed: Any
    experiment: str
    kind: str
    measure: Callable[[dict], tuple[Any, str | bool, str]]
    """``result -> (measured, status, note)``; status True: comparable, False: not measured at
    the claim's budget (the value is still shown), or a verdict string to use as it is."""


# --- measuring helpers ---------------------------------------------------------------------


def _ecg(result: dict, protocol: str = "kaggle") -> dict:
    return result["protocols"][protocol]


def _ecg_run(result: dict, model: str) -> dict:
    return _ecg(result)["runs"][model]


def _ecg_full_budget(result: dict, model: str) -> tuple[bool, str]:
    budget = _ecg_run(result, model)["budget"]
    epochs = budget["full_epochs"]
    return epochs >= 5 - 1e-9, f"{budget['steps']:,} steps = {epochs:.2f} epochs"


def _fmt(x: float, digits: int = 3) -> str:
    return f"{x:.{digits}f}"


def _ecg_accuracy(model: str, key: str) -> Callable[[dict], tuple[Any, bool, str]]:
    def measure(result: dict) -> tuple[Any, bool, str]:
        run = _ecg_run(result, model)
        full, budget = _ecg_full_budget(result, model)
        if key == "test":
            return round(run["test"]["accuracy"], 4), full, f"Kaggle protocol, {budget}"
        final = run["train"]["final_accuracy"]
        if final is not None:
            return round(final, 4), full, f"final model on the training set, {budget}"
        running = run["train"]["epoch_running_accuracy"][-1]
        return round(running, 4), full, f"running accuracy over the last epoch, {budget}"

    return measure


def _ecg_parameters(model: str, per_block: bool = False) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        from . import models
        from .training import count_parameters

        if per_block:
            block = models.PreActBlock1d() if model == "resnet" else models.ECGDynamics()
            return count_parameters(block), True, "count_parameters of the block"
        return _ecg_run(result, model)["parameters"], True, "count_parameters of the model"

    return measure


def _ecg_minutes(model: str) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        timing = _ecg_run(result, model)["timing"]
        estimated = " (estimated from the steps trained)" if timing["epoch_estimated"] else ""
        return round(timing["seconds_per_epoch"] / 60, 2), True, f"min/epoch{estimated}"

    return measure


def _ecg_eval(model: str) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        timing = _ecg_run(result, model)["timing"]
        return round(timing["eval_test_seconds"], 1), True, (
            f"seconds to classify the {timing['eval_test_beats']:,} test beats")

    return measure


def _ecg_ratio(key: str) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        ratio = _ecg(result)["ratios"].get(key)
        if ratio is None:
            return None, "not measured", "no ratio in this result"
        note = "Neural ODE / ResNet, measured in one run"
        if key == "memory":
            runs = _ecg(result)["runs"]
            mb = {m: runs[m]["memory"]["peak_mb"] for m in ("odenet", "resnet")}
            note += (f": peak memory of one training step after training, "
                     f"{mb['odenet']:.0f} MB against {mb['resnet']:.0f} MB "
                     f"({runs['odenet']['memory']['measure']})")
        return round(ratio, 2), True, note

    return measure


def _ecg_share(c: int) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        data = _ecg(result)["data"]
        total = data["total"]
        if sum(total) != 109_446:
            return round(data["shares"][c], 4), False, (
                f"only {sum(total):,} beats in this run's records")
        return round(data["shares"][c], 4), True, f"{total[c]:,} of {sum(total):,} beats"

    return measure


def _ecg_data(key: str) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        data = _ecg(result)["data"]
        exact = sum(data["total"]) == 109_446
        note = ("the rebuild at 125 Hz gives Kaggle's per-class counts exactly"
                if exact else "rebuilt at 125 Hz (subset of records in this run)")
        value = data[key]
        return (round(value, 3) if isinstance(value, float) else value), True, note

    return measure


def _mnist_run(result: dict, model: str) -> dict | None:
    return result["runs"].get(model)


def _mnist_full_budget(result: dict, model: str) -> tuple[bool, str]:
    run = _mnist_run(result, model)
    images = result["data"]["train_images"]
    budget = f"{images:,} training images, {run['epochs']} epochs, {run['steps']:,} steps"
    return images == 60_000 and run["epochs"] >= 5, budget


def _mnist_accuracy(model: str, key: str, error: bool = False) -> Callable:
    def measure(result: dict) -> tuple[Any, bool | str, str]:
        run = _mnist_run(result, model)
        if run is None:
            return None, "not measured", f"{model} not in this result"
        full, budget = _mnist_full_budget(result, model)
        value = run[key]
        if error:
            value = 1 - value
        if key == "initial_test_accuracy":  # untrained: the budget does not matter
            return round(value, 4), True, (
                f"{model} before training; an untrained network scores near chance (10%), "
                "and the exact value depends on its random initialisation")
        return round(value, 4), full, f"{model}, {budget}"

    return measure


def _mnist_parameters(model: str, millions: bool = False) -> Callable:
    def measure(result: dict) -> tuple[Any, bool | str, str]:
        run = _mnist_run(result, model)
        if run is None:
            return None, "not measured", f"{model} not in this result"
        n = run["parameters"]
        return (round(n / 1e6, 3) if millions else n), True, f"{n:,} parameters ({model})"

    return measure


def _mnist_minutes(result: dict) -> tuple[Any, bool, str]:
    run = _mnist_run(result, "odenet_euler")
    per_step = run["train_step_ms"] / 1000
    minutes = per_step * 1875 / 60
    return round(minutes, 2), True, (
        f"{run['train_step_ms']:.0f} ms/step × 1,875 steps (Euler + adjoint, batch 32)")


def _mnist_batches(result: dict) -> tuple[Any, bool, str]:
    from .data.mnist import _mnist_labels

    n, batch = len(_mnist_labels("train")), result["config"]["batch_size"]
    return -(-n // batch), True, f"{n:,} labels in the official training file / batch {batch}"


def _not_measured(why: str) -> Callable:
    return lambda result: (None, "not measured", why)


def _spiral(result: dict, solver: str) -> dict:
    return result["summary"][solver + "+adjoint"]


def _spiral_seconds(solver: str) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        s = _spiral(result, solver)["train_seconds"]
        return round(s["mean"], 2), True, (
            f"mean over {len(result['config']['seeds'])} seeds, training only, with the adjoint"
            f" (± {s['std'] or 0:.2f} s); the source's time included four plotting calls")

    return measure


def _spiral_error(solver: str) -> Callable:
    def measure(result: dict) -> tuple[Any, bool, str]:
        s = _spiral(result, solver)["final_mse"]
        return {"mean": round(s["mean"], 4), "std": round(s["std"] or 0.0, 4)}, True, (
            f"full-trajectory MSE after {result['config']['iterations']} iterations, mean ± std "
            f"over {len(result['config']['seeds'])} seeds, with the adjoint")

    return measure


def _spiral_ranking(result: dict) -> tuple[Any, str, str]:
    """Our ranking of the mean errors (with the adjoint, as the source) and the verdict: the
    claimed order, with every adjacent difference significant (paired t-test, p < 0.05)."""
    means = {s: _spiral(result, s)["final_mse"]["mean"] for s in ("euler", "rk4", "dopri5")}
    order = sorted(means, key=means.get)
    p = {frozenset((q["a"], q["b"])): q["p_value"] for q in result["pairs"] if q["adjoint"]}
    adjacent = [p.get(frozenset(pair)) for pair in zip(order, order[1:], strict=False)]
    text = " < ".join(order)
    significant = all(v is not None and v < 0.05 for v in adjacent)
    verdict = "reproduced" if text == "dopri5 < rk4 < euler" and significant else "differs"
    ps = ", ".join("n/a" if v is None else f"p = {v:.2g}" for v in adjacent)
    note = f"paired t-tests over {len(result['config']['seeds'])} seeds, adjacent pairs: {ps}"
    if not significant:
        note += "; the differences are within the seed-to-seed noise"
    return text, verdict, note


def _spiral_seconds_ratio(result: dict) -> tuple[Any, bool, str]:
    d, r = _spiral(result, "dopri5"), _spiral(result, "rk4")
    ratio = d["train_seconds"]["mean"] / r["train_seconds"]["mean"]
    return round(ratio, 2), True, "Dopri5 / RK4 training time, both with the adjoint"


# --- the claims ----------------------------------------------------------------------------


def claims() -> list[Claim]:
    """Every quantitative claim of the two write-ups and of Chen et al.'s Table 1."""
    rows = [
        # ECG, Math 179 report
        Claim(MATH179, "ResNet parameters", 182_853, "ecg", "count", _ecg_parameters("resnet")),
        Claim(MATH179, "Neural ODE parameters", 59_333, "ecg", "count",
              _ecg_parameters("odenet")),
        Claim(MATH179, "parameters per residual block", 24_832, "ecg", "count",
              _ecg_parameters("resnet", per_block=True)),
        Claim(MATH179, "parameters of the ODE block", 25_472, "ecg", "count",
              _ecg_parameters("odenet", per_block=True)),
        Claim(MATH179, "ResNet train accuracy (5 epochs)", 0.985, "ecg", "accuracy",
              _ecg_accuracy("resnet", "train")),
        Claim(MATH179, "ResNet test accuracy (5 epochs)", 0.980, "ecg", "accuracy",
              _ecg_accuracy("resnet", "test")),
        Claim(MATH179, "Neural ODE train accuracy (5 epochs)", 0.982, "ecg", "accuracy",
              _ecg_accuracy("odenet", "train")),
        Claim(MATH179, "Neural ODE test accuracy (5 epochs)", 0.979, "ecg", "accuracy",
              _ecg_accuracy("odenet", "test")),
        Claim(MATH179, "ResNet training, minutes per epoch", [1.6, 1.8], "ecg", "time",
              _ecg_minutes("resnet")),
        Claim(MATH179, "Neural ODE training, minutes per epoch", [11.7, 16.6], "ecg", "time",
              _ecg_minutes("odenet")),
        Claim(MATH179, "training time, Neural ODE / ResNet (11.7–16.6 vs 1.6–1.8 min/epoch)",
              [6.5, 10.4], "ecg", "ratio",
              _ecg_ratio("epoch")),
        Claim(MATH179, "ResNet: seconds to evaluate the test set", 9.0, "ecg", "time",
              _ecg_eval("resnet")),
        Claim(MATH179, "Neural ODE: seconds to evaluate the test set", 70.0, "ecg", "time",
              _ecg_eval("odenet")),
        Claim(MATH179, "evaluation time, Neural ODE / ResNet (70 s vs 9 s)", [7.8, 7.8], "ecg",
              "ratio",
              _ecg_ratio("eval_test")),
        Claim(MATH179, "Neural ODE memory / ResNet memory (\"less than one third\")",
              [0.0, 1 / 3], "ecg", "ratio", _ecg_ratio("memory")),
        *(Claim(MATH179, f"share of class {name}", share, "ecg", "share", _ecg_share(c))
          for c, (name, share) in enumerate(zip("NSVFQ", (0.83, 0.03, 0.07, 0.01, 0.07),
                                                strict=True))),
        Claim(MATH179, "sampling rate of the heartbeats (Hz)", 360, "ecg", "count",
              _ecg_data("sampling_rate_hz")),
        Claim(MATH179, "duration of one 187-sample beat (s)", 0.52, "ecg", "time",
              _ecg_data("beat_seconds")),
        # MNIST, Review of Literature
        Claim(REVIEW, "ODE-Net test accuracy before training", 0.1028, "mnist", "accuracy",
              _mnist_accuracy("odenet_euler", "initial_test_accuracy")),
        Claim(REVIEW, "ODE-Net test accuracy after 5 epochs", 0.9923, "mnist", "accuracy",
              _mnist_accuracy("odenet_euler", "test_accuracy")),
        Claim(REVIEW, "ODE-Net training, minutes per epoch", 11.5, "mnist", "time",
              _mnist_minutes),
        Claim(REVIEW, "batches per epoch (batch size 32)", 1_875, "mnist", "count",
              _mnist_batches),
        # Chen et al. 2018, Table 1 (MNIST)
        Claim(CHEN, "ODE-Net test error", 0.0042, "mnist", "accuracy",
              _mnist_accuracy("odenet_dopri5", "test_accuracy", error=True)),
        Claim(CHEN, "ODE-Net parameters (millions)", 0.22, "mnist", "count",
              _mnist_parameters("odenet_dopri5", millions=True)),
        Claim(CHEN, "ResNet test error", 0.0041, "mnist", "accuracy",
              _mnist_accuracy("resnet", "test_accuracy", error=True)),
        Claim(CHEN, "ResNet parameters (millions)", 0.60, "mnist", "count",
              _mnist_parameters("resnet", millions=True)),
        Claim(CHEN, "RK-Net test error", 0.0047, "mnist", "accuracy",
              _not_measured("the course trains no RK-Net (backpropagation through a "
                            "Runge-Kutta solver with Chen et al.'s architecture)")),
        Claim(CHEN, "RK-Net parameters (millions)", 0.22, "mnist", "count",
              _not_measured("no RK-Net in this course")),
        Claim(CHEN, "1-layer MLP test error", 0.0160, "mnist", "accuracy",
              _not_measured("the course trains no one-hidden-layer MLP on MNIST")),
        Claim(CHEN, "1-layer MLP parameters (millions)", 0.24, "mnist", "count",
              _not_measured("no one-hidden-layer MLP on MNIST in this course")),
        # Spiral, Review of Literature
        *(Claim(REVIEW, f"spiral: {name} training time (s)", seconds, "spiral", "time",
                _spiral_seconds(solver))
          for solver, name, seconds in (("euler", "Euler", 13.43), ("rk4", "RK4", 12.95),
                                        ("dopri5", "Dopri5", 39.06))),
        *(Claim(REVIEW, f"spiral: {name} final error (MSE)", mse, "spiral", "spread",
                _spiral_error(solver))
          for solver, name, mse in (("euler", "Euler", 0.0183), ("rk4", "RK4", 0.0173),
                                    ("dopri5", "Dopri5", 0.0167))),
        Claim(REVIEW, "spiral: errors rank Dopri5 < RK4 < Euler", "dopri5 < rk4 < euler",
              "spiral", "ranking", _spiral_ranking),
        Claim(REVIEW, "spiral: Dopri5 / RK4 training time", [39.06 / 12.95, 39.06 / 12.95],
              "spiral", "ratio", _spiral_seconds_ratio),
    ]
    return rows


# --- verdicts ------------------------------------------------------------------------------


def _within_factor(measured: float, low: float, high: float, factor: float) -> bool:
    return low / factor <= measured <= high * factor


def judge(claim: Claim, measured: Any) -> bool:
    """Whether ``measured`` reproduces ``claim.claimed`` by the rule of its kind (:data:`RULES`)."""
    claimed, kind = claim.claimed, claim.kind
    if kind == "count":
        if isinstance(claimed, float) and claimed < 10:  # millions, as rounded by the source
            return round(measured, 2) == claimed
        return measured == claimed
    if kind == "accuracy":
        return abs(measured - claimed) <= 0.005
    if kind == "share":
        return abs(measured - claimed) <= 0.005
    if kind == "time":
        low, high = claimed if isinstance(claimed, list) else (claimed, claimed)
        return _within_factor(measured, low, high, 1.5)
    if kind == "ratio":
        low, high = claimed
        return (measured < high) if low == 0 else _within_factor(measured, low, high, 1.5)
    if kind == "spread":
        return abs(claimed - measured["mean"]) <= 2 * measured["std"]
    raise ValueError(f"unknown kind of claim {kind!r}")


def evaluate(claim: Claim, result: dict | None) -> dict[str, Any]:
    """One row of the report: the claim, our measurement, the verdict and why."""
    row = {"source": claim.source, "claim": claim.claim, "claimed": claim.claimed,
           "experiment": claim.experiment, "kind": claim.kind}
    if result is None:
        return {**row, "measured": None, "verdict": "not measured",
                "note": f"no {claim.experiment} result", "mode": None, "hardware": None}
    measured, status, note = claim.measure(result)
    row.update(mode=result["mode"], hardware=result["hardware"]["summary"], measured=measured)
    if status in VERDICTS:
        verdict = status
    elif status is False:
        verdict = "not measured"
        note = f"not at the claim's budget: {note}"
    else:
        verdict = "reproduced" if judge(claim, measured) else "differs"
    row.update(verdict=verdict, note=note)
    return row


def _machine(hardware: dict[str, Any]) -> str:
    """The machine a result came from, without the thread count an experiment chose."""
    return (f"{hardware.get('gpu', hardware['cpu'])}, {hardware['cores']} logical CPU cores, "
            f"device {hardware['device']}")


def report(results: dict[str, dict], mode: str) -> dict[str, Any]:
    """``{"mode", "hardware", "rules", "claims"}`` from the experiments' results by name."""
    hardware = sorted({_machine(r["hardware"]) for r in results.values()})
    modes = {name: r["mode"] for name, r in results.items()}
    return {
        "mode": mode,
        "modes": modes,
        "hardware": hardware[0] if len(hardware) == 1 else hardware,
        "rules": RULES,
        "claims": [evaluate(c, results.get(c.experiment)) for c in claims()],
    }


def _show(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, dict) and set(value) == {"mean", "std"}:
        return f"{value['mean']} ± {value['std']}"
    if isinstance(value, list) and len(value) == 2:
        low, high = value
        if low == 0:
            return f"< {high:.3g}"
        return f"{low:.3g}" if low == high else f"{low:.3g}–{high:.3g}"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def markdown(rep: dict[str, Any]) -> str:
    """The report as Markdown: a header with the modes and hardware, the rules, the table."""
    counts = {v: sum(r["verdict"] == v for r in rep["claims"]) for v in VERDICTS}
    hardware = rep["hardware"] if isinstance(rep["hardware"], str) else "; ".join(rep["hardware"])
    lines = [
        "# Reproduction report",
        "",
        "Every quantitative claim of the sources (the Harvey Mudd Math 179 report, the Review "
        "of Literature, and Chen et al. 2018's Table 1) beside the course's measurement. "
        "Written by `python -m nodebook_utils.reproduce`; do not edit by hand.",
        "",
        "- Results used: " + ", ".join(f"{name} ({m} mode)" for name, m in rep["modes"].items()),
        f"- Hardware: {hardware}",
        f"- {len(rep['claims'])} claims: {counts['reproduced']} reproduced, "
        f"{counts['differs']} differ, {counts['not measured']} not measured.",
        "",
        "How a verdict is reached:",
        "",
        *(f"- **{kind}**: {rule}." for kind, rule in rep["rules"].items()),
        "",
        "| source | claim | claimed | measured | verdict | note | mode |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rep["claims"]:
        lines.append(
            f"| {r['source']} | {r['claim']} | {_show(r['claimed'])} | {_show(r['measured'])} "
            f"| {r['verdict']} | {r['note']} | {r['mode'] or '—'} |"
        )
    return "\n".join(lines) + "\n"


#: The claims README.md quotes (by claim text); a test keeps README in step with the report.
HEADLINES = (
    "Neural ODE test accuracy (5 epochs)",
    "ResNet test accuracy (5 epochs)",
    "training time, Neural ODE / ResNet (11.7–16.6 vs 1.6–1.8 min/epoch)",
    "evaluation time, Neural ODE / ResNet (70 s vs 9 s)",
    "Neural ODE memory / ResNet memory (\"less than one third\")",
    "sampling rate of the heartbeats (Hz)",
    "spiral: errors rank Dopri5 < RK4 < Euler",
)


def headline_markdown(rep: dict[str, Any]) -> str:
    """The headline rows as a short Markdown table (README.md shows it)."""
    rows = {r["claim"]: r for r in rep["claims"]}
    lines = ["| claim | claimed | measured | verdict |", "|---|---|---|---|"]
    for name in HEADLINES:
        r = rows[name]
        lines.append(f"| {r['claim']} | {_show(r['claimed'])} | {_show(r['measured'])} | "
                     f"{r['verdict']} |")
    return "\n".join(lines)


def write(rep: dict[str, Any], out: str | Path | None = None) -> tuple[Path, Path]:
    """Write ``reproduction.md`` and ``reproduction.json`` into ``out`` (default: the figures
    folder, :func:`~nodebook_utils.plotting.figures_dir`)."""
    out = Path(out) if out is not None else figures_dir()
    out.mkdir(parents=True, exist_ok=True)
    md, js = out / "reproduction.md", out / "reproduction.json"
    md.write_text(markdown(rep))
    js.write_text(json.dumps(rep, indent=1) + "\n")
    return md, js


def collect(mode: str, given: Sequence[str | Path] = ()) -> dict[str, dict]:
    """The results by experiment: those read from ``given`` files, the others run in ``mode``."""
    from .experiments import common, ecg, mnist, spiral

    results = {}
    for path in given:
        result = common.load_result(path)
        results[result["experiment"]] = result
    for module in (spiral, mnist, ecg):
        if module.NAME not in results:
            print(f"running the {module.NAME} experiment in {mode} mode ...", flush=True)
            results[module.NAME] = module.run(mode=mode)
    return results


def main(argv: Sequence[str] | None = None) -> int:
    """The command line (see the module docstring)."""
    parser = argparse.ArgumentParser(prog="python -m nodebook_utils.reproduce",
                                     description=__doc__.split("\n")[0])
    parser.add_argument("--mode", choices=MODES, default=get_settings().mode)
    parser.add_argument("--out", default=None, help="folder (default: figures/)")
    parser.add_argument("--result", action="append", default=[], metavar="JSON",
                        help="use this experiment result instead of running it (repeatable)")
    args = parser.parse_args(argv)
    rep = report(collect(args.mode, args.result), args.mode)
    md, js = write(rep, args.out)
    counts = {v: sum(r["verdict"] == v for r in rep["claims"]) for v in VERDICTS}
    print(f"{len(rep['claims'])} claims: " + ", ".join(f"{n} {v}" for v, n in counts.items()))
    print(f"wrote {short_path(md)} and {short_path(js)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
