"""experiments.nfe_growth (11_when_neural_odes_go_wrong): the nested circles, the runs' records,
seeded batches shared by a seed's configurations, and a recorded blow-up."""

import json

import pytest
import torch

from nodebook_utils.experiments import nfe_growth


def test_nested_circles_classes_lie_on_their_rings():
    x, y = nfe_growth.nested_circles(1000, torch.Generator().manual_seed(0))
    radius = x.norm(dim=1)
    assert (radius[y == 0] <= 0.5).all()
    assert ((radius[y == 1] >= 1.0) & (radius[y == 1] <= 1.5)).all()
    assert int((y == 0).sum()) == 500


def test_run_records_every_step_and_is_json():
    result = nfe_growth.run(mode="fast", seeds=[0], iterations=4,
                            configurations=["plain", "regularised"])
    assert [r["configuration"] for r in result["runs"]] == ["plain", "regularised"]
    for run in result["runs"]:
        assert len(run["nfe"]) == len(run["loss"]) == 4 and run["failure"] is None
        assert run["nfe"][0] == 14  # dopri5: 2 + 6 per step, two steps at initialisation
        assert 0.0 <= run["accuracy"] <= 1.0
    json.dumps(result)
    assert "plain" in nfe_growth.summary(result)


def test_configurations_of_a_seed_see_the_same_batches(monkeypatch):
    seen = []
    original = nfe_growth.nested_circles

    def spy(n, generator):
        x, y = original(n, generator)
        seen.append(x.clone())
        return x, y

    monkeypatch.setattr(nfe_growth, "nested_circles", spy)
    nfe_growth.run(mode="fast", seeds=[0], iterations=2, configurations=["plain", "loose"],
                   test_points=8)
    plain, loose = seen[:3], seen[3:6]  # two training batches and the test points each
    assert all(torch.equal(a, b) for a, b in zip(plain, loose, strict=True))
    other = []
    monkeypatch.setattr(nfe_growth, "nested_circles",
                        lambda n, g: other.append(original(n, g)[0]) or original(n, g))
    nfe_growth.run(mode="fast", seeds=[1], iterations=1, configurations=["plain"], test_points=8)
    assert not torch.equal(other[0], plain[0])  # another seed, another order


def test_a_blow_up_is_recorded_with_its_model_and_batch():
    config = nfe_growth.CONFIGS["fast"] | {"iterations": 6}
    run = nfe_growth.train_one("unbounded", 0, config, torch.device("cpu"), keep_model=True)
    assert run["failure"]["step"] == run["steps_trained"] < 6
    assert "dt" in run["failure"]["message"] or "non-finite" in run["failure"]["message"]
    x, _ = run["failed_batch"]
    with pytest.raises(AssertionError):
        run["model"](x)


def test_unknown_configuration_is_refused():
    with pytest.raises(ValueError, match="unknown configurations"):
        nfe_growth.run(mode="fast", configurations=["plian"])
