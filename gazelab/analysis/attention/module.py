"""Attention maps that a model returns itself (gazelab.models' convention).

Models with attention modules (AIB, BR-NPA, ...) return ``{'logits': (B, classes), 'attention':
(B, K, h, w)}``: K maps, ranked (BR-NPA: in extraction order, most salient part first; AIB: K = 1).
They are combined into one map per image: the mean over K by default, their maximum, or one of
them by index. Negative values are clipped to 0. No gradients, no library.
"""

from __future__ import annotations

import torch
from torch import nn

from gazelab.analysis.attention import register_attention_method
from gazelab.analysis.attention._common import AttentionResult, Target, logits_of
from gazelab.errors import ParameterError

__all__ = ["module_attention"]


@register_attention_method("module", library="gazelab", summary="maps returned by the model ({'attention': ...})")
def module_attention(
    model: nn.Module, images: torch.Tensor, *, layer: str | nn.Module | None = None, target: Target = None
) -> AttentionResult:
    """The model's own attention maps ``(B, h, w)``, the K maps combined.

    Parameters
    ----------
    model : nn.Module
        Returns a dict with ``'logits'`` ``(B, classes)`` and ``'attention'`` ``(B, K, h, w)`` (or
        ``(B, h, w)``).
    images : tensor, shape (B, C, H, W)
        Preprocessed input.
    layer : {'mean', 'max', '0', '1', ...}, optional
        How to combine the K maps (default ``'mean'``); an index picks one map.
    target : ignored
        The maps do not depend on a class.

    Returns
    -------
    AttentionResult
        ``target`` holds the predicted classes; ``layer`` the combination used.

    Raises
    ------
    ParameterError
        If the output has no ``'attention'`` of a valid shape, or ``layer`` is not a combination.
    """
    del target
    with torch.no_grad():
        out = model(images)
    if not isinstance(out, dict) or "attention" not in out:
        got = f"a dict with keys {sorted(out)}" if isinstance(out, dict) else type(out).__name__
        raise ParameterError(
            "method", "module", f"a model returning {{'logits', 'attention': (B, K, h, w)}}; it returns {got}"
        )
    logits = logits_of(out)
    att = out["attention"]
    if not isinstance(att, torch.Tensor) or att.dim() not in (3, 4) or att.shape[0] != len(images):
        shape = tuple(att.shape) if isinstance(att, torch.Tensor) else type(att).__name__
        raise ParameterError("attention", shape, f"a tensor ({len(images)}, K, h, w) or ({len(images)}, h, w)")
    if att.dim() == 3:
        att = att[:, None]
    how = "mean" if layer is None else str(layer)
    if how == "mean":
        maps = att.mean(1)
    elif how == "max":
        maps = att.amax(1)
    elif how.isdigit() and int(how) < att.shape[1]:
        maps = att[:, int(how)]
    else:
        raise ParameterError("layer", layer, f"'mean', 'max' or a map index 0..{att.shape[1] - 1} (method='module')")
    return AttentionResult(
        maps.float().clamp_min(0).detach(), logits.detach().cpu(), logits.detach().argmax(1).cpu(), how
    )
