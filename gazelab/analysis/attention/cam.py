"""Class activation maps (CAM; Zhou et al., CVPR 2016), for models ending in GAP + one linear layer.

``CAM_c = sum_k W[c, k] * A_k`` where ``A`` is the feature map that the network averages over
space and feeds to its final linear layer ``W``. Whether a model has that head is checked on the
batch itself: the final ``nn.Linear`` must give the logits and its input must equal the spatial
mean of the target layer's output (ResNet, EfficientNet, MobileNet, RegNet, DenseNet via
``features`` ...); otherwise a ParameterError points to Grad-CAM. Computed here (a weighted sum of
channels), no library needed. For such models CAM equals ``h * w`` times Grad-CAM before the ReLU.
"""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from gazelab.analysis.attention import register_attention_method
from gazelab.analysis.attention._common import (
    AttentionResult,
    Target,
    capture,
    logits_of,
    resolve_layer,
    select_targets,
)
from gazelab.errors import ParameterError

__all__ = ["cam"]


def _final_linear(model: nn.Module) -> nn.Linear | None:
    last = None
    for m in model.modules():
        if isinstance(m, nn.Linear):
            last = m
    return last


@register_attention_method("cam", library="gazelab", summary="CAM (global-average-pool + linear heads only)")
def cam(
    model: nn.Module, images: torch.Tensor, *, layer: str | nn.Module | None = None, target: Target = None
) -> AttentionResult:
    """CAM maps ``(B, h, w)`` at the layer's resolution, negative values clipped to 0.

    Parameters
    ----------
    model : nn.Module
        A classifier whose last operation is ``linear(mean_hw(layer output))``.
    images : tensor, shape (B, C, H, W)
        Preprocessed input.
    layer : str or nn.Module, optional
        The feature map the head pools (default: the last spatial feature map).
    target : int or sequence of int, optional
        Class index per image (default: predicted).

    Returns
    -------
    AttentionResult

    Raises
    ------
    ParameterError
        If the model does not end in global average pooling of ``layer`` + one linear layer.
    """
    name, module = resolve_layer(model, layer, images)
    fc = _final_linear(model)
    expected = "a model ending in global average pooling + one linear layer (CAM); use method='gradcam'"
    if fc is None:
        raise ParameterError("method", "cam", f"{expected}: this model has no nn.Linear")
    seen: dict[str, Any] = {}

    def head_hook(_m: nn.Module, inputs: Any, out: Any) -> None:
        seen["calls"] = seen.get("calls", 0) + 1
        seen["in"], seen["out"] = inputs[0], out

    handle = fc.register_forward_hook(head_hook)
    try:
        with torch.no_grad(), capture(module) as cap:
            logits = logits_of(model(images))
            act = cap.check(name)
    finally:
        handle.remove()
    pooled = act.float().mean(dim=(2, 3))
    fc_in = seen["in"].reshape(len(act), -1).float() if "in" in seen else None
    if (
        seen.get("calls") != 1
        or fc_in is None
        or fc_in.shape != pooled.shape
        or not torch.allclose(seen["out"].float(), logits.float(), rtol=1e-4, atol=1e-5)
        or not torch.allclose(fc_in, pooled, rtol=1e-4, atol=1e-5 * float(pooled.abs().max().clamp_min(1)))
    ):
        raise ParameterError("method", "cam", f"{expected}: the classifier's input is not the spatial mean of {name!r}")
    t = select_targets(target, logits)
    weights = fc.weight.detach().float()[t]  # (B, C)
    maps = torch.einsum("bc,bchw->bhw", weights, act.float()).clamp_min(0)
    return AttentionResult(maps.detach(), logits.detach().cpu(), t.cpu(), name)
