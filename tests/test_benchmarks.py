"""The benchmarks' quick modes, with tiny settings: the table's structure, never a time."""

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

from nodebook_utils import data, fast, memory, training
from nodebook_utils.experiments import ecg

ROOT = Path(__file__).resolve().parents[1]
ROWS = ["original: dopri5 + adjoint, tol 1e-3", "rk4, 1 step, time as bias",
        "dopri5, tol 1e-3, no adjoint, kinetic + Jacobian regularised",
        "midpoint, 1 step, time as bias, STEER 0.5"]
TINY = ["--quick", "--records", *data.FAST_RECORDS, "--steps", "2", "--test-beats", "48",
        "--timing-steps", "2", "--skip-compile"]


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
    folder = tmp_path_factory.mktemp("bench")
    path = folder / "ecg_speed.json"
    module.main([*TINY, "--only", *ROWS, "rk4, 1 step, time as bias, torch.compile",
                 "--weights", str(folder / "weights"), "--json", str(path), "--quiet"])
    return module, json.loads(path.read_text(encoding="utf-8")), folder


def test_ecg_speed_quick_writes_the_contracted_json(ecg_speed):
    module, result, _ = ecg_speed
    assert result["mode"] == "quick" and "summary" in result["hardware"]
    names = [row["name"] for row in result["rows"]]
    assert names == ["resnet", ROWS[0], ROWS[2], ROWS[3], ROWS[1]]  # the configurations' order
    keys = {"name", "train_step_ms", "train_ratio", "eval_ratio", "nfe_forward", "nfe_backward",
            "peak_memory_mb", "test_accuracy_mean", "test_accuracy_std", "seeds", "epochs"}
    for row in result["rows"]:
        assert keys <= set(row)
        assert row["seeds"] == 1 and row["steps"] == 2 and 0 < row["epochs"] < 1
        assert row["test_accuracy_std"] is None  # one seed: no spread measured
        assert 0.0 <= row["test_accuracy_mean"] <= 1.0
    resnet, original, regularised, steer, fixed = result["rows"]
    assert regularised["options"]["regularise"] == {"kinetic": 0.01, "jacobian": 0.01}
    assert regularised["parameters"] == 59_333 and regularised["nfe_backward"] == 0
    assert resnet["train_ratio"] == 1.0 and resnet["nfe_forward"] is None
    assert resnet["parameters"] == 182_853 and "baseline_drift" in resnet
    assert original["parameters"] == fixed["parameters"] == steer["parameters"] == 59_333
    assert fixed["nfe_forward"] == 4 and fixed["nfe_backward"] == 0  # rk4, one step, backprop
    assert steer["nfe_forward"] == 2 and steer["options"]["steer"] == 0.5
    assert original["nfe_forward"] >= 8 and original["nfe_backward"] > 0  # dopri5, adjoint
    for row in (original, regularised, steer, fixed):  # "is it still an ODE?", every seed
        assert row["resolve_solver"]["method"] == "dopri5" and row["resolve_seeds"] == 1
        assert 0.0 <= row["resolve_accuracy_mean"] <= 1.0
        assert row["resolve_drop_mean"] == pytest.approx(
            100 * (row["test_accuracies"][0] - row["resolve_accuracies"][0]))
    assert "resolve_accuracy_mean" not in resnet


def test_ecg_speed_quick_tests_on_a_stratified_random_subset_not_the_first_beats(ecg_speed):
    """The test split is ordered by record: its first beats are a few patients' (lesson 10's
    quick run once scored every model on 5 patients, 61 % normal and 38 % paced beats)."""
    module, result, _ = ecg_speed
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


def test_ecg_speed_continues_an_interrupted_run_without_training_again(ecg_speed, monkeypatch):
    module, result, folder = ecg_speed
    monkeypatch.setattr(ecg, "train_and_test", lambda *a, **k: pytest.fail("trained again"))
    again = module.main([*TINY, "--only", *ROWS, "--weights", str(folder / "weights"),
                         "--quiet"])
    assert ([r["test_accuracies"] for r in again["rows"]]
            == [r["test_accuracies"] for r in result["rows"]])
    with pytest.raises(ValueError, match="other settings"):  # never mixes two runs' seeds
        module.main([*TINY, "--epochs", "2", "--weights", str(folder / "weights"), "--quiet"])


def test_train_only_times_nothing_and_a_later_run_uses_its_seeds(tmp_path, monkeypatch):
    module = load("ecg_speed")
    monkeypatch.setattr(fast, "time_row", lambda *a, **k: pytest.fail("timed"))
    trained = module.main([*TINY, "--only", ROWS[1], "--weights", str(tmp_path), "--quiet",
                           "--train-only", "--json", str(tmp_path / "never.json")])
    assert set(trained["trained"]) == {"resnet", ROWS[1]}
    assert not (tmp_path / "never.json").exists()
    monkeypatch.undo()
    monkeypatch.setattr(ecg, "train_and_test", lambda *a, **k: pytest.fail("trained again"))
    result = module.main([*TINY, "--only", ROWS[1], "--weights", str(tmp_path), "--quiet"])
    assert [r["test_accuracies"][0] for r in result["rows"]] == [
        trained["trained"][name]["0"]["test_accuracy"] for name in ("resnet", ROWS[1])]


def test_a_seed_stopped_mid_run_continues_from_its_last_epoch(tmp_path, monkeypatch):
    """Rows of hours: a stopped run loses at most the epoch it was in (training.fit's
    checkpoint), and the seed ends as if it had never stopped."""
    module = load("ecg_speed")
    argv = [*TINY, "--epochs", "2", "--only", ROWS[1], "--quiet", "--train-only", "--weights"]
    whole = module.main([*argv, str(tmp_path / "whole")])["trained"]
    save = training._save_epoch

    def save_then_stop(*args, **kwargs):
        save(*args, **kwargs)
        raise KeyboardInterrupt

    monkeypatch.setattr(training, "_save_epoch", save_then_stop)
    with pytest.raises(KeyboardInterrupt):
        module.main([*argv, str(tmp_path / "cut")])
    monkeypatch.undo()
    assert [p.name for p in (tmp_path / "cut").glob("*.epochs.pt")] == ["resnet.seed0.epochs.pt"]
    saved = []
    monkeypatch.setattr(training, "_save_epoch", lambda path, epochs, *args: saved.append(
        epochs) or save(path, epochs, *args))
    resumed = module.main([*argv, str(tmp_path / "cut")])["trained"]
    assert saved == [2, 1, 2]  # the ResNet's second epoch only, then the other row's two
    keys = ("test_accuracy", "macro_f1", "resolve_accuracy", "steps")
    assert ({row: {k: v for k, v in seeds["0"].items() if k in keys}
             for row, seeds in resumed.items()}
            == {row: {k: v for k, v in seeds["0"].items() if k in keys}
                for row, seeds in whole.items()})
    assert not list((tmp_path / "cut").glob("*.epochs.pt"))  # finished seeds keep no epochs


def test_memory_is_measured_after_every_timing(tmp_path, monkeypatch):
    """The first memory measurement in a process changes the allocator's behaviour for the
    rest of it: no row may be timed after any row's memory was measured."""
    calls = []
    time_row, meter = fast.time_row, memory.training_step_memory
    monkeypatch.setattr(fast, "time_row", lambda *a, **k: calls.append("time") or
                        time_row(*a, **k))
    monkeypatch.setattr(memory, "training_step_memory", lambda *a, **k: calls.append("memory")
                        or meter(*a, **k))
    load("ecg_speed").main([*TINY, "--only", ROWS[1], "--weights", str(tmp_path), "--quiet"])
    assert calls == ["time"] * 3 + ["memory"] * 2  # the ResNet timed first and last


@pytest.mark.parametrize(("script", "argv", "message"), [
    ("ecg_speed", ["--only", "rk4, one step"], "unknown configuration"),
    ("ecg_speed", ["--steps", "-1"], "--steps must be at least 1"),
    ("ecg_speed", ["--seeds", "0"], "--seeds must be at least 1"),
    ("mnist_speed", ["--only", "no such row"], "unknown configuration"),
    ("mnist_speed", ["--test-images", "20000"], "10,000 test images"),
    ("mnist_speed", ["--limit", "6000"], "5,000 images"),
    ("mnist_speed", ["--epochs", "0"], "--epochs must be at least 1"),
])
def test_bad_flags_stop_before_anything_trains(script, argv, message, capsys):
    with pytest.raises(SystemExit) as stop:
        load(script).parse(argv)
    assert stop.value.code == 2 and message in capsys.readouterr().err


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


def test_configurations_cover_the_remedies_lesson_10_compares():
    module = load("ecg_speed")
    names = " ".join(c.name for c in module.CONFIGURATIONS)
    for word in ("original", "no adjoint", "seminorm", "tol 1e-2", "euler", "midpoint", "rk4",
                 "heun3", "time as bias", "regularised", "torch.compile", "STEER"):
        assert word in names
    assert len({c.name for c in module.CONFIGURATIONS}) == len(module.CONFIGURATIONS)


def test_mnist_speed_quick_writes_the_contracted_json(tmp_path):
    module = load("mnist_speed")
    path = tmp_path / "mnist_speed.json"
    only = ["reference: torchdiffeq odenet_mnist, dopri5 tol 1e-3",
            "reference network, rk4, 1 step, time as bias"]
    module.main(["--quick", "--epochs", "1", "--steps", "2", "--limit", "512",
                 "--timing-steps", "2", "--only", *only, "--weights", str(tmp_path / "w"),
                 "--json", str(path)])
    result = json.loads(path.read_text(encoding="utf-8"))
    assert result["budget"]["train_images"] == 512
    assert result["budget"]["test_images"] == 2000  # --limit cuts the training images only
    resnet, reference, fixed = result["rows"]
    assert "reference" in reference["name"] and reference["parameters"] == 208_266
    assert resnet["parameters"] == 576_778 and fixed["parameters"] == 208_266
    for row in result["rows"]:
        assert {"name", "train_step_ms", "train_ratio", "eval_ratio", "nfe_forward",
                "nfe_backward", "peak_memory_mb", "test_accuracy_mean", "test_accuracy_std",
                "seeds", "epochs"} <= set(row)
        assert row["steps"] == 2 and 0.0 <= row["test_accuracy_mean"] <= 1.0
    for row in (reference, fixed):
        assert {"resolve_accuracy_mean", "resolve_drop_mean", "resolve_seeds"} <= set(row)
    assert fixed["nfe_forward"] == 4 and fixed["nfe_backward"] == 0
    assert reference["nfe_forward"] >= 8 and reference["nfe_backward"] == 0  # no adjoint
    assert fixed["speedup_over_reference"] == pytest.approx(
        reference["train_step_ms"] / fixed["train_step_ms"])
