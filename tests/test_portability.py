"""Apple's MPS has no float64: the dtype choices the package makes there (no Mac is at hand,
so the choices are tested, not a run on the device)."""

import torch

from nodebook_utils import models, training


def test_adaptive_solvers_keep_time_in_float32_on_mps_only():
    block = models.ODEBlock(models.ConcatConvDynamics(), method="dopri5",
                            options={"first_step": 0.1})
    on_mps = block.solve_kwargs(torch.device("mps"))
    assert on_mps["options"] == {"dtype": torch.float32, "first_step": 0.1}
    assert block.solve_kwargs(torch.device("cpu"))["options"] == {"first_step": 0.1}
    assert block.solver_kwargs == {"options": {"first_step": 0.1}}  # the block is unchanged
    fixed = models.ODEBlock(models.ConcatConvDynamics(), method="rk4", options={"step_size": 0.5})
    assert fixed.solve_kwargs(torch.device("mps"))["options"] == {"step_size": 0.5}
    explicit = models.ODEBlock(models.ConcatConvDynamics(), options={"dtype": torch.float64})
    assert explicit.solve_kwargs(torch.device("mps"))["options"]["dtype"] == torch.float64


def test_evaluation_totals_are_float32_on_mps_only():
    assert training.accumulator_dtype("mps") == torch.float32
    assert training.accumulator_dtype("cpu") == torch.float64
    assert training.accumulator_dtype(torch.device("cuda")) == torch.float64
