"""The reproduction report: kinds, rules and verdicts, traceability, narrow and bad input."""

import json
from pathlib import Path

import pytest

from nodebook_utils import reproduce
from nodebook_utils.experiments import common, scaling, spiral
from nodebook_utils.reproduce import rules
from nodebook_utils.reproduce.claims import claims

ROOT = Path(__file__).resolve().parents[1]
SPEED = ROOT / "benchmarks" / "results" / "mnist_speed.json"


@pytest.fixture(scope="module")
def tiny_scaling():
    return scaling.run(mode="fast", depths=[1, 2], tolerances=[1e-2, 1e-3],
                       step_sizes=[1 / 4, 1 / 8, 1 / 16])


@pytest.fixture(scope="module")
def results(tiny_spiral, tiny_mnist, tiny_ecg, tiny_scaling):
    found = {"spiral": tiny_spiral, "mnist": tiny_mnist, "ecg": tiny_ecg,
             "scaling": tiny_scaling}
    found = {name: {**r, "_file": f"results/{name}-fast.json"} for name, r in found.items()}
    return {**found, **reproduce.load([SPEED])}


def _rows(rep):
    return {r["claim"]: r for r in rep["claims"]}


def test_every_row_has_a_kind_a_rule_why_and_its_evidence(results):
    rep = reproduce.report(results)
    rows = rep["claims"]
    assert len(rows) >= 60 and len({r["claim"] for r in rows}) == len(rows)
    for r in rows:
        assert r["kind"] in reproduce.KINDS and r["verdict"] in reproduce.VERDICTS
        assert r["rule"] in reproduce.RULES and r["why"] and r["note"]
        if r["measured"] is not None:  # every value names the file and key it came from
            assert r["evidence"] and all(e["file"] and e["key"] for e in r["evidence"])
    counts = rep["counts"]
    assert sum(counts["kinds"].values()) == len(rows)
    assert sum(counts["experiment"].values()) == counts["kinds"]["experiment"]
    json.dumps(rep, allow_nan=False)


def test_kinds_keep_construction_out_of_the_headline(results):
    rows = _rows(reproduce.report(results))
    for claim in ("ResNet parameters", "share of class N", "samples per beat"):
        assert rows[claim]["kind"] == "by construction"
    assert rows["batches per epoch (batch size 32)"]["kind"] == "arithmetic"
    assert rows["training time, Neural ODE / ResNet (the course's ratio of 11.7–16.6 and "
                "1.6–1.8 min/epoch)"]["kind"] == "derived"
    assert rows["ResNet test accuracy (5 epochs)"]["kind"] == "experiment"


def test_tiny_budgets_and_single_seeds_are_not_judged(results):
    rows = _rows(reproduce.report(results))
    accuracy = rows["Neural ODE test accuracy (5 epochs)"]  # eight steps, one seed
    assert accuracy["verdict"] == "not comparable" and accuracy["measured"] is not None
    assert "budget" in accuracy["note"]
    review = rows["ODE-Net test accuracy after 5 epochs"]
    assert review["verdict"] == "not comparable" and "as trained" in review["note"]
    assert rows["ODE-Net test accuracy before training"]["verdict"] == "not measured"  # 1 seed
    for claim in ("ResNet training, minutes per epoch", "spiral: RK4 training time (s)",
                  "ODE-Net training, minutes per epoch"):
        assert rows[claim]["verdict"] == "not comparable" and rows[claim]["measured"]
    # three records only: class shares are not the whole database's, but 125 Hz is
    assert rows["share of class N"]["verdict"] == "not measured"
    assert rows["sampling rate of the heartbeats (Hz)"]["measured"] == 125
    assert rows["sampling rate of the heartbeats (Hz)"]["verdict"] == "differs"
    assert rows["duration of one 187-sample beat (s)"]["measured"] == pytest.approx(1.496)
    for claim in ("Table 1: RK-Net test error", "Table 1: ODE-Net test error"):
        # both rows of the committed MNIST speed benchmark, on the 5,000-image subset
        row = rows[claim]
        assert row["verdict"] == "not comparable" and "5,000" in str(row["conditions"])
        assert row["evidence"][0]["file"].endswith("mnist_speed.json")


def test_counts_and_memory_rows_come_from_the_scaling_result(results):
    rows = _rows(reproduce.report(results))
    for claim in ("ResNet parameters", "Neural ODE parameters", "parameters per residual block",
                  "parameters of the ODE block", "residual blocks in the ResNet"):
        assert rows[claim]["verdict"] == "reproduced"
        assert rows[claim]["measured"] == rows[claim]["claimed"]
    as_written = rows["Neural ODE memory / ResNet memory (\"less than one third\"), as the "
                      "report derives it: parameter memory"]
    assert as_written["measured"] == pytest.approx(59_333 / 182_853, abs=1e-3)
    assert as_written["verdict"] == "reproduced" and as_written["kind"] == "by construction"
    constant = rows["Table 1: ODE-Net memory O(1) (tensors saved for backward against RK4 "
                    "steps)"]
    assert constant["verdict"] == "reproduced"  # the adjoint stores no stage
    assert constant["evidence"][0]["file"] == "results/scaling-fast.json"


def test_narrow_results_give_not_measured_rows(tiny_spiral, tiny_mnist):
    """A spiral run without the adjoint and an MNIST run with only the ResNet: the rows they
    lack say so, without a KeyError or TypeError."""
    without_adjoint = {**tiny_spiral,
                       "runs": [r for r in tiny_spiral["runs"] if not r["adjoint"]],
                       "pairs": [p for p in tiny_spiral["pairs"] if not p["adjoint"]]}
    resnet_only = {**tiny_mnist, "runs": {"resnet": tiny_mnist["runs"]["resnet"]}}
    rows = _rows(reproduce.report({"spiral": without_adjoint, "mnist": resnet_only}))
    for claim in ("spiral: Euler final error (MSE)", "spiral: errors rank Dopri5 < RK4 < Euler",
                  "spiral: Dopri5 took more than twice as long as RK4",
                  "ODE-Net test accuracy after 5 epochs", "ResNet parameters"):
        assert rows[claim]["verdict"] == "not measured", claim
        assert rows[claim]["note"] and rows[claim]["measured"] is None


RULE_CASES = [
    ("exact", 59_333, 59_333, True), ("exact", 59_333, 59_334, False),
    ("rounded", 0.22, 0.208, False), ("rounded", 0.6, 0.577, True),
    ("rounded", "0.60", 0.577, False), ("rounded", "0.60", 0.604, True),
    ("rounded", 0.03, 0.0254, True), ("rounded", 0.83, 0.8240, False),
    ("rounded", 110_000, 109_446, True), ("rounded", 110_000, 104_000, False),
    ("rounded", 0.52, 1.496, False),
    ("seed range", 0.980, [0.9717, 0.9755, 0.9790], False),
    ("seed range", 0.975, [0.9717, 0.9755, 0.9790], True),
    ("overlap", [6.5, 10.4], [9.9, 10.1], True), ("overlap", [6.5, 10.4], [5.0, 6.4], False),
    ("overlap", 7.78, [5.6, 5.7], False),
    ("below", 1 / 3, 0.324, True), ("below", 1 / 3, [0.3, 0.34], False),
    ("above", 2.0, [5.5, 3.1], True), ("above", 2.0, [5.5, 1.9], False),
    ("order", 4, 4.02, True), ("order", 4, 3.6, False), ("order", 1, 1.2, True),
    ("constant", "O(1)", {"ratio_last_first": 1.05, "r2": 0.1}, True),
    ("constant", "O(1)", {"ratio_last_first": 1.3, "r2": 0.99}, False),
    ("linear", "O(L)", {"ratio_last_first": 4.3, "r2": 0.999}, True),
    ("linear", "O(L)", {"ratio_last_first": 1.05, "r2": 0.999}, False),
    ("linear", "O(L)", {"ratio_last_first": 4.3, "r2": 0.6}, False),
    ("decreasing", None, [0.6, 0.2, 0.04], True), ("decreasing", None, [0.6, 0.7, 0.04], False),
    ("about", 0.5, [0.45, 0.55], True), ("about", 0.5, [1.05, 3.8], False),
    ("ranking", "dopri5 < rk4 < euler", "dopri5 < rk4 < euler", True),
    ("ranking", "dopri5 < rk4 < euler", "dopri5 ≈ rk4 ≈ euler", False),
]


@pytest.mark.parametrize(("rule", "claimed", "measured", "expected"), RULE_CASES)
def test_rules(rule, claimed, measured, expected):
    assert reproduce.RULES[rule].judge(claimed, measured) is expected


def test_every_rule_is_tested_both_ways():
    """A rule that always said 'reproduced' (or never) would fail a case above."""
    for name in reproduce.RULES:
        if name == "not comparable":
            continue
        outcomes = {expected for rule, _, _, expected in RULE_CASES if rule == name}
        assert outcomes == {True, False}, name


def test_accuracy_rules_need_three_seeds():
    assert rules.MIN_SEEDS == 3
    assert all(c.rule is not rules.SEED_RANGE or c.kind == "experiment" for c in claims())


def test_spiral_rows_list_every_seed_and_name_an_outlier(tiny_spiral):
    rows = _rows(reproduce.report({"spiral": tiny_spiral}))
    euler = rows["spiral: Euler final error (MSE)"]
    assert "seed 0:" in euler["note"] and "seed 1:" in euler["note"] and "median" in euler["note"]
    assert euler["verdict"] == "not measured"  # two seeds: fewer than three
    runs = [{**r, "seed": s, "final_mse": 0.02 + 0.001 * s} for s, r in enumerate(
        [next(r for r in tiny_spiral["runs"] if r["solver"] == "euler" and r["adjoint"])] * 4)]
    outlier = [dict(r, final_mse=0.09) if r["seed"] == 2 else r for r in runs]
    for solver in ("rk4", "dopri5"):
        outlier += [dict(r, solver=solver) for r in outlier[:4]]
    result = {**tiny_spiral, "runs": outlier, "config": {**tiny_spiral["config"],
                                                         "seeds": [0, 1, 2, 3]}}
    note = _rows(reproduce.report({"spiral": result}))["spiral: RK4 final error (MSE)"]["note"]
    assert "Seed 2 gives the largest error with every solver" in note


def test_ranking_writes_noise_as_approximately(tiny_spiral):
    rows = _rows(reproduce.report({"spiral": tiny_spiral}))
    ranking = rows["spiral: errors rank Dopri5 < RK4 < Euler"]
    assert "paired t-tests" in ranking["note"]
    assert ranking["measured"].count("<") + ranking["measured"].count("≈") == 2


def test_markdown_lists_every_row_and_its_details(results, tmp_path):
    rep = reproduce.report(results)
    md_path, json_path = reproduce.write(rep, tmp_path)
    text = md_path.read_text(encoding="utf-8")
    # per source a header, then one line per row
    assert text.count("\n| ") == len(rep["claims"]) + len({r["source"] for r in rep["claims"]})
    assert all(f"**{i}. " in text for i in range(1, len(rep["claims"]) + 1))
    assert json.loads(json_path.read_text(encoding="utf-8"))["claims"] == json.loads(
        json.dumps(rep["claims"]))
    headline = reproduce.headline_markdown(rep)
    assert len(headline.splitlines()) == 2 + len(reproduce.HEADLINES)


def test_command_line_reads_given_results(tiny_spiral, tmp_path, capsys):
    path = common.save_result(tiny_spiral, tmp_path / "in")
    assert reproduce.main(["--result", str(path), "--out", str(tmp_path / "out")]) == 0
    assert "rows" in capsys.readouterr().out
    saved = json.loads((tmp_path / "out" / "reproduction.json").read_text(encoding="utf-8"))
    assert set(saved["results"]) == {"spiral"}


@pytest.mark.parametrize(("content", "message"), [
    (None, "no such file"), ("{not json", "not a JSON result"),
    ('{"something": 1}', "not an experiment or benchmark result"),
])
def test_a_bad_result_file_is_one_clear_line(tmp_path, capsys, content, message):
    path = tmp_path / "result.json"
    if content is not None:
        path.write_text(content, encoding="utf-8")
    assert reproduce.main(["--result", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and message in err and "result.json" in err
    assert not (tmp_path / "out").exists()


def test_fast_results_never_replace_the_committed_report(tmp_path, capsys):
    result = spiral.run(mode="fast", solvers=["euler"], adjoint=[True], seeds=[0],
                        iterations=3, snapshots=[2])
    path = common.save_result(result, tmp_path)
    before = (ROOT / "figures" / "reproduction.md").read_bytes()
    assert reproduce.main(["--result", str(path)]) == 2
    assert "fast-mode results never replace the committed report" in capsys.readouterr().err
    assert (ROOT / "figures" / "reproduction.md").read_bytes() == before


def test_committed_report_matches_the_committed_results():
    """figures/reproduction.* are regenerated from the committed results (make report)."""
    rep = json.loads((ROOT / "figures" / "reproduction.json").read_text(encoding="utf-8"))
    assert sorted(r["file"] for r in rep["results"].values()) == sorted(reproduce.COMMITTED)
    again = reproduce.report(reproduce.load([ROOT / p for p in reproduce.COMMITTED]))
    assert json.loads(json.dumps(again, ensure_ascii=False)) == rep
    md = (ROOT / "figures" / "reproduction.md").read_text(encoding="utf-8")
    assert md == reproduce.markdown(again)
    # the website shows this file as its report page (tests/test_site.py)
