"""Helpers that several test modules share (not a test module: pytest collects test_*.py only)."""

import importlib.util
import socket
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    """A loopback port that nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load_classroom():
    """tools/classroom.py as a module (a script beside the package, not part of it)."""
    if "classroom" in sys.modules:
        return sys.modules["classroom"]
    spec = importlib.util.spec_from_file_location("classroom", ROOT / "tools" / "classroom.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules["classroom"] = module
    spec.loader.exec_module(module)
    return module
