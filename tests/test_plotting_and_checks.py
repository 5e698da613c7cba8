"""The plotting style and the exercise checkers."""

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pytest
import torch

from nodebook_utils import checks, plotting


def test_style_cycles_colours_and_line_styles_together():
    plotting.use_style()
    cycle = list(matplotlib.rcParams["axes.prop_cycle"])
    colours = [c["color"] for c in cycle]
    styles = [str(c["linestyle"]) for c in cycle]
    assert len(set(colours)) == len(colours) == len(set(styles)) >= 6
    assert set(colours) <= set(plotting.PALETTE.values())


def lines_figure(*looks):
    fig, ax = plt.subplots()
    for i, look in enumerate(looks):
        ax.plot([0, 1], [i, i + 1], color=plotting.COLORS[i], label=f"line {i}", **look)
    ax.plot([0, 1], [5, 5], color=plotting.COLORS[-1], label="_hidden helper")  # not labelled
    return fig


@pytest.mark.parametrize(("looks", "flagged"), [
    (({"linestyle": "-"}, {"linestyle": "-"}), ["'line 0' and 'line 1'"]),
    (({"linestyle": "-"}, {"linestyle": "--"}), []),
    (({"linestyle": plotting.LINESTYLES[4]}, {"linestyle": plotting.LINESTYLES[5]}), []),
    (({"linestyle": plotting.LINESTYLES[4]}, {"linestyle": plotting.LINESTYLES[4]}),
     ["'line 0' and 'line 1'"]),
    (({"linestyle": "none", "marker": "o"}, {"linestyle": "none", "marker": "s"}), []),
    (({"linestyle": "-", "lw": 1.0}, {"linestyle": "-", "lw": 2.5}), []),
    (({"linestyle": "-", "lw": 1.5}, {"linestyle": "-", "lw": 2.0}), ["'line 0' and 'line 1'"]),
])
def test_lines_that_differ_by_colour_alone_are_found(looks, flagged):
    fig = lines_figure(*looks)
    assert plotting.colour_only_lines(fig) == flagged
    plt.close(fig)


def test_show_refuses_a_figure_whose_lines_differ_by_colour_alone(monkeypatch, tmp_path):
    monkeypatch.setattr(plotting, "FIGURES", tmp_path)
    fig = lines_figure({"linestyle": "-"}, {"linestyle": "-"})
    with pytest.raises(ValueError, match="colour alone: 'line 0' and 'line 1'"):
        plotting.show(fig, "same_look", alt="two rising lines told apart by colour only")
    plt.close(fig)


def test_savefig_writes_outside_fast_mode_only(tmp_path, monkeypatch):
    monkeypatch.setattr(plotting, "FIGURES", tmp_path)
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    monkeypatch.setenv("NODEBOOK_MODE", "fast")
    assert plotting.savefig(fig, "line") is None
    assert not (tmp_path / "line.png").exists()
    monkeypatch.setenv("NODEBOOK_MODE", "standard")
    path = plotting.savefig(fig, "line")
    assert path == tmp_path / "line.png" and path.stat().st_size > 1000
    plt.close(fig)


def test_report_prints_pass_or_fail_with_hint(capsys):
    passed, failed = checks.report("ex 1", True), checks.report("ex 2", False, "look at the stride")
    assert bool(passed) is True and bool(failed) is False
    assert failed.hint == "look at the stride" and passed.name == "ex 1"
    assert capsys.readouterr().out.splitlines() == ["PASS ex 1", "FAIL ex 2: look at the stride"]


def test_check_value(capsys):
    assert checks.check_value("size", 13, 13)
    assert not checks.check_value("size", 12, 13, hint="use floor((n + 2p - k) / s) + 1")
    assert not checks.check_value("size", None, 13)
    assert checks.check_value("vec", [1.0, 2.0], torch.tensor([1.0, 2.0 + 1e-9]), atol=1e-6)
    assert not checks.check_value("vec", [1.0], [1.0, 2.0])
    out = capsys.readouterr().out
    assert "floor((n + 2p - k) / s) + 1" in out and "no answer yet" in out


def test_check_function_reports_first_difference(capsys):
    cases = [(torch.arange(3.0),), (torch.ones(2, 2),)]
    assert checks.check_function("double", lambda x: 2 * x, lambda x: x + x, cases)
    wrong = lambda x: 2 * x + (x.dim() == 2)  # noqa: E731
    assert not checks.check_function("double", wrong, lambda x: 2 * x, cases)
    assert not checks.check_function("shape", lambda x: x.flatten(), lambda x: x, cases)

    def todo(x):
        raise NotImplementedError

    assert not checks.check_function("todo", todo, lambda x: x, cases)
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "PASS double"
    assert out[1].startswith("FAIL double: case 1: values differ")
    assert "case 1: shape (4,), expected (2, 2)" in out[2]
    assert out[3] == "FAIL todo: not implemented yet: replace the raise with your code"


def test_show_displays_the_figure_with_its_alt_text(monkeypatch):
    import IPython.display

    shown = []
    monkeypatch.setattr(IPython.display, "display", lambda obj, metadata=None: shown.append(
        (obj, metadata)))
    monkeypatch.setenv("NODEBOOK_MODE", "fast")  # fast mode writes no file
    fig, ax = plt.subplots()
    ax.plot([0, 1], [1, 0])
    assert plotting.show(fig, "test_show", alt="A line falling from 1 to 0.") is None
    (image, metadata), = shown
    assert image.data[:8] == b"\x89PNG\r\n\x1a\n"
    assert metadata == {"image/png": {"alt": "A line falling from 1 to 0."}}
    assert not plt.fignum_exists(fig.number)  # closed, so the inline backend shows it once
    with pytest.raises(ValueError, match="alt"):
        plotting.show(plt.figure(), "test_show", alt=" ")


def test_labels_given_to_the_legend_are_checked_too():
    """ax.legend([...]) labels lines that have no label of their own (lesson 01 once did)."""
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color=plotting.COLORS[0], linestyle="-")
    ax.plot([0, 1], [1, 2], color=plotting.COLORS[1], linestyle="-")
    ax.legend(["signal", "kernel"])
    assert plotting.colour_only_lines(fig) == ["'signal' and 'kernel'"]
    plt.close(fig)


@pytest.mark.parametrize(("draw", "flagged"), [
    (lambda ax, i: ax.scatter([0, 1], [i, i], color=plotting.COLORS[i], label=f"s{i}"),
     ["'s0' and 's1'"]),
    (lambda ax, i: ax.scatter([0, 1], [i, i], color=plotting.COLORS[i], label=f"s{i}",
                              marker="os"[i]), []),
    (lambda ax, i: ax.fill_between([0, 1], [i, i], [i + 1, i + 1], color=plotting.COLORS[i],
                                   label=f"f{i}"), ["'f0' and 'f1'"]),
    (lambda ax, i: ax.fill_between([0, 1], [i, i], [i + 1, i + 1], color=plotting.COLORS[i],
                                   label=f"f{i}", hatch=["", "//"][i]), []),
])
def test_scatter_and_filled_areas_that_differ_by_colour_alone_are_found(draw, flagged):
    fig, ax = plt.subplots()
    for i in range(2):
        draw(ax, i)
    ax.legend()
    assert plotting.colour_only_lines(fig) == flagged
    plt.close(fig)


def test_a_line_and_an_area_of_different_colours_are_told_apart():
    fig, ax = plt.subplots()
    ax.plot([0, 1], [0, 1], color=plotting.COLORS[0], label="mean")
    ax.fill_between([0, 1], [0, 0], [1, 1], color=plotting.COLORS[1], label="range")
    ax.legend()
    assert plotting.colour_only_lines(fig) == []
    plt.close(fig)


def test_hollow_and_filled_arrows_are_told_apart_and_alike_ones_are_not():
    def arrows(hollow_first: bool):
        fig, ax = plt.subplots()
        first = dict(facecolor="none", edgecolor="0.45", linewidth=0.8) if hollow_first else {}
        ax.quiver([0, 1], [0, 1], [1, 1], [1, 1], color="0.45", label="true", **first)
        ax.quiver([0, 1], [0, 1], [1, 0], [0, 1], color=plotting.COLORS[1], label="learned")
        ax.legend()
        return fig
    fig = arrows(hollow_first=True)
    assert plotting.colour_only_lines(fig) == []
    plt.close(fig)
    fig = arrows(hollow_first=False)
    assert plotting.colour_only_lines(fig) == ["'true' and 'learned'"]
    plt.close(fig)
