"""What every experiment shares (07_spiral_dynamics onwards): its configuration per mode, the
description of the machine, JSON results and the command line.

An experiment is a module with ``NAME``, ``CONFIGS`` (one dict per mode) and
``run(**config) -> dict``. :func:`resolve` fills in the current mode's configuration and
refuses unknown keys; :func:`new_result` starts the result with everything needed to judge
it later (configuration, versions, hardware, device, start time, load); :func:`finish`
stamps the end. :func:`main` is the command line
``python -m nodebook_utils.experiments.<name> --mode fast|standard|full --out DIR``.
"""

from __future__ import annotations

import argparse
import dataclasses
import inspect
import json
import math
import os
import platform
import re
import time
from collections.abc import Callable, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import torch

from ..config import MODES, get_settings, short_path

__all__ = [
    "default_config",
    "environment",
    "finish",
    "hardware",
    "jsonable",
    "load_result",
    "main",
    "new_result",
    "now",
    "resolve",
    "save_result",
    "seed_runs",
    "spread",
    "summarise",
    "threads",
]


def default_config(configs: Mapping[str, Mapping[str, Any]], mode: str | None = None) -> dict:
    """A deep copy of the configuration for ``mode`` (default: the settings' mode, picked
    with ``cfg.pick``)."""
    cfg = get_settings()
    if mode is not None:
        if mode not in MODES:
            raise ValueError(f"mode={mode!r}; choose one of {', '.join(MODES)}")
        cfg = dataclasses.replace(cfg, mode=mode)
    chosen = cfg.pick(fast=configs["fast"], standard=configs["standard"], full=configs["full"])
    return {"mode": cfg.mode, **json.loads(json.dumps(chosen))}


def resolve(configs: Mapping[str, Mapping[str, Any]], overrides: Mapping[str, Any]) -> dict:
    """The configuration of one run: the mode's defaults (``mode=`` in ``overrides`` picks
    another mode) updated with ``overrides``; an unknown key raises ``TypeError``."""
    overrides = dict(overrides)
    config = default_config(configs, overrides.pop("mode", None))
    unknown = sorted(set(overrides) - set(config))
    if unknown:
        raise TypeError(f"unknown configuration keys {unknown}; known: {sorted(config)}")
    config.update(overrides)
    return config


def environment() -> dict[str, str]:
    """Versions of Python and of the libraries an experiment's numbers depend on."""
    import torchdiffeq

    from .. import __version__

    return {
        "python": platform.python_version(),
        "torch": torch.__version__,
        "torchdiffeq": torchdiffeq.__version__,
        "numpy": np.__version__,
        "nodebook_utils": __version__,
        "commit": _commit(),
    }


def _commit() -> str | None:
    """The course repository's commit, with ``+changes`` when the work tree differs from it,
    or None outside a git checkout."""
    import subprocess

    root = Path(__file__).resolve().parents[2]
    try:
        head = subprocess.run(["git", "rev-parse", "--short=12", "HEAD"], cwd=root,
                              capture_output=True, text=True, timeout=10, check=True)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                               cwd=root, capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return head.stdout.strip() + ("+changes" if dirty.stdout.strip() else "")


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text(encoding="utf-8").splitlines():
            if line.lower().startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def hardware(device: torch.device | str | None = None) -> dict[str, Any]:
    """The machine in words and numbers: CPU model, logical cores, torch's threads, the
    device, the GPU's name and memory when the device is a GPU."""
    device = torch.device(device) if device is not None else get_settings().device
    info: dict[str, Any] = {
        "cpu": _cpu_model(),
        "cores": os.cpu_count(),
        "threads": torch.get_num_threads(),
        "system": f"{platform.system()} {platform.machine()}",
        "device": str(device),
    }
    if device.type == "cuda":
        props = torch.cuda.get_device_properties(device)
        info["gpu"] = props.name
        info["gpu_memory_gb"] = round(props.total_memory / 2**30, 1)
    info["summary"] = (
        f"{info.get('gpu', info['cpu'])}, {info['cores']} logical CPU cores, "
        f"{info['threads']} torch threads, device {device}"
    )
    return info


def now() -> str:
    """The time now, UTC, to the second (ISO 8601)."""
    return datetime.now(UTC).isoformat(timespec="seconds")


def _load() -> list[float] | None:
    """The 1-minute load average and its companions, or None where unavailable."""
    try:
        return [round(x, 2) for x in os.getloadavg()]
    except OSError:
        return None


def new_result(name: str, config: Mapping[str, Any], device: torch.device) -> dict[str, Any]:
    """The start of a result: experiment name, mode, full configuration, versions, hardware,
    device, start time and load average (so that a busy machine is visible)."""
    return {
        "experiment": name,
        "mode": config["mode"],
        "config": dict(config),
        "environment": environment(),
        "hardware": hardware(device),
        "device": str(device),
        "started": now(),
        "load_average_start": _load(),
    }


def finish(result: dict[str, Any], start: float) -> dict[str, Any]:
    """Stamp the wall time since ``start`` (``time.perf_counter()``) and the load average,
    and make the result JSON-serialisable."""
    result["wall_seconds"] = time.perf_counter() - start
    result["load_average_end"] = _load()
    return jsonable(result)


@contextmanager
def threads(n: int | None):
    """Run the ``with`` block with ``torch.set_num_threads(n)`` (``None``: unchanged)."""
    before = torch.get_num_threads()
    if n:
        torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def spread(values: Sequence[float]) -> dict[str, Any]:
    """A metric over seeds: mean, sample standard deviation (None for one value: no spread
    was measured), median, min, max, n and the values themselves, in seed order."""
    array = np.asarray(values, dtype=float)
    if array.size == 0:
        raise ValueError("no values")
    return {
        "mean": float(array.mean()),
        "std": float(array.std(ddof=1)) if array.size > 1 else None,
        "median": float(np.median(array)),
        "min": float(array.min()),
        "max": float(array.max()),
        "n": int(array.size),
        "values": [float(v) for v in array],
    }


def seed_runs(entry: Mapping[str, Any] | None, seeds: Sequence[int]) -> list[dict[str, Any]]:
    """A model's runs, one per seed in ``seeds`` that it has, in that order: ``entry`` is
    ``{"seeds": {"0": run, ...}, ...}`` as the experiments store it ([] for None)."""
    done = (entry or {}).get("seeds", {})
    return [done[str(s)] for s in seeds if str(s) in done]


def _get(run: Mapping[str, Any], key: str) -> Any:
    value: Any = run
    for part in key.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


def summarise(runs: Sequence[Mapping[str, Any]], keys: Sequence[str]) -> dict[str, Any]:
    """:func:`spread` over the runs (one per seed) of every key (dotted for nested values:
    ``"test.accuracy"``) that every run has a number for."""
    out = {}
    for key in keys:
        values = [_get(r, key) for r in runs]
        if values and all(isinstance(v, (int, float)) for v in values):
            out[key] = spread(values)
    return out


def jsonable(value: Any) -> Any:
    """``value`` with tensors, arrays, tuples, paths and numpy scalars turned into plain JSON
    values; NaN and infinities become ``None`` (JSON has no NaN)."""
    if isinstance(value, torch.Tensor):
        value = value.detach().cpu().tolist()
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Path):
        return short_path(value)
    return value


def result_name(result: Mapping[str, Any]) -> str:
    """The file name of a result: ``<experiment>-<mode>.json``."""
    return f"{result['experiment']}-{result['mode']}.json"


_NUMBER_LIST = re.compile(r"\[(\s*-?[\d.eE+-]+(?:,\s*-?[\d.eE+-]+)*\s*)\]")


def save_result(result: Mapping[str, Any], out: str | Path) -> Path:
    """Write ``result`` as ``<out>/<experiment>-<mode>.json`` and return the path: indented
    JSON, with each list of numbers on one line (a loss curve is one line, not a thousand)."""
    path = Path(out) / result_name(result)
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(jsonable(result), indent=1)
    text = _NUMBER_LIST.sub(lambda m: "[" + " ".join(m.group(1).split()) + "]", text)
    path.write_text(text + "\n", encoding="utf-8")
    return path


def load_result(path: str | Path) -> dict[str, Any]:
    """Read a result written by :func:`save_result`; it must name its experiment and mode."""
    result = json.loads(Path(path).read_text(encoding="utf-8"))
    if not isinstance(result, dict) or not {"experiment", "mode", "config"} <= set(result):
        raise ValueError(f"{Path(path).name} is not an experiment result of this course")
    return result


def partial_path(out: str | Path, name: str, mode: str) -> Path:
    """Where a long run keeps its partial result: ``<out>/<name>-<mode>.partial.json``."""
    return Path(out) / f"{name}-{mode}.partial.json"


def load_partial(path: str | Path | None, config: Mapping[str, Any],
                 extendable: Sequence[str] = ("seeds",)) -> dict[str, Any] | None:
    """The partial result saved at ``path`` by an interrupted run, to resume, or None when
    there is none. Its configuration must equal ``config`` but for the ``extendable`` keys
    (more seeds can be added to a run); otherwise ``ValueError`` (delete the file, or finish
    it with its own configuration), so that results of two configurations are never mixed.
    Each resumption is stamped in ``resumed`` (time, commit, load average)."""
    if path is None or not Path(path).exists():
        return None
    partial = load_result(path)

    def fixed(c: Mapping[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in jsonable(c).items() if k not in extendable}

    if fixed(partial["config"]) != fixed(config):
        raise ValueError(f"{Path(path).name} holds a partial run of another configuration; "
                         "delete it or resume it with that configuration")
    partial["config"] = jsonable(config)
    partial.setdefault("resumed", []).append({
        "at": now(), "commit": _commit(),
        "load_average": _load()})
    return partial


def save_partial(result: Mapping[str, Any], path: str | Path | None) -> None:
    """Write the partial result to ``path`` (no-op for None), atomically."""
    if path is None:
        return
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_suffix(".tmp")
    temporary.write_text(json.dumps(jsonable(result)) + "\n", encoding="utf-8")
    temporary.replace(path)


def main(
    name: str, run: Callable[..., dict], summary: Callable[[dict], str],
    argv: Sequence[str] | None = None,
) -> int:
    """``python -m nodebook_utils.experiments.<name> --mode MODE --out DIR``: run the
    experiment in that mode's configuration, print its summary, write its JSON into DIR."""
    parser = argparse.ArgumentParser(
        prog=f"python -m nodebook_utils.experiments.{name}",
        description=f"Run the {name} experiment and write <out>/{name}-<mode>.json.",
    )
    parser.add_argument("--mode", choices=MODES, default=get_settings().mode)
    parser.add_argument("--out", default="results", help="folder for the JSON (default: results)")
    args = parser.parse_args(argv)
    kwargs: dict[str, Any] = {"mode": args.mode}
    partial = partial_path(args.out, name, args.mode)
    if "partial" in inspect.signature(run).parameters:  # a long run that can resume
        kwargs["partial"] = partial
        print(f"partial results go to {short_path(partial)}; an interrupted run resumes there")
    result = run(**kwargs)
    print(summary(result))
    path = save_result(result, args.out)
    partial.unlink(missing_ok=True)
    print(f"wrote {short_path(path)}")
    return 0
