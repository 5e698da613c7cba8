"""`make lab` starts a JupyterLab server that serves the course's notebooks over HTTP."""

import json
import os
import secrets
import signal
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_make_lab_serves_the_notebooks(tmp_path):
    port, token = free_port(), secrets.token_hex(16)
    env = dict(os.environ, JUPYTER_TOKEN=token, JUPYTER_RUNTIME_DIR=str(tmp_path))
    log = open(tmp_path / "lab.log", "w")
    proc = subprocess.Popen(
        ["make", "lab", f"PORT={port}", "LAB_ARGS=--no-browser --ServerApp.port_retries=0"],
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
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()
    output = (tmp_path / "lab.log").read_text()
    assert listing is not None, f"the server did not answer in 90 s:\n{output[-3000:]}"
    names = {item["name"] for item in listing["content"]}
    assert {p.name for p in (ROOT / "notebooks").glob("*.ipynb")} <= names
    assert "00_start_here.ipynb" in names
    assert f"127.0.0.1:{port}/lab" in output
