"""The ``gradient`` attention method: input-gradient saliency, exact on a linear model, trainable through."""

import pytest

torch = pytest.importorskip("torch", reason="attention extraction needs the torch extra")

from torch import nn  # noqa: E402

from gazelab.analysis.attention import ATTENTION_METHODS, extract_attention, run_attention  # noqa: E402
from gazelab.analysis.attention.gradient import gradient_saliency  # noqa: E402
from gazelab.errors import ParameterError  # noqa: E402


class Linear(nn.Module):
    """logits = W x + b over the flattened image: the input gradient of class t is W[t]."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.fc = nn.Linear(3 * 4 * 5, 3)

    def forward(self, x):
        return {"logits": self.fc(x.flatten(1))}


def test_gradient_of_a_linear_model_is_its_weights():
    model = Linear().train()
    x = torch.randn(2, 3, 4, 5)
    res = run_attention(model, x, method="gradient", target=[2, 0])
    w = model.fc.weight.detach().view(3, 3, 4, 5)
    expected = torch.stack([w[2].mean(0).abs(), w[0].mean(0).abs()])
    torch.testing.assert_close(res.maps, expected)
    assert res.target.tolist() == [2, 0] and res.layer == ""
    assert model.training and all(p.grad is None for p in model.parameters())
    assert ATTENTION_METHODS["gradient"].library == "torch"


def test_extract_upsamples_and_predicted_class_is_the_default():
    model = Linear().eval()
    x = torch.randn(2, 3, 4, 5)
    maps = extract_attention(model, x, method="gradient", size=(8, 10))
    assert maps.shape == (2, 8, 10) and bool((maps >= 0).all())
    res = run_attention(model, x, method="gradient")
    assert torch.equal(res.target, res.logits.argmax(1))


def test_create_graph_trains_through_the_map():
    conv = nn.Sequential(
        nn.Conv2d(3, 4, 3, padding=1), nn.Tanh(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 2)
    )
    x = torch.randn(2, 3, 6, 6, requires_grad=True)
    logits = conv(x)
    maps = gradient_saliency(logits, x, torch.tensor([0, 1]), create_graph=True)
    assert maps.shape == (2, 6, 6) and maps.requires_grad
    maps.sum().backward()  # double backprop reaches the first layer's weights
    assert conv[0].weight.grad is not None and conv[0].weight.grad.abs().sum() > 0
    detached = gradient_saliency(conv(x), x, torch.tensor([0, 1]))
    assert not detached.requires_grad
    with pytest.raises(ParameterError, match="requires_grad"):
        gradient_saliency(conv(x.detach()), x.detach(), torch.tensor([0, 1]))
