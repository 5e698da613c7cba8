"""The benchmarks' quick modes, with tiny settings: the table's structure, never a time."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from nodebook_utils import data
from nodebook_utils.experiments import ecg

ROOT = Path(__file__).resolve().parents[1]


def load(name: str):
    """Import benchmarks/<name>.py (a script folder, not a package)."""
    spec = importlib.util.spec_from_file_location(name, ROOT / "benchmarks" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def ecg_speed(tmp_path_factory):
    module = load("ecg_speed")
    path = tmp_path_factory.mktemp("bench") / "ecg_speed.json"
    only = ["original: dopri5 + adjoint, tol 1e-3", "rk4, 1 step, time as bias",
            "dopri5, tol 1e-3, no adjoint, kinetic + Jacobian regularised"]
    module.main(["--quick", "--records", *data.FAST_RECORDS, "--steps", "2", "--test-beats", "48",
                 "--only", *only, "rk4, 1 step, time as bias, torch.compile", "--skip-compile",
                 "--json", str(path)])
    return module, json.loads(path.read_text(encoding="utf-8"))


def test_ecg_speed_quick_writes_the_contracted_json(ecg_speed):
    module, result = ecg_speed
    assert result["mode"] == "quick" and "summary" in result["hardware"]
    names = [row["name"] for row in result["rows"]]
    assert names[0] == "resnet" and len(names) == 4
    assert any("dopri5" in n and "adjoint" in n for n in names)
    keys = {"name", "train_step_ms", "train_ratio", "eval_ratio", "nfe_forward", "nfe_backward",
            "peak_memory_mb", "test_accuracy_mean", "test_accuracy_std", "seeds"}
    for row in result["rows"]:
        assert keys <= set(row)
        assert row["seeds"] == 1 and row["steps"] == 2
        assert 0.0 <= row["test_accuracy_mean"] <= 1.0
    resnet, original, regularised, fast = result["rows"]
    assert regularised["options"]["regularise"] == {"kinetic": 0.01, "jacobian": 0.01}
    assert regularised["parameters"] == 59_333 and regularised["nfe_backward"] == 0
    assert resnet["train_ratio"] == 1.0 and resnet["nfe_forward"] is None
    assert resnet["parameters"] == 182_853
    assert original["parameters"] == fast["parameters"] == 59_333
    assert fast["nfe_forward"] == 4 and fast["nfe_backward"] == 0  # rk4, one step, backprop
    assert original["nfe_forward"] >= 8 and original["nfe_backward"] > 0  # dopri5, adjoint
    for row in (original, regularised, fast):  # "is it still an ODE?" solved accurately
        accurate = row["accurate_solve"]
        assert accurate["solver"]["method"] == "dopri5" and accurate["seeds"] == 1
        assert 0.0 <= accurate["test_accuracy_mean"] <= 1.0
        assert accurate["training_solver_accuracy"] == row["test_accuracies"][0]
    assert "accurate_solve" not in resnet
    assert all(0 < e < 1 for e in result["budget"]["epochs"])  # 2 steps: part of an epoch


def test_ecg_speed_quick_tests_on_a_stratified_random_subset_not_the_first_beats(ecg_speed):
    """The test split is ordered by record: its first beats are a few patients' (lesson 10's
    quick run once scored every model on 5 patients, 61 % normal and 38 % paced beats)."""
    module, result = ecg_speed
    budget = result["budget"]
    labels = ecg.load_data("kaggle", records=list(data.FAST_RECORDS))["test"][1]
    counts = torch.bincount(labels, minlength=5)
    first = torch.bincount(labels[:48], minlength=5).tolist()
    assert budget["test_beats"] == sum(budget["test_class_counts"]) == 48
    assert budget["test_class_counts"] != first
    expected = counts.double() * 48 / len(labels)  # each class in proportion, rounded
    assert all(abs(got - want) < 1 for got, want in
               zip(budget["test_class_counts"], expected.tolist(), strict=True))
    assert 0.0 < budget["majority_baseline_test_accuracy"] <= 1.0
    assert "stratified" in budget["test_subset"]


def test_subset_split_draws_each_class_in_proportion_from_a_record_ordered_split():
    module = load("ecg_speed")
    labels = torch.tensor([0] * 300 + [4] * 200 + [0] * 400 + [1] * 100)  # records in a row
    split = {part: (torch.arange(len(labels)).reshape(-1, 1, 1).float(), labels)
             for part in ("train", "val", "test")}
    cut = module.subset_split(split, 100)
    for part in ("val", "test"):
        x, y = cut[part]
        assert len(y) == 100 and not torch.equal(y, labels[:100])
        assert torch.bincount(y, minlength=5).tolist() == [70, 10, 0, 0, 20]
        assert torch.equal(labels[x.flatten().long()], y)  # beats keep their labels
    assert cut["train"] is split["train"]
    again = module.subset_split(split, 100)  # seeded: the same beats each run
    assert torch.equal(again["test"][0], cut["test"][0])
    assert module.majority_baseline(cut) == 0.7


def test_ecg_speed_table_has_one_row_per_configuration(ecg_speed):
    module, result = ecg_speed
    lines = load("bench").table(result["rows"], "resnet").splitlines()
    assert len(lines) == 2 + len(result["rows"])
    assert all(line.count("|") == 11 for line in lines)


def test_configurations_cover_what_issue_11_names():
    module = load("ecg_speed")
    names = " ".join(c.name for c in module.CONFIGURATIONS)
    for word in ("original", "no adjoint", "seminorm", "tol 1e-2", "euler", "midpoint", "rk4",
                 "time as bias", "regularised", "torch.compile"):
        assert word in names


def test_mnist_speed_quick_writes_the_contracted_json(tmp_path):
    module = load("mnist_speed")
    path = tmp_path / "mnist_speed.json"
    only = ["reference: torchdiffeq odenet_mnist, dopri5 tol 1e-3",
            "reference network, rk4, 1 step, time as bias"]
    module.main(["--quick", "--epochs", "1", "--steps", "2", "--limit", "512",
                 "--test-images", "64", "--only", *only, "--json", str(path)])
    result = json.loads(path.read_text(encoding="utf-8"))
    resnet, reference, fast = result["rows"]
    assert "reference" in reference["name"] and reference["parameters"] == 208_266
    assert resnet["parameters"] == 576_778 and fast["parameters"] == 208_266
    for row in result["rows"]:
        assert {"name", "train_step_ms", "train_ratio", "eval_ratio", "nfe_forward",
                "nfe_backward", "peak_memory_mb", "test_accuracy", "test_accuracy_mean",
                "test_accuracy_std", "seeds"} <= set(row)
        assert row["steps"] == 2 and 0.0 <= row["test_accuracy"] <= 1.0
    assert fast["nfe_forward"] == 4 and fast["nfe_backward"] == 0
    assert reference["nfe_forward"] >= 8 and reference["nfe_backward"] == 0  # no adjoint
    assert fast["speedup_over_reference"] == pytest.approx(
        reference["train_step_ms"] / fast["train_step_ms"])
