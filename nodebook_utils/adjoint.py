"""The adjoint method, from scratch (06_adjoint_method).

Algorithm 1 of Chen et al. (2018), "Neural Ordinary Differential Equations". The forward pass
solves the ODE without recording a graph. The backward pass solves one more ODE, backwards in
time, for the augmented state ``[z, a, a_theta]``::

    dz/dt       = f(t, z, theta)
    da/dt       = -a^T df/dz          (a = dL/dz, the adjoint)
    da_theta/dt = -a^T df/dtheta      (a_theta(t_N) = 0, a_theta(t_0) = dL/dtheta)

The products ``a^T df/dz`` and ``a^T df/dtheta`` are vector-Jacobian products from
``torch.autograd.grad``: one call of ``f`` and one backward pass, never a Jacobian. Memory
does not grow with the number of solver steps; the price is a second solve, and a gradient
that is only as accurate as the backward reconstruction of ``z``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
from torch import Tensor, nn

from .solvers import DEFAULT_MAX_STEPS, mixed_norm, odeint

__all__ = ["augmented_dynamics", "odeint_adjoint"]


def augmented_dynamics(
    func: nn.Module, params: Sequence[Tensor], shape: torch.Size
) -> Callable[[Tensor, Tensor], Tensor]:
    """The right-hand side of the augmented ODE for ``[z, a, a_theta]``, flattened into one vector.

    ``func(t, z)`` is evaluated once per call; ``torch.autograd.grad`` with ``grad_outputs=a``
    gives the vector-Jacobian products ``a^T df/dz`` and ``a^T df/dtheta`` for every tensor in
    ``params``. Introduced in 06_adjoint_method.
    """
    n = shape.numel()

    def dynamics(t: Tensor, state: Tensor) -> Tensor:
        a = state[n : 2 * n].view(shape)
        with torch.enable_grad():
            z = state[:n].view(shape).detach().requires_grad_(True)
            f = func(t, z)
            inputs = (z, *params)
            if f.requires_grad:
                vjps = torch.autograd.grad(f, inputs, grad_outputs=a, allow_unused=True)
            else:  # f depends on neither z nor the parameters: every product is zero
                vjps = (None,) * len(inputs)
        vjps = [torch.zeros_like(x) if g is None else g for g, x in zip(vjps, inputs, strict=True)]
        return torch.cat([f.detach().reshape(-1), *(-g.reshape(-1) for g in vjps)])

    return dynamics


class _OdeintAdjoint(torch.autograd.Function):
    """``odeint`` whose backward pass is the adjoint method (06_adjoint_method)."""

    @staticmethod
    def forward(
        ctx: Any, y0: Tensor, t: Tensor, func: nn.Module, options: dict, *params: Tensor
    ) -> Tensor:
        with torch.no_grad():
            ys = odeint(func, y0, t, **options)
        ctx.func, ctx.options = func, options
        ctx.save_for_backward(t, ys, *params)
        return ys

    @staticmethod
    def backward(ctx: Any, grad_ys: Tensor) -> tuple[Tensor | None, ...]:
        if torch.is_grad_enabled():
            raise RuntimeError(
                "odeint_adjoint cannot give second derivatives: backward(create_graph=True) "
                "would return a wrong result, so it is refused. Backpropagate through "
                "nodebook_utils.solvers.odeint instead, which differentiates twice."
            )
        t, ys, *params = ctx.saved_tensors
        dynamics = augmented_dynamics(ctx.func, params, ys.shape[1:])
        a = grad_ys[-1]
        a_theta = ys.new_zeros(sum(p.numel() for p in params))
        options = dict(ctx.options)
        if options["method"] == "dopri5":  # z, a and each parameter's gradient on its own
            options["norm"] = mixed_norm([a.numel(), a.numel(), *(p.numel() for p in params)])
        for i in range(len(t) - 1, 0, -1):
            # Start each interval from the stored forward solution z(t_i), as torchdiffeq does,
            # so that errors of the backward reconstruction of z do not pile up across intervals.
            state = torch.cat([ys[i].reshape(-1), a.reshape(-1), a_theta])
            state = odeint(dynamics, state, t[i - 1 : i + 1].flip(0), **options)[-1]
            n = a.numel()
            a = state[n : 2 * n].view_as(a) + grad_ys[i - 1]  # L also depends on z(t_{i-1})
            a_theta = state[2 * n :]
        sizes = [p.numel() for p in params]
        grad_params = [g.view_as(p) for g, p in zip(a_theta.split(sizes), params, strict=True)]
        return (a, None, None, None, *grad_params)


def odeint_adjoint(
    func: nn.Module,
    y0: Tensor,
    t: Tensor | Sequence[float],
    *,
    method: str = "dopri5",
    rtol: float = 1e-7,
    atol: float = 1e-9,
    step_size: float | None = None,
    first_step: float | None = None,
    max_steps: int = DEFAULT_MAX_STEPS,
    adjoint_params: Sequence[Tensor] | None = None,
) -> Tensor:
    """Like :func:`nodebook_utils.solvers.odeint`, with gradients by the adjoint method.

    Introduced in 06_adjoint_method. The forward solve keeps no graph, so memory does not grow
    with the number of steps. ``loss.backward()`` then solves the augmented ODE backwards from
    ``t[-1]`` to ``t[0]`` with the same method, tolerances and step size, adding
    ``dL/dz(t_i)`` to the adjoint at each observation time, and returns gradients for ``y0``
    and for every tensor in ``adjoint_params``. Dopri5's backward solve controls the error of
    ``z``, of ``a`` and of each parameter tensor's gradient on its own
    (:func:`~nodebook_utils.solvers.mixed_norm`), as torchdiffeq does: one RMS over all of
    them would let thousands of parameter-gradient entries dilute the error of ``z`` and ``a``.

    ``adjoint_params`` defaults to the parameters of ``func`` that require grad. Pass it, as
    in torchdiffeq, when ``func`` also uses tensors that are not registered parameters (a
    tensor captured from outside, a buffer that requires grad): the adjoint can only
    differentiate with respect to tensors it is told about, and the others get no gradient.
    A plain function (not an ``nn.Module``) needs ``adjoint_params``. Not supported, and
    refused with an error rather than answered wrongly: gradients with respect to ``t``, and
    second derivatives (``create_graph=True``).
    """
    if adjoint_params is None:
        if not isinstance(func, nn.Module):
            raise TypeError(
                f"odeint_adjoint needs func to be an nn.Module (to find its parameters), got "
                f"{type(func).__name__}; wrap it in an nn.Module or pass adjoint_params="
            )
        params = [p for p in func.parameters() if p.requires_grad]
    else:
        params = list(adjoint_params)
        if not all(isinstance(p, Tensor) for p in params):
            raise TypeError("adjoint_params must be a sequence of tensors")
    if isinstance(t, Tensor) and t.requires_grad:
        raise ValueError(
            "t requires grad, but odeint_adjoint does not compute gradients with respect to "
            "the times (lesson 06 derives them); use torchdiffeq.odeint_adjoint, or pass "
            "t.detach()"
        )
    t = torch.as_tensor(t)
    options = {
        "method": method,
        "rtol": rtol,
        "atol": atol,
        "step_size": step_size,
        "first_step": first_step,
        "max_steps": max_steps,
    }
    return _OdeintAdjoint.apply(y0, t, func, options, *params)
