"""Input-gradient saliency (Simonyan et al. 2014), the map the Neural Harmonizer aligns (Fel et al. 2022).

The map of image ``b`` is ``|mean_c d y_t / d x_cij|``: the gradient of the target class' logit
with respect to the input pixels, averaged over the colour channels (as the Harmonizer does before
its z-score and ReLU), then its magnitude, so that the map is non-negative like every other
method's and usable with every alignment loss.

:func:`gradient_saliency` takes logits already computed from ``images`` (which must require
grad) and, with ``create_graph=True``, keeps the graph of the gradient, so that a loss on the map
trains the network through it (double backpropagation): this is how
:func:`gazelab.models.align` trains with ``saliency='gradient'``. The registered method
``gradient`` wraps it for :func:`~gazelab.analysis.attention.extract_attention` (maps detached,
parameters' ``.grad`` untouched).
"""

from __future__ import annotations

import torch
from torch import nn

from gazelab.analysis.attention import register_attention_method
from gazelab.analysis.attention._common import (
    AttentionResult,
    Target,
    logits_of,
    method_parameters,
    select_targets,
    target_gradient,
)
from gazelab.errors import ParameterError

__all__ = ["gradient", "gradient_saliency"]


def gradient_saliency(
    logits: torch.Tensor, images: torch.Tensor, target: torch.Tensor, *, create_graph: bool = False
) -> torch.Tensor:
    """Input-gradient saliency ``(B, H, W)`` of the target classes' logits.

    Parameters
    ----------
    logits : tensor, shape (B, classes)
        The network's output for ``images`` (computed with ``images.requires_grad``).
    images : tensor, shape (B, C, H, W)
        The input the logits were computed from.
    target : tensor of int, shape (B,)
        Class index per image.
    create_graph : bool, optional
        Keep the graph of the gradient so that a loss on the map can be backpropagated to the
        network's parameters (default False: the map carries no graph).

    Returns
    -------
    tensor, shape (B, H, W)
        ``|mean over channels of d logit_target / d image|`` (per input pixel, unnormalised).

    Raises
    ------
    ParameterError
        If ``images`` does not require grad (the logits cannot be differentiated by it).
    """
    if not images.requires_grad:
        raise ParameterError("images", "requires_grad=False", "images with requires_grad_(True) before the forward")
    return target_gradient(logits, target, images, create_graph=create_graph).mean(1).abs()


@register_attention_method("gradient", library="torch", summary="input-gradient saliency |mean_c dy/dx| (Harmonizer)")
@method_parameters(layer="None\n    Unused (the map is on the input's grid).")
def gradient(
    model: nn.Module, images: torch.Tensor, *, layer: str | nn.Module | None = None, target: Target = None
) -> AttentionResult:
    """Input-gradient saliency maps ``(B, H, W)`` at the input's resolution."""
    x = images.detach().clone().requires_grad_(True)
    with torch.enable_grad():
        logits = logits_of(model(x))
        t = select_targets(target, logits)
        maps = gradient_saliency(logits, x, t)
    return AttentionResult(maps.detach().float(), logits.detach().cpu(), t.cpu(), "")
