"""The course website: ``python tools/site.py`` (``make site``) stages the sources into
build/site-src/ and builds them with Sphinx (MyST-NB, the Sphinx Book Theme) into build/site/.

Staging copies the pages of site/, the lessons with their committed outputs (nothing is
executed) and the figures, and generates the pages that must say what the package computes:
the syllabus and the launch badges (``course``, ``publish``), the errata (``errata``), the
reproduction report (figures/reproduction.md, written by ``make report``) and the benchmark
tables. In the staged lessons each solution cell is collapsed until clicked (MyST-NB's
``hide-cell``), the Colab and Binder badges are drawn from local images, and a widget's
output, which needs a live kernel, becomes a note pointing at the static figure before it.
MathJax comes from npm (once, into build/site-vendor/), so the pages load nothing from the
internet.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from nodebook_utils import course, errata, fast, publish, reproduce  # noqa: E402

SITE = ROOT / "site"
STAGE = ROOT / "build" / "site-src"
OUT = ROOT / "build" / "site"
VENDOR = ROOT / "build" / "site-vendor"
MATHJAX = "mathjax@3.2.2"
WIDGET = "application/vnd.jupyter.widget-view+json"
WIDGET_NOTE = ("*In a live notebook (JupyterLab, Colab or Binder) this cell shows controls that "
               "redraw the figure; the static figure above shows what it draws.*")
BADGE_IMAGES = {"https://colab.research.google.com/assets/colab-badge.svg":
                "../_static/colab-badge.svg",
                "https://mybinder.org/badge_logo.svg": "../_static/binder-badge.svg"}


def slug(title: str) -> str:
    """A heading's anchor on the website: MyST's GitHub-style slug of its text."""
    from myst_parser.slugs import github_slugify

    return github_slugify(title.replace("`", ""))


def headings(notebook: Path) -> dict[str, str]:
    """A lesson's headings: JupyterLab's anchor (the title, spaces as hyphens) -> the site's."""
    nb = json.loads(notebook.read_text(encoding="utf-8"))
    titles = [m.group(1).strip() for cell in nb["cells"] if cell["cell_type"] == "markdown"
              for m in re.finditer(r"^#{1,6}\s+(.+)$", "".join(cell["source"]), re.M)]
    return {title.replace(" ", "-"): slug(title) for title in titles}


def site_links(text: str, anchors: dict[str, dict[str, str]], here: str = "") -> str:
    """``text`` with every link to a lesson's heading (``[..](NN_name.ipynb#Anchor)``, with
    or without a folder, or ``[..](#Anchor)`` within lesson ``here``) pointing at the site's
    anchor of that heading."""
    def fix(match: re.Match) -> str:
        path, anchor = match.group(1) or "", match.group(2)
        lesson = Path(path).name if path else here
        return f"]({path}#{anchors.get(lesson, {}).get(anchor, anchor)})"
    return re.sub(r"\]\(((?:[\w./-]*/)?\d\d_\w+\.ipynb)?#([^)\s]+)\)", fix, text)


def stage_notebook(source: Path, target: Path, anchors: dict[str, dict[str, str]]) -> None:
    """One lesson as the website shows it (see the module's docstring)."""
    nb = json.loads(source.read_text(encoding="utf-8"))
    for cell in nb["cells"]:
        text = "".join(cell["source"])
        if cell["cell_type"] == "markdown":
            for remote, local in BADGE_IMAGES.items():
                text = text.replace(remote, local)
            cell["source"] = site_links(text, anchors, source.name)
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        if "solution" in tags and "hide-cell" not in tags:
            tags.append("hide-cell")
        if any(WIDGET in o.get("data", {}) for o in cell.get("outputs", [])):
            cell["outputs"] = [{"output_type": "display_data", "metadata": {},
                                "data": {"text/markdown": WIDGET_NOTE}}]
        for output in cell.get("outputs", []):  # Markdown a cell printed (lesson 00's tables)
            if "text/markdown" in output.get("data", {}):
                markdown = site_links("".join(output["data"]["text/markdown"]), anchors,
                                      source.name)
                output["data"]["text/markdown"] = re.sub(
                    r"\]\((\d\d_\w+)\.ipynb", r"](\1.html", markdown)  # rendered as is
    nb["metadata"].pop("widgets", None)
    target.write_text(json.dumps(nb, ensure_ascii=False, indent=1), encoding="utf-8")


def generated(anchors: dict[str, dict[str, str]]) -> dict[str, str]:
    """What the package computes, for the pages: placeholder -> Markdown (the pages of site/
    hold the placeholders), and whole pages: file name -> Markdown."""
    badges = publish.badges("00_start_here.ipynb")
    for remote, local in BADGE_IMAGES.items():
        badges = badges.replace(remote, local.removeprefix("../"))
    report = (ROOT / "figures" / "reproduction.md").read_text(encoding="utf-8")
    committed = reproduce.report(reproduce.load([ROOT / p for p in reproduce.COMMITTED]))
    parts = {"@@LAUNCH@@": f"Start with lesson 00 online: {badges}",
             "@@SYLLABUS@@": course.syllabus_markdown("lessons/"),
             "@@HEADLINE@@": reproduce.headline_markdown(committed),
             "@@LESSON-TOC@@": "\n".join(f"lessons/{lesson.notebook.removesuffix('.ipynb')}"
                                         for lesson in course.LESSONS if lesson.available)}
    for name, original in (("ecg", "original"), ("mnist", "reference")):
        result = json.loads((ROOT / "benchmarks" / "results" / f"{name}_speed.json").read_text(
            encoding="utf-8"))
        parts[f"@@BENCHMARK-{name.upper()}@@"] = fast.readme_table(result, original)
    pages = {
        "errata.md": ("# Errata\n\nEvery statement of the sources that the course corrects, "
                      "with the lesson section that shows the correction with code (the same "
                      "list as in lesson 00, from `nodebook_utils.errata`).\n\n"
                      + site_links(errata.errata_markdown("lessons/"), anchors) + "\n"),
        "report.md": site_links(report.replace("](notebooks/", "](lessons/"), anchors),
    }
    return {**parts, **pages}


def install_mathjax() -> Path:
    """MathJax 3's browser build, from npm the first time (like the slides' vendor files)."""
    es5 = VENDOR / "node_modules" / "mathjax" / "es5"
    if (es5 / "tex-chtml.js").exists():
        return es5
    if shutil.which("npm") is None:
        raise SystemExit("make site needs npm (Node.js) to fetch MathJax once")
    VENDOR.mkdir(parents=True, exist_ok=True)
    subprocess.run(["npm", "install", "--prefix", str(VENDOR), "--no-save", "--no-audit",
                    "--no-fund", "--loglevel=error", MATHJAX], check=True)
    return es5


def stage() -> Path:
    """Write build/site-src/ (see the module's docstring) and return it."""
    shutil.rmtree(STAGE, ignore_errors=True)
    shutil.copytree(SITE, STAGE)
    (STAGE / "lessons").mkdir()
    anchors = {lesson.notebook: headings(course.NOTEBOOKS / lesson.notebook)
               for lesson in course.LESSONS}
    for lesson in course.LESSONS:
        stage_notebook(course.NOTEBOOKS / lesson.notebook, STAGE / "lessons" / lesson.notebook,
                       anchors)
    parts = generated(anchors)
    for name, text in parts.items():
        if not name.startswith("@@"):
            (STAGE / name).write_text(text, encoding="utf-8")
    for page in STAGE.glob("*.md"):
        text = page.read_text(encoding="utf-8")
        for placeholder, part in parts.items():
            if placeholder.startswith("@@"):
                text = text.replace(placeholder, part)
        if "@@" in text:
            raise SystemExit(f"make site: {page.name} has a placeholder nothing fills")
        page.write_text(text, encoding="utf-8")
    shutil.copytree(ROOT / "figures", STAGE / "figures",
                    ignore=shutil.ignore_patterns("*.json", "*.md"))
    shutil.copytree(install_mathjax(), STAGE / "_static" / "mathjax")
    return STAGE


def build(out: Path = OUT) -> Path:
    """Stage, then build the HTML site into ``out`` with Sphinx; warnings fail the build."""
    from sphinx.cmd.build import build_main

    source = stage()
    shutil.rmtree(out, ignore_errors=True)
    code = build_main(["-b", "html", "-q", "-W", "--keep-going", "-d",
                       str(ROOT / "build" / "site-doctrees"), str(source), str(out)])
    if code:
        raise SystemExit(f"make site: Sphinx failed (exit {code}); see the warnings above")
    return out


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=OUT, help="the site's folder")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    out = build(args.out)
    pages = len(list(out.rglob("*.html")))
    print(f"{out.relative_to(ROOT) if out.is_relative_to(ROOT) else out}: {pages} pages in "
          f"{time.perf_counter() - start:.0f} s; open index.html in a browser")


if __name__ == "__main__":
    main()
