"""Classroom tools (the website's teaching guide): slide metadata for every lesson, offline
reveal.js slides with alt text, and a student copy without solutions. (Lessons as web pages
are the website's: `make site`.)

    python tools/classroom.py slide-metadata        # (re)write the lessons' slide types
    python tools/classroom.py slides [NOTEBOOK ...]  # build/slides/NN_name.slides.html
    python tools/classroom.py student                # build/student/, checked in fast mode

`make slides` and `make student` call these. A script beside the package, like
the benchmarks: it needs nbformat, nbconvert and nbclient, which the course's `dev` extra
installs, not the package itself.
"""

from __future__ import annotations

import argparse
import copy
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path

import nbformat

from nodebook_utils import publish

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
BUILD = ROOT / "build"
TEMPLATES = Path(__file__).resolve().parent / "templates"
# reveal.js, require.js (which loads it) and MathJax 2 from npm, installed under
# build/slides/vendor by `make slides`.
VENDOR_PACKAGES = ("reveal.js@4", "requirejs@2", "mathjax@2")
REVEAL = "vendor/node_modules/reveal.js"
REQUIRE = "vendor/node_modules/requirejs/require.js"
MATHJAX = "vendor/node_modules/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
# reveal.js's default theme, whose fonts ship with it (nbconvert's default, "simple", and most
# other themes import theirs from Google Fonts).
REVEAL_THEME = "white"


def notebooks(names: Sequence[str] | None = None) -> list[Path]:
    """The lessons, or the given notebook paths."""
    if names:
        return [Path(n).resolve() for n in names]
    return sorted(NOTEBOOKS.glob("[0-9][0-9]_*.ipynb"))


# --- slide metadata ---------------------------------------------------------------------------


def is_solution(cell: dict) -> bool:
    """A hidden solution cell (tagged ``solution``)."""
    return "solution" in cell.get("metadata", {}).get("tags", [])


def has_figure(cell: dict) -> bool:
    """A code cell whose output holds an image."""
    return any("image/png" in out.get("data", {}) for out in cell.get("outputs", []))


def slide_type(cell: dict, index: int, first_code: int) -> str:
    """How a cell shows in the slides: the title and every ``##`` section start a slide, as do
    key figures; ``###`` sections and long cells are sub-slides; solutions and the setup cell
    are skipped; everything else continues the current slide."""
    source = cell["source"] if isinstance(cell["source"], str) else "".join(cell["source"])
    if index == 0 or (cell["cell_type"] == "markdown" and source.startswith("## ")):
        return "slide"
    if is_solution(cell) or index == first_code:
        return "skip"
    if cell["cell_type"] == "code" and has_figure(cell):
        return "slide"
    if cell["cell_type"] == "markdown" and source.startswith("### "):
        return "subslide"
    if source.count("\n") >= 14:
        return "subslide"
    return "-"


def with_slide_metadata(nb: nbformat.NotebookNode) -> bool:
    """Set every cell's ``metadata.slideshow.slide_type``; True if anything changed."""
    first_code = next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")
    changed = False
    for i, cell in enumerate(nb.cells):
        kind = slide_type(cell, i, first_code)
        if cell.metadata.get("slideshow", {}).get("slide_type") != kind:
            cell.metadata["slideshow"] = {"slide_type": kind}
            changed = True
    return changed


def slide_metadata(paths: Sequence[Path]) -> list[Path]:
    """Write the slide types into the notebooks (metadata only); return those that changed."""
    changed = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        if with_slide_metadata(nb):
            nbformat.write(nb, path)
            changed.append(path)
    return changed


# --- exports ----------------------------------------------------------------------------------


def install_vendor(folder: Path) -> None:
    """reveal.js, require.js and MathJax from npm into ``folder/vendor`` (once)."""
    vendor = folder / "vendor"
    if all((folder / path.split("?")[0]).exists()
           for path in (f"{REVEAL}/dist/reveal.js", REQUIRE, MATHJAX)):
        return
    if shutil.which("npm") is None:
        raise SystemExit("make slides needs npm (Node.js) to fetch reveal.js and MathJax once")
    vendor.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(vendor), "--no-save", "--no-audit",
                    "--no-fund", "--loglevel=error", *VENDOR_PACKAGES], check=True)


#: About how many lines of text fit on one slide (reveal.js's 700-pixel-high slide at the
#: template's font sizes); what would not fit continues on a sub-slide (press the down arrow).
SLIDE_LINES = 16
FIGURE_LINES = 14  # a figure fitted to the slide's height (the template's max-height)


def _chunks(text: str, limit: int) -> list[str]:
    """``text`` split at blank lines into pieces of at most ``limit`` lines where it can be
    (a paragraph longer than that stays whole; the slide's CSS lets it scroll)."""
    pieces, current = [], []
    for paragraph in re.split(r"\n\s*\n", text.strip()):
        lines = _lines(paragraph)
        if current and sum(map(_lines, current)) + lines > limit:
            pieces.append("\n\n".join(current))
            current = []
        current.append(paragraph)
    if current:
        pieces.append("\n\n".join(current))
    return pieces


def _lines(text: str, width: int = 90) -> int:
    """Screen lines of ``text`` (a line longer than ``width`` characters wraps)."""
    return sum(1 + len(line) // width for line in text.splitlines()) if text else 0


def _height(cell) -> int:
    """About how many lines a cell takes on a slide: its text and each output (a figure
    counts :data:`FIGURE_LINES`)."""
    if cell.cell_type == "markdown":
        return _lines(cell.source) + 1
    tags = cell.metadata.get("tags", [])
    height = 0 if "remove_input" in tags else min(_lines(cell.source), 12) + 1
    for output in cell.get("outputs", []):
        data = output.get("data", {})
        if "image/png" in data:
            height += FIGURE_LINES
        else:
            text = output.get("text") or data.get("text/markdown") or data.get("text/plain", "")
            height += min(_lines("".join(text)), 12)
    return height


def deck_cells(cells: list) -> list:
    """The cells as the slides show them (the notebook itself is not changed): a long
    Markdown cell is cut at paragraph breaks into pieces of at most :data:`SLIDE_LINES`
    lines; a figure whose code is long is shown first, its code after it; and a cell that
    would not fit on the current slide any more starts a sub-slide. Code and output taller
    than their box scroll (the template's CSS)."""
    pieces = []
    for cell in cells:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if kind != "skip" and cell.cell_type == "markdown" and _lines(cell.source) > SLIDE_LINES:
            for i, piece in enumerate(_chunks(cell.source, SLIDE_LINES)):
                pieces.append(nbformat.v4.new_markdown_cell(  # each with an id of its own
                    piece, metadata={"slideshow": {"slide_type": kind if i == 0 else "-"}}))
        elif (kind != "skip" and cell.cell_type == "code" and has_figure(cell)
                and _lines(cell.source) > 6):
            figure = copy.deepcopy(cell)
            figure.metadata["tags"] = [*figure.metadata.get("tags", []), "remove_input"]
            code = copy.deepcopy(cell)
            code.id = nbformat.v4.new_code_cell().id  # a cell id of its own
            code.outputs = []
            code.metadata["slideshow"] = {"slide_type": "-"}
            pieces += [figure, code]
        else:
            pieces.append(cell)
    used = 0
    for cell in pieces:
        kind = cell.metadata.get("slideshow", {}).get("slide_type", "-")
        if kind == "skip":
            continue
        height = _height(cell)
        if kind == "-" and used + height > SLIDE_LINES:
            cell.metadata["slideshow"] = {"slide_type": "subslide"}
            used = 0
        elif kind in ("slide", "subslide"):
            used = 0
        used += height
    return pieces


def export(paths: Sequence[Path], kind: str, out: Path) -> list[Path]:
    """Export notebooks as offline slides (``kind="slides"``) with the course's template,
    which keeps every figure's alt text."""
    from nbconvert import SlidesExporter

    out.mkdir(parents=True, exist_ok=True)
    if kind != "slides":
        raise ValueError(f"kind must be 'slides' (lessons as pages: make site), not {kind!r}")
    from traitlets.config import Config

    config = Config()  # a figure shown before its code hides its input (deck_cells)
    config.TagRemovePreprocessor.enabled = True
    config.TagRemovePreprocessor.remove_input_tags = {"remove_input"}
    exporter = SlidesExporter(config=config, template_name="nodebook_slides",
                              extra_template_basedirs=[str(TEMPLATES)],
                              extra_template_paths=[str(TEMPLATES)],
                              reveal_url_prefix=REVEAL, mathjax_url=MATHJAX,
                              require_js_url=REQUIRE, reveal_theme=REVEAL_THEME)
    suffix = ".slides.html"
    written = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        with_slide_metadata(nb)
        publish.without_launch(nb.cells)
        nb.cells = deck_cells(nb.cells)
        body, _ = exporter.from_notebook_node(nb, resources={"metadata": {"name": path.stem}})
        target = out / (path.stem + suffix)
        target.write_text(body, encoding="utf-8")
        written.append(target)
    return written


# --- the student copy -------------------------------------------------------------------------

# Sentences that point at the hidden solutions, up to their full stop.
_SOLUTION_SENTENCE = re.compile(
    r"(;|\s*\b)\s*(?:[Aa]\s+hidden\s+solution\s+cell\s+follows\s+each\s+\w+"
    r"|The\s+hidden\s+cell\s+after\s+each\s+exercise|The\s+solutions\s+define"
    r"|Then\s+run\s+the\s+hidden\s+cell)"
    r"(?:\.\.\.|[^.])*\.")  # an ellipsis, as in `solution_...`, does not end the sentence
_AFTER_SOLUTION = re.compile(r"([Aa]fter)\s+the\s+hidden\s+solution")


def student_version(nb: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """The notebook without its solution cells and without outputs; the sentences that point
    at hidden solutions are dropped too."""
    nb = copy.deepcopy(nb)
    nb.cells = [c for c in nb.cells if not is_solution(c)]
    for cell in nb.cells:
        if cell.cell_type == "code":
            cell.outputs, cell.execution_count = [], None
        else:
            text = _SOLUTION_SENTENCE.sub(lambda m: "." if m.group(1) == ";" else "",
                                          cell.source)
            cell.source = _AFTER_SOLUTION.sub(r"\1 the exercise", text)
    nb.metadata.pop("widgets", None)
    return nb


def execute(nb: nbformat.NotebookNode, *, cwd: Path, mode: str = "fast",
            timeout: int = 600) -> nbformat.NotebookNode:
    """Run the notebook top to bottom in a fresh kernel, from ``cwd``, in ``mode``; a cell
    that raises stops it with nbclient's error naming the cell."""
    from nbclient import NotebookClient

    saved = {k: os.environ.get(k) for k in ("NODEBOOK_MODE", "TQDM_DISABLE")}
    os.environ.update(NODEBOOK_MODE=mode, TQDM_DISABLE="1")
    try:
        NotebookClient(nb, timeout=timeout, kernel_name="python3",
                       resources={"metadata": {"path": str(cwd)}}).execute()
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value
    return nb


class MissingData(SystemExit):
    """A lesson's check run stopped because its data is not here: one line, not a traceback."""


def student(paths: Sequence[Path], out: Path, *, run: bool = True) -> list[Path]:
    """Write the student copies to ``out``: without solutions and without outputs. Unless
    ``run`` is false, each copy is first executed top to bottom in fast mode (from the
    lessons' folder, so that their relative paths hold), which shows that nothing depends on
    a removed solution; then its outputs are cleared again, so learners get clean notebooks
    (no fast-mode numbers, no FAIL under each exercise). A lesson whose data is missing stops
    the run with one line naming the data and how to get it."""
    from nbclient.exceptions import CellExecutionError

    out.mkdir(parents=True, exist_ok=True)
    written = []
    for path in paths:
        nb = student_version(nbformat.read(path, as_version=4))
        if run:
            try:
                execute(nb, cwd=path.parent)
            except CellExecutionError as exc:
                if exc.ename != "DataUnavailableError":
                    raise
                first = " ".join(exc.evalue.split("\n")[0].split())
                raise MissingData(
                    f"make student: {path.name} needs data that is not here ({first}); "
                    "`python -m nodebook_utils.data` lists what is missing and "
                    "`python -m nodebook_utils.data --fetch NAME` downloads it") from None
            nb = student_version(nb)  # checked: hand it out clean
        target = out / path.name
        nbformat.write(nb, target)
        written.append(target)
        print(f"{target.relative_to(ROOT) if target.is_relative_to(ROOT) else target}: "
              f"{sum(c.cell_type == 'code' for c in nb.cells)} code cells, no solutions")
    return written


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("command", choices=("slide-metadata", "slides", "student"))
    parser.add_argument("notebooks", nargs="*", help="notebooks (default: every lesson)")
    parser.add_argument("--out", type=Path, help="output folder (default: build/<command>)")
    parser.add_argument("--no-run", action="store_true", help="student: do not execute")
    args = parser.parse_args(argv)
    paths = notebooks(args.notebooks)
    out = args.out or BUILD / args.command
    if args.command == "slide-metadata":
        changed = slide_metadata(paths)
        print(f"slide metadata written to {len(changed)} of {len(paths)} notebooks")
    elif args.command == "slides":
        install_vendor(out)
        for path in export(paths, "slides", out):
            print(path.relative_to(ROOT) if path.is_relative_to(ROOT) else path)
    else:
        student(paths, out, run=not args.no_run)


if __name__ == "__main__":
    main()
