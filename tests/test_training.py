"""fit, evaluate, count_parameters and checkpoints on tiny problems."""

import math

import pytest
import torch
from torch import nn
from torch.nn import functional as F
from torch.utils.data import DataLoader, TensorDataset

from nodebook_utils.training import (
    History,
    count_parameters,
    evaluate,
    fit,
    load_checkpoint,
    save_checkpoint,
)


def blobs(n=256, seed=0):
    """Two well-separated Gaussian blobs: any classifier should reach high accuracy."""
    g = torch.Generator().manual_seed(seed)
    y = torch.randint(0, 2, (n,), generator=g)
    x = torch.randn(n, 2, generator=g) + 3.0 * (2 * y[:, None] - 1)
    return DataLoader(TensorDataset(x, y), batch_size=32, shuffle=False)


def test_fit_learns_and_records_history():
    torch.manual_seed(0)
    model = nn.Linear(2, 2)
    loader = blobs()
    before = evaluate(model, loader, progress=False)
    history = fit(model, loader, epochs=3, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                  val_loader=loader, progress=False)
    after = evaluate(model, loader, progress=False)
    assert isinstance(history, History)
    assert len(history.loss) == len(history.accuracy) == len(history.seconds) == 3
    assert len(history.batch_loss) == 3 * len(loader)
    assert len(history.val_accuracy) == 3 and history.val_accuracy[-1] == after["accuracy"]
    assert all(s > 0 for s in history.seconds)
    assert history.loss[-1] < history.loss[0]
    assert after["loss"] < before["loss"] and after["accuracy"] > 0.95
    assert set(after) == {"loss", "accuracy", "seconds"}


def test_max_batches_limits_each_epoch():
    model = nn.Linear(2, 2)
    history = fit(model, blobs(), epochs=2, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
                  max_batches=3, progress=False)
    assert len(history.batch_loss) == 6


def test_regression_targets_have_no_accuracy():
    x = torch.randn(64, 3)
    loader = DataLoader(TensorDataset(x, x.sum(1, keepdim=True)), batch_size=16)
    model = nn.Linear(3, 1)
    history = fit(model, loader, epochs=1, optimizer=torch.optim.Adam(model.parameters()),
                  loss_fn=F.mse_loss, progress=False)
    assert math.isnan(history.accuracy[0])
    assert math.isnan(evaluate(model, loader, loss_fn=F.mse_loss, progress=False)["accuracy"])


def test_evaluate_accuracy_is_exact():
    class Constant(nn.Module):
        def __init__(self):
            super().__init__()
            self.p = nn.Parameter(torch.zeros(1))

        def forward(self, x):
            return torch.tensor([[1.0, 0.0]]).expand(len(x), 2) + 0 * self.p

    y = torch.tensor([0, 0, 0, 1])
    loader = DataLoader(TensorDataset(torch.zeros(4, 1), y), batch_size=3)
    assert evaluate(Constant(), loader, progress=False)["accuracy"] == 0.75


def test_count_parameters():
    model = nn.Sequential(nn.Conv2d(1, 4, 3), nn.Flatten(), nn.Linear(4, 10))
    assert count_parameters(model) == (1 * 4 * 9 + 4) + (4 * 10 + 10)
    model[0].weight.requires_grad_(False)
    assert count_parameters(model) == 4 + 50
    assert count_parameters(model, trainable_only=False) == 90


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    model, other = nn.Linear(3, 2), nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters())
    model(torch.randn(1, 3)).sum().backward()
    optimizer.step()
    path = save_checkpoint(tmp_path / "ckpt" / "m.pt", model, optimizer, epoch=4, note="x")
    opt2 = torch.optim.Adam(other.parameters())
    meta = load_checkpoint(path, other, opt2)
    assert meta == {"epoch": 4, "note": "x"}
    for a, b in zip(model.state_dict().values(), other.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert opt2.state_dict()["state"][0]["step"] == 1


def test_checkpoint_refuses_pickled_objects(tmp_path):
    model = nn.Linear(1, 1)
    path = save_checkpoint(tmp_path / "m.pt", model, note=object())  # not weights-only safe
    with pytest.raises(Exception, match="(?i)weights_only|unsupported"):
        load_checkpoint(path, model)


def test_checkpoint_without_optimizer_state(tmp_path):
    model = nn.Linear(1, 1)
    path = save_checkpoint(tmp_path / "m.pt", model)
    with pytest.raises(KeyError, match="no optimizer state"):
        load_checkpoint(path, model, torch.optim.SGD(model.parameters(), lr=0.1))


def test_one_progress_bar_which_tqdm_disable_switches_off(monkeypatch, capsys):
    model = nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    monkeypatch.delenv("TQDM_DISABLE", raising=False)
    fit(model, blobs(64), epochs=2, optimizer=optimizer)
    err = capsys.readouterr().err
    assert "epoch 2/2" in err and "4/4" in err and "loss=" in err
    monkeypatch.setenv("TQDM_DISABLE", "1")
    fit(model, blobs(64), epochs=2, optimizer=optimizer)
    evaluate(model, blobs(64))
    assert capsys.readouterr().err == ""


@pytest.mark.parametrize("mode", ["train", "eval"])
def test_fit_and_evaluate_restore_the_models_mode(mode):
    model = nn.Sequential(nn.Linear(2, 2), nn.Dropout(0.5))
    model.train(mode == "train")
    loader = blobs(64)
    fit(model, loader, epochs=1, optimizer=torch.optim.SGD(model.parameters(), lr=0.1),
        val_loader=loader, progress=False)
    assert model.training == (mode == "train")
    evaluate(model, loader, progress=False)
    assert model.training == (mode == "train")


def test_save_checkpoint_is_atomic(tmp_path, monkeypatch):
    model = nn.Linear(2, 2)
    path = save_checkpoint(tmp_path / "model.pt", model, note="first")

    def broken_save(obj, file):
        file.write(b"half a checkpoint")
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", broken_save)
    with pytest.raises(OSError, match="disk full"):
        save_checkpoint(path, nn.Linear(2, 2), note="second")
    monkeypatch.undo()
    assert load_checkpoint(path, nn.Linear(2, 2)) == {"note": "first"}  # the old one, intact
    assert [p.name for p in tmp_path.iterdir()] == ["model.pt"]  # no temporary file left


def test_seed_everything_can_ask_for_deterministic_algorithms():
    from nodebook_utils import seed_everything

    before = torch.are_deterministic_algorithms_enabled()
    try:
        seed_everything(0, deterministic=True)
        assert torch.are_deterministic_algorithms_enabled()
        assert torch.backends.cudnn.benchmark is False
        seed_everything(0)
        a = torch.rand(3)
        seed_everything(0)
        assert torch.equal(a, torch.rand(3))
    finally:
        torch.use_deterministic_algorithms(before)


def _dropout_run(tmp_path, epochs, checkpoint=None):
    """A seeded run with everything that makes epochs depend on earlier ones: momentum, a
    shuffling loader with its own generator, dropout drawing from the global generator."""
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3), nn.Linear(16, 2))
    data = blobs().dataset
    loader = DataLoader(data, batch_size=32, shuffle=True,
                        generator=torch.Generator().manual_seed(1))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    history = fit(model, loader, epochs=epochs, optimizer=optimizer, progress=False,
                  checkpoint=checkpoint)
    return model, history


def test_fit_continues_from_its_checkpoint_as_if_never_interrupted(tmp_path):
    whole, whole_history = _dropout_run(tmp_path, 3)
    path = tmp_path / "run.epochs.pt"
    _dropout_run(tmp_path, 2, checkpoint=path)  # stopped after two epochs
    torch.manual_seed(123)  # whatever the new process's generator holds
    resumed, history = _dropout_run(tmp_path, 3, checkpoint=path)
    for a, b in zip(whole.state_dict().values(), resumed.state_dict().values(), strict=True):
        assert torch.equal(a, b)
    assert history.loss == whole_history.loss and history.steps == [8, 8, 8]
    assert load_checkpoint(path, nn.Sequential(nn.Linear(2, 16), nn.ReLU(), nn.Dropout(0.3),
                                               nn.Linear(16, 2)))["epochs"] == 3
