"""The committed notebooks: executed top to bottom in one kernel, no errors, no machine paths."""

import json
import os
import tempfile
from pathlib import Path

import pytest

from nodebook_utils.course import LESSONS, run_time_text

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
# Absolute prefixes that would reveal the machine a notebook ran on.
LEAKS = {str(ROOT.parent) + os.sep, tempfile.gettempdir() + os.sep, str(Path.home()) + os.sep}


def code_cells(path):
    return [c for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]


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
    cells = json.loads(path.read_text())["cells"]
    first = "".join(cells[0]["source"]).lower()
    texts = ["".join(c["source"]) for c in cells if c["cell_type"] == "markdown"]
    markdown = "\n".join(texts).lower()
    assert "run time" in first and ("you will" in first or "objectives" in first)
    assert "summary" in markdown and "references" in markdown


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if int(p.name[:2]) >= 7],
                         ids=lambda p: p.name)
def test_header_run_time_is_the_roadmaps(path):
    """The run time in the first cell is the measured one that README and 00 show."""
    first = "".join(json.loads(path.read_text())["cells"][0]["source"])
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


@pytest.mark.parametrize("path", [p for p in NOTEBOOKS if int(p.name[:2]) >= 7],
                         ids=lambda p: p.name)
def test_solutions_are_hidden_tagged_and_say_so(path):
    """Solution cells: hidden, tagged "solution", first line says so; at least two exercises."""
    cells = code_cells(path)
    solutions = [c for c in cells if "solution" in c["metadata"].get("tags", [])]
    assert len(solutions) >= 2
    for cell in solutions:
        assert cell["metadata"].get("jupyter", {}).get("source_hidden") is True
        assert "".join(cell["source"]).splitlines()[0].startswith("# Solution to exercise")
    for cell in cells:
        source = "".join(cell["source"])
        assert "NBVAL_" not in source, "use nbval's cell tags, not # NBVAL_ comments"
        if "solution" not in cell["metadata"].get("tags", []):
            assert not source.startswith("# Solution")
