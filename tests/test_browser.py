"""The lessons' widgets work in a real browser: JupyterLab runs headless on a free loopback port,
Debian's Chromium (driven by Playwright, which cannot download browsers here) opens lessons 1
and 4, runs all cells from the Run menu, moves each slider and checks that the figure it drives
changes; Alt+R presents lesson 4 with RISE; and lesson 4's slides (`make slides`) start and
typeset their maths with every request that is not a local file refused. Screenshots go to
build/test-artifacts/browser/.

The notebooks run from copies with their outputs removed, so a prompt with a number proves the
browser ran that cell, and nothing the browser does can touch the committed files. Without
Chromium or Playwright the test skips, except in CI (NODEBOOK_CI=1), where it fails.
"""

import json
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from support import free_port, load_classroom

ROOT = Path(__file__).resolve().parents[1]
CHROMIUM = Path(os.environ.get("NODEBOOK_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = ROOT / "build" / "test-artifacts" / "browser"
NOTEBOOKS = ["01_discrete_convolution.ipynb", "04_resnets_as_euler.ipynb"]
# The launch flags the issue names; without the background-networking flag Chromium keeps
# trying to reach Google's hosts, which this closed network refuses.
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]
# Settings for the test's JupyterLab only: every cell stays in the page (JupyterLab 4 otherwise
# renders only the cells in view), and nothing is autosaved.
LAB_SETTINGS = {
    "@jupyterlab/notebook-extension/tracker.jupyterlab-settings": {"windowingMode": "none"},
    "@jupyterlab/docmanager-extension/plugin.jupyterlab-settings": {"autosave": False},
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings": {
        "fetchNews": "false", "checkForUpdates": False},
}
RUN_TIMEOUT_S = 240  # a lesson's cells in fast mode take well under a minute on 2 cores

try:
    from playwright.sync_api import sync_playwright
except ImportError:  # pragma: no cover - depends on the environment
    sync_playwright = None


def missing() -> str | None:
    """Why the browser test cannot run here, or None."""
    if sync_playwright is None:
        return "Playwright for Python is not installed (pip install playwright; it is in [test])"
    if not CHROMIUM.exists():
        return (f"no Chromium at {CHROMIUM}: install Debian's (apt-get install chromium) or set "
                "NODEBOOK_CHROMIUM to a Chromium binary")
    return None


if missing():
    if os.environ.get("NODEBOOK_CI") == "1":
        raise RuntimeError(f"the browser test must run in CI: {missing()}")
    pytest.skip(missing(), allow_module_level=True)


def slider_count(notebook: nbformat.NotebookNode) -> int:
    """How many slider widgets the lesson's own cells (not its solutions) create."""
    return sum(len(re.findall(r"widgets\.\w*Slider\(", cell.source))
               for cell in notebook.cells
               if cell.cell_type == "code" and "solution" not in cell.metadata.get("tags", []))


class Lab:
    """A JupyterLab server on a free loopback port, serving copies of the lessons."""

    def __init__(self, home: Path) -> None:
        self.port, self.token = free_port(), secrets.token_hex(16)
        self.base = f"http://127.0.0.1:{self.port}"
        (home / "notebooks").mkdir(parents=True)
        for name in NOTEBOOKS:
            notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
            for cell in notebook.cells:
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            nbformat.write(notebook, home / "notebooks" / name)
        for name, values in LAB_SETTINGS.items():
            path = home / "settings" / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values), encoding="utf-8")
        env = dict(os.environ, NODEBOOK_MODE="fast", JUPYTERLAB_SETTINGS_DIR=str(home / "settings"),
                   JUPYTERLAB_WORKSPACES_DIR=str(home / "workspaces"),
                   JUPYTER_RUNTIME_DIR=str(home / "runtime"), JUPYTER_DATA_DIR=str(home / "data"),
                   JUPYTER_CONFIG_DIR=str(home / "config"), TQDM_DISABLE="1")
        self.log_path = home / "lab.log"
        self.log = open(self.log_path, "w", encoding="utf-8")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "jupyter", "lab", "--no-browser", "--ip=127.0.0.1",
             f"--port={self.port}", "--ServerApp.port_retries=0",
             f"--IdentityProvider.token={self.token}", f"--ServerApp.root_dir={home}",
             *(["--allow-root"] if os.geteuid() == 0 else [])],
            cwd=home, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)
        deadline = time.monotonic() + 90
        while self.api("status") is None:
            assert self.proc.poll() is None and time.monotonic() < deadline, (
                f"JupyterLab did not start:\n{self.log_text()}")
            time.sleep(0.5)

    def api(self, path: str):
        """A JSON answer of the server's REST API, or None while it does not answer."""
        request = urllib.request.Request(f"{self.base}/api/{path}",
                                         headers={"Authorization": f"token {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            return None

    def kernel_idle(self, name: str) -> bool:
        """Whether the notebook's kernel has started and is idle."""
        sessions = self.api("sessions") or []
        return any(s["path"] == f"notebooks/{name}" and s["kernel"]["execution_state"] == "idle"
                   for s in sessions)

    def log_text(self) -> str:
        self.log.flush()
        return self.log_path.read_text(encoding="utf-8")[-3000:]

    def stop(self) -> None:
        os.killpg(self.proc.pid, signal.SIGTERM)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.proc.pid, signal.SIGKILL)
        self.log.close()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    server = Lab(tmp_path_factory.mktemp("lab"))
    yield server
    server.stop()


@pytest.fixture(scope="module")
def browser():
    shutil.rmtree(ARTIFACTS, ignore_errors=True)
    ARTIFACTS.mkdir(parents=True)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True,
                                              args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


# Each code cell's prompt, "[3]:" once it has run. A cell whose code is hidden (a solution)
# shows no prompt; it has run when it has output, which every hidden cell of the course prints.
PROMPTS_JS = """() => Array.from(document.querySelectorAll('.jp-Notebook .jp-CodeCell'))
    .map(cell => cell.querySelector('.jp-InputPlaceholder')
        ? (cell.classList.contains('jp-mod-noOutputs') ? 'hidden, no output' : '[hidden]:')
        : cell.querySelector('.jp-InputPrompt').textContent.trim())"""
RAN = re.compile(r"\[(\d+|hidden)\]:")
ERRORS_JS = """() => Array.from(document.querySelectorAll(
    '.jp-Notebook .jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]'))
    .map(node => node.textContent).filter(text => text.includes('Traceback')
        || /^\\w*Error/m.test(text))"""
# What a slider drives: the images in the output area that holds the slider's widget, once
# they are drawn ("" while the figure is being replaced).
FIGURE_JS = """slider => {
    const images = Array.from(slider.closest('.jp-OutputArea-child')
        .querySelectorAll('.widget-output img'));
    return images.length && images.every(img => img.complete && img.naturalWidth > 0)
        ? images.map(img => img.src).join('|') : '';
}"""


def wait_for_new_figure(slider, before: str, timeout_s: float = 30) -> str:
    """The slider's figure once it differs from `before` and has stayed the same for 1 s."""
    deadline, last, since = time.monotonic() + timeout_s, None, time.monotonic()
    while time.monotonic() < deadline:
        now = slider.evaluate(FIGURE_JS)
        if now != last:
            last, since = now, time.monotonic()
        elif now not in ("", before) and time.monotonic() - since >= 1:
            return now
        time.sleep(0.2)
    pytest.fail("the figure did not change after the slider moved")


def open_lesson(page, lab: Lab, name: str, workspace: str) -> None:
    """Open a lesson in a JupyterLab workspace of its own (so the page shows it alone) and
    wait until its cells are on the page and its kernel is ready."""
    page.goto(f"{lab.base}/lab/workspaces/{workspace}/tree/notebooks/{name}?token={lab.token}")
    page.locator(".jp-Notebook .jp-CodeCell").first.wait_for(timeout=60_000)
    deadline = time.monotonic() + 60
    while not lab.kernel_idle(name):
        assert time.monotonic() < deadline, f"no idle kernel for {name}:\n{lab.log_text()}"
        time.sleep(0.5)


def run_all_cells(page, lab: Lab, name: str) -> list[str]:
    """Run the notebook from the Run menu; wait until every code cell has run; the prompts."""
    page.get_by_role("menuitem", name="Run", exact=True).click()
    page.get_by_text("Run All Cells", exact=True).click()
    deadline, idle_polls, prompts = time.monotonic() + RUN_TIMEOUT_S, 0, []
    while time.monotonic() < deadline:
        prompts = page.evaluate(PROMPTS_JS)
        if prompts and all(RAN.fullmatch(p) for p in prompts):
            return prompts
        # Run All stops at an error: the kernel is idle and nothing is queued, three polls running
        queued = any(p == "[*]:" for p in prompts)
        idle_polls = idle_polls + 1 if (lab.kernel_idle(name) and not queued) else 0
        if idle_polls >= 3:
            break
        time.sleep(1)
    stem = name.removesuffix(".ipynb")
    page.screenshot(path=ARTIFACTS / f"{stem}-stopped.png")
    not_run = [i for i, p in enumerate(prompts) if not RAN.fullmatch(p)]
    pytest.fail(f"{stem}: code cells {not_run} of {len(prompts)} did not run; errors: "
                f"{page.evaluate(ERRORS_JS)[:2]}\n{lab.log_text()}")


@pytest.mark.parametrize("name", NOTEBOOKS)
def test_widgets_respond_in_chromium(lab, browser, name):
    stem = name.removesuffix(".ipynb")
    notebook = nbformat.read(ROOT / "notebooks" / name, as_version=4)
    code = [cell for cell in notebook.cells if cell.cell_type == "code"]
    expected_sliders = slider_count(notebook)
    assert expected_sliders >= 1, f"{name} has no slider to test"
    assert all(cell.outputs for cell in code if cell.metadata.get("jupyter", {}).get(
        "source_hidden")), "a hidden cell prints something, so the page shows that it ran"
    page = browser.new_page(viewport={"width": 1280, "height": 960})
    try:
        open_lesson(page, lab, name, workspace=stem)
        prompts = run_all_cells(page, lab, name)
        assert len(prompts) == len(code)
        assert page.evaluate(ERRORS_JS) == []
        page.screenshot(path=ARTIFACTS / f"{stem}-run.png")

        sliders = page.locator(".jp-OutputArea .widget-slider")
        assert sliders.count() == expected_sliders, "each slider of the lesson renders"
        for i in range(expected_sliders):
            slider = sliders.nth(i)
            slider.scroll_into_view_if_needed()
            area = slider.locator("xpath=ancestor::div[contains(@class, 'jp-OutputArea-child')]")
            readout = slider.locator(".widget-readout")
            before = slider.evaluate(FIGURE_JS)
            before_value = readout.text_content()
            assert before.startswith("data:image/png"), "the slider drives a figure"
            area.screenshot(path=ARTIFACTS / f"{stem}-slider{i}-before.png")

            handle = slider.locator(".noUi-handle")
            handle.focus()
            handle.press("ArrowRight")  # one step to the right, as a learner would with the keys
            after = wait_for_new_figure(slider, before)
            area.screenshot(path=ARTIFACTS / f"{stem}-slider{i}-after.png")
            assert after.startswith("data:image/png") and after != before
            assert readout.text_content() != before_value, "the readout follows the slider"
        assert page.evaluate(ERRORS_JS) == [], "moving the sliders raised no error"
    finally:
        page.close()


def test_rise_presents_a_lesson_inside_jupyterlab(lab, browser):
    """RISE (jupyterlab-rise, in the lab extra): Alt+R on a lesson opens its slides in a panel."""
    name = "04_resnets_as_euler.ipynb"
    page = browser.new_page(viewport={"width": 1280, "height": 900})
    try:
        open_lesson(page, lab, name, workspace="rise")
        page.locator(".jp-Notebook .jp-Cell").first.click()  # the notebook has the focus
        page.keyboard.press("Alt+r")
        deadline, frame = time.monotonic() + 60, None
        while frame is None and time.monotonic() < deadline:
            frame = next((f for f in page.frames if f"/rise/notebooks/{name}" in f.url), None)
            page.wait_for_timeout(500)  # lets Playwright take in the new frame (sleep would not)
        assert frame is not None, "Alt+R opened no RISE panel"
        frame.wait_for_selector(".reveal.ready", timeout=60_000)
        sections = frame.evaluate("() => document.querySelectorAll('.reveal .slides section')"
                                  ".length")
        assert sections >= 10, "the lesson is cut into slides"
        page.screenshot(path=ARTIFACTS / "04_resnets_as_euler-rise.png")
    finally:
        page.close()


def test_slides_run_offline_in_chromium(browser):
    """`make slides`' deck for lesson 4 starts reveal.js and typesets its maths in Chromium
    while every request that is not a local file is refused."""
    classroom = load_classroom()
    out = ROOT / "build" / "slides"
    classroom.install_vendor(out)  # fetched from npm once, as `make slides` does
    path = ROOT / "notebooks" / "04_resnets_as_euler.ipynb"
    (deck,) = classroom.export([path], "slides", out)
    lesson = nbformat.read(path, as_version=4)
    classroom.with_slide_metadata(lesson)
    expected = sum(c.metadata["slideshow"]["slide_type"] in ("slide", "subslide")
                   for c in classroom.deck_cells(lesson.cells))
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    remote: list[str] = []

    def refuse_remote(route):
        if route.request.url.startswith("file://"):
            route.continue_()
        else:
            remote.append(route.request.url)
            route.abort()

    context.route("**/*", refuse_remote)
    page = context.new_page()
    problems: list[str] = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # reveal.js is an AMD module that require.js loaded, not a global
    reveal = f"require('{classroom.REVEAL}/dist/reveal.js')"
    try:
        page.goto(deck.as_uri())
        page.wait_for_function(f"() => {{ try {{ return {reveal}.isReady(); }}"
                               " catch (error) { return false; } }", timeout=30_000)
        page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue"
                               " && MathJax.Hub.queue.pending === 0"
                               " && document.querySelectorAll('.MathJax_CHTML').length > 0",
                               timeout=60_000)
        page.screenshot(path=ARTIFACTS / "04_resnets_as_euler-slide1.png")
        assert page.evaluate(f"() => {reveal}.getTotalSlides()") == expected
        first = page.evaluate("() => { const s = document.querySelector("
                              "'.reveal .slides > section.present > section.present');"
                              " return [s.scrollHeight, s.clientHeight,"
                              " getComputedStyle(s).overflowY]; }")
        assert first[2] == "auto" and first[1] <= 700, "a tall slide scrolls, not cut off"
        page.keyboard.press("ArrowRight")  # the next slide, as a lecturer's clicker would
        page.wait_for_function(f"() => {reveal}.getIndices().h === 1", timeout=10_000)
        page.wait_for_timeout(1000)  # the slide transition, before the screenshot
        page.screenshot(path=ARTIFACTS / "04_resnets_as_euler-slide2.png")
        math_errors = page.evaluate("() => document.querySelectorAll('.MathJax_Error,"
                                    " .mjx-merror, merror').length")
        assert math_errors == 0, "every formula typesets"
    finally:
        context.close()
    assert remote == [], f"the slides asked the network for {remote}"
    assert problems == [], f"script errors: {problems}"


# Every slide's content height against its box, and every code block that is wider than its
# box: it must scroll sideways (overflow-x auto or scroll), never be cut off.
SLIDE_FIT_JS = """() => {
  const R = require('%s');
  const tall = [], cut = [];
  R.getSlides().forEach((slide) => {
    const at = R.getIndices(slide);
    R.slide(at.h, at.v);
    if (slide.scrollHeight > slide.clientHeight + 2) tall.push([at.h, at.v]);
    slide.querySelectorAll('pre').forEach((pre) => {
      const x = getComputedStyle(pre).overflowX;
      if (pre.scrollWidth > pre.clientWidth + 2 && x !== 'auto' && x !== 'scroll')
        cut.push([at.h, at.v]);
    });
  });
  return [tall, cut, R.getTotalSlides()];
}"""


@pytest.mark.parametrize("name", ["09_ecg_resnet_vs_node.ipynb", "10_fast_neural_odes.ipynb"])
def test_every_slide_fits_the_screen_and_no_code_line_is_cut_off(browser, name):
    """The two longest lessons: a slide taller than the screen, or a code line cut off at its
    right edge, fails (long cells continue on sub-slides; long lines scroll sideways)."""
    classroom = load_classroom()
    out = ROOT / "build" / "slides"
    classroom.install_vendor(out)
    (deck,) = classroom.export([ROOT / "notebooks" / name], "slides", out)
    context = browser.new_context(viewport={"width": 1280, "height": 800})
    context.route("**/*", lambda route: route.continue_() if route.request.url.startswith(
        "file://") else route.abort())
    page = context.new_page()
    reveal = f"require('{classroom.REVEAL}/dist/reveal.js')"
    try:
        page.goto(deck.as_uri())
        page.wait_for_function(f"() => {{ try {{ return {reveal}.isReady(); }}"
                               " catch (error) { return false; } }", timeout=30_000)
        page.wait_for_function("() => window.MathJax && MathJax.Hub && MathJax.Hub.queue"
                               " && MathJax.Hub.queue.pending === 0", timeout=60_000)
        tall, cut, total = page.evaluate(SLIDE_FIT_JS % f"{classroom.REVEAL}/dist/reveal.js")
    finally:
        context.close()
    assert total > 10
    assert not cut, f"{name}: code cut off on slides {cut}"
    assert not tall, f"{name}: {len(tall)} of {total} slides taller than the screen: {tall}"
