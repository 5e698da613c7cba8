"""The block diagrams of lessons 04 and 05 draw without error and say what they show."""

import matplotlib

matplotlib.use("Agg")

from nodebook_utils import diagrams  # noqa: E402


def texts(fig) -> str:
    return " ".join(t.get_text() for ax in fig.axes for t in ax.texts + [ax.title])


def test_resnet_as_euler_steps_draws_blocks_and_euler_steps():
    fig = diagrams.resnet_as_euler_steps(blocks=3)
    assert len(fig.axes) == 2
    assert all(f"$h_{k}$" in texts(fig) for k in range(4))
    euler = fig.axes[1].lines[1]
    assert len(euler.get_xdata()) == 4  # h_0 and three steps of size 1
    assert list(euler.get_xdata()) == [0.0, 1.0, 2.0, 3.0]


def test_residual_vs_ode_block_names_both_blocks():
    fig = diagrams.residual_vs_ode_block()
    words = texts(fig)
    assert "Residual block" in words and "ODE block" in words and "NFE" in words
