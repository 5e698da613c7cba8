"""nodebook_utils.convolution (01_discrete_convolution)."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from nodebook_utils.convolution import convolve1d, output_size, receptive_field


def test_convolve1d_by_hand_and_against_numpy():
    got = convolve1d(torch.tensor([1.0, 2.0, 3.0]), torch.tensor([0.0, 1.0, 0.5]))
    assert torch.allclose(got, torch.tensor([0.0, 1.0, 2.5, 4.0, 1.5]))
    rng = np.random.default_rng(0)
    for n, k in [(1, 1), (5, 1), (1, 4), (10, 3), (7, 7), (4, 9)]:
        f, g = rng.normal(size=n), rng.normal(size=k)
        got = convolve1d(torch.from_numpy(f), torch.from_numpy(g))
        assert got.dtype == torch.float64 and got.shape == (n + k - 1,)
        np.testing.assert_allclose(got.numpy(), np.convolve(f, g), atol=1e-12)


def test_convolve1d_is_commutative_and_accepts_lists_and_ints():
    f, g = torch.randn(6, dtype=torch.float64), torch.randn(3, dtype=torch.float64)
    assert torch.allclose(convolve1d(f, g), convolve1d(g, f))
    assert convolve1d([1, 2], [1, 1]).tolist() == [1.0, 3.0, 2.0]
    with pytest.raises(ValueError):
        convolve1d(torch.ones(2, 2), torch.ones(2))


def test_output_size_matches_torch():
    for n in range(1, 10):
        for k in range(1, 5):
            for s in (1, 2, 3):
                for p in (0, 1, 2):
                    for d in (1, 2):
                        if d * (k - 1) + 1 > n + 2 * p:
                            with pytest.raises(ValueError):
                                output_size(n, k, s, p, d)
                            continue
                        y = F.conv1d(torch.zeros(1, 1, n), torch.zeros(1, 1, k),
                                     stride=s, padding=p, dilation=d)
                        assert output_size(n, k, s, p, d) == y.shape[-1]


def test_output_size_examples_and_errors():
    assert output_size(28, 3) == 26
    assert output_size(26, 4, 2, 1) == 13 and output_size(13, 4, 2, 1) == 6
    assert output_size(187, 3) == 185 and output_size(185, 4, 2, 1) == 92
    for bad in [(0, 1), (5, 0), (5, 3, 0), (5, 3, 1, -1), (5, 3, 1, 0, 0)]:
        with pytest.raises(ValueError):
            output_size(*bad)


def measured_field(kernels, strides, dilations):
    """Span of the input pixels that one output of a ones-weighted conv stack depends on."""
    layers = [torch.nn.Conv1d(1, 1, k, s, dilation=d, bias=False)
              for k, s, d in zip(kernels, strides, dilations, strict=True)]
    for layer in layers:
        torch.nn.init.ones_(layer.weight)
    x = torch.ones(1, 1, 200, requires_grad=True)
    y = torch.nn.Sequential(*layers)(x)
    y[0, 0, y.shape[-1] // 2].backward()
    nonzero = torch.nonzero(x.grad[0, 0]).flatten()
    return int(nonzero[-1] - nonzero[0] + 1)


@pytest.mark.parametrize(
    "kernels, strides, dilations",
    [([3], [1], [1]), ([3, 3], [1, 1], [1, 1]), ([3] * 5, [1] * 5, [1] * 5),
     ([3, 4, 4], [1, 2, 2], [1, 1, 1]), ([5, 3, 3], [2, 2, 1], [1, 1, 1]),
     ([3, 3, 3, 3], [1, 1, 1, 1], [1, 2, 4, 8]), ([2, 2], [2, 2], [1, 1])],
)
def test_receptive_field_matches_gradient_span(kernels, strides, dilations):
    expected = measured_field(kernels, strides, dilations)
    assert receptive_field(kernels, strides, dilations) == expected


def test_receptive_field_defaults_and_errors():
    assert receptive_field([]) == 1
    assert receptive_field([3, 3]) == 5 and receptive_field([3, 3, 3]) == 7
    with pytest.raises(ValueError):
        receptive_field([3, 3], [1])
    with pytest.raises(ValueError):
        receptive_field([0])
