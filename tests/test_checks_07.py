"""Checkers of 07_spiral_dynamics: a correct answer passes, a wrong one fails with a hint."""

import math

import numpy as np
import pytest
import torch
from scipy import stats

from nodebook_utils import checks


def lines(capsys):
    return capsys.readouterr().out.splitlines()


def fails_with(capsys, check, *args):
    """Run a checker that must fail; return its one printed line."""
    verdict = check("ex", *args)
    assert not verdict
    out = lines(capsys)
    assert len(out) == 1 and out[0].startswith("FAIL ex: ")
    return out[0]


def todo(*args):
    raise NotImplementedError  # your code


def broken(*args):
    raise IndexError("index 500 is out of bounds")


def dots(*args):
    return ...


# ------------------------------------------------------------------------------ window_batch


def window_batch(y, t, starts, batch_time):
    batch_y = torch.stack([y[starts + k] for k in range(batch_time)], dim=0)
    return y[starts], t[:batch_time], batch_y


def test_window_batch_passes_correct_solutions(capsys):
    def by_index(y, t, starts, batch_time):
        index = starts[None, :] + torch.arange(batch_time)[:, None]
        return [y[index][0], t[:batch_time], y[index]]  # a list is fine too

    assert checks.check_window_batch("ex", window_batch)
    assert checks.check_window_batch("ex", by_index)
    assert lines(capsys) == ["PASS ex"] * 2


@pytest.mark.parametrize(
    ("fn", "expected"),
    [
        (todo, "not implemented yet"),
        (broken, "raised IndexError: index 500"),
        (dots, "returned nothing"),
        (lambda y, t, s, bt: y[s], "return three tensors"),
        (lambda y, t, s, bt: (y[s], ..., y[s]), "returned nothing"),
        (lambda y, t, s, bt: ("a", t[:bt], y[s]), "return a tensor"),
    ],
)
def test_window_batch_placeholders(capsys, fn, expected):
    assert expected in fails_with(capsys, checks.check_window_batch, fn)


def test_window_batch_diagnoses_the_slips(capsys):
    def transposed(y, t, starts, bt):
        y0, tt, by = window_batch(y, t, starts, bt)
        return y0, tt, by.transpose(0, 1)

    def shifted(y, t, starts, bt):
        return window_batch(y, t, starts + 1, bt)

    def short(y, t, starts, bt):
        y0, tt, by = window_batch(y, t, starts, bt)
        return y0, tt, by[:-1]

    def per_window_times(y, t, starts, bt):
        y0, _, by = window_batch(y, t, starts, bt)
        return y0, t[starts[:, None] + torch.arange(bt)[None, :]], by

    def shifted_times(y, t, starts, bt):
        y0, _, by = window_batch(y, t, starts, bt)
        return y0, t[1:bt + 1], by

    def first_window_times(y, t, starts, bt):
        y0, _, by = window_batch(y, t, starts, bt)
        return y0, t[starts[0]:starts[0] + bt], by

    def y0_with_extra_axis(y, t, starts, bt):
        y0, tt, by = window_batch(y, t, starts, bt)
        return y0[None], tt, by

    def y0_last_point(y, t, starts, bt):
        y0, tt, by = window_batch(y, t, starts, bt)
        return by[-1], tt, by

    expected = [
        (transposed, "put time first"),
        (shifted, "off by one: a window starts at y[s] itself"),
        (short, "a window holds batch_time = 10"),
        (per_window_times, "batch_t is one time vector"),
        (shifted_times, "batch_t starts at t[0]"),
        (first_window_times, "the first window's own times"),
        (y0_with_extra_axis, "give it shape (16, 2)"),
        (y0_last_point, "first point of each window"),
    ]
    for fn, text in expected:
        assert text in fails_with(capsys, checks.check_window_batch, fn), fn.__name__


def test_window_batch_cases_start_the_first_window_away_from_zero():
    """A learner who takes the times of the first window, t[starts[0]:...], must not pass
    because a case happens to start there at 0."""
    from nodebook_utils.checks.spiral_dynamics import _window_cases

    for _, t, starts, batch_time in _window_cases():
        assert starts[0] > 1 and 0 in starts.tolist()
        assert int(starts.max()) == len(t) - batch_time - 1


# ------------------------------------------------------------------------------ spiral_field


def spiral_field(A, y, convention):
    return y @ A.T if convention == "Ay" else y @ A


def test_spiral_field_passes_correct_solutions(capsys):
    def by_columns(A, y, convention):
        matrix = A if convention == "Ay" else A.T
        return (matrix @ y.T).T

    assert checks.check_spiral_field("ex", spiral_field)
    assert checks.check_spiral_field("ex", by_columns)
    assert lines(capsys) == ["PASS ex"] * 2


def test_spiral_field_diagnoses_the_slips(capsys):
    expected = [
        (todo, "not implemented yet"),
        (broken, "raised IndexError"),
        (dots, "returned nothing"),
        (lambda A, y, c: y @ A, "that is y·A, the code's convention"),
        (lambda A, y, c: y @ A.T, "that is A y, as written"),
        (lambda A, y, c: spiral_field(A, y, "yA" if c == "Ay" else "Ay"), "y·A, the code's"),
        (lambda A, y, c: spiral_field(A, y, c).T, "keep one state per row"),
        (lambda A, y, c: -spiral_field(A, y, c), "the sign is flipped"),
        (lambda A, y, c: spiral_field(A, y, c)[:, :1], "expected (3, 2)"),
        (lambda A, y, c: spiral_field(A, y, c) + 1, "as written ('Ay')"),
    ]
    for fn, text in expected:
        assert text in fails_with(capsys, checks.check_spiral_field, fn)


# -------------------------------------------------------------------------------- window NFE


def test_window_nfe(capsys):
    assert checks.check_window_nfe("ex", 36)
    assert checks.check_window_nfe("ex", 9, method="euler")
    assert checks.check_window_nfe("ex", 2 * 4, method="midpoint", batch_time=5)
    assert lines(capsys) == ["PASS ex"] * 3
    expected = [
        (..., "no answer yet"),
        (None, "no answer yet"),
        (40, "10 times have 10 - 1 steps"),
        (16 * 36, "one batched solve"),
        (16 * 40, "solved as one batch"),
        (9, "evaluates f 4 times"),
        (72, "count the forward solve only"),
        (37, "(steps between the 10 times) x (evaluations per rk4 step)"),
    ]
    for answer, text in expected:
        line = fails_with(capsys, checks.check_window_nfe, answer)
        assert text in line
        assert "36" not in line  # never gives the number away


def test_window_nfe_for_the_exercises_longer_windows(capsys):
    """The exercise asks for windows of 25 points and 32 of them, a case the lesson never
    prints: copying the lesson's 36 (10 points) fails like every other slip."""
    settings = {"method": "rk4", "batch_time": 25, "batch_size": 32}
    assert checks.check_window_nfe("ex", 4 * 24, **settings)
    assert lines(capsys) == ["PASS ex"]
    expected = [
        (36, "(steps between the 25 times) x (evaluations per rk4 step)"),
        (4 * 25, "25 times have 25 - 1 steps"),
        (32 * 96, "one batched solve"),
        (24, "evaluates f 4 times"),
        (2 * 96, "count the forward solve only"),
    ]
    for answer, text in expected:
        line = fails_with(capsys, checks.check_window_nfe, answer, *settings.values())
        assert text in line
        assert "96" not in line


def test_window_nfe_rejects_an_unknown_method():
    with pytest.raises(ValueError, match="method"):
        checks.check_window_nfe("ex", 36, method="dopri5")


# ------------------------------------------------------------------------ paired difference

A = [0.0134, 0.0152, 0.0176, 0.0149, 0.0161]
B = [0.0131, 0.0155, 0.0188, 0.0150, 0.0170]


def paired(a, b):
    d = np.asarray(a) - np.asarray(b)
    mean, std = d.mean(), d.std(ddof=1)
    return mean, std, mean / (std / math.sqrt(len(d)))


def test_paired_difference_passes_and_agrees_with_scipy(capsys):
    mean, std, t = paired(A, B)
    assert math.isclose(t, stats.ttest_rel(A, B).statistic, rel_tol=1e-9)
    assert checks.check_paired_difference("ex", (mean, std, t), A, B)
    assert checks.check_paired_difference("ex", [torch.tensor(mean), std, t], A, B)
    # two seeds, as in fast mode
    assert checks.check_paired_difference("ex", paired(A[:2], B[:2]), A[:2], B[:2])
    assert lines(capsys) == ["PASS ex"] * 3


def test_paired_difference_without_spread_needs_no_t(capsys):
    a, b = [1.0, 2.0, 3.0], [0.5, 1.5, 2.5]  # every difference 0.5: no spread, no t
    assert checks.check_paired_difference("ex", (0.5, 0.0, math.nan), a, b)
    assert lines(capsys) == ["PASS ex"]


def test_paired_difference_diagnoses_the_slips(capsys):
    mean, std, t = paired(A, B)
    d = np.asarray(A) - np.asarray(B)
    welch = stats.ttest_ind(A, B, equal_var=False).statistic
    pooled = math.sqrt(np.var(A, ddof=1) + np.var(B, ddof=1))
    expected = [
        (..., "no answer yet"),
        ("0.1", "give three numbers"),
        ((mean, std), "give three numbers, (mean_d, std_d, t), not 2"),
        ((-mean, std, -t), "not b - a"),
        ((np.mean(A), std, t), "mean of the differences"),
        ((mean, d.std(ddof=0), t), "ddof=0"),
        ((mean, pooled, t), "spread of the differences"),
        ((mean, 2 * std, t), "sample standard deviation (ddof=1)"),
        ((mean, std, -t), "the sign of t"),
        ((mean, std, mean / std), "standard error"),
        ((mean, std, welch), "unpaired (Welch)"),
        ((mean, std, t + 1), "t = mean_d / (std_d / sqrt(n))"),
    ]
    for answer, text in expected:
        assert text in fails_with(capsys, checks.check_paired_difference, answer, A, B)


def test_paired_difference_needs_pairs():
    with pytest.raises(ValueError, match="paired"):
        checks.check_paired_difference("ex", (0, 0, 0), [1.0, 2.0], [1.0])
