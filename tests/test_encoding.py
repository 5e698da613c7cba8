"""Text files are UTF-8 everywhere: on Windows' default encoding (cp1252) a file read
without ``encoding=`` cannot hold 'ℝ' or '→', and the course must not depend on the locale."""

import ast
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
FOLDERS = ("nodebook_utils", "tools", "tests", "benchmarks")
TEXT_CALLS = {"open", "read_text", "write_text"}


def calls_without_encoding(path: Path) -> list[str]:
    """``open(...)``, ``.read_text()`` and ``.write_text()`` calls in ``path`` that name no
    encoding and do not open a binary file (a mode with "b")."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if not isinstance(node, ast.Call):
            continue
        name = getattr(node.func, "attr", getattr(node.func, "id", None))
        if name not in TEXT_CALLS or any(k.arg == "encoding" for k in node.keywords):
            continue
        if isinstance(node.func, ast.Attribute) and name == "open" and not (
                isinstance(node.func.value, ast.Name) and node.func.value.id in ("io", "path")):
            continue  # os.open, Image.open, webbrowser.open...: not text files
        modes = [a.value for a in node.args[1:2] if isinstance(a, ast.Constant)]
        modes += [k.value.value for k in node.keywords
                  if k.arg == "mode" and isinstance(k.value, ast.Constant)]
        if any("b" in str(m) for m in modes):
            continue
        found.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    return found


def test_every_text_file_is_opened_as_utf8():
    found = [hit for folder in FOLDERS for path in sorted((ROOT / folder).rglob("*.py"))
             for hit in calls_without_encoding(path)]
    assert not found, f"open/read_text/write_text without encoding='utf-8': {found}"


def test_the_check_finds_a_call_without_encoding(tmp_path):
    sample = ROOT / "tests" / "_encoding_sample.py"
    try:
        sample.write_text("from pathlib import Path\nPath('x').read_text()\nopen('y')\n"
                          "open('z', 'rb')\nPath('w').write_text('a', encoding='utf-8')\n",
                          encoding="utf-8")
        assert calls_without_encoding(sample) == ["tests/_encoding_sample.py:2",
                                                  "tests/_encoding_sample.py:3"]
    finally:
        sample.unlink()


def test_package_reads_its_files_under_a_non_utf8_default(tmp_path):
    """Python's EncodingWarning (-X warn_default_encoding) fires wherever a text file is
    opened with the locale's encoding; made an error for the package's own modules, any
    such call on these paths fails, whatever this machine's locale is."""
    course = tmp_path / "course"
    shutil.copytree(ROOT / "notebooks", course / "notebooks")
    (course / "nodebook_utils").mkdir()
    shutil.copy(ROOT / "nodebook_utils" / "publish.py", course / "nodebook_utils")
    shutil.copy(ROOT / "README.md", course / "README.md")
    code = ("import warnings\n"
            "warnings.filterwarnings('error', category=EncodingWarning,"
            " module=r'nodebook_utils(\\..*)?$')\n"
            "from pathlib import Path\n"
            "from nodebook_utils import errata, publish\n"
            "assert errata.missing_sections() == []\n"
            f"publish.publish(Path({str(course)!r}), 'someone/fork', 'v9.9')\n")
    done = subprocess.run([sys.executable, "-X", "warn_default_encoding", "-c", code], cwd=ROOT,
                          capture_output=True, text=True, encoding="utf-8")
    assert done.returncode == 0, done.stderr[-2000:]
