"""Attention maps of any ``nn.Module`` classifier: CAM, Grad-CAM, Grad-CAM++, ViT rollout, module maps.

One module per method, each registered in :data:`ATTENTION_METHODS` under its name (duplicate
names are refused). :func:`extract_attention` is the one entry point::

    maps = extract_attention(model, images, method="gradcam", layer="layer4", size=(480, 640))

Methods and the library behind each (see ``docs/analysis.md``):

=============  ==================  ====================================================================
name           library             what it needs
=============  ==================  ====================================================================
``cam``        gazelab             a model ending in global average pooling + one linear layer
``gradcam``    captum              a layer with a ``(B, C, h, w)`` output (``LayerGradCam``)
``gradcampp``  pytorch_grad_cam    the same (``GradCAMPlusPlus`` channel weights)
``rollout``    gazelab             a vision transformer (``nn.MultiheadAttention`` or ``qkv`` modules)
``gradient``   torch               any differentiable classifier (input-gradient saliency, the Harmonizer's)
``module``     gazelab             a model returning ``{'logits', 'attention'}`` (gazelab.models)
=============  ==================  ====================================================================

Every method first computes its map on its own grid (the layer's ``h x w``, the ViT's patch
grid) and then :func:`~gazelab.analysis.attention._common.upsample` resizes it to ``size``,
bilinear with ``align_corners=False``, taking the grid to cover the whole input image. Models
whose forward returns a dict are read through ``output['logits']``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import torch
from torch import nn

from gazelab.analysis.attention._common import AttentionResult, Target, upsample
from gazelab.errors import ParameterError

__all__ = [
    "ATTENTION_METHODS",
    "AttentionMethod",
    "AttentionResult",
    "available_methods",
    "extract_attention",
    "register_attention_method",
    "run_attention",
]

#: A method: ``func(model, images, *, layer, target) -> AttentionResult`` (maps on its own grid).
MethodFunc = Callable[..., AttentionResult]


@dataclass(frozen=True)
class AttentionMethod:
    """A registered attention method.

    Attributes
    ----------
    name : str
        Registry key (``'gradcam'``).
    func : callable
        ``func(model, images, *, layer, target) -> AttentionResult`` with maps ``(B, h, w)`` on
        the method's own grid.
    library : str
        Where the core computation comes from (``'captum'``, ``'pytorch_grad_cam'``, ``'gazelab'``).
    summary : str
        One line for listings and error messages.
    """

    name: str
    func: MethodFunc
    library: str
    summary: str


#: Registered methods by name.
ATTENTION_METHODS: dict[str, AttentionMethod] = {}


def register_attention_method(name: str, *, library: str, summary: str) -> Callable[[MethodFunc], MethodFunc]:
    """Register an attention method under ``name`` (a decorator); duplicate names are refused.

    Raises
    ------
    ValueError
        If ``name`` is already registered.
    """

    def deco(func: MethodFunc) -> MethodFunc:
        if name in ATTENTION_METHODS:
            raise ValueError(f"an attention method is already registered under the name {name!r}")
        ATTENTION_METHODS[name] = AttentionMethod(name, func, library, summary)
        return func

    return deco


def available_methods() -> list[str]:
    """Names of the registered attention methods, sorted."""
    return sorted(ATTENTION_METHODS)


def _method(method: str) -> AttentionMethod:
    if method not in ATTENTION_METHODS:
        raise ParameterError("method", method, f"one of {available_methods()}")
    return ATTENTION_METHODS[method]


def run_attention(
    model: nn.Module,
    images: torch.Tensor,
    *,
    method: str,
    layer: str | nn.Module | None = None,
    target: Target = None,
) -> AttentionResult:
    """Attention maps on the method's own grid, with the logits and the explained classes.

    Same parameters as :func:`extract_attention` but no resizing: ``result.maps`` is
    ``(B, h, w)`` at the layer's (or patch grid's) resolution, so a caller can resize each map
    to its own stimulus size with :func:`~gazelab.analysis.attention._common.upsample`.

    Returns
    -------
    AttentionResult
    """
    spec = _method(method)
    if not isinstance(images, torch.Tensor) or images.dim() != 4:
        shape = tuple(images.shape) if isinstance(images, torch.Tensor) else type(images).__name__
        raise ParameterError("images", shape, "a tensor (B, C, H, W), preprocessed for the model")
    return spec.func(model, images, layer=layer, target=target)


def extract_attention(
    model: nn.Module,
    images: torch.Tensor,
    *,
    method: str,
    layer: str | nn.Module | None = None,
    target: Target = None,
    size: Sequence[int] | None = None,
) -> torch.Tensor:
    """Attention maps of a classifier for a batch of images, resized to the stimulus size.

    Parameters
    ----------
    model : nn.Module
        Any classifier whose forward gives logits ``(B, classes)``, or a dict with ``'logits'``
        (and ``'attention'`` ``(B, K, h, w)`` for ``method='module'``). Use it in eval mode;
        the methods change neither its mode nor its parameters' ``.grad``.
    images : tensor, shape (B, C, H_in, W_in)
        The network's input, already resized and normalised (see
        :meth:`gazelab.analysis.zoo.ZooModel.preprocess`), on the model's device.
    method : {'cam', 'gradcam', 'gradcampp', 'rollout', 'module', 'gradient'}
        See :data:`ATTENTION_METHODS` and ``docs/analysis.md``.
    layer : str or nn.Module, optional
        Target layer, as a dotted module name (``'layer4'``, ``'blocks.15'``) or the module.
        Default: the outermost module giving the last spatial feature map. For ``'rollout'``,
        the deepest block whose attention is included (default all); for ``'module'``, how the
        K maps combine: ``'mean'`` (default), ``'max'`` or an index ``'0'`` ... ``'K-1'``.
    target : int or sequence of int or tensor, optional
        Class index to explain, one for all images or one per image. Default: each image's
        predicted class. Ignored by ``'rollout'`` and ``'module'`` (class-agnostic).
    size : (int, int), optional
        ``(height, width)`` px of the output maps, normally the stimulus' own size. Default:
        the input's ``(H_in, W_in)``.

    Returns
    -------
    tensor, shape (B, H, W)
        Non-negative float32 maps on CPU, upsampled from the method's grid bilinearly
        (``align_corners=False``); not normalised (scale is method-dependent).

    Raises
    ------
    ParameterError
        For an unknown method, a layer the method cannot use (not in the model, run more than
        once per forward pass, no spatial output, no GAP + linear head for ``'cam'``), a target
        out of range, or a model output the method cannot read.

    Examples
    --------
    >>> import torch, torchvision
    >>> net = torchvision.models.resnet18(num_classes=10).eval()
    >>> maps = extract_attention(net, torch.rand(2, 3, 64, 64), method="gradcam", layer="layer4", size=(48, 80))
    >>> tuple(maps.shape), bool((maps >= 0).all())
    ((2, 48, 80), True)
    """
    result = run_attention(model, images, method=method, layer=layer, target=target)
    return upsample(result.maps, tuple(images.shape[-2:]) if size is None else size)


from gazelab.analysis.attention import cam, gradcam, gradcampp, gradient, module, rollout  # noqa: E402,F401  (register)
