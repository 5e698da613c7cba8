"""Exercise checkers of 03_residual_networks (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import torch

from .core import Verdict, _call, _Hint, checker, report

__all__ = ["check_residual_block", "check_block_parameter_count", "check_residual_growth"]


@checker
def check_residual_block(name: str, block: Callable[[int, int, int], Any]) -> Verdict:
    """Check a learner's residual block class ``block(in_channels, out_channels, stride)``
    against :class:`nodebook_utils.resnets.ResidualBlock`: output shapes, parameter counts
    (identity shortcut: none; projection: a 1x1 convolution without bias), ``relu(F(x) + x)``
    for the identity shortcut and ``relu(W_s x)`` for the projection when the residual branch
    is zero (03_residual_networks)."""
    from torch import nn

    from ..resnets import ResidualBlock, residual_block_parameters
    from ..training import count_parameters

    gen = torch.Generator().manual_seed(3)
    for c_in, c_out, stride in [(8, 8, 1), (8, 16, 1), (8, 16, 2), (16, 16, 2)]:
        where = f"block({c_in}, {c_out}, stride={stride})"
        x = torch.randn(2, c_in, 10, 10, generator=gen)
        not_a_tensor = f"{where}: forward must return a tensor"
        try:
            module = _call(block, c_in, c_out, stride, where=where, nothing=not_a_tensor)
            out = _call(module, x, where=where, nothing=not_a_tensor)
        except _Hint as exc:
            raised = exc.__cause__ is not None  # an error in the block, not a placeholder
            hint = " (a stride changes the shape too: then the shortcut needs W_s)" * (
                raised and stride != 1 and c_in == c_out
            )
            return report(name, False, f"{exc}{hint}")
        if not isinstance(out, torch.Tensor):
            return report(name, False, not_a_tensor)
        want_shape = tuple(ResidualBlock(c_in, c_out, stride)(x).shape)
        if tuple(out.shape) != want_shape:
            return report(
                name, False,
                f"{where}: output shape {tuple(out.shape)}, expected {want_shape}; the first "
                "3x3 convolution (padding 1) and the shortcut both use the stride",
            )
        got_n = count_parameters(module)
        want_n = residual_block_parameters(c_in, c_out, stride)
        if got_n != want_n:
            projection = c_in * c_out if (stride != 1 or c_in != c_out) else 0
            if projection == 0 and got_n > want_n:
                hint = "same shape in and out: the shortcut is the identity, with no parameters"
            elif got_n == want_n + c_out and projection:
                hint = "the projection W_s is a 1x1 convolution without bias (bias=False)"
            elif got_n == want_n - projection:
                hint = "the shapes differ, so the shortcut needs a projection W_s (1x1 conv)"
            else:
                hint = "F is conv3x3 -> ReLU -> conv3x3 (with biases), plus W_s when needed"
            return report(name, False, f"{where}: {got_n} parameters, expected {want_n}; {hint}")
        module = copy.deepcopy(module)  # the learner's own block keeps its weights
        with torch.no_grad():
            for p in module.parameters():
                p.zero_()
            if projection_weight := [p for p in module.parameters() if p.shape[-2:] == (1, 1)]:
                w_s = torch.randn(projection_weight[0].shape, generator=gen)
                projection_weight[0].copy_(w_s)
                want = torch.relu(nn.functional.conv2d(x, w_s, stride=stride))
            else:
                want = torch.relu(x)
            out = module(x)
        if not torch.allclose(out, want, atol=1e-5):
            if not projection_weight and torch.allclose(out, x, atol=1e-5):
                hint = "apply the ReLU after the addition: relu(F(x) + x)"
            elif not projection_weight:
                hint = "with F = 0 the block must return relu(x): add the input x to F(x)"
            else:
                hint = "with F = 0 the block must return relu(W_s x): add the projected input"
            return report(name, False, f"{where}: {hint}")
    return report(name, True)


@checker
def check_block_parameter_count(
    name: str, answer: Any, in_channels: int, out_channels: int, stride: int = 1
) -> Verdict:
    """Check a predicted parameter count of ``ResidualBlock(in_channels, out_channels,
    stride)``; the hint names the likely slip (03_residual_networks)."""
    from ..resnets import residual_block_parameters

    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the ... with your prediction")
    a, b = in_channels, out_channels
    want = residual_block_parameters(a, b, stride)
    if answer == want:
        return report(name, True)
    projection = a * b if (stride != 1 or a != b) else 0
    slips = {
        want - projection: "the shapes differ, so add the projection W_s: a 1x1 conv, a*b weights",
        want + b: "the projection W_s has no bias",
        want - 2 * b: "each 3x3 convolution has one bias per output channel",
        b * (9 * b + 1) * 2 + projection: "the first convolution maps a -> b channels: b(9a + 1)",
        b * (9 * a + 1) * 2 + projection: "the second convolution maps b -> b channels: b(9b + 1)",
    }
    slips.pop(want, None)
    hint = slips.get(answer, "add b(9a + 1) + b(9b + 1), plus a*b for a projection shortcut")
    return report(name, False, f"{answer} is not it: {hint}")


def _growth_slips(sigma2: float, blocks: int) -> list[tuple[float, str]]:
    """Likely wrong formulas for :func:`check_residual_growth`, each with its hint
    (03_residual_networks)."""
    import math

    return [
        (1 + blocks * sigma2, "the blocks compound: each block multiplies the mean square by "
         "the same factor, so the factors multiply; they do not add"),
        (sigma2**blocks, "the skip connection keeps x: a block returns x + W x, not W x"),
        ((1 + math.sqrt(sigma2)) ** (2 * blocks), "norms do not add: expand "
         "E||x + W x||^2 = ||x||^2 + 2 E[x^T W x] + E||W x||^2, and note E[W] = 0"),
        ((1 + sigma2) ** (blocks / 2), "that is the growth of the norm ||x_L|| / ||x_0||, the "
         "square root; the question asks for the mean square"),
        ((1 + sigma2) ** (blocks - 1), "count the factors: one per block"),
        ((1 + sigma2) ** (blocks + 1), "count the factors: one per block"),
        ((1 + 2 * sigma2) ** blocks, "the cross term 2 x^T W x has mean zero, because E[W] = 0"),
        (2.0**blocks, "the factor per block depends on sigma2: how much does E||W x||^2 add?"),
    ]


@checker
def check_residual_growth(name: str, fn: Callable[[float, int], Any]) -> Verdict:
    """Check ``fn(sigma2, blocks)``, a derived formula for the expected growth of the mean
    square, ``E||x_L||^2 / ||x_0||^2``, through ``blocks`` linear residual blocks
    ``x -> x + W x`` whose matrices ``W`` (n x n) have independent N(0, sigma2 / n) entries,
    drawn afresh for every block: ``(1 + sigma2) ** blocks``. The hint names the likely slip
    without giving the formula away (03_residual_networks)."""
    import math

    for sigma2, blocks in [(0.25, 12), (0.5, 1), (0.5, 15), (1.0, 4), (0.1, 30), (2.0, 3)]:
        where = f"sigma2 = {sigma2:g}, {blocks} block{'s' if blocks > 1 else ''}"
        try:
            got = _call(fn, sigma2, blocks, where=where,
                        nothing="no answer yet: return the predicted growth factor")
        except _Hint as exc:
            return report(name, False, str(exc))
        try:
            got = float(got)
        except (TypeError, ValueError, RuntimeError):
            return report(name, False, f"{where}: return one number, not {type(got).__name__}")
        want = (1 + sigma2) ** blocks
        if math.isclose(got, want, rel_tol=1e-6):
            continue
        hint = next((h for value, h in _growth_slips(sigma2, blocks)
                     if math.isclose(got, value, rel_tol=1e-6)),
                    "for one block, expand E||x + W x||^2 for a fixed x, then apply it block "
                    "after block")
        return report(name, False, f"{where}: {hint}")
    return report(name, True)
