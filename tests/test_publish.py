"""Colab and Binder: every badge, Colab block and README link agrees with the one place that
holds the repository and tag (nodebook_utils.publish), and the rewrite tool keeps them so."""

import json
import re
import shutil
from importlib import metadata
from pathlib import Path

import nbformat
import pytest
from IPython.core.inputtransformer2 import TransformerManager

from nodebook_utils import colab, publish

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))
LINK = re.compile(r"https://(?:colab\.research\.google\.com/github|mybinder\.org/v2/gh)/"
                  r"([\w.-]+/[\w.-]+)/(?:blob/)?([\w.-]+)[/?](?:labpath=)?notebooks(?:/|%2F)"
                  r"(\d\d_\w+\.ipynb)")


def cells(path):
    return json.loads(path.read_text(encoding="utf-8"))["cells"]


def source(cell):
    return "".join(cell["source"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_opens_with_its_badges_and_the_colab_block(path):
    notebook = cells(path)
    lines = source(notebook[0]).split("\n")
    assert lines[0].startswith("# ") and lines[2] == publish.badges(path.name)  # under the title
    first_code = next(c for c in notebook if c["cell_type"] == "code")
    assert source(first_code).startswith(publish.colab_block())
    assert "setup(" in source(first_code)  # then the course's setup()


def test_every_launch_link_points_at_a_notebook_that_exists_and_all_agree():
    texts = [(p.name, p.read_text(encoding="utf-8")) for p in NOTEBOOKS]
    texts.append(("README.md", (ROOT / "README.md").read_text(encoding="utf-8")))
    seen = 0
    for name, text in texts:
        links = LINK.findall(text)
        assert links, f"{name} has no launch links"
        for repo, ref, notebook in links:
            assert (repo, ref) == (publish.REPO, publish.REF), name
            assert (ROOT / "notebooks" / notebook).exists(), notebook
            assert name == "README.md" or notebook == name  # a notebook links itself
            seen += 1
    assert seen >= 2 * len(NOTEBOOKS) + 2
    assert publish.readme_section() in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_colab_block_is_valid_ipython_and_does_nothing_elsewhere():
    code = TransformerManager().transform_cell(publish.colab_block())
    compile(code, "colab-block", "exec")
    namespace = {}
    exec(code, namespace)  # no google.colab here: nothing runs, get_ipython is never called
    assert "COURSE" not in namespace
    assert f"git clone -q --depth 1 -b $TAG $COURSE {publish.CLONE}" in publish.colab_block()


def copy_course(tmp_path):
    root = tmp_path / "course"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    (root / "nodebook_utils").mkdir()
    shutil.copy(ROOT / "nodebook_utils" / "publish.py", root / "nodebook_utils" / "publish.py")
    shutil.copy(ROOT / "README.md", root / "README.md")
    return root


def test_publishing_the_committed_values_changes_nothing(tmp_path):
    root = copy_course(tmp_path)
    assert publish.publish(root, publish.REPO, publish.REF) == []


def test_publish_rewrites_every_link_consistently_and_only_sources(tmp_path):
    root = copy_course(tmp_path)
    changed = publish.publish(root, "someone/fork", "v9.9")
    assert len(changed) == len(NOTEBOOKS) + 2  # the notebooks, README.md and publish.py
    assert publish.publish(root, "someone/fork", "v9.9") == []  # idempotent
    module = (root / "nodebook_utils" / "publish.py").read_text(encoding="utf-8")
    assert 'REPO = "someone/fork"' in module and 'REF = "v9.9"' in module
    for path in sorted((root / "notebooks").glob("*.ipynb")):
        nbformat.validate(nbformat.read(path, as_version=4))
        text = path.read_text(encoding="utf-8")
        assert publish.REPO not in text
        assert publish.badges(path.name, "someone/fork", "v9.9") in source(cells(path)[0])
        before = cells(ROOT / "notebooks" / path.name)
        after = cells(path)
        assert [c.get("outputs") for c in before] == [c.get("outputs") for c in after]
    readme = (root / "README.md").read_text(encoding="utf-8")
    assert all(m[:2] == ("someone/fork", "v9.9") for m in LINK.findall(readme))
    with pytest.raises(ValueError, match="OWNER/NAME"):
        publish.publish(root, "not a repo", "v1")


def test_main_prints_what_it_rewrote(tmp_path, capsys):
    root = copy_course(tmp_path)
    publish.main(["--root", str(root), "--repo", "a/b", "--ref", "t1"])
    out = capsys.readouterr().out
    assert "rewrote README.md" in out and "a/b @ t1" in out


def test_colab_install_pins_what_colab_already_has():
    pins = colab.constraints()
    assert f"torch=={metadata.version('torch')}" in pins
    assert all(p.split("==")[0] in colab.KEEP for p in pins)
    assert colab.constraints(("surely-not-installed-package",)) == []
    command = colab.pip_command(Path("/content/nodebook"), Path("keep.txt"))
    assert command[1:] == ["-m", "pip", "install", "-q", "-c", "keep.txt", "/content/nodebook"]
    assert "-e" not in command  # a regular install: the running kernel can import it


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_without_launch_removes_badges_and_colab_block_and_nothing_else(path):
    nb = nbformat.read(path, as_version=4)
    before = [c.source for c in nb.cells]
    publish.without_launch(nb.cells)
    title, first_code = nb.cells[0].source, next(c for c in nb.cells if c.cell_type == "code")
    assert "Open in Colab" not in title and "\n\n\n" not in title
    assert title.splitlines()[0] == before[0].splitlines()[0]  # the title stays
    assert "google.colab" not in first_code.source
    assert first_code.source.startswith(("import", "from"))
    changed = [i for i, (a, c) in enumerate(zip(before, nb.cells, strict=True)) if a != c.source]
    assert changed == [0, next(i for i, c in enumerate(nb.cells) if c.cell_type == "code")]


@pytest.mark.parametrize("repo", ["../..", "-/-", "a/.", "a/..", "ü/x", "a-/b", "a--b/c",
                                  "owner/na me", "owner", "a/b/c", "x" * 40 + "/y"])
def test_publish_refuses_what_github_does_not_accept_as_owner_and_name(repo):
    with pytest.raises(ValueError, match="OWNER/NAME"):
        publish.check_repo(repo)


@pytest.mark.parametrize("ref", ["", "a..b", "-x", "x.lock", "a b", "v1\\x", "ü", "a//b", "@",
                                 "x/.y", "a~1", "a:b"])
def test_publish_refuses_a_ref_git_does_not_accept(ref):
    with pytest.raises(ValueError, match="tag or branch"):
        publish.check_ref(ref)


def test_good_names_pass():
    assert publish.check_repo("nodebook-course/nodebook") == "nodebook-course/nodebook"
    assert publish.check_repo("a1/b.c_d-e") == "a1/b.c_d-e"
    assert publish.check_ref("v0.1.0") == "v0.1.0" and publish.check_ref("feature/x")


def snapshot(root):
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


def test_publish_writes_nothing_when_the_readme_lacks_its_launch_section(tmp_path, capsys):
    root = copy_course(tmp_path)
    readme = root / "README.md"
    readme.write_text(readme.read_text(encoding="utf-8").replace(publish.README_END, ""),
                      encoding="utf-8")
    before = snapshot(root)
    with pytest.raises(SystemExit) as stop:
        publish.main(["--root", str(root), "--repo", "a/b", "--ref", "t1"])
    assert stop.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nothing was rewritten" in err  # one clear line
    assert snapshot(root) == before


def test_publish_writes_nothing_when_a_notebook_cannot_be_rewritten(tmp_path):
    root = copy_course(tmp_path)
    last = sorted((root / "notebooks").glob("*.ipynb"))[-1]
    notebook = json.loads(last.read_text(encoding="utf-8"))
    notebook["cells"] = [c for c in notebook["cells"] if c["cell_type"] != "code"]
    last.write_text(json.dumps(notebook), encoding="utf-8")
    before = snapshot(root)
    with pytest.raises(ValueError, match="nothing was rewritten"):
        publish.publish(root, "a/b", "t1")
    assert snapshot(root) == before
