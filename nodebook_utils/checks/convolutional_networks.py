"""Exercise checkers of 02_convolutional_networks (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

import math
import numbers
from collections.abc import Callable
from typing import Any

import torch

from .core import CheckerUsageError, Verdict, _call, _Hint, checker, report

__all__ = ["check_conv_parameters", "check_gradient_growth", "check_stack_shape"]


@checker
def check_conv_parameters(name: str, fn: Callable[[int, int, int], Any]) -> Verdict:
    """Check a learner's ``fn(alpha, beta, f)``: the number of parameters of the
    convolutional layer C(alpha, beta, f) = ``nn.Conv2d(alpha, beta, f)`` (with biases),
    compared with ``count_parameters`` on several layers; the hint names the likely slip
    (02_convolutional_networks)."""
    from torch import nn

    from ..training import count_parameters

    for alpha, beta, f in [(1, 16, 5), (16, 32, 5), (3, 64, 3), (64, 128, 1), (2, 3, 4)]:
        where = f"C({alpha}, {beta}, {f})"
        try:
            got = _call(fn, alpha, beta, f, where=where,
                        nothing="no answer yet: return the number of parameters")
        except _Hint as exc:
            return report(name, False, str(exc))
        want = count_parameters(nn.Conv2d(alpha, beta, f))
        if got == want:
            continue
        slips = {
            beta * alpha * f * f: "add the biases: one per filter (beta of them)",
            beta * (f * f + 1): "each filter spans all alpha input channels: alpha * f * f weights",
            beta * (alpha * f + 1): "a filter has f * f weights per input channel, not f",
            alpha * beta * f * f + 1: "each of the beta filters has its own bias",
            beta * alpha * f * f + alpha: "there is one bias per *output* channel (beta), "
            "not per input channel",
        }
        hint = slips.get(got, "count weights (beta filters of alpha x f x f) plus biases")
        return report(name, False, f"{where}: got {got}, expected another number; {hint}")
    return report(name, True)


def _stack_shapes(model: Any, shape: tuple[int, int, int], mode: str) -> tuple[int, ...]:
    """Push a (C, H, W) shape through Conv2d / pooling / activation layers, either exactly
    (``mode="exact"``) or with one typical slip: convolutions that keep the size
    (``"same"``), pooling ignored (``"no_pool"``) or rounding up (``"ceil"``) (02)."""
    from torch import nn

    def pair(v: Any) -> tuple[int, int]:
        return (v, v) if isinstance(v, int) else tuple(v)

    c, h, w = shape
    for layer in model.modules():
        if isinstance(layer, nn.Conv2d | nn.MaxPool2d | nn.AvgPool2d):
            k, s, p = pair(layer.kernel_size), pair(layer.stride), pair(layer.padding)
            if isinstance(layer, nn.Conv2d):
                c = layer.out_channels
                if mode == "same":
                    continue
            elif mode == "no_pool":
                continue
            div = (lambda a, b: -(-a // b)) if mode == "ceil" else (lambda a, b: a // b)
            h = div(h + 2 * p[0] - k[0], s[0]) + 1
            w = div(w + 2 * p[1] - k[1], s[1]) + 1
    return (c, h, w)


@checker
def check_stack_shape(
    name: str, answer: Any, model: Any, input_shape: tuple[int, int, int]
) -> Verdict:
    """Check the (channels, height, width) a stack of convolution and pooling layers
    (``model``, e.g. an ``nn.Sequential``) produces from one input of shape ``input_shape``
    (no batch dimension); the hint names the likely slip (02_convolutional_networks)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the ... with (channels, height, width)")
    try:
        got = tuple(int(v) for v in answer)
    except (TypeError, ValueError):
        return report(name, False, "give a tuple of three numbers: (channels, height, width)")
    with torch.no_grad():
        want = tuple(model(torch.zeros(1, *input_shape)).shape[1:])
    if got == want:
        return report(name, True)
    if len(got) == 4 and got[1:] == want:
        hint = "leave out the batch dimension: give (channels, height, width)"
    elif len(got) != 3:
        hint = "give three numbers: (channels, height, width)"
    elif got[0] != want[0]:
        hint = ("the number of channels is beta of the last C(alpha, beta, f); "
                "pooling keeps the number of channels")
    elif got == _stack_shapes(model, input_shape, "same"):
        hint = "without padding, C(alpha, beta, f) shrinks the height and width by f - 1"
    elif got == _stack_shapes(model, input_shape, "no_pool"):
        hint = "P(alpha, beta, p) divides the height and width by p"
    elif got == _stack_shapes(model, input_shape, "ceil"):
        hint = "pooling rounds down: an incomplete window at the edge is dropped"
    else:
        hint = "follow the size layer by layer: n -> n - f + 1 for C, n -> floor(n / p) for P"
    return report(name, False, f"got {got}: {hint}")


@checker
def check_gradient_growth(name: str, answer: Any, gain: float, depth: int) -> Verdict:
    """Check a derived factor: multiplying every weight of a ``depth``-layer ReLU network with
    zero biases by ``gain`` multiplies the backward product that carries the error signal from
    the last layer to the first by ``gain ** (depth - 1)``: one factor per weight matrix the
    signal passes, none from the ReLU slopes, which scaling does not change. The hint names
    the likely slip (02_convolutional_networks)."""
    if gain <= 0 or gain == 1 or depth < 2:
        raise CheckerUsageError("use a positive gain other than 1 and a depth of at least 2")
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    is_number = isinstance(answer, numbers.Real) or (
        isinstance(answer, torch.Tensor) and answer.numel() == 1)
    if isinstance(answer, bool) or not is_number:
        return report(name, False, f"give one number (e.g. an expression such as 2.0 ** 3), "
                      f"not {type(answer).__name__}")
    got = float(answer)
    if not math.isfinite(got) or got <= 0:
        return report(name, False, "give one positive, finite number")
    want = gain ** (depth - 1)

    def near(value: float) -> bool:
        return math.isclose(got, value, rel_tol=1e-3)

    if near(want):
        return report(name, True)
    slips = [
        (gain, "that is the factor of one layer; the signal passes through several"),
        (gain ** depth, f"one factor too many: on its way back from z_{depth} to z_1 the "
         f"signal passes W_{depth}, ..., W_2, not W_1"),
        (gain ** (depth - 2), f"one factor too few: on its way back from z_{depth} to z_1 the "
         f"signal passes W_{depth}, ..., W_2"),
        (gain ** (2 * (depth - 1)), "the ReLU slopes are 0 or 1 and scaling does not change "
         "which inputs are positive: only the weights contribute a factor"),
        (gain * (depth - 1), "the factors multiply, they do not add"),
    ]
    for value, hint in slips:
        if near(value):
            return report(name, False, hint)
    return report(name, False, "write delta_1 as a product of one factor diag(relu'(z_l)) "
                  "W_(l+1)^T per layer and ask which factors change when every W is scaled")
