"""Every quantitative claim of the sources, with its kind, its rule, why the rule fits, and
where its measurement lies in the committed results (the reproduction report; 07-09).

A claim's ``measure(results)`` only reads the results (the experiments' and benchmarks' JSON,
by name: ``spiral``, ``mnist``, ``ecg``, ``scaling``, ``mnist_speed``): nothing is
recomputed when the report is rendered, and every value names the JSON key it came from.
A result that lacks what a row needs gives that row ``not measured``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import rules
from .rules import MIN_SEEDS, Rule
from .sources import (
    CHEN,
    CHEN_FIGURE3,
    CHEN_TABLE1,
    ECG,
    LECUN,
    MATH179,
    MNIST,
    ORDERS,
    REVIEW,
    SPIRAL,
)


class Missing(LookupError):
    """A result lacks what a row needs: the row is ``not measured``, saying what is missing."""


@dataclass
class Evidence:
    """What a row measured: ``value`` (shown), ``judged`` (what the rule sees; default the
    value), the JSON ``keys`` it came from, the ``conditions`` it was measured under, a
    ``note``, and ``verdict`` when the row decides without its rule (``not comparable``,
    ``not measured``)."""

    value: Any
    keys: list[str]
    conditions: dict[str, Any] = field(default_factory=dict)
    note: str = ""
    judged: Any = None
    verdict: str | None = None


@dataclass(frozen=True)
class Claim:
    """One row: what a source claimed, of which kind, judged by which rule and why, and how
    to read its measurement from the results."""

    source: str
    claim: str
    claimed: Any
    kind: str
    rule: Rule
    why: str
    experiment: str
    measure: Callable[[dict[str, dict]], Evidence]


# --- reading the results ---------------------------------------------------------------------


def _result(results: dict[str, dict], name: str) -> dict:
    if name not in results:
        raise Missing(f"no {name} result")
    return results[name]


def _seed_map(entry: dict | None, what: str) -> dict[str, dict]:
    seeds = (entry or {}).get("seeds")
    if not seeds:
        raise Missing(f"{what} not in this result")
    return seeds


def _spread_note(values: list[float], seeds: list[str], digits: int = 4) -> str:
    a = np.asarray(values)
    listed = ", ".join(f"seed {s}: {v:.{digits}f}" for s, v in zip(seeds, values, strict=True))
    sd = f" ± {a.std(ddof=1):.{digits}f}" if len(a) > 1 else " (one seed: no spread measured)"
    return (f"mean {a.mean():.{digits}f}{sd}, median {np.median(a):.{digits}f}, range "
            f"{a.min():.{digits}f}–{a.max():.{digits}f} ({listed})")


def _few_seeds(n: int) -> str | None:
    return "not measured" if n < MIN_SEEDS else None


# ECG (Math 179 report) --------------------------------------------------------------------

ECG_DEVIATIONS = [
    "beats rebuilt from PhysioNet's MIT-BIH records as Kaggle's were made (125 Hz, 187 "
    "samples, Kaggle's per-class counts), not read from Kaggle's CSV files",
    "the course's own seeded split of the beats into training and test sets with Kaggle's "
    "per-class counts (Kaggle's assignment of beats cannot be recovered from the records)",
    "10% of the training beats held out for validation (the source validated on the test set)",
]


def _ecg_part(results: dict, protocol: str = "kaggle") -> tuple[dict, dict]:
    result = _result(results, "ecg")
    part = result.get("protocols", {}).get(protocol)
    if part is None:
        raise Missing(f"no {protocol} protocol in the ECG result")
    return result, part


def _ecg_conditions(result: dict, part: dict, model: str, seeds: list[str]) -> dict[str, Any]:
    run = part["runs"][model]["seeds"][seeds[0]]
    budget = run["budget"]
    return {
        "data": (f"{sum(part['data']['total']):,} beats of {len(result['config']['records'])} "
                 "MIT-BIH records, Kaggle protocol"),
        "budget": (f"{budget['full_epochs']:.2f} epochs ({budget['steps']:,} steps of "
                   f"{result['config']['batch_size']})"),
        "seeds": [int(s) for s in seeds],
        "deviations": ECG_DEVIATIONS,
    }


def _ecg_per_seed(model: str, key: str, label: str, needs_seeds: bool = True
                  ) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, part = _ecg_part(results)
        seeds = _seed_map(part["runs"].get(model), f"the {model}")
        names = sorted(seeds, key=int)
        values = []
        for s in names:
            value: Any = seeds[s]
            for k in key.split("."):
                value = value.get(k) if isinstance(value, dict) else None
            if value is None:
                raise Missing(f"{key} not in this result (evaluate_train was off)")
            values.append(float(value))
        full = all(seeds[s]["budget"]["full_epochs"] >= ECG["epochs"] - 1e-9 for s in names)
        verdict = _few_seeds(len(values)) if needs_seeds else None
        note = f"{label}: {_spread_note(values, names)}"
        if not full:
            verdict, note = "not comparable", f"not at the claim's budget of 5 epochs; {note}"
        elif verdict:
            note += f"; {len(values)} seed(s): the rule needs {MIN_SEEDS}"
        return Evidence(round(float(np.mean(values)), 4), [
            f"protocols.kaggle.runs.{model}.seeds.<{','.join(names)}>.{key}"],
            _ecg_conditions(result, part, model, names), note, judged=values, verdict=verdict)

    return measure


def _ecg_time(model: str, key: str, scale: float, unit: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, part = _ecg_part(results)
        seeds = _seed_map(part["runs"].get(model), f"the {model}")
        names = sorted(seeds, key=int)
        values = [seeds[s]["timing"][key] * scale for s in names]
        return Evidence(round(float(np.mean(values)), 2),
                        [f"protocols.kaggle.runs.{model}.seeds.<{','.join(names)}>.timing.{key}"],
                        _ecg_conditions(result, part, model, names),
                        f"{unit}: {_spread_note(values, names, 2)}", verdict="not comparable")

    return measure


def _ecg_ratio(key: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, part = _ecg_part(results)
        spread = part.get("ratios", {}).get(key)
        if spread is None:
            raise Missing("no Neural ODE / ResNet ratio in this result")
        names = [str(s) for s in result["config"]["seeds"]["kaggle"]][:spread["n"]]
        return Evidence(round(spread["mean"], 2), [f"protocols.kaggle.ratios.{key}.values"],
                        _ecg_conditions(result, part, "odenet", names),
                        "Neural ODE / ResNet, both measured in the same run: "
                        + _spread_note(spread["values"], names, 2), judged=spread["values"])

    return measure


def _ecg_data(key: str, index: int | None = None, total: bool = False) -> Callable:
    def measure(results: dict) -> Evidence:
        result, part = _ecg_part(results)
        data = part["data"]
        value = sum(data["total"]) if total else data[key] if index is None else data[key][index]
        shown = f"data.{key}" + (f"[{index}]" if index is not None else "")
        complete = sum(data["total"]) == 109_446
        note = ("the rebuild from all 48 records has Kaggle's per-class counts exactly"
                if complete else "only some records in this run")
        return Evidence(round(value, 4) if isinstance(value, float) else value,
                        [f"protocols.kaggle.{shown}"],
                        {"data": f"{sum(data['total']):,} beats rebuilt at 125 Hz"}, note,
                        verdict=None if complete or key == "sampling_rate_hz" else "not measured")

    return measure


# Scaling (memory, time, error) ----------------------------------------------------------

def _scaling(results: dict) -> dict:
    return _result(results, "scaling")


def _scaling_conditions(result: dict, what: str) -> dict[str, Any]:
    return {"data": "a seeded random batch of the task's shape (memory depends on shapes)",
            "budget": f"{what}; networks at initialisation, seed {result['config']['seed']}",
            "seeds": [result["config"]["seed"]]}


def _memory_ratio(meter: str, label: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result = _scaling(results)
        models_ = result.get("models", {})
        if not {"ecg_odenet_adjoint", "ecg_resnet"} <= set(models_):
            raise Missing("the ECG networks are not in this scaling result")
        ode, res = models_["ecg_odenet_adjoint"][meter], models_["ecg_resnet"][meter]
        return Evidence(round(ode / res, 3), [f"models.ecg_odenet_adjoint.{meter}",
                                              f"models.ecg_resnet.{meter}"],
                        _scaling_conditions(result, f"one training step, batch "
                                            f"{result['config']['batch_size']}"),
                        f"{label}: Neural ODE (dopri5 + adjoint) {ode:.2f} MiB against the "
                        f"ResNet's {res:.2f} MiB")

    return measure


def _growth(task: str, kind: str, meter: str, label: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result = _scaling(results)
        series = result.get("depth", {}).get(task, {}).get(kind)
        if series is None:
            raise Missing(f"no {task} {kind} depth series in this result")
        g = series[f"{meter}_growth"]
        points = series["points"]
        key = {"saved": "saved_mib", "peak": "peak_mib", "step": "step_ms"}[meter]
        unit = "ms" if meter == "step" else "MiB"
        listed = ", ".join(f"{p['depth']}: {p[key]:.1f}" for p in points)
        return Evidence(f"×{g['ratio_last_first']:.2f} from depth {points[0]['depth']} to "
                        f"{points[-1]['depth']}", [f"depth.{task}.{kind}.{meter}_growth",
                                                   f"depth.{task}.{kind}.points[].{key}"],
                        _scaling_conditions(result, f"one training step, batch "
                                            f"{result['config']['batch_size']}"),
                        f"{label} ({unit}) by depth: {listed}; slope {g['slope']:.2f} {unit} "
                        f"per block or step, R² {g['r2']:.3f}", judged=g)

    return measure


# MNIST (Review of Literature) -----------------------------------------------------------

def _mnist_full(results: dict, model: str) -> tuple[dict, dict[str, dict], list[str], bool]:
    result = _result(results, "mnist")
    seeds = _seed_map(result.get("runs", {}).get(model), f"the {model}")
    names = sorted(seeds, key=int)
    full = (result["data"]["train_images"] == 60_000
            and all(seeds[s]["epochs"] >= MNIST["epochs"] for s in names))
    return result, seeds, names, full


def _mnist_conditions(result: dict, seeds: dict, names: list[str]) -> dict[str, Any]:
    run = seeds[names[0]]
    return {"data": (f"official MNIST: {result['data']['train_images']:,} training, "
                     f"{result['data']['test_images']:,} test images"),
            "budget": (f"{run['epochs']} epochs ({run['steps']:,} steps of "
                       f"{result['config']['batch_size']})"),
            "seeds": [int(s) for s in names],
            "deviations": ["accuracy as trained; the source's numbers are as trained too "
                           "(BatchNorm statistics re-estimated afterwards are a diagnosis, "
                           "given in the note)"]}


def _mnist_accuracy(key: str, label: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, seeds, names, full = _mnist_full(results, "odenet_euler")
        values = [seeds[s][key] for s in names]
        note = f"{label}: {_spread_note(values, names)}"
        verdict = _few_seeds(len(values))
        if key == "test_accuracy_as_trained":
            again = [seeds[s].get("test_accuracy_recalibrated") for s in names]
            if all(v is not None for v in again):
                note += ("; diagnosis, not the claim: with BatchNorm statistics re-estimated "
                         f"after training {_spread_note(again, names)}")
        if key != "initial_test_accuracy" and not full:
            verdict, note = "not comparable", f"not at the claim's budget; {note}"
        elif verdict:
            note += f"; {len(values)} seed(s): the rule needs {MIN_SEEDS}"
        return Evidence(round(float(np.mean(values)), 4),
                        [f"runs.odenet_euler.seeds.<{','.join(names)}>.{key}"],
                        _mnist_conditions(result, seeds, names), note, judged=values,
                        verdict=verdict)

    return measure


def _mnist_minutes(epochs: int, unit: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, seeds, names, _ = _mnist_full(results, "odenet_euler")
        per = 60 if unit == "min" else 3600
        values = [seeds[s]["train_step_ms"] / 1000 * 1875 * epochs / per for s in names]
        return Evidence(round(float(np.mean(values)), 2),
                        [f"runs.odenet_euler.seeds.<{','.join(names)}>.train_step_ms"],
                        _mnist_conditions(result, seeds, names),
                        f"{unit} for {epochs} epoch(s) of 1,875 steps of 32 at the measured mean "
                        f"step time ({result['hardware']['summary']}): "
                        f"{_spread_note(values, names, 2)}", verdict="not comparable")

    return measure


def _mnist_batches(results: dict) -> Evidence:
    result = _result(results, "mnist")
    if result["data"]["train_images"] != 60_000:
        raise Missing("this MNIST result did not train on all 60,000 images")
    return Evidence(result["data"]["batches_per_epoch"], ["data.batches_per_epoch"],
                    {"data": "the official training file, 60,000 images"},
                    f"60,000 images / batch {result['config']['batch_size']}, rounded up")


# Chen et al.'s Table 1 (benchmarks/results/mnist_speed.json) -----------------------------

def _speed_row(results: dict, name: str, benchmark: str = "mnist_speed") -> tuple[dict, dict]:
    bench = _result(results, benchmark)
    for row in bench.get("rows", []):
        if row["name"] == name:
            return bench, row
    raise Missing(f"no row {name!r} in the MNIST speed benchmark")


REFERENCE = "reference: torchdiffeq odenet_mnist, dopri5 tol 1e-3"
ADJOINT = "reference network, dopri5 tol 1e-3 + adjoint"


def _chen_error(row_name: str, label: str,
                benchmark: str = "mnist_speed") -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        bench, row = _speed_row(results, row_name, benchmark)
        errors = [1 - a for a in row["test_accuracies"]]
        names = [str(s) for s in range(len(errors))]
        budget = bench["budget"]
        return Evidence(round(float(np.mean(errors)), 4), [
            f"rows[name={row_name!r}].test_accuracies"],
            {"data": (f"{budget['train_images']:,} training images (the 5,000-image subset), "
                      f"{budget['test_images']:,} test images"),
             "budget": f"{budget['epochs']} epochs, batch {budget['batch_size']}, "
                       f"{budget['optimizer']}",
             "seeds": [int(s) for s in names]},
            f"{label}; test error {_spread_note(errors, names)}. Chen et al. trained on all "
            "60,000 training images (torchdiffeq's example trains 160 epochs with "
            "augmentation): a budget this far below theirs is not comparable",
            verdict="not comparable")

    return measure


def _chen_parameters(model: str) -> Callable[[dict], Evidence]:
    network = ("torchdiffeq's odenet_mnist network" if "odenet" in model or "rknet" in model
               else "the six-block MNIST ResNet of lesson 08")
    return _counted("models", model, "parameters", note=network, millions=True)


# Spiral (Review of Literature) -----------------------------------------------------------

def _spiral_runs(results: dict, solver: str) -> tuple[dict, list[dict]]:
    result = _result(results, "spiral")
    runs = [r for r in result.get("runs", []) if r["solver"] == solver and r["adjoint"]]
    if not runs:
        raise Missing(f"no {solver} run with the adjoint in this spiral result")
    return result, sorted(runs, key=lambda r: r["seed"])


def _spiral_conditions(result: dict, runs: list[dict]) -> dict[str, Any]:
    c = result["config"]
    return {"data": f"the spiral dy/dt = A y, {c['n_points']} points on [0, {c['t_max']}]",
            "budget": f"{c['iterations']} iterations of {c['batch_size']} windows of "
                      f"{c['batch_time']} points, with the adjoint (as the source)",
            "seeds": [r["seed"] for r in runs],
            "deviations": ["the system as written (A y), where the source's code solved yA",
                           "windows drawn with replacement (the source's code: without)"]}


def _spiral_outlier(result: dict) -> str:
    """Name the seed whose error is largest for every solver, when one is."""
    worst = {}
    for solver in ("euler", "rk4", "dopri5"):
        runs = [r for r in result["runs"] if r["solver"] == solver and r["adjoint"]]
        if len(runs) < 3:
            return ""
        values = [r["final_mse"] for r in runs]
        top = max(runs, key=lambda r: r["final_mse"])
        if top["final_mse"] < 2 * float(np.median(values)):
            return ""
        worst[solver] = top["seed"]
    if len(set(worst.values())) != 1:
        return ""
    seed = next(iter(worst.values()))
    return (f". Seed {seed} gives the largest error with every solver (more than twice the "
            "median): a seed fixes the initial weights and the random windows, which all three "
            "solvers share, so the outlier belongs to that draw, not to a solver")


def _spiral_mse(solver: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, runs = _spiral_runs(results, solver)
        values = [r["final_mse"] for r in runs]
        names = [str(r["seed"]) for r in runs]
        verdict = _few_seeds(len(values))
        note = (f"full-trajectory MSE after {result['config']['iterations']} iterations: "
                f"{_spread_note(values, names)}{_spiral_outlier(result)}")
        return Evidence(round(float(np.median(values)), 4),
                        [f"runs[solver={solver}, adjoint=true, seed=*].final_mse"],
                        _spiral_conditions(result, runs), note + " (value shown: the median)",
                        judged=values, verdict=verdict)

    return measure


def _spiral_seconds(solver: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result, runs = _spiral_runs(results, solver)
        values = [r["train_seconds"] for r in runs]
        names = [str(r["seed"]) for r in runs]
        return Evidence(round(float(np.mean(values)), 2),
                        [f"runs[solver={solver}, adjoint=true, seed=*].train_seconds"],
                        _spiral_conditions(result, runs),
                        f"s, training only ({result['hardware']['summary']}; the source's time "
                        f"included four plotting calls): {_spread_note(values, names, 2)}",
                        verdict="not comparable")

    return measure


def _spiral_time_ratio(results: dict) -> Evidence:
    result, dopri5 = _spiral_runs(results, "dopri5")
    _, rk4 = _spiral_runs(results, "rk4")
    by_seed = {r["seed"]: r["train_seconds"] for r in rk4}
    pairs = [(r["seed"], r["train_seconds"] / by_seed[r["seed"]]) for r in dopri5
             if r["seed"] in by_seed]
    values, names = [v for _, v in pairs], [str(s) for s, _ in pairs]
    return Evidence(round(float(np.mean(values)), 2),
                    ["runs[solver=dopri5|rk4, adjoint=true, seed=*].train_seconds"],
                    _spiral_conditions(result, dopri5),
                    f"Dopri5 / RK4 training time of the same seed, measured in one run: "
                    f"{_spread_note(values, names, 2)}", judged=values)


def _spiral_ranking(results: dict) -> Evidence:
    result = _result(results, "spiral")
    means = {}
    for solver in ("euler", "rk4", "dopri5"):
        _, runs = _spiral_runs(results, solver)
        means[solver] = float(np.mean([r["final_mse"] for r in runs]))
    order = sorted(means, key=means.get)
    p = {frozenset((q["a"], q["b"])): q["p_value"] for q in result.get("pairs", [])
         if q["adjoint"]}
    text, notes = order[0], []
    for a, b in zip(order, order[1:], strict=False):
        value = p.get(frozenset((a, b)))
        text += (" < " if value is not None and value < 0.05 else " ≈ ") + b
        notes.append(f"{a} vs {b}: " + ("no test" if value is None else f"p = {value:.2g}"))
    seeds = len(result["config"]["seeds"])
    return Evidence(text, ["runs[adjoint=true].final_mse", "pairs[adjoint=true].p_value"],
                    _spiral_conditions(result, _spiral_runs(results, "euler")[1]),
                    f"mean errors over {seeds} seeds ranked; paired t-tests of adjacent pairs: "
                    + "; ".join(notes))


# Chen et al.'s Figure 3 and the Review's solver orders -----------------------------------

def _tolerance(results: dict, what: str) -> Evidence:
    result = _scaling(results)
    rows = result.get("tolerance")
    if not rows:
        raise Missing("no tolerance series in this scaling result")
    listed = "; ".join(f"{r['tolerance']:.0e}: NFE {r['nfe']}, error {r['error']:.2e}, "
                       f"{r['forward_ms']:.0f} ms" for r in rows)
    conditions = _scaling_conditions(result, f"the ECG ODE block's forward solve, batch "
                                     f"{result['config']['batch_size']}")
    if what == "error":
        errors = [r["error"] for r in rows]
        return Evidence(f"{errors[0]:.1e} → {errors[-1]:.1e}", ["tolerance[].error"], conditions,
                        f"dopri5 at rtol = atol = tolerance, error against a float64 solve at "
                        f"1e-10: {listed}", judged=errors)
    nfe = np.array([r["nfe"] for r in rows], float)
    ms = np.array([r["forward_ms"] for r in rows], float)
    per = ms / nfe
    return Evidence(f"{per.min():.1f}–{per.max():.1f} ms per evaluation",
                    ["tolerance[].forward_ms", "tolerance[].nfe"], conditions,
                    f"time / NFE at each tolerance: {listed}",
                    judged=list(per / per.mean()))


def _backward_over_forward(results: dict) -> Evidence:
    values, names, keys = [], [], []
    try:
        result, part = _ecg_part(results)
        for s, run in sorted(part["runs"]["odenet"]["seeds"].items(), key=lambda x: int(x[0])):
            values.append(run["nfe"]["backward_mean"] / run["nfe"]["forward_mean"])
            names.append(f"ECG seed {s}")
        keys.append("ecg: protocols.kaggle.runs.odenet.seeds.*.nfe.{backward,forward}_mean")
    except (Missing, KeyError):
        pass
    try:
        _, runs = _spiral_runs(results, "dopri5")
        for r in runs:
            values.append(float(np.mean(r["nfe_backward"]) / np.mean(r["nfe_forward"])))
            names.append(f"spiral seed {r['seed']}")
        keys.append("spiral: runs[solver=dopri5, adjoint=true].nfe_{backward,forward}")
    except Missing:
        pass
    if not values:
        raise Missing("no dopri5 + adjoint training run in these results")
    listed = ", ".join(f"{n}: {v:.2f}" for n, v in zip(names, values, strict=True))
    return Evidence(f"{min(values):.2f}–{max(values):.2f}", keys,
                    {"budget": "whole training runs (mean NFE per step)"},
                    f"backward NFE / forward NFE, mean over each run's training steps: {listed}",
                    judged=values)


def _nfe_growth(results: dict) -> Evidence:
    result, part = _ecg_part(results)
    seeds = _seed_map(part["runs"].get("odenet"), "the Neural ODE")
    growths, z, names = [], [], sorted(seeds, key=int)
    for s in names:
        run = seeds[s]
        forward = np.asarray(run["nfe"]["forward"], float)
        per_epoch = run["budget"]["steps_per_full_epoch"]
        if run["budget"]["full_epochs"] < 2:
            raise Missing("fewer than two epochs of NFE in this result")
        first, last = forward[:per_epoch], forward[-per_epoch:]
        se = np.sqrt(first.var(ddof=1) / len(first) + last.var(ddof=1) / len(last))
        growths.append(float(last.mean() - first.mean()))
        z.append(float(growths[-1] / se) if se > 0 else float("inf") * np.sign(growths[-1]))
    return Evidence(", ".join(f"{g:+.1f} NFE (z = {v:.1f})" for g, v in zip(growths, z,
                                                                          strict=True)),
                    ["protocols.kaggle.runs.odenet.seeds.*.nfe.forward"],
                    _ecg_conditions(result, part, "odenet", names),
                    "mean forward NFE per step in the last epoch minus the first (dopri5 + "
                    "adjoint, rtol = atol = 1e-3), in standard errors of that difference (z): "
                    + ", ".join(f"seed {s}: {g:+.1f} (z = {v:.1f})"
                                for s, g, v in zip(names, growths, z, strict=True)),
                    judged=z)


def _order(method: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        result = _scaling(results)
        o = result.get("orders", {}).get(method)
        if o is None:
            raise Missing(f"no {method} convergence series in this scaling result")
        listed = ", ".join(f"h = 1/{round(1 / h)}: {e:.2e}"
                           for h, e in zip(o["step_sizes"], o["errors"], strict=True))
        return Evidence(round(o["order"], 2), [f"orders.{method}.order", f"orders.{method}.errors"],
                        {"data": "the spiral's linear system on [0, 1], float64, against the "
                                 "matrix exponential"},
                        f"torchdiffeq's {method}: global error at t = 1 by step size: {listed}; "
                        "order fitted over the three smallest steps", judged=o["order"])

    return measure


def _counted(section: str, name: str, key: str | None = None, note: str = "",
             millions: bool = False) -> Callable[[dict], Evidence]:
    """A count the scaling result holds: ``section.name`` (``.key``), in millions if asked."""
    def measure(results: dict) -> Evidence:
        entry = _scaling(results).get(section, {}).get(name)
        if entry is None:
            raise Missing(f"no {section}.{name} in this scaling result")
        n = entry[key] if key else entry
        path = f"{section}.{name}" + (f".{key}" if key else "")
        return Evidence(round(n / 1e6, 3) if millions else n, [path], {},
                        f"{n:,}, counted on " + (note or "the course's rebuild of the "
                                                 "source's network"))

    return measure


def _blocks(key: str) -> Callable[[dict], Evidence]:
    return _counted("blocks", key)


def _models(key: str, model: str) -> Callable[[dict], Evidence]:
    return _counted("models", model, key)


def _parameter_fraction(results: dict) -> Evidence:
    result = _scaling(results)
    m = result.get("models", {})
    if not {"ecg_odenet_adjoint", "ecg_resnet"} <= set(m):
        raise Missing("the ECG networks are not in this scaling result")
    a, b = m["ecg_odenet_adjoint"]["parameters"], m["ecg_resnet"]["parameters"]
    return Evidence(round(a / b, 3), ["models.ecg_odenet_adjoint.parameters",
                                      "models.ecg_resnet.parameters"], {},
                    f"{a:,} / {b:,} parameters")


def _not_measured(why: str) -> Callable[[dict], Evidence]:
    def measure(results: dict) -> Evidence:
        return Evidence(None, [], {}, why, verdict="not measured")

    return measure


# --- the rows --------------------------------------------------------------------------------

WHY = {
    "count": "a count of a network the course rebuilt from the source's code: equal or not",
    "accuracy": ("the source reports one training run; our runs over seeds show the range a "
                 "single run of the same recipe gives, so a claim inside it is what one of our "
                 "runs could have given; the band is the measured spread, never widened"),
    "time": ("an absolute time depends on the machine, and the source does not say which it "
             "used"),
    "derived": ("the course's ratio of the source's own numbers, not a number the source "
                "states; both machines' speeds cancel in a ratio, so ours (same run) is "
                "comparable, though a different machine still shifts it"),
    "share": "a class share the source rounded to two decimals",
}


def claims() -> list[Claim]:
    """Every quantitative claim of the two write-ups, Chen et al.'s Table 1 and Figure 3."""
    ecg_p, s = ECG["parameters"], SPIRAL
    rows = [
        # --- ECG, Math 179 report ---------------------------------------------------------
        Claim(MATH179, "ResNet parameters", ecg_p["resnet"], "by construction", rules.EXACT,
              WHY["count"], "scaling", _models("parameters", "ecg_resnet")),
        Claim(MATH179, "Neural ODE parameters", ecg_p["odenet"], "by construction", rules.EXACT,
              WHY["count"], "scaling", _models("parameters", "ecg_odenet_adjoint")),
        Claim(MATH179, "parameters per residual block", ECG["parameters_per_block"]["resnet"],
              "by construction", rules.EXACT, WHY["count"], "scaling",
              _blocks("ecg_residual_block")),
        Claim(MATH179, "parameters of the ODE block", ECG["parameters_per_block"]["odenet"],
              "by construction", rules.EXACT, WHY["count"], "scaling", _blocks("ecg_ode_block")),
        Claim(MATH179, "residual blocks in the ResNet", ECG["residual_blocks"],
              "by construction", rules.EXACT, WHY["count"], "scaling",
              _blocks("ecg_resnet_blocks")),
        Claim(MATH179, "Neural ODE / ResNet parameters (\"less than half\")",
              ECG["parameter_fraction"], "by construction", rules.BELOW,
              "the source's own comparison of two counts, tested as written", "scaling",
              _parameter_fraction),
        *(Claim(MATH179, f"{label} {split} accuracy (5 epochs)",
                ECG[f"{split}_accuracy"][model], "experiment", rules.SEED_RANGE,
                WHY["accuracy"], "ecg", _ecg_per_seed(model, key, what))
          for model, label in (("resnet", "ResNet"), ("odenet", "Neural ODE"))
          for split, key, what in (
              ("train", "train.final_accuracy", "final model on the training beats"),
              ("test", "test.accuracy", "test beats"))),
        Claim(MATH179, "ResNet training, minutes per epoch", ECG["minutes_per_epoch"]["resnet"],
              "experiment", rules.NOT_COMPARABLE, WHY["time"], "ecg",
              _ecg_time("resnet", "seconds_per_epoch", 1 / 60, "min/epoch")),
        Claim(MATH179, "Neural ODE training, minutes per epoch",
              ECG["minutes_per_epoch"]["odenet"], "experiment", rules.NOT_COMPARABLE,
              WHY["time"], "ecg", _ecg_time("odenet", "seconds_per_epoch", 1 / 60, "min/epoch")),
        Claim(MATH179, "training time, Neural ODE / ResNet (the course's ratio of 11.7–16.6 "
              "and 1.6–1.8 min/epoch)",
              [ECG["minutes_per_epoch"]["odenet"][0] / ECG["minutes_per_epoch"]["resnet"][1],
               ECG["minutes_per_epoch"]["odenet"][1] / ECG["minutes_per_epoch"]["resnet"][0]],
              "derived", rules.OVERLAP, WHY["derived"], "ecg", _ecg_ratio("epoch")),
        Claim(MATH179, "ResNet: seconds to evaluate the test set", ECG["eval_seconds"]["resnet"],
              "experiment", rules.NOT_COMPARABLE, WHY["time"], "ecg",
              _ecg_time("resnet", "eval_test_seconds", 1, "s")),
        Claim(MATH179, "Neural ODE: seconds to evaluate the test set",
              ECG["eval_seconds"]["odenet"], "experiment", rules.NOT_COMPARABLE, WHY["time"],
              "ecg", _ecg_time("odenet", "eval_test_seconds", 1, "s")),
        Claim(MATH179, "evaluation time, Neural ODE / ResNet (the course's ratio of 70 s and "
              "9 s)", ECG["eval_seconds"]["odenet"] / ECG["eval_seconds"]["resnet"], "derived",
              rules.OVERLAP, WHY["derived"], "ecg", _ecg_ratio("eval_test")),
        Claim(MATH179, "Neural ODE memory / ResNet memory (\"less than one third\"), as the "
              "report derives it: parameter memory", ECG["memory_fraction"], "by construction",
              rules.BELOW, "the report's figure is the ratio of parameter counts (59,333 / "
              "182,853 = 0.32): tested as written, it follows from the architectures",
              "scaling", _memory_ratio("parameter_mib", "parameter memory")),
        Claim(MATH179, "Neural ODE memory / ResNet memory (\"less than one third\"): tensors "
              "stored for the backward pass", ECG["memory_fraction"], "experiment", rules.BELOW,
              "the claim read as the memory training needs: what backpropagation stores, "
              "which the adjoint avoids (lesson 06's meter)", "scaling",
              _memory_ratio("saved_mib", "saved for backward")),
        Claim(MATH179, "Neural ODE memory / ResNet memory (\"less than one third\"): peak "
              "tensor memory of a training step", ECG["memory_fraction"], "experiment",
              rules.BELOW, "the claim read as the most memory a training step holds at once "
              "(the allocator's peak: stored tensors, the solver's stages, the backward "
              "solve)", "scaling", _memory_ratio("peak_mib", "peak tensor memory")),
        *(Claim(MATH179, f"share of class {name}", share, "by construction", rules.ROUNDED,
                WHY["share"] + "; the rebuild was made to match Kaggle's counts", "ecg",
                _ecg_data("shares", c))
          for c, (name, share) in enumerate(zip("NSVFQ", ECG["class_shares"], strict=True))),
        Claim(MATH179, "heartbeats in the data set (\"about 110,000\")", ECG["beats"],
              "by construction", rules.ROUNDED, "'about 110,000' is rounded to two "
              "significant digits; the rebuild was made to match Kaggle's counts", "ecg",
              _ecg_data("total", total=True)),
        Claim(MATH179, "samples per beat", ECG["beat_samples"], "by construction", rules.EXACT,
              "Kaggle's format, which the rebuild follows", "ecg", _ecg_data("beat_samples")),
        Claim(MATH179, "sampling rate of the heartbeats (Hz)", ECG["sampling_rate_hz"],
              "by construction", rules.EXACT, "the rebuild resamples to 125 Hz as Kachuee "
              "et al. (2018) made Kaggle's beats; 360 Hz is the raw MIT-BIH rate", "ecg",
              _ecg_data("sampling_rate_hz")),
        Claim(MATH179, "duration of one 187-sample beat (s)", ECG["beat_seconds"], "arithmetic",
              rules.ROUNDED, "187 samples divided by the sampling rate", "ecg",
              _ecg_data("beat_seconds")),
        # --- MNIST, Review of Literature ---------------------------------------------------
        Claim(REVIEW, "ODE-Net test accuracy before training", MNIST["initial_accuracy"],
              "experiment", rules.SEED_RANGE, "an untrained network scores near chance (10%) "
              "and the exact value depends on its random initialisation: our seeds give the "
              "range", "mnist", _mnist_accuracy("initial_test_accuracy", "before training")),
        Claim(REVIEW, "ODE-Net test accuracy after 5 epochs", MNIST["test_accuracy"],
              "experiment", rules.SEED_RANGE, WHY["accuracy"], "mnist",
              _mnist_accuracy("test_accuracy_as_trained", "as trained")),
        Claim(REVIEW, "ODE-Net training, minutes per epoch", MNIST["minutes_per_epoch"],
              "experiment", rules.NOT_COMPARABLE, WHY["time"], "mnist", _mnist_minutes(1, "min")),
        Claim(REVIEW, "ODE-Net training, 5 epochs (\"approximately 1 hour\"), hours",
              MNIST["hours_total"], "experiment", rules.NOT_COMPARABLE, WHY["time"], "mnist",
              _mnist_minutes(5, "h")),
        Claim(REVIEW, "batches per epoch (batch size 32)", MNIST["batches_per_epoch"],
              "arithmetic", rules.EXACT, "60,000 training images in batches of 32", "mnist",
              _mnist_batches),
        Claim(REVIEW, "loss at the start and the end of training", MNIST["losses"],
              "experiment", rules.SEED_RANGE, WHY["accuracy"], "mnist",
              _not_measured("the course has not established which loss these are (training or "
                            "test; per batch or per epoch), so it cannot pick the matching "
                            "measurement")),
        Claim(REVIEW, "RK4's global error falls as h⁴ (observed order)", ORDERS["rk4"],
              "experiment", rules.ORDER, "a convergent method's observed order approaches its "
              "theoretical one as h shrinks; 0.25 is a quarter of the gap between neighbouring "
              "orders", "scaling", _order("rk4")),
        Claim(REVIEW, "Euler's global error falls as h (observed order)", ORDERS["euler"],
              "experiment", rules.ORDER, "as for RK4", "scaling", _order("euler")),
        Claim(REVIEW, "the adjoint gives a constant memory profile (peak tensor memory against "
              "RK4 steps, MNIST ODE-Net)", "O(1)", "experiment", rules.CONSTANT,
              "constant means independent of the number of steps; 10% allows the solver's "
              "bookkeeping", "scaling",
              _growth("mnist", "rk4_adjoint", "peak", "peak tensor memory")),
        # --- Spiral, Review of Literature --------------------------------------------------
        *(Claim(REVIEW, f"spiral: {name} final error (MSE)", s[solver]["mse"], "experiment",
                rules.SEED_RANGE, WHY["accuracy"], "spiral", _spiral_mse(solver))
          for solver, name in (("euler", "Euler"), ("rk4", "RK4"), ("dopri5", "Dopri5"))),
        Claim(REVIEW, "spiral: errors rank Dopri5 < RK4 < Euler", s["ranking"], "experiment",
              rules.RANKING, "a ranking of three noisy means holds only if each step of it is "
              "larger than the seed-to-seed noise", "spiral", _spiral_ranking),
        *(Claim(REVIEW, f"spiral: {name} training time (s)", s[solver]["seconds"],
                "experiment", rules.NOT_COMPARABLE, WHY["time"], "spiral",
                _spiral_seconds(solver))
          for solver, name in (("euler", "Euler"), ("rk4", "RK4"), ("dopri5", "Dopri5"))),
        Claim(REVIEW, "spiral: Dopri5 took more than twice as long as RK4",
              s["dopri5_over_rk4"], "experiment", rules.ABOVE, "the source's own words, "
              "tested as written on the ratio of two times measured in one run", "spiral",
              _spiral_time_ratio),
        Claim(REVIEW, "spiral: Dopri5 / RK4 training time (the course's ratio of 39.06 s and "
              "12.95 s)", s["dopri5"]["seconds"] / s["rk4"]["seconds"], "derived",
              rules.OVERLAP, WHY["derived"], "spiral", _spiral_time_ratio),
        # --- Chen et al. 2018, Table 1 (MNIST) -----------------------------------------------
        Claim(CHEN, "Table 1: RK-Net test error", CHEN_TABLE1["RK-Net"]["test_error"],
              "experiment", rules.SEED_RANGE, WHY["accuracy"], "mnist_speed",
              _chen_error(REFERENCE, "torchdiffeq's odenet_mnist network trained by "
                          "backpropagation through dopri5 (its default, no adjoint): an "
                          "RK-Net in Chen et al.'s sense")),
        Claim(CHEN, "Table 1: ODE-Net test error", CHEN_TABLE1["ODE-Net"]["test_error"],
              "experiment", rules.SEED_RANGE, WHY["accuracy"], "mnist_speed",
              _chen_error(ADJOINT, "torchdiffeq's odenet_mnist network trained with the adjoint "
                          "(dopri5, rtol = atol = 1e-3)")),
        Claim(CHEN, "Table 1: ResNet test error", CHEN_TABLE1["ResNet"]["test_error"],
              "experiment", rules.SEED_RANGE, WHY["accuracy"], "mnist_speed",
              _chen_error("resnet", "the six-block MNIST ResNet of lesson 08")),
        Claim(CHEN, "Table 1: ODE-Net and RK-Net parameters (millions)",
              CHEN_TABLE1["ODE-Net"]["parameters"] / 1e6, "by construction", rules.ROUNDED,
              "Chen et al. round to 0.01M; the network is torchdiffeq's example", "scaling",
              _chen_parameters("mnist_odenet_adjoint")),
        Claim(CHEN, "Table 1: ResNet parameters (millions)",
              f"{CHEN_TABLE1['ResNet']['parameters'] / 1e6:.2f}", "by construction", rules.ROUNDED,
              "Chen et al. round to 0.01M", "scaling", _chen_parameters("mnist_resnet")),
        Claim(LECUN, "Table 1: 1-layer MLP test error", CHEN_TABLE1["1-layer MLP"]["test_error"],
              "experiment", rules.SEED_RANGE, WHY["accuracy"], "mnist_speed",
              _not_measured("the course trains no one-hidden-layer MLP on MNIST")),
        Claim(LECUN, "Table 1: 1-layer MLP parameters (millions)",
              CHEN_TABLE1["1-layer MLP"]["parameters"] / 1e6, "by construction", rules.ROUNDED,
              "a count", "scaling", _not_measured("no one-hidden-layer MLP in this course")),
        *(Claim(CHEN, f"Table 1: {model} memory {CHEN_TABLE1[model]['memory']} (tensors "
                f"saved for backward against {label})", CHEN_TABLE1[model]["memory"],
                "experiment", rule, why, "scaling",
                _growth("mnist", kind, "saved", "saved for backward"))
          for model, kind, label, rule, why in (
              ("ResNet", "resnet", "blocks L", rules.LINEAR,
               "O(L) means growth in proportion to L: a straight line in L with a positive "
               "slope"),
              ("RK-Net", "rk4_backprop", "RK4 steps", rules.LINEAR,
               "O(L~) means growth in proportion to the evaluations: 4 per RK4 step"),
              ("ODE-Net", "rk4_adjoint", "RK4 steps", rules.CONSTANT,
               "O(1) means independent of the steps; 10% allows the solver's bookkeeping"))),
        *(Claim(CHEN, f"Table 1: {model} time {CHEN_TABLE1[model]['time']} (training step "
                f"against {label})", CHEN_TABLE1[model]["time"], "experiment", rules.LINEAR,
                "linear growth in the blocks or evaluations: a straight line with a positive "
                "slope", "scaling", _growth("mnist", kind, "step", "step time"))
          for model, kind, label in (("ResNet", "resnet", "blocks L"),
                                     ("RK-Net", "rk4_backprop", "RK4 steps"),
                                     ("ODE-Net", "rk4_adjoint", "RK4 steps"))),
        # --- Chen et al. 2018, Figure 3 ------------------------------------------------------
        Claim(CHEN, f"Figure 3a: {CHEN_FIGURE3['a']}", "error falls with the tolerance",
              "experiment", rules.DECREASING, "'controlled' read as: a tighter tolerance gives a "
              "smaller error, at every step of the series", "scaling",
              lambda r: _tolerance(r, "error")),
        Claim(CHEN, f"Figure 3b: {CHEN_FIGURE3['b']}", 1.0, "experiment", rules.ABOUT,
              "proportional means a constant time per evaluation: each tolerance's ms per "
              "evaluation, divided by their mean, lies within ±20% of 1", "scaling",
              lambda r: _tolerance(r, "time")),
        Claim(CHEN, f"Figure 3c: {CHEN_FIGURE3['c']}", 0.5, "experiment", rules.ABOUT,
              "'about half' read as 0.4–0.6 of the forward NFE, in every run", "ecg",
              _backward_over_forward),
        Claim(CHEN, f"Figure 3d: {CHEN_FIGURE3['d']} (z of last minus first epoch)", 2.0,
              "experiment", rules.ABOVE, "the NFE varies from step to step, so growth is read "
              "as: the last epoch's mean forward NFE exceeds the first epoch's by more than two "
              "standard errors of the difference, in every seed", "ecg", _nfe_growth),
    ]
    return rows
