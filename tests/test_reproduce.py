"""The reproduction report: every claim judged by its rule, from the experiments' results."""

import json
from pathlib import Path

import pytest

from nodebook_utils import reproduce
from nodebook_utils.experiments import common

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def results(tiny_spiral, tiny_mnist, tiny_ecg):
    return {"spiral": tiny_spiral, "mnist": tiny_mnist, "ecg": tiny_ecg}


def test_report_has_a_row_for_every_claim_with_all_fields(results):
    rep = reproduce.report(results, "fast")
    assert rep["mode"] == "fast" and rep["modes"] == {k: "fast" for k in results}
    assert isinstance(rep["hardware"], str) and rep["hardware"]
    rows = rep["claims"]
    assert len(rows) > 30
    assert {r["source"] for r in rows} == {reproduce.MATH179, reproduce.REVIEW, reproduce.CHEN}
    for r in rows:
        assert {"source", "claim", "claimed", "measured", "verdict", "note", "mode",
                "hardware"} <= set(r)
        assert r["verdict"] in reproduce.VERDICTS and r["note"]
        assert r["mode"] == "fast"
    measured = [r for r in rows if r["verdict"] != "not measured"]
    assert len(measured) > len(rows) / 2  # most claims are measured here
    json.dumps(rep, allow_nan=False)


def test_exact_counts_are_reproduced_and_tiny_budgets_are_not_judged(results):
    rows = {r["claim"]: r for r in reproduce.report(results, "fast")["claims"]}
    for claim in ("ResNet parameters", "Neural ODE parameters", "parameters per residual block",
                  "parameters of the ODE block"):
        assert rows[claim]["verdict"] == "reproduced" and rows[claim]["measured"] == rows[
            claim]["claimed"]
    assert rows["batches per epoch (batch size 32)"]["verdict"] == "reproduced"
    # eight training steps are not the source's five epochs: shown, but not judged
    test_accuracy = rows["Neural ODE test accuracy (5 epochs)"]
    assert test_accuracy["verdict"] == "not measured" and test_accuracy["measured"] is not None
    assert "budget" in test_accuracy["note"]
    # the source's 360 Hz is wrong: the beats are at 125 Hz
    assert rows["sampling rate of the heartbeats (Hz)"]["measured"] == 125
    assert rows["sampling rate of the heartbeats (Hz)"]["verdict"] == "differs"
    assert rows["duration of one 187-sample beat (s)"]["measured"] == pytest.approx(1.496)
    # three records only: class shares are not the whole database's
    assert rows["share of class N"]["verdict"] == "not measured"
    assert rows["RK-Net test error"]["verdict"] == "not measured"


@pytest.mark.parametrize(
    ("kind", "claimed", "measured", "expected"),
    [
        ("count", 59_333, 59_333, True),
        ("count", 59_333, 59_334, False),
        ("count", 0.22, 0.208010, False),  # rounds to 0.21M
        ("count", 0.60, 0.604, True),
        ("accuracy", 0.979, 0.983, True),
        ("accuracy", 0.979, 0.9735, False),
        ("share", 0.07, 0.0661, True),
        ("share", 0.03, 0.0254, True),
        ("share", 0.01, 0.0073, True),
        ("share", 0.83, 0.8277, True),
        ("share", 0.83, 0.8240, False),
        ("time", 9.0, 13.4, True),
        ("time", 9.0, 14.0, False),
        ("time", [1.6, 1.8], 1.1, True),
        ("time", [1.6, 1.8], 1.0, False),
        ("ratio", [6.5, 10.4], 4.4, True),
        ("ratio", [6.5, 10.4], 4.2, False),
        ("ratio", [0.0, 1 / 3], 0.3, True),
        ("ratio", [0.0, 1 / 3], 2.0, False),
        ("spread", 0.0183, {"mean": 0.03, "std": 0.02}, True),
        ("spread", 0.0183, {"mean": 0.03, "std": 0.005}, False),
    ],
)
def test_verdict_rules(kind, claimed, measured, expected):
    claim = reproduce.Claim("s", "c", claimed, "ecg", kind, lambda r: (measured, True, ""))
    assert reproduce.judge(claim, measured) is expected


def test_spiral_ranking_needs_the_same_order_and_significance(tiny_spiral):
    rows = {r["claim"]: r for r in reproduce.report({"spiral": tiny_spiral}, "fast")["claims"]}
    ranking = rows["spiral: errors rank Dopri5 < RK4 < Euler"]
    assert ranking["verdict"] in ("reproduced", "differs")
    assert "paired t-tests" in ranking["note"]
    assert rows["ResNet parameters"]["verdict"] == "not measured"  # no ECG result given


def test_markdown_and_files(results, tmp_path):
    rep = reproduce.report(results, "fast")
    md_path, json_path = reproduce.write(rep, tmp_path)
    text = md_path.read_text()
    assert text.count("\n| ") == len(rep["claims"]) + 1  # header and one line per claim
    assert "How a verdict is reached" in text
    assert json.loads(json_path.read_text())["claims"] == json.loads(json.dumps(rep["claims"]))
    headline = reproduce.headline_markdown(rep)
    assert len(headline.splitlines()) == 2 + len(reproduce.HEADLINES)


def test_command_line_reads_given_results(results, tmp_path, capsys):
    paths = [common.save_result(r, tmp_path / "in") for r in results.values()]
    args = ["--mode", "fast", "--out", str(tmp_path / "out")]
    for path in paths:
        args += ["--result", str(path)]
    assert reproduce.main(args) == 0
    assert "claims:" in capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "reproduction.json").read_text())
    assert saved["modes"] == {"spiral": "fast", "mnist": "fast", "ecg": "fast"}


def test_committed_report_matches_the_committed_results():
    """figures/reproduction.* are regenerated from the results/*.json they name."""
    committed = ROOT / "figures" / "reproduction.json"
    if not committed.exists():
        pytest.skip("no committed report yet")
    rep = json.loads(committed.read_text())
    given = [ROOT / "results" / f"{name}-{mode}.json" for name, mode in rep["modes"].items()]
    assert all(p.exists() for p in given), "commit the results the report was made from"
    results = {}
    for path in given:
        result = common.load_result(path)
        results[result["experiment"]] = result
    again = reproduce.report(results, rep["mode"])
    assert json.loads(json.dumps(again)) == rep
    assert (ROOT / "figures" / "reproduction.md").read_text() == reproduce.markdown(again)
    readme = (ROOT / "README.md").read_text()
    assert reproduce.headline_markdown(again) in readme, (
        "README's headline rows are out of date: paste reproduce.headline_markdown(report)")
