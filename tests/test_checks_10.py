"""Checkers of 10_fast_neural_odes: a correct answer passes, a wrong one fails with its hint."""

import numpy as np
import torch
from torch.nn import functional as F
from torch.nn.functional import conv1d

from nodebook_utils import checks, models


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def bias_map_by_loops(weight_t, length, padding):
    """Output i sums the taps j whose input i + j - padding lies inside the signal."""
    c_out, _, k = weight_t.shape
    out = torch.zeros(c_out, length + 2 * padding - k + 1, dtype=weight_t.dtype)
    for i in range(out.shape[1]):
        for j in range(k):
            if 0 <= i + j - padding < length:
                out[:, i] += weight_t[:, 0, j]
    return out


def test_time_bias_map_passes_the_loops_and_sums_over_shifted_slices(capsys):
    assert checks.check_time_bias_map("ex", bias_map_by_loops)

    def by_slices(weight_t, length, padding):  # pad the ones, add each tap's slice
        c_out, _, k = weight_t.shape
        ones = torch.nn.functional.pad(torch.ones(length, dtype=weight_t.dtype),
                                       (padding, padding))
        width = length + 2 * padding - k + 1
        return sum(weight_t[:, 0, j, None] * ones[j:j + width] for j in range(k))

    assert checks.check_time_bias_map("ex", by_slices)
    assert lines(capsys) == ["PASS ex", "PASS ex"]


def from_layer(weight_t, length, padding):
    """The package's ConcatConv(time_as_bias=True): right, but a convolution."""
    layer = models.ConcatConv(2, weight_t.shape[0], weight_t.shape[-1], padding=padding,
                              bias=False, dims=1, time_as_bias=True).double()
    with torch.no_grad():
        layer.conv.weight[:, :1] = weight_t
        layer.conv.weight[:, 1:] = 0.0
        return layer(1.0, torch.zeros(1, 2, length, dtype=torch.float64))[0]


def test_the_loops_give_the_package_layers_map():
    weight_t = torch.randn(4, 1, 3, dtype=torch.float64)
    torch.testing.assert_close(from_layer(weight_t, 9, 1), bias_map_by_loops(weight_t, 9, 1))


def _through_a_helper(weight_t, length, padding):
    return _convolve_ones(weight_t, length, padding)


def _convolve_ones(weight_t, length, padding):  # a helper elsewhere that convolves
    ones = torch.ones(1, 1, length, dtype=weight_t.dtype)
    return torch.nn.functional.conv1d(ones, weight_t, padding=padding)[0]


def test_time_bias_map_fails_every_library_convolution(capsys):
    """The exercise forbids conv1d: the one-line answer and its disguises all fail."""
    original = torch.nn.functional.conv1d

    def one_line(weight_t, length, padding):
        return F.conv1d(torch.ones(1, 1, length, dtype=weight_t.dtype), weight_t,
                        padding=padding)[0]

    def imported(weight_t, length, padding):
        return conv1d(torch.ones(1, 1, length, dtype=weight_t.dtype), weight_t,
                      padding=padding)[0]

    def module(weight_t, length, padding):
        conv = torch.nn.Conv1d(1, weight_t.shape[0], weight_t.shape[-1], padding=padding,
                               bias=False).double()
        with torch.no_grad():
            conv.weight.copy_(weight_t)
            return conv(torch.ones(1, 1, length, dtype=torch.float64))[0]

    def numpy(weight_t, length, padding):
        ones = np.pad(np.ones(length), padding)
        rows = [np.correlate(ones, w[0].numpy(), mode="valid") for w in weight_t]
        return torch.from_numpy(np.stack(rows))

    wrong = (one_line, imported, module, numpy, from_layer, _through_a_helper)
    for fn in wrong:
        assert not checks.check_time_bias_map("ex", fn)
    out = lines(capsys)
    assert len(out) == len(wrong)
    for line, fn in zip(out, wrong, strict=True):
        assert line.startswith("FAIL ex: your function uses a library convolution"), fn
        assert "taps" in line
    assert "(conv1d)" in out[0] and "(Conv1d)" in out[2] and "(correlate)" in out[3]
    assert "(ConcatConv)" in out[4] and "(conv1d)" in out[5]  # caught when it runs
    assert torch.nn.functional.conv1d is original and torch.conv1d is original  # restored
    assert np.correlate(np.ones(3), np.ones(2)).tolist() == [2.0, 2.0]


def test_a_learners_own_helper_named_like_a_convolution_is_not_refused(capsys):
    """A notebook helper called ``convolve`` that loops is the learner's, not a library's."""
    namespace = {"__name__": "__main__", "torch": torch}
    exec(  # what a notebook cell defines
        "def convolve(weight_t, length, padding):\n"
        "    c_out, _, k = weight_t.shape\n"
        "    out = weight_t.new_zeros(c_out, length + 2 * padding - k + 1)\n"
        "    for i in range(out.shape[1]):\n"
        "        for j in range(k):\n"
        "            if 0 <= i + j - padding < length:\n"
        "                out[:, i] += weight_t[:, 0, j]\n"
        "    return out\n"
        "def answer(weight_t, length, padding):\n"
        "    return convolve(weight_t, length, padding)\n", namespace)
    assert checks.check_time_bias_map("ex", namespace["answer"])
    assert lines(capsys) == ["PASS ex"]


def test_time_bias_map_names_the_slip(capsys):
    def everywhere(weight_t, length, padding):
        good = bias_map_by_loops(weight_t, length, padding)
        return weight_t.sum(dim=(1, 2))[:, None].expand_as(good).clone()

    def flipped(weight_t, length, padding):
        return bias_map_by_loops(weight_t.flip(-1), length, padding)

    def float32(weight_t, length, padding):
        return bias_map_by_loops(weight_t, length, padding).float()

    for fn in (everywhere, flipped, float32, lambda w, n, p: torch.zeros(3)):
        assert not checks.check_time_bias_map("ex", fn)
    out = lines(capsys)
    assert "zero padding" in out[0] and "case 0" in out[0]
    assert "cross-correlation" in out[1]
    assert "dtype" in out[2]
    assert "shape" in out[3]


def least_squares(nfe, ms):
    slope, intercept = np.polyfit(nfe.numpy(), ms.numpy(), 1)
    return float(intercept), float(slope)


def test_cost_model_passes_a_least_squares_fit(capsys):
    assert checks.check_cost_model("ex", least_squares)
    assert checks.check_cost_model("ex", lambda n, m: torch.tensor(least_squares(n, m)))
    assert lines(capsys) == ["PASS ex", "PASS ex"]


def test_cost_model_names_the_slip(capsys):
    def swapped(nfe, ms):
        a, b = least_squares(nfe, ms)
        return b, a

    def through_origin(nfe, ms):
        return 0.0, float((nfe * ms).sum() / (nfe * nfe).sum())

    def two_points(nfe, ms):  # a line through the first and last points only
        slope = float((ms[-1] - ms[0]) / (nfe[-1] - nfe[0]))
        return float(ms[0] - slope * nfe[0]), slope

    for fn in (swapped, through_origin, two_points, lambda n, m: 3.0):
        assert not checks.check_cost_model("ex", fn)
    out = lines(capsys)
    assert "swapped" in out[0]
    assert "intercept" in out[1]
    assert "case 1" in out[2] and "least squares" in out[2]  # case 0 lies exactly on a line
    assert "two numbers" in out[3]


def vjp_norm(f, h, eps):
    h = h.requires_grad_(True)
    (v,) = torch.autograd.grad(f(h), h, eps)
    return (v**2).sum(dim=1)


def test_hutchinson_passes_the_vector_jacobian_product(capsys):
    assert checks.check_hutchinson("ex", vjp_norm)
    assert lines(capsys) == ["PASS ex"]


def test_hutchinson_names_the_slip(capsys):
    def jvp(f, h, eps):
        return torch.func.jvp(f, (h,), (eps,))[1].pow(2).sum(dim=1)

    def norm(f, h, eps):
        return vjp_norm(f, h, eps).sqrt()

    def no_grad(f, h, eps):
        (v,) = torch.autograd.grad(f(h), h, eps)
        return (v**2).sum(dim=1)

    def not_summed(f, h, eps):
        h = h.requires_grad_(True)
        return torch.autograd.grad(f(h), h, eps)[0] ** 2

    for fn in (jvp, norm, no_grad, not_summed):
        assert not checks.check_hutchinson("ex", fn)
    out = lines(capsys)
    assert "J eps" in out[0]
    assert "square" in out[1]
    assert "raised RuntimeError" in out[2]
    assert "shape" in out[3]


def test_hutchinson_estimates_the_frobenius_norm_on_average():
    """What the exercise teaches: the mean over many eps is |J|_F^2 (here J = A)."""
    gen = torch.Generator().manual_seed(0)
    a = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    h = torch.zeros(20_000, 3, dtype=torch.float64)
    eps = torch.randn(20_000, 3, generator=gen, dtype=torch.float64)
    estimate = vjp_norm(lambda x: x @ a.T, h, eps).mean()
    assert abs(estimate.item() / a.pow(2).sum().item() - 1) < 0.05
