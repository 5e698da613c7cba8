"""Residual blocks and plain/residual networks of a given depth (03_residual_networks).

The lesson 03_residual_networks builds these step by step; 02_convolutional_networks uses
:func:`deep_mlp` for its vanishing-gradient experiment, and the later lessons (ResNets as Euler
steps, Neural ODEs) compare against them. No normalisation layers are used, so that what the
lessons measure comes from the architecture alone.
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import nn
from torch.nn import functional as F


class ResidualBlock(nn.Module):
    """He et al. (2016)'s basic block without batch normalisation (03_residual_networks):

    ``y = relu(F(x) + shortcut(x))`` with ``F = conv3x3(stride) -> ReLU -> conv3x3``.

    The shortcut is the identity when the shape does not change (equation 1 of the paper:
    no parameters) and otherwise a projection ``W_s``, a 1x1 convolution without bias with the
    block's stride (equation 2: ``in_channels * out_channels`` parameters).
    """

    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.residual = nn.Sequential(
            nn.Conv2d(in_channels, out_channels, 3, stride=stride, padding=1),
            nn.ReLU(),
            nn.Conv2d(out_channels, out_channels, 3, padding=1),
        )
        if stride == 1 and in_channels == out_channels:
            self.shortcut: nn.Module = nn.Identity()
        else:
            self.shortcut = nn.Conv2d(in_channels, out_channels, 1, stride=stride, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.relu(self.residual(x) + self.shortcut(x))


def residual_block_parameters(in_channels: int, out_channels: int, stride: int = 1) -> int:
    """Parameters of :class:`ResidualBlock` by formula (03_residual_networks): two 3x3
    convolutions with biases, ``b(9a + 1) + b(9b + 1)``, plus ``a b`` for a projection
    shortcut (needed when ``a != b`` or ``stride != 1``)."""
    a, b = in_channels, out_channels
    branch = b * (9 * a + 1) + b * (9 * b + 1)
    projection = a * b if (stride != 1 or a != b) else 0
    return branch + projection


class MLPBlock(nn.Module):
    """Two linear layers of one width, ``relu(W2 relu(W1 x) + x)`` with ``residual=True``
    or ``relu(W2 relu(W1 x))`` without the skip connection (03_residual_networks)."""

    def __init__(self, width: int, residual: bool = True) -> None:
        super().__init__()
        self.residual = residual
        self.branch = nn.Sequential(nn.Linear(width, width), nn.ReLU(), nn.Linear(width, width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = self.branch(x)
        return F.relu(out + x if self.residual else out)


def deep_mlp(
    depth: int,
    width: int = 64,
    *,
    residual: bool = False,
    in_features: int = 784,
    classes: int = 10,
    activation: type[nn.Module] = nn.ReLU,
) -> nn.Sequential:
    """An MLP with ``depth`` linear layers for flattened images (02 and 03).

    Layout: ``Flatten -> Linear(in_features, width) -> act -> [hidden] -> Linear(width,
    classes)``. Plain (``residual=False``): ``depth - 2`` hidden ``Linear(width, width) -> act``
    layers. Residual: the same ``depth - 2`` hidden layers grouped in pairs into
    :class:`MLPBlock` s (so ``depth`` must be even, and ``activation`` must be ReLU), giving
    exactly as many parameters as the plain network of the same depth.
    """
    if depth < 2:
        raise ValueError(f"depth={depth}: need at least the input and the output layer")
    layers: list[nn.Module] = [nn.Flatten(), nn.Linear(in_features, width), activation()]
    if residual:
        if depth % 2:
            raise ValueError(f"depth={depth}: a residual MLP needs an even depth (2 per block)")
        if activation is not nn.ReLU:
            raise ValueError("the residual MLP uses ReLU blocks (He et al., 2016)")
        layers += [MLPBlock(width, residual=True) for _ in range((depth - 2) // 2)]
    else:
        for _ in range(depth - 2):
            layers += [nn.Linear(width, width), activation()]
    layers.append(nn.Linear(width, classes))
    return nn.Sequential(*layers)


def linear_layers(model: nn.Module) -> list[nn.Linear]:
    """The ``nn.Linear`` layers of ``model`` in forward order (02 and 03: per-layer gradient
    norms)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear)]


def layer_gradient_norms(
    model: nn.Module,
    x: torch.Tensor,
    y: torch.Tensor,
    loss_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = F.cross_entropy,
) -> tuple[torch.Tensor, torch.Tensor]:
    """One forward and backward pass of ``loss_fn(model(x), y)``; for each ``nn.Linear`` layer
    ``l`` in forward order, the norms of the error signal ``dL/dz_l`` (``z_l`` the layer's
    output) and of the weight gradient ``dL/dW_l`` (02_convolutional_networks, 03).

    The model's ``.grad`` fields are overwritten; nothing else is changed.
    """
    layers = linear_layers(model)
    outputs: list[torch.Tensor] = []

    def keep(module: nn.Module, inputs: tuple[torch.Tensor, ...], output: torch.Tensor) -> None:
        output.retain_grad()
        outputs.append(output)

    hooks = [layer.register_forward_hook(keep) for layer in layers]
    try:
        model.zero_grad(set_to_none=True)
        loss_fn(model(x), y).backward()
    finally:
        for hook in hooks:
            hook.remove()
    signal = torch.stack([z.grad.norm() for z in outputs]).detach()
    weight = torch.stack([layer.weight.grad.norm() for layer in layers]).detach()
    return signal, weight
