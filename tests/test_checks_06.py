"""Checkers of 06_adjoint_method: a correct answer passes, a wrong one fails with a hint."""

import pytest
import torch
from torch import nn

from nodebook_utils import checks


def lines(capsys):
    return capsys.readouterr().out.splitlines()


# ------------------------------------------------------------------ adjoint of a linear solve


def solve_gradients(a, c, g):
    """The expected answer: one forward and one adjoint solve."""
    b = torch.linalg.solve(a, c)
    s = torch.linalg.solve(a.T, g)
    return s, -torch.outer(s, b)


def test_linear_solve_adjoint_passes_correct_solutions(capsys):
    assert checks.check_linear_solve_adjoint("ex", solve_gradients)

    def by_autograd(a, c, g):
        a, c = a.requires_grad_(True), c.requires_grad_(True)
        loss = g @ torch.linalg.solve(a, c)
        grad_c, grad_a = torch.autograd.grad(loss, [c, a])
        return [grad_c, grad_a]

    assert checks.check_linear_solve_adjoint("ex", by_autograd)
    assert lines(capsys) == ["PASS ex"] * 2


def test_linear_solve_adjoint_placeholders(capsys):
    def todo(a, c, g):
        raise NotImplementedError

    def dots(a, c, g):
        return ...

    def half(a, c, g):
        return torch.linalg.solve(a.T, g), ...

    def single(a, c, g):
        return torch.linalg.solve(a.T, g)

    for fn in (todo, dots, half, single):
        assert not checks.check_linear_solve_adjoint("ex", fn)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: not implemented yet")
    assert out[1].startswith("FAIL ex: no answer yet") and out[2].startswith("FAIL ex: no answer")
    assert out[3] == "FAIL ex: return two tensors, (dL_dc, dL_dA)"


def test_linear_solve_adjoint_names_the_slip(capsys):
    def no_transpose(a, c, g):
        s = torch.linalg.solve(a, g)
        return s, -torch.outer(s, torch.linalg.solve(a, c))

    def wrong_sign(a, c, g):
        s, grad_a = solve_gradients(a, c, g)
        return s, -grad_a

    def transposed(a, c, g):
        s, grad_a = solve_gradients(a, c, g)
        return s, grad_a.T

    def wrong_shape(a, c, g):
        s, grad_a = solve_gradients(a, c, g)
        return s, grad_a.flatten()

    for fn in (no_transpose, wrong_sign, transposed, wrong_shape):
        assert not checks.check_linear_solve_adjoint("ex", fn)
    out = lines(capsys)
    assert "solve A^T s = g, not A s = g" in out[0]
    assert "check the sign" in out[1]
    assert "order of the outer product" in out[2]
    assert "shapes" in out[3] and "the shape of A" in out[3]


# --------------------------------------------------------------- one step of the recursion


def adjoint_step(f_i, q_i, r_next, dphi_dq_i):
    """The expected answer, as a vector-Jacobian product."""
    q = q_i.detach().requires_grad_(True)
    (vjp,) = torch.autograd.grad(f_i(q), q, grad_outputs=r_next)
    return vjp + dphi_dq_i


def test_adjoint_step_passes_correct_solutions(capsys):
    assert checks.check_adjoint_step("ex", adjoint_step)

    def with_jacobian(f_i, q_i, r_next, dphi_dq_i):
        jac = torch.autograd.functional.jacobian(f_i, q_i)
        return jac.T @ r_next + dphi_dq_i

    assert checks.check_adjoint_step("ex", with_jacobian)
    assert lines(capsys) == ["PASS ex"] * 2


def test_adjoint_step_names_the_slip(capsys):
    def todo(f_i, q_i, r_next, dphi_dq_i):
        raise NotImplementedError

    def nothing(f_i, q_i, r_next, dphi_dq_i):
        return ...

    def no_direct_term(f_i, q_i, r_next, dphi_dq_i):
        return adjoint_step(f_i, q_i, r_next, dphi_dq_i) - dphi_dq_i

    def no_transpose(f_i, q_i, r_next, dphi_dq_i):
        jac = torch.autograd.functional.jacobian(f_i, q_i)
        return jac @ r_next + dphi_dq_i

    def identity(f_i, q_i, r_next, dphi_dq_i):
        return r_next + dphi_dq_i

    def off(f_i, q_i, r_next, dphi_dq_i):
        return adjoint_step(f_i, q_i, r_next, dphi_dq_i) + 0.1

    for fn in (todo, nothing, no_direct_term, no_transpose, identity, off):
        assert not checks.check_adjoint_step("ex", fn)
    out = lines(capsys)
    assert out[0].startswith("FAIL ex: not implemented yet")
    assert out[1].startswith("FAIL ex: your function returned nothing")
    assert "add dphi_dq_i" in out[2]
    assert "transposed Jacobian" in out[3]
    assert "through the Jacobian" in out[4]
    assert "values differ by up to 0.1" in out[5]


def test_adjoint_step_shape_hint_for_non_square_jacobians(capsys):
    def no_transpose_anywhere(f_i, q_i, r_next, dphi_dq_i):
        jac = torch.autograd.functional.jacobian(f_i, q_i)
        if jac.shape[0] == jac.shape[1]:
            return adjoint_step(f_i, q_i, r_next, dphi_dq_i)
        return r_next

    assert not checks.check_adjoint_step("ex", no_transpose_anywhere)
    out = lines(capsys)[0]
    assert "case 2" in out and "the shape of q_i" in out


# ------------------------------------------------------------ augmented-state dimension


def test_augmented_dimension(capsys):
    net = nn.Sequential(nn.Linear(3, 16), nn.Tanh(), nn.Linear(16, 3))
    n_params = 3 * 16 + 16 + 16 * 3 + 3
    shape = (10, 3)
    want = 2 * 30 + n_params
    assert checks.check_augmented_dimension("ex", want, net, shape)
    answers = [..., 30 + n_params, 60, 90, 6 + n_params, want + 1, 30 + 2 * n_params, 7]
    for answer in answers:
        assert not checks.check_augmented_dimension("ex", answer, net, shape)
    out = lines(capsys)
    assert out[0] == "PASS ex"
    assert "no answer yet" in out[1]
    assert "a(t) = dL/dz(t)" in out[2]
    assert "add a_theta" in out[3]
    assert "not one per entry of z" in out[4]
    assert "every state of the batch" in out[5]
    assert "no entry for time" in out[6]
    assert "a_theta is one vector" in out[7]
    assert "count numel(z)" in out[8]


def test_augmented_dimension_counts_trainable_parameters_only(capsys):
    net = nn.Linear(2, 2)
    net.bias.requires_grad_(False)
    assert checks.check_augmented_dimension("ex", 2 * 8 + 4, net, (4, 2))
    assert lines(capsys) == ["PASS ex"]


# --------------------------------------------------- intervals between checkpoints


def test_checkpoint_intervals(capsys):
    assert checks.check_checkpoint_intervals("ex", 5)  # e^(10/5) = 7.4 <= 10 < e^(10/4)
    assert checks.check_checkpoint_intervals("ex", 5.0)
    assert checks.check_checkpoint_intervals("ex", 3, lam=2.0, factor=2.0)  # ceil(2 / ln 2)
    answers = [..., 4, 6, 10, 12, 4.34, 0, "five", True]
    for answer in answers:
        assert not checks.check_checkpoint_intervals("ex", answer)
    out = lines(capsys)
    assert out[:3] == ["PASS ex"] * 3
    assert "no answer yet" in out[3]
    assert "e^(lam/K) = 12.2 is more than 10" in out[4]
    assert "count intervals" in out[5]
    assert "not log10" in out[6]
    assert "not the smallest" in out[7]
    assert "whole number" in out[8]
    assert "positive whole number" in out[9]
    assert "not str" in out[10] and "not bool" in out[11]


def test_checkpoint_intervals_refuses_a_meaningless_question():
    with pytest.raises(ValueError):
        checks.check_checkpoint_intervals("ex", 5, lam=10.0, factor=1.0)
