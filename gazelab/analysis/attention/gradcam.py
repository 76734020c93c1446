"""Grad-CAM (Selvaraju et al., ICCV 2017) through captum's ``LayerGradCam``.

Why captum: ``LayerGradCam`` is a torch-native, batched implementation that returns the map at
the layer's own resolution (``relu(sum_k mean_ij(dy_c/dA_kij) * A_k)``) without rescaling it, takes
gradients with ``torch.autograd.grad`` (parameters' ``.grad`` untouched, model mode unchanged)
and keeps everything on the model's device. The upsampling to the stimulus is ours, shared by
all methods.
"""

from __future__ import annotations

import torch
from torch import nn

from gazelab.analysis.attention import register_attention_method
from gazelab.analysis.attention._common import (
    AttentionResult,
    LogitsOnly,
    Target,
    capture,
    method_parameters,
    resolve_layer,
    select_targets,
)

__all__ = ["gradcam"]


@register_attention_method("gradcam", library="captum", summary="Grad-CAM (captum LayerGradCam)")
@method_parameters()
def gradcam(
    model: nn.Module, images: torch.Tensor, *, layer: str | nn.Module | None = None, target: Target = None
) -> AttentionResult:
    """Grad-CAM maps ``(B, h, w)`` at the target layer's resolution.

    The score explained is the logit of ``target`` (default the predicted class), chosen inside
    the same forward pass that captum differentiates.
    """
    from captum.attr import LayerGradCam

    name, module = resolve_layer(model, layer, images)
    wrapped = LogitsOnly(model)
    seen: dict[str, torch.Tensor] = {}

    def score(x: torch.Tensor) -> torch.Tensor:
        logits = wrapped(x)
        t = select_targets(target, logits)
        seen["logits"], seen["target"] = logits.detach(), t
        return logits.gather(1, t[:, None])[:, 0]

    with torch.enable_grad(), capture(module) as cap:
        attr = LayerGradCam(score, module).attribute(images, relu_attributions=True)
    cap.check(name)
    return AttentionResult(attr[:, 0].detach(), seen["logits"].cpu(), seen["target"].cpu(), name)
