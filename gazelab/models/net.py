"""A backbone with an attention head: the model the alignment training works on."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import torch
from torch import nn

from gazelab.errors import ParameterError
from gazelab.models.aib import AIBHead
from gazelab.models.backbones import IMAGENET_MEAN, IMAGENET_STD, build_trunk
from gazelab.models.brnpa import BRNPAHead
from gazelab.models.heads import CAMHead, SpatialAttentionHead

__all__ = ["HEADS", "AttentionNet", "combine_attention"]


def _cam(channels: int, n_classes: int, classifier: nn.Linear | None, **kw) -> nn.Module:
    return CAMHead(channels, n_classes, classifier=classifier, **kw)


def _spatial(channels: int, n_classes: int, classifier: nn.Linear | None, **kw) -> nn.Module:
    return SpatialAttentionHead(channels, n_classes, **kw)


def _aib(channels: int, n_classes: int, classifier: nn.Linear | None, **kw) -> nn.Module:
    return AIBHead(channels, n_classes, **kw)


def _brnpa(channels: int, n_classes: int, classifier: nn.Linear | None, **kw) -> nn.Module:
    return BRNPAHead(channels, n_classes, **kw)


#: Attention heads by name: ``cam`` (class activation map of a GAP + linear classifier),
#: ``spatial`` (learned sigmoid map), ``aib`` (information-bottleneck attention), ``brnpa``
#: (non-parametric ranked parts).
HEADS: dict[str, Callable[..., nn.Module]] = {"cam": _cam, "spatial": _spatial, "aib": _aib, "brnpa": _brnpa}


def combine_attention(attention: torch.Tensor, how: str = "mean") -> torch.Tensor:
    """One map per image from a head's ``(B, K, h, w)`` attention.

    Parameters
    ----------
    attention : Tensor
        ``(B, K, h, w)`` maps, ranked (BR-NPA) or K = 1.
    how : {'mean', 'first'}, optional
        Mean over the K maps (default) or the first-ranked one.

    Returns
    -------
    Tensor
        ``(B, h, w)``.
    """
    if attention.ndim != 4:
        raise ParameterError("attention", tuple(attention.shape), "a (B, K, h, w) tensor")
    if how == "mean":
        return attention.mean(1)
    if how == "first":
        return attention[:, 0]
    raise ParameterError("how", how, "'mean' or 'first'")


class AttentionNet(nn.Module):
    """A classification network whose spatial attention is explicit: trunk + attention head.

    Parameters
    ----------
    backbone : str
        A trunk of :data:`gazelab.models.backbones.BACKBONES` (``alexnet``, ``vgg16``,
        ``resnet18``, ``resnet50``, ``efficientnet_lite0``, ...).
    attention : {'cam', 'spatial', 'aib', 'brnpa'}
        The head (see :data:`HEADS`).
    n_classes : int
        Output classes. With ``backbone='efficientnet_lite0'``, ``attention='cam'`` and
        ``n_classes=1000`` the pretrained ImageNet classifier is kept.
    weights : str or Path, optional
        State dict for a torchvision trunk (see :func:`gazelab.models.backbones.build_trunk`).
    high_res : bool, optional
        Stride-16 ResNet trunk (default: True for ``brnpa``, False otherwise).
    normalize : bool, optional
        Apply ImageNet mean/std inside the model, so inputs are images in [0, 1] (default True).
    **head_options
        Passed to the head (e.g. ``n_parts=3`` for BR-NPA, ``n_anchors=20`` for AIB).

    Notes
    -----
    ``forward(images, target=None)`` takes ``(B, 3, H, W)`` images in [0, 1] and returns a dict:
    ``logits`` ``(B, n_classes)``, ``attention`` ``(B, K, h, w)`` non-negative maps on the
    trunk's grid (h = H / stride), and ``aux_loss`` (scalar; the AIB regulariser, else 0).
    ``target`` (class indices, ``(B,)``) selects the class of a CAM head's map; other heads
    ignore it.

    Examples
    --------
    >>> import torch
    >>> net = AttentionNet("resnet18", "spatial", n_classes=4)
    >>> out = net(torch.rand(2, 3, 64, 64))
    >>> tuple(out["logits"].shape), tuple(out["attention"].shape)
    ((2, 4), (2, 1, 2, 2))
    """

    def __init__(
        self,
        backbone: str,
        attention: str,
        n_classes: int,
        *,
        weights: str | Path | None = None,
        high_res: bool | None = None,
        normalize: bool = True,
        **head_options,
    ) -> None:
        super().__init__()
        if attention not in HEADS:
            raise ParameterError("attention", attention, f"one of {sorted(HEADS)}")
        if n_classes < 1:
            raise ParameterError("n_classes", n_classes, "an integer >= 1")
        trunk = build_trunk(backbone, high_res=attention == "brnpa" if high_res is None else high_res, weights=weights)
        keep_fc = trunk.classifier if attention == "cam" and trunk.classifier is not None else None
        if keep_fc is not None and keep_fc.out_features != n_classes:
            keep_fc = None
        self.backbone_name = backbone
        self.attention_name = attention
        self.n_classes = n_classes
        self.stride = trunk.stride
        self.trunk = trunk.module
        self.head = HEADS[attention](trunk.channels, n_classes, keep_fc, **head_options)
        self.normalize = normalize
        self.register_buffer("mean", torch.tensor(IMAGENET_MEAN).view(1, 3, 1, 1), persistent=False)
        self.register_buffer("std", torch.tensor(IMAGENET_STD).view(1, 3, 1, 1), persistent=False)

    def param_groups(self, lr: float) -> list[dict]:
        """Optimizer parameter groups (AIB's anchors get their own, slower rate)."""
        if isinstance(self.head, AIBHead):
            groups = self.head.param_groups(lr)
            groups[0]["params"] = list(self.trunk.parameters()) + groups[0]["params"]
            return groups
        return [{"params": list(self.parameters()), "lr": lr}]

    def forward(self, images: torch.Tensor, target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        if images.ndim != 4 or images.shape[1] != 3:
            raise ParameterError("images", tuple(images.shape), "a (B, 3, H, W) tensor of RGB images in [0, 1]")
        x = (images - self.mean) / self.std if self.normalize else images
        return self.head(self.trunk(x), target)
