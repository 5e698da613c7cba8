"""The spiral: learning a linear dynamical system with Euler, RK4 and Dopri5
(07_spiral_dynamics).

The Review of Literature's experiment: the truth is dy/dt = A y with A = [[-0.1, 2],
[-2, -0.1]] from y0 = (2, 0), sampled at 500 times on [0, 25]; the model is the dynamics MLP
2 -> 50 tanh -> 2 (:func:`models.spiral_dynamics`); each of 151 iterations draws 16 random
windows of 10 consecutive points, solves from each window's first point over t[:10], and
takes one RMSprop step (lr 1e-3) on the mean squared error. The source compared the three
solvers by one run each. Here every solver runs with and without the adjoint over several
seeds, so that the spread between seeds can be set beside the differences between solvers.

A seed fixes the initial weights and the windows drawn, the same for every solver: the
comparisons between solvers are paired. The windows' start indices are drawn with replacement
(``torch.randint``), where the source's code drew them without (``np.random.choice(...,
replace=False)``): a batch may repeat a window.

Besides the source's error (the learned trajectory solved with the training solver), every run
records the same trajectory re-solved with an accurate solver (Dopri5 at the source's
tolerances; Ott et al., 2021, re-solve trained Neural ODEs this way), the error of the learned
vector field itself on the true trajectory's points, and the weights after the last iteration
and at each snapshot, so that any model of the run can be rebuilt (:func:`model_from`).
"""

from __future__ import annotations

import itertools
import sys
import time
from typing import Any

import numpy as np
import torch
import torchdiffeq

from .. import data, models, seed_everything
from ..config import get_settings
from ..reproduce import sources
from ..solvers import CountNFE
from ..training import timed
from . import common

NAME = "spiral"
#: The Review of Literature's table: training seconds and final error per solver.
CLAIMS = sources.SPIRAL  # the Review's numbers, kept in reproduce.sources

_STANDARD = {
    "solvers": ["euler", "rk4", "dopri5"],
    "adjoint": [False, True],
    "seeds": [0, 1, 2, 3, 4],
    "iterations": 151,
    "batch_size": 16,
    "batch_time": 10,
    "lr": 1e-3,
    "n_points": 500,
    "t_max": 25.0,
    "y0": [2.0, 0.0],
    "A": [[-0.1, 2.0], [-2.0, -0.1]],
    "convention": "Ay",
    "hidden": 50,
    "init_std": 0.1,
    "rtol": 1e-7,
    "atol": 1e-9,
    "snapshots": [0, 50, 100, 150],
    "threads": 1,
    "device": None,
}
CONFIGS = {
    "fast": {**_STANDARD, "seeds": [0, 1], "iterations": 21, "snapshots": [0, 10, 20]},
    "standard": _STANDARD,
    "full": {**_STANDARD, "seeds": list(range(10))},
}


def run_name(solver: str, adjoint: bool) -> str:
    """``"rk4"`` or ``"rk4+adjoint"``."""
    return solver + ("+adjoint" if adjoint else "")


def train_one(
    solver: str,
    adjoint: bool,
    seed: int,
    t: torch.Tensor,
    y: torch.Tensor,
    config: dict[str, Any],
    keep_trajectories: bool = False,
) -> dict[str, Any]:
    """Train the dynamics once; return the training time (training only), the loss and NFE
    of every iteration, the full-trajectory MSE at each snapshot and after the last
    iteration (``final_mse``, with the training solver; ``final_mse_accurate``, re-solved with
    Dopri5), the mean squared error of the learned field on the true trajectory's points
    (``field_mse``), the weights after the last iteration and at each snapshot, and
    (``keep_trajectories``) the learned trajectories at the snapshots.

    The snapshot of iteration k (keyed ``str(k)``, as JSON keys are strings) is taken after
    that iteration's RMSprop step, as the source's ``range(151)`` loop plotted; iteration 0
    is one step in."""
    device = y.device
    seed_everything(seed)
    func = CountNFE(models.spiral_dynamics(config["hidden"], config["init_std"])).to(device)
    optimizer = torch.optim.RMSprop(func.parameters(), lr=config["lr"])
    solve = torchdiffeq.odeint_adjoint if adjoint else torchdiffeq.odeint
    tol = {"method": solver, "rtol": config["rtol"], "atol": config["atol"]}
    windows = torch.Generator().manual_seed(seed)
    batch_t = t[: config["batch_time"]]
    offsets = torch.arange(config["batch_time"])

    def trajectory(**method: Any) -> torch.Tensor:
        with torch.no_grad():
            return torchdiffeq.odeint(func, y[0], t, **{**tol, **method})

    losses, nfe_forward, nfe_backward, snapshots = [], [], [], {}
    seconds = 0.0
    for iteration in range(config["iterations"]):
        start = torch.randint(0, len(t) - config["batch_time"], (config["batch_size"],),
                              generator=windows)
        batch_y = y[start[None, :] + offsets[:, None]]  # (batch_time, batch_size, 2)
        _, elapsed = timed(_step, func, solve, optimizer, batch_y, batch_t, tol, losses,
                           nfe_forward, nfe_backward, device=device)
        seconds += elapsed
        if iteration in config["snapshots"]:  # outside the timed span
            learned = trajectory()
            func.reset()
            snapshots[str(iteration)] = {"mse": (learned - y).pow(2).mean().item(),
                                         "weights": weights_of(func)}
            if keep_trajectories:
                snapshots[str(iteration)]["trajectory"] = _rounded(learned)
    learned = trajectory()
    accurate = trajectory(method="dopri5")  # the same learned ODE, solved accurately
    with torch.no_grad():
        field_mse = (func(t[0], y) - true_field(y, config)).pow(2).mean().item()
    func.reset()
    return {
        "solver": solver,
        "adjoint": adjoint,
        "seed": seed,
        "train_seconds": seconds,
        "final_mse": (learned - y).pow(2).mean().item(),
        "final_mse_accurate": (accurate - y).pow(2).mean().item(),
        "field_mse": field_mse,
        "weights": weights_of(func),
        "loss": losses,
        "nfe_forward": nfe_forward,
        "nfe_backward": nfe_backward,
        "snapshots": snapshots,
    }


def true_field(y: torch.Tensor, config: dict[str, Any]) -> torch.Tensor:
    """The true dynamics at the states ``y`` (one per row) under the configuration's
    convention: ``A y`` as written, ``y A`` as the source's code computed it (07)."""
    return data.spiral_field(y, config["A"], config["convention"])


def weights_of(model: torch.nn.Module) -> list[float]:
    """A model's parameters as one flat list, each float32 written by its shortest decimal
    (07): :func:`model_from` rebuilds the model exactly."""
    flat = torch.nn.utils.parameters_to_vector(model.parameters()).detach().cpu()
    return [float(str(v)) for v in flat.numpy()]


def model_from(weights: list[float], config: dict[str, Any]) -> torch.nn.Module:
    """The dynamics network of the configuration with the given weights (a run's
    ``"weights"`` or a snapshot's), on the CPU (07_spiral_dynamics)."""
    model = models.spiral_dynamics(config["hidden"], config["init_std"])
    torch.nn.utils.vector_to_parameters(torch.tensor(weights, dtype=torch.float32),
                                        model.parameters())
    return model


def _rounded(x: torch.Tensor) -> np.ndarray:
    """Five decimals for the JSON (float64 first: a float32's decimal repr is long)."""
    return x.detach().cpu().double().numpy().round(5)


def _step(func, solve, optimizer, batch_y, batch_t, tol, losses, nfe_forward, nfe_backward):
    """One iteration: solve every window from its first point, MSE, backward, RMSprop."""
    optimizer.zero_grad()
    func.reset()
    prediction = solve(func, batch_y[0], batch_t, **tol)
    loss = (prediction - batch_y).pow(2).mean()
    nfe_forward.append(func.reset())
    loss.backward()
    nfe_backward.append(func.reset())
    optimizer.step()
    losses.append(loss.item())


def compare(runs: list[dict[str, Any]]) -> dict[str, Any]:
    """Mean ± standard deviation over seeds of time and final MSE per configuration, and for
    every pair of solvers (same adjoint setting, same seeds) the paired t-test on the final
    MSE: is the difference between two solvers larger than the seed-to-seed noise?

    Each pair also has the mean difference relative to the larger mean error (a difference
    at round-off level makes a t-test meaningless), the seeds where ``a`` was strictly
    better, and the ties."""
    from scipy import stats

    groups: dict[str, list[dict[str, Any]]] = {}
    for r in runs:
        groups.setdefault(run_name(r["solver"], r["adjoint"]), []).append(r)
    summary = {
        name: {
            "solver": rs[0]["solver"],
            "adjoint": rs[0]["adjoint"],
            "seeds": [r["seed"] for r in rs],
            "train_seconds": common.spread([r["train_seconds"] for r in rs]),
            "final_mse": common.spread([r["final_mse"] for r in rs]),
            **({"final_mse_accurate": common.spread([r["final_mse_accurate"] for r in rs]),
                "field_mse": common.spread([r["field_mse"] for r in rs])}
               if all("field_mse" in r for r in rs) else {}),
            "nfe_forward_mean": float(np.mean([np.mean(r["nfe_forward"]) for r in rs])),
            "nfe_backward_mean": float(np.mean([np.mean(r["nfe_backward"]) for r in rs])),
        }
        for name, rs in groups.items()
    }
    pairs = []
    for adjoint in sorted({r["adjoint"] for r in runs}):
        solvers = [s["solver"] for s in summary.values() if s["adjoint"] == adjoint]
        for a, b in itertools.combinations(solvers, 2):
            mse_a = {r["seed"]: r["final_mse"] for r in groups[run_name(a, adjoint)]}
            mse_b = {r["seed"]: r["final_mse"] for r in groups[run_name(b, adjoint)]}
            seeds = sorted(set(mse_a) & set(mse_b))
            diff = np.array([mse_a[s] - mse_b[s] for s in seeds])
            p_value = None
            if len(seeds) > 1 and np.ptp(diff) > 0:
                p_value = float(stats.ttest_rel([mse_a[s] for s in seeds],
                                                [mse_b[s] for s in seeds]).pvalue)
            pairs.append({
                "a": a, "b": b, "adjoint": adjoint, "seeds": len(seeds),
                "mean_difference": float(diff.mean()),
                "std_difference": float(diff.std(ddof=1)) if len(diff) > 1 else None,
                "p_value": p_value,
                "relative_difference": float(abs(diff.mean()) / max(
                    np.mean([mse_a[s] for s in seeds]), np.mean([mse_b[s] for s in seeds]))),
                "a_better_in": int((diff < 0).sum()),
                "ties": int((diff == 0).sum()),
            })
    return {"summary": summary, "pairs": pairs}


def run(**overrides: Any) -> dict[str, Any]:
    """Train every solver, with and without the adjoint, for every seed of the configuration
    (``CONFIGS[mode]`` updated with ``overrides``); return the JSON-serialisable result."""
    config = common.resolve(CONFIGS, overrides)
    device = torch.device(config["device"] or get_settings().device)
    start = time.perf_counter()
    with common.threads(config["threads"]):
        result = common.new_result(NAME, config, device)
        t, y = data.spiral_data(config["n_points"], config["t_max"], config["y0"], config["A"],
                                config["convention"])
        t, y = t.to(device), y.to(device)
        runs = [
            train_one(solver, adjoint, seed, t, y, config,
                      keep_trajectories=seed == config["seeds"][0])
            for adjoint in config["adjoint"]
            for solver in config["solvers"]
            for seed in config["seeds"]
        ]
        result["truth"] = {"t": _rounded(t), "y": _rounded(y)}
        result["runs"] = runs
        result.update(compare(runs))
        return common.finish(result, start)


def summary(result: dict[str, Any]) -> str:
    """One line per configuration: time and final MSE, mean ± std over the seeds."""
    seeds = len(result["config"]["seeds"])
    lines = [f"Spiral, {result['mode']} mode, {seeds} seeds, {result['hardware']['summary']}"]
    for name, s in result["summary"].items():
        lines.append(
            f"  {name:15s} train {s['train_seconds']['mean']:6.2f} ± "
            f"{s['train_seconds']['std'] or 0:.2f} s, final MSE {s['final_mse']['mean']:.4f} ± "
            f"{s['final_mse']['std'] or 0:.4f}, NFE {s['nfe_forward_mean']:.0f} forward + "
            f"{s['nfe_backward_mean']:.0f} backward"
        )
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(common.main(NAME, run, summary))
