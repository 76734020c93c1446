"""What every attention method shares: layers, logits, targets, hooks and the final upsampling."""

from __future__ import annotations

import contextlib
import inspect
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gazelab.errors import ParameterError

__all__ = [
    "AttentionResult",
    "LayerCapture",
    "LogitsOnly",
    "capture",
    "default_layer_name",
    "logits_of",
    "method_parameters",
    "resolve_layer",
    "select_targets",
    "target_gradient",
    "upsample",
]

Target = int | Sequence[int] | torch.Tensor | None


@dataclass
class AttentionResult:
    """Maps and what the network said about the images.

    Attributes
    ----------
    maps : tensor, shape (B, H, W)
        Non-negative attention maps at the requested size (float32, on CPU).
    logits : tensor, shape (B, classes)
        The network's output for the images (detached, on CPU).
    target : tensor, shape (B,)
        The class index each map explains (the predicted class unless one was given).
    layer : str
        The layer the maps come from (``''`` where a method uses none).
    """

    maps: torch.Tensor
    logits: torch.Tensor
    target: torch.Tensor
    layer: str


def logits_of(output: Any) -> torch.Tensor:
    """The logits of a model output: the tensor itself, or ``output['logits']`` of a dict.

    Raises
    ------
    ParameterError
        If the output is neither a ``(B, classes)`` tensor nor a dict with ``'logits'``.
    """
    if isinstance(output, dict):
        if "logits" not in output:
            raise ParameterError(
                "model", f"output dict with keys {sorted(output)}", "a dict with 'logits' (B, classes)"
            )
        output = output["logits"]
    if not isinstance(output, torch.Tensor) or output.dim() != 2:
        shape = tuple(output.shape) if isinstance(output, torch.Tensor) else type(output).__name__
        raise ParameterError("model", f"output {shape}", "logits (B, classes) or a dict with 'logits'")
    return output


class LogitsOnly(nn.Module):
    """Wrap a model so that its forward returns the logits tensor (for dict-returning models)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return logits_of(self.model(x))


def resolve_layer(model: nn.Module, layer: str | nn.Module | None, images: torch.Tensor) -> tuple[str, nn.Module]:
    """The target layer as ``(name, module)``; default :func:`default_layer_name`.

    Raises
    ------
    ParameterError
        If ``layer`` names no module of ``model`` or is a module outside it.
    """
    if layer is None:
        layer = default_layer_name(model, images)
    if isinstance(layer, nn.Module):
        for name, m in model.named_modules():
            if m is layer:
                return name, m
        raise ParameterError("layer", type(layer).__name__, "a module of the model (or its dotted name)")
    try:
        return str(layer), model.get_submodule(str(layer))
    except AttributeError:
        tops = [n for n, _ in model.named_children()]
        raise ParameterError("layer", layer, f"a dotted module name of the model, e.g. under {tops}") from None


def default_layer_name(model: nn.Module, images: torch.Tensor) -> str:
    """The outermost module that outputs the network's last spatial feature map.

    One forward pass records every module's output; the last 4-D output ``(B, C, h, w)`` with
    ``h * w > 1`` is the feature map before global pooling, and of the modules that returned
    that very tensor (a block and its last sub-module) the one with the shortest name is chosen
    (``'layer4'`` for a ResNet).

    Raises
    ------
    ParameterError
        If the network has no spatial feature map (e.g. a ViT: use ``method='rollout'``).
    """
    order: list[tuple[str, torch.Tensor]] = []  # tensors kept alive so identities stay unique
    handles = []

    def hook(name: str):  # type: ignore[no-untyped-def]
        def fn(_m: nn.Module, _i: Any, out: Any) -> None:
            if isinstance(out, torch.Tensor) and out.dim() == 4 and out.shape[-1] * out.shape[-2] > 1:
                order.append((name, out))

        return fn

    for name, m in model.named_modules():
        if name:
            handles.append(m.register_forward_hook(hook(name)))
    try:
        with torch.no_grad():
            model(images[:1])
    finally:
        for h in handles:
            h.remove()
    if not order:
        raise ParameterError(
            "layer", None, "a layer name: the model has no (B, C, h, w) feature map to choose by default"
        )
    last = order[-1][1]
    names = [n for n, t in order if t is last]
    return min(names, key=lambda n: (n.count("."), len(n)))


def select_targets(target: Target, logits: torch.Tensor) -> torch.Tensor:
    """Class indices ``(B,)``: the predicted class, one index for all, or one per image.

    Raises
    ------
    ParameterError
        If an index is outside ``[0, classes)`` or there is not one per image.
    """
    b, c = logits.shape
    if target is None:
        return logits.detach().argmax(1)
    t = torch.as_tensor(target, dtype=torch.long, device=logits.device).reshape(-1)
    if t.numel() == 1:
        t = t.expand(b)
    if t.numel() != b:
        raise ParameterError("target", target, f"one class index or {b} (one per image)")
    if (t < 0).any() or (t >= c).any():
        raise ParameterError("target", target, f"class indices in [0, {c})")
    return t


def target_gradient(
    logits: torch.Tensor, target: torch.Tensor, wrt: torch.Tensor, *, create_graph: bool = False
) -> torch.Tensor:
    """``d sum_b logits[b, target[b]] / d wrt``, shaped like ``wrt``, in one backward pass.

    Images are independent in a batch, so each image's slice is the gradient of its own target
    logit (class indices ``target`` ``(B,)``); ``create_graph`` keeps the gradient's graph, for a
    loss on it. ``logits`` must have been computed from ``wrt`` with gradients enabled.
    """
    score = logits.gather(1, target.long().view(-1, 1)).sum()
    (grad,) = torch.autograd.grad(score, wrt, create_graph=create_graph)
    return grad


#: The ``layer`` entry of a method that reads one layer's ``(B, C, h, w)`` feature map.
LAYER_WITH_A_MAP = (
    "str or nn.Module, optional\n    A module with a ``(B, C, h, w)`` output that runs once per forward pass."
)

_METHOD_PARAMETERS = """
Parameters
----------
model : nn.Module
    Classifier returning logits or a dict with ``'logits'``.
images : tensor, shape (B, C, H, W)
    Preprocessed input.
layer : {layer}
target : int or sequence of int, optional
    Class index per image (default: predicted).

Returns
-------
AttentionResult
"""


def method_parameters(layer: str = LAYER_WITH_A_MAP) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Complete a class-explaining method's docstring with the numpydoc ``Parameters`` and ``Returns``
    that the registered methods share (``func(model, images, *, layer, target)``); ``layer``: its
    entry (type, then the indented description)."""

    def deco(func: Callable[..., Any]) -> Callable[..., Any]:
        func.__doc__ = inspect.cleandoc(func.__doc__ or "") + "\n" + _METHOD_PARAMETERS.format(layer=layer)
        return func

    return deco


class LayerCapture:
    """Forward hook recording a layer's output (and its gradient) and how often the layer ran."""

    def __init__(self, module: nn.Module, *, grad: bool) -> None:
        self.module = module
        self.grad = grad
        self.calls = 0
        self.activation: torch.Tensor | None = None
        self.gradient: torch.Tensor | None = None

    def __call__(self, _m: nn.Module, _i: Any, out: Any) -> None:
        self.calls += 1
        if not isinstance(out, torch.Tensor):
            return
        self.activation = out
        if self.grad and out.requires_grad:
            out.register_hook(self._store)

    def _store(self, g: torch.Tensor) -> None:
        self.gradient = g

    def check(self, name: str, *, spatial: bool = True) -> torch.Tensor:
        """The captured activation, checked to be one ``(B, C, h, w)`` map from one call."""
        if self.calls != 1:
            raise ParameterError("layer", name, f"a module that runs once per forward pass (it ran {self.calls} times)")
        act = self.activation
        if act is None:
            raise ParameterError("layer", name, "a module whose output is a tensor")
        if spatial and act.dim() != 4:
            raise ParameterError(
                "layer",
                name,
                f"a layer with a (B, C, h, w) feature map; it gives {tuple(act.shape)} "
                "(for a vision transformer use method='rollout')",
            )
        return act


@contextlib.contextmanager
def capture(module: nn.Module, *, grad: bool = False) -> Iterator[LayerCapture]:
    """Hook ``module`` for the duration of the block; yields the :class:`LayerCapture`."""
    cap = LayerCapture(module, grad=grad)
    handle = module.register_forward_hook(cap)
    try:
        yield cap
    finally:
        handle.remove()


def upsample(maps: torch.Tensor, size: Sequence[int]) -> torch.Tensor:
    """Resize ``(B, h, w)`` maps to ``size = (H, W)``, bilinear with ``align_corners=False``.

    Every method ends here, so all maps reach the stimulus size the same way: the layer's grid
    is taken to cover the whole image (pixel centres at ``(i + 0.5) * H / h``). Negative values
    (none for non-negative input) are clipped to 0. Returns float32 on CPU.
    """
    h, w = _size(size)
    out = F.interpolate(maps[:, None].float(), size=(h, w), mode="bilinear", align_corners=False)[:, 0]
    return out.clamp_min_(0).detach().cpu()


def _size(size: Sequence[int] | None) -> tuple[int, int]:
    try:
        h, w = (int(v) for v in size)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        raise ParameterError("size", size, "(height, width) px, both > 0") from None
    if h <= 0 or w <= 0:
        raise ParameterError("size", size, "(height, width) px, both > 0")
    return h, w
