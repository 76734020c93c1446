"""Alignment losses: zero for equal maps, their invariances, gradients, schedules."""

import pytest
import torch

from gazelab.errors import ParameterError
from gazelab.models import LOSSES, LambdaSchedule, alignment_loss


@pytest.fixture
def maps():
    g = torch.Generator().manual_seed(0)
    return torch.rand(3, 16, 16, generator=g), torch.rand(3, 16, 16, generator=g)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_zero_for_equal_maps_positive_otherwise(name, maps):
    a, h = maps
    assert float(alignment_loss(name, h, h)) == pytest.approx(0.0, abs=1e-6)
    assert float(alignment_loss(name, a, h)) > 1e-3


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradient_flows_into_attention_only(name, maps):
    a, h = maps
    a = a.clone().requires_grad_()
    h = h.clone().requires_grad_()
    alignment_loss(name, a, h).backward()
    assert a.grad is not None and torch.isfinite(a.grad).all() and a.grad.abs().sum() > 0
    if name == "pyramid":
        assert h.grad is None  # the human side is a fixed target (stop-gradient)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_invariant_to_the_scale_of_the_model_map(name, maps):
    a, h = maps
    assert float(alignment_loss(name, 7.5 * a, h)) == pytest.approx(float(alignment_loss(name, a, h)), rel=1e-4)


@pytest.mark.parametrize("name", ["cc", "nss"])
def test_cc_and_nss_ignore_an_offset(name, maps):
    a, h = maps
    assert float(alignment_loss(name, a + 3.0, h)) == pytest.approx(float(alignment_loss(name, a, h)), rel=1e-4)


def test_attention_is_upsampled_to_the_human_map():
    h = torch.zeros(1, 32, 32)
    h[0, :16, :16] = 1.0
    coarse = torch.tensor([[[1.0, 0.0], [0.0, 0.0]]])
    other = torch.tensor([[[0.0, 0.0], [0.0, 1.0]]])
    assert float(alignment_loss("cc", coarse, h)) < float(alignment_loss("cc", other, h))


def test_nss_uses_fixation_counts_when_given():
    h = torch.rand(1, 8, 8)
    fix = torch.zeros(1, 8, 8)
    fix[0, 2, 3] = 2
    peak = torch.zeros(1, 8, 8)
    peak[0, 2, 3] = 1
    assert float(alignment_loss("nss", peak, h, fix)) < float(alignment_loss("nss", 1 - peak, h, fix))


def test_bad_inputs_are_named():
    with pytest.raises(ParameterError, match="loss"):
        alignment_loss("dice", torch.rand(1, 4, 4), torch.rand(1, 4, 4))
    with pytest.raises(ParameterError, match="human"):
        alignment_loss("kl", torch.rand(2, 4, 4), torch.rand(3, 4, 4))
    with pytest.raises(ParameterError, match="attention"):
        alignment_loss("kl", torch.rand(4, 4), torch.rand(1, 4, 4))


def test_lambda_schedules():
    assert LambdaSchedule(2.0)(0) == 2.0
    lin = LambdaSchedule(2.0, "linear", warmup=4)
    assert [lin(e) for e in (0, 1, 2, 4, 9)] == [0.0, 0.5, 1.0, 2.0, 2.0]
    step = LambdaSchedule(1.0, "step", warmup=2)
    assert (step(1.9), step(2.0)) == (0.0, 1.0)
    tanh = LambdaSchedule(1.0, "tanh", warmup=1)
    assert 0 < tanh(0.1) < tanh(0.5) < tanh(2) <= 1.0
    with pytest.raises(ParameterError, match="schedule"):
        LambdaSchedule(1.0, "cosine")
    with pytest.raises(ParameterError, match="lambda"):
        LambdaSchedule(-1.0)
