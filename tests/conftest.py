"""Shared fixtures: each experiment run once with tiny settings per test session."""

import pytest

from nodebook_utils.experiments import ecg, mnist, spiral


@pytest.fixture(scope="session")
def tiny_spiral():
    """Euler and RK4, with and without the adjoint, 2 seeds of 31 iterations."""
    return spiral.run(mode="fast", solvers=["euler", "rk4", "dopri5"], adjoint=[False, True],
                      seeds=[0, 1], iterations=31, snapshots=[0, 30])


@pytest.fixture(scope="session")
def tiny_mnist():
    """The three MNIST models, 8 steps on 256 images."""
    return mnist.run(mode="fast", limit=256, max_batches=8)


@pytest.fixture(scope="session")
def tiny_ecg():
    """The ECG ResNet for 8 steps and the Neural ODE for 1, Kaggle protocol, fast records."""
    budget = {"resnet": {"epochs": 1, "max_batches": 8}, "odenet": {"epochs": 1, "max_batches": 1}}
    return ecg.run(mode="fast", protocols=["kaggle"], budget={"kaggle": budget})
