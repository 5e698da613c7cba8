"""JupyterLab serves the course's notebooks over HTTP, started as `make lab` starts it but from
the environment running the tests (so the test never creates .venv or installs anything)."""

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

from support import free_port

ROOT = Path(__file__).resolve().parents[1]


def make_lab(token: str = "") -> tuple[str, list[str]]:
    """The URL `make lab` prints and the arguments it gives `jupyter lab`, from a dry run."""
    dry = subprocess.run(["make", "-n", "-W", ".venv/.nodebook-installed", "lab",
                          *([f"TOKEN={token}"] if token else [])], cwd=ROOT,
                         capture_output=True, text=True, check=True).stdout
    lines = dry.replace("\\\n", " ").splitlines()
    (line,) = [x for x in lines if "jupyter lab" in x]
    (url,) = [x.split()[-1].strip("\"'") for x in lines if "echo" in x and "token=" in x]
    return url, line.split("jupyter lab", 1)[1].split()


def lab_arguments() -> list[str]:
    return make_lab()[1]


def test_make_lab_starts_jupyterlab_on_the_first_notebook():
    arguments = lab_arguments()
    assert "--LabApp.default_url=/lab/tree/notebooks/00_start_here.ipynb" in arguments
    assert "--ip=127.0.0.1" in arguments and "--ServerApp.root_dir=." in arguments
    assert ("--allow-root" in arguments) == (os.geteuid() == 0)


def test_make_lab_refuses_a_busy_port_with_one_line():
    """JupyterLab would move to the next port, and the URL printed would open the first
    server's login page: make lab stops instead, before printing any URL."""
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        done = subprocess.run(["make", "-o", ".venv/.nodebook-installed", "lab", f"PORT={port}"],
                              cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert done.returncode != 0
    assert f"port {port} is in use" in done.stdout and "token=" not in done.stdout
    assert "--ServerApp.port_retries=0" in lab_arguments()  # and JupyterLab never moves


def test_make_lab_prints_the_url_that_opens_the_first_notebook():
    url, arguments = make_lab()
    token = next(a.split("=", 1)[1] for a in arguments if a.startswith("--IdentityProvider.token="))
    assert len(token) == 32 and url.endswith(f"?token={token}")
    assert url.startswith("http://127.0.0.1:8888/lab/tree/notebooks/00_start_here.ipynb?")
    assert make_lab()[0] != url  # a fresh token each start


def test_jupyterlab_serves_the_notebooks(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp_path))
    start_url, arguments = make_lab(token)
    arguments = [a for a in arguments if not a.startswith("--port=")]
    log = open(tmp_path / "lab.log", "w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, "-m", "jupyter", "lab", *arguments, f"--port={port}", "--no-browser"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}/api/contents/notebooks"
    request = urllib.request.Request(url, headers={"Authorization": f"token {token}"})
    listing, deadline = None, time.monotonic() + 90
    try:
        while listing is None and time.monotonic() < deadline and proc.poll() is None:
            try:
                with urllib.request.urlopen(request, timeout=5) as response:
                    listing = json.load(response)
            except (urllib.error.URLError, ConnectionError):
                time.sleep(0.5)
        # the URL `make lab` prints opens 00 (with the token it gave the server)
        start_url = start_url.replace(":8888/", f":{port}/")
        with urllib.request.urlopen(start_url, timeout=10) as response:
            start_page = response.status, response.read().decode()
        # the course's settings: no "notified about official Jupyter news?" prompt
        notification = urllib.request.Request(
            f"http://127.0.0.1:{port}/lab/api/settings/@jupyterlab/apputils-extension:notification",
            headers={"Authorization": f"token {token}"})
        with urllib.request.urlopen(notification, timeout=10) as response:
            schema = json.load(response)["schema"]["properties"]
        settings = {key: schema[key]["default"] for key in ("fetchNews", "checkForUpdates")}
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "lab.log").read_text(encoding="utf-8")
    assert listing is not None, f"the server did not answer in 90 s:\n{output[-3000:]}"
    names = {item["name"] for item in listing["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= names
    assert "00_start_here.ipynb" in names
    assert start_page[0] == 200 and "JupyterLab" in start_page[1]
    assert f"127.0.0.1:{port}/lab" in output
    assert settings["fetchNews"] == "false" and settings["checkForUpdates"] is False
