"""Discrete convolution, output sizes and receptive fields (introduced in 01_discrete_convolution).

The lesson writes each of these functions out once and checks that its version agrees with the
one here; later lessons import them from this module.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch


def convolve1d(f: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
    """The full discrete convolution ``(f * g)[n] = sum_m f[m] g[n - m]`` of two 1-D tensors
    (01_discrete_convolution).

    The result has ``len(f) + len(g) - 1`` entries, one for every shift at which the two
    overlap, like ``numpy.convolve(f, g, mode="full")``. It is vectorised: ``f`` is padded
    with ``len(g) - 1`` zeros on each side, cut into overlapping windows of ``len(g)`` values,
    and each window is multiplied with the *flipped* kernel ``g[::-1]`` and summed.
    """
    f, g = torch.as_tensor(f), torch.as_tensor(g)
    if f.dim() != 1 or g.dim() != 1 or len(f) == 0 or len(g) == 0:
        raise ValueError("convolve1d expects two non-empty 1-D tensors")
    dtype = torch.promote_types(f.dtype, g.dtype)
    if not dtype.is_floating_point:
        dtype = torch.float64
    f, g = f.to(dtype), g.to(dtype)
    k = len(g)
    padded = torch.nn.functional.pad(f, (k - 1, k - 1))
    windows = padded.unfold(0, k, 1)  # (len(f) + k - 1, k): window n holds f[n-k+1 .. n]
    return windows @ g.flip(0)


def output_size(n: int, k: int, s: int = 1, p: int = 0, d: int = 1) -> int:
    """Output length of a convolution along one axis (01_discrete_convolution).

    ``n`` input length, ``k`` kernel size, ``s`` stride, ``p`` zero padding on *each* side,
    ``d`` dilation. The kernel then spans ``d (k - 1) + 1`` inputs and fits at the start
    positions ``0, s, 2s, ...`` up to ``n + 2p - d (k - 1) - 1``, so there are
    ``floor((n + 2p - d (k - 1) - 1) / s) + 1`` outputs (the formula of ``torch.nn.Conv2d``).
    """
    for value, label in ((n, "n"), (k, "k"), (s, "s"), (d, "d")):
        if value < 1:
            raise ValueError(f"{label} must be at least 1, got {value}")
    if p < 0:
        raise ValueError(f"p must be non-negative, got {p}")
    span = d * (k - 1) + 1
    if span > n + 2 * p:
        raise ValueError(f"a kernel spanning {span} inputs does not fit into {n} + 2*{p} inputs")
    return math.floor((n + 2 * p - span) / s) + 1


def receptive_field(
    kernels: Sequence[int],
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
) -> int:
    """Receptive field (in input pixels along one axis) of one output of a stack of
    convolutions (01_discrete_convolution).

    Layer ``l`` with kernel ``k``, dilation ``d`` widens the field by ``d (k - 1)`` times the
    *jump* ``j``: the distance in input pixels between neighbouring inputs of that layer,
    which is the product of the strides of all layers before it:
    ``r_l = r_{l-1} + d_l (k_l - 1) j_{l-1}``, ``j_l = j_{l-1} s_l``, ``r_0 = j_0 = 1``.
    Padding moves the field but does not change its size. Strides and dilations default to 1.
    """
    strides = [1] * len(kernels) if strides is None else list(strides)
    dilations = [1] * len(kernels) if dilations is None else list(dilations)
    if not len(kernels) == len(strides) == len(dilations):
        raise ValueError("kernels, strides and dilations must have the same length")
    field, jump = 1, 1
    for k, s, d in zip(kernels, strides, dilations, strict=True):
        if k < 1 or s < 1 or d < 1:
            raise ValueError("kernel sizes, strides and dilations must be at least 1")
        field += d * (k - 1) * jump
        jump *= s
    return field
