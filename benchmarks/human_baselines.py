"""Human baselines of a gazelab release: inter-observer consistency (the ceiling) and the centre bias.

Usage::

    python benchmarks/human_baselines.py DATASET.h5 [--out DIR] [--stimuli N]

Build the nus-scene release first with ``gazelab import nus-scene ../shared/data/nus-scene -o
scene.h5``. For every stimulus and every observer, the map of the other observers' fixations
(leave one observer out; the stimulus' stored sigma) and the dataset-fitted centre-bias map are
scored against the held-out observer's fixations (``gazelab.analysis.baselines.inter_observer``);
the centre bias is also scored against all observers' fixations, as a benchmark scores a model
(``centre_bias_scores``). Reported: the mean over stimuli of the per-stimulus mean (and its sd),
next to published figures for MIT300 / MIT1003 (see docs/metrics.md for sources).

Writes ``inter_observer.csv``, ``centre_bias.csv`` and ``summary.csv`` to ``--out`` (default
``out/human-baselines``). Maps are scored at a working resolution with the longer side at most
``--max-side`` px (default 512; positions and sigma scaled alike; 0 = the images' own size).
Each score is reported as the mean over stimuli with a 95 % percentile bootstrap CI over stimuli.
The published figures are quoted from memory (marked unverified). The last line is the
inter-observer / centre-bias NSS ratio.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd

from gazelab.analysis.baselines import (
    DEFAULT_METRICS,
    IG_CENTRE_WEIGHT,
    centre_bias_scores,
    dataset_centre_bias,
    inter_observer,
)
from gazelab.analysis.stats import bootstrap_ci

#: Published MIT300 figures (Bylinskii et al., TPAMI 2019, Table of baselines, and the MIT/Tuebingen
#: benchmark site): "infinite humans" (the limit of many observers) and the centre baseline.
PUBLISHED = {
    "MIT300 infinite humans": {
        "auc_judd": 0.92,
        "auc_borji": 0.88,
        "auc_shuffled": 0.81,
        "nss": 3.29,
        "cc": 1.0,
        "sim": 1.0,
        "kld": 0.0,
    },
    "MIT300 centre baseline": {
        "auc_judd": 0.78,
        "auc_borji": 0.77,
        "auc_shuffled": 0.51,
        "nss": 0.92,
        "cc": 0.38,
        "sim": 0.39,
        "kld": 1.24,
    },
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", type=Path)
    ap.add_argument("--out", type=Path, default=Path("out/human-baselines"))
    ap.add_argument("--stimuli", type=int, default=None, help="only the first N stimuli (default all)")
    ap.add_argument("--max-side", type=int, default=512, help="working resolution: longer side in px (0: full)")
    ap.add_argument("--n-boot", type=int, default=2000)
    args = ap.parse_args()
    if not args.dataset.is_file():
        sys.exit(f"dataset not found: {args.dataset}")
    rows = None if args.stimuli is None else range(args.stimuli)
    max_side = args.max_side or None
    t0 = time.perf_counter()
    params = dataset_centre_bias(args.dataset)
    print(f"# human baselines of {args.dataset} (working resolution: longer side <= {max_side or 'full'} px)")
    print(
        f"centre bias fitted to {params.n_fixations} fixations: mean ({params.mean_x:.3f}, {params.mean_y:.3f}), "
        f"sd ({params.std_x:.3f}, {params.std_y:.3f}) of (width, height); information gain of the rest maps "
        f"after mixing in {IG_CENTRE_WEIGHT:.0%} centre bias"
    )
    scores, summary = inter_observer(args.dataset, stimuli=rows, centre_bias=params, max_side=max_side, progress=False)
    t_io = time.perf_counter() - t0
    cb = centre_bias_scores(args.dataset, stimuli=rows, centre_bias=params, max_side=max_side, progress=False)
    args.out.mkdir(parents=True, exist_ok=True)
    scores.to_csv(args.out / "inter_observer.csv", index=False)
    cb.to_csv(args.out / "centre_bias.csv", index=False)
    summary.to_csv(args.out / "summary_long.csv", index=False)
    metrics = list(DEFAULT_METRICS)

    def cell(mean, lo, hi):
        return f"{mean:.3f} [{lo:.3f}, {hi:.3f}]"

    table = pd.DataFrame(index=metrics)
    for source in ("inter_observer", "centre_bias"):
        s = summary[summary.source == source].set_index("metric")
        table[source] = [cell(s.loc[m, "mean"], s.loc[m, "ci_low"], s.loc[m, "ci_high"]) for m in metrics]
    cb_cells = []
    for m in metrics:
        ci = bootstrap_ci(cb[m].dropna().to_numpy(), n_boot=args.n_boot)
        cb_cells.append(cell(ci.estimate, ci.low, ci.high))
    table["centre_bias_all_observers"] = cb_cells
    for name, vals in PUBLISHED.items():
        table[name + " (unverified)"] = [f"{vals[m]:.2f}" if m in vals else "" for m in metrics]
    table.index.name = "metric"
    table.to_csv(args.out / "summary.csv")
    n_stim = scores["stimulus"].nunique()
    wall = time.perf_counter() - t0
    print(
        f"{n_stim} stimuli, {len(scores) // 2} held-out observer x stimulus pairs; wall {wall:.0f} s "
        f"(inter-observer {t_io:.0f} s)"
    )
    print("mean over stimuli [95 % bootstrap CI over stimuli]")
    print(table.to_markdown() if _has_tabulate() else table.to_string())
    io_nss = summary.set_index(["source", "metric"]).loc[("inter_observer", "nss"), "mean"]
    cb_nss = summary.set_index(["source", "metric"]).loc[("centre_bias", "nss"), "mean"]
    print(f"inter-observer NSS / centre-bias NSS (one held-out observer): {io_nss / cb_nss:.2f}x")


def _has_tabulate() -> bool:
    try:
        import tabulate  # noqa: F401
    except ImportError:
        return False
    return True


if __name__ == "__main__":
    main()
