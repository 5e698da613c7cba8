"""Where the course is published (00_start_here): the one place that holds the repository and
the tag that every notebook's Colab and Binder badges, its Colab install lines and the README's
launch links point at.

    python -m nodebook_utils.publish --repo OWNER/NAME --ref TAG

rewrites :data:`REPO` and :data:`REF` below, then every badge line (under each notebook's
title), every Colab block (at the top of each notebook's first code cell) and the README's
launch section and syllabus (its Colab and Binder links), all from the same two values.
Running it again with the same values changes nothing. Only cell sources change; outputs
stay as they are.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Sequence
from pathlib import Path

#: The course's repository on GitHub, as OWNER/NAME.
REPO = "nodebook-course/nodebook"
#: The tag (or branch) that Colab installs and Binder builds.
REF = "v0.1.0"

ROOT = Path(__file__).resolve().parents[1]
CLONE = "/content/nodebook"  # where the Colab block clones the course
README_START, README_END = "<!-- launch -->", "<!-- /launch -->"
SYLLABUS_START, SYLLABUS_END = "<!-- syllabus -->", "<!-- /syllabus -->"
_BADGE = re.compile(r"^\[!\[Open in Colab\].*$", re.MULTILINE)
_COLAB_START = "# On Colab only:"
_COLAB_END = "%cd " + CLONE + "/notebooks\n"


def colab_url(notebook: str, repo: str = REPO, ref: str = REF) -> str:
    """The address that opens ``notebooks/<notebook>`` of the repository in Colab."""
    return f"https://colab.research.google.com/github/{repo}/blob/{ref}/notebooks/{notebook}"


def binder_url(notebook: str, repo: str = REPO, ref: str = REF) -> str:
    """The address that builds the repository on Binder and opens the notebook in JupyterLab."""
    return f"https://mybinder.org/v2/gh/{repo}/{ref}?labpath=notebooks%2F{notebook}"


def badges(notebook: str, repo: str = REPO, ref: str = REF) -> str:
    """The badge line under a notebook's title (the images carry alt text)."""
    return (f"[![Open in Colab](https://colab.research.google.com/assets/colab-badge.svg)]"
            f"({colab_url(notebook, repo, ref)}) "
            f"[![Launch on Binder](https://mybinder.org/badge_logo.svg)]"
            f"({binder_url(notebook, repo, ref)})")


def colab_block(repo: str = REPO, ref: str = REF) -> str:
    """The lines at the top of each notebook's first code cell: on Colab only, clone the
    course at ``ref``, install it beside Colab's own torch (:mod:`nodebook_utils.colab`) and
    work from its ``notebooks`` folder, so relative paths hold as in a checkout."""
    return (
        f"{_COLAB_START} the course at {ref}, installed beside Colab's torch (no restart).\n"
        "import sys\n\n"
        'if "google.colab" in sys.modules:\n'
        f'    COURSE, TAG = "https://github.com/{repo}", "{ref}"\n'
        f"    !test -d {CLONE} || git clone -q --depth 1 -b $TAG $COURSE {CLONE}\n"
        f"    !{{sys.executable}} {CLONE}/nodebook_utils/colab.py {CLONE}\n"
        f"    {_COLAB_END}"
    )


def site_url(repo: str = REPO) -> str:
    """Where GitHub Pages serves the course website (``.github/workflows/pages.yml``)."""
    owner, name = repo.split("/")
    return f"https://{owner.lower()}.github.io/{name}/"


def readme_section(repo: str = REPO, ref: str = REF) -> str:
    """The README's launch section: the repository, the website, and badges that open
    00_start_here."""
    return (
        f"{README_START}\n"
        f"Repository: https://github.com/{repo} (tag `{ref}`). Website: {site_url(repo)}\n\n"
        f"{badges('00_start_here.ipynb', repo, ref)}\n"
        f"{README_END}"
    )


def _source(cell: dict) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _lines(text: str) -> list[str]:
    """A cell source as nbformat writes it: a list of lines that keep their newlines."""
    return text.splitlines(keepends=True)


def _with_badges(text: str, line: str) -> str:
    if _BADGE.search(text):
        return _BADGE.sub(lambda _: line, text, count=1)
    title, _, rest = text.partition("\n")
    return f"{title}\n\n{line}\n{rest}" if rest else f"{title}\n\n{line}"


def _with_colab_block(text: str, block: str) -> str:
    if text.startswith(_COLAB_START):
        end = text.index(_COLAB_END) + len(_COLAB_END)
        text = text[end:].lstrip("\n")
    return f"{block}\n{text}"


def _published_notebook(raw: str, name: str, repo: str, ref: str) -> str:
    """A notebook's JSON text with its badge line and Colab block rewritten."""
    notebook = json.loads(raw)
    cells = notebook["cells"]
    first_code = next(c for c in cells if c["cell_type"] == "code")
    cells[0]["source"] = _lines(_with_badges(_source(cells[0]), badges(name, repo, ref)))
    first_code["source"] = _lines(_with_colab_block(_source(first_code), colab_block(repo, ref)))
    return json.dumps(notebook, sort_keys=True, indent=1, ensure_ascii=False) + "\n"  # nbformat's


def publish_notebook(path: Path, repo: str = REPO, ref: str = REF) -> bool:
    """Rewrite one notebook's badge line and Colab block; True if the file changed."""
    raw = path.read_text(encoding="utf-8")
    new = _published_notebook(raw, path.name, repo, ref)
    if new != raw:
        path.write_text(new, encoding="utf-8")
    return new != raw


def without_launch(cells: list[dict]) -> None:
    """Remove the badge line and the Colab block from a notebook's cells, in place: slides are
    presented, not launched, and badge images would be fetched from the internet."""
    first_code = next(c for c in cells if c["cell_type"] == "code")
    text = _source(first_code)
    if text.startswith(_COLAB_START):
        first_code["source"] = text[text.index(_COLAB_END) + len(_COLAB_END):].lstrip("\n")
    cells[0]["source"] = re.sub(r"\n{3,}", "\n\n", _BADGE.sub("", _source(cells[0])))


def _replace_assignment(text: str, name: str, value: str) -> str:
    return re.sub(rf'^{name} = ".*"$', f'{name} = "{value}"', text, count=1, flags=re.MULTILINE)


#: GitHub's rules: an owner is 1-39 letters, digits or single hyphens, not at either end; a
#: repository name is letters, digits, ".", "-" and "_" (not "." or "..").
_OWNER = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9]|-(?=[A-Za-z0-9])){0,38}")
_NAME = re.compile(r"[A-Za-z0-9._-]{1,100}")


def check_repo(repo: str) -> str:
    """``repo`` if GitHub accepts it as OWNER/NAME, else a ValueError saying why."""
    owner, slash, name = repo.partition("/")
    if not (slash and _OWNER.fullmatch(owner) and _NAME.fullmatch(name)
            and name not in (".", "..") and not name.endswith(".git")):
        raise ValueError(f"repo must be OWNER/NAME as GitHub allows them (letters, digits and "
                         f"hyphens; then letters, digits, '.', '-', '_'), not {repo!r}")
    return repo


def check_ref(ref: str) -> str:
    """``ref`` if git accepts it as a tag or branch name (``git check-ref-format``'s rules,
    ASCII only), else a ValueError saying why."""
    bad = (not ref or not ref.isascii() or any(c in ref for c in " ~^:?*[\\")
           or any(ord(c) < 32 or ord(c) == 127 for c in ref) or ".." in ref or "@{" in ref
           or "//" in ref or ref.startswith(("-", "/", ".")) or ref.endswith(("/", ".", ".lock"))
           or ref == "@" or any(part.startswith(".") for part in ref.split("/")))
    if bad:
        raise ValueError(f"ref must be a tag or branch name git accepts, not {ref!r}")
    return ref


def publish(root: Path = ROOT, repo: str = REPO, ref: str = REF) -> list[Path]:
    """Point the course in ``root`` at ``repo`` and ``ref``; return the files that changed.
    Every file is read and rewritten in memory first: on any error nothing is written."""
    check_repo(repo)
    check_ref(ref)
    from .course import syllabus_markdown

    readme = root / "README.md"
    text = new = readme.read_text(encoding="utf-8")
    for first, last, section in (
            (README_START, README_END, readme_section(repo, ref)),
            (SYLLABUS_START, SYLLABUS_END,
             f"{SYLLABUS_START}\n{syllabus_markdown(repo=repo, ref=ref)}\n{SYLLABUS_END}")):
        if first not in new or last not in new:
            raise ValueError(f"README.md has no {first} ... {last} section: nothing was "
                             "rewritten")
        new = new[:new.index(first)] + section + new[new.index(last) + len(last):]
    planned = {readme: (text, new)}
    module = root / "nodebook_utils" / "publish.py"
    text = module.read_text(encoding="utf-8")
    planned[module] = (text, _replace_assignment(_replace_assignment(text, "REPO", repo),
                                                 "REF", ref))
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        raw = path.read_text(encoding="utf-8")
        try:
            planned[path] = (raw, _published_notebook(raw, path.name, repo, ref))
        except (ValueError, StopIteration, KeyError) as exc:
            raise ValueError(f"{path.name} cannot be rewritten ({exc!r}): nothing was "
                             "rewritten") from exc
    changed = [path for path, (old, new) in planned.items() if new != old]
    for path in changed:
        path.write_text(planned[path][1], encoding="utf-8")
    return sorted(changed, key=lambda p: (p.suffix != ".ipynb", str(p)))


def main(argv: Sequence[str] | None = None) -> None:
    """``python -m nodebook_utils.publish --repo OWNER/NAME --ref TAG``."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repo", default=REPO, help=f"OWNER/NAME on GitHub (now {REPO})")
    parser.add_argument("--ref", default=REF, help=f"tag or branch (now {REF})")
    parser.add_argument("--root", type=Path, default=ROOT, help="the checkout to rewrite")
    args = parser.parse_args(argv)
    try:
        changed = publish(args.root, args.repo, args.ref)
    except ValueError as exc:
        parser.exit(2, f"publish: {exc}\n")
    for path in changed:
        print("rewrote", path.relative_to(args.root))
    print(f"{len(changed)} file(s) changed; the course points at {args.repo} @ {args.ref}")


if __name__ == "__main__":
    main()
