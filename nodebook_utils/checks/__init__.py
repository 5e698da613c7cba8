"""Exercise checkers: each prints one clear line, PASS or FAIL with a hint, and returns a
:class:`Verdict` that is true when the answer passed (introduced in 00_start_here).

:mod:`.core` holds what every checker shares; each lesson's checkers live in a module named
after the lesson (``checks.resnets_as_euler`` for 04_resnets_as_euler, and so on). All of them
are available here: ``from nodebook_utils import checks; checks.check_rk_step(...)``.
"""

from . import (
    adjoint_method,  # 06
    convolutional_networks,  # 02
    discrete_convolution,  # 01
    ecg_resnet_vs_node,  # 09
    fast_neural_odes,  # 10
    mnist_odenet,  # 08
    neural_odes,  # 05
    residual_networks,  # 03
    resnets_as_euler,  # 04
    spiral_dynamics,  # 07
    start_here,  # 00
    when_neural_odes_go_wrong,  # 11
)
from .adjoint_method import *  # noqa: F403
from .convolutional_networks import *  # noqa: F403
from .core import Verdict, check_function, check_value, expect, report
from .discrete_convolution import *  # noqa: F403
from .ecg_resnet_vs_node import *  # noqa: F403
from .fast_neural_odes import *  # noqa: F403
from .mnist_odenet import *  # noqa: F403
from .neural_odes import *  # noqa: F403
from .residual_networks import *  # noqa: F403
from .resnets_as_euler import *  # noqa: F403
from .spiral_dynamics import *  # noqa: F403
from .start_here import *  # noqa: F403
from .when_neural_odes_go_wrong import *  # noqa: F403

LESSON_MODULES = (
    start_here,
    discrete_convolution,
    convolutional_networks,
    residual_networks,
    resnets_as_euler,
    neural_odes,
    adjoint_method,
    spiral_dynamics,
    mnist_odenet,
    ecg_resnet_vs_node,
    fast_neural_odes,
    when_neural_odes_go_wrong,
)
__all__ = [
    "Verdict",
    "check_function",
    "check_value",
    "expect",
    "report",
    *(name for module in LESSON_MODULES for name in module.__all__),
]
