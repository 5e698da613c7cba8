"""Project-level contracts: packaging lists, the README's two commands, CI, the roadmap."""

import re
from pathlib import Path

import pytest
import yaml

from nodebook_utils.course import LESSONS, roadmap_markdown

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    conda, pip = set(), []
    for dep in env["dependencies"]:
        if isinstance(dep, dict):
            pip += dep["pip"]
        else:
            conda.add(CONDA_TO_PYPI.get(_name(dep), _name(dep)))
    assert conda - {"python", "pip"} == wanted
    assert "conda-forge" in env["channels"]
    assert any(d.startswith("python=3.11") for d in env["dependencies"] if isinstance(d, str))
    assert any("cpu" in d for d in env["dependencies"] if isinstance(d, str) and "pytorch" in d)
    assert pip == ["-e ."]


def test_readme_quick_start_is_exactly_the_two_commands():
    readme = (ROOT / "README.md").read_text()
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", quick, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command_with_the_documented_data_settings():
    ci = (ROOT / ".ci" / "run").read_text()
    readme = (ROOT / "README.md").read_text()
    code = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert code[-1] == "make test"
    for name in ("NODEBOOK_MIRROR", "NODEBOOK_OFFLINE", "NODEBOOK_DATA"):
        assert name in ci and name in readme


def test_roadmap_covers_every_notebook_and_readme_shows_it():
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert on_disk, "no notebooks"
    assert on_disk[0] == "00_start_here.ipynb"
    assert set(on_disk) <= {lesson.notebook for lesson in LESSONS}
    assert [lesson.number for lesson in LESSONS] == list(range(len(LESSONS)))
    for lesson in LESSONS:
        assert lesson.notebook.startswith(f"{lesson.number:02d}_")
    assert roadmap_markdown() in (ROOT / "README.md").read_text(), (
        "README's roadmap is out of date: paste nodebook_utils.course.roadmap_markdown()"
    )
