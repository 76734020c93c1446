"""Saliency metrics (MIT / Tübingen benchmark definitions), batched in torch.

Every metric takes the saliency map (the prediction) first, then what it is scored against:

- *fixation metrics* ``(saliency, fixations)``: :func:`nss`, :func:`auc_judd`, :func:`auc_borji`,
  :func:`auc_shuffled` (plus ``other_fixations``) and :func:`information_gain` (plus ``baseline``);
- *map metrics* ``(saliency, reference)``: :func:`cc`, :func:`kld`, :func:`sim`, :func:`emd` and
  :func:`iou_topk`, the reference being the human fixation-density map.

Inputs
------
``saliency`` is a ``(H, W)`` map or a ``(B, H, W)`` batch (a ``(B, 1, H, W)`` batch is read as
``(B, H, W)``), a numpy array or a torch tensor on any device. ``fixations`` is either a fixation
*count map* of the same shape (fixations per pixel, >= 0; see
:func:`gazelab.preprocessing.maps.fixation_map`) or, with a single map, an ``(N, 2)`` array of
``(x, y)`` positions in image px, binned like :func:`~gazelab.preprocessing.maps.fixation_map`
(pixel ``(floor(y), floor(x))``; positions outside the image are dropped); an array of the
map's own shape is always read as a count map. Reference and
baseline maps have the saliency map's shape.

Outputs
-------
A Python float for a single map; for a batch, a 1-D array of length B of the input's library
(numpy in, numpy out; a tensor in, a tensor on the same device out). Computation stays on the
input's device (torch ops throughout) except :func:`emd`, whose linear program is solved by
scipy on the CPU. Float inputs keep their dtype (float32 on a GPU stays float32); the ROC
metrics always rank in float64.

Conventions
-----------
``convention='mit'`` (default) follows the MIT saliency benchmark's MATLAB code
(``cvzoya/saliency/code_forMetrics``); ``convention='pysaliency'`` follows pysaliency 0.2.22,
the Tübingen benchmark's library, where they differ (see ``docs/metrics.md`` for every case):

- NSS: MIT uses the sample standard deviation (N - 1) and each fixated *pixel* once (a binary
  fixation map); pysaliency the population standard deviation and every fixation (a pixel
  fixated twice counts twice).
- AUC-Judd: MIT counts each fixated pixel once; pysaliency every fixation. Both break ties
  with tiny random noise by default (``jitter``).
- KLD: MIT adds ``eps = 2.2204e-16`` inside the log and the quotient; pysaliency's
  ``image_based_kl_divergence`` adds ``1e-20`` to both maps before normalising.
- SIM: MIT min-max-normalises each map before normalising it to sum 1; pysaliency only shifts
  maps with negative values.
- Shuffled AUC: MIT samples, in each of 100 splits, as many of the other fixations as there are
  fixated pixels and uses 11 fixed thresholds; pysaliency uses all other fixations and the
  exact ROC.
- Information gain: MIT adds ``eps`` inside the logs and counts fixated pixels once;
  pysaliency takes plain logs of the densities and counts every fixation.

Two choices of ours for cases the benchmarks leave undefined (MIT returns NaN): a constant
saliency map scores NSS = CC = 0 (chance; as pysaliency), and an all-zero saliency map is read
as the uniform density by KLD, SIM and information gain. Empty fixations, an all-zero
reference map and shape mismatches raise :class:`~gazelab.errors.ParameterError`.

References
----------
Bylinskii, Judd, Oliva, Torralba & Durand, "What do different evaluation metrics tell us about
saliency models?", IEEE TPAMI 41(3), 2019. Kümmerer, Wallis & Bethge, "Information-theoretic model
comparison unifies saliency metrics", PNAS 112(52), 2015, and "Saliency benchmarking made easy",
ECCV 2018. Judd, Ehinger, Durand & Torralba, "Learning to predict where humans look", ICCV 2009.
Borji, Tavakoli, Sihite & Itti, "Analysis of scores, datasets, and models in visual saliency
prediction", ICCV 2013. Peters, Iyer, Itti & Koch, "Components of bottom-up gaze allocation in
natural images", Vision Research 45, 2005. Rubner, Tomasi & Guibas, "The earth mover's distance as
a metric for image retrieval", IJCV 40(2), 2000.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from gazelab.analysis.metrics._base import JITTER, MIT_EPS, PYSALIENCY_KLD_MINIMUM, Convention, Needs
from gazelab.errors import ParameterError

__all__ = [
    "DEFAULT_SUITE",
    "JITTER",
    "METRICS",
    "MIT_EPS",
    "PYSALIENCY_KLD_MINIMUM",
    "Convention",
    "MetricSpec",
    "auc_borji",
    "auc_judd",
    "auc_shuffled",
    "cc",
    "emd",
    "information_gain",
    "iou_topk",
    "kld",
    "nss",
    "register_metric",
    "score",
    "sim",
]


# --------------------------------------------------------------------------------------------
# registry
# --------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class MetricSpec:
    """A registered metric.

    Attributes
    ----------
    name : str
        Registry key (e.g. ``'nss'``).
    function : callable
        The metric function.
    needs : {'fixations', 'map', 'fixations+others', 'fixations+baseline'}
        What it is scored against after the saliency map: a fixation count map; a reference
        map; fixations plus other stimuli's fixations (shuffled AUC); fixations plus a baseline
        map (information gain).
    higher_is_better : bool
        False for the distances (KLD, EMD).
    chance : float or None
        The score of an uninformative (constant) prediction where it is fixed by definition
        (AUCs 0.5, NSS 0, CC 0, IG 0), else None.
    """

    name: str
    function: Callable[..., Any]
    needs: Needs
    higher_is_better: bool
    chance: float | None = None


#: Name -> :class:`MetricSpec` of every registered metric.
METRICS: dict[str, MetricSpec] = {}
_NEEDS = ("fixations", "map", "fixations+others", "fixations+baseline")


def register_metric(
    name: str, *, needs: Needs, higher_is_better: bool = True, chance: float | None = None
) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Decorator adding a metric function to :data:`METRICS` under ``name``.

    Raises
    ------
    ParameterError
        If ``name`` is already registered or ``needs`` is not one of the four kinds.
    """
    if needs not in _NEEDS:
        raise ParameterError("needs", needs, f"one of {list(_NEEDS)}")

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        if name in METRICS:
            raise ParameterError(
                "name", name, f"a metric name not yet registered (taken by {METRICS[name].function.__qualname__})"
            )
        METRICS[name] = MetricSpec(name, fn, needs, higher_is_better, chance)
        return fn

    return decorate


# The metrics, one module per family; adding one is a new function plus one line here.
from gazelab.analysis.metrics.distribution import cc, iou_topk, kld, sim  # noqa: E402
from gazelab.analysis.metrics.fixation import information_gain, nss  # noqa: E402
from gazelab.analysis.metrics.roc import auc_borji, auc_judd, auc_shuffled  # noqa: E402
from gazelab.analysis.metrics.transport import emd  # noqa: E402

register_metric("nss", needs="fixations", chance=0.0)(nss)
register_metric("auc_judd", needs="fixations", chance=0.5)(auc_judd)
register_metric("auc_borji", needs="fixations", chance=0.5)(auc_borji)
register_metric("auc_shuffled", needs="fixations+others", chance=0.5)(auc_shuffled)
register_metric("information_gain", needs="fixations+baseline", chance=0.0)(information_gain)
register_metric("cc", needs="map", chance=0.0)(cc)
register_metric("kld", needs="map", higher_is_better=False, chance=None)(kld)
register_metric("sim", needs="map", chance=None)(sim)
register_metric("emd", needs="map", higher_is_better=False, chance=None)(emd)
register_metric("iou_topk", needs="map", chance=None)(iou_topk)

from gazelab.analysis.metrics.suite import DEFAULT_SUITE, score  # noqa: E402
