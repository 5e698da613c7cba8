"""The errata: one list, in 00_start_here and on the website, each item linked to a section that
exists."""

import json
from pathlib import Path

from nodebook_utils import errata

ROOT = Path(__file__).resolve().parents[1]


def test_every_erratum_links_to_a_section_that_exists():
    assert errata.missing_sections() == []
    assert len(errata.ERRATA) >= 8  # section 4 of the sources' list, and what lessons found


def test_every_erratum_names_a_lesson_that_exists():
    """The website's errata page shows the same list (tests/test_site.py)."""
    for e in errata.ERRATA:
        assert (ROOT / "notebooks" / e.notebook).exists()


def test_00_shows_the_list_it_generated():
    path = ROOT / "notebooks" / "00_start_here.ipynb"
    cells = json.loads(path.read_text(encoding="utf-8"))["cells"]
    shown = [
        "".join(out["data"]["text/markdown"])
        for c in cells if c["cell_type"] == "code" and "errata_markdown()" in "".join(c["source"])
        for out in c["outputs"] if "text/markdown" in out.get("data", {})
    ]
    assert shown == [errata.errata_markdown()]


def test_a_missing_heading_is_reported(monkeypatch):
    wrong = errata.Erratum("x", "y", "z", "01_discrete_convolution.ipynb", "No such heading")
    monkeypatch.setattr(errata, "ERRATA", (wrong,))
    assert errata.missing_sections() == [wrong]
