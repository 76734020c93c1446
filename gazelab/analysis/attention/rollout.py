"""Attention rollout for vision transformers (Abnar & Zuidema, ACL 2020).

Each layer's attention ``A`` (averaged over heads) is mixed with the identity for the residual
path, ``0.5 * A + 0.5 * I`` (rows still sum to 1), and the layers are multiplied in order;
the class token's row, over the patch tokens, is the map on the patch grid.

Fused attention (``nn.MultiheadAttention`` called with ``need_weights=False`` as torchvision's
ViT does, or timm's ``F.scaled_dot_product_attention``) never materialises the softmax weights,
so the weights are computed here explicitly in a forward pre-hook from the layer's own input
and projection weights: ``softmax(q k^T / sqrt(d))`` per head. Supported attention modules:
``nn.MultiheadAttention`` (torchvision ``vit_*``) and modules with a ``qkv`` linear layer and
``num_heads`` (timm-style ``Attention``). No library offers rollout for torchvision's ViT;
the computation is short and is checked against ``nn.MultiheadAttention``'s own weights in
the tests.
"""

from __future__ import annotations

import math
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gazelab.analysis.attention import register_attention_method
from gazelab.analysis.attention._common import AttentionResult, Target, logits_of
from gazelab.errors import ParameterError

__all__ = ["attention_modules", "attention_weights", "rollout"]


def _is_qkv_attention(m: nn.Module) -> bool:
    return isinstance(getattr(m, "qkv", None), nn.Linear) and isinstance(getattr(m, "num_heads", None), int)


def attention_modules(model: nn.Module) -> list[tuple[str, nn.Module]]:
    """The model's self-attention modules, in definition order, as ``(name, module)``."""
    return [(n, m) for n, m in model.named_modules() if isinstance(m, nn.MultiheadAttention) or _is_qkv_attention(m)]


def _heads(x: torch.Tensor, h: int) -> torch.Tensor:
    b, n, e = x.shape
    return x.reshape(b, n, h, e // h).transpose(1, 2)


def attention_weights(module: nn.Module, query: torch.Tensor, key: torch.Tensor | None = None) -> torch.Tensor:
    """Softmax attention weights ``(B, heads, N_q, N_k)`` of one attention module for its input.

    Parameters
    ----------
    module : nn.MultiheadAttention or a timm-style attention module
        Its projection weights are used; the module itself is not called.
    query, key : tensor, shape (B, N, E)
        The module's query and key input (batch first; ``key`` defaults to ``query``).

    Returns
    -------
    tensor, shape (B, heads, N_q, N_k)
    """
    key = query if key is None else key
    if isinstance(module, nn.MultiheadAttention):
        m = module
        if m.bias_k is not None:
            raise ParameterError("model", "nn.MultiheadAttention(add_bias_kv=True)", "attention without extra k/v bias")
        e = m.embed_dim
        if m._qkv_same_embed_dim:
            wq, wk = m.in_proj_weight[:e], m.in_proj_weight[e : 2 * e]
        else:
            wq, wk = m.q_proj_weight, m.k_proj_weight
        bq = bk = None
        if m.in_proj_bias is not None:
            bq, bk = m.in_proj_bias[:e], m.in_proj_bias[e : 2 * e]
        q, k, h = F.linear(query, wq, bq), F.linear(key, wk, bk), m.num_heads
        q, k = _heads(q, h), _heads(k, h)
        scale = 1.0 / math.sqrt(e // h)
    else:
        b, n, e = query.shape
        h = module.num_heads  # type: ignore[assignment]
        qkv = module.qkv(query).reshape(b, n, 3, h, -1).permute(2, 0, 3, 1, 4)
        q, k = qkv[0], qkv[1]
        q = getattr(module, "q_norm", nn.Identity())(q)
        k = getattr(module, "k_norm", nn.Identity())(k)
        scale = float(getattr(module, "scale", q.shape[-1] ** -0.5))
    return torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)


def _grid(model: nn.Module, images: torch.Tensor, n_tokens: int) -> tuple[int, int, int]:
    """Patch grid ``(gh, gw)`` and the number of leading non-patch tokens (class, registers)."""
    patch = getattr(model, "patch_size", None)
    if isinstance(patch, int | tuple):
        ph, pw = (patch, patch) if isinstance(patch, int) else patch
        gh, gw = images.shape[-2] // ph, images.shape[-1] // pw
    else:
        side = math.isqrt(n_tokens - 1)
        gh = gw = side
    prefix = n_tokens - gh * gw
    if prefix < 1:
        raise ParameterError(
            "model", f"{n_tokens} tokens", f"a class token followed by {gh}x{gw} patch tokens (attention rollout)"
        )
    return gh, gw, prefix


@register_attention_method("rollout", library="gazelab", summary="attention rollout (vision transformers)")
def rollout(
    model: nn.Module, images: torch.Tensor, *, layer: str | nn.Module | None = None, target: Target = None
) -> AttentionResult:
    """Attention-rollout maps ``(B, gh, gw)`` on the ViT's patch grid.

    Parameters
    ----------
    model : nn.Module
        A vision transformer with a class token (torchvision ``vit_*``, timm-style ViTs).
    images : tensor, shape (B, 3, H, W)
        Preprocessed input.
    layer : str or nn.Module, optional
        The deepest block (or attention module) whose attention is included, e.g.
        ``'encoder.layers.encoder_layer_5'``; default all layers.
    target : ignored
        Rollout does not depend on a class.

    Returns
    -------
    AttentionResult
        ``target`` holds the predicted classes; ``layer`` the last attention module used.

    Raises
    ------
    ParameterError
        If the model has no supported attention module, or ``layer`` contains none.
    """
    del target
    mods = attention_modules(model)
    if not mods:
        raise ParameterError(
            "method", "rollout", "a vision transformer (nn.MultiheadAttention or qkv attention modules)"
        )
    if layer is not None:
        lname = layer if isinstance(layer, str) else next((n for n, m in model.named_modules() if m is layer), "")
        inside = [i for i, (n, _) in enumerate(mods) if n == lname or n.startswith(f"{lname}.")]
        if not inside:
            raise ParameterError("layer", lname or layer, f"a block holding attention, e.g. {mods[-1][0]!r}")
        mods = mods[: inside[-1] + 1]
    weights: dict[str, list[torch.Tensor]] = {n: [] for n, _ in mods}

    def pre_hook(name: str):  # type: ignore[no-untyped-def]
        def fn(m: nn.Module, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
            q = args[0] if args else kwargs["query"]
            k = args[1] if len(args) > 1 else kwargs.get("key", q)
            if isinstance(m, nn.MultiheadAttention):
                if kwargs.get("attn_mask") is not None or kwargs.get("key_padding_mask") is not None:
                    raise ParameterError("model", name, "self-attention without masks (attention rollout)")
                if not m.batch_first:
                    q, k = q.transpose(0, 1), k.transpose(0, 1)
            weights[name].append(attention_weights(m, q, k).mean(1))

        return fn

    handles = [m.register_forward_pre_hook(pre_hook(n), with_kwargs=True) for n, m in mods]
    try:
        with torch.no_grad():
            logits = logits_of(model(images))
    finally:
        for h in handles:
            h.remove()
    bad = [f"{n} ({len(w)})" for n, w in weights.items() if len(w) != 1]
    if bad:
        raise ParameterError("model", bad, "attention modules that each run once per forward pass")
    result = None
    for name, _ in mods:
        a = weights[name][0].float()
        eye = torch.eye(a.shape[-1], device=a.device)
        a = 0.5 * a + 0.5 * eye
        a = a / a.sum(-1, keepdim=True)
        result = a if result is None else a @ result
    assert result is not None  # mods is non-empty
    gh, gw, prefix = _grid(model, images, result.shape[-1])
    maps = result[:, 0, prefix:].reshape(len(images), gh, gw)
    return AttentionResult(maps, logits.detach().cpu(), logits.detach().argmax(1).cpu(), mods[-1][0])
