"""Exercise checkers: each prints one clear line, PASS or FAIL with a hint, and returns a
:class:`Verdict` that is true when the answer passed (introduced in 00_start_here; the
lesson-specific checkers below build on the first three)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import torch


@dataclass(frozen=True)
class Verdict:
    """The result of a check: true when it passed. It shows nothing when it ends a notebook
    cell, because the checker has already printed its line (00_start_here)."""

    name: str
    passed: bool
    hint: str = ""

    def __bool__(self) -> bool:
        return self.passed

    def _ipython_display_(self) -> None:
        """Display nothing in a notebook: the PASS/FAIL line is already printed."""


def report(name: str, passed: bool, hint: str = "") -> Verdict:
    """Print ``PASS name`` or ``FAIL name: hint``; return the :class:`Verdict` (00_start_here)."""
    passed = bool(passed)
    print(f"PASS {name}" if passed else f"FAIL {name}: {hint}".rstrip(": "))
    return Verdict(name, passed, "" if passed else hint)


class _Hint(Exception):
    """Raised by :func:`_call` and :func:`_as_float64` when a learner's function gave no
    usable result; the message is the hint that the checker reports."""


def _call(fn: Callable[..., Any], *args: Any, where: str, nothing: str, **kwargs: Any) -> Any:
    """Return a learner's ``fn(*args, **kwargs)``. Raise :class:`_Hint` if it is not
    implemented yet, if it raises (the hint names the case, ``where``; the exception is its
    ``__cause__``) or if it returns nothing (``None`` or ``...``: the hint ``nothing``)."""
    try:
        got = fn(*args, **kwargs)
    except NotImplementedError:
        raise _Hint("not implemented yet: replace the raise with your code") from None
    except Exception as exc:  # a learner's bug becomes a hint, not a traceback
        raise _Hint(f"{where} raised {type(exc).__name__}: {exc}") from exc
    if got is None or got is ...:
        raise _Hint(nothing)
    return got


def _as_float64(got: Any, where: str) -> torch.Tensor:
    """A learner's result as a detached float64 tensor; raise :class:`_Hint` if it is not one."""
    if isinstance(got, torch.Tensor):
        got = got.detach()
    try:
        return torch.as_tensor(got).to(torch.float64)
    except (TypeError, ValueError, RuntimeError):
        raise _Hint(f"{where}: return a tensor, not {type(got).__name__}") from None


def check_value(
    name: str, answer: Any, expected: Any, *, atol: float = 0.0, hint: str = ""
) -> Verdict:
    """Compare a number or tensor answer with the expected one, within ``atol`` (00_start_here)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    try:
        a = torch.as_tensor(answer, dtype=torch.float64)
        e = torch.as_tensor(expected, dtype=torch.float64)
        passed = a.shape == e.shape and bool(torch.allclose(a, e, rtol=0.0, atol=atol))
    except (TypeError, ValueError, RuntimeError):
        passed = False
    return report(name, passed, hint or f"got {answer!r}, which is not the expected value")


def check_function(
    name: str,
    fn: Callable[..., Any],
    reference: Callable[..., Any],
    cases: Sequence[tuple],
    *,
    atol: float = 1e-5,
    hint: str = "",
) -> Verdict:
    """Call ``fn`` and ``reference`` on each argument tuple in ``cases`` and compare the results
    (tensors of equal shape, equal within ``atol``); the hint names the first case that differs
    (00_start_here)."""
    for i, args in enumerate(cases):
        try:
            got = fn(*args)
        except NotImplementedError:
            return report(name, False, "not implemented yet")
        except Exception as exc:  # a learner's bug becomes a hint, not a traceback
            return report(name, False, f"case {i} raised {type(exc).__name__}: {exc}")
        want = reference(*args)
        got_t, want_t = torch.as_tensor(got), torch.as_tensor(want)
        if got_t.shape != want_t.shape:
            shapes = f"shape {tuple(got_t.shape)}, expected {tuple(want_t.shape)}"
            return report(name, False, f"case {i}: {shapes}. {hint}")
        if not torch.allclose(got_t.double(), want_t.double(), rtol=0.0, atol=atol):
            err = (got_t.double() - want_t.double()).abs().max().item()
            return report(name, False, f"case {i}: values differ by up to {err:.3g}. {hint}")
    return report(name, True)


# --- 01_discrete_convolution -------------------------------------------------------------


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


# --- 06_adjoint_method -------------------------------------------------------------------


def _linear_solve_cases() -> list[tuple[torch.Tensor, torch.Tensor, torch.Tensor]]:
    """Random (A, c, g) with A well conditioned and not symmetric (06_adjoint_method)."""
    gen = torch.Generator().manual_seed(6)
    cases = []
    for n in (3, 4, 6):
        a = torch.randn(n, n, generator=gen, dtype=torch.float64) + 3 * torch.eye(
            n, dtype=torch.float64
        )
        c = torch.randn(n, generator=gen, dtype=torch.float64)
        g = torch.randn(n, generator=gen, dtype=torch.float64)
        cases.append((a, c, g))
    return cases


def check_linear_solve_adjoint(name: str, fn: Callable[..., Any], *, atol: float = 1e-8) -> Verdict:
    """Check ``fn(A, c, g) -> (dL_dc, dL_dA)`` for ``L = g^T b`` with ``A b = c``.

    The expected answer needs one adjoint solve: ``A^T s = g``, then ``dL/dc = s`` and
    ``dL/dA = -s b^T``. Compared with autograd on random non-symmetric matrices; the hint names
    the likely slip (a missing transpose, a sign, the order of the outer product)
    (06_adjoint_method).
    """
    no_answer = "no answer yet: return the pair (dL_dc, dL_dA)"
    for i, (a, c, g) in enumerate(_linear_solve_cases()):
        try:
            got = _call(fn, a.clone(), c.clone(), g.clone(), where=f"case {i}", nothing=no_answer)
        except _Hint as exc:
            return report(name, False, str(exc))
        if any(x is None or x is ... for x in _as_tuple(got)):
            return report(name, False, no_answer)
        if not isinstance(got, tuple | list) or len(got) != 2:
            return report(name, False, "return two tensors, (dL_dc, dL_dA)")
        try:
            got_c, got_a = (_as_float64(x, f"case {i}") for x in got)
        except _Hint:
            return report(name, False, "return two tensors, (dL_dc, dL_dA)")
        b = torch.linalg.solve(a, c)
        s = torch.linalg.solve(a.T, g)
        want_c, want_a = s, -torch.outer(s, b)
        n = len(c)
        if got_c.shape != (n,) or got_a.shape != (n, n):
            return report(
                name, False,
                f"case {i}: shapes {tuple(got_c.shape)} and {tuple(got_a.shape)}; dL_dc has "
                f"the shape of c ({n},), dL_dA the shape of A ({n}, {n})",
            )

        def close(x: torch.Tensor, y: torch.Tensor) -> bool:
            return bool(torch.allclose(x, y, rtol=0.0, atol=atol))

        if not close(got_c, want_c):
            if close(got_c, torch.linalg.solve(a, g)):
                hint = "the adjoint system uses the transpose: solve A^T s = g, not A s = g"
            elif close(got_c, g):
                hint = "g is dL/db; carry it back through the solve: dL/dc = s with A^T s = g"
            else:
                hint = "dL/dc = s, where s solves A^T s = g"
            return report(name, False, f"case {i}: dL_dc is wrong; {hint}")
        if not close(got_a, want_a):
            if close(got_a, -want_a):
                hint = "check the sign: increasing A shrinks b, so dL/dA = -s b^T"
            elif close(got_a, want_a.T) or close(got_a, -want_a.T):
                hint = "the order of the outer product: row i of A goes with s_i, so -s b^T"
            else:
                hint = "differentiate A b = c: A db = -dA b, so dL/dA = -s b^T"
            return report(name, False, f"case {i}: dL_dA is wrong; {hint}")
    return report(name, True)


def _as_tuple(x: Any) -> tuple:
    """``x`` as a tuple if it is a tuple or list, else a 1-tuple (06_adjoint_method)."""
    return tuple(x) if isinstance(x, tuple | list) else (x,)


def _adjoint_step_cases() -> list[tuple[Callable[[torch.Tensor], torch.Tensor], torch.Tensor,
                                        torch.Tensor, torch.Tensor]]:
    """(f_i, q_i, r_next, dphi_dq_i) for :func:`check_adjoint_step` (06_adjoint_method)."""
    gen = torch.Generator().manual_seed(60)
    f64 = torch.float64
    cases = []
    for n_in, n_out, kind in ((3, 3, "linear"), (3, 3, "tanh"), (4, 2, "tanh"), (2, 5, "euler")):
        w = torch.randn(n_out, n_in, generator=gen, dtype=f64)
        bias = torch.randn(n_out, generator=gen, dtype=f64)
        if kind == "linear":
            def f(q: torch.Tensor, w: torch.Tensor = w) -> torch.Tensor:
                return w @ q
        elif kind == "tanh":
            def f(q: torch.Tensor, w: torch.Tensor = w, bias: torch.Tensor = bias) -> torch.Tensor:
                return torch.tanh(w @ q + bias)
        else:  # an Euler step q + h g(q) needs n_out == n_in: use a square part of w
            w_sq = w[:n_in, :n_in]

            def f(q: torch.Tensor, w: torch.Tensor = w_sq) -> torch.Tensor:
                return q + 0.1 * torch.tanh(w @ q)
            n_out = n_in
        q = torch.randn(n_in, generator=gen, dtype=f64)
        r_next = torch.randn(n_out, generator=gen, dtype=f64)
        dphi = torch.randn(n_in, generator=gen, dtype=f64)
        cases.append((f, q, r_next, dphi))
    return cases


def check_adjoint_step(name: str, fn: Callable[..., Any], *, atol: float = 1e-8) -> Verdict:
    """Check one step of the discrete adjoint recursion,
    ``fn(f_i, q_i, r_next, dphi_dq_i) -> r_i = (df_i/dq_i)^T r_next + dphi_dq_i``,
    on linear maps, tanh layers (square and not) and an Euler step; the hint names the likely
    slip (no transpose, the direct term forgotten) (06_adjoint_method)."""
    for i, (f, q, r_next, dphi) in enumerate(_adjoint_step_cases()):
        jac = torch.autograd.functional.jacobian(f, q)  # (n_out, n_in)
        want = jac.T @ r_next + dphi
        where = f"case {i} (f_i maps R^{jac.shape[1]} to R^{jac.shape[0]})"
        try:
            got = _call(fn, f, q.clone(), r_next.clone(), dphi.clone(), where=where,
                        nothing="your function returned nothing: return r_i")
            got = _as_float64(got, where)
        except _Hint as exc:
            return report(name, False, str(exc))
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: r_i has shape {tuple(got.shape)}, expected {tuple(want.shape)}, the "
                "shape of q_i: multiply r_next by the *transposed* Jacobian (a vector-Jacobian "
                "product)",
            )
        if torch.allclose(got, want, rtol=0.0, atol=atol):
            continue
        if torch.allclose(got, jac.T @ r_next, rtol=0.0, atol=atol):
            hint = "add dphi_dq_i: the loss may also depend on q_i directly"
        elif jac.shape[0] == jac.shape[1] and torch.allclose(
            got, jac @ r_next + dphi, rtol=0.0, atol=atol
        ):
            hint = "use the transposed Jacobian, (df_i/dq_i)^T r_next, not (df_i/dq_i) r_next"
        elif got.shape == r_next.shape and torch.allclose(got, r_next + dphi, rtol=0.0, atol=atol):
            hint = "r_next must go through the Jacobian of f_i at q_i"
        else:
            err = (got - want).abs().max().item()
            hint = (f"values differ by up to {err:.3g}; r_i = (df_i/dq_i)^T r_next + dphi_dq_i, "
                    "e.g. torch.autograd.grad(f_i(q), q, grad_outputs=r_next)")
        return report(name, False, f"{where}: {hint}")
    return report(name, True)


def check_augmented_dimension(
    name: str, answer: Any, func: torch.nn.Module, state_shape: Sequence[int]
) -> Verdict:
    """Check the number of entries of the augmented state ``[z, a, a_theta]`` that the adjoint
    method integrates backwards for dynamics ``func`` and a state ``z`` of shape
    ``state_shape`` (a batch included): ``2 * numel(z) + number of trainable parameters``.
    The hint names the likely slip (06_adjoint_method)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    n = 1
    for size in state_shape:
        n *= int(size)
    n_params = sum(p.numel() for p in func.parameters() if p.requires_grad)
    want = 2 * n + n_params
    if answer == want:
        return report(name, True)
    per_state = 2 * int(state_shape[-1]) + n_params
    slips = [
        (n + n_params, "the adjoint a(t) = dL/dz(t) has as many entries as z(t): count it too"),
        (2 * n, "add a_theta: one entry per trainable parameter of the network"),
        (3 * n, "a_theta has one entry per parameter, not one per entry of z"),
        (per_state, "every state of the batch has its own z and a: count numel of the batch"),
        (want + 1, "the augmented state here is [z, a, a_theta], with no entry for time"),
        (n + 2 * n_params, "a_theta is one vector as long as theta; z and a have numel(z) each"),
    ]
    for value, hint in slips:
        if answer == value:
            return report(name, False, hint)
    return report(name, False, "count numel(z) + numel(a) + numel(theta), with a shaped like z")


# --- 04_resnets_as_euler -----------------------------------------------------------------


def _rk_cases() -> list[tuple[Callable[..., Any], torch.Tensor, torch.Tensor, float, str]]:
    """Problems for :func:`check_rk_step`: ``(f, t, y, h, what)`` in float64, scalar, vector,
    batched and backwards in time (04_resnets_as_euler)."""
    gen = torch.Generator().manual_seed(4)
    f64 = torch.float64
    a = torch.tensor([[-0.5, 1.0], [-1.0, -0.2]], dtype=f64)

    def growth(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.cos(t) * y

    def coupled(t: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return torch.tanh(y) @ a.T + 0.3 * torch.sin(3 * t)

    def time(x: float) -> torch.Tensor:
        return torch.tensor(x, dtype=f64)

    return [
        (growth, time(0.0), torch.ones(1, dtype=f64), 0.1, "y' = cos(t) y from t = 0, y = 1"),
        (growth, time(0.7), torch.rand(3, generator=gen, dtype=f64) + 0.5, 0.3,
         "y' = cos(t) y on a vector of 3 states"),
        (coupled, time(0.3), torch.randn(2, generator=gen, dtype=f64), 0.2,
         "a nonlinear, time-dependent 2-d system"),
        (coupled, time(1.0), torch.randn(5, 2, generator=gen, dtype=f64), 0.05,
         "a batch of 5 states of the 2-d system"),
        (coupled, time(2.0), torch.randn(2, generator=gen, dtype=f64), -0.1,
         "a step backwards in time (h < 0)"),
    ]


def check_rk_step(
    name: str, fn: Callable[..., Any], tableau: Any, *, atol: float = 1e-10
) -> Verdict:
    """Check a learner's one-step function ``fn(f, t, y, h)`` against
    :func:`nodebook_utils.solvers.rk_step` with the given Butcher ``tableau`` on scalar, vector,
    batched and backward-in-time problems (float64), and that it calls ``f`` once per stage.
    The hint names the likely slip: another method's step, stage times left at ``t``, the
    increment returned instead of the new state (04_resnets_as_euler)."""
    from ..solvers import EULER, MIDPOINT, RK4, rk_step

    stages = len(tableau.b)
    for i, (f, t, y, h, what) in enumerate(_rk_cases()):
        where = f"case {i} ({what})"
        calls = [0]

        def counted(
            s: torch.Tensor, z: torch.Tensor, f: Callable[..., Any] = f, calls: list[int] = calls
        ) -> torch.Tensor:
            calls[0] += 1
            return f(torch.as_tensor(s, dtype=torch.float64), z)

        try:
            got = _call(fn, counted, t.clone(), y.clone(), h, where=where,
                        nothing="your function returned nothing: return the new state")
            got = _as_float64(got, where)
        except _Hint as exc:
            return report(name, False, str(exc))
        want = rk_step(f, t, y, h, tableau)
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: shape {tuple(got.shape)}, expected {tuple(want.shape)}: the new "
                "state has the shape of y",
            )

        def close(x: torch.Tensor, reference: torch.Tensor) -> bool:
            return bool(torch.allclose(x, reference, rtol=0.0, atol=atol))

        if close(got, want):
            if calls[0] != stages:
                return report(
                    name, False,
                    f"right values, but f was called {calls[0]} times in one step; the tableau "
                    f"has {stages} stages, so one step needs exactly {stages} evaluations "
                    "(compute each slope k_i once and reuse it)",
                )
            continue
        if close(got, want - y):
            return report(name, False, f"{where}: you returned the increment h * sum_i b_i k_i; "
                          "return the new state y + h * sum_i b_i k_i")
        for other in (EULER, MIDPOINT, RK4):
            if other.name != tableau.name and close(got, rk_step(f, t, y, h, other)):
                return report(name, False, f"{where}: your step is one {other.name} step; "
                              f"use the weights and stages of the {tableau.name} tableau")

        def frozen(s: torch.Tensor, z: torch.Tensor, f: Callable[..., Any] = f,
                   t: torch.Tensor = t) -> torch.Tensor:
            return f(t, z)

        if close(got, rk_step(frozen, t, y, h, tableau)):
            return report(name, False, f"{where}: evaluate stage i at its own time t + c_i h, "
                          "not at t")
        err = (got - want).abs().max().item()
        return report(
            name, False,
            f"{where}: values differ by up to {err:.3g}; follow the tableau: "
            "k_i = f(t + c_i h, y + h sum_j a_ij k_j), then y_new = y + h sum_i b_i k_i",
        )
    return report(name, True)


def _slope(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Least-squares slope of ys against xs (04_resnets_as_euler)."""
    n = len(xs)
    mx, my = sum(xs) / n, sum(ys) / n
    return sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum(
        (x - mx) ** 2 for x in xs
    )


def check_measured_order(
    name: str,
    answer: Any,
    step_sizes: Sequence[float],
    errors: Sequence[float],
    *,
    tol: float = 0.2,
) -> Verdict:
    """Check an order of convergence measured from ``errors`` at ``step_sizes``: it must lie
    within ``tol`` of the least-squares slope of log(error) against log(h). The hint names the
    likely slip (a flipped sign, swapped axes, a logarithm of the wrong base) without giving the
    number away (04_resnets_as_euler)."""
    import math

    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    try:
        answer = float(answer)  # a number, a one-element tensor or NumPy value
    except (TypeError, ValueError, RuntimeError):
        return report(name, False, "give one number, the order p (for example from the two "
                      "smallest step sizes)")
    if answer != answer:  # NaN
        return report(name, False, "your order is NaN: are some errors zero or negative?")
    log_h = [math.log(h) for h in step_sizes]
    log_e = [math.log(e) for e in errors]
    expected = _slope(log_h, log_e)
    if abs(answer - expected) <= tol:
        return report(name, True)
    if abs(answer + expected) <= tol:
        hint = ("the sign is flipped: the error shrinks with h, so log(error) grows with "
                "log(h) and p > 0; divide the error at the larger step by the one at the smaller")
    elif expected > 1.5 and abs(answer - 1 / expected) <= 0.05:
        hint = ("you swapped the axes: p is the change of log(error) per unit change of log(h), "
                "not the other way round")
    elif any(abs(answer - expected * math.log(2, base)) <= tol * math.log(2, base)
             for base in (10, math.e)):
        hint = ("halving h divides the error by 2^p: take the logarithm base 2 of the error "
                "ratio, or divide log(ratio of errors) by log(ratio of step sizes)")
    else:
        hint = ("fit the slope of log(error) against log(h), or use "
                "p = log(e1 / e2) / log(h1 / h2) for two step sizes h1 > h2")
    return report(name, False, hint)


def check_nfe_formula(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check ``fn(method, n_steps)``, a prediction of how many times
    :func:`nodebook_utils.solvers.odeint` calls the dynamics over ``n_steps`` equal steps of
    ``"euler"``, ``"midpoint"`` or ``"rk4"``, against the calls counted with
    :class:`~nodebook_utils.solvers.CountNFE` for 1, 3 and 10 steps; the hint does not give the
    count away (04_resnets_as_euler)."""
    from ..solvers import CountNFE, odeint

    for method in ("euler", "midpoint", "rk4"):
        for n in (1, 3, 10):
            counter = CountNFE(lambda t, y: -y)
            odeint(counter, torch.ones(1, dtype=torch.float64), [0.0, 1.0], method=method,
                   step_size=1.0 / n)
            where = f"{method} over {n} step{'s' if n > 1 else ''}"
            try:
                got = _call(fn, method, n, where=where,
                            nothing="no answer yet: return the predicted count")
            except _Hint as exc:
                return report(name, False, str(exc))
            if isinstance(got, bool) or not isinstance(got, int | float) or got != int(got):
                return report(name, False, f"{where}: return a whole number, got {got!r}")
            if got == counter.nfe:
                continue
            if got == n and counter.nfe != n:
                hint = ("a step evaluates f once per stage (row of its Butcher tableau), not "
                        "once in all")
            elif got > counter.nfe and (got - counter.nfe) in (1, counter.nfe // n):
                hint = ("a fixed-step solve makes no extra call at the start or at the end "
                        "time: count only the stages of each step")
            else:
                hint = "count the stages of one step of this method and multiply by the steps"
            return report(name, False, f"{where}: {hint}")
    return report(name, True)


# --- 02_convolutional_networks -----------------------------------------------------------


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


# --- 03_residual_networks ----------------------------------------------------------------


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


# --- 05_neural_odes ----------------------------------------------------------------------


def check_ode_block_parameters(name: str, answer: Any, dim: int, hidden: int) -> Verdict:
    """Check the parameter count of the dynamics ``MLPDynamics(dim, [hidden])`` of an ODE
    block, i.e. ``ConcatLinear(dim, hidden)``, tanh, ``ConcatLinear(hidden, dim)``; the hint
    names the likely slip without giving the number away (05_neural_odes)."""
    if answer is None or answer is ...:
        return report(name, False, "no answer yet: replace the placeholder with your answer")
    want = (dim + 1) * hidden + hidden + (hidden + 1) * dim + dim
    if answer == want:
        return report(name, True)
    rule = "each ConcatLinear(a, b) holds (a + 1) * b weights (one column for t) and b biases"
    if answer == 2 * dim * hidden + hidden + dim:
        hint = ("that is one residual block without time input: the time adds a weight "
                "column to each layer; " + rule)
    elif answer == 2 * dim * hidden:
        hint = "you counted the weights of h only: add the time column and the biases; " + rule
    elif answer in (want - dim, want - hidden):
        hint = "both layers see t, so both get an extra weight column; " + rule
    elif answer in (want - dim - hidden, want + dim + hidden):
        hint = "count one bias per output unit of each layer; " + rule
    else:
        hint = rule + "; the dynamics have two such layers"
    return report(name, False, hint)


def _concat_time_reference(t: Any, h: torch.Tensor) -> torch.Tensor:
    """The expected ``concat_time`` output: ``[t, h]`` along the features (05_neural_odes)."""
    t_col = torch.as_tensor(t, dtype=h.dtype).expand(h.shape[0], 1)
    return torch.cat([t_col, h], dim=1)


def check_concat_time(name: str, fn: Callable[..., Any]) -> Verdict:
    """Check a learner's ``concat_time(t, h)``: ``h`` of shape ``(N, d)``, ``t`` a float or a
    0-dim tensor; the result is ``(N, d + 1)`` with ``t`` in column 0 and ``h``'s dtype
    (05_neural_odes)."""
    gen = torch.Generator().manual_seed(5)
    cases = [
        (torch.tensor(0.5), torch.randn(4, 3, generator=gen)),
        (0.25, torch.randn(2, 5, generator=gen, dtype=torch.float64)),
        (torch.tensor(1.5, dtype=torch.float64), torch.randn(6, 1, generator=gen)),
        (torch.tensor(-2.0), torch.randn(1, 2, generator=gen)),
    ]
    for i, (t, h) in enumerate(cases):
        where = f"case {i} (t={float(t)}, h of shape {tuple(h.shape)}, {h.dtype})"
        try:
            got = _call(fn, t, h.clone(), where=where,
                        nothing="your function returned nothing: return the tensor")
        except _Hint as exc:
            return report(name, False, str(exc))
        if not isinstance(got, torch.Tensor):
            return report(name, False, f"{where}: return a tensor, not {type(got).__name__}")
        want = _concat_time_reference(t, h)
        if got.shape != want.shape:
            return report(
                name, False,
                f"{where}: shape {tuple(got.shape)}, expected {tuple(want.shape)}: make t a "
                "column of N rows (shape (N, 1)) and concatenate along dim=1, the features",
            )
        if got.dtype != h.dtype:
            return report(name, False, f"{where}: dtype {got.dtype}; give the time column "
                          "h's dtype (torch.full_like(h[:, :1], t) does)")
        if torch.equal(got, want):
            continue
        if torch.equal(got, torch.cat([h, want[:, :1]], dim=1)):
            return report(name, False, f"{where}: t must come first (column 0), as in "
                          "ConcatLinear; you appended it last")
        return report(name, False, f"{where}: values differ: column 0 is t, columns 1.. are h")
    return report(name, True)


class _LogisticSolution(torch.nn.Module):
    """The exact solution ``K / (1 + (K / y0 - 1) exp(-r t))`` with a trainable ``y0``
    (a test model for :func:`check_logistic_residual`, 05_neural_odes)."""

    def __init__(self, r: float, capacity: float, y0: float) -> None:
        super().__init__()
        self.r, self.capacity = r, capacity
        self.y0 = torch.nn.Parameter(torch.tensor(y0, dtype=torch.float64))

    def forward(self, t: torch.Tensor) -> torch.Tensor:
        k = self.capacity
        return k / (1 + (k / self.y0 - 1) * torch.exp(-self.r * t))


def _logistic_residual_reference(
    model: Callable[[torch.Tensor], torch.Tensor], t: torch.Tensor, r: float, capacity: float
) -> torch.Tensor:
    """``dy/dt - r y (1 - y / K)`` of ``y = model(t)`` by autograd (05_neural_odes)."""
    t = t.clone().requires_grad_(True)
    y = model(t)
    dy = torch.autograd.grad(y.sum(), t, create_graph=True)[0]
    return dy - r * y * (1 - y / capacity)


def check_logistic_residual(
    name: str, fn: Callable[..., Any], r: float, capacity: float, *, atol: float = 1e-8
) -> Verdict:
    """Check a learner's PINN residual ``fn(model, t)`` of the logistic equation
    ``y' = r y (1 - y / K)`` (``capacity`` is K): ``t`` has shape ``(N, 1)`` and does not
    require grad, the result is ``dy/dt - r y (1 - y/K)`` of shape ``(N, 1)``, and it must
    stay differentiable with respect to the model's parameters (``create_graph=True``).
    Tested on the exact solution (residual 0) and on small random networks (05_neural_odes)."""
    gen = torch.Generator().manual_seed(7)
    t = torch.linspace(0.0, 5.0, 11, dtype=torch.float64).unsqueeze(1)
    models: list[tuple[str, torch.nn.Module]] = [("the exact solution", _LogisticSolution(
        r, capacity, 0.1 * capacity))]
    for width in (4, 8):
        net = torch.nn.Sequential(
            torch.nn.Linear(1, width), torch.nn.Tanh(), torch.nn.Linear(width, 1)
        ).double()
        with torch.no_grad():
            for p in net.parameters():
                p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
        models.append((f"a random network of width {width}", net))
    for label, model in models:
        where = f"on {label}"
        try:
            got = _call(fn, model, t.clone(), where=f"{where}, your function",
                        nothing="your function returned nothing: return the residual")
        except _Hint as exc:
            cause = exc.__cause__
            if isinstance(cause, RuntimeError) and "does not require grad" in str(cause):
                return report(name, False, "call t.requires_grad_(True) before evaluating the "
                              "model, so that autograd can differentiate y with respect to t")
            return report(name, False, str(exc))
        if not isinstance(got, torch.Tensor):
            return report(name, False, f"return a tensor, not {type(got).__name__}")
        want = _logistic_residual_reference(model, t, r, capacity)
        if got.shape != want.shape:
            return report(name, False, f"{where}: shape {tuple(got.shape)}, expected "
                          f"{tuple(want.shape)}: one residual per time, like y = model(t)")
        diff = (got.detach().double() - want.detach()).abs().max().item()
        if diff > atol:
            if torch.allclose(got.detach().double(), -want.detach(), atol=atol):
                hint = "the sign is flipped: the residual is dy/dt - r y (1 - y/K)"
            else:
                hint = "the residual is dy/dt - r y (1 - y/K), with dy/dt from torch.autograd.grad"
            return report(name, False, f"{where}: values differ by up to {diff:.3g}; {hint}")
        if not got.requires_grad:
            return report(name, False, "the residual has no graph: pass create_graph=True to "
                          "torch.autograd.grad, and do not detach, so the loss can train the model")
        params = list(model.parameters())
        want_grads = torch.autograd.grad(want.pow(2).sum(), params)
        try:
            got_grads = torch.autograd.grad(got.pow(2).sum(), params, allow_unused=True)
            no_graph = any(
                g is None or not torch.allclose(g.double(), w, atol=1e-6, rtol=1e-6)
                for g, w in zip(got_grads, want_grads, strict=True)
            )
        except RuntimeError:
            no_graph = True
        if no_graph:
            return report(name, False, f"{where}: the gradient with respect to the model's "
                          "weights is wrong: pass create_graph=True to torch.autograd.grad "
                          "so that dy/dt itself can be differentiated")
    return report(name, True)


# --- lessons 07 to 09: one module each, re-exported here ----------------------------------
# (imported last: they build on report, _call and the helpers above)

from .ecg_resnet_vs_node import *  # noqa: E402, F403
from .mnist_odenet import *  # noqa: E402, F403
from .spiral_dynamics import *  # noqa: E402, F403
