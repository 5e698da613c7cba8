"""The course roadmap: every lesson, its notebook and its measured run time (00_start_here).

Run times are wall-clock seconds of a standard-mode run (``make notebooks``) measured on a
development machine with 2 CPU cores, with the processor they were measured on (the same
lesson has taken 2.5 to 5 times longer on the AMD EPYC machines than on the Intel Xeon ones),
and of a run on one GPU where one was measured; ``None`` means not measured yet.
00_start_here shows the roadmap; README.md and the website show the syllabus with the same
run times.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parents[1] / "notebooks"


@dataclass(frozen=True)
class Lesson:
    """One notebook of the course."""

    number: int
    notebook: str
    title: str
    cpu_seconds: float | None = None
    cpu: str = "Intel Xeon"  # the processor cpu_seconds was measured on (2 cores)
    gpu_seconds: float | None = None

    @property
    def available(self) -> bool:
        """Whether the notebook exists in this checkout."""
        return (NOTEBOOKS / self.notebook).exists()


LESSONS: tuple[Lesson, ...] = (
    Lesson(0, "00_start_here.ipynb", "Start here: how the course works", 7),
    Lesson(1, "01_discrete_convolution.ipynb", "Discrete convolution", 10),
    Lesson(2, "02_convolutional_networks.ipynb", "CNNs on MNIST", 45, "AMD EPYC"),
    Lesson(3, "03_residual_networks.ipynb", "Residual networks", 44),
    Lesson(4, "04_resnets_as_euler.ipynb", "ResNets as Euler steps: ODE solvers from scratch", 15),
    Lesson(5, "05_neural_odes.ipynb", "Neural ODE blocks with torchdiffeq", 61),
    Lesson(6, "06_adjoint_method.ipynb", "The adjoint method", 21),
    Lesson(7, "07_spiral_dynamics.ipynb", "Experiment: a spiral dynamical system", 365,
           "AMD EPYC"),
    Lesson(8, "08_mnist_odenet.ipynb", "Experiment: MNIST ODE-Net vs ResNet", 2426, "AMD EPYC"),
    Lesson(9, "09_ecg_resnet_vs_node.ipynb", "Experiment: ECG heartbeats, ResNet vs Neural ODE",
           2353, "AMD EPYC"),
    Lesson(10, "10_fast_neural_odes.ipynb", "Making Neural ODEs fast", 448, "AMD EPYC"),
    Lesson(11, "11_when_neural_odes_go_wrong.ipynb", "When Neural ODEs go wrong", 191,
           "AMD EPYC"),
)

#: What each lesson teaches, in a line (the syllabus of README.md and the website).
LEARN: dict[int, str] = {
    0: "how the lessons, modes, data, checkers and the sources' errata work",
    1: "convolution from the integral to `conv2d`; cross-correlation; stride, padding, "
       "receptive fields",
    2: "CNN layers and their parameters; an MNIST classifier; vanishing and exploding gradients",
    3: "residual blocks, the degradation of deep plain networks, universal approximation",
    4: "a ResNet as Euler's method; Euler, RK4 and Dopri5 from scratch; order and step size",
    5: "ODE blocks with torchdiffeq; NFE; learned flows; irregularly sampled time series",
    6: "the adjoint method, derived and checked against backpropagation; memory and accuracy",
    7: "the sources' spiral re-run over seeds: which solver learns the dynamics",
    8: "an ODE-Net against a ResNet on MNIST, paired tests over seeds, BatchNorm in the dynamics",
    9: "ECG heartbeats from MIT-BIH: accuracy over seeds, time ratios, memory, new patients",
    10: "why NFE sets the cost, what each speed-up buys, and whether a fast model is still an ODE",
    11: "the problems users report (growing NFE, underflow in dt, stiffness, adjoint cost and "
        "memory, overhead), reproduced, diagnosed with `diagnose` and fixed",
}


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "not measured"
    return f"{seconds:.0f} s" if seconds < 90 else f"{seconds / 60:.0f} min"


def _cpu_time(lesson: Lesson) -> str:
    if lesson.cpu_seconds is None:
        return "not measured"
    return f"{_duration(lesson.cpu_seconds)} ({lesson.cpu})"


def run_time_text(number: int) -> str:
    """How a lesson's first cell states its measured standard-mode run time, e.g.
    ``"about 3 min on 2 CPU cores (Intel Xeon, standard mode)"``; a test keeps the two in
    step."""
    lesson = LESSONS[number]
    if lesson.cpu_seconds is None:
        return "not measured yet on 2 CPU cores (standard mode)"
    return f"about {_duration(lesson.cpu_seconds)} on 2 CPU cores ({lesson.cpu}, standard mode)"


def roadmap_markdown() -> str:
    """The roadmap as a Markdown table (00_start_here shows it)."""
    rows = [
        "| # | notebook | lesson | 2 CPU cores (standard) | GPU (standard) |",
        "|---|---|---|---|---|",
    ]
    for lesson in LESSONS:
        name = f"`{lesson.notebook}`" if lesson.available else f"{lesson.notebook} (coming)"
        rows.append(
            f"| {lesson.number:02d} | {name} | {lesson.title} | "
            f"{_cpu_time(lesson) if lesson.available else '—'} | "
            f"{_duration(lesson.gpu_seconds) if lesson.available else '—'} |"
        )
    return "\n".join(rows)


def syllabus_markdown(prefix: str = "notebooks/", *, launch: bool = True,
                      repo: str | None = None, ref: str | None = None) -> str:
    """The syllabus as a Markdown table: each lesson linked (``prefix + notebook``), what it
    teaches, its standard-mode run time on 2 CPU cores and, with ``launch``, links that open
    it on Colab and Binder at ``repo`` and ``ref`` (default: where the course is published;
    README.md and the website's home page show it)."""
    from . import publish

    repo, ref = repo or publish.REPO, ref or publish.REF
    head = "| lesson | what you learn | run time, 2 CPU cores |"
    rows = [head + (" launch |" if launch else ""), "|---|---|---|" + ("---|" if launch else "")]
    for lesson in LESSONS:
        link = f"[{lesson.number:02d} · {lesson.title}]({prefix}{lesson.notebook})"
        row = f"| {link} | {LEARN[lesson.number]} | {_cpu_time(lesson)} |"
        if launch:
            row += (f" [Colab]({publish.colab_url(lesson.notebook, repo, ref)}) · "
                    f"[Binder]({publish.binder_url(lesson.notebook, repo, ref)}) |")
        rows.append(row)
    return "\n".join(rows)
