"""Neural ODE building blocks (05_neural_odes): time-concatenating layers and the ODE block."""

import pytest
import torch

from nodebook_utils import models
from nodebook_utils.models import ConcatConv, ConcatLinear, MLPDynamics, ODEBlock, concat_time
from nodebook_utils.solvers import odeint
from nodebook_utils.training import count_parameters

F64 = torch.float64


def test_concat_time_puts_t_first_for_batches_and_single_states():
    h = torch.randn(4, 3, dtype=F64)
    out = concat_time(torch.tensor(0.25), h)
    assert out.shape == (4, 4) and out.dtype == F64
    assert torch.equal(out[:, 0], torch.full((4,), 0.25, dtype=F64))
    assert torch.equal(out[:, 1:], h)
    assert concat_time(0.5, torch.zeros(3)).tolist() == [0.5, 0.0, 0.0, 0.0]
    assert concat_time(1.0, torch.zeros(2, 5, 3)).shape == (2, 5, 4)


def test_concat_linear_is_a_linear_layer_on_t_and_h():
    layer = ConcatLinear(3, 5)
    h, t = torch.randn(7, 3), torch.tensor(0.7)
    w, b = layer.linear.weight, layer.linear.bias
    expected = t * w[:, 0] + h @ w[:, 1:].T + b
    torch.testing.assert_close(layer(t, h), expected)
    assert count_parameters(layer) == (3 + 1) * 5 + 5
    assert count_parameters(ConcatLinear(3, 5, bias=False)) == 20


@pytest.mark.parametrize("dims", [1, 2])
def test_concat_conv_adds_a_time_channel(dims):
    layer = ConcatConv(4, 6, dims=dims)
    spatial = (9,) * dims
    h = torch.randn(2, 4, *spatial)
    out = layer(torch.tensor(0.3), h)
    assert out.shape == (2, 6, *spatial)
    t_channel = torch.full((2, 1, *spatial), 0.3)
    torch.testing.assert_close(out, layer.conv(torch.cat([t_channel, h], dim=1)))
    # the ECG ODE-Net's ConcatConv (Math 179 report): Conv1d(65, 64, 3) with bias
    assert count_parameters(ConcatConv(64, 64, dims=1)) == 12_544
    with pytest.raises(ValueError, match="dims"):
        ConcatConv(4, 6, dims=3)


def test_mlp_dynamics_shapes_time_dependence_and_parameter_count():
    f = MLPDynamics(2, [16, 8])
    h = torch.randn(5, 2)
    assert f(torch.tensor(0.0), h).shape == (5, 2)
    assert not torch.allclose(f(torch.tensor(0.0), h), f(torch.tensor(1.0), h))
    assert count_parameters(f) == (3 * 16 + 16) + (17 * 8 + 8) + (9 * 2 + 2)
    g = MLPDynamics(2, [16], time=False)
    assert torch.equal(g(torch.tensor(0.0), h), g(torch.tensor(5.0), h))
    assert count_parameters(g) == 2 * 2 * 16 + 16 + 2


def test_ode_block_matches_the_from_scratch_solver_and_counts_nfe():
    torch.manual_seed(0)
    f = MLPDynamics(3, [8]).double()
    block = ODEBlock(f, 0.0, 1.5, rtol=1e-9, atol=1e-11)
    x = torch.randn(4, 3, dtype=F64)
    out = block(x)
    assert out.shape == x.shape and block.nfe > 0
    assert block.reset_nfe() > 0 and block.nfe == 0
    ref = odeint(f, x, torch.tensor([0.0, 1.5], dtype=F64), rtol=1e-9, atol=1e-11)[-1]
    torch.testing.assert_close(out, ref, rtol=1e-7, atol=1e-8)
    t = torch.tensor([0.0, 0.1, 0.35, 1.2], dtype=F64)
    assert block.trajectory(x, t).shape == (4, 4, 3)


def test_ode_block_with_euler_steps_is_a_residual_stack():
    torch.manual_seed(1)
    f = MLPDynamics(2, [8]).double()
    k = 5
    block = ODEBlock(f, method="euler", options={"step_size": 1 / k})
    x = torch.randn(3, 2, dtype=F64)
    h = x
    for i in range(k):
        h = h + (1 / k) * f(torch.tensor(i / k, dtype=F64), h)
    torch.testing.assert_close(block(x), h)
    assert block.nfe == k


def test_ode_block_gradients_backprop_and_adjoint_agree():
    torch.manual_seed(2)
    x = torch.randn(6, 2, dtype=F64)
    grads, backward_nfe = [], []
    for adjoint in (False, True):
        torch.manual_seed(3)
        block = ODEBlock(MLPDynamics(2, [8]).double(), rtol=1e-10, atol=1e-12, adjoint=adjoint)
        loss = block(x).pow(2).sum()
        assert block.reset_nfe() > 0
        loss.backward()
        grads.append(torch.cat([p.grad.flatten() for p in block.parameters()]))
        backward_nfe.append(block.reset_nfe())
    torch.testing.assert_close(grads[0], grads[1], rtol=1e-6, atol=1e-8)
    assert backward_nfe[0] == 0 and backward_nfe[1] > 0


@pytest.mark.parametrize("dims", [1, 2])
@pytest.mark.parametrize("time_last", [False, True])
def test_time_as_a_bias_map_is_the_concatenated_time_channel(dims, time_last):
    """10_fast_neural_odes: the time's part of ConcatConv as t * (bias map): same weights,
    same outputs and gradients, at the zero-padded edges too."""
    torch.manual_seed(0)
    concat = models.ConcatConv(5, 7, 3, 1, 1, dims=dims, time_last=time_last).double()
    bias = models.ConcatConv(5, 7, 3, 1, 1, dims=dims, time_last=time_last,
                             time_as_bias=True).double()
    bias.load_state_dict(concat.state_dict())
    h = torch.randn(4, 5, *([9] * dims), dtype=torch.float64)
    for t in (0.0, 0.37, torch.tensor(-1.5, dtype=torch.float64)):
        out_a, out_b = concat(t, h), bias(t, h)
        torch.testing.assert_close(out_b, out_a, rtol=1e-12, atol=1e-12)
    grads = [torch.autograd.grad(m(0.6, h).square().sum(), m.conv.weight)[0]
             for m in (concat, bias)]
    torch.testing.assert_close(grads[1], grads[0], rtol=1e-12, atol=1e-12)
    edge = bias(1.0, torch.zeros_like(h)) - bias.conv.bias.view(1, -1, *([1] * dims))
    assert not torch.allclose(edge[..., 0], edge[..., 4])  # the padding shows at the edge
    # the map t multiplies is what a zero state shows at t = 1, minus the bias
    torch.testing.assert_close(bias.time_bias_map(h).expand_as(edge), edge)


def test_ecg_odenet_with_the_time_as_bias_matches_the_original():
    torch.manual_seed(0)
    original = models.ecg_odenet(method="rk4", adjoint=False)
    fast = models.ecg_odenet(method="rk4", adjoint=False, time_as_bias=True)
    fast.load_state_dict(original.state_dict())
    assert count_parameters(fast) == count_parameters(original) == 59_333
    x = torch.randn(3, 1, 187)
    torch.testing.assert_close(fast(x), original(x), rtol=1e-4, atol=1e-5)


def test_ecg_odenet_without_the_last_group_norm_is_the_same_network_less_norm3():
    torch.manual_seed(0)
    full = models.ecg_odenet(method="rk4", adjoint=False, time_as_bias=True)
    lean = models.ecg_odenet(method="rk4", adjoint=False, time_as_bias=True, output_norm=False)
    assert count_parameters(lean) == 59_205 == count_parameters(full) - 128
    f_full, f_lean = (models.ode_blocks(m)[0].func.func for m in (full, lean))
    f_lean.load_state_dict({k: v for k, v in f_full.state_dict().items()
                            if not k.startswith("norm3.")})
    t, h = torch.tensor(0.3), torch.randn(2, 64, 46)
    with torch.no_grad():  # the full dynamics are the lean ones followed by norm3
        assert not torch.allclose(f_lean(t, h), f_full(t, h))
        torch.testing.assert_close(f_full.norm3(f_lean(t, h)), f_full(t, h))


def test_torchdiffeqs_mnist_example_network_has_its_parameter_count():
    model = models.mnist_reference_odenet()
    assert count_parameters(model) == 208_266
    assert count_parameters(models.ode_blocks(model)[0]) == 75_392
    block = models.ode_blocks(model)[0]
    assert (block.method, block.rtol, block.atol, block.adjoint) == ("dopri5", 1e-3, 1e-3, False)
    fast = models.mnist_odenet(method="rk4", step_size=1.0, adjoint=False, time_as_bias=True)
    slow = models.mnist_odenet(method="rk4", step_size=1.0, adjoint=False)
    slow.load_state_dict(fast.state_dict())
    x = torch.randn(2, 1, 28, 28)
    torch.testing.assert_close(fast.eval()(x), slow.eval()(x), rtol=1e-4, atol=1e-5)
