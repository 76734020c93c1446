"""Attention modules: shapes, gradients and the properties each head promises (generated from the registries)."""

import pytest
import torch

from gazelab.analysis.zoo import load_weights
from gazelab.errors import ParameterError
from gazelab.models import HEADS, AIBHead, AttentionNet, BRNPAHead, CAMHead, build_trunk, combine_attention

SMALL = ["resnet18", "vgg11", "alexnet"]


@pytest.mark.parametrize("head", sorted(HEADS))
@pytest.mark.parametrize("backbone", SMALL)
def test_every_head_on_every_small_trunk_has_shapes_and_gradients(backbone, head):
    torch.manual_seed(0)
    net = AttentionNet(backbone, head, n_classes=5)
    x = torch.rand(2, 3, 96, 96)
    out = net(x, torch.tensor([1, 3]))
    assert out["logits"].shape == (2, 5)
    att = out["attention"]
    assert att.ndim == 4 and att.shape[0] == 2
    assert att.shape[1] == (3 if head == "brnpa" else 1)
    assert torch.isfinite(att).all() and (att >= 0).all()
    loss = out["logits"].logsumexp(1).sum() + out["aux_loss"] + combine_attention(att).pow(2).sum()
    loss.backward()
    grads = [p.grad for p in net.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads[:3])  # the trunk's first layers learn
    head_grads = [p.grad for n, p in net.head.named_parameters() if n != "anchors"]
    assert all(g is not None for g in head_grads)


def test_cam_is_the_class_score_map():
    torch.manual_seed(0)
    head = CAMHead(8, 3)
    f = torch.randn(2, 8, 5, 5).abs()
    with torch.no_grad():
        head.fc.weight.abs_()  # positive weights and features: the ReLU does nothing
    out = head(f, torch.tensor([0, 2]))
    logits = out["logits"]
    cam = out["attention"][:, 0]
    for b, c in enumerate([0, 2]):
        assert torch.allclose(cam[b].mean() + head.fc.bias[c], logits[b, c], atol=1e-5)


def test_aib_quantises_to_its_anchors_in_training_and_is_deterministic_in_eval():
    torch.manual_seed(0)
    head = AIBHead(16, 4, n_anchors=5)
    f = torch.randn(3, 16, 6, 6)
    head.train()
    a = head(f)["attention"]
    anchors = head.anchors.detach()
    assert torch.isclose(a[..., None], anchors).any(-1).all()
    head.eval()
    o1, o2 = head(f), head(f)
    assert torch.equal(o1["logits"], o2["logits"]) and torch.equal(o1["attention"], o2["attention"])
    groups = head.param_groups(0.1)
    assert groups[1]["lr"] == pytest.approx(1e-5) and groups[1]["params"][0] is head.anchors
    assert head.last_kl_nats >= 0


def test_aib_aux_loss_has_gradient_into_the_anchors():
    torch.manual_seed(0)
    head = AIBHead(16, 4)
    out = head(torch.randn(2, 16, 4, 4))
    out["aux_loss"].backward()
    assert head.anchors.grad is not None and head.anchors.grad.abs().sum() > 0


def test_brnpa_maps_are_ranked_parts_summing_to_one():
    head = BRNPAHead(4, 2, n_parts=2)
    f = torch.zeros(1, 4, 3, 3)
    f[0, 0, 0, 0] = 5.0  # strongest location, channel 0
    f[0, 0, 0, 1] = 4.0  # same direction: same part
    f[0, 1, 2, 2] = 3.0  # another direction: the second part
    out = head(f)
    att = out["attention"][0]
    assert torch.allclose(att.sum(dim=(1, 2)), torch.ones(2))
    assert att[0, 0, 0] > 0 and att[0, 0, 1] > 0 and att[0, 2, 2] == 0
    assert att[1, 2, 2] == att[1].max()
    with pytest.raises(ParameterError, match="n_parts"):
        BRNPAHead(4, 2, n_parts=0)


def test_high_res_trunk_halves_the_stride():
    low = build_trunk("resnet18")
    high = build_trunk("resnet18", high_res=True)
    x = torch.rand(1, 3, 64, 64)
    assert low.module(x).shape[-1] == 2 and high.module(x).shape[-1] == 4
    assert (low.stride, high.stride) == (32, 16)


def test_weights_file_round_trip_and_clear_errors(tmp_path):
    import torchvision

    ref = torchvision.models.resnet18(weights=None)
    path = tmp_path / "r18.pt"
    torch.save({"model": ref.state_dict()}, path)
    trunk = build_trunk("resnet18", weights=path)
    assert torch.equal(trunk.module.state_dict()["0.weight"], ref.conv1.weight)
    torch.save(torchvision.models.vgg11(weights=None).state_dict(), tmp_path / "vgg.pt")
    with pytest.raises(ParameterError, match="state dict of resnet18"):
        build_trunk("resnet18", weights=tmp_path / "vgg.pt")
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ParameterError, match=r"torch\.save"):
        load_weights(tmp_path / "junk.pt")
    with pytest.raises(ParameterError, match="one of"):
        build_trunk("resnet9000")


def test_pretrained_efficientnet_keeps_its_imagenet_classifier():
    pytest.importorskip("efficientnet_lite_pytorch")
    net = AttentionNet("efficientnet_lite0", "cam", n_classes=1000).eval()
    x = torch.rand(1, 3, 224, 224)
    out = net(x)
    assert out["logits"].shape == (1, 1000)
    assert out["attention"].shape == (1, 1, 7, 7)


def test_bad_arguments_are_named():
    with pytest.raises(ParameterError, match="attention"):
        AttentionNet("resnet18", "transformer", n_classes=2)
    with pytest.raises(ParameterError, match="images"):
        AttentionNet("resnet18", "cam", n_classes=2)(torch.rand(1, 1, 32, 32))
    with pytest.raises(ParameterError, match="how"):
        combine_attention(torch.rand(1, 2, 3, 3), "max")
