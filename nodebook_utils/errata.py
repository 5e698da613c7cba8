"""The errata (00_start_here): every mistake of the sources that the course corrects, each with
the lesson section that shows the correction with code. 00_start_here and the website show the
same list (:func:`errata_markdown`); a test keeps them in step and checks every section exists.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from .course import NOTEBOOKS


@dataclass(frozen=True)
class Erratum:
    """One statement of a source, what is right instead, and where a lesson shows it."""

    source: str
    wrong: str
    right: str
    notebook: str
    section: str  # the heading, exactly as in the notebook (without the #s)

    @property
    def anchor(self) -> str:
        """The heading's anchor as JupyterLab and nbconvert make it: spaces become hyphens."""
        return self.section.replace(" ", "-")


REVIEW, REPORT = "Review of Literature", "Math 179 report"
ERRATA: tuple[Erratum, ...] = (
    Erratum("the sources", "PyTorch's `Conv*d` layers compute the convolution "
            "Σ f[m] g[n−m]", "they compute a cross-correlation: the kernel is not flipped",
            "01_discrete_convolution.ipynb",
            "3. What PyTorch calls convolution is a cross-correlation"),
    Erratum("the sources", "the universal approximation theorem was \"proven in 1998\"",
            "Hornik, Stinchcombe & White published it in 1989 (Cybenko too, for sigmoids)",
            "03_residual_networks.ipynb",
            "1. Universal approximation: one hidden layer is enough, in principle"),
    Erratum(REVIEW, "the spiral's dynamics are dy/dt = A y",
            "its code evaluates y·A for a row vector y, that is Aᵀ y: another system",
            "07_spiral_dynamics.ipynb", "1. The true system: written one way, coded the other"),
    Erratum(REVIEW, "the spiral is trained for \"150 epochs\" on a summed squared error",
            "the code runs 151 iterations of one random mini-batch each, with a mean loss",
            "07_spiral_dynamics.ipynb", "3. One training iteration, step by step"),
    Erratum(REVIEW, "the errors rank Dopri5 < RK4 < Euler",
            "over several seeds the ranking is not supported: the lesson tests it",
            "07_spiral_dynamics.ipynb", "6. Which differences are real?"),
    Erratum(REVIEW, "MNIST inputs are 3 × 28 × 28 and the classifier maps to ℝ²",
            "MNIST images are 1 × 28 × 28 and there are ten classes (ℝ¹⁰)",
            "08_mnist_odenet.ipynb", "1. The data: 1 × 28 × 28 images, ten classes"),
    Erratum(REVIEW, "the ODE-Net's solver is implicit, which keeps memory constant",
            "its code uses fixed-step Euler, an explicit method; constant memory comes from "
            "the adjoint method", "08_mnist_odenet.ipynb",
            "Constant memory comes from the adjoint, not from implicitness"),
    Erratum(REPORT, "the heartbeats are sampled at 360 Hz: 187 samples span 0.52 s",
            "Kaggle's beats were resampled to 125 Hz: 187 samples span about 1.5 s; 360 Hz "
            "is the raw MIT-BIH rate", "09_ecg_resnet_vs_node.ipynb",
            "The time axis: 125 Hz, not 360 Hz"),
    Erratum(REPORT, "its test accuracies (0.980 and 0.979) come from Kaggle's random split "
            "of the beats", "that split puts every patient on both sides, which flatters "
            "accuracy: the inter-patient protocol tests on new patients (the code's use of "
            "the test set for validation biased nothing: it chose nothing with it)",
            "09_ecg_resnet_vs_node.ipynb",
            "2. Two protocols, and a validation set that is not the test set"),
    Erratum("the ECG code", "its Neural ODE trained for \"over seven hours\"",
            "its own log's five epochs add up to about 6.4 hours", "09_ecg_resnet_vs_node.ipynb",
            "How long the original Neural ODE trained"),
    Erratum(REPORT, "the Neural ODE needs less than one third of the ResNet's memory",
            "true of its parameters (59,333 / 182,853 = 0.32), which the figure counts; in a "
            "training step, measured at the allocator, it stores fewer tensors than the "
            "ResNet but more than a third as many, and its peak tensor memory is higher",
            "09_ecg_resnet_vs_node.ipynb", "Memory: what each meter counts"),
)


def errata_markdown(prefix: str = "") -> str:
    """The errata as a Markdown table; links are ``prefix + notebook#anchor`` (``""`` from
    inside notebooks/, ``"lessons/"`` on the website)."""
    lines = ["| source | said | what is right | shown in |", "|---|---|---|---|"]
    for e in ERRATA:
        lesson = e.notebook[:2]
        lines.append(f"| {e.source} | {e.wrong} | {e.right} | "
                     f"[{lesson} · {e.section}]({prefix}{e.notebook}#{e.anchor}) |")
    return "\n".join(lines)


def missing_sections() -> list[Erratum]:
    """The errata whose notebook has no heading with the given text (a test keeps this
    empty)."""
    missing = []
    for e in ERRATA:
        path = NOTEBOOKS / e.notebook
        headings = set()
        if path.exists():
            for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
                if cell["cell_type"] == "markdown":
                    for line in "".join(cell["source"]).splitlines():
                        if line.startswith("#"):
                            headings.add(line.lstrip("#").strip())
        if e.section not in headings:
            missing.append(e)
    return missing
