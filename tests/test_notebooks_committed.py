"""The committed notebooks: executed top to bottom in one kernel, no errors, no machine paths."""

import ast
import json
import os
import re
import tempfile
from pathlib import Path

import pytest

from nodebook_utils.course import LESSONS, run_time_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Absolute prefixes that would reveal the machine a notebook ran on.
LEAKS = {str(ROOT.parent) + os.sep, tempfile.gettempdir() + os.sep, str(Path.home()) + os.sep}


def code_cells(path):
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    return [c for c in cells if c["cell_type"] == "code"]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_executed_top_to_bottom(path):
    counts = [c["execution_count"] for c in code_cells(path)]
    assert counts == list(range(1, len(counts) + 1)), "re-run it with `make notebooks`"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_errors_and_no_machine_paths(path):
    for i, cell in enumerate(code_cells(path)):
        expected_error = "raises-exception" in cell["metadata"].get("tags", [])
        for out in cell["outputs"]:
            assert expected_error or out["output_type"] != "error", f"cell {i} holds an error"
            text = json.dumps(out)
            for leak in LEAKS:
                assert leak not in text, f"cell {i} shows a machine path ({leak}...)"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebooks_stay_light(path):
    assert path.stat().st_size < 3_000_000


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_lesson_template(path):
    """Objectives and run time up front, a summary and references at the end."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    first = "".join(cells[0]["source"]).lower()
    texts = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    markdown = "\n".join(texts).lower()
    assert "run time" in first and ("you will" in first or "objectives" in first)
    assert "summary" in markdown and "references" in markdown


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_header_run_time_is_the_roadmaps(path):
    """The run time in the first cell is the measured one that README and 00 show."""
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    number = int(path.name[:2])
    assert LESSONS[number].notebook == path.name
    assert run_time_text(number) in " ".join(first.split()), (
        f"state the run time as: {run_time_text(number)}"
    )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_execution_timing_metadata(path):
    """Run with record_timing=False (make notebooks does): timestamps are noise in a diff."""
    for i, cell in enumerate(code_cells(path)):
        assert "execution" not in cell["metadata"], f"cell {i} holds execution timestamps"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_are_hidden_tagged_and_say_so(path):
    """Solution cells: hidden (JupyterLab's source_hidden, Colab's form view), tagged
    "solution", first line says so (a Colab form title); at least two exercises."""
    cells = code_cells(path)
    solutions = [c for c in cells if "solution" in c["metadata"].get("tags", [])]
    assert len(solutions) >= 2
    for cell in solutions:
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True
        assert cell["metadata"].get("cellView") == "form"  # Colab shows the title only
        first = "".join(cell["source"]).splitlines()[0]
        assert first.startswith("# @title Solution to exercise") and "hidden" in first
    for cell in cells:
        source = "".join(cell["source"])
        assert "NBVAL_" not in source, "use nbval's cell tags, not # NBVAL_ comments"
        if "solution" not in cell["metadata"].get("tags", []):
            assert "Solution to exercise" not in source.split("\n", 1)[0]


def defined_names(source: str) -> set[str]:
    """Top-level names a cell binds: functions, classes, assignments, for-loop targets."""
    names = set(re.findall(r"^(?:def|class)\s+([A-Za-z_]\w*)", source, re.M))
    for targets in re.findall(r"^([A-Za-z_][\w, ]*?)\s*(?::[^=\n]+)?=[^=]", source, re.M):
        names |= {n.strip() for n in targets.split(",") if n.strip()}
    for targets in re.findall(r"^for\s+([\w, ]+?)\s+in\b", source, re.M):
        names |= {n.strip() for n in targets.split(",") if n.strip()}
    return names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_solutions_never_overwrite_the_learners_names(path):
    """Run all: a solution binds no name that another cell binds (it uses ``solution_*``), so
    it cannot replace the learner's answer or the lesson's state."""
    cells = code_cells(path)
    is_solution = ["solution" in c["metadata"].get("tags", []) for c in cells]
    lesson = set().union(*(defined_names("".join(c["source"]))
                           for c, sol in zip(cells, is_solution, strict=True) if not sol))
    for i, (cell, sol) in enumerate(zip(cells, is_solution, strict=True)):
        if sol:
            clash = sorted(defined_names("".join(cell["source"])) & lesson)
            assert not clash, f"code cell {i}: a solution rebinds {clash}"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_widget_state_and_no_frozen_progress_bars(path):
    """Widget state is machine noise (make notebooks does not store it); a progress bar in a
    committed output is frozen forever (TQDM_DISABLE=1 hides the package's bars)."""
    notebook = json.loads(path.read_text(encoding="utf-8"))
    assert "widgets" not in notebook["metadata"], "remove metadata.widgets"
    for i, cell in enumerate(code_cells(path)):
        for out in cell["outputs"]:
            texts = [out.get("text", "")]
            data = out.get("data", {})
            if "application/vnd.jupyter.widget-view+json" in data:
                texts.append(data.get("text/plain", ""))
            text = "".join("".join(t) if isinstance(t, list) else t for t in texts)
            assert not re.search(r"\d+%\|.*\|\s*\d+/\d+|it/s\]|s/it\]", text), (
                f"cell {i} holds a progress bar"
            )


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if not p.name.startswith("00")],
                         ids=lambda p: p.name)
def test_each_lesson_links_the_lessons_it_builds_on(path):
    first = "".join(json.loads(path.read_text(encoding="utf-8"))["cells"][0]["source"])
    line = next((x for x in first.splitlines() if x.startswith("**Builds on:**")), None)
    assert line, 'the first cell needs a "**Builds on:**" line with links'
    links = re.findall(r"\]\((\d\d_[\w]+\.ipynb)\)", line)
    assert links and all(link < path.name and (path.parent / link).exists() for link in links)


def test_00_names_the_sources_in_full():
    path = ROOT / "notebooks" / "00_start_here.ipynb"
    text = json.dumps(json.loads(path.read_text(encoding="utf-8")))
    for source in ("Neural Ordinary Differential Equations: Review of Literature",
                   "Harvey Mudd", "Math 179", "Chen et al"):
        assert source in text


def _markdown_near(cell):
    if cell["cell_type"] == "markdown":
        return "".join(cell["source"])
    return " ".join("".join(out.get("data", {}).get("text/markdown", ""))
                    for out in cell.get("outputs", []))


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_figure_has_alt_text_and_a_caption(path):
    """Alt text in the image's metadata (exports keep it: tests/test_classroom.py) and a
    "*Figure N." caption in the same cell's output or right after it."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
        for out in images:
            alt = out.get("metadata", {}).get("image/png", {}).get("alt", "")
            assert len(alt) > 20, f"cell {i}: describe the figure (plotting.show(..., alt=))"
        if images:
            near = _markdown_near(cell) + (_markdown_near(cells[i + 1]) if i + 1 < len(cells)
                                           else "")
            assert "*Figure" in near, f"cell {i}: caption the figure (*Figure N. ...*)"


# A code cell may caption a figure or quote a measured value in a short generated sentence;
# explanations and conclusions are Markdown cells (DEVELOPERS rule, issue 19).
PROSE_LIMIT = 40
_PLOT_OWNERS = {"ax", "axes", "axs", "plt", "fig", "figure", "legend", "cbar"}
_LABEL_KEYWORDS = {"alt", "label", "title", "xlabel", "ylabel", "name", "desc", "description",
                   "loc", "color", "marker", "linestyle", "ls", "fmt", "cmap", "why", "hint"}
_SHOWS = {"Markdown", "display_markdown", "print", "HTML", "caption"}


def _called(node: ast.Call) -> str:
    func = node.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def prose_words(source: str) -> int:
    """Words of literal text a code cell shows as prose: string constants in a cell that
    displays Markdown or prints, leaving out docstrings, figure labels and alt text, and the
    reasons given to ``expect``/checkers."""
    source = "\n".join(line for line in source.splitlines()
                       if not line.lstrip().startswith(("%", "!")))
    tree = ast.parse(source)
    calls = [n for n in ast.walk(tree) if isinstance(n, ast.Call)]
    if not any(_called(n) in _SHOWS for n in calls):
        return 0
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, (ast.FunctionDef, ast.ClassDef)) and ast.get_docstring(node):
            skip.add(id(node.body[0].value))
    for call in calls:
        owner = call.func.value if isinstance(call.func, ast.Attribute) else None
        plotting = isinstance(owner, ast.Name) and owner.id in _PLOT_OWNERS
        if plotting or _called(call) in {"expect", "show", "savefig", "report", "check"}:
            skip.update(id(n) for n in ast.walk(call))
        for keyword in call.keywords:
            if keyword.arg in _LABEL_KEYWORDS:
                skip.update(id(n) for n in ast.walk(keyword.value))
    return sum(len(re.findall(r"[A-Za-z]{2,}", n.value)) for n in ast.walk(tree)
               if isinstance(n, ast.Constant) and isinstance(n.value, str) and id(n) not in skip)


def test_prose_words_counts_what_a_cell_writes_not_its_labels():
    paragraph = 'from IPython.display import Markdown\nMarkdown(f"The ODE-Net is {x} and ' \
        + "word " * 50 + '")'
    labelled = 'ax.set_title("' + "word " * 50 + '")\nshow(fig, "f", alt="' + "w " * 60 \
        + '")\nprint(x)'
    assert prose_words(paragraph) > PROSE_LIMIT
    assert prose_words(labelled) == 0
    assert prose_words('print("x =", x)') == 0


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_code_cell_writes_prose(path):
    """Conclusions live in Markdown; a code cell shows numbers and at most a short caption."""
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    heavy = [(i, words) for i, cell in enumerate(cells)
             if cell["cell_type"] == "code"
             for words in [prose_words("".join(cell["source"]))] if words > PROSE_LIMIT]
    assert not heavy, f"(cell, words) writing prose: {heavy}; move it to Markdown"
