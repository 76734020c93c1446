"""Reference metric values from pysaliency (the peer) for ``tests/analysis/test_metrics.py``.

Run in the benchmark environment, where pysaliency 0.2.22 is installed::

    .venv-bench/bin/python benchmarks/make_pysaliency_reference.py

It draws (seed ``SEED``) five small saliency maps of 40 x 50 px chosen to exercise the places
where conventions differ (a smooth map, one with large exactly-zero regions (ties), one with
negative values, one with a positive minimum, white noise), 15 fixations per map (continuous
image px; maps 0 and 3 get repeated fixations in the same pixel), a Gaussian-blurred fixation map
per image as the human reference, and a strictly positive centre-Gaussian baseline density. It
then scores them with pysaliency's own functions and models and writes inputs and results to
``tests/analysis/data/pysaliency_reference.npz`` (about 100 kB), so the tests compare gazelab
with the peer without pysaliency installed.

pysaliency calls (per image i):

- ``nss``: ``pysaliency.metrics.NSS(map, xs, ys).mean()`` (every fixation; population std)
- ``cc``: ``pysaliency.metrics.CC(map, reference)``
- ``sim``: ``pysaliency.metrics.SIM(map, reference)``
- ``kld_mit``: ``pysaliency.metrics.MIT_KLDiv(map, reference)``
- ``kld_pysaliency``: ``pysaliency.metrics.image_based_kl_divergence(map, reference)``
- ``auc_judd`` / ``auc_judd_jitter``: ``SaliencyMapModel.AUC_Judd(stimuli, fixations_i, jitter=False / True)``
- ``auc_shuffled``: ``SaliencyMapModel.AUC_per_image(stimuli, fixations, nonfixations='shuffled')``
- ``information_gain``: ``Model.information_gain(stimuli, fixations_i, baseline_model)`` with both
  models' log densities the log of the normalised map (bits per fixation)
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
from bench_maps import dist_version, import_pysaliency
from scipy.ndimage import gaussian_filter

SEED = 20261126
H, W = 40, 50
N_MAPS, N_FIX = 5, 15
OUT = Path(__file__).resolve().parents[1] / "tests" / "analysis" / "data" / "pysaliency_reference.npz"


def make_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    smooth = [gaussian_filter(rng.standard_normal((H, W)), 3.0, mode="reflect") for _ in range(4)]
    maps = np.stack(
        [
            smooth[0] - smooth[0].min(),  # smooth, min 0
            np.maximum(smooth[1] - np.quantile(smooth[1], 0.6), 0.0),  # 60 % exact zeros: ties
            smooth[2] - smooth[2].mean(),  # negative values
            smooth[3] - smooth[3].min() + 0.5 * np.ptp(smooth[3]),  # positive minimum
            rng.uniform(0, 1, (H, W)),  # white noise
        ]
    )
    xs, ys, ns = [], [], []
    for i in range(N_MAPS):
        x = rng.uniform(0, W, N_FIX)
        y = rng.uniform(0, H, N_FIX)
        if i in (0, 3):  # repeated fixations in one pixel (duplicates count differently in MIT / pysaliency)
            x[-3:] = np.floor(x[0]) + rng.uniform(0, 1, 3)
            y[-3:] = np.floor(y[0]) + rng.uniform(0, 1, 3)
        xs.append(x)
        ys.append(y)
        ns.append(np.full(N_FIX, i))
    x, y, n = np.concatenate(xs), np.concatenate(ys), np.concatenate(ns)
    refs = np.zeros((N_MAPS, H, W))
    for i in range(N_MAPS):
        c = np.zeros((H, W))
        np.add.at(c, (y[n == i].astype(int), x[n == i].astype(int)), 1.0)
        refs[i] = gaussian_filter(c, 2.5, mode="reflect")
    yy, xx = np.mgrid[0:H, 0:W]
    baseline = np.exp(-0.5 * (((xx + 0.5 - W / 2) / (0.3 * W)) ** 2 + ((yy + 0.5 - H / 2) / (0.3 * H)) ** 2))
    return {"maps": maps, "references": refs, "baseline": baseline / baseline.sum(), "x": x, "y": y, "n": n}


def main() -> None:
    psal, notes = import_pysaliency()
    if psal is None:
        sys.exit("pysaliency is not importable here: " + "; ".join(notes))
    if not hasattr(np, "trapz"):  # pysaliency's ROC code calls np.trapz, removed in numpy 2.4
        np.trapz = np.trapezoid  # noqa: NPY201 # type: ignore[attr-defined]
    from pysaliency import metrics as pm
    from pysaliency.models import Model
    from pysaliency.saliency_map_models import SaliencyMapModel

    rng = np.random.default_rng(SEED)
    data = make_inputs(rng)
    maps, refs, x, y, n = data["maps"], data["references"], data["x"], data["y"], data["n"]
    # stimulus i is an image filled with the value i, so the models can look their map up
    stimuli = psal.Stimuli([np.full((H, W, 3), i, dtype=np.uint8) for i in range(N_MAPS)])
    fixations = psal.Fixations.create_without_history(x, y, n)

    class Maps(SaliencyMapModel):
        def _saliency_map(self, stimulus):  # type: ignore[no-untyped-def]
            return maps[int(stimulus[0, 0, 0])]

    class Density(Model):
        def __init__(self, dens):  # type: ignore[no-untyped-def]
            super().__init__(caching=False)
            self.dens = dens

        def _log_density(self, stimulus):  # type: ignore[no-untyped-def]
            d = self.dens[int(stimulus[0, 0, 0])]
            return np.log(d / d.sum())

    model = Maps(caching=False)
    positive = maps - maps.min(axis=(1, 2), keepdims=True)  # densities must be > 0 at fixations for plain logs
    positive = positive + 0.05 * positive.max(axis=(1, 2), keepdims=True)
    prob = Density(positive)
    base = Density(np.repeat(data["baseline"][None], N_MAPS, 0))
    results: dict[str, list[float]] = {
        k: []
        for k in (
            "nss",
            "cc",
            "sim",
            "kld_mit",
            "kld_pysaliency",
            "auc_judd",
            "auc_judd_jitter",
            "auc_shuffled",
            "information_gain",
        )
    }
    shuffled = model.AUC_per_image(stimuli, fixations, nonfixations="shuffled")
    for i in range(N_MAPS):
        sel = n == i
        fi = fixations[sel]
        m, r = maps[i], refs[i]
        results["nss"].append(float(pm.NSS(m, x[sel], y[sel]).mean()))
        results["cc"].append(float(pm.CC(m, r)))
        results["sim"].append(float(pm.SIM(m, r)))
        results["kld_mit"].append(float(pm.MIT_KLDiv(m, r)))
        results["kld_pysaliency"].append(float(pm.image_based_kl_divergence(m, r)))
        results["auc_judd"].append(float(model.AUC_Judd(stimuli, fi, jitter=False)))
        results["auc_judd_jitter"].append(float(model.AUC_Judd(stimuli, fi, jitter=True)))
        results["auc_shuffled"].append(float(shuffled[i]))
        results["information_gain"].append(float(prob.information_gain(stimuli, fi, base)))
    meta = {
        "seed": SEED,
        "pysaliency": dist_version("pysaliency"),
        "numpy": np.__version__,
        "script": "benchmarks/make_pysaliency_reference.py",
        "notes": notes,
    }
    OUT.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(
        OUT,
        **data,
        density=positive,
        **{f"ref_{k}": np.asarray(v) for k, v in results.items()},
        meta=np.array(json.dumps(meta)),
    )
    print(f"wrote {OUT} ({OUT.stat().st_size / 1e3:.0f} kB); pysaliency {meta['pysaliency']}")
    for k, v in results.items():
        print(f"{k:18s} " + " ".join(f"{t:9.6f}" for t in v))


if __name__ == "__main__":
    main()
