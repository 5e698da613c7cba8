"""Every architecture of the course, built by factories (05_neural_odes and lessons 07 to 09).

Building blocks of Neural ODEs: layers that see the time, and the ODE block (05_neural_odes).

The dynamics of an ODE block are a network ``f(t, h)`` that receives the time ``t`` as well as
the state ``h``. The layers here append ``t`` as an extra input, as in Chen et al. (2018):
:class:`ConcatLinear` as the first column of a batch of vectors, :class:`ConcatConv` as an
extra first channel filled with ``t``. :class:`ODEBlock` integrates any such dynamics with
``torchdiffeq`` and counts its function evaluations (NFE).

The experiments' networks are built by factories, each exactly the sources' layer
specification, with the solver options as arguments defaulting to the sources' settings:
:func:`spiral_dynamics` (07_spiral_dynamics), :func:`mnist_odenet` and :func:`mnist_resnet`
(08_mnist_odenet), :func:`ecg_odenet` and :func:`ecg_resnet` (09_ecg_resnet_vs_node).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
import torchdiffeq
from torch import Tensor, nn
from torch.nn import functional as F

from .solvers import CountNFE, Dynamics

__all__ = [
    "ConcatConv",
    "ConcatLinear",
    "ConcatConvDynamics",
    "MLPDynamics",
    "MNISTDynamics",
    "ODEBlock",
    "PreActBlock1d",
    "concat_time",
    "ecg_odenet",
    "ecg_resnet",
    "mnist_odenet",
    "mnist_reference_odenet",
    "mnist_resnet",
    "ode_blocks",
    "spiral_dynamics",
]


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
    ``time_last=True`` appends the time channel after the others instead, as the Review of
    Literature's MNIST code did; the parameter count is the same.

    ``time_as_bias=True`` computes the same function without building the concatenated input
    (10_fast_neural_odes): the time channel is constant, so its part of the convolution is
    ``t`` times a fixed map (the time weights convolved with a channel of ones, smaller at the
    zero-padded edges), added to the convolution of ``h`` alone. Same weights, same outputs up
    to rounding, one channel less to convolve and no copy per evaluation.
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
        time_last: bool = False,
        time_as_bias: bool = False,
    ) -> None:
        super().__init__()
        conv = {1: nn.Conv1d, 2: nn.Conv2d}.get(dims)
        if conv is None:
            raise ValueError(f"dims must be 1 or 2, not {dims!r}")
        self.conv = conv(in_channels + 1, out_channels, kernel_size, stride, padding, bias=bias)
        self.time_last = time_last
        self.time_as_bias = time_as_bias
        self._functional = F.conv1d if dims == 1 else F.conv2d

    def forward(self, t: float | Tensor, h: Tensor) -> Tensor:
        """Apply the convolution to ``h`` (shape ``(N, C, L)`` or ``(N, C, H, W)``) at ``t``."""
        if self.time_as_bias:
            return self._time_as_bias(t, h)
        shape = (h.shape[0], 1, *h.shape[2:])
        t_channel = torch.as_tensor(t, dtype=h.dtype, device=h.device).expand(shape)
        parts = [h, t_channel] if self.time_last else [t_channel, h]
        return self.conv(torch.cat(parts, dim=1))

    def _split_weight(self) -> tuple[Tensor, Tensor]:
        w = self.conv.weight
        return (w[:, -1:], w[:, :-1]) if self.time_last else (w[:, :1], w[:, 1:])

    def _geometry(self) -> dict[str, Any]:
        return dict(stride=self.conv.stride, padding=self.conv.padding,
                    dilation=self.conv.dilation)

    def time_bias_map(self, like: Tensor) -> Tensor:
        """The time weights convolved with a channel of ones shaped like one sample of
        ``like`` (``(N, C, *size)``): the map ``t`` multiplies, shape ``(1, C_out, *out)``
        (10_fast_neural_odes)."""
        ones = like.new_ones((1, 1, *like.shape[2:]))
        return self._functional(ones, self._split_weight()[0], None, **self._geometry())

    def _time_as_bias(self, t: float | Tensor, h: Tensor) -> Tensor:
        """conv([t, h]) = conv_h(h) + t * conv_t(ones): the time's part as a bias map."""
        t = torch.as_tensor(t, dtype=h.dtype, device=h.device)
        return (self._functional(h, self._split_weight()[1], self.conv.bias, **self._geometry())
                + t * self.time_bias_map(h))


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


#: torchdiffeq's adaptive methods: they keep times and step sizes in float64 by default.
ADAPTIVE_METHODS = frozenset({"dopri5", "dopri8", "bosh3", "fehlberg2", "adaptive_heun"})


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

    def solve_kwargs(self, device: torch.device) -> dict[str, Any]:
        """The keyword arguments of torchdiffeq's ``odeint`` for a state on ``device``: the
        method, tolerances and options, with the adaptive solvers' time and step-size tensors
        in float32 on Apple's MPS, which has no float64 (torchdiffeq's default there)."""
        kwargs = dict(method=self.method, rtol=self.rtol, atol=self.atol, **self.solver_kwargs)
        if device.type == "mps" and self.method in ADAPTIVE_METHODS:
            kwargs["options"] = {"dtype": torch.float32, **(kwargs.get("options") or {})}
        return kwargs

    def trajectory(self, x: Tensor, t: Tensor) -> Tensor:
        """The state at every time in ``t`` (increasing or decreasing, any spacing), stacked
        on a new leading dimension: shape ``(len(t), *x.shape)``; ``t[0]`` is the start."""
        t = t.to(dtype=x.dtype, device=x.device)
        kwargs = self.solve_kwargs(x.device)
        if self.adjoint:
            return torchdiffeq.odeint_adjoint(self.func, x, t, **kwargs)
        return torchdiffeq.odeint(self.func, x, t, **kwargs)

    def forward(self, x: Tensor) -> Tensor:
        """The state at the end time ``t1``, same shape as ``x``."""
        return self.trajectory(x, self.t_span)[-1]


def ode_blocks(model: nn.Module) -> list[ODEBlock]:
    """The :class:`ODEBlock` submodules of ``model`` (whose NFE training loops record)."""
    return [m for m in model.modules() if isinstance(m, ODEBlock)]


def _solver(
    method: str, rtol: float, atol: float, step_size: float | None, adjoint: bool
) -> dict[str, Any]:
    """ODEBlock keyword arguments; fixed-step methods take ``step_size`` as an option."""
    options = {"options": {"step_size": step_size}} if step_size is not None else {}
    return dict(method=method, rtol=rtol, atol=atol, adjoint=adjoint, **options)


# --- 07_spiral_dynamics ------------------------------------------------------------------------


class _Autonomous(nn.Module):
    """``f(t, y) = net(y)``: a network of the state alone, as dynamics."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, t: Tensor, y: Tensor) -> Tensor:
        """The time derivative at ``y`` (``t`` is ignored)."""
        return self.net(y)


def spiral_dynamics(hidden: int = 50, std: float = 0.1) -> nn.Module:
    """The spiral's learned dynamics, as the Review of Literature's code built them
    (07_spiral_dynamics): ``Linear(2, 50) -> tanh -> Linear(50, 2)`` of the state alone,
    weights drawn from N(0, 0.1²) and biases zero: 252 parameters. Seed torch first."""
    net = nn.Sequential(nn.Linear(2, hidden), nn.Tanh(), nn.Linear(hidden, 2))
    for layer in (net[0], net[2]):
        nn.init.normal_(layer.weight, mean=0.0, std=std)
        nn.init.zeros_(layer.bias)
    return _Autonomous(net)


# --- 08_mnist_odenet ---------------------------------------------------------------------------


def _mnist_stem() -> nn.Sequential:
    """28x28 -> 26 -> 13 -> 6, 64 channels: 132,096 parameters."""
    return nn.Sequential(
        nn.Conv2d(1, 64, 3, 1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Conv2d(64, 64, 4, 2, 1),
        nn.BatchNorm2d(64),
        nn.ReLU(),
        nn.Conv2d(64, 64, 4, 2, 1),
    )


def _mnist_head() -> nn.Sequential:
    """BatchNorm -> global average pool -> Linear(64, 10): 778 parameters."""
    return nn.Sequential(
        nn.BatchNorm2d(64), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10)
    )


class MNISTDynamics(nn.Module):
    """The Review of Literature's MNIST dynamics (08_mnist_odenet): time appended as a 65th
    channel -> 3x3 conv to 64 (no bias) -> ReLU -> BatchNorm, twice: 75,136 parameters."""

    def __init__(self, channels: int = 64, time_as_bias: bool = False) -> None:
        super().__init__()
        kw = dict(bias=False, time_last=True, time_as_bias=time_as_bias)
        self.conv1 = ConcatConv(channels, channels, 3, 1, 1, **kw)
        self.norm1 = nn.BatchNorm2d(channels)
        self.conv2 = ConcatConv(channels, channels, 3, 1, 1, **kw)
        self.norm2 = nn.BatchNorm2d(channels)

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        """The time derivative ``dh/dt`` at ``(t, h)``, same shape as ``h``."""
        h = self.norm1(torch.relu(self.conv1(t, h)))
        return self.norm2(torch.relu(self.conv2(t, h)))


class _MNISTResBlock(nn.Module):
    """``x + f(x)`` with ``f`` the MNIST dynamics without the time channel: 73,984 parameters."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.f = nn.Sequential(
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.ReLU(),
            nn.BatchNorm2d(channels),
            nn.Conv2d(channels, channels, 3, 1, 1, bias=False),
            nn.ReLU(),
            nn.BatchNorm2d(channels),
        )

    def forward(self, x: Tensor) -> Tensor:
        return x + self.f(x)


def mnist_odenet(
    method: str = "euler",
    step_size: float | None = 0.05,
    rtol: float = 1e-3,
    atol: float = 1e-3,
    adjoint: bool = True,
    time_as_bias: bool = False,
) -> nn.Sequential:
    """The Review of Literature's MNIST ODE-Net (08_mnist_odenet): stem, one ODE block of
    :class:`MNISTDynamics` on [0, 1], head; 208,010 parameters.

    Defaults are the source's solver: fixed-step Euler with h = 0.05 (20 steps) and the
    adjoint method. ``mnist_odenet(method="dopri5", step_size=None)`` solves adaptively
    with ``rtol``/``atol`` instead (they are ignored by fixed-step methods).
    ``time_as_bias`` is for 10_fast_neural_odes (see :class:`ConcatConv`).
    """
    block = ODEBlock(MNISTDynamics(time_as_bias=time_as_bias),
                     **_solver(method, rtol, atol, step_size, adjoint))
    return nn.Sequential(_mnist_stem(), block, _mnist_head())


def mnist_reference_odenet(
    method: str = "dopri5",
    rtol: float = 1e-3,
    atol: float = 1e-3,
    step_size: float | None = None,
    adjoint: bool = False,
    time_as_bias: bool = False,
) -> nn.Sequential:
    """The ODE-Net of torchdiffeq's ``odenet_mnist`` example (10_fast_neural_odes): the MNIST
    stem and head with GroupNorm instead of BatchNorm, ``ConcatConvDynamics(dims=2)``; 208,266
    parameters. Defaults are the example's: dopri5 at rtol = atol = 1e-3, backpropagation
    through the solver (its ``--adjoint`` flag is off by default)."""
    gn = _group_norm
    stem = nn.Sequential(nn.Conv2d(1, 64, 3, 1), gn(), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1),
                         gn(), nn.ReLU(), nn.Conv2d(64, 64, 4, 2, 1))
    block = ODEBlock(ConcatConvDynamics(dims=2, time_as_bias=time_as_bias),
                     **_solver(method, rtol, atol, step_size, adjoint))
    head = nn.Sequential(gn(), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(64, 10))
    return nn.Sequential(stem, block, head)


def mnist_resnet(blocks: int = 6) -> nn.Sequential:
    """The same stem and head with ``blocks`` residual blocks ``x + f(x)`` in place of the ODE
    block, ``f`` being the ODE-Net's dynamics without the time channel (08_mnist_odenet):
    576,778 parameters with six blocks."""
    return nn.Sequential(
        _mnist_stem(), *(_MNISTResBlock() for _ in range(blocks)), _mnist_head()
    )


# --- 09_ecg_resnet_vs_node ---------------------------------------------------------------------


def _group_norm(channels: int = 64) -> nn.GroupNorm:
    """GroupNorm with 32 groups, as in the ECG code."""
    return nn.GroupNorm(min(32, channels), channels)


def _ecg_stem() -> nn.Sequential:
    """Length 187 -> 185 -> 92 -> 46, 64 channels: 33,408 parameters."""
    return nn.Sequential(
        nn.Conv1d(1, 64, 3, 1),
        _group_norm(),
        nn.ReLU(),
        nn.Conv1d(64, 64, 4, 2, 1),
        _group_norm(),
        nn.ReLU(),
        nn.Conv1d(64, 64, 4, 2, 1),
    )


def _ecg_head() -> nn.Sequential:
    """GroupNorm -> ReLU -> global average pool -> Linear(64, 5): 453 parameters."""
    return nn.Sequential(
        _group_norm(), nn.ReLU(), nn.AdaptiveAvgPool1d(1), nn.Flatten(), nn.Linear(64, 5)
    )


class PreActBlock1d(nn.Module):
    """A pre-activation residual block (He et al., 2016b) of the ECG ResNet
    (09_ecg_resnet_vs_node): ``x + conv(relu(gn(conv(relu(gn(x))))))`` with bias-free 3-tap
    convolutions: 24,832 parameters at 64 channels."""

    def __init__(self, channels: int = 64) -> None:
        super().__init__()
        self.norm1 = _group_norm(channels)
        self.conv1 = nn.Conv1d(channels, channels, 3, padding=1, bias=False)
        self.norm2 = _group_norm(channels)
        self.conv2 = nn.Conv1d(channels, channels, 3, padding=1, bias=False)

    def forward(self, x: Tensor) -> Tensor:
        out = self.conv1(torch.relu(self.norm1(x)))
        return x + self.conv2(torch.relu(self.norm2(out)))


class ConcatConvDynamics(nn.Module):
    """GN -> ReLU -> ConcatConv -> GN -> ReLU -> ConcatConv -> GN: the dynamics of
    torchdiffeq's examples, in 1-D those of the ECG ODE-Net (09_ecg_resnet_vs_node: each
    ConcatConv a 3-tap Conv1d from 65 channels, the time first, to 64 with bias; 25,472
    parameters), in 2-D (``dims=2``: 3x3 convolutions, 75,392 parameters) those of
    torchdiffeq's MNIST example (10_fast_neural_odes). ``output_norm=False`` leaves out the
    last GroupNorm (10_fast_neural_odes: one normalisation fewer per evaluation; 128
    parameters fewer at 64 channels)."""

    def __init__(self, channels: int = 64, time_as_bias: bool = False, dims: int = 1,
                 output_norm: bool = True) -> None:
        super().__init__()
        kw = dict(dims=dims, time_as_bias=time_as_bias)
        self.norm1 = _group_norm(channels)
        self.conv1 = ConcatConv(channels, channels, 3, 1, 1, **kw)
        self.norm2 = _group_norm(channels)
        self.conv2 = ConcatConv(channels, channels, 3, 1, 1, **kw)
        self.norm3 = _group_norm(channels) if output_norm else nn.Identity()

    def forward(self, t: Tensor, h: Tensor) -> Tensor:
        """The time derivative ``dh/dt`` at ``(t, h)``, same shape as ``h``."""
        h = self.conv1(t, torch.relu(self.norm1(h)))
        h = self.conv2(t, torch.relu(self.norm2(h)))
        return self.norm3(h)


def ecg_resnet(blocks: int = 6) -> nn.Sequential:
    """The Math 179 report's ECG ResNet (09_ecg_resnet_vs_node): stem, six
    :class:`PreActBlock1d`, head; 182,853 parameters."""
    return nn.Sequential(_ecg_stem(), *(PreActBlock1d() for _ in range(blocks)), _ecg_head())


def ecg_odenet(
    method: str = "dopri5",
    rtol: float = 1e-3,
    atol: float = 1e-3,
    step_size: float | None = None,
    adjoint: bool = True,
    time_as_bias: bool = False,
    output_norm: bool = True,
    **solver_kwargs: Any,
) -> nn.Sequential:
    """The Math 179 report's ECG ODE-Net (09_ecg_resnet_vs_node): stem, one ODE block of
    :class:`ConcatConvDynamics` on [0, 1], head; 59,333 parameters.

    Defaults are the source's solver: torchdiffeq's ``odeint_adjoint`` with dopri5 at
    rtol = atol = 1e-3. Fixed-step methods (``euler``, ``midpoint``, ``heun3``, ``rk4``) take
    ``step_size`` (without it, one step from 0 to 1). ``time_as_bias``, ``output_norm`` and
    further solver keyword arguments (e.g. ``adjoint_options``) are for 10_fast_neural_odes.
    """
    dynamics = ConcatConvDynamics(time_as_bias=time_as_bias, output_norm=output_norm)
    block = ODEBlock(dynamics,
                     **_solver(method, rtol, atol, step_size, adjoint), **solver_kwargs)
    return nn.Sequential(_ecg_stem(), block, _ecg_head())
