"""Run a lesson as Colab would, on this machine (README, "Launch"): a fresh virtual environment
holds torch and the packages Colab ships, but not torchdiffeq, pooch, wfdb or the course; the
course is cloned from this repository's HEAD to /content/nodebook, where the Colab block
expects it; ``google.colab`` is faked in the kernel; then the notebook runs top to bottom in
one kernel, so its first cell must install the course and everything after it must import
it without a restart. It prints what the install added and fails if it changed a package
Colab already had.

    python tools/simulate_colab.py [notebooks/01_discrete_convolution.ipynb]

Needs write access to /content (the path is fixed by the Colab block), network access to
PyPI, and TORCH_SPEC (default torch==2.13.0, the development machines' local build). A
maintainer's check, not a test: it takes a minute or two and downloads packages.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from nodebook_utils.colab import KEEP
from nodebook_utils.publish import CLONE

ROOT = Path(__file__).resolve().parents[1]

COLAB_HAS = (*KEEP, "ipywidgets", "nbclient", "nbformat")  # nbclient runs the notebook
RUN = r"""
import sys, time, nbformat, nbclient
nb = nbformat.read(sys.argv[1], as_version=4)
fake = nbformat.v4.new_code_cell(
    "import sys, types\nsys.modules['google.colab'] = types.ModuleType('google.colab')")
where = nbformat.v4.new_code_cell("import nodebook_utils\nprint(nodebook_utils.__file__)")
nb.cells = [fake, *nb.cells, where]
start = time.time()
nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                        resources={"metadata": {"path": sys.argv[2]}}).execute()
print(f"ran {len(nb.cells) - 2} cells in {time.time() - start:.0f} s without an error; "
      f"nodebook_utils from {nb.cells[-1].outputs[0].text.strip()}")
"""


def freeze(python: Path) -> dict[str, str]:
    lines = subprocess.run([str(python), "-m", "pip", "freeze"], check=True,
                           capture_output=True, text=True).stdout.splitlines()
    return dict(line.split("==", 1) if "==" in line else (line.split(" @ ")[0], line)
                for line in lines if line and not line.startswith("#"))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("notebook", nargs="?",
                        default=str(ROOT / "notebooks" / "01_discrete_convolution.ipynb"))
    args = parser.parse_args(argv)
    clone = Path(CLONE)
    if clone.exists():
        raise SystemExit(f"{clone} exists: remove it first (it is where Colab clones the course)")
    with tempfile.TemporaryDirectory() as folder:
        venv = Path(folder) / "venv"
        python = venv / "bin" / "python"
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        pip = [str(python), "-m", "pip", "install", "-q"]
        subprocess.run([*pip, os.environ.get("TORCH_SPEC", "torch==2.13.0")], check=True)
        subprocess.run([*pip, *[k for k in COLAB_HAS if k != "torch"]], check=True)
        before = freeze(python)
        subprocess.run(["git", "clone", "-q", str(ROOT), str(clone)], check=True)
        try:
            # only the kernel's Python may do the install: no other one on PATH
            env = dict(os.environ, PATH="/usr/bin:/bin")
            notebook = clone / "notebooks" / Path(args.notebook).name
            subprocess.run([str(python), "-c", RUN, str(notebook), folder], check=True, env=env)
        finally:
            shutil.rmtree(clone)
        after = freeze(python)
    added = sorted(set(after) - set(before))
    changed = sorted(k for k in before if after.get(k) != before[k])
    print("added:", ", ".join(added))
    if changed:
        raise SystemExit(f"the install changed packages Colab already had: {changed}")
    print("no package Colab already had was changed")


if __name__ == "__main__":
    main()
