"""Shared fixtures: the offline data mirror (and one of our own without a file), and each
experiment run once with tiny settings per test session."""

import os
import pickle
from pathlib import Path

import filelock
import pytest
import torch

from nodebook_utils import data
from nodebook_utils.experiments import ecg, mnist, spiral

# Under pytest-xdist (`make test` runs one worker per core) each worker and the notebook kernels
# it starts use one thread: two workers with two threads each on two cores run several times
# slower than one.
if os.environ.get("PYTEST_XDIST_WORKER"):
    os.environ["OMP_NUM_THREADS"] = "1"
    torch.set_num_threads(1)

# The mirror: NODEBOOK_MIRROR when set (CI sets it: then its files must be there, and a test
# that needs them fails rather than skips), else ../shared/data beside the checkout if present.
MIRROR_SET = bool(os.environ.get("NODEBOOK_MIRROR"))
MIRROR = (Path(os.environ["NODEBOOK_MIRROR"]) if MIRROR_SET
          else Path(__file__).resolve().parents[2] / "shared" / "data")

@pytest.fixture
def mirror(monkeypatch: pytest.MonkeyPatch) -> Path:
    """The offline mirror, set as NODEBOOK_MIRROR."""
    complete = (MIRROR / "mnist").is_dir() and (MIRROR / "mitdb").is_dir()
    if MIRROR_SET:
        assert complete, f"NODEBOOK_MIRROR={MIRROR} is set but lacks mnist/ and mitdb/"
    elif not complete:
        pytest.skip("no data mirror: set NODEBOOK_MIRROR or put it at ../shared/data")
    monkeypatch.setenv("NODEBOOK_MIRROR", str(MIRROR))
    return MIRROR


@pytest.fixture
def mirror_without_train_images(mirror: Path, tmp_path: Path,
                                monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mirror folder of our own, set as NODEBOOK_MIRROR: links to every file of the shared
    mirror but the 60,000 training images, as a machine without them sees it. Tests about an
    absent file build it so instead of relying on what the shared mirror lacks."""
    own = tmp_path / "mirror"
    (own / "mnist").mkdir(parents=True)
    (own / "mitdb").symlink_to(mirror / "mitdb")
    for path in (mirror / "mnist").iterdir():
        if path.name != data.MNIST_FILES["train-images"].name:
            (own / "mnist" / path.name).symlink_to(path)
    monkeypatch.setenv("NODEBOOK_MIRROR", str(own))
    return own



def _once(name: str, factory: pytest.TempPathFactory, run):
    """``run()`` once per test session, also under pytest-xdist: the first worker to get here
    runs it and leaves its result (pickled) in the session's shared temporary folder, under a
    file lock; the other workers read it (the recipe of pytest-xdist's documentation)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return run()
    shared = factory.getbasetemp().parent
    path = shared / f"{name}.pickle"
    with filelock.FileLock(f"{path}.lock"):
        if path.exists():
            return pickle.loads(path.read_bytes())
        result = run()
        path.write_bytes(pickle.dumps(result))
        return result


@pytest.fixture(scope="session")
def tiny_spiral(tmp_path_factory):
    """Euler and RK4, with and without the adjoint, 2 seeds of 31 iterations."""
    return _once("tiny_spiral", tmp_path_factory, lambda: spiral.run(
        mode="fast", solvers=["euler", "rk4", "dopri5"], adjoint=[False, True], seeds=[0, 1],
        iterations=31, snapshots=[0, 30]))


@pytest.fixture(scope="session")
def tiny_mnist(tmp_path_factory):
    """The three MNIST models, 8 steps on 256 images."""
    return _once("tiny_mnist", tmp_path_factory,
                 lambda: mnist.run(mode="fast", limit=256, max_batches=8))


@pytest.fixture(scope="session")
def tiny_ecg(tmp_path_factory):
    """The ECG ResNet for 8 steps and the Neural ODE for 1, Kaggle protocol, fast records."""
    budget = {"resnet": {"epochs": 1, "max_batches": 8}, "odenet": {"epochs": 1, "max_batches": 1}}
    return _once("tiny_ecg", tmp_path_factory,
                 lambda: ecg.run(mode="fast", protocols=["kaggle"], budget={"kaggle": budget}))
