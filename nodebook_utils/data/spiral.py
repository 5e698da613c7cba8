"""The spiral: the true trajectory of a damped linear rotation (07_spiral_dynamics)."""

from __future__ import annotations

from collections.abc import Sequence

import torch

DEFAULT_A = ((-0.1, 2.0), (-2.0, -0.1))


def spiral_field(
    y: torch.Tensor, A: Sequence[Sequence[float]] = DEFAULT_A, convention: str = "Ay"
) -> torch.Tensor:
    """The spiral's right-hand side at the states ``y`` (one per row) (07_spiral_dynamics):
    A·y as written (``convention="Ay"``), or y·A as the original code computed it (``"yA"``).
    For row vectors A·y is y·Aᵀ, so the two differ by a transpose."""
    if convention not in ("Ay", "yA"):
        raise ValueError(f"convention={convention!r}; choose 'Ay' (as written) or 'yA' (as coded)")
    matrix = torch.as_tensor(A, dtype=y.dtype, device=y.device)
    return y @ (matrix.T if convention == "Ay" else matrix)


def spiral_data(
    n_points: int = 500,
    t_max: float = 25.0,
    y0: Sequence[float] = (2.0, 0.0),
    A: Sequence[Sequence[float]] = DEFAULT_A,
    convention: str = "Ay",
    dtype: torch.dtype = torch.float32,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Times t [n_points] on [0, t_max] and the true trajectory y [n_points, 2]
    (07_spiral_dynamics).

    ``convention="Ay"`` solves the equation as written, dy/dt = A·y. The original code
    computed the row-vector product y·A instead (``convention="yA"``), which is
    dy/dt = Aᵀ·y: with the default A that spiral turns the other way (clockwise for A·y,
    anticlockwise for y·A), with the same radius 2·e^(-0.1 t). Integrated like the source,
    with torchdiffeq's dopri5 at rtol 1e-7, atol 1e-9 in float64, then cast to ``dtype``.
    """
    from torchdiffeq import odeint

    spiral_field(torch.zeros(1, 2), A, convention)  # rejects an unknown convention early
    t = torch.linspace(0.0, t_max, n_points, dtype=torch.float64)
    y = odeint(
        lambda _, y: spiral_field(y, A, convention),
        torch.tensor(y0, dtype=torch.float64),
        t,
        method="dopri5",
        rtol=1e-7,
        atol=1e-9,
    )
    return t.to(dtype), y.to(dtype)
