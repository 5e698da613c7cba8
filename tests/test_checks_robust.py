"""Every checker, fed every kind of bad answer: one FAIL line, never a traceback, and the
learner's random state and inputs untouched."""

import random

import numpy as np
import pytest
import torch

from nodebook_utils import checks, models
from nodebook_utils.solvers import RK4

BAD_VALUES = {
    "None": None,
    "Ellipsis": ...,
    "a string": "forty-two",
    "a list of strings": ["a", "b"],
    "inf": float("inf"),
    "NaN": float("nan"),
    "a dict": {"answer": 1},
    "a function": len,
}


def _raises(*args, **kwargs):
    raise ZeroDivisionError("a bug in the learner's code")


def _bad_functions():
    """Learner functions that return each bad value, or raise, or are not functions."""
    def returning(value):
        return lambda *args, **kwargs: value

    functions = {f"returns {k}": returning(v) for k, v in BAD_VALUES.items()}
    functions["raises"] = _raises
    functions["is not a function"] = 3
    functions["takes no arguments"] = lambda: 1
    return functions


# Built once, here: building them inside a check call would draw random numbers.
CONV = torch.nn.Conv2d(1, 2, 3)
DYNAMICS = models.MLPDynamics(3, [16])
# How to hand each checker a learner's answer: the rest of its arguments are fixed and valid.
VALUE_CHECKERS = {
    "check_value": lambda a: checks.check_value("x", a, 3.0),
    "check_output_sizes": lambda a: checks.check_output_sizes("x", a, 28, [(3, 1, 0)]),
    "check_receptive_field": lambda a: checks.check_receptive_field("x", a, [3, 3]),
    "check_stack_shape": lambda a: checks.check_stack_shape("x", a, CONV, (1, 8, 8)),
    "check_impulse_response": lambda a: checks.check_impulse_response("x", a, [1.0, 2.0], 4, 1),
    "check_gradient_growth": lambda a: checks.check_gradient_growth("x", a, 1.5, 4),
    "check_block_parameter_count": lambda a: checks.check_block_parameter_count("x", a, 4, 8, 2),
    "check_measured_order": lambda a: checks.check_measured_order(
        "x", a, [0.1, 0.05, 0.025], [1e-2, 2.5e-3, 6.25e-4]),
    "check_ode_block_parameters": lambda a: checks.check_ode_block_parameters("x", a, 3, 20),
    "check_flow_representable": lambda a: checks.check_flow_representable("x", a),
    "check_augmented_dimension": lambda a: checks.check_augmented_dimension(
        "x", a, DYNAMICS, (10, 3)),
    "check_checkpoint_intervals": lambda a: checks.check_checkpoint_intervals("x", a, 10.0, 10.0),
    "check_paired_difference": lambda a: checks.check_paired_difference(
        "x", a, [0.1, 0.2, 0.3], [0.15, 0.2, 0.4]),
    "check_window_nfe": lambda a: checks.check_window_nfe("x", a),
    "check_concat_conv_parameters": lambda a: checks.check_concat_conv_parameters("x", a),
    "check_fixed_step_nfe": lambda a: checks.check_fixed_step_nfe("x", a, "euler", 0.05),
    "check_dynamics_parameters": lambda a: checks.check_dynamics_parameters("x", a),
    "check_euler_stability_limit": lambda a: checks.check_euler_stability_limit("x", a, 10.0),
    "check_stable_steps": lambda a: checks.check_stable_steps("x", a, lam=40, method="rk4"),
    "check_repaired_spiral": lambda a: checks.check_repaired_spiral("x", a),
}
FUNCTION_CHECKERS = {
    "check_function": lambda f: checks.check_function("x", f, torch.sin, [(torch.ones(3),)]),
    "check_conv2d": lambda f: checks.check_conv2d("x", f),
    "check_conv_parameters": lambda f: checks.check_conv_parameters("x", f),
    "check_residual_block": lambda f: checks.check_residual_block("x", f),
    "check_rk_step": lambda f: checks.check_rk_step("x", f, RK4),
    "check_nfe_formula": lambda f: checks.check_nfe_formula("x", f),
    "check_concat_time": lambda f: checks.check_concat_time("x", f),
    "check_logistic_residual": lambda f: checks.check_logistic_residual("x", f, 0.8, 2.0),
    "check_linear_solve_adjoint": lambda f: checks.check_linear_solve_adjoint("x", f),
    "check_adjoint_step": lambda f: checks.check_adjoint_step("x", f),
    "check_spiral_field": lambda f: checks.check_spiral_field("x", f),
    "check_window_batch": lambda f: checks.check_window_batch("x", f),
    "check_time_channel": lambda f: checks.check_time_channel("x", f),
    "check_heart_rate": lambda f: checks.check_heart_rate("x", f),
    "check_majority_baseline": lambda f: checks.check_majority_baseline("x", f),
    "check_per_class_metrics": lambda f: checks.check_per_class_metrics("x", f),
    "check_residual_growth": lambda f: checks.check_residual_growth("x", f),
    "check_device_summary": lambda f: checks.check_device_summary("x", f),
    "check_time_bias_map": lambda f: checks.check_time_bias_map("x", f),
    "check_cost_model": lambda f: checks.check_cost_model("x", f),
    "check_hutchinson": lambda f: checks.check_hutchinson("x", f),
    "check_spectral_radius": lambda f: checks.check_spectral_radius("x", f),
}


def test_every_checker_is_covered():
    public = {name for name in checks.__all__ if name.startswith("check_")}
    assert public == set(VALUE_CHECKERS) | set(FUNCTION_CHECKERS)


def _cases():
    for name, call in VALUE_CHECKERS.items():
        for what, value in BAD_VALUES.items():
            yield pytest.param(call, value, id=f"{name}-{what}")
    for name, call in FUNCTION_CHECKERS.items():
        for what, fn in _bad_functions().items():
            yield pytest.param(call, fn, id=f"{name}-{what}")


@pytest.mark.parametrize(("call", "answer"), list(_cases()))
def test_a_bad_answer_gives_one_fail_line_and_leaves_random_state_alone(call, answer, capsys):
    random.seed(1)
    np.random.seed(1)
    torch.manual_seed(1)
    verdict = call(answer)
    out = capsys.readouterr().out.splitlines()
    assert not verdict
    assert len(out) == 1 and out[0].startswith("FAIL x: ") and len(out[0]) > len("FAIL x: ")
    assert random.random() == pytest.approx(random.Random(1).random())
    np.testing.assert_equal(np.random.rand(), np.random.RandomState(1).rand())
    assert torch.equal(torch.rand(1), torch.rand(1, generator=torch.Generator().manual_seed(1)))


def test_a_correct_answer_leaves_random_state_alone(capsys):
    torch.manual_seed(5)
    expected = torch.rand(3)
    torch.manual_seed(5)
    assert checks.check_conv2d("x", lambda x, w, stride, padding: torch.nn.functional.conv2d(
        x, w, stride=stride, padding=padding))
    assert torch.equal(torch.rand(3), expected)


def test_an_answer_that_changes_its_inputs_in_place_is_judged_on_its_own_result(capsys):
    def right_but_in_place(x):
        return x.sin_()  # right answer, but it overwrites the checker's input

    def wrong_but_in_place(x):
        x.zero_()  # wrong answer; the reference would see the zeros if it shared the input
        return torch.sin(x)

    cases = [(torch.linspace(0.1, 1.0, 5),)]
    assert checks.check_function("right", right_but_in_place, torch.sin, cases)
    assert not checks.check_function("wrong", wrong_but_in_place, torch.sin, cases)
    assert torch.equal(cases[0][0], torch.linspace(0.1, 1.0, 5))
