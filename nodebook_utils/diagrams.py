"""Block diagrams drawn with matplotlib: a ResNet as a stack of Euler steps
(04_resnets_as_euler) and a residual block beside an ODE block (05_neural_odes).

Each function returns a Figure; pass it to :func:`nodebook_utils.plotting.show` with a caption
and alt text. Shapes and words only, so the diagrams read the same in grey scale.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch

BOX = {"boxstyle": "round,pad=0.02,rounding_size=0.06", "linewidth": 1.2}
FILL = {"layer": "#dbe9f6", "state": "#ffffff", "solver": "#fde9c9"}


def _box(ax: Axes, x: float, y: float, w: float, h: float, text: str, kind: str = "layer",
         size: float = 9.0) -> None:
    """A rounded box centred at (x, y) with ``text`` inside."""
    ax.add_patch(FancyBboxPatch((x - w / 2, y - h / 2), w, h, facecolor=FILL[kind],
                                edgecolor="black", linestyle="-" if kind != "state" else "--",
                                **BOX))
    ax.text(x, y, text, ha="center", va="center", fontsize=size)


def _arrow(ax: Axes, start: tuple[float, float], end: tuple[float, float], text: str = "",
           rad: float = 0.0, style: str = "-|>") -> None:
    """An arrow from ``start`` to ``end``, optionally labelled at its middle."""
    ax.add_patch(FancyArrowPatch(start, end, arrowstyle=style, mutation_scale=11,
                                 connectionstyle=f"arc3,rad={rad}", linewidth=1.1))
    if text:
        mx, my = (start[0] + end[0]) / 2, (start[1] + end[1]) / 2
        ax.text(mx + 0.05, my, text, ha="left", va="center", fontsize=8)


def _blank(ax: Axes, xlim: tuple[float, float], ylim: tuple[float, float], title: str) -> None:
    ax.set_xlim(*xlim)
    ax.set_ylim(*ylim)
    ax.set_aspect("equal")
    ax.axis("off")
    ax.set_title(title, fontsize=10)


def resnet_as_euler_steps(ax: Axes | None = None, blocks: int = 3) -> Figure:
    """Left: ``blocks`` residual blocks, each adding f(h; θ_k) to its input. Right: the same
    computation as Euler steps of dh/dt = f(h, t) with step 1, drawn on a trajectory."""
    if ax is None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 4.2), dpi=90,
                                          gridspec_kw={"width_ratios": [1, 1.25]})
    else:
        fig, left = ax.figure, ax
        right = None
    top = blocks * 1.3 + 0.6
    _blank(left, (-0.2, 3.2), (-0.2, top + 0.4), "A ResNet: one block per layer")
    for k in range(blocks + 1):
        y = top - k * 1.3
        _box(left, 0.9, y, 1.0, 0.42, f"$h_{k}$", "state", 10)
        if k < blocks:
            _box(left, 2.45, y - 0.65, 1.25, 0.42, f"$f(h_{k};\\,\\theta_{k})$", "layer", 9)
            _arrow(left, (1.4, y), (1.83, y - 0.5))  # into the residual branch
            _arrow(left, (0.9, y - 0.21), (0.9, y - 1.09), f"$+h_{k}$")
            _arrow(left, (1.83, y - 0.8), (1.4, y - 1.2))  # back, added to the skip
    left.text(1.55, -0.05, "$h_{k+1} = h_k + f(h_k;\\,\\theta_k)$", ha="center", fontsize=10)
    if right is None:
        return fig
    # An Euler solution of dh/dt = f(h, t) with step size 1 on a curved exact trajectory.
    t = np.linspace(0, blocks, 200)
    exact = np.sin(0.9 * t) + 0.35 * t

    def slope(tk: float) -> float:
        return 0.9 * np.cos(0.9 * tk) + 0.35

    tk, hk = [0.0], [0.0]
    for _ in range(blocks):
        hk.append(hk[-1] + slope(tk[-1]))
        tk.append(tk[-1] + 1)
    right.plot(t, exact, color="0.45", linestyle="--", label="exact solution $h(t)$")
    right.plot(tk, hk, color="#0072B2", marker="o", linestyle="-",
               label="Euler: $h_{k+1} = h_k + \\Delta t\\, f(h_k, t_k)$, $\\Delta t = 1$")
    for k in range(blocks + 1):
        right.annotate(f"$h_{k}$", (tk[k], hk[k]), textcoords="offset points",
                       xytext=(-14, 6), fontsize=9)
    right.set_xlabel("depth = time $t$ (layer $k$ at $t_k = k\\,\\Delta t$)")
    right.set_ylabel("hidden state $h$ (one coordinate)")
    right.set_title("Euler steps of $dh/dt = f(h, t)$ have the same form", fontsize=10)
    right.set_xticks(range(blocks + 1))
    right.legend(loc="upper left", fontsize=8, frameon=False)
    right.set_ylim(min(min(hk), exact.min()) - 0.3, max(max(hk), exact.max()) + 1.2)
    fig.tight_layout()
    return fig


def residual_vs_ode_block(axes: tuple[Axes, Axes] | None = None) -> Figure:
    """A residual block (one fixed step, its own weights) beside an ODE block (one function
    f, evaluated as often as the solver asks, with shared weights)."""
    if axes is None:
        fig, (left, right) = plt.subplots(1, 2, figsize=(8.4, 4.0), dpi=90)
    else:
        left, right = axes
        fig = left.figure
    _blank(left, (0, 4), (0, 4.4), "Residual block: one step")
    _box(left, 1.2, 3.8, 1.3, 0.45, "$h$", "state", 10)
    _box(left, 2.8, 2.7, 1.9, 0.5, "$F$: a few layers\n(conv, norm, ReLU)", "layer", 8.5)
    _box(left, 1.2, 1.5, 0.5, 0.5, "$+$", "layer", 12)
    _box(left, 1.2, 0.4, 2.0, 0.45, "$h + F(h;\\,\\theta)$", "state", 10)
    _arrow(left, (1.6, 3.57), (2.4, 2.96))
    _arrow(left, (2.8, 2.45), (1.45, 1.6), rad=-0.2)
    left.text(2.45, 1.75, "$F(h;\\theta)$", fontsize=9)
    _arrow(left, (1.2, 3.57), (1.2, 1.75))
    left.text(0.3, 2.6, "identity\n(skip)", fontsize=8, ha="center")
    _arrow(left, (1.2, 1.25), (1.2, 0.63))

    _blank(right, (0, 4), (0, 4.4), "ODE block: a solver calls $f$ again and again")
    _box(right, 1.2, 3.8, 1.3, 0.45, "$h(0)$", "state", 10)
    _box(right, 1.2, 2.2, 1.9, 0.7, "ODE solver\n(e.g. dopri5)", "solver", 9)
    _box(right, 3.15, 2.2, 1.3, 0.55, "$f(h, t;\\,\\theta)$", "layer", 9.5)
    _box(right, 1.2, 0.4, 2.0, 0.45, "$h(1) = h(0) + \\int_0^1 f\\,dt$", "state", 9)
    _arrow(right, (1.2, 3.57), (1.2, 2.55))
    _arrow(right, (2.15, 2.42), (2.5, 2.42))
    _arrow(right, (2.5, 1.98), (2.15, 1.98))
    right.text(3.15, 1.35, "$(h, t)$ in, slope out;\ncalled NFE times,\n"
               "the same $\\theta$ each time", ha="center", va="top", fontsize=7.5)
    _arrow(right, (1.2, 1.85), (1.2, 0.63))
    return fig
