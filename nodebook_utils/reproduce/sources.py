"""The sources' numbers, in one place (07_spiral_dynamics to 09_ecg_resnet_vs_node): what the
two write-ups and Chen et al. (2018) state, typed from them. The experiments' lessons show
these beside their measurements, and :mod:`nodebook_utils.reproduce.claims` judges them.
"""

from __future__ import annotations

REVIEW = "Review of Literature"
MATH179 = "Math 179 report"
CHEN = "Chen et al. 2018"
LECUN = "LeCun et al. 1998 (cited in Chen et al. 2018, Table 1)"

#: The Math 179 report: ECG heartbeats, ResNet against Neural ODE (5 epochs each).
ECG = {
    "parameters": {"resnet": 182_853, "odenet": 59_333},
    "parameters_per_block": {"resnet": 24_832, "odenet": 25_472},
    "residual_blocks": 6,
    "train_accuracy": {"resnet": 0.985, "odenet": 0.982},
    "test_accuracy": {"resnet": 0.980, "odenet": 0.979},
    "minutes_per_epoch": {"resnet": [1.6, 1.8], "odenet": [11.7, 16.6]},
    "eval_seconds": {"resnet": 9.0, "odenet": 70.0},
    "memory_fraction": 1 / 3,  # "less than one third of the memory cost"
    "parameter_fraction": 1 / 2,  # "less than half the parameters"
    "class_shares": [0.83, 0.03, 0.07, 0.01, 0.07],
    "beats": 110_000,  # "about 110,000"
    "beat_samples": 187,
    "sampling_rate_hz": 360,
    "beat_seconds": 0.52,
    "epochs": 5,
}

#: The Review of Literature's MNIST ODE-Net (Euler h = 0.05, Adam, batch 32, 5 epochs).
MNIST = {
    "initial_accuracy": 0.1028,
    "test_accuracy": 0.9923,
    "minutes_per_epoch": 11.5,
    "hours_total": 1.0,  # "approximately 1 hour"
    "batches_per_epoch": 1875,
    "losses": [0.16338, 0.03573],
    "epochs": 5,
}

#: The Review of Literature's spiral: per solver, training seconds and final MSE.
SPIRAL = {
    "euler": {"seconds": 13.43, "mse": 0.0183},
    "rk4": {"seconds": 12.95, "mse": 0.0173},
    "dopri5": {"seconds": 39.06, "mse": 0.0167},
    "ranking": "dopri5 < rk4 < euler",
    "dopri5_over_rk4": 2.0,  # "more than twice as long"
}

#: The Review of Literature on solvers: the order of the global error in the step size h.
ORDERS = {"euler": 1, "rk4": 4}

#: Chen et al. (2018), Table 1 (MNIST): test error and parameters, memory and time in L
#: (the ResNet's layers) or L~ (the number of function evaluations); the MLP row is LeCun
#: et al.'s (1998), cited there.
CHEN_TABLE1 = {
    "1-layer MLP": {"test_error": 0.0160, "parameters": 0.24e6, "memory": None, "time": None},
    "ResNet": {"test_error": 0.0041, "parameters": 0.60e6, "memory": "O(L)", "time": "O(L)"},
    "RK-Net": {"test_error": 0.0047, "parameters": 0.22e6, "memory": "O(L~)",
               "time": "O(L~)"},
    "ODE-Net": {"test_error": 0.0042, "parameters": 0.22e6, "memory": "O(1)",
                "time": "O(L~)"},
}

#: Chen et al. (2018), Figure 3: what each panel shows.
CHEN_FIGURE3 = {
    "a": "the numerical error is controlled by the tolerance",
    "b": "the time of a forward pass is proportional to the NFE",
    "c": "the backward pass needs about half the NFE of the forward pass",
    "d": "the NFE grows during training",
}
