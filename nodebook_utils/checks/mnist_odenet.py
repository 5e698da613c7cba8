"""Exercise checkers of 08_mnist_odenet (imported into :mod:`nodebook_utils.checks`).

Each checker prints one PASS/FAIL line with a hint and returns a :class:`Verdict`; a learner's
exception or an unimplemented function becomes a hint, never a traceback.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import torch

from .core import CheckerUsageError, Verdict, _call, _Hint, _tensor_answer, checker, report

__all__ = [
    "FIXED_STEP_EVALUATIONS",
    "check_concat_conv_parameters",
    "check_dynamics_parameters",
    "check_fixed_step_nfe",
    "check_time_channel",
]

_NO_ANSWER = "no answer yet: replace the placeholder with your answer"


def _is_int(x: Any) -> bool:
    """An integer answer (a float with an integral value counts; a bool does not)."""
    if isinstance(x, bool):
        return False
    if isinstance(x, int):
        return True
    return isinstance(x, float) and x.is_integer()


# --- exercise: the parameters of a convolution that sees the time ----------------------------


def concat_conv_parameters(
    in_channels: int, out_channels: int, kernel_size: int, bias: bool
) -> int:
    """Parameters of ``ConcatConv(in_channels, out_channels, kernel_size, bias=bias)`` for
    images: a ``kernel_size x kernel_size`` convolution from ``in_channels + 1`` channels (one
    holds the time) to ``out_channels`` (08_mnist_odenet)."""
    return (in_channels + 1) * out_channels * kernel_size**2 + (out_channels if bias else 0)


@checker
def check_concat_conv_parameters(
    name: str,
    answer: Any,
    in_channels: int = 64,
    out_channels: int = 64,
    kernel_size: int = 3,
    bias: bool = False,
) -> Verdict:
    """Check the parameter count of one convolution of the MNIST dynamics, a 2-D
    ``ConcatConv`` (time channel appended, ``kernel_size x kernel_size``, with or without
    bias); the hint names the likely slip without giving the number away (08_mnist_odenet)."""
    if answer is None or answer is ...:
        return report(name, False, _NO_ANSWER)
    if not _is_int(answer):
        return report(name, False, f"give a whole number of parameters, not {answer!r}")
    a, b, k = in_channels, out_channels, kernel_size
    want = concat_conv_parameters(a, b, k, bias)
    if int(answer) == want:
        return report(name, True)
    rule = ("a k x k convolution from c_in to c_out channels has c_in * c_out * k * k weights, "
            "plus c_out biases if it has a bias")
    bias_part = b if bias else 0
    slips = {
        a * b * k * k + bias_part: "the time is one more input channel: c_in is "
        f"{a} + 1, and each output channel has a k x k kernel on it too",
        want + b: "this convolution has no bias (bias=False): count the weights only",
        want - b: "this convolution has a bias: add one per output channel",
        (a + 1) * b * k + bias_part: "a k x k kernel has k * k weights per input channel, "
        "not k",
        (a + 1) * b + bias_part: "count the k * k weights of each kernel, not one per "
        "pair of channels",
        (a + 1) * k * k + bias_part: "every output channel has its own kernel over all the "
        "input channels: multiply by c_out",
        (a + 2) * b * k * k + bias_part: "one time channel only: c_in + 1, not c_in + 2",
    }
    slips.pop(want, None)
    hint = slips.get(int(answer), rule)
    return report(name, False, f"{int(answer)} is not it: {hint}")


def dynamics_parameters(
    channels: int = 64, kernel_size: int = 3, bias: bool = True, norms: int = 3
) -> int:
    """Parameters of MNIST dynamics with two ``ConcatConv(channels, channels, kernel_size)``
    (the time as one more input channel) and ``norms`` normalisation layers over ``channels``
    with a scale and a shift per channel: ``bias=True, norms=3`` is torchdiffeq's MNIST
    example (GroupNorm), ``bias=False, norms=2`` the Review of Literature's (BatchNorm)
    (08_mnist_odenet)."""
    return 2 * concat_conv_parameters(channels, channels, kernel_size, bias) + 2 * norms * channels


@checker
def check_dynamics_parameters(
    name: str,
    answer: Any,
    channels: int = 64,
    kernel_size: int = 3,
    bias: bool = True,
    norms: int = 3,
) -> Verdict:
    """Check the parameter count of MNIST dynamics made of two ``ConcatConv`` layers and
    ``norms`` normalisation layers (:func:`dynamics_parameters`); the hint names the likely
    slip, such as the Review of Literature's count or a forgotten bias, time channel or norm,
    without giving the number away (08_mnist_odenet)."""
    if answer is None or answer is ...:
        return report(name, False, _NO_ANSWER)
    if not _is_int(answer):
        return report(name, False, f"give a whole number of parameters, not {answer!r}")
    c, k = channels, kernel_size
    want = dynamics_parameters(c, k, bias, norms)
    if int(answer) == want:
        return report(name, True)
    conv = concat_conv_parameters(c, c, k, bias)
    biases = 2 * c if bias else -2 * c  # both convolutions' biases, counted or wrongly added
    slips: dict[int, list[str]] = {}
    for value, hint in [
        (dynamics_parameters(c, k, False, 2) if (bias, norms) != (False, 2) else None,
         "that is the Review of Literature's dynamics (no bias, two BatchNorms); count this "
         "one's biases and all its norm layers"),
        (want - biases, "each convolution has a bias: one per output channel"
         if bias else "these convolutions have no bias: count the weights only"),
        (want - 2 * c, "count every norm layer: each has a scale and a shift per channel"),
        (want - 2 * c * k * k, "the time is one more input channel of each convolution"),
        (want - c * k * k, "both convolutions see the time, not only the first"),
        (want - norms * c, "a norm layer has a scale and a shift per channel: 2c, not c"),
        (want - conv, "the dynamics have two convolutions"),
        (want - 2 * norms * c, "count the norm layers too: a scale and a shift per channel"),
        (2 * ((c + 1) * c * k + (c if bias else 0)) + 2 * norms * c,
         "a k x k kernel has k * k weights per input channel, not k"),
    ]:
        if value is not None and value != want:
            slips.setdefault(value, []).append(hint)
    hint = "; or ".join(slips.get(int(answer), [
        "two convolutions from c + 1 channels (the time) to c, c_in * c_out * k * k weights "
        "each plus a bias per output channel if they have one, and 2c per norm layer"]))
    return report(name, False, f"{int(answer)} is not it: {hint}")


# --- exercise: counting evaluations of a fixed-step solver -----------------------------------

#: Evaluations of the dynamics per step of torchdiffeq's fixed-step methods (08_mnist_odenet).
FIXED_STEP_EVALUATIONS = {"euler": 1, "midpoint": 2, "rk4": 4}


def fixed_step_nfe(
    method: str, step_size: float, t0: float = 0.0, t1: float = 1.0, adjoint: bool = False
) -> tuple[int, int]:
    """``(forward NFE, backward NFE)`` of one training step of an ODE block solved from ``t0``
    to ``t1`` with a fixed-step method: evaluations per step times the number of steps; the
    adjoint solves backwards with the same method and steps, backpropagation through the
    solver evaluates nothing in the backward pass (08_mnist_odenet)."""
    if method not in FIXED_STEP_EVALUATIONS:
        known = ", ".join(FIXED_STEP_EVALUATIONS)
        raise CheckerUsageError(f"method={method!r}; choose one of {known}")
    ratio = (t1 - t0) / step_size
    steps = round(ratio)
    if steps < 1 or not math.isclose(ratio, steps, rel_tol=1e-9):
        raise CheckerUsageError(f"step_size={step_size} does not divide [{t0}, {t1}] evenly")
    forward = FIXED_STEP_EVALUATIONS[method] * steps
    return forward, forward if adjoint else 0


@checker
def check_fixed_step_nfe(
    name: str,
    answer: Any,
    method: str,
    step_size: float,
    *,
    t0: float = 0.0,
    t1: float = 1.0,
    adjoint: bool = False,
) -> Verdict:
    """Check ``answer = (forward NFE, backward NFE)`` of one training step of an ODE block on
    ``[t0, t1]`` with a fixed-step method of torchdiffeq (``euler``: 1 evaluation per step,
    ``midpoint``: 2, ``rk4``: 4), with the adjoint method or with backpropagation through
    the solver; the hint names the likely slip (08_mnist_odenet)."""
    if answer is None or answer is ...:
        return report(name, False, _NO_ANSWER)
    if not isinstance(answer, tuple | list) or len(answer) != 2:
        return report(name, False, "give a pair: (forward NFE, backward NFE)")
    if any(x is None or x is ... for x in answer):
        return report(name, False, "no answer yet for one of the two numbers")
    if not all(_is_int(x) for x in answer):
        return report(name, False, f"give two whole numbers, not {tuple(answer)!r}")
    forward, backward = (int(x) for x in answer)
    want_f, want_b = fixed_step_nfe(method, step_size, t0, t1, adjoint)
    per_step = FIXED_STEP_EVALUATIONS[method]
    steps = want_f // per_step
    if forward != want_f:
        if forward == steps and per_step > 1:
            hint = (f"that is the number of steps; each {method} step evaluates the dynamics "
                    f"{per_step} times")
        elif forward in (steps + 1, per_step * (steps + 1)):
            hint = ("count steps, not grid points: n steps join n + 1 points, and the end "
                    "point needs no evaluation of its own")
        elif per_step > 1 and forward == per_step * steps + 1:
            hint = "the last point needs no evaluation of its own"
        elif 2 * forward == want_f:
            hint = ("steps = (t1 - t0) / step size: a step half as long means twice as many "
                    "steps, and twice the evaluations")
        elif forward == 2 * want_f:
            hint = (f"steps = (t1 - t0) / step size: count them again; {method} evaluates "
                    f"the dynamics {per_step} time(s) per step")
        else:
            hint = (f"steps = (t1 - t0) / step size; {method} evaluates the dynamics "
                    f"{per_step} time(s) per step")
        return report(name, False, f"the forward NFE is not {forward}: {hint}")
    if backward != want_b:
        if adjoint and backward == 0:
            hint = ("the adjoint method solves an ODE backwards, from t1 to t0, with the same "
                    "method and step size: it evaluates the dynamics again (lesson 06)")
        elif adjoint and backward == 2 * want_f:
            hint = ("each backward step evaluates the augmented dynamics once per stage, and "
                    "each of those calls the dynamics once (with a vector-Jacobian product)")
        elif not adjoint and backward == want_f:
            hint = ("without the adjoint, autograd replays the operations it recorded in the "
                    "forward pass: it never calls the dynamics again")
        else:
            hint = ("with the adjoint, the backward solve takes as many steps as the forward "
                    "one; without it, the backward pass makes no evaluations")
        return report(name, False, f"the backward NFE is not {backward}: {hint}")
    return report(name, True)


# --- exercise: the time as an extra image channel --------------------------------------------


def _time_channel_reference(t: Any, h: torch.Tensor) -> torch.Tensor:
    """``h`` with one more channel, last, filled with ``t`` (08_mnist_odenet)."""
    t_channel = torch.as_tensor(t, dtype=h.dtype).expand(h.shape[0], 1, *h.shape[2:])
    return torch.cat([h, t_channel], dim=1)


def _time_channel_cases() -> list[tuple[Any, torch.Tensor]]:
    gen = torch.Generator().manual_seed(8)
    return [
        (torch.tensor(0.35), torch.randn(2, 4, 6, 6, generator=gen)),
        (0.8, torch.randn(3, 2, 5, 7, generator=gen, dtype=torch.float64)),
        (torch.tensor(1.0, dtype=torch.float64), torch.randn(1, 3, 4, 4, generator=gen)),
        (torch.tensor(-0.5), torch.randn(4, 1, 3, 2, generator=gen)),
    ]


@checker
def check_time_channel(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check a learner's ``append_time_channel(t, h)``: ``h`` a batch of feature maps
    ``(N, C, H, W)``, ``t`` a float or a 0-dim tensor; the result is ``(N, C + 1, H, W)``
    with channels ``0..C-1`` equal to ``h`` and channel ``C`` filled with ``t``, in ``h``'s
    dtype, as ``ConcatConv(time_last=True)`` builds its input (08_mnist_odenet)."""
    from ..models import ConcatConv

    for i, (t, h) in enumerate(_time_channel_cases()):
        where = f"case {i} (t={float(t)}, h of shape {tuple(h.shape)}, {h.dtype})"
        want = _time_channel_reference(t, h)
        try:
            got = _tensor_answer(
                fn, t, h.clone(), where=where, want=want,
                shape_hint="make a channel of shape (N, 1, H, W) filled with t and concatenate "
                "along dim=1, the channels",
                dtype_hint="give the time channel h's dtype (torch.full_like(h[:, :1], t) "
                "does)")
        except _Hint as exc:
            return report(name, False, str(exc))
        if torch.equal(got, want):
            continue
        first = torch.cat([want[:, -1:], h], dim=1)
        if torch.equal(got, first):
            return report(name, False, f"{where}: the time goes last (channel C), as in the "
                          "Review of Literature's code; you put it first")
        if torch.equal(got[:, :-1], h):
            return report(name, False, f"{where}: the last channel must hold t at every "
                          "pixel of every image")
        return report(name, False, f"{where}: values differ: channels 0..C-1 are h, "
                      "channel C is t")
    # The same input as ConcatConv(time_last=True) builds: the convolutions agree.
    gen = torch.Generator().manual_seed(80)
    layer = ConcatConv(3, 5, time_last=True).double()
    h = torch.randn(2, 3, 6, 6, generator=gen, dtype=torch.float64)
    t = torch.tensor(0.6, dtype=torch.float64)
    try:
        got = _call(fn, t, h.clone(), where="the ConcatConv case", nothing="returned nothing")
        agree = torch.allclose(layer.conv(got), layer(t, h), atol=1e-12)
    except (_Hint, RuntimeError, TypeError) as exc:
        return report(name, False, f"with ConcatConv's input: {exc}")
    if not agree:
        return report(name, False, "the result does not reproduce ConcatConv(time_last=True)")
    return report(name, True)
