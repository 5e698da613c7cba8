"""The course's experiments, one module each with ``run(**config) -> dict`` (lessons 07 to 09).

- :mod:`.spiral`: learning a linear spiral with Euler, RK4 and Dopri5 (07_spiral_dynamics);
- :mod:`.mnist`: ODE-Net against ResNet on MNIST (08_mnist_odenet);
- :mod:`.ecg`: ResNet against Neural ODE on MIT-BIH heartbeats (09_ecg_resnet_vs_node).

The notebook, the command line (``python -m nodebook_utils.experiments.<name> --mode
fast|standard|full --out DIR``) and the tests call the same ``run``; the mode only picks the
configuration. Results hold the configuration, seeds, versions, hardware, timings, NFE and
metrics, as plain JSON (:mod:`.common`).
"""
