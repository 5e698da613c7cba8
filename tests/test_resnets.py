"""Residual blocks and deep MLPs of 03_residual_networks (also used by 02)."""

import pytest
import torch
from torch import nn
from torch.nn import functional as F

from nodebook_utils.resnets import (
    MLPBlock,
    ResidualBlock,
    deep_mlp,
    layer_gradient_norms,
    linear_layers,
    residual_block_parameters,
)
from nodebook_utils.training import count_parameters


@pytest.mark.parametrize(("a", "b", "s"), [(8, 8, 1), (8, 16, 1), (8, 16, 2), (16, 16, 2)])
def test_residual_block_shapes_and_parameter_formula(a, b, s):
    block = ResidualBlock(a, b, s)
    out = block(torch.randn(2, a, 9, 9))
    assert out.shape == (2, b, 5 if s == 2 else 9, 5 if s == 2 else 9)
    assert count_parameters(block) == residual_block_parameters(a, b, s)
    projection = a * b if (a != b or s != 1) else 0
    assert count_parameters(block) - count_parameters(block.residual) == projection
    assert isinstance(block.shortcut, nn.Identity) == (projection == 0)


def test_residual_block_is_relu_of_branch_plus_input():
    torch.manual_seed(0)
    block = ResidualBlock(4, 4)
    x = torch.randn(3, 4, 6, 6)
    assert torch.allclose(block(x), torch.relu(block.residual(x) + x))
    with torch.no_grad():
        for p in block.residual.parameters():
            p.zero_()
    assert torch.allclose(block(x), torch.relu(x))


@pytest.mark.parametrize("depth", [2, 4, 8, 32])
def test_deep_mlp_plain_and_residual_have_equal_size(depth):
    plain, res = deep_mlp(depth, 16), deep_mlp(depth, 16, residual=True)
    assert len(linear_layers(plain)) == len(linear_layers(res)) == depth
    assert count_parameters(plain) == count_parameters(res)
    expected = 784 * 16 + 16 + (depth - 2) * (16 * 16 + 16) + 16 * 10 + 10
    assert count_parameters(plain) == expected
    x = torch.randn(5, 1, 28, 28)
    assert plain(x).shape == res(x).shape == (5, 10)


def test_mlp_block_skip():
    torch.manual_seed(0)
    block, x = MLPBlock(6), torch.randn(4, 6)
    assert torch.allclose(block(x), torch.relu(block.branch(x) + x))
    block.residual = False
    assert torch.allclose(block(x), torch.relu(block.branch(x)))


def test_deep_mlp_rejects_bad_arguments():
    with pytest.raises(ValueError, match="at least"):
        deep_mlp(1)
    with pytest.raises(ValueError, match="even depth"):
        deep_mlp(7, residual=True)
    with pytest.raises(ValueError, match="ReLU"):
        deep_mlp(8, residual=True, activation=nn.Sigmoid)
    sig = deep_mlp(5, 8, activation=nn.Sigmoid)
    assert sum(isinstance(m, nn.Sigmoid) for m in sig) == 4


def test_layer_gradient_norms_match_autograd():
    torch.manual_seed(0)
    net = deep_mlp(4, 8, in_features=5, classes=3)
    x, y = torch.randn(6, 5), torch.tensor([0, 1, 2, 0, 1, 2])
    signal, weight = layer_gradient_norms(net, x, y)
    assert signal.shape == weight.shape == (4,)
    assert torch.allclose(weight, torch.stack([m.weight.grad.norm() for m in linear_layers(net)]))
    # dL/dz of the last layer is (softmax - onehot) / batch for the mean cross-entropy
    logits = net(x).detach()
    expected = (torch.softmax(logits, 1) - F.one_hot(y, 3)) / len(x)
    assert torch.isclose(signal[-1], expected.norm())
    # dL/dW_l = dL/dz_l h_(l-1)^T: the weight gradient of layer 1 is delta_1 x^T
    first = linear_layers(net)[0]
    captured = []
    handle = first.register_forward_hook(lambda m, i, out: captured.append(out))
    try:
        loss = F.cross_entropy(net(x), y)
        (z1,) = captured
        (delta1,) = torch.autograd.grad(loss, z1)
    finally:
        handle.remove()
    assert torch.isclose(signal[0], delta1.norm())
    assert torch.isclose(weight[0], (delta1.T @ x.flatten(1)).norm())
    assert all(len(m._forward_hooks) == 0 for m in linear_layers(net))  # hooks are removed
