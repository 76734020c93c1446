"""Attention heads over a feature map: class activation (CAM) and a learned spatial attention.

Every head in gazelab (these two, :class:`gazelab.models.aib.AIBHead` and
:class:`gazelab.models.brnpa.BRNPAHead`) has one contract: ``head(features, target=None)`` with
features ``(B, C, h, w)`` returns a dict

- ``'logits'``: ``(B, n_classes)``;
- ``'attention'``: ``(B, K, h, w)``, non-negative, the maps the head used, ranked (K = 1 except
  for BR-NPA's parts);
- ``'aux_loss'``: a scalar tensor the training loop adds to the task loss (0 for heads with
  no regulariser).

That dict is also what :class:`gazelab.models.AttentionNet` returns, and what
:func:`gazelab.analysis.attention.extract_attention` reads with ``method='module'``.
"""

from __future__ import annotations

import torch
from torch import nn

__all__ = ["CAMHead", "SpatialAttentionHead"]


def score_branch(channels: int, hidden: int) -> nn.Sequential:
    """A small conv branch scoring each cell of a ``(B, C, h, w)`` feature map: 3x3 to ``hidden``
    channels, ReLU, 1x1 to one channel (raw scores ``(B, 1, h, w)``; the heads squash them)."""
    return nn.Sequential(nn.Conv2d(channels, hidden, 3, padding=1), nn.ReLU(inplace=True), nn.Conv2d(hidden, 1, 1))


class CAMHead(nn.Module):
    """Global average pooling and a linear classifier; the attention is the class activation map.

    CAM (Zhou et al., CVPR 2016): for class c, ``M_c(i, j) = sum_k w_ck f_k(i, j)`` with w the
    classifier's weights, so that the class score is the spatial mean of M_c plus the bias. The
    map returned is ``relu(M_c)`` for c = ``target`` (the labels, when training) or the
    predicted class; it is differentiable, so alignment losses train through it.

    Parameters
    ----------
    channels, n_classes : int
        Feature channels C and output classes.
    classifier : nn.Linear, optional
        A pretrained classifier to start from (e.g. EfficientNet-Lite0's ImageNet layer).
    """

    def __init__(self, channels: int, n_classes: int, *, classifier: nn.Linear | None = None) -> None:
        super().__init__()
        self.fc = classifier if classifier is not None else nn.Linear(channels, n_classes)

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        logits = self.fc(features.mean(dim=(2, 3)))
        cls = logits.argmax(1) if target is None else target
        w = self.fc.weight[cls]  # (B, C)
        cam = torch.einsum("bc,bchw->bhw", w, features).clamp_min(0)
        return {"logits": logits, "attention": cam[:, None], "aux_loss": features.new_zeros(())}


class SpatialAttentionHead(nn.Module):
    """A learned single-map spatial attention that pools the features it weights.

    ``a = sigmoid(conv1x1(relu(conv3x3(f))))`` in (0, 1) per cell; the pooled descriptor is
    ``sum_ij a_ij f_ij / sum_ij a_ij`` and a linear layer gives the logits. Because the
    descriptor depends on the map only through its shape, the map is what the network looks at,
    the property alignment training needs.

    Parameters
    ----------
    channels, n_classes : int
        Feature channels C and output classes.
    hidden : int, optional
        Channels of the 3x3 layer (default 64).
    """

    def __init__(self, channels: int, n_classes: int, *, hidden: int = 64) -> None:
        super().__init__()
        self.score = score_branch(channels, hidden)
        self.fc = nn.Linear(channels, n_classes)

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        a = torch.sigmoid(self.score(features))  # (B, 1, h, w)
        pooled = (features * a).sum(dim=(2, 3)) / a.sum(dim=(2, 3)).clamp_min(1e-6)
        return {"logits": self.fc(pooled), "attention": a, "aux_loss": features.new_zeros(())}
