"""The course website (`make site`): built offline from the committed notebooks, then read in
Chromium with every request that is not a local file refused. Every page loads without a
console error, every internal link and image resolves, maths is typeset on lesson 06, the
search finds lesson 06 for "adjoint", a solution stays collapsed until clicked, and the home
page and lesson 05 are photographed at phone width (build/test-artifacts/site/).

Without Chromium or Playwright the browser part skips, except in CI (NODEBOOK_CI=1), where it
fails, like tests/test_browser.py.
"""

import json
import os
import re
import time
from pathlib import Path
from urllib.parse import unquote, urldefrag, urlparse

import pytest

ROOT = Path(__file__).resolve().parents[1]

CHROMIUM = Path(os.environ.get("NODEBOOK_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "build" / "test-artifacts" / "site"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
PHONE = {"width": 390, "height": 844}


def load_site_tool():
    """tools/site.py (its name clashes with the standard library's `site` module)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("nodebook_site", ROOT / "tools" / "site.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    tool = load_site_tool()
    start = time.perf_counter()
    out = tool.build(tmp_path_factory.mktemp("site") / "site")
    return tool, out, time.perf_counter() - start


def test_site_builds_offline_quickly_with_a_page_per_lesson(built):
    tool, out, seconds = built
    from nodebook_utils import course

    for lesson in course.LESSONS:
        assert (out / "lessons" / lesson.notebook.replace(".ipynb", ".html")).exists()
    for page in ("index", "report", "errata", "benchmarks", "teaching", "setup",
                 "maintainers", "search"):
        assert (out / f"{page}.html").exists(), page
    assert seconds < 180, f"make site took {seconds:.0f} s (the issue allows 3 minutes)"


def test_pages_say_what_the_package_computes(built):
    """The generated parts cannot drift: syllabus, errata, report, benchmark tables."""
    tool, out, _ = built
    from nodebook_utils import course, errata, fast

    stage = tool.STAGE
    index = (stage / "index.md").read_text(encoding="utf-8")
    assert course.syllabus_markdown("lessons/") in index
    assert (stage / "report.md").read_text(encoding="utf-8").startswith("# Reproduction report")
    errata_page = (stage / "errata.md").read_text(encoding="utf-8")
    assert all(e.wrong in errata_page for e in errata.ERRATA)
    benchmarks = (stage / "benchmarks.md").read_text(encoding="utf-8")
    for name, original in (("ecg_speed", "original"), ("mnist_speed", "reference")):
        result = json.loads((ROOT / "benchmarks" / "results" / f"{name}.json").read_text(
            encoding="utf-8"))
        assert result["mode"] == "full" and result["hardware"]["summary"]
        assert fast.readme_table(result, original) in benchmarks
    toctree = re.findall(r"^lessons/(\S+)$", index, flags=re.M)
    assert toctree == [lesson.notebook.removesuffix(".ipynb") for lesson in course.LESSONS]


def test_staged_lessons_collapse_solutions_and_replace_widgets(built):
    tool, _, _ = built
    lesson = json.loads((tool.STAGE / "lessons" / "04_resnets_as_euler.ipynb").read_text(
        encoding="utf-8"))
    solutions = [c for c in lesson["cells"] if "solution" in c["metadata"].get("tags", [])]
    assert solutions and all("hide-cell" in c["metadata"]["tags"] for c in solutions)
    outputs = [o for c in lesson["cells"] if c["cell_type"] == "code" for o in c["outputs"]]
    assert not any(tool.WIDGET in o.get("data", {}) for o in outputs)
    assert any(tool.WIDGET_NOTE == o.get("data", {}).get("text/markdown") for o in outputs)
    text = json.dumps(lesson)
    assert "colab.research.google.com/assets" not in text and "../_static/colab-badge.svg" in text


def test_links_to_headings_use_the_sites_anchors():
    tool = load_site_tool()
    anchors = {"06_adjoint_method.ipynb": {"2.-The-adjoint": "2-the-adjoint"}}
    text = "[a](lessons/06_adjoint_method.ipynb#2.-The-adjoint) [b](#2.-The-adjoint) [c](x.md)"
    assert tool.site_links(text, anchors, "06_adjoint_method.ipynb") == (
        "[a](lessons/06_adjoint_method.ipynb#2-the-adjoint) [b](#2-the-adjoint) [c](x.md)")


# --- in Chromium --------------------------------------------------------------------------------

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


def missing() -> str | None:
    if sync_playwright is None:
        return "Playwright for Python is not installed (it is in [test])"
    if not CHROMIUM.exists():
        return f"no Chromium at {CHROMIUM}: apt-get install chromium, or set NODEBOOK_CHROMIUM"
    return None


@pytest.fixture(scope="module")
def browser():
    if missing():
        if os.environ.get("NODEBOOK_CI") == "1":
            pytest.fail(f"the site's browser test must run in CI: {missing()}")
        pytest.skip(missing())
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def offline_page(browser, viewport=None):
    """A page whose every request that is not a local file is refused and recorded, with
    its console errors and page errors recorded."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    remote, errors = [], []

    def refuse(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            remote.append(route.request.url)
            route.abort()

    context.route("**/*", refuse)
    page = context.new_page()
    page.on("console", lambda m: errors.append(m.text) if m.type == "error" else None)
    page.on("pageerror", lambda e: errors.append(str(e)))
    return context, page, remote, errors


def ids(page: Path, cache: dict = {}) -> set[str]:  # noqa: B006 (a cache on purpose)
    """The element ids of a built page: what a link's #fragment can point at."""
    if page not in cache:
        cache[page] = set(re.findall(r'\bid="([^"]+)"', page.read_text(encoding="utf-8")))
    return cache[page]


LINKS_JS = """() => [
  ...Array.from(document.querySelectorAll('a[href]')).map(a => ['a', a.href]),
  ...Array.from(document.querySelectorAll('img')).map(i => ['img', i.src, i.naturalWidth]),
]"""


def test_every_page_loads_offline_without_errors_and_every_link_resolves(built, browser):
    _, out, _ = built
    context, page, remote, errors = offline_page(browser)
    pages = sorted(p for p in out.rglob("*.html") if p.relative_to(out).parts[0] != "_static")
    broken = []
    try:
        for path in pages:
            errors.clear()
            page.goto(path.as_uri(), wait_until="load")
            assert not errors, f"{path.relative_to(out)}: {errors[:3]}"
            for kind, url, *size in page.evaluate(LINKS_JS):
                parsed = urlparse(url)
                if parsed.scheme != "file":
                    continue  # an external link: followed by a reader, never requested here
                address, fragment = urldefrag(url)
                target = Path(unquote(address.removeprefix("file://")))
                if not target.exists() or (kind == "img" and size and size[0] == 0):
                    broken.append(f"{path.relative_to(out)} -> {url}")
                elif fragment and target.suffix == ".html" and unquote(fragment) not in ids(
                        target):
                    broken.append(f"{path.relative_to(out)} -> {url} (no such anchor)")
    finally:
        context.close()
    assert not broken, broken[:10]
    assert not [u for u in remote if not u.startswith("data:")], remote[:5]
    assert len(pages) >= 19


def test_maths_is_typeset_on_lesson_06(built, browser):
    _, out, _ = built
    context, page, remote, errors = offline_page(browser)
    try:
        page.goto((out / "lessons" / "06_adjoint_method.html").as_uri())
        page.wait_for_function("() => document.querySelectorAll('mjx-container').length > 10",
                               timeout=60_000)
    finally:
        context.close()
    assert not remote and not errors


def test_search_finds_lesson_06_for_adjoint(built, browser):
    _, out, _ = built
    context, page, _, errors = offline_page(browser)
    try:
        page.goto((out / "search.html").as_uri() + "?q=adjoint")
        page.wait_for_function("() => document.querySelectorAll('#search-results li').length"
                               " > 0", timeout=60_000)
        hits = page.evaluate("() => Array.from(document.querySelectorAll("
                             "'#search-results li a')).map(a => a.getAttribute('href'))")
    finally:
        context.close()
    assert any("06_adjoint_method" in h for h in hits), hits[:10]


def test_a_solution_is_collapsed_until_clicked(built, browser):
    _, out, _ = built
    context, page, _, _ = offline_page(browser)
    try:
        page.goto((out / "lessons" / "04_resnets_as_euler.html").as_uri())
        solution = page.locator("details.hide").filter(has_text="Solution to exercise 1")
        solution = solution.first
        assert solution.count() == 1
        assert not solution.evaluate("d => d.open")
        assert not solution.locator("pre").first.is_visible()
        solution.locator("summary").click()
        assert solution.evaluate("d => d.open") and solution.locator("pre").first.is_visible()
    finally:
        context.close()


@pytest.mark.parametrize("name", ["index.html", "lessons/05_neural_odes.html"])
def test_pages_fit_a_phone_screen(built, browser, name):
    _, out, _ = built
    context, page, remote, errors = offline_page(browser, PHONE)
    try:
        page.goto((out / name).as_uri())
        width = page.evaluate("() => document.documentElement.scrollWidth")
        page.screenshot(path=ARTIFACTS / (Path(name).stem + "-phone.png"))
    finally:
        context.close()
    assert width <= PHONE["width"] + 1, f"{name} is {width} px wide on a {PHONE['width']} px phone"
    assert not errors
