"""Grad-CAM++ (Chattopadhay et al., WACV 2018) with pytorch_grad_cam's channel weights.

Why pytorch_grad_cam: captum has no Grad-CAM++; pytorch_grad_cam's ``GradCAMPlusPlus`` is the
widely used implementation of the paper's closed-form weights (eq. 19:
``alpha = g^2 / (2 g^2 + sum_ab(A) g^3)``, ``w_k = sum_ij alpha * relu(g)``). We use exactly that
weighting (``get_cam_weights``) and not its driver (``BaseCAM.__call__``), which puts the model in
eval mode, zeroes the parameters' gradients, min-max normalises each map and resizes it with
OpenCV to the input size: here activations and gradients are taken with our hook and
``torch.autograd.grad``, and the map stays at the layer's resolution until the shared upsampling.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from gazelab.analysis.attention import register_attention_method
from gazelab.analysis.attention._common import (
    AttentionResult,
    Target,
    capture,
    logits_of,
    method_parameters,
    resolve_layer,
    select_targets,
    target_gradient,
)

__all__ = ["gradcampp"]


def _weights(activations: np.ndarray, grads: np.ndarray) -> np.ndarray:
    """Grad-CAM++ channel weights ``(B, C)`` from pytorch_grad_cam (stateless use of its method)."""
    from pytorch_grad_cam import GradCAMPlusPlus

    # get_cam_weights reads only its array arguments; calling it through the class avoids
    # building a CAM object (which would hook the model and switch it to eval mode).
    return GradCAMPlusPlus.get_cam_weights(None, None, None, None, activations, grads)  # type: ignore[arg-type]


@register_attention_method("gradcampp", library="pytorch_grad_cam", summary="Grad-CAM++ (pytorch_grad_cam weights)")
@method_parameters()
def gradcampp(
    model: nn.Module, images: torch.Tensor, *, layer: str | nn.Module | None = None, target: Target = None
) -> AttentionResult:
    """Grad-CAM++ maps ``(B, h, w)`` at the target layer's resolution."""
    name, module = resolve_layer(model, layer, images)
    with torch.enable_grad(), capture(module) as cap:
        logits = logits_of(model(images))
        act = cap.check(name)
        t = select_targets(target, logits)
        grad = target_gradient(logits, t, act)
    a = act.detach().float().cpu().numpy()
    g = grad.detach().float().cpu().numpy()
    w = _weights(a, g).astype(np.float32)
    cam = np.maximum(np.einsum("bc,bchw->bhw", w, a), 0.0)
    return AttentionResult(torch.from_numpy(cam), logits.detach().cpu(), t.cpu(), name)
