"""Building blocks of Neural ODEs: layers that see the time, and the ODE block (05_neural_odes).

The dynamics of an ODE block are a network ``f(t, h)`` that receives the time ``t`` as well as
the state ``h``. The layers here append ``t`` as an extra input, as in Chen et al. (2018):
:class:`ConcatLinear` as the first column of a batch of vectors, :class:`ConcatConv` as an
extra first channel filled with ``t``. :class:`ODEBlock` integrates any such dynamics with
``torchdiffeq`` and counts its function evaluations (NFE).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchdiffeq
from torch import Tensor, nn

from .solvers import CountNFE, Dynamics

__all__ = ["ConcatConv", "ConcatLinear", "MLPDynamics", "ODEBlock", "concat_time"]


def concat_time(t: float | Tensor, h: Tensor) -> Tensor:
    """Prepend the time as a constant first feature: ``(N, d) -> (N, d + 1)`` with column 0
    equal to ``t`` (05_neural_odes). A single state ``(d,)`` becomes ``(d + 1,)``."""
    t_col = torch.as_tensor(t, dtype=h.dtype, device=h.device).expand(*h.shape[:-1], 1)
    return torch.cat([t_col, h], dim=-1)


class ConcatLinear(nn.Module):
    """A linear layer that also sees the time: ``W [t, h] + b`` (05_neural_odes).

    It has ``(in_features + 1) * out_features (+ out_features)`` parameters: one weight column
    more than ``nn.Linear(in_features, out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True) -> None:
        super().__init__()
        self.linear = nn.Linear(in_features + 1, out_features, bias=bias)

    def forward(self, t: float | Tensor, h: Tensor) -> Tensor:
        """Apply the layer to ``h`` (shape ``(..., in_features)``) at time ``t``."""
        return self.linear(concat_time(t, h))


class ConcatConv(nn.Module):
    """A convolution that also sees the time: a constant channel filled with ``t`` is put in
    front of the input channels (05_neural_odes; used by the ODE-Nets of lessons 08 to 10).

    ``dims`` is 1 (``nn.Conv1d``, signals) or 2 (``nn.Conv2d``, images); the other arguments
    are those of the convolution, whose ``in_channels`` is one more than given here.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        padding: int = 1,
        bias: bool = True,
        dims: int = 2,
    ) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d}.get(dims)
        if conv is None:
            raise ValueError(f"dims must be 1 or 2, not {dims!r}")
        self.conv = conv(in_channels + 1, out_channels, kernel_size, stride, padding, bias=bias)

    def forward(self, t: float | Tensor, h: Tensor) -> Tensor:
        """Apply the convolution to ``h`` (shape ``(N, C, L)`` or ``(N, C, H, W)``) at ``t``."""
        shape = (h.shape[0], 1, *h.shape[2:])
        t_channel = torch.as_tensor(t, dtype=h.dtype, device=h.device).expand(shape)
        return self.conv(torch.cat([t_channel, h], dim=1))


class MLPDynamics(nn.Module):
    """Dynamics ``f(t, h)`` made of :class:`ConcatLinear` layers with ``tanh`` between them
    (05_neural_odes).

    ``MLPDynamics(2, [32, 32])`` maps ``(t, h)`` with ``h`` of shape ``(..., 2)`` through two
    hidden layers of 32 units to ``(..., 2)``. With ``time=False`` the layers are plain
    ``nn.Linear`` and ``t`` is ignored (autonomous dynamics).
    """

    def __init__(self, dim: int, hidden: Sequence[int] = (32,), time: bool = True) -> None:
        super().__init__()
        sizes = [dim, *hidden, dim]
        layer = ConcatLinear if time else nn.Linear
        self.time = time
        self.layers = nn.ModuleList(layer(a, b) for a, b in zip(sizes[:-1], sizes[1:], strict=True))

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        """The time derivative ``dh/dt`` at ``(t, h)``."""
        for i, layer in enumerate(self.layers):
            h = layer(t, h) if self.time else layer(h)
            if i < len(self.layers) - 1:
                h = torch.tanh(h)
        return h


class ODEBlock(nn.Module):
    """A continuous-depth layer: ``h(t1)`` from ``h(t0) = x`` by ``dh/dt = func(t, h)``
    (05_neural_odes).

    The dynamics are wrapped in :class:`~nodebook_utils.solvers.CountNFE`, so ``block.nfe``
    counts the evaluations since the last :meth:`reset_nfe`. ``adjoint=True`` differentiates
    with ``torchdiffeq.odeint_adjoint`` (06_adjoint_method) instead of backpropagating through
    the solver's operations. Other keyword arguments (``options=``) go to the solver.
    """

    def __init__(
        self,
        func: Dynamics,
        t0: float = 0.0,
        t1: float = 1.0,
        *,
        method: str = "dopri5",
        rtol: float = 1e-3,
        atol: float = 1e-3,
        adjoint: bool = False,
        **solver_kwargs: Any,
    ) -> None:
        super().__init__()
        self.func = CountNFE(func)
        self.register_buffer("t_span", torch.tensor([t0, t1]), persistent=False)
        self.method, self.rtol, self.atol = method, rtol, atol
        self.adjoint = adjoint
        self.solver_kwargs = solver_kwargs

    @property
    def nfe(self) -> int:
        """Evaluations of the dynamics since the last :meth:`reset_nfe`."""
        return self.func.nfe

    def reset_nfe(self) -> int:
        """Return the NFE so far and start counting from zero."""
        return self.func.reset()

    def trajectory(self, x: Tensor, t: Tensor) -> Tensor:
        """The state at every time in ``t`` (increasing or decreasing, any spacing), stacked
        on a new leading dimension: shape ``(len(t), *x.shape)``; ``t[0]`` is the start."""
        t = t.to(dtype=x.dtype, device=x.device)
        kwargs = dict(method=self.method, rtol=self.rtol, atol=self.atol, **self.solver_kwargs)
        if self.adjoint:
            return torchdiffeq.odeint_adjoint(self.func, x, t, **kwargs)
        return torchdiffeq.odeint(self.func, x, t, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        """The state at the end time ``t1``, same shape as ``x``."""
        return self.trajectory(x, self.t_span)[-1]
