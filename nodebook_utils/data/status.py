"""Which datasets are here, verified, and where (00_start_here)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

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


DATASETS = {
    "mnist-test": "MNIST test set, 10,000 images",
    "mnist-train": "MNIST training set, 60,000 images (online only)",
    "mnist-5k": "MNIST training subset, first 500 per digit",
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
    return DatasetStatus(name, DATASETS[name], present == len(files), verified, where, detail)


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


def status_table(rows: Sequence[DatasetStatus] | None = None) -> str:
    """:func:`status` as a text table, for printing (00_start_here)."""
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
    mirror = short_path(cfg.mirror) if cfg.mirror else "none"
    lines.append(f"data folder {short_path(cfg.data_dir)}; mirror {mirror}; offline {cfg.offline}")
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


