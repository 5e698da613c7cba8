"""Exercise checkers of 10_fast_neural_odes (imported into :mod:`nodebook_utils.checks`).

Each checker prints one PASS/FAIL line with a hint and returns a :class:`Verdict`; a learner's
exception or an unimplemented function becomes a hint, never a traceback.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import CodeType
from typing import Any

import numpy as np
import torch
from torch.nn import functional as F

from .core import Verdict, _as_float64, _call, _Hint, _tensor_answer, checker, report

__all__ = ["check_cost_model", "check_hutchinson", "check_time_bias_map"]


# --- exercise: the time channel as a bias map -------------------------------------------------


def _bias_map_cases() -> list[tuple[torch.Tensor, int, int]]:
    """(time weights (C_out, 1, k), signal length, padding): with and without zero padding,
    odd and even kernels, asymmetric weights so that a flipped kernel shows."""
    gen = torch.Generator().manual_seed(10)
    return [
        (torch.randn(4, 1, 3, generator=gen, dtype=torch.float64), 8, 1),
        (torch.randn(3, 1, 5, generator=gen, dtype=torch.float64), 10, 2),
        (torch.randn(2, 1, 3, generator=gen, dtype=torch.float64), 6, 0),
        (torch.randn(5, 1, 4, generator=gen, dtype=torch.float64), 7, 1),
    ]


#: Names of library convolutions (torch, NumPy, SciPy, the package's ConcatConv): exercise 1
#: asks for the map without them.
_CONVOLUTIONS = frozenset({
    "conv1d", "conv2d", "conv3d", "Conv1d", "Conv2d", "Conv3d", "conv_transpose1d",
    "convolution", "_convolution", "convolve", "convolve1d", "correlate", "correlate1d",
    "fftconvolve", "oaconvolve", "ConcatConv"})


class ConvolutionUsed(Exception):
    """Raised inside :func:`check_time_bias_map` when the answer calls a library convolution."""


def _names(code: CodeType) -> Iterator[str]:
    """The global and attribute names a function's code (and the code nested in it) uses."""
    yield from code.co_names
    for const in code.co_consts:
        if isinstance(const, CodeType):
            yield from _names(const)


def _convolution_named(fn: Callable[..., Any]) -> str | None:
    """The first library convolution that ``fn``'s own code names (``F.conv1d``,
    ``torch.conv1d``, ``nn.Conv1d``, ``np.convolve``, an imported ``conv1d``), or None. A name
    bound to a function the learner wrote in the notebook does not count."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    scope = getattr(fn, "__globals__", {})
    for name in sorted(set(_names(code)) & _CONVOLUTIONS):
        bound = scope.get(name)
        if bound is not None and getattr(bound, "__module__", None) == "__main__":
            continue  # the learner's own helper that happens to be called so
        return name
    return None


@contextmanager
def _convolutions_raise() -> Iterator[None]:
    """Within the block, torch's and NumPy's convolutions raise :class:`ConvolutionUsed`
    (helpers that the answer calls are caught too); restored afterwards."""
    patched = [(torch, n) for n in ("conv1d", "conv2d", "conv3d", "convolution", "_convolution",
                                    "conv_transpose1d")]
    patched += [(F, n) for n in ("conv1d", "conv2d", "conv3d", "conv_transpose1d")]
    patched += [(np, n) for n in ("convolve", "correlate")]
    saved = [(module, n, getattr(module, n)) for module, n in patched if hasattr(module, n)]

    def refuse(name: str) -> Callable[..., Any]:
        def raiser(*args: Any, **kwargs: Any) -> Any:
            raise ConvolutionUsed(name)
        return raiser

    try:
        for module, n, _ in saved:
            setattr(module, n, refuse(n))
        yield
    finally:
        for module, n, original in saved:
            setattr(module, n, original)


def _no_convolution_hint(name: str) -> str:
    return (f"your function uses a library convolution ({name}); the exercise asks for the map "
            "without one: loop or sum over the taps, asking for each output i which taps j read "
            "the signal (0 <= i + j - padding < length) and which read the zero padding")


@checker
def check_time_bias_map(name: str, fn: Callable[..., Any], *, atol: float = 1e-10) -> Verdict:
    """Check ``fn(weight_t, length, padding) -> (C_out, L_out)``: what a 1-D convolution
    (stride 1, no bias) with the time channel's weights ``weight_t`` (shape ``(C_out, 1, k)``)
    gives for a channel of ones of ``length`` samples, zero-padded by ``padding`` on both
    sides; the time channel's part of the convolution is ``t`` times this map
    (10_fast_neural_odes). The exercise asks for it without a convolution: an answer that
    names or calls one (``F.conv1d``, ``nn.Conv1d``, ``np.convolve``, ...) fails."""
    used = _convolution_named(fn)
    if used is not None:
        return report(name, False, _no_convolution_hint(used))
    for i, (w, length, padding) in enumerate(_bias_map_cases()):
        k = w.shape[-1]
        where = f"case {i} (kernel {k}, length {length}, padding {padding})"
        want = F.conv1d(torch.ones(1, 1, length, dtype=w.dtype), w, padding=padding)[0]
        try:
            with _convolutions_raise():
                got = _tensor_answer(
                    fn, w.clone(), length, padding, where=where, want=want,
                    shape_hint="one row per output channel, length + 2 padding - k + 1 columns",
                    dtype_hint="keep the weights' dtype (float64)")
        except _Hint as exc:
            if isinstance(exc.__cause__, ConvolutionUsed):
                return report(name, False, _no_convolution_hint(str(exc.__cause__)))
            return report(name, False, str(exc))
        if torch.allclose(got, want, rtol=0.0, atol=atol):
            continue
        everywhere = w.sum(dim=(1, 2))[:, None].expand_as(want)
        flipped = F.conv1d(torch.ones(1, 1, length, dtype=w.dtype), w.flip(-1),
                           padding=padding)[0]
        if torch.allclose(got, everywhere, rtol=0.0, atol=atol):
            return report(name, False, f"{where}: the sum of the weights is right in the "
                          "middle only: near the ends some taps see the zero padding, not ones")
        if torch.allclose(got, flipped, rtol=0.0, atol=atol):
            return report(name, False, f"{where}: the kernel is flipped: PyTorch's convolution "
                          "is a cross-correlation (lesson 01), tap j of output i reads input "
                          "i + j - padding")
        return report(name, False, f"{where}: output i sums the weights of the taps whose "
                      "input i + j - padding lies inside the signal (0 <= index < length)")
    return report(name, True)


# --- exercise: a cost model, fitted -----------------------------------------------------------


def _least_squares(nfe: torch.Tensor, ms: torch.Tensor) -> tuple[float, float]:
    design = torch.stack([torch.ones_like(nfe), nfe], dim=1)
    solution = torch.linalg.lstsq(design, ms[:, None]).solution[:, 0]
    return float(solution[0]), float(solution[1])


@checker
def check_cost_model(name: str, fn: Callable[..., Any], *, rtol: float = 1e-6) -> Verdict:
    """Check ``fn(nfe, ms) -> (overhead_ms, ms_per_evaluation)``: the least-squares line
    ``ms ≈ overhead_ms + ms_per_evaluation * nfe`` through measured (NFE, ms per step) pairs,
    given as 1-D float64 tensors (10_fast_neural_odes)."""
    gen = torch.Generator().manual_seed(11)
    nfe_noisy = torch.tensor([2.0, 4.0, 6.0, 13.0, 26.0, 40.0], dtype=torch.float64)
    cases = [
        (torch.tensor([1.0, 2.0, 4.0], dtype=torch.float64),
         torch.tensor([12.0, 19.0, 33.0], dtype=torch.float64)),  # exactly 5 + 7 nfe
        (nfe_noisy, 20.0 + 9.0 * nfe_noisy + torch.randn(6, generator=gen, dtype=torch.float64)),
        (torch.tensor([4.0, 8.0, 30.0, 60.0], dtype=torch.float64),
         torch.tensor([70.0, 95.0, 240.0, 470.0], dtype=torch.float64)),
    ]
    for i, (nfe, ms) in enumerate(cases):
        where = f"case {i} ({len(nfe)} measurements)"
        try:
            got = _call(fn, nfe.clone(), ms.clone(), where=where,
                        nothing="no answer yet: return (overhead_ms, ms_per_evaluation)")
            if isinstance(got, torch.Tensor):  # a tensor or an array of two numbers is fine
                got = got.detach().cpu().numpy()
            if isinstance(got, np.ndarray) and got.size == 2:
                got = tuple(got.reshape(-1).tolist())
            if not isinstance(got, tuple | list) or len(got) != 2:
                raise _Hint(f"{where}: return two numbers, (overhead_ms, ms_per_evaluation)")
            overhead, slope = (float(_as_float64(x, where).reshape(())) for x in got)
        except (_Hint, RuntimeError) as exc:
            return report(name, False, str(exc) or f"{where}: return two numbers")
        want_overhead, want_slope = _least_squares(nfe, ms)

        def close(a: float, b: float) -> bool:
            return abs(a - b) <= rtol * max(abs(b), 1.0)

        if close(overhead, want_overhead) and close(slope, want_slope):
            continue
        if close(overhead, want_slope) and close(slope, want_overhead):
            return report(name, False, f"{where}: the two numbers are swapped: return the "
                          "intercept (overhead) first, then the slope")
        through_origin = float((nfe * ms).sum() / (nfe * nfe).sum())
        if close(slope, through_origin) or close(slope, float((ms / nfe).mean())):
            return report(name, False, f"{where}: the line has an intercept: a step costs "
                          "something (stem, head, optimiser) even with no evaluations")
        return report(name, False, f"{where}: fit ms = a + b * nfe by least squares "
                      "(e.g. torch.linalg.lstsq with columns [1, nfe]) and return (a, b)")
    return report(name, True)


# --- exercise: Hutchinson's estimate of the Jacobian's Frobenius norm -------------------------


def _hutchinson_cases() -> list[tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor,
                                      torch.Tensor]]:
    """(f, h, eps): a non-symmetric linear map (so J ε and ε^T J differ), a small network and
    an elementwise map; f acts on each row of h separately."""
    gen = torch.Generator().manual_seed(12)
    a = torch.randn(3, 3, generator=gen, dtype=torch.float64)
    b = torch.randn(4, 4, generator=gen, dtype=torch.float64)
    c = torch.randn(4, generator=gen, dtype=torch.float64)

    def linear(h: torch.Tensor) -> torch.Tensor:
        return h @ a.T

    def network(h: torch.Tensor) -> torch.Tensor:
        return torch.tanh(h @ b.T + c)

    def elementwise(h: torch.Tensor) -> torch.Tensor:
        return torch.sin(h) * h

    def draw(n: int, d: int) -> torch.Tensor:
        return torch.randn(n, d, generator=gen, dtype=torch.float64)

    return [(linear, draw(5, 3), draw(5, 3)), (network, draw(6, 4), draw(6, 4)),
            (elementwise, draw(3, 2), draw(3, 2))]


def _vjp_norm(f: Callable[[torch.Tensor], torch.Tensor], h: torch.Tensor,
              eps: torch.Tensor) -> torch.Tensor:
    h = h.detach().requires_grad_(True)
    (vjp,) = torch.autograd.grad(f(h), h, eps)
    return vjp.pow(2).sum(dim=1)


@checker
def check_hutchinson(name: str, fn: Callable[..., Any], *, atol: float = 1e-10) -> Verdict:
    """Check ``fn(f, h, eps) -> (N,)``: for each row of ``h`` the squared length of the
    vector-Jacobian product ``eps^T ∂f/∂h`` (one backward pass), whose mean over random
    ``eps ~ N(0, I)`` is the squared Frobenius norm of the Jacobian (10_fast_neural_odes)."""
    for i, (f, h, eps) in enumerate(_hutchinson_cases()):
        where = f"case {i} (h of shape {tuple(h.shape)})"
        want = _vjp_norm(f, h, eps)
        try:
            got = _tensor_answer(
                fn, f, h.clone(), eps.clone(), where=where, want=want,
                shape_hint="one number per row of h: sum the squares over dim 1",
                dtype_hint="keep h's dtype (float64)")
        except _Hint as exc:
            return report(name, False, str(exc))
        got = got.detach()
        if torch.allclose(got, want, rtol=0.0, atol=atol):
            continue
        jvp = torch.func.jvp(f, (h,), (eps,))[1].pow(2).sum(dim=1)
        if torch.allclose(got, jvp, rtol=0.0, atol=atol):
            return report(name, False, f"{where}: that is J eps (a Jacobian-vector product); "
                          "the estimator uses eps^T J, which torch.autograd.grad(f(h), h, eps) "
                          "gives in one backward pass")
        if torch.allclose(got, want.sqrt(), rtol=0.0, atol=atol):
            return report(name, False, f"{where}: square the length: sum of the squares of "
                          "the vector-Jacobian product, not its norm")
        return report(name, False, f"{where}: compute v = eps^T ∂f/∂h with "
                      "torch.autograd.grad(f(h), h, grad_outputs=eps) (h must require "
                      "gradients) and return (v ** 2).sum(dim=1)")
    return report(name, True)
