"""Analysis: saliency metrics, human baselines, model attention and the model-vs-human comparison.

- :mod:`~gazelab.analysis.metrics`: the standard saliency metrics (AUC-Judd, AUC-Borji, shuffled
  AUC, NSS, CC, KLD, SIM, information gain, EMD, top-k IoU), batched, MIT conventions by default
  (``docs/metrics.md``).
- :mod:`~gazelab.analysis.baselines`: the centre-bias baseline and the inter-observer ceiling.
- :mod:`~gazelab.analysis.attention`: CAM, Grad-CAM, Grad-CAM++, attention rollout and attention
  modules' own maps from any classifier (``docs/analysis.md``).
- :mod:`~gazelab.analysis.compare`: ``gazelab compare``, the per-stimulus comparison and report.
- :mod:`~gazelab.analysis.stats`: bootstrap intervals and the alignment-vs-performance correlation.

Works on any ``nn.Module``; never imports :mod:`gazelab.models`. The model zoo, attention
extraction and comparison runner (torchvision, captum, grad-cam) load on first use.
"""

from typing import Any

from gazelab.analysis.baselines import (
    CentreBias,
    centre_bias_map,
    centre_bias_scores,
    dataset_centre_bias,
    inter_observer,
)
from gazelab.analysis.metrics import (
    METRICS,
    MetricSpec,
    auc_borji,
    auc_judd,
    auc_shuffled,
    cc,
    emd,
    information_gain,
    iou_topk,
    kld,
    nss,
    register_metric,
    sim,
)
from gazelab.analysis.stats import alignment_performance_correlation, bootstrap_ci

_LAZY = {
    "extract_attention": "attention",
    "run_attention": "attention",
    "ATTENTION_METHODS": "attention",
    "available_methods": "attention",
    "register_attention_method": "attention",
    "build_model": "zoo",
    "available_models": "zoo",
    "ZooModel": "zoo",
    "compare": "compare",
    "ComparisonReport": "compare",
}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"gazelab.analysis.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'gazelab.analysis' has no attribute {name!r}")


__all__ = [
    "ATTENTION_METHODS",
    "METRICS",
    "CentreBias",
    "ComparisonReport",
    "MetricSpec",
    "ZooModel",
    "alignment_performance_correlation",
    "auc_borji",
    "auc_judd",
    "auc_shuffled",
    "available_methods",
    "available_models",
    "bootstrap_ci",
    "build_model",
    "cc",
    "centre_bias_map",
    "centre_bias_scores",
    "compare",
    "dataset_centre_bias",
    "emd",
    "extract_attention",
    "information_gain",
    "inter_observer",
    "iou_topk",
    "kld",
    "nss",
    "register_attention_method",
    "register_metric",
    "run_attention",
    "sim",
]
