"""The MIT-BIH heartbeats, rebuilt from PhysioNet's records as Kaggle's set
(09_ecg_resnet_vs_node)."""

from __future__ import annotations

import hashlib
import inspect
import json
import os
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch
from tqdm.auto import tqdm

from ..config import get_settings
from .store import (
    KAGGLE_FILES,
    MITDB_SUMS,
    MITDB_URL,
    DataFile,
    DataUnavailableError,
    _require_present,
    _temporary_name,
    _writable_folder,
    fetch_file,
    fetch_files,
)

MITDB_RECORDS = tuple(
    "100 101 102 103 104 105 106 107 108 109 111 112 113 114 115 116 117 118 119 121 122 123 "
    "124 200 201 202 203 205 207 208 209 210 212 213 214 215 217 219 220 221 222 223 228 230 "
    "231 232 233 234".split()
)
# de Chazal, O'Dwyer & Reilly (2004): DS1 trains, DS2 tests; the paced records 102, 104, 107
# and 217 are in neither.
DS1 = tuple(
    "101 106 108 109 112 114 115 116 118 119 122 124 201 203 205 207 208 209 215 220 223 "
    "230".split()
)
DS2 = tuple(
    "100 103 105 111 113 117 121 123 200 202 210 212 213 214 219 221 222 228 231 232 233 "
    "234".split()
)
# Fast mode: 208 (N, S, V, F and Q), 217 (paced: Q), 232 (mostly S).
FAST_RECORDS = ("208", "217", "232")
AAMI_CLASSES = ("N", "S", "V", "F", "Q")
AAMI_MAP = {
    **dict.fromkeys("NLRej", 0),
    **dict.fromkeys("AaJS", 1),
    **dict.fromkeys("VE", 2),
    "F": 3,
    **dict.fromkeys("/fQ", 4),
}
KAGGLE_TEST = (18_118, 556, 1_448, 162, 1_608)
KAGGLE_TOTAL = (90_589, 2_779, 7_236, 803, 8_039)
FS_RECORD, FS_BEATS = 360, 125  # Hz
WINDOW = 10 * FS_BEATS  # 10 s windows, each min-max normalised
BEAT_LENGTH = 187
PERIOD_FACTOR = 1.2  # a beat is 1.2 median R-R intervals long, from its R-peak
LAST_BEAT = "last beat of the record (not in Kaggle's set)"


@dataclass(frozen=True)
class RecordStats:
    """What the builder did with one record: the lead it used, AAMI-mapped beat annotations
    and beats kept per class (N, S, V, F, Q), and the beats it could not cut, with why."""

    record: str
    lead: str
    annotated: tuple[int, ...]
    kept: tuple[int, ...]
    dropped: tuple[tuple[int, str, str], ...]  # (sample at 360 Hz, symbol, reason)

    @classmethod
    def from_json(cls, saved: dict) -> RecordStats:
        """Rebuild the tuples that JSON turned into lists."""
        return cls(
            saved["record"],
            saved["lead"],
            tuple(saved["annotated"]),
            tuple(saved["kept"]),
            tuple(tuple(beat) for beat in saved["dropped"]),
        )


@dataclass(frozen=True)
class HeartbeatSet:
    """Beats float32 [N, 187] in [0, 1], labels int64 [N], record of each beat, and stats."""

    beats: np.ndarray
    labels: np.ndarray
    records: np.ndarray
    stats: dict[str, RecordStats]


def _mitdb_file(name: str, sums: dict[str, str] | None) -> DataFile:
    return DataFile("mitdb", name, (MITDB_URL + name,), sha256=sums[name] if sums else None)


def _read_sums(path: Path) -> dict[str, str]:
    lines = path.read_text(encoding="utf-8").splitlines()
    pairs = (line.split(maxsplit=1) for line in lines if line.strip())
    return {name.strip(): digest for digest, name in pairs}


def fetch_mitdb(records: Sequence[str] = MITDB_RECORDS) -> Path:
    """The cache folder holding verified ``.hea``, ``.dat`` and ``.atr`` files of ``records``,
    each checked against PhysioNet's SHA256SUMS.txt (09_ecg_resnet_vs_node)."""
    unknown = sorted(set(records) - set(MITDB_RECORDS))
    if unknown:
        raise ValueError(f"not MIT-BIH records: {', '.join(unknown)}; see MITDB_RECORDS")
    names = [f"{record}.{ext}" for record in records for ext in ("hea", "dat", "atr")]
    _require_present([MITDB_SUMS, *(_mitdb_file(name, None) for name in names)])
    sums = _read_sums(fetch_file(MITDB_SUMS))
    fetch_files([_mitdb_file(name, sums) for name in names])
    return get_settings().data_dir / "mitdb"


def _normalise_windows(x: np.ndarray) -> np.ndarray:
    """Min-max normalise each 10 s window (the last, shorter one too) to [0, 1]."""
    padded = np.pad(x, (0, -len(x) % WINDOW), mode="edge").reshape(-1, WINDOW)
    low, high = padded.min(axis=1, keepdims=True), padded.max(axis=1, keepdims=True)
    return ((padded - low) / np.where(high > low, high - low, 1.0)).ravel()[: len(x)]


def _window_periods(peaks: np.ndarray) -> np.ndarray:
    """For each beat, the median R-R interval of the beats in its 10 s window (samples);
    the record's median where a window holds a single beat (e.g. ventricular flutter)."""
    windows = peaks // WINDOW
    fallback = np.median(np.diff(peaks)) if len(peaks) > 1 else 0.0
    starts = np.flatnonzero(np.diff(windows, prepend=-1))
    groups = np.split(peaks, starts[1:])
    medians = [np.median(np.diff(group)) if len(group) > 1 else fallback for group in groups]
    return np.repeat(medians, np.diff(np.append(starts, len(peaks))))


def cut_beats(
    signal: np.ndarray, samples: np.ndarray, symbols: Sequence[str]
) -> tuple[np.ndarray, np.ndarray, list[tuple[int, str, str]]]:
    """Kachuee et al. (2018) on one lead at 360 Hz with its reference annotations
    (09_ecg_resnet_vs_node).

    Resample to 125 Hz (polyphase, 25/72), normalise each 10 s window to [0, 1], and for
    every annotation in the AAMI map take 1.2 × its window's median R-R interval of signal
    from its R-peak (running on into the next window if needed, and cut short at the end of
    the record), zero-padded to 187 samples. Non-beat annotations are skipped. The last beat
    of the record is dropped: Kaggle's set has exactly one beat per record fewer than the
    annotations, and dropping the last one reproduces its per-class counts exactly. Returns
    beats float32 [N, 187], labels int64 [N] and the dropped beats as (sample, symbol, reason).
    """
    from scipy.signal import resample_poly

    x = _normalise_windows(resample_poly(np.asarray(signal, dtype=np.float64), 25, 72))
    keep = [i for i, symbol in enumerate(symbols) if symbol in AAMI_MAP]
    samples, symbols = np.asarray(samples)[keep], [symbols[i] for i in keep]
    peaks = np.minimum(np.rint(samples * FS_BEATS / FS_RECORD).astype(np.int64), len(x) - 1)
    lengths = np.minimum(np.rint(PERIOD_FACTOR * _window_periods(peaks)), BEAT_LENGTH)
    cut = slice(0, max(len(peaks) - 1, 0))  # every beat but the last
    offsets = np.arange(BEAT_LENGTH)
    index = peaks[cut, None] + offsets
    inside = (offsets < lengths[cut, None]) & (index < len(x))
    beats = np.where(inside, x[np.minimum(index, len(x) - 1)], 0.0).astype(np.float32)
    labels = np.array([AAMI_MAP[s] for s in symbols[cut]], dtype=np.int64)
    dropped = [(int(samples[-1]), symbols[-1], LAST_BEAT)] if symbols else []
    return beats, labels, dropped


def _record_beats(folder: Path, record: str) -> tuple[np.ndarray, np.ndarray, RecordStats]:
    """One record: lead MLII (channel 1 in record 114, channel 0 elsewhere), or the first
    channel, V5, for records 102 and 104, which have no MLII."""
    import wfdb

    with warnings.catch_warnings():  # wfdb 4.3 calls a pandas API that pandas 3 deprecates
        warnings.filterwarnings("ignore", message="The inplace keyword in DataFrame.set_index")
        header = wfdb.rdrecord(str(folder / record), physical=False)
        annotation = wfdb.rdann(str(folder / record), "atr")
    lead = "MLII" if "MLII" in header.sig_name else header.sig_name[0]
    signal = header.d_signal[:, header.sig_name.index(lead)]
    beats, labels, dropped = cut_beats(signal, annotation.sample, annotation.symbol)
    mapped = [AAMI_MAP[s] for s in annotation.symbol if s in AAMI_MAP]
    stats = RecordStats(
        record,
        lead,
        annotated=tuple(int(n) for n in np.bincount(mapped, minlength=5)),
        kept=tuple(int(n) for n in np.bincount(labels, minlength=5)),
        dropped=tuple(dropped),
    )
    return beats, labels, stats


def build_heartbeats(records: Sequence[str] = MITDB_RECORDS, progress: bool = True) -> HeartbeatSet:
    """Rebuild the Kaggle heartbeat set from MIT-BIH records with wfdb, uncached
    (09_ecg_resnet_vs_node); see :func:`cut_beats` for the method."""
    folder = fetch_mitdb(records)
    parts = [
        _record_beats(folder, record)
        for record in tqdm(records, desc="Cutting heartbeats", unit="record", disable=not progress)
    ]
    return HeartbeatSet(
        beats=np.concatenate([beats for beats, _, _ in parts]),
        labels=np.concatenate([labels for _, labels, _ in parts]),
        records=np.concatenate([np.full(len(labels), s.record) for _, labels, s in parts]),
        stats={stats.record: stats for _, _, stats in parts},
    )


def _build_key(records: Sequence[str]) -> str:
    """Hash of the build parameters, of the builder's own source code and of the versions of
    the libraries that read and resample the records (another version rebuilds the cache)."""
    import scipy
    import wfdb

    code = "".join(
        inspect.getsource(f)
        for f in (_normalise_windows, _window_periods, cut_beats, _record_beats)
    )
    params = [list(records), FS_RECORD, FS_BEATS, WINDOW, BEAT_LENGTH, PERIOD_FACTOR, AAMI_MAP,
              {"wfdb": wfdb.__version__, "scipy": scipy.__version__, "numpy": np.__version__}]
    return hashlib.sha256((json.dumps(params) + code).encode()).hexdigest()[:16]


def _default_records() -> tuple[str, ...]:
    return FAST_RECORDS if get_settings().mode == "fast" else MITDB_RECORDS


def _build_path(records: Sequence[str]) -> Path:
    return get_settings().data_dir / "heartbeats" / f"physionet-{_build_key(records)}.npz"


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    """Write to a unique temporary file beside ``path``, then rename it into place."""
    _writable_folder(path.parent)
    temporary = _temporary_name(path).with_suffix(".npz")
    try:
        np.savez(temporary, **arrays)
        os.replace(temporary, path)
    finally:
        temporary.unlink(missing_ok=True)


def load_heartbeat_set(records: Sequence[str] | None = None, progress: bool = True) -> HeartbeatSet:
    """:func:`build_heartbeats`, cached under ``<data>/heartbeats`` (09_ecg_resnet_vs_node).

    ``records=None`` means all 48 records, or :data:`FAST_RECORDS` in fast mode.
    """
    records = tuple(records or _default_records())
    path = _build_path(records)
    if path.exists():
        with np.load(path) as saved:
            stats = {
                r: RecordStats.from_json(s) for r, s in json.loads(str(saved["stats"])).items()
            }
            return HeartbeatSet(saved["beats"], saved["labels"], saved["records"], stats)
    built = build_heartbeats(records, progress)
    stats_json = json.dumps({r: asdict(s) for r, s in built.stats.items()})
    _save_npz(
        path,
        beats=built.beats,
        labels=built.labels,
        records=built.records,
        stats=np.array(stats_json),
    )
    return built


def kaggle_split(labels: np.ndarray, seed: int = 0) -> dict[str, np.ndarray]:
    """Kaggle's intra-patient protocol: a seeded, stratified random 80/20 split whose test
    share of each class is Kaggle's, so 48 complete records give exactly its 87,554/21,892
    beats. Returns sorted "train" and "test" indices (09_ecg_resnet_vs_node)."""
    rng = np.random.default_rng(seed)
    test = []
    for c in range(len(AAMI_CLASSES)):
        members = np.flatnonzero(labels == c)
        test.append(
            rng.permutation(members)[: round(len(members) * KAGGLE_TEST[c] / KAGGLE_TOTAL[c])]
        )
    test_idx = np.sort(np.concatenate(test))
    return {"train": np.setdiff1d(np.arange(len(labels)), test_idx), "test": test_idx}


def holdout_split(
    labels: np.ndarray, fraction: float = 0.1, seed: int = 0
) -> dict[str, np.ndarray]:
    """A seeded, stratified validation split of a training set: ``fraction`` of each class
    (at least one beat of every class that has two or more) goes to "val", the rest to
    "train"; sorted indices (09_ecg_resnet_vs_node). The test set is never touched."""
    if not 0.0 < fraction < 1.0:
        raise ValueError(f"fraction={fraction}; choose a number between 0 and 1")
    rng = np.random.default_rng(seed)
    val = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        take = max(round(len(members) * fraction), 1) if len(members) > 1 else 0
        val.append(rng.permutation(members)[:take])
    val_idx = np.sort(np.concatenate(val)) if val else np.zeros(0, dtype=np.int64)
    return {"train": np.setdiff1d(np.arange(len(labels)), val_idx), "val": val_idx}


def read_kaggle_csv(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Parse a Kaggle ``mitbih_*.csv``: 187 values and a label per row (09_ecg_resnet_vs_node)."""
    table = np.loadtxt(path, delimiter=",", dtype=np.float64, ndmin=2)
    labels = table[:, -1]
    if table.shape[1] != BEAT_LENGTH + 1 or not np.isin(labels, range(5)).all():
        raise ValueError(f"{Path(path).name}: expected 188 columns and labels 0-4 in the last")
    return table[:, :-1].astype(np.float32), labels.astype(np.int64)


def _kaggle_heartbeats(split: str) -> tuple[np.ndarray, np.ndarray]:
    file = KAGGLE_FILES[split]
    cache = get_settings().data_dir / "heartbeats" / f"kaggle-{split}-{file.sha256[:16]}.npz"
    if not cache.exists():
        try:
            path = fetch_file(file)
        except DataUnavailableError as exc:
            raise DataUnavailableError(
                f"{exc}\nKaggle needs an account; source='physionet' rebuilds the same beats "
                "from PhysioNet without one."
            ) from None
        beats, labels = read_kaggle_csv(path)
        _save_npz(cache, beats=beats, labels=labels)
    with np.load(cache) as saved:
        return saved["beats"], saved["labels"]


def load_heartbeats(
    split: str = "train",
    source: str = "physionet",
    protocol: str = "kaggle",
    records: Sequence[str] | None = None,
    seed: int = 0,
) -> tuple[torch.Tensor, torch.Tensor]:
    """MIT-BIH heartbeats: beats float32 [N, 187] in [0, 1], labels int64 [N] in 0..4 for
    AAMI classes N, S, V, F, Q (09_ecg_resnet_vs_node).

    ``source="physionet"`` rebuilds Kachuee et al. (2018) from the MIT-BIH Arrhythmia
    Database (:func:`cut_beats`, cached); ``records`` restricts it (default: all 48, or
    :data:`FAST_RECORDS` in fast mode). ``protocol="kaggle"`` is Kaggle's random 80/20 split,
    seeded by ``seed`` (:func:`kaggle_split`): intra-patient, the same patients on both
    sides, which flatters accuracy. ``protocol="inter-patient"`` trains on de Chazal's DS1
    records and tests on DS2 (paced records excluded): new patients at test time.
    ``source="kaggle"`` reads your own ``mitbih_train.csv`` / ``mitbih_test.csv`` from the
    data folder, checked against Kaggle's size and sha256 (only with ``protocol="kaggle"``).
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}; choose 'train' or 'test'")
    if protocol not in ("kaggle", "inter-patient"):
        raise ValueError(f"protocol={protocol!r}; choose 'kaggle' or 'inter-patient'")
    if source == "kaggle":
        if protocol != "kaggle" or records is not None:
            raise ValueError("the Kaggle CSVs hold no record numbers: use protocol='kaggle'")
        beats, labels = _kaggle_heartbeats(split)
        return torch.from_numpy(beats), torch.from_numpy(labels)
    if source != "physionet":
        raise ValueError(f"source={source!r}; choose 'physionet' or 'kaggle'")
    dataset = load_heartbeat_set(records)
    if protocol == "kaggle":
        index = kaggle_split(dataset.labels, seed)[split]
    else:
        index = np.flatnonzero(np.isin(dataset.records, DS1 if split == "train" else DS2))
        if len(index) == 0:
            raise ValueError(f"none of the records {sorted(dataset.stats)} is in the {split} set")
    return torch.from_numpy(dataset.beats[index]), torch.from_numpy(dataset.labels[index])
