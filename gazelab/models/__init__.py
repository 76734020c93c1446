"""Models: attention modules on torchvision trunks and human-attention alignment training.

- :class:`AttentionNet`: a trunk (AlexNet, VGG, ResNet, the offline pretrained EfficientNet-Lite0)
  with an attention head (``cam``, ``spatial``, ``aib``, ``brnpa``); ``forward`` returns
  ``{'logits', 'attention', 'aux_loss'}``.
- :mod:`~gazelab.models.losses`: alignment losses (KL, 1 - CC, NSS-based, MSE, the Neural
  Harmonizer's pyramid) and lambda schedules.
- :func:`align`: the training loop (task or distillation + lambda * alignment of the head's map or
  the input-gradient saliency), with checkpoints, resume and data-parallel training under torchrun
  (:mod:`~gazelab.models.distributed`); :func:`recipe` gives named presets (the Harmonizer's).
- :func:`make_distractor_task`: an attention-driven task built from (simulated) gaze.
"""

from gazelab.models.aib import AIBHead
from gazelab.models.backbones import BACKBONES, build_trunk
from gazelab.models.brnpa import BRNPAHead
from gazelab.models.heads import CAMHead, SpatialAttentionHead
from gazelab.models.losses import LOSSES, LambdaSchedule, alignment_loss
from gazelab.models.net import HEADS, AttentionNet, combine_attention
from gazelab.models.tasks import make_distractor_task
from gazelab.models.train import RECIPES, AlignConfig, TrainResult, align, recipe

__all__ = [
    "BACKBONES",
    "HEADS",
    "LOSSES",
    "RECIPES",
    "AIBHead",
    "AlignConfig",
    "AttentionNet",
    "BRNPAHead",
    "CAMHead",
    "LambdaSchedule",
    "SpatialAttentionHead",
    "TrainResult",
    "align",
    "alignment_loss",
    "build_trunk",
    "combine_attention",
    "make_distractor_task",
    "recipe",
]
