"""Project-level contracts: packaging lists, the README's two commands, CI, the roadmap."""

import ast
import re
import subprocess
import sys
import tomllib
import zipfile
from pathlib import Path

import yaml

from nodebook_utils.course import LEARN, LESSONS, syllabus_markdown

ROOT = Path(__file__).resolve().parents[1]
CONDA_TO_PYPI = {"pytorch": "torch"}


def _name(requirement: str) -> str:
    return re.split(r"[\s<>=!\[;]", requirement.strip(), maxsplit=1)[0].lower().replace("_", "-")


def test_environment_yml_names_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    wanted = {_name(r) for r in project["dependencies"]}
    for extra in project["optional-dependencies"].values():
        wanted |= {_name(r) for r in extra}
    env = yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))
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
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    quick = readme.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", quick, flags=re.S)
    commands = [line for block in blocks for line in block.splitlines() if line.strip()]
    assert commands == ["make lab", "make test"]


def test_ci_runs_the_readme_test_command_with_the_documented_data_settings():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    code = [line.strip() for line in ci.splitlines() if line.strip() and not line.startswith("#")]
    assert code[-1] == "make test"
    for name in ("NODEBOOK_MIRROR", "NODEBOOK_OFFLINE", "NODEBOOK_DATA"):
        assert name in ci and name in readme


def test_ci_installs_chromium_and_makes_the_browser_test_run():
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    code = ci.rsplit("make test", 1)[0]  # what runs before the test command
    assert "apt-get install" in code and "chromium" in code and "export NODEBOOK_CI=1" in code
    browser_test = (ROOT / "tests" / "test_browser.py").read_text(encoding="utf-8")
    assert 'os.environ.get("NODEBOOK_CI") == "1"' in browser_test


def test_roadmap_covers_every_notebook_and_readme_shows_it():
    on_disk = sorted(p.name for p in (ROOT / "notebooks").glob("*.ipynb"))
    assert on_disk, "no notebooks"
    assert on_disk[0] == "00_start_here.ipynb"
    assert set(on_disk) <= {lesson.notebook for lesson in LESSONS}
    assert [lesson.number for lesson in LESSONS] == list(range(len(LESSONS)))
    for lesson in LESSONS:
        assert lesson.notebook.startswith(f"{lesson.number:02d}_")
    assert set(LEARN) == {lesson.number for lesson in LESSONS}
    assert syllabus_markdown() in (ROOT / "README.md").read_text(encoding="utf-8"), (
        "README's syllabus is out of date: run python -m nodebook_utils.publish (it rewrites "
        "the syllabus between its markers)"
    )


def test_readme_is_a_short_front_page():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert len(readme.splitlines()) <= 150
    for heading in ("## Launch", "## Syllabus", "## Quick start", "## Sources", "## Licence"):
        assert heading in readme


# Top-level modules the package imports, and the distribution that provides each.
DISTRIBUTION = {"IPython": "ipython", "cycler": "matplotlib"}


def _third_party_imports() -> set[str]:
    names = set()
    for path in (ROOT / "nodebook_utils").rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names.add(node.module.split(".")[0])
    return {n for n in names if n not in sys.stdlib_module_names and n != "nodebook_utils"}


def test_dependencies_are_what_the_package_imports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    declared = {_name(r) for r in project["dependencies"]}
    imported = {DISTRIBUTION.get(n, n).lower() for n in _third_party_imports()}
    assert imported == declared, "pyproject's dependencies should be exactly what is imported"
    extras = {_name(r) for extra in project["optional-dependencies"].values() for r in extra}
    assert {"jupyterlab", "nbval", "ipywidgets"} <= extras and not extras & {"torch", "numpy"}


def test_requires_python_is_what_the_code_needs():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    assert project["requires-python"] == ">=3.11"
    assert sys.version_info >= (3, 11)


def test_the_wheel_contains_every_subpackage(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "--no-build-isolation",
         "-q", "-w", str(tmp_path)],
        check=True, capture_output=True,
    )
    (wheel,) = tmp_path.glob("nodebook_utils-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    packages = {p.parent.relative_to(ROOT).as_posix()
                for p in (ROOT / "nodebook_utils").rglob("__init__.py")}
    assert {"nodebook_utils", "nodebook_utils/checks", "nodebook_utils/data",
            "nodebook_utils/experiments"} <= packages
    for package in packages:
        modules = {p.relative_to(ROOT).as_posix()
                   for p in (ROOT / package).glob("*.py")}
        assert modules <= names, f"{package} is missing from the wheel"
