"""Settings, setup() and the path shortening used in notebook outputs."""

import os
import subprocess
from pathlib import Path

import pytest
import torch

import nodebook_utils
from nodebook_utils.config import get_settings, short_path

VARS = ("NODEBOOK_MODE", "NODEBOOK_DEVICE", "NODEBOOK_SEED", "NODEBOOK_DATA", "NODEBOOK_MIRROR",
        "NODEBOOK_OFFLINE")


@pytest.fixture
def clean_env(monkeypatch):
    for name in VARS:
        monkeypatch.delenv(name, raising=False)
    return monkeypatch


def test_defaults(clean_env):
    cfg = get_settings()
    assert cfg.mode == "standard"
    assert cfg.seed == 0
    assert cfg.data_dir == Path.home() / ".cache" / "nodebook"
    assert cfg.mirror is None
    assert cfg.offline is False
    mps = getattr(torch.backends, "mps", None)
    if torch.cuda.is_available():
        expected = "cuda"
    elif mps is not None and mps.is_available():
        expected = "mps"
    else:
        expected = "cpu"
    assert cfg.device.type == expected  # the best device there is, decided independently


def test_every_variable_is_read(clean_env, tmp_path):
    clean_env.setenv("NODEBOOK_MODE", "FAST")
    clean_env.setenv("NODEBOOK_DEVICE", "cpu")
    clean_env.setenv("NODEBOOK_SEED", "7")
    clean_env.setenv("NODEBOOK_DATA", str(tmp_path / "cache"))
    clean_env.setenv("NODEBOOK_MIRROR", str(tmp_path / "mirror"))
    clean_env.setenv("NODEBOOK_OFFLINE", "1")
    (tmp_path / "mirror").mkdir()
    cfg = get_settings()
    assert (cfg.mode, cfg.device, cfg.seed) == ("fast", torch.device("cpu"), 7)
    assert cfg.data_dir == tmp_path / "cache" and cfg.mirror == tmp_path / "mirror"
    assert cfg.offline and cfg.fast
    assert cfg.pick(fast=1, standard=2, full=3) == 1


@pytest.mark.parametrize("mode, value", [("standard", 2), ("full", 3)])
def test_pick_follows_mode(clean_env, mode, value):
    clean_env.setenv("NODEBOOK_MODE", mode)
    assert get_settings().pick(fast=1, standard=2, full=3) == value


@pytest.mark.parametrize(
    "name, value, message",
    [
        ("NODEBOOK_MODE", "quick", "fast, standard, full"),
        ("NODEBOOK_SEED", "zero", "not an integer"),
        ("NODEBOOK_DEVICE", "gpu0", "not a device name"),
    ],
)
def test_bad_values_are_explained(clean_env, name, value, message):
    clean_env.setenv(name, value)
    with pytest.raises(ValueError, match=message):
        get_settings()


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on a machine without CUDA")
def test_cuda_without_gpu_is_an_error(clean_env):
    clean_env.setenv("NODEBOOK_DEVICE", "cuda")
    with pytest.raises(ValueError, match="cuda"):
        get_settings()


def test_offline_flag_values(clean_env):
    for value, expected in [("0", False), ("", False), ("true", True), ("yes", True)]:
        clean_env.setenv("NODEBOOK_OFFLINE", value)
        assert get_settings().offline is expected


def test_short_path_hides_machine_paths(tmp_path):
    assert short_path(Path.home() / ".cache" / "nodebook") == "~/.cache/nodebook"
    assert short_path(Path.home()) == "~"
    assert short_path(tmp_path / "x").startswith(("$TMPDIR/", "${TMPDIR:-/tmp}/"))
    assert not short_path(Path.cwd() / "a" / "b").startswith("/")


def test_short_path_can_be_pasted_into_a_shell(tmp_path, monkeypatch):
    """Each form names the folder in a POSIX shell: ~ and $TMPDIR only where they mean it."""
    folder = tmp_path / "with space" / "data"
    folder.mkdir(parents=True)
    (folder / "marker").write_text("here", encoding="utf-8")
    home = tmp_path / "home"
    (home / ".cache").mkdir(parents=True)
    (home / ".cache" / "marker").write_text("home", encoding="utf-8")
    cases = []
    for tmpdir in (None, str(tmp_path)):  # TMPDIR unset, and TMPDIR naming the temp folder
        if tmpdir is None:
            monkeypatch.delenv("TMPDIR", raising=False)
            monkeypatch.setattr("tempfile.tempdir", "/tmp")
        else:
            monkeypatch.setenv("TMPDIR", tmpdir)
            monkeypatch.setattr("tempfile.tempdir", tmpdir)
        monkeypatch.setenv("HOME", str(home))
        cases.append((short_path(folder / "marker"), "here", dict(os.environ)))
        cases.append((short_path(home / ".cache" / "marker"), "home", dict(os.environ)))
    assert cases[1][0] == "~/.cache/marker"
    assert cases[2][0].startswith("$TMPDIR/") and "'with space/data/marker'" in cases[2][0]
    for shown, content, env in cases:
        out = subprocess.run(["sh", "-c", f"cat {shown}"], env=env, capture_output=True,
                             text=True, check=True).stdout
        assert out == content, shown


def test_short_path_prefers_the_nearer_base(tmp_path, monkeypatch):
    """A home folder inside the temporary folder (a fresh HOME for a clean run) prints as ~."""
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setenv("TMPDIR", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert short_path(tmp_path / "home" / ".cache" / "nodebook") == "~/.cache/nodebook"
    assert short_path(tmp_path / "other") == "$TMPDIR/other"


def test_short_path_outside_home_temp_and_checkout_is_absolute(monkeypatch, tmp_path):
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    elsewhere = Path("/opt/some data/mirror")
    assert short_path(elsewhere) == "'/opt/some data/mirror'"
    results = Path(nodebook_utils.__file__).resolve().parents[1] / "results" / "x.json"
    assert short_path(results) == os.path.relpath(results)  # the course's files: relative


def test_setup_seeds_prints_one_line_and_returns_settings(clean_env, capsys):
    clean_env.setenv("NODEBOOK_SEED", "3")
    clean_env.setenv("NODEBOOK_MODE", "fast")
    threads = torch.get_num_threads()
    try:
        cfg = nodebook_utils.setup(threads=1)
        first = torch.rand(3)
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(threads)
    out = capsys.readouterr().out
    assert out.count("\n") == 1
    for word in ("torch", "torchdiffeq", "device", "mode fast", "seed 3", "data ~/"):
        assert word in out
    nodebook_utils.setup(quiet=True)
    assert torch.equal(first, torch.rand(3))
    assert capsys.readouterr().out == ""
    assert cfg.seed == 3
