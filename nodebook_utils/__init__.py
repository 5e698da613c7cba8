"""nodebook_utils: the small, tested helper package behind the NODEbook notebooks.

Every notebook starts with ``cfg = nodebook_utils.setup()`` (00_start_here).
"""

from __future__ import annotations

import os
import platform
import random

import numpy as np
import torch

from .config import Settings, get_settings, short_path
from .plotting import use_style

__version__ = "0.1.0"
__all__ = ["Settings", "get_settings", "seed_everything", "setup", "__version__"]


def seed_everything(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (CPU and every GPU) (00_start_here).

    Seeds alone make a CPU run repeatable. On a GPU some kernels (cuDNN's fastest
    convolutions, atomic additions in scatter and index operations) may still differ from
    run to run; ``deterministic=True`` asks PyTorch for deterministic algorithms only (an
    error where an operation has none) and turns off cuDNN's benchmark mode, for exact GPU
    reruns at some cost in speed.
    """
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
    if torch.cuda.is_available():
        torch.cuda.manual_seed_all(seed)
    if deterministic:
        # cuBLAS needs a fixed workspace for deterministic results (set before CUDA starts).
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True)
        torch.backends.cudnn.benchmark = False
        torch.backends.cudnn.deterministic = True


def setup(threads: int | None = None, *, quiet: bool = False) -> Settings:
    """Read the settings, seed everything, apply the plotting style, print one line, and
    return the settings.

    ``threads`` sets ``torch.set_num_threads`` (two help convolution networks on a 2-core
    machine; one is faster for tiny MLPs such as the spiral). Introduced in 00_start_here.
    """
    cfg = get_settings()
    seed_everything(cfg.seed)
    use_style()
    if threads is not None:
        torch.set_num_threads(threads)
    if not quiet:
        try:
            import torchdiffeq

            tde = torchdiffeq.__version__
        except ImportError:  # pragma: no cover - a hard dependency, but say so plainly
            tde = "missing"
        print(
            f"nodebook_utils {__version__} | Python {platform.python_version()} | "
            f"torch {torch.__version__} | torchdiffeq {tde} | device {cfg.device} | "
            f"threads {torch.get_num_threads()} | mode {cfg.mode} | seed {cfg.seed} | "
            f"data {short_path(cfg.data_dir)}"
            + (" | mirror set" if cfg.mirror else "")
            + (" | offline" if cfg.offline else "")
        )
    return cfg
