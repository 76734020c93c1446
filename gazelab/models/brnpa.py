"""Non-parametric representative-feature attention (BR-NPA; Gomez et al., Pattern Recognition 2022).

No attention parameters: on the feature map f ``(B, C, h, w)`` (best at high resolution, e.g. a
ResNet with ``high_res=True``, stride 16), parts are extracted one after the other:

1. the location with the highest score is the part's representative (initial scores: the
   feature L2 norms);
2. the cosine similarity of every location to it, clipped at 0 and normalised to sum 1, is the
   part's attention map;
3. the similarity-weighted mean of the features is the part vector;
4. the scores are multiplied by ``1 - similarity``, so the next part goes elsewhere.

The part vectors, concatenated, feed a linear classifier; the maps come out in extraction order
(ranked). The authors' distillation of the high-resolution model from a low-resolution one and
their hyperparameter search are not part of this module.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from gazelab.errors import ParameterError

__all__ = ["BRNPAHead"]


class BRNPAHead(nn.Module):
    """Ranked part attention by iterative representative-feature grouping.

    Parameters
    ----------
    channels, n_classes : int
        Feature channels C and output classes.
    n_parts : int, optional
        K, parts (maps) extracted per image (default 3, as the authors' ablation heads assume).

    Notes
    -----
    ``forward(features)`` returns ``logits`` ``(B, n_classes)``, ``attention`` ``(B, K, h, w)``,
    each map non-negative and summing to 1, ranked by extraction order, and a zero
    ``aux_loss``. ``last_part_norms`` ``(B, K)`` keeps the part vectors' norms, which the authors
    suggest for weighting the maps when viewing them.
    """

    def __init__(self, channels: int, n_classes: int, *, n_parts: int = 3) -> None:
        super().__init__()
        if n_parts < 1:
            raise ParameterError("n_parts", n_parts, "an integer >= 1")
        self.n_parts = n_parts
        self.fc = nn.Linear(channels * n_parts, n_classes)
        self.last_part_norms: torch.Tensor | None = None

    def forward(self, features: torch.Tensor, target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
        b, c, h, w = features.shape
        flat = features.flatten(2)  # (B, C, N)
        unit = F.normalize(flat, dim=1)
        scores = flat.norm(dim=1)  # (B, N)
        maps, parts = [], []
        for _ in range(self.n_parts):
            idx = scores.argmax(dim=1)  # (B,)
            ref = unit.gather(2, idx[:, None, None].expand(b, c, 1))  # (B, C, 1)
            sim = (unit * ref).sum(1).clamp_min(0)  # (B, N), cosine similarity in [0, 1]
            att = sim / sim.sum(1, keepdim=True).clamp_min(1e-8)
            parts.append(torch.einsum("bcn,bn->bc", flat, att))
            maps.append(att)
            scores = scores * (1.0 - sim.detach())
        vec = torch.stack(parts, 1)  # (B, K, C)
        self.last_part_norms = vec.detach().norm(dim=2)
        attention = torch.stack(maps, 1).view(b, self.n_parts, h, w)
        return {"logits": self.fc(vec.flatten(1)), "attention": attention, "aux_loss": features.new_zeros(())}
