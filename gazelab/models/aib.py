"""Information-bottleneck spatial attention (AIB; Lai et al., IJCAI 2021).

The head learns a variational 2-D attention map and classifies through a stochastic
bottleneck:

1. attention mean ``mu = sigmoid(g(f))`` with g a small conv branch (3x3, ReLU, 1x1) over the
   features f ``(B, C, h, w)``; spread ``sigma = softplus(conv3x3(mu) - 5)`` (the -5 starts the
   noise near zero, as in the authors' code); in training ``a = mu + sigma * eps``,
   ``eps ~ N(0, 1)``, in evaluation ``a = mu``;
2. quantisation (the paper's QT variant): each attention value is replaced by the nearest of
   Q learnable anchor values (initialised evenly on [0, 1]), with straight-through gradients,
   a codebook loss ``||sg(a) - anchors(a)||^2`` (weight 0.4) pulling the anchors to the values
   and a commitment loss ``||a - sg(anchors(a))||^2`` (weight 0.1) pulling the values to the
   anchors;
3. residual modulation ``f' = f * (1 + a)``;
4. an encoder maps the pooled f' to a Gaussian ``q(z | x, a) = N(m, s^2)`` with K = 256
   dimensions, z is sampled (mean in evaluation), and an MLP decodes z to the logits;
5. the regulariser is ``beta * KL(q(z | x, a) || N(0, I))`` with beta = 1e-2.

Hyperparameters are the paper's CIFAR/CUB defaults as read from the authors' code
(``ashleylqx/AIB``; see ``../shared/docs/models-peers.md``): Q = 20 anchors, beta = 1e-2, codebook
0.4, commitment 0.1, and an anchor learning rate of the base rate x 1e-4 (use
:meth:`AIBHead.param_groups`). The paper writes its losses in bits (both terms divided by
ln 2); here both are in nats, which only rescales the total loss. Differences from the
authors' code: the KL uses the same scale as the sampling (their code uses exp(sigma) in the KL,
sigma in the sampling), and the module sits on the trunk's last feature map rather than
after VGG's third block (``AttentionNet(..., trunk_layers=...)`` is not offered).
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from gazelab.models.heads import score_branch

__all__ = ["AIBHead"]


class AIBHead(nn.Module):
    """Variational, anchor-quantised spatial attention with an information bottleneck.

    Parameters
    ----------
    channels, n_classes : int
        Feature channels C and output classes.
    n_anchors : int, optional
        Q, learnable attention values (default 20; 0 turns quantisation off).
    z_dim : int, optional
        K, bottleneck dimensions (default 256).
    beta : float, optional
        Weight of the KL term (default 1e-2).
    codebook_weight, commitment_weight : float, optional
        Quantisation losses (defaults 0.4 and 0.1).
    hidden : int, optional
        Channels of the attention branch's 3x3 layer (default 64).

    Notes
    -----
    ``forward(features)`` returns ``logits`` ``(B, n_classes)``, ``attention`` ``(B, 1, h, w)``
    in [0, 1] (the quantised map in training; the mean map, quantised, in evaluation) and
    ``aux_loss`` = beta KL + codebook + commitment (scalar). ``last_kl_nats`` keeps the batch's
    mean KL for logging.
    """

    def __init__(
        self,
        channels: int,
        n_classes: int,
        *,
        n_anchors: int = 20,
        z_dim: int = 256,
        beta: float = 1e-2,
        codebook_weight: float = 0.4,
        commitment_weight: float = 0.1,
        hidden: int = 64,
    ) -> None:
        super().__init__()
        self.mean_branch = score_branch(channels, hidden)
        self.std_branch = nn.Conv2d(1, 1, 3, padding=1)
        self.anchors = nn.Parameter(torch.linspace(0.0, 1.0, n_anchors)) if n_anchors > 0 else None
        self.encoder = nn.Linear(channels, 2 * z_dim)
        self.decoder = nn.Sequential(nn.Linear(z_dim, z_dim), nn.ReLU(inplace=True), nn.Linear(z_dim, n_classes))
        self.beta = beta
        self.codebook_weight = codebook_weight
        self.commitment_weight = commitment_weight
        self.last_kl_nats = math.nan

    def param_groups(self, lr: float) -> list[dict]:
        """Optimizer groups: the anchors at ``lr * 1e-4`` (the paper's rate), everything else at ``lr``."""
        anchors = [self.anchors] if self.anchors is not None else []
        rest = [p for n, p in self.named_parameters() if n != "anchors"]
        return [{"params": rest, "lr": lr}, {"params": anchors, "lr": lr * 1e-4}]

    def _quantise(self, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        if self.anchors is None:
            return a, a.new_zeros(())
        idx = (a[..., None] - self.anchors).abs().argmin(-1)
        q = self.anchors[idx]
        codebook = F.mse_loss(q, a.detach())
        commitment = F.mse_loss(a, q.detach())
        return a + (q - a).detach(), self.codebook_weight * codebook + self.commitment_weight * commitment

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        mu = torch.sigmoid(self.mean_branch(features))
        if self.training:
            sigma = F.softplus(self.std_branch(mu) - 5.0)
            a = (mu + sigma * torch.randn_like(mu)).clamp(0.0, 1.0)
        else:
            a = mu
        a, vq_loss = self._quantise(a)
        pooled = (features * (1.0 + a)).mean(dim=(2, 3))
        m, s_raw = self.encoder(pooled).chunk(2, dim=1)
        s = F.softplus(s_raw) + 1e-6
        z = m + s * torch.randn_like(s) if self.training else m
        kl = 0.5 * (m.pow(2) + s.pow(2) - 1.0 - 2.0 * s.log()).sum(1).mean()
        self.last_kl_nats = float(kl.detach())
        return {"logits": self.decoder(z), "attention": a, "aux_loss": self.beta * kl + vq_loss}
