"""Install the course on Google Colab (00_start_here).

Every notebook's first cell runs this file, on Colab only, from the repository it has just
cloned at the course's pinned tag, *before* ``nodebook_utils`` can be imported; so it uses the
standard library alone. It installs the package from the clone as a regular (not editable)
install: an editable install is found only by a new interpreter, a regular one by the running
kernel, so no restart is needed. The packages Colab already has (torch above all) are pinned
to their installed versions, so pip adds what Colab lacks (torchdiffeq, pooch, wfdb) and
replaces nothing.

    python nodebook_utils/colab.py /content/nodebook
"""

from __future__ import annotations

import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

#: Packages that Colab provides and that must stay as they are.
KEEP = ("torch", "numpy", "scipy", "pandas", "matplotlib", "ipython", "ipykernel", "tqdm")


def constraints(keep: tuple[str, ...] = KEEP) -> list[str]:
    """``name==version`` for each package of ``keep`` that is installed here."""
    pins = []
    for name in keep:
        try:
            pins.append(f"{name}=={metadata.version(name)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def pip_command(repo: Path, constraints_file: Path) -> list[str]:
    """The pip call that installs the course package from ``repo`` under the constraints."""
    return [sys.executable, "-m", "pip", "install", "-q", "-c", str(constraints_file), str(repo)]


def install(repo: Path) -> None:
    """Install the course package from the clone at ``repo``, keeping the pinned packages."""
    with tempfile.TemporaryDirectory() as folder:
        pins = Path(folder) / "keep.txt"
        pins.write_text("\n".join(constraints()) + "\n", encoding="utf-8")
        subprocess.run(pip_command(repo, pins), check=True)


if __name__ == "__main__":
    install(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).resolve().parents[1])
