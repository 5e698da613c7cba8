"""Exercise checkers of 05_neural_odes (imported into :mod:`nodebook_utils.checks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import torch

from .core import Verdict, _call, _Hint, _tensor_answer, checker, report

__all__ = [
    "check_ode_block_parameters",
    "check_concat_time",
    "check_logistic_residual",
    "check_flow_representable",
]


@checker
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


@checker
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
        want = _concat_time_reference(t, h)
        try:
            got = _tensor_answer(
                fn, t, h.clone(), where=where, want=want,
                shape_hint="make t a column of N rows (shape (N, 1)) and concatenate along "
                "dim=1, the features",
                dtype_hint="give the time column h's dtype (torch.full_like(h[:, :1], t) does)")
        except _Hint as exc:
            return report(name, False, str(exc))
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


@checker
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


#: The three targets of Exercise 4 of 05_neural_odes and, for each, whether it can be
#: represented exactly by (a) a 1-D ODE block, (b) a 1-D ODE block and a linear layer,
#: (c) an augmented ODE block on [x, 0] in R^2 and a linear layer.
_FLOW_TARGETS: dict[str, tuple[bool, bool, bool]] = {
    "3x + 1": (True, True, True),
    "-x": (False, True, True),
    "x^2": (False, False, True),
}
_FLOW_MODELS = ("(a) the 1-D ODE block", "(b) the 1-D block + linear layer",
                "(c) the augmented block + linear layer")
#: Why each entry is what it is, phrased as a hint for a learner who got it wrong.
_FLOW_HINTS: dict[tuple[str, int], str] = {
    ("3x + 1", 0): "try a linear ODE, dh/dt = a h + c: it maps x to e^a x + c (e^a - 1) / a",
    ("3x + 1", 1): "whatever a 1-D block does alone, a block plus the linear layer w = 1, b = 0 "
                   "does too",
    ("3x + 1", 2): "a block on [x, 0] can leave the extra coordinate alone and act on x as in "
                   "(a); the linear layer then reads x's coordinate",
    ("-x", 0): "a 1-D flow keeps the order of points (trajectories cannot cross, section 4), "
               "and x -> -x reverses it",
    ("-x", 1): "the linear layer may have a negative weight: what does w = -1 do after the "
               "flow of f = 0?",
    ("-x", 2): "whatever (b) can do, (c) can do with the extra coordinate left at 0",
    ("x^2", 0): "a flow is one-to-one, but x^2 sends -0.5 and 0.5 to the same point",
    ("x^2", 1): "h(1) is strictly increasing in x (a 1-D flow keeps the order), so w h(1) + b "
                "is strictly monotone or constant; is x^2 on [-1, 1] either?",
    ("x^2", 2): "in two dimensions the line of points (x, 0) can bend: which flow moves (x, 0) "
                "to (x, x^2)? Try dynamics f(t, h) = (0, g(h_1))",
}


def _flow_key(key: Any) -> str | None:
    """A learner's key for a target, normalised (spaces, ``**`` and ``²`` allowed), or None."""
    if not isinstance(key, str):
        return None
    k = key.replace(" ", "").replace("**", "^").replace("²", "^2").replace("−", "-")
    for target in _FLOW_TARGETS:
        if k == target.replace(" ", ""):
            return target
    return None


@checker
def check_flow_representable(name: str, answer: Any) -> Verdict:
    """Check Exercise 4 of 05_neural_odes, a prediction: for each target map of ``[-1, 1]``
    (``"3x + 1"``, ``"-x"``, ``"x^2"``), three booleans saying whether it can be represented
    exactly by (a) a 1-D ODE block, (b) a 1-D ODE block followed by a linear layer, (c) an
    augmented ODE block on ``[x, 0]`` followed by a linear layer, with any dynamics continuous
    in ``t`` and Lipschitz in ``h``. The hint explains the first wrong entry without listing
    the others."""
    no_answer = "no answer yet: replace each None with True or False"
    if answer is None or answer is ...:
        return report(name, False, no_answer)
    if not isinstance(answer, dict):
        return report(name, False, "answer with a dict: {'3x + 1': (a, b, c), '-x': (a, b, c), "
                      "'x^2': (a, b, c)}, each of a, b, c True or False")
    given: dict[str, Any] = {}
    for key, value in answer.items():
        target = _flow_key(key)
        if target is None:
            return report(name, False, f"unknown target {key!r}: use the keys '3x + 1', '-x' "
                          "and 'x^2'")
        given[target] = value
    missing = [t for t in _FLOW_TARGETS if t not in given]
    if missing:
        return report(name, False, f"give an answer for every target; missing: {missing}")
    wrong = []
    for target, want in _FLOW_TARGETS.items():
        value = given[target]
        if not isinstance(value, tuple | list) or len(value) != 3:
            return report(name, False, f"{target}: give three booleans, for (a), (b) and (c)")
        for i, (got, right) in enumerate(zip(value, want, strict=True)):
            if got is None or got is ...:
                return report(name, False, no_answer)
            if not isinstance(got, bool) and got not in (0, 1):
                return report(name, False, f"{target}, {_FLOW_MODELS[i]}: answer True or "
                              f"False, not {got!r}")
            if bool(got) != right:
                wrong.append((target, i))
    if not wrong:
        return report(name, True)
    target, i = wrong[0]
    return report(name, False, f"{9 - len(wrong)} of 9 right. {target} by {_FLOW_MODELS[i]}: "
                  f"{_FLOW_HINTS[(target, i)]}")
