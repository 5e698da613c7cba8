"""Classroom tools: slide metadata, offline slides and HTML with alt text, and the student copy
without solutions (tools/classroom.py)."""

import ast
import re
from pathlib import Path

import nbformat
import pytest
from support import load_classroom

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


classroom = load_classroom()


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_committed_slide_metadata_is_the_rules(path):
    nb = nbformat.read(path, as_version=4)
    assert not classroom.with_slide_metadata(nb), "run: python tools/classroom.py slide-metadata"
    kinds = [c.metadata["slideshow"]["slide_type"] for c in nb.cells]
    assert kinds[0] == "slide" and kinds.count("slide") >= 4
    for cell, kind in zip(nb.cells, kinds, strict=True):
        if classroom.is_solution(cell):
            assert kind == "skip"
        if cell.cell_type == "code" and classroom.has_figure(cell):
            assert kind == "slide"  # key figures get a slide of their own


def img_tags(html):
    return re.findall(r"<img\b[^>]*>", html)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    out = tmp_path_factory.mktemp("export")
    path = ROOT / "notebooks" / "01_discrete_convolution.ipynb"
    slides = classroom.export([path], "slides", out)[0].read_text(encoding="utf-8")
    return (slides,)


def test_slides_load_nothing_from_the_internet(exported):
    (slides,) = exported
    remote = re.findall(r"<(?:script|link)\b[^>]*(?:src|href)=\"(https?:[^\"]+)\"", slides)
    assert remote == []
    assert re.search(r"import\s+\w+\s+from\s+'https?:", slides) is None
    assert f'{classroom.REVEAL}/dist/reveal.js' in slides
    assert f'<script src="{classroom.REQUIRE}"' in slides  # require.js loads reveal.js
    assert classroom.MATHJAX.split("?")[0] in slides
    assert slides.count("<section") >= 10
    assert "colab-badge.svg" not in slides and "google.colab" not in slides  # no launch parts
    assert f'{classroom.REVEAL}/dist/theme/white.css' in slides  # its fonts ship with reveal.js


def test_every_exported_figure_keeps_its_alt_text(exported):
    for page in exported:
        tags = img_tags(page)
        figures = [t for t in tags if "data:image/png" in t]
        assert figures, "the lesson has figures"
        for tag in figures:
            alt = re.search(r'alt="([^"]*)"', tag)
            assert alt and len(alt.group(1)) > 20, tag[:80]


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_the_student_copy_has_no_solution_and_keeps_every_exercise(path):
    nb = nbformat.read(path, as_version=4)
    student = classroom.student_version(nb)
    assert not any(classroom.is_solution(c) for c in student.cells)
    text = "\n".join(c.source for c in student.cells)
    assert "Solution to exercise" not in text
    assert not re.search(r"hidden\s+solution|hidden\s+cell|solution_", text)
    exercises = [c for c in nb.cells if c.cell_type == "code" and not classroom.is_solution(c)
                 and "checks.check_" in c.source]
    kept = [c for c in student.cells if c.cell_type == "code" and "checks.check_" in c.source]
    assert len(kept) == len(exercises) and exercises
    assert all(c.outputs == [] for c in student.cells if c.cell_type == "code")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_no_lesson_cell_uses_a_name_that_only_a_solution_defines(path):
    """What makes the student copy run without its solutions (make student runs them all)."""
    nb = nbformat.read(path, as_version=4)
    for cell in nb.cells:
        if cell.cell_type != "code" or classroom.is_solution(cell):
            continue
        code = "\n".join(line for line in cell.source.splitlines()
                         if not line.lstrip().startswith(("!", "%")))
        names = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
        assert not {n for n in names if n.startswith("solution_")}, cell.source[:80]


def test_a_student_copy_is_checked_in_fast_mode_then_handed_out_clean(tmp_path, monkeypatch):
    path = ROOT / "notebooks" / "04_resnets_as_euler.ipynb"
    ran = []
    execute = classroom.execute
    monkeypatch.setattr(classroom, "execute", lambda nb, **kw: ran.append(execute(nb, **kw)))
    (written,) = classroom.student([path], tmp_path)
    (executed,) = ran  # the check run: every cell ran without an error
    outputs = [o for c in executed.cells if c.cell_type == "code" for o in c.outputs]
    assert outputs and not any(o.output_type == "error" for o in outputs)
    nb = nbformat.read(written, as_version=4)  # what learners get: no fast-mode output
    assert all(c.outputs == [] and c.execution_count is None
               for c in nb.cells if c.cell_type == "code")
    assert "widgets" not in nb.metadata


def test_a_student_copy_without_its_data_stops_with_one_line(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(
        "from nodebook_utils.data import DataUnavailableError\n"
        "raise DataUnavailableError('1 data file(s) missing (NODEBOOK_OFFLINE=1):\\n  x.gz')")])
    path = tmp_path / "02_needs_data.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(classroom.MissingData) as stop:
        classroom.student([path], tmp_path / "out")
    message = str(stop.value)
    assert "\n" not in message and "02_needs_data.ipynb needs data" in message
    assert "1 data file(s) missing" in message and "--fetch" in message
