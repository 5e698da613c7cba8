"""The experiments' run(**config) with tiny settings: structure, JSON, learning, exact counts."""

import json

import numpy as np
import pytest
import torch

from nodebook_utils import data, models
from nodebook_utils.experiments import common, ecg, mnist, spiral
from nodebook_utils.training import count_parameters


def test_factories_have_the_sources_parameter_counts():
    assert count_parameters(models.ecg_resnet()) == 182_853
    assert count_parameters(models.ecg_odenet()) == 59_333
    assert count_parameters(models.PreActBlock1d()) == 24_832
    assert count_parameters(models.ConcatConvDynamics()) == 25_472
    assert count_parameters(models.mnist_odenet()) == 208_010
    assert count_parameters(models.mnist_resnet()) == 576_778
    assert count_parameters(models.spiral_dynamics()) == 252


def test_factories_default_to_the_sources_solvers():
    ode = models.ode_blocks(models.ecg_odenet())[0]
    assert (ode.method, ode.rtol, ode.atol, ode.adjoint) == ("dopri5", 1e-3, 1e-3, True)
    mnist_block = models.ode_blocks(models.mnist_odenet())[0]
    assert (mnist_block.method, mnist_block.adjoint) == ("euler", True)
    assert mnist_block.solver_kwargs == {"options": {"step_size": 0.05}}
    x = torch.randn(2, 1, 28, 28)
    mnist_block_net = models.mnist_odenet()
    mnist_block_net(x)
    assert models.ode_blocks(mnist_block_net)[0].nfe == 20  # 20 Euler steps on [0, 1]


def test_mnist_dynamics_append_the_time_channel_last():
    f = models.MNISTDynamics().eval()
    h = torch.randn(2, 64, 6, 6)
    conv = f.conv1.conv
    t_channel = torch.full((2, 1, 6, 6), 0.3)
    expected = conv(torch.cat([h, t_channel], dim=1))
    torch.testing.assert_close(f.conv1(torch.tensor(0.3), h), expected)


def test_spiral_dynamics_initialisation():
    torch.manual_seed(0)
    f = models.spiral_dynamics()
    first, last = f.net[0], f.net[2]
    assert torch.count_nonzero(first.bias) == 0 and torch.count_nonzero(last.bias) == 0
    assert 0.07 < first.weight.std().item() < 0.13  # N(0, 0.1²), 100 draws
    y = torch.randn(5, 2)
    assert torch.equal(f(torch.tensor(0.0), y), f(torch.tensor(3.0), y))  # autonomous


def test_resolve_takes_the_modes_config_and_refuses_unknown_keys():
    config = common.resolve(spiral.CONFIGS, {"mode": "fast", "seeds": [3]})
    assert config["mode"] == "fast" and config["seeds"] == [3]
    assert config["iterations"] == spiral.CONFIGS["fast"]["iterations"]
    with pytest.raises(TypeError, match="unknown configuration keys"):
        common.resolve(spiral.CONFIGS, {"mode": "fast", "epochz": 3})
    with pytest.raises(ValueError, match="mode"):
        common.resolve(spiral.CONFIGS, {"mode": "quick"})


def test_jsonable_handles_tensors_arrays_and_nan():
    value = {"a": torch.tensor([1.0, 2.0]), "b": np.float32(0.5), "c": (1, float("nan")),
             3: np.arange(2)}
    assert common.jsonable(value) == {"a": [1.0, 2.0], "b": 0.5, "c": [1, None], "3": [0, 1]}


def _check_common_fields(result, name):
    assert result["experiment"] == name and result["mode"] == "fast"
    for key in ("config", "environment", "hardware", "device", "wall_seconds"):
        assert key in result
    assert result["environment"]["torch"] == torch.__version__
    assert result["hardware"]["cores"] >= 1
    json.dumps(result, allow_nan=False)  # plain JSON, no NaN


def test_spiral_run_learns_and_reports_paired_comparisons(tiny_spiral, tmp_path):
    result = tiny_spiral
    _check_common_fields(result, "spiral")
    assert len(result["runs"]) == 3 * 2 * 2
    for r in result["runs"]:
        assert len(r["loss"]) == 31 and r["train_seconds"] > 0
        assert np.mean(r["loss"][-5:]) < np.mean(r["loss"][:5])  # training lowers the loss
        assert r["snapshots"]["30"]["mse"] == pytest.approx(r["final_mse"])
        if r["solver"] != "dopri5":  # fixed steps on the data grid: 9 steps per window
            assert r["nfe_forward"][0] == 9 * (1 if r["solver"] == "euler" else 4)
        assert (r["nfe_backward"][0] > 0) == r["adjoint"]
    with_trajectory = [r for r in result["runs"] if "trajectory" in r["snapshots"]["0"]]
    assert {r["seed"] for r in with_trajectory} == {0}
    assert set(result["summary"]) == {f"{s}{a}" for s in ("euler", "rk4", "dopri5")
                                      for a in ("", "+adjoint")}
    assert len(result["pairs"]) == 6 and all(p["seeds"] == 2 for p in result["pairs"])
    # the same seed gives the same start: euler with and without the adjoint agree at iteration 0
    first = {(r["solver"], r["adjoint"], r["seed"]): r["loss"][0] for r in result["runs"]}
    assert first[("euler", False, 0)] == pytest.approx(first[("euler", True, 0)], rel=1e-5)
    path = common.save_result(result, tmp_path)
    assert path.name == "spiral-fast.json" and common.load_result(path) == result
    loss_line = next(line for line in path.read_text(encoding="utf-8").splitlines()
                     if '"loss"' in line)
    numbers = loss_line.split("[", 1)[1].split("]", 1)[0]
    assert numbers.count(",") == len(result["runs"][0]["loss"]) - 1  # one list, one line


def test_spiral_ranking_statistics_on_known_numbers():
    runs = [
        {"solver": s, "adjoint": False, "seed": seed, "train_seconds": 1.0, "final_mse": mse,
         "nfe_forward": [1], "nfe_backward": [0]}
        for s, mses in {"a": [1.0, 2.0, 3.0], "b": [1.5, 2.4, 3.6]}.items()
        for seed, mse in enumerate(mses)
    ]
    out = spiral.compare(runs)
    assert out["summary"]["a"]["final_mse"] == {"n": 3, "mean": 2.0, "std": 1.0, "median": 2.0,
                                                "min": 1.0, "max": 3.0,
                                                "values": [1.0, 2.0, 3.0]}
    (pair,) = out["pairs"]
    assert pair["mean_difference"] == pytest.approx(-0.5)
    assert pair["a_better_in"] == 3
    from scipy import stats

    assert pair["p_value"] == pytest.approx(stats.ttest_rel([1, 2, 3], [1.5, 2.4, 3.6]).pvalue)


def test_mnist_run_reports_accuracy_time_and_nfe(tiny_mnist):
    result = tiny_mnist
    _check_common_fields(result, "mnist")
    (euler,), (resnet,) = mnist.seed_runs(result, "odenet_euler"), mnist.seed_runs(result, "resnet")
    assert result["runs"]["odenet_euler"]["parameters"] == 208_010
    assert result["runs"]["resnet"]["parameters"] == 576_778
    assert euler["steps"] == 8 and len(euler["nfe_forward"]) == 8
    assert set(euler["nfe_forward"]) == {20} and set(euler["nfe_backward"]) == {20}
    assert resnet["nfe_forward_mean"] is None
    for r in (euler, resnet):
        assert r["seed"] == 0 and r["recalibration_seconds"] > 0
        assert 0.0 <= r["test_accuracy_as_trained"] <= 1.0
        assert 0.0 <= r["initial_test_accuracy"] <= 1.0
        assert r["test_accuracy_recalibrated"] > r["initial_test_accuracy"]
        assert len(r["test_wrong_as_trained"]) == round(256 * (1 - r["test_accuracy_as_trained"]))
        assert np.mean(r["batch_loss"][-3:]) < np.mean(r["batch_loss"][:3])
        assert r["seconds_per_full_epoch"] > 0 and r["eval_test_seconds"] > 0
    summary = result["summary"]["resnet"]["test_accuracy_as_trained"]
    assert summary["n"] == 1 and summary["std"] is None  # one seed: no spread measured
    assert summary["values"] == [resnet["test_accuracy_as_trained"]]
    assert result["data"] == {"train_images": 256, "test_images": 256, "batches_per_epoch": 8,
                              "per_class": 500}
    (dopri5,) = mnist.seed_runs(result, "odenet_dopri5")
    assert all((n - 2) % 6 == 0 for n in dopri5["nfe_forward"])  # 2 + 6 per Dopri5 step


def test_each_mnist_model_gets_its_own_seeded_data_order(tiny_mnist):
    """The ResNet trained after two other models sees the same batches as when it runs
    alone: its data order does not depend on what ran before it (a shared loader fails)."""
    alone = mnist.run(mode="fast", limit=256, max_batches=8, models=["resnet"],
                      recalibrate_bn=False)
    (after,), (first,) = mnist.seed_runs(tiny_mnist, "resnet"), mnist.seed_runs(alone, "resnet")
    assert after["batch_loss"] == first["batch_loss"]


def test_an_interrupted_run_resumes_from_its_partial_result(tmp_path, monkeypatch):
    partial = tmp_path / "mnist-fast.partial.json"
    config = {"mode": "fast", "limit": 64, "max_batches": 2, "models": ["resnet"],
              "recalibrate_bn": False}
    first = mnist.run(partial=partial, seeds=[0], **config)
    assert partial.exists()

    def no_training(*args, **kwargs):
        raise AssertionError("trained again")

    monkeypatch.setattr(mnist, "train_and_test", no_training)
    again = mnist.run(partial=partial, seeds=[0], **config)  # everything was done
    assert again["runs"] == first["runs"]
    with pytest.raises(AssertionError, match="trained again"):  # seed 1 is new work
        mnist.run(partial=partial, seeds=[0, 1], **config)
    with pytest.raises(ValueError, match="another configuration"):  # never mixed
        mnist.run(partial=partial, seeds=[0], **{**config, "max_batches": 3})


def test_mnist_full_training_set_offline_is_a_clear_error(mirror_without_train_images,
                                                          monkeypatch, tmp_path):
    monkeypatch.setenv("NODEBOOK_OFFLINE", "1")
    monkeypatch.setenv("NODEBOOK_DATA", str(tmp_path / "data"))
    with pytest.raises(data.DataUnavailableError, match="train-images"):
        mnist.run(mode="full", models=["resnet"])


def test_ecg_run_reports_every_measure_for_both_models(tiny_ecg):
    result = tiny_ecg
    _check_common_fields(result, "ecg")
    part = result["protocols"]["kaggle"]
    assert part["runs"]["resnet"]["parameters"] == 182_853
    assert part["runs"]["odenet"]["parameters"] == 59_333
    (resnet,), (odenet,) = ecg.seed_runs(result, "resnet"), ecg.seed_runs(result, "odenet")
    assert np.mean(resnet["train"]["batch_loss"][-3:]) < np.mean(resnet["train"]["batch_loss"][:3])
    assert odenet["nfe"]["forward"][0] >= 6 and odenet["nfe"]["backward"][0] >= 6  # dopri5
    assert resnet["nfe"]["forward_mean"] is None
    for r in (resnet, odenet):
        test = r["test"]
        n = sum(test["support"])
        assert n == sum(part["data"]["counts"]["test"]) == r["timing"]["eval_test_beats"]
        assert np.sum(test["confusion"]) == n and len(test["f1"]) == 5
        assert test["accuracy"] == pytest.approx(np.trace(test["confusion"]) / n)
        assert r["timing"]["train_step_ms"] > 0 and r["timing"]["epoch_estimated"]
        assert len(r["train"]["val_accuracy"]) == 1
        assert "memory" not in r  # measured apart from any timing (experiments.scaling)
    assert part["ratios"]["train_step"]["values"] == [pytest.approx(
        odenet["timing"]["train_step_ms"] / resnet["timing"]["train_step_ms"])]
    assert part["summary"]["odenet"]["test.accuracy"]["values"] == [odenet["test"]["accuracy"]]
    counts = part["data"]["counts"]
    assert sum(counts["val"]) > 0 and part["data"]["sampling_rate_hz"] == 125


def test_ecg_records_follow_the_runs_own_mode(monkeypatch):
    """A standard-mode run under NODEBOOK_MODE=fast still uses all 48 records, and says so."""
    monkeypatch.setenv("NODEBOOK_MODE", "fast")
    for mode in ("standard", "full"):
        config = common.resolve(ecg.CONFIGS, {"mode": mode})
        assert config["records"] == list(data.MITDB_RECORDS) and len(config["records"]) == 48
    assert common.resolve(ecg.CONFIGS, {})["records"] == list(data.FAST_RECORDS)


def test_ecg_validation_is_held_out_of_the_training_set_not_the_test_set():
    split = ecg.load_data("kaggle", records=list(data.FAST_RECORDS), val_fraction=0.1)
    x_all, _ = data.load_heartbeats("train", records=data.FAST_RECORDS)
    x_test, _ = data.load_heartbeats("test", records=data.FAST_RECORDS)
    assert len(split["test"][0]) == len(x_test)
    assert split["train"][0].shape[1:] == (1, 187)

    def rows(x: torch.Tensor) -> list[bytes]:
        return sorted(row.numpy().tobytes() for row in x.reshape(len(x), -1))

    train, val = rows(split["train"][0]), rows(split["val"][0])
    assert len(val) > 0 and not set(val) & set(train)  # no validation beat is trained on
    assert sorted(train + val) == rows(x_all)  # together exactly the training beats
    assert not set(val) & set(rows(x_test))


def test_ecg_inter_patient_with_kaggle_csvs_is_refused():
    with pytest.raises(ValueError, match="inter-patient"):
        ecg.load_data("inter-patient", source="kaggle")


def test_holdout_split_is_stratified_and_disjoint():
    labels = np.repeat(np.arange(5), [500, 30, 60, 2, 1])
    split = data.holdout_split(labels, 0.1, seed=3)
    assert not set(split["train"]) & set(split["val"])
    assert len(split["train"]) + len(split["val"]) == len(labels)
    assert np.bincount(labels[split["val"]], minlength=5).tolist() == [50, 3, 6, 1, 0]
    with pytest.raises(ValueError):
        data.holdout_split(labels, 1.5)


def test_experiment_command_line_writes_json(tmp_path, capsys):
    assert common.main("spiral", lambda mode: spiral.run(
        mode=mode, solvers=["euler"], adjoint=[False], seeds=[0], iterations=3, snapshots=[2]),
        spiral.summary, ["--mode", "fast", "--out", str(tmp_path)]) == 0
    out = capsys.readouterr().out
    assert "euler" in out and "spiral-fast.json" in out
    assert common.load_result(tmp_path / "spiral-fast.json")["config"]["iterations"] == 3


def test_batchnorm_recalibration_changes_statistics_not_weights():
    torch.manual_seed(0)
    model = models.mnist_odenet(adjoint=False)
    x = torch.randn(64, 1, 28, 28) * 3 + 1
    loader = torch.utils.data.DataLoader(torch.utils.data.TensorDataset(
        x, torch.zeros(64, dtype=torch.int64)), batch_size=16)
    weights = {k: v.clone() for k, v in model.named_parameters()}
    norm = model[0][1]
    assert torch.equal(norm.running_mean, torch.zeros(64))
    model.eval()
    seconds = mnist.recalibrate_batchnorm(model, loader, torch.device("cpu"))
    assert seconds > 0 and not model.training  # the mode is restored
    assert all(torch.equal(v, weights[k]) for k, v in model.named_parameters())
    assert not torch.equal(norm.running_mean, torch.zeros(64))
    # a plain average over the batches: the stem's first BatchNorm sees the conv's output
    with torch.no_grad():
        first = model[0][0](x)
    torch.testing.assert_close(norm.running_mean, first.mean(dim=(0, 2, 3)), rtol=1e-4,
                               atol=1e-5)


def test_memory_experiment_measures_growth_with_depth():
    from nodebook_utils.experiments import scaling as memory_experiment

    result = memory_experiment.run(mode="fast", models=["ecg_resnet", "ecg_odenet_adjoint"],
                                   tasks=["ecg"], depths=[1, 2, 4])
    _check_common_fields(result, "scaling")
    resnet, adjoint = result["models"]["ecg_resnet"], result["models"]["ecg_odenet_adjoint"]
    assert (resnet["parameters"], adjoint["parameters"]) == (182_853, 59_333)
    assert resnet["parameter_mib"] == pytest.approx(182_853 * 4 / 2**20)
    assert resnet["nfe"] is None and adjoint["nfe"] >= 12
    series = result["depth"]["ecg"]
    saved = {kind: [p["saved_mib"] for p in s["points"]] for kind, s in series.items()}
    assert saved["rk4_backprop"][2] > 2.5 * saved["rk4_backprop"][0]  # every stage is stored
    assert len(set(saved["rk4_adjoint"])) == 1  # the adjoint stores none of them
    assert saved["resnet"][0] < saved["resnet"][1] < saved["resnet"][2]
    assert series["rk4_adjoint"]["saved_growth"]["ratio_last_first"] == pytest.approx(1.0)


def test_growth_fits_a_line():
    from nodebook_utils.experiments.scaling import growth

    fit = growth([1, 2, 4, 8], [3.0, 5.0, 9.0, 17.0])  # 2 per step + 1
    assert fit["slope"] == pytest.approx(2.0) and fit["intercept"] == pytest.approx(1.0)
    assert fit["r2"] == pytest.approx(1.0) and fit["ratio_last_first"] == pytest.approx(17 / 3)
    assert growth([1, 2, 4], [5.0, 5.0, 5.0])["slope"] == pytest.approx(0.0, abs=1e-12)


def test_scaling_tolerance_series_is_seeded_and_error_falls():
    from nodebook_utils.experiments.scaling import tolerance_series

    batch = torch.rand(4, 1, 187, generator=torch.Generator().manual_seed(0))
    torch.manual_seed(123)  # whatever ran before must not matter
    first = tolerance_series([1e-2, 1e-4], batch, torch.device("cpu"), 1)
    torch.manual_seed(456)
    again = tolerance_series([1e-2, 1e-4], batch, torch.device("cpu"), 1)
    assert [r["error"] for r in first] == [r["error"] for r in again]
    assert first[1]["error"] < first[0]["error"] and first[1]["nfe"] > first[0]["nfe"]



def test_spiral_runs_keep_what_rebuilds_and_re_solves_each_model(tiny_spiral):
    """Lesson 07 rebuilds the median seed's network from its stored weights and judges the
    solvers on the accurate re-solve and on the learned field's error."""
    import torchdiffeq

    config = tiny_spiral["config"]
    t = torch.tensor(tiny_spiral["truth"]["t"], dtype=torch.float32)
    y = torch.tensor(tiny_spiral["truth"]["y"], dtype=torch.float32)
    for r in tiny_spiral["runs"]:
        model = spiral.model_from(r["weights"], config)
        assert spiral.weights_of(model) == r["weights"]  # exact round trip
        with torch.no_grad():
            field = (model(t[0], y) - spiral.true_field(y, config)).pow(2).mean().item()
            learned = torchdiffeq.odeint(model, y[0], t, method="dopri5", rtol=config["rtol"],
                                         atol=config["atol"])
        # the truth is stored to five decimals, so agreement is to that precision
        assert field == pytest.approx(r["field_mse"], rel=1e-2, abs=1e-5)
        assert (learned - y).pow(2).mean().item() == pytest.approx(
            r["final_mse_accurate"], rel=1e-2, abs=1e-5)
