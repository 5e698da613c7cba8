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
import numpy as np
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


def _look(artist: mpl.artist.Artist) -> tuple:
    """What tells an artist apart without its colour. A line: its dash pattern (custom dashes
    all report the line style "--", so the pattern itself is compared), its marker and its
    width (within a factor 2, compared by :func:`colour_only_lines`). A scatter: its marker
    shape. A filled area, patch or arrow (``fill_between``, ``bar``, ``quiver``, a legend's
    patch): its hatch, its edge style and whether it is filled or hollow. Different kinds of
    artist always look different."""
    if isinstance(artist, mpl.lines.Line2D):
        dashes = getattr(artist, "_unscaled_dash_pattern", None)  # matplotlib >= 3.6
        return "line", artist.get_linestyle(), str(dashes), artist.get_marker()
    if isinstance(artist, mpl.collections.PathCollection):  # scatter
        shapes = tuple(tuple(map(tuple, p.vertices.round(3))) for p in artist.get_paths()[:1])
        return "scatter", shapes, artist.get_hatch()
    if isinstance(artist, (mpl.collections.Collection, mpl.patches.Patch)):
        faces = mpl.colors.to_rgba_array(artist.get_facecolor())
        filled = bool(len(faces)) and float(faces[:, 3].max()) > 0  # hollow arrows or bars
        return "area", artist.get_hatch(), str(artist.get_linestyle()), filled
    return "other", id(artist)


def _colour(artist: mpl.artist.Artist) -> tuple:
    if isinstance(artist, mpl.lines.Line2D):
        return mpl.colors.to_rgba(artist.get_color())
    colours = mpl.colors.to_rgba_array(artist.get_facecolor())
    return tuple(np.round(colours[0], 3)) if len(colours) else ()


def _width(artist: mpl.artist.Artist) -> float:
    width = artist.get_linewidth()
    return float(np.atleast_1d(width)[0]) if np.size(width) else 1.0


def _entries(fig: plt.Figure, ax: plt.Axes) -> list[tuple[str, mpl.artist.Artist]]:
    """What a reader tells apart in one axes: its labelled visible lines, and every entry of
    its legend (and of the figure's legends, with the first axes), however the labels were
    given (``label=``, ``legend([...])``) and whatever drew them (lines, ``scatter``,
    ``fill_between``, ``bar``)."""
    entries = {line.get_label(): line for line in ax.get_lines()
               if line.get_visible() and not line.get_label().startswith("_")}
    legends = [ax.get_legend()] + (list(fig.legends) if ax is fig.axes[0] else [])
    for legend in filter(None, legends):
        handles = getattr(legend, "legend_handles", None) or legend.legendHandles
        for handle, text in zip(handles, legend.get_texts(), strict=False):
            if handle is not None and text.get_text() not in entries:
                entries[text.get_text()] = handle
    return list(entries.items())


def colour_only_lines(fig: plt.Figure) -> list[str]:
    """Pairs of labelled lines, markers or areas in one axes (or one legend) that differ by
    colour alone: the same kind, line style, marker or hatch, and (within a factor 2) width
    (00_start_here). A reader who cannot tell the colours apart cannot tell those apart
    either. Empty when every labelled artist has a look of its own; :func:`show` refuses a
    figure where it is not."""
    pairs = []
    for ax in fig.axes:
        entries = _entries(fig, ax)
        for i, (label_a, a) in enumerate(entries):
            for label_b, b in entries[i + 1:]:
                widths = sorted((_width(a), _width(b)))
                same_look = _look(a) == _look(b) and widths[1] < 2 * max(widths[0], 1e-9)
                if same_look and _colour(a) != _colour(b):
                    pairs.append(f"{label_a!r} and {label_b!r}")
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
