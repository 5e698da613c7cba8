"""Exercise checkers of 01_discrete_convolution (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch

from .core import CheckerUsageError, Verdict, _as_float64, _call, _Hint, checker, report

__all__ = [
    "check_conv2d",
    "check_impulse_response",
    "check_output_sizes",
    "check_receptive_field",
]


def _conv2d_cases() -> list[tuple[torch.Tensor, torch.Tensor, int, int, str]]:
    """Random inputs for :func:`check_conv2d`: (x, weight, stride, padding, hint) (01)."""
    gen = torch.Generator().manual_seed(1)
    specs = [  # N, C_in, C_out, H, W, kH, kW, stride, padding, hint if this case fails
        (1, 1, 1, 5, 5, 3, 3, 1, 0,
         "out[i, j] is the sum over (a, b) of x[i + a, j + b] * w[a, b], with no flip"),
        (2, 3, 4, 7, 6, 3, 2, 1, 0,
         "output channel o sums x[n, c, i + a, j + b] * w[o, c, a, b] over the input channels "
         "c as well, for every image n of the batch"),
        (2, 3, 4, 6, 7, 3, 3, 1, 1,
         "pad each image with p zeros on every side (torch.nn.functional.pad) first"),
        (1, 2, 3, 8, 9, 3, 3, 2, 0,
         "with stride s, output (i, j) starts at input (i * s, j * s)"),
        (2, 1, 2, 9, 8, 4, 4, 2, 1, "pad first, then step the kernel by the stride"),
        (1, 2, 2, 10, 11, 2, 3, 3, 2, "check stride 3 with padding 2 and a 2x3 kernel"),
    ]
    cases = []
    for n, c_in, c_out, h, w, kh, kw, s, p, hint in specs:
        x = torch.randn(n, c_in, h, w, generator=gen, dtype=torch.float64)
        weight = torch.randn(c_out, c_in, kh, kw, generator=gen, dtype=torch.float64)
        cases.append((x, weight, s, p, hint))
    return cases


@checker
def check_conv2d(name: str, fn: Callable[..., Any], *, atol: float = 1e-4) -> Verdict:
    """Check a learner's ``fn(x, weight, stride=s, padding=p)`` against
    ``torch.nn.functional.conv2d`` (no bias) on random inputs of shape (N, C_in, H, W) and
    weights (C_out, C_in, kH, kW), with strides 1 to 3 and paddings 0 to 2; the hint names the
    first case that fails and what to look at (01_discrete_convolution)."""
    conv2d = torch.nn.functional.conv2d
    for i, (x, weight, s, p, hint) in enumerate(_conv2d_cases()):
        where = (f"case {i} (x {tuple(x.shape)}, weight {tuple(weight.shape)}, "
                 f"stride {s}, padding {p})")
        try:
            got = _call(fn, x.clone(), weight.clone(), stride=s, padding=p, where=where,
                        nothing="your function returned nothing: return the output")
            got = _as_float64(got, where)
        except _Hint as exc:
            return report(name, False, str(exc))
        want = conv2d(x, weight, stride=s, padding=p)
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: output shape {tuple(got.shape)}, expected {tuple(want.shape)} = "
                "(N, C_out, H_out, W_out) with each size floor((n + 2p - k) / s) + 1",
            )
        if torch.allclose(got, want, rtol=0.0, atol=atol):
            continue
        flipped = conv2d(x, weight.flip(-2, -1), stride=s, padding=p)
        if torch.allclose(got, flipped, rtol=0.0, atol=atol):
            return report(
                name, False,
                f"{where}: you flipped the kernel, which is the true convolution; "
                "F.conv2d computes a cross-correlation: do not flip",
            )
        err = (got - want).abs().max().item()
        return report(name, False, f"{where}: values differ by up to {err:.3g}; {hint}")
    return report(name, True)


def _size_hint(n: int, k: int, s: int, p: int, d: int, got: Any) -> str:
    """Guess the slip behind a wrong output size (01_discrete_convolution)."""
    span = d * (k - 1) + 1
    slips = [
        ((n - span) // s + 1 if n >= span else None, "did you forget the padding? "
         "p zeros are added on each side"),
        ((n + p - span) // s + 1 if n + p >= span else None,
         "padding adds p zeros on *both* sides: n + 2p"),
        ((n + 2 * p - span) // s, "count the first window too: ... + 1"),
        (-(-(n + 2 * p - span) // s) + 1, "round down: a window that would stick out past "
         "the padded input does not count"),
        ((n + 2 * p - k) // s + 1 if d > 1 else None,
         "a dilated kernel spans d (k - 1) + 1 inputs, not k"),
    ]
    for value, text in slips:
        if value is not None and got == value:
            return text
    return "use floor((n + 2p - d (k - 1) - 1) / s) + 1"


@checker
def check_output_sizes(
    name: str, answer: Any, n: int, layers: Sequence[Sequence[int]]
) -> Verdict:
    """Check the spatial sizes after each layer of a stack of convolutions applied to an input
    of size ``n``; each layer is ``(k, s, p)`` or ``(k, s, p, d)``. ``answer`` holds one size
    per layer (an int is fine for a single layer). The hint names the first wrong layer and
    the likely slip without giving the number away (01_discrete_convolution)."""
    from ..convolution import output_size

    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    if isinstance(answer, int | float) and len(layers) == 1:
        answer = [answer]
    try:
        answer = list(answer)
    except TypeError:
        return report(name, False, f"give a list of {len(layers)} sizes, one per layer")
    if len(answer) != len(layers):
        return report(name, False, f"give {len(layers)} sizes, one per layer, not {len(answer)}")
    size = n
    for i, (layer, got) in enumerate(zip(layers, answer, strict=True)):
        k, s, p, d = (*layer, 1) if len(layer) == 3 else tuple(layer)
        want = output_size(size, k, s, p, d)
        if got is ... or got is None:
            return report(name, False, f"layer {i + 1}: no answer yet")
        if got != want:
            what = f"k={k}, s={s}, p={p}" + (f", d={d}" if d != 1 else "")
            return report(
                name, False,
                f"layer {i + 1} ({what}) on an input of size {size}: "
                f"{_size_hint(size, k, s, p, d, got)}",
            )
        size = want
    return report(name, True)


@checker
def check_receptive_field(
    name: str,
    answer: Any,
    kernels: Sequence[int],
    strides: Sequence[int] | None = None,
    dilations: Sequence[int] | None = None,
) -> Verdict:
    """Check the receptive field (input pixels along one axis) of one output of a stack of
    convolutions with the given kernel sizes, strides and dilations; the hint names the likely
    slip (01_discrete_convolution)."""
    from ..convolution import receptive_field

    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    want = receptive_field(kernels, strides, dilations)
    if answer == want:
        return report(name, True)
    ones = [1] * len(kernels)
    strides_l = list(strides) if strides is not None else ones
    dilations_l = list(dilations) if dilations is not None else ones
    no_strides = receptive_field(kernels, None, dilations_l)
    own_stride, jump = 1, 1
    for k, s, d in zip(kernels, strides_l, dilations_l, strict=True):
        jump *= s
        own_stride += d * (k - 1) * jump
    if answer == no_strides and no_strides != want:
        hint = ("after a stride-s layer, neighbouring pixels are s input pixels apart: "
                "multiply each layer's k - 1 by the product of the strides before it")
    elif answer == own_stride:
        hint = "use the strides of the layers *before* a layer, not its own stride"
    elif answer == sum(kernels):
        hint = "each layer adds k - 1 pixels to the field (times the jump), not k"
    else:
        hint = "start from r = 1, jump = 1; per layer: r += d (k - 1) jump, then jump *= s"
    return report(name, False, hint)


@checker
def check_impulse_response(
    name: str,
    answer: Any,
    kernel: Sequence[float],
    length: int,
    position: int,
    padding: int = 0,
) -> Verdict:
    """Check a prediction of what ``torch.nn.functional.conv1d`` returns for a unit impulse
    (``length`` zeros with a 1 at ``position``) and ``kernel``, with ``padding`` zeros on each
    side: the list of outputs. The hint names the likely slip (the true convolution's flipped
    kernel, the right values in the wrong place, the wrong length) without giving the answer
    away (01_discrete_convolution)."""
    if not 0 <= position < length:
        raise CheckerUsageError(f"position {position} is outside a signal of length {length}")
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your prediction")
    x = torch.zeros(1, 1, length, dtype=torch.float64)
    x[0, 0, position] = 1.0
    w = torch.as_tensor(kernel, dtype=torch.float64).view(1, 1, -1)
    conv1d = torch.nn.functional.conv1d
    want = conv1d(x, w, padding=padding).flatten()
    if isinstance(answer, str | dict) or callable(answer):
        return report(name, False, "give a list of numbers, one per output")
    try:
        got = torch.as_tensor(answer, dtype=torch.float64).flatten()
    except (TypeError, ValueError, RuntimeError):
        return report(name, False, "give a list of numbers, one per output")
    if not torch.isfinite(got).all():
        return report(name, False, "give finite numbers, one per output")
    if got.shape != want.shape:
        return report(
            name, False,
            f"{got.numel()} values, but F.conv1d gives one per start position of the kernel: "
            "floor((n + 2p - k) / s) + 1 of them",
        )
    if torch.allclose(got, want, rtol=0.0, atol=1e-9):
        return report(name, True)
    flipped = conv1d(x, w.flip(-1), padding=padding).flatten()
    if torch.allclose(got, flipped, rtol=0.0, atol=1e-9):
        return report(
            name, False,
            "that is the true convolution, which flips the kernel; F.conv1d slides the kernel "
            "as it is and takes dot products (a cross-correlation)",
        )
    same_values = any(
        torch.allclose(got, torch.roll(candidate, shift), rtol=0.0, atol=1e-9)
        for candidate in (want, flipped) for shift in range(1, length)
    )
    if same_values:
        return report(
            name, False,
            "the right numbers in the wrong place: output n is the dot product of w with the "
            "padded inputs n, n + 1, ..., n + k - 1, so find the n whose window covers the 1",
        )
    return report(
        name, False,
        "output n = sum over j of x_padded[n + j] * w[j]; only the j that puts the 1 of the "
        "impulse under w[j] contributes",
    )
