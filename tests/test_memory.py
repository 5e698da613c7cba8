"""nodebook_utils.memory: bytes saved for backward, and what they show about the adjoint."""

import pytest
import torch
from torch import nn

from nodebook_utils import memory, models
from nodebook_utils.adjoint import odeint_adjoint
from nodebook_utils.memory import SavedTensorsMeter, measure_backward_memory
from nodebook_utils.solvers import odeint


def test_counts_each_storage_once_and_skips_ignored():
    x = torch.randn(100, requires_grad=True)  # 400 bytes
    with SavedTensorsMeter().active() as meter:
        (x * x).sum()  # mul saves x twice: one storage
    assert meter.saves == 2 and meter.bytes == 400 and len(meter.storages) == 1
    with SavedTensorsMeter(ignore=[x]).active() as meter:
        y = x.exp()  # exp saves its output
        (y * 2).sum()
    assert meter.bytes == 400  # the output of exp, not x
    with SavedTensorsMeter().active() as meter:
        x[10:20].sin().sum()  # a view of x shares its storage
    assert meter.bytes == 400


def test_nothing_saved_without_grad():
    x = torch.randn(50)
    with SavedTensorsMeter().active() as meter:
        x.exp().sum()
    assert meter.saves == 0 and meter.bytes == 0


def test_measure_runs_backward_and_reports():
    layer = nn.Linear(3, 4).double()
    x = torch.randn(5, 3, dtype=torch.float64)
    result = measure_backward_memory(
        lambda: layer(x).tanh().sum(), ignore=layer.parameters(), device="cpu"
    )
    assert layer.weight.grad is not None
    assert result.peak_bytes is None
    # tanh saves its output (5 x 4 doubles); the input x is saved by the matmul (5 x 3)
    assert result.saved_bytes == 8 * (5 * 4 + 5 * 3)
    assert result.loss == pytest.approx(layer(x).tanh().sum().item())
    layer.zero_grad()
    forward_only = measure_backward_memory(lambda: layer(x).sum(), backward=False)
    assert layer.weight.grad is None or layer.weight.grad.abs().sum() == 0
    assert forward_only.saved_bytes > 0


def test_backprop_through_the_solver_grows_and_the_adjoint_does_not():
    torch.manual_seed(0)
    func = nn.Sequential(nn.Linear(2, 8), nn.Tanh(), nn.Linear(8, 2))

    class Dynamics(nn.Module):
        def __init__(self):
            super().__init__()
            self.net = func

        def forward(self, t, z):
            return self.net(z)

    f = Dynamics()
    y0 = torch.randn(4, 2)
    t = torch.tensor([0.0, 1.0])

    def saved(solve, steps):
        return measure_backward_memory(
            lambda: solve(f, y0, t, method="euler", step_size=1 / steps)[-1].sum(),
            ignore=f.parameters(),
        ).saved_bytes

    bp = [saved(odeint, n) for n in (10, 20, 40)]
    adj = [saved(odeint_adjoint, n) for n in (10, 20, 40)]
    assert bp[0] < bp[1] < bp[2] and bp[2] > 3 * bp[0]
    assert adj[0] == adj[1] == adj[2] < bp[0]


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_peak():
    x = torch.randn(1000, device="cuda", requires_grad=True)
    result = measure_backward_memory(lambda: x.exp().sum(), device="cuda")
    assert result.peak_bytes is not None and result.peak_bytes >= 4000


# --- the tensor-memory meter (peak_memory) and one training step (training_step_memory) ------

MB = 1_000_000


def _allocations(sizes_mb: list[int]) -> None:
    """Allocate float32 tensors of these sizes (MB), each released when the next is made,
    except that the first stays alive throughout."""
    keep = torch.empty(sizes_mb[0] * MB // 4)
    for size in sizes_mb[1:]:
        t = torch.empty(size * MB // 4)
        del t
    del keep


@pytest.mark.parametrize(("sizes", "peak"), [([4, 8, 2], 12), ([16, 1], 17), ([1], 1)])
def test_peak_memory_reads_tensors_of_known_size(sizes, peak):
    """4 MB kept while 8 MB come and go peaks at 12 MB: a meter returning a constant, the
    last allocation or the sum of all of them fails one of these."""
    measured = memory.peak_memory(lambda: _allocations(sizes), "cpu")
    assert measured["measure"] == memory.MEASURES["cpu"]
    assert peak * MB <= measured["bytes"] < peak * MB + 64 * 1024


def test_peak_memory_counts_only_what_the_call_adds_and_returns_its_value():
    before = torch.ones(50 * MB // 4)  # allocated before: not counted
    measured = memory.peak_memory(lambda: before.sum().item(), "cpu")
    assert measured["bytes"] < 1024 and measured["value"] == before.sum().item()


def test_training_step_memory_leaves_the_model_as_it_was():
    torch.manual_seed(0)
    model = models.mnist_odenet(method="euler", step_size=0.5, adjoint=False)  # BatchNorm
    model.eval()
    state = {k: v.clone() for k, v in model.state_dict().items()}
    batch = (torch.randn(16, 1, 28, 28), torch.randint(0, 10, (16,)))
    step = memory.training_step_memory(model, batch, "cpu")
    assert not model.training and all(not m.training for m in model.modules())
    assert all(torch.equal(v, state[k]) for k, v in model.state_dict().items())
    assert all(p.grad is None for p in model.parameters())
    assert step["nfe"] == 2 and step["batch"] == 16
    assert 0 < step["saved_mib"] < step["peak_mib"]


def test_training_step_memory_ranks_backprop_above_the_adjoint():
    """The same ODE block, 8 RK4 steps: backpropagation stores every stage, the adjoint
    none of them, and the peak follows."""
    batch = (torch.rand(32, 1, 187), torch.randint(0, 5, (32,)))
    kept = {}
    for adjoint in (False, True):
        torch.manual_seed(0)
        model = models.ecg_odenet(method="rk4", step_size=1 / 8, adjoint=adjoint)
        kept[adjoint] = memory.training_step_memory(model, batch, "cpu")
    assert kept[False]["saved_mib"] > 10 * kept[True]["saved_mib"]
    assert kept[False]["peak_mib"] > kept[True]["peak_mib"]
    assert (kept[False]["nfe"], kept[True]["nfe"]) == (32, 64)
