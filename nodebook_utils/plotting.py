"""One plotting style for every figure in the course (introduced in 00_start_here).

Colours are the Okabe–Ito palette, which stays distinguishable with the common forms of colour
blindness; each colour comes with its own line style and marker, so lines differ in print and
in greyscale too.
"""

from __future__ import annotations

import io
from pathlib import Path

import matplotlib as mpl
import matplotlib.pyplot as plt
from cycler import cycler

from .config import get_settings

#: Okabe & Ito (2008), "Color Universal Design": colour-blind-safe qualitative palette.
PALETTE = {
    "blue": "#0072B2",
    "orange": "#E69F00",
    "green": "#009E73",
    "vermillion": "#D55E00",
    "sky": "#56B4E9",
    "purple": "#CC79A7",
    "yellow": "#F0E442",
    "black": "#000000",
}
COLORS = [PALETTE[k] for k in ("blue", "orange", "green", "vermillion", "sky", "purple", "black")]
LINESTYLES = ["-", "--", "-.", ":", (0, (5, 1)), (0, (3, 1, 1, 1, 1, 1)), (0, (1, 3))]
MARKERS = ["o", "s", "^", "D", "v", "P", "X"]

STYLE = {
    "axes.prop_cycle": cycler(color=COLORS) + cycler(linestyle=LINESTYLES),
    "image.cmap": "viridis",
    "figure.figsize": (6.0, 3.6),
    "figure.dpi": 80,
    "savefig.dpi": 120,
    "savefig.bbox": "tight",
    "axes.grid": True,
    "grid.alpha": 0.3,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "legend.frameon": False,
    "font.size": 10,
    "lines.linewidth": 1.8,
}

#: Where figures go; None: :func:`figures_dir` decides (tests point it elsewhere).
FIGURES: Path | None = None


def figures_dir() -> Path:
    """The folder figures are written to (00_start_here): ``figures/`` of the course's
    checkout when the package runs from one (the notebooks' figures and the reproduction
    report live there), otherwise ``figures/`` in the current working directory, never inside
    an installed package."""
    if FIGURES is not None:
        return FIGURES
    checkout = Path(__file__).resolve().parents[1]
    if (checkout / "pyproject.toml").is_file() and (checkout / "notebooks").is_dir():
        return checkout / "figures"
    return Path.cwd() / "figures"


def use_style() -> None:
    """Apply the course style to matplotlib (00_start_here)."""
    mpl.rcParams.update(STYLE)


def savefig(fig: plt.Figure, name: str, *, force: bool = False) -> Path | None:
    """Write ``fig`` to ``figures/<name>.png`` and return the path (00_start_here).

    Figures are kept from standard and full runs only: fast mode (CI's smoke run on tiny data)
    would otherwise overwrite them with meaningless pictures, so it writes nothing unless
    ``force`` is set.
    """
    if get_settings().fast and not force:
        return None
    path = figures_dir() / f"{name}.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _look(line: mpl.lines.Line2D) -> tuple:
    """What tells a line apart without its colour: its dash pattern (custom dashes all report
    the line style "--", so the pattern itself is compared) and its marker."""
    dashes = getattr(line, "_unscaled_dash_pattern", None)  # matplotlib >= 3.6
    return line.get_linestyle(), str(dashes), line.get_marker()


def colour_only_lines(fig: plt.Figure) -> list[str]:
    """Pairs of labelled lines in one axes that differ by colour alone: the same line style,
    marker and (within a factor 2) width (00_start_here). A reader who cannot tell the colours
    apart cannot tell those lines apart either. Empty when every labelled line has a look of
    its own; :func:`show` refuses a figure where it is not."""
    pairs = []
    for ax in fig.axes:
        lines = [line for line in ax.get_lines()
                 if line.get_visible() and not line.get_label().startswith("_")]
        for i, a in enumerate(lines):
            for b in lines[i + 1:]:
                widths = sorted((a.get_linewidth(), b.get_linewidth()))
                same_look = _look(a) == _look(b) and widths[1] < 2 * widths[0]
                if same_look and mpl.colors.to_rgba(a.get_color()) != mpl.colors.to_rgba(
                        b.get_color()):
                    pairs.append(f"{a.get_label()!r} and {b.get_label()!r}")
    return pairs


def show(fig: plt.Figure, name: str, alt: str) -> None:
    """Save ``fig`` as :func:`savefig` does, then display it in the notebook with its alt
    text, and close it (07_spiral_dynamics).

    The alt text describes what the figure shows for a reader who cannot see it; it is
    stored in the output's metadata, where nbconvert's HTML export and screen readers find
    it (``plt.show()`` gives an image without one). Returns nothing, so that a cell ending
    with it shows the figure and no path of this machine.
    """
    from IPython.display import Image, display

    if not alt or not alt.strip():
        raise ValueError("describe the figure in alt: what does it show?")
    if pairs := colour_only_lines(fig):
        raise ValueError(f"lines differ by colour alone: {'; '.join(pairs)}; give each a line "
                         "style or marker of its own")
    savefig(fig, name)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=mpl.rcParams["figure.dpi"])
    plt.close(fig)
    display(Image(data=buffer.getvalue(), format="png"), metadata={"image/png": {"alt": alt}})
