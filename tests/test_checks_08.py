"""Checkers of 08_mnist_odenet: a correct answer passes, a wrong one fails with a hint."""

import pytest
import torch

from nodebook_utils import checks, models
from nodebook_utils.checks.mnist_odenet import (
    concat_conv_parameters,
    dynamics_parameters,
    fixed_step_nfe,
)
from nodebook_utils.training import count_parameters


def lines(capsys):
    return capsys.readouterr().out.splitlines()


# ------------------------------------------------------------ parameters of a ConcatConv


def test_concat_conv_parameters_passes_the_package_count(capsys):
    for a, b, k, bias in [(64, 64, 3, False), (64, 64, 3, True), (8, 16, 5, False)]:
        want = count_parameters(models.ConcatConv(a, b, k, padding=k // 2, bias=bias))
        assert concat_conv_parameters(a, b, k, bias) == want
        assert checks.check_concat_conv_parameters("ex", want, a, b, k, bias)
    assert checks.check_concat_conv_parameters("ex", 37440.0)  # a whole float is fine
    assert lines(capsys) == ["PASS ex"] * 4


def test_concat_conv_parameters_names_the_slip(capsys):
    want = 65 * 64 * 9
    answers = [..., None, "many", 64 * 64 * 9, want + 64, 65 * 64 * 3, 65 * 64, 65 * 9,
               66 * 64 * 9, 12345]
    for answer in answers:
        assert not checks.check_concat_conv_parameters("ex", answer)
    assert not checks.check_concat_conv_parameters("ex", want, bias=True)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: no answer yet") and out[1].startswith("FAIL ex: no answer")
    assert "whole number" in out[2]
    assert "one more input channel" in out[3]
    assert "no bias" in out[4]
    assert "k * k weights per input channel" in out[5]
    assert "one per pair of channels" in out[6]
    assert "multiply by c_out" in out[7]
    assert "one time channel only" in out[8]
    assert "c_in * c_out * k * k" in out[9]
    assert "has a bias" in out[10]
    assert all(str(want) not in line for line in out[:10])
    assert str(want + 64) not in out[10]  # the answer is never given away


# ------------------------------------------------------------------ fixed-step NFE


@pytest.mark.parametrize("method,step", [("euler", 0.05), ("rk4", 0.25), ("midpoint", 0.1)])
@pytest.mark.parametrize("adjoint", [False, True])
def test_fixed_step_nfe_is_what_torchdiffeq_does(method, step, adjoint):
    block = models.ODEBlock(models.MLPDynamics(2, [4]), method=method, adjoint=adjoint,
                            options={"step_size": step})
    block(torch.randn(3, 2)).sum().backward()
    # the counter holds forward and backward together; count them apart
    block.reset_nfe()
    out = block(torch.randn(3, 2))
    forward = block.reset_nfe()
    out.sum().backward()
    assert (forward, block.reset_nfe()) == fixed_step_nfe(method, step, adjoint=adjoint)


def test_fixed_step_nfe_refuses_uneven_steps_and_unknown_methods():
    with pytest.raises(ValueError, match="evenly"):
        fixed_step_nfe("euler", 0.3)
    with pytest.raises(ValueError, match="method"):
        fixed_step_nfe("dopri5", 0.1)


def test_fixed_step_nfe_passes_correct_answers(capsys):
    assert checks.check_fixed_step_nfe("ex", (16, 16), "rk4", 0.25, adjoint=True)
    assert checks.check_fixed_step_nfe("ex", [10, 0], "euler", 0.1)
    assert checks.check_fixed_step_nfe("ex", (20.0, 20), "euler", 0.05, adjoint=True)
    assert checks.check_fixed_step_nfe("ex", (8, 0), "midpoint", 0.25, t0=0.0, t1=1.0)
    assert lines(capsys) == ["PASS ex"] * 4


def test_fixed_step_nfe_names_the_slip(capsys):
    rk4 = dict(method="rk4", step_size=0.25, adjoint=True)
    cases = [
        (..., rk4), ((..., 16), rk4), (16, rk4), ((1.5, 16), rk4),
        ((4, 4), rk4),  # steps, not evaluations
        ((20, 20), rk4),  # grid points
        ((17, 17), rk4),  # an evaluation at the end point
        ((16, 0), rk4),  # forgot the backward solve
        ((16, 32), rk4),
        ((16, 7), rk4),
        ((10, 10), dict(method="euler", step_size=0.1)),  # backprop does not re-evaluate
        ((33, 0), rk4),
    ]
    for answer, kwargs in cases:
        assert not checks.check_fixed_step_nfe("ex", answer, **kwargs)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: no answer yet")
    assert out[1].startswith("FAIL ex: no answer yet for one")
    assert out[2] == "FAIL ex: give a pair: (forward NFE, backward NFE)"
    assert "whole numbers" in out[3]
    assert "that is the number of steps" in out[4]
    assert "count steps, not grid points" in out[5]
    assert "the last point needs no evaluation" in out[6]
    assert "solves an ODE backwards" in out[7]
    assert "augmented dynamics" in out[8]
    assert "as many steps as the forward" in out[9]
    assert "replays the operations" in out[10]
    assert "steps = (t1 - t0) / step size" in out[11]


# ---------------------------------------------------------------- the time channel


def test_time_channel_passes_correct_solutions(capsys):
    def with_full_like(t, h):
        return torch.cat([h, torch.full_like(h[:, :1], float(t))], dim=1)

    def with_expand(t, h):
        t = torch.as_tensor(t, dtype=h.dtype)
        return torch.cat([h, t.expand(h.shape[0], 1, h.shape[2], h.shape[3])], dim=1)

    assert checks.check_time_channel("ex", with_full_like)
    assert checks.check_time_channel("ex", with_expand)
    assert lines(capsys) == ["PASS ex"] * 2


def test_time_channel_failures_have_hints(capsys):
    def todo(t, h):
        raise NotImplementedError

    def nothing(t, h):
        return None

    def first(t, h):
        return torch.cat([torch.full_like(h[:, :1], float(t)), h], dim=1)

    def wrong_axis(t, h):
        return torch.cat([h, torch.full_like(h[:, :, :1], float(t))], dim=2)

    def wrong_dtype(t, h):
        return torch.cat([h, torch.full_like(h[:, :1], float(t))], dim=1).float()

    def zeros(t, h):
        return torch.cat([h, torch.zeros_like(h[:, :1])], dim=1)

    def scrambled(t, h):
        return torch.cat([h.flip(1), torch.full_like(h[:, :1], float(t))], dim=1)

    def broken(t, h):
        return h @ torch.ones(3)

    def a_list(t, h):
        return [h, t]

    fns = (todo, nothing, first, wrong_axis, wrong_dtype, zeros, scrambled, broken, a_list)
    for fn in fns:
        assert not checks.check_time_channel("ex", fn)
    out = lines(capsys)
    assert out[0] == "FAIL ex: not implemented yet: replace the raise with your code"
    assert "returned nothing" in out[1]
    assert "the time goes last" in out[2]
    assert "concatenate along dim=1" in out[3]
    assert "dtype" in out[4] and "case 1" in out[4]
    assert "must hold t" in out[5]
    assert "channels 0..C-1 are h" in out[6]
    assert "raised RuntimeError" in out[7]
    assert "return a tensor, not list" in out[8]


# ------------------------------------------------------- torchdiffeq's MNIST dynamics


def torchdiffeq_dynamics(channels=64, k=3, bias=True, norms=3):
    """Built as torchdiffeq's MNIST example builds its dynamics: GroupNorm(min(32, c), c)
    before and after the two time-aware convolutions."""
    layers = [torch.nn.GroupNorm(min(32, channels), channels) for _ in range(norms)]
    layers += [models.ConcatConv(channels, channels, k, padding=k // 2, bias=bias)
               for _ in range(2)]
    return torch.nn.ModuleList(layers)


def test_dynamics_parameters_is_what_torch_counts(capsys):
    for c, k, bias, norms in [(64, 3, True, 3), (64, 3, False, 2), (16, 5, True, 1)]:
        want = count_parameters(torchdiffeq_dynamics(c, k, bias, norms))
        assert dynamics_parameters(c, k, bias, norms) == want
        assert checks.check_dynamics_parameters("ex", want, c, k, bias, norms)
    # the review's dynamics are the package's MNISTDynamics
    assert dynamics_parameters(64, 3, False, 2) == count_parameters(models.MNISTDynamics())
    assert checks.check_dynamics_parameters("ex", 75392.0)
    assert lines(capsys) == ["PASS ex"] * 4


def test_dynamics_parameters_fails_the_slips_a_learner_makes(capsys):
    """torchdiffeq's dynamics (75,392): the wrong answers a learner would give."""
    want = dynamics_parameters()
    c, k = 64, 3
    wrong = {
        75_136: "Review of Literature's dynamics",  # the lesson's own count, copied
        want - 2 * c: "has a bias",  # biases or one norm forgotten (the same number)
        want - 2 * c * k * k: "one more input channel",  # no time channel
        want - c * k * k: "both convolutions see the time",
        want - 3 * c: "2c, not c",  # a norm counted as c, or as 2 x 32 groups
        want - count_parameters(models.ConcatConv(c, c, k)): "two convolutions",
        want - 6 * c: "count the norm layers too",
        2 * (65 * 64 * 3 + 64) + 384: "k * k weights",
        208_266: "c_in * c_out * k * k",  # the whole ODE-Net, not its dynamics
        want + 1: "c_in * c_out * k * k",
    }
    for answer in wrong:
        assert not checks.check_dynamics_parameters("ex", answer)
    for answer in (..., None, "75k", 75_391.5):
        assert not checks.check_dynamics_parameters("ex", answer)
    out = lines(capsys)
    for line, (answer, text) in zip(out, wrong.items(), strict=False):
        assert line.startswith(f"FAIL ex: {answer} is not it") and text in line, line
    assert "or count every norm layer" in out[1]  # both slips give 75,264: name both
    assert out[-4].startswith("FAIL ex: no answer yet")
    assert out[-3].startswith("FAIL ex: no answer yet")
    assert "whole number" in out[-2] and "whole number" in out[-1]
    assert all(str(want) not in line for line in out)  # never given away


def test_dynamics_parameters_of_the_review_names_other_slips(capsys):
    """Asked for the review's own dynamics (no bias, two norms), a bias is the slip."""
    want = dynamics_parameters(64, 3, False, 2)
    assert checks.check_dynamics_parameters("ex", want, bias=False, norms=2)
    assert not checks.check_dynamics_parameters("ex", want + 128, bias=False, norms=2)
    out = lines(capsys)
    assert out[0] == "PASS ex" and "no bias" in out[1]


def test_the_halved_step_is_caught(capsys):
    """Exercise 2a: Euler with half the review's step, with the adjoint: (40, 40)."""
    euler = dict(method="euler", step_size=0.025, adjoint=True)
    assert checks.check_fixed_step_nfe("ex", (40, 40), **euler)
    wrong = [((20, 20), "half as long"),  # the review's count, printed in the lesson
             ((80, 80), "count them again"),
             ((41, 41), "not grid points"),
             ((40, 0), "solves an ODE backwards"),
             ((40, 80), "augmented dynamics"),
             ((20, 0), "half as long")]
    for answer, _ in wrong:
        assert not checks.check_fixed_step_nfe("ex", answer, **euler)
    out = lines(capsys)
    assert out[0] == "PASS ex"
    for line, (_, text) in zip(out[1:], wrong, strict=True):
        assert line.startswith("FAIL ex") and text in line, line
