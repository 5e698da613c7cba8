"""Course settings, read from environment variables (introduced in 00_start_here).

Every notebook calls :func:`nodebook_utils.setup`, which reads these settings once and prints
them. The variables are:

``NODEBOOK_MODE``
    ``fast`` (tiny data, one epoch: the CI smoke test), ``standard`` (the default: what a
    learner runs on a laptop CPU) or ``full`` (the sources' exact configurations).
``NODEBOOK_DEVICE``
    ``cuda``, ``mps`` or ``cpu`` (with an optional index such as ``cuda:1``). Default: cuda if
    available, else mps, else cpu.
``NODEBOOK_SEED``
    Integer seed for every random number generator (default 0).
``NODEBOOK_DATA``
    The data cache folder (default ``~/.cache/nodebook``).
``NODEBOOK_MIRROR``
    A read-only folder laid out like the cache, consulted before any download.
``NODEBOOK_OFFLINE``
    ``1`` to never touch the network.
"""

from __future__ import annotations

import os
import shlex
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import torch

MODES = ("fast", "standard", "full")
T = TypeVar("T")


@dataclass(frozen=True)
class Settings:
    """The course settings (see the module docstring for the variables behind each field)."""

    mode: str
    device: torch.device
    seed: int
    data_dir: Path
    mirror: Path | None
    offline: bool

    def pick(self, *, fast: T, standard: T, full: T) -> T:
        """The value for the current mode: ``epochs = cfg.pick(fast=1, standard=3, full=5)``."""
        return {"fast": fast, "standard": standard, "full": full}[self.mode]

    @property
    def fast(self) -> bool:
        """True in fast mode (the CI smoke run)."""
        return self.mode == "fast"


def default_device() -> torch.device:
    """cuda if available, else mps, else cpu."""
    if torch.cuda.is_available():
        return torch.device("cuda")
    mps = getattr(torch.backends, "mps", None)
    if mps is not None and mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def _device_from(value: str) -> torch.device:
    try:
        device = torch.device(value)
    except RuntimeError as exc:
        raise ValueError(
            f"NODEBOOK_DEVICE={value!r} is not a device name (use cpu, cuda or mps)"
        ) from exc
    if device.type == "cuda" and not torch.cuda.is_available():
        raise ValueError("NODEBOOK_DEVICE asks for cuda, but torch.cuda.is_available() is False")
    if device.type == "mps":
        mps = getattr(torch.backends, "mps", None)
        if mps is None or not mps.is_available():
            raise ValueError("NODEBOOK_DEVICE asks for mps, but mps is not available")
    return device


def _flag(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def get_settings() -> Settings:
    """Read the settings from the environment (fresh on every call)."""
    env = os.environ
    mode = env.get("NODEBOOK_MODE", "standard").strip().lower() or "standard"
    if mode not in MODES:
        raise ValueError(f"NODEBOOK_MODE={mode!r}; choose one of {', '.join(MODES)}")
    device_name = env.get("NODEBOOK_DEVICE", "").strip()
    device = _device_from(device_name) if device_name else default_device()
    seed_text = env.get("NODEBOOK_SEED", "0").strip() or "0"
    try:
        seed = int(seed_text)
    except ValueError as exc:
        raise ValueError(f"NODEBOOK_SEED={seed_text!r} is not an integer") from exc
    data_dir = Path(env.get("NODEBOOK_DATA") or "~/.cache/nodebook").expanduser()
    mirror_text = env.get("NODEBOOK_MIRROR", "").strip()
    mirror = Path(mirror_text).expanduser() if mirror_text else None
    if mirror is not None and not mirror.is_dir():
        raise ValueError(
            f"NODEBOOK_MIRROR={mirror_text!r} is not a folder: point it at a folder laid out "
            "like the data cache, or unset it"
        )
    return Settings(
        mode=mode,
        device=device,
        seed=seed,
        data_dir=data_dir,
        mirror=mirror,
        offline=_flag(env.get("NODEBOOK_OFFLINE")),
    )


def _checkout() -> Path | None:
    """The course's checkout this package runs from, or None when it is installed elsewhere."""
    root = Path(__file__).resolve().parents[1]
    return root if (root / "pyproject.toml").is_file() and (root / "notebooks").is_dir() else None


def _below(path: Path, base: Path) -> Path | None:
    """``path`` relative to ``base`` (also through resolved links), or None if not below it."""
    for p, b in ((path, base), (path.resolve(), base.resolve())):
        try:
            return p.relative_to(b)
        except ValueError:
            continue
    return None


def _joined(prefix: str, rest: Path) -> str:
    """``prefix/rest`` with ``rest`` quoted for a POSIX shell where it needs it."""
    text = rest.as_posix()
    return prefix if text == "." else f"{prefix}/{shlex.quote(text)}"


def short_path(path: Path | str) -> str:
    """A path for printing in a notebook that can be pasted into a shell and shows no one
    machine's absolute folders (00_start_here):

    - below the home folder: ``~/...``;
    - below the temporary folder: ``$TMPDIR/...`` when the variable ``TMPDIR`` names that
      folder, else, with ``TMPDIR`` unset, ``${TMPDIR:-/tmp}/...`` when it is ``/tmp`` (a
      shell then gives ``/tmp``, as Python's ``tempfile`` did); whichever of home and
      temporary folder is nearer wins, so a home folder inside ``/tmp`` prints as ``~``;
    - inside the course's checkout: relative to the working directory (``../results/...``
      from a notebook, which runs in ``notebooks/``);
    - anything else: the absolute path.

    Parts a shell would split or expand (spaces, ``$``, quotes) are quoted.
    """
    path = Path(path).expanduser().absolute()
    temp = Path(tempfile.gettempdir())
    env_tmp = os.environ.get("TMPDIR", "").strip()
    if env_tmp and Path(env_tmp).expanduser().absolute() == temp:
        temp_label: str | None = "$TMPDIR"
    elif not env_tmp and temp.as_posix() == "/tmp":
        temp_label = "${TMPDIR:-/tmp}"
    else:
        temp_label = None
    bases = [(Path.home(), "~")] + ([(temp, temp_label)] if temp_label else [])
    found = [(rest, label) for base, label in bases if (rest := _below(path, base)) is not None]
    if found:
        rest, label = min(found, key=lambda hit: len(hit[0].parts))  # the nearer base wins
        return _joined(label, rest)
    checkout = _checkout()
    if checkout is not None and _below(path, checkout) is not None:
        return shlex.quote(Path(os.path.relpath(path)).as_posix())
    return shlex.quote(path.as_posix())
