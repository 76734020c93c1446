"""End-to-end comparison on the real NUS scene dataset: EfficientNet-Lite0 (ImageNet) attention vs human gaze.

Input
    A gazelab import of the NUS scene release (500 SUN2012 images, 12 observers; ``gazelab import
    nus-scene ../shared/data/nus-scene --out scene.h5``), given as the first argument (default
    ``/tmp/scene.h5``).

What is run
    :func:`gazelab.analysis.compare.compare` with the pretrained EfficientNet-Lite0 from the
    offline wheel, for each method in ``--methods`` (default Grad-CAM and Grad-CAM++) and each
    layer in ``--layers`` (default ``head``, the last 1x1 conv, 7x7 grid, and ``blocks.10``,
    the last block of stage 5, 14x14 grid), scoring every stimulus against each held-out
    observer (the ceiling's footing) with CC, NSS, KLD, SIM, AUC-Judd and shuffled AUC, with
    the centre-bias baseline and the inter-observer ceiling, 2,000 bootstrap resamples. Maps
    are scored at a longer side of 256 px (the dataset's usual size; larger photographs are
    scaled down). Centre-bias and ceiling scores are computed by the first run and cached
    (``compare-baselines-cache.csv``) for the others.

Output
    One report folder per run under ``--out`` (default ``out/``), e.g.
    ``out/compare-gradcam-head/``; the script prints each run's summary and wall time, and
    a final table: per run and metric, centre bias / model / ceiling means with 95% CIs.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from gazelab.analysis.compare import compare


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("dataset", nargs="?", default="/tmp/scene.h5")
    ap.add_argument("--methods", nargs="+", default=["gradcam", "gradcampp"])
    ap.add_argument("--layers", nargs="+", default=["head", "blocks.10"])
    ap.add_argument("--out", default="out")
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--device", default=None)
    args = ap.parse_args()
    lines = []
    for method in args.methods:
        for layer in args.layers:
            out = Path(args.out) / f"compare-{method}-{layer.replace('.', '')}"
            t0 = time.perf_counter()
            report = compare(
                args.dataset,
                model="efficientnet_lite0",
                method=method,
                layer=layer,
                out=out,
                batch_size=args.batch_size,
                device=args.device,
                progress=True,
                baseline_cache=Path(args.out) / "compare-baselines-cache.csv",
            )
            print(report.text(), f"\n  wall time {time.perf_counter() - t0:.1f} s", flush=True)
            for metric in ("cc", "nss", "auc_judd", "auc_shuffled", "kld", "sim"):
                cells = []
                for source in ("centre_bias", "model", "ceiling", "normalised"):
                    m, lo, hi = report.score(metric, source)
                    cells.append(f"{m:.3f} [{lo:.3f}, {hi:.3f}]")
                lines.append(f"| {method} | {layer} | {metric} | " + " | ".join(cells) + " |")
    print("| method | layer | metric | centre bias | model | ceiling | normalised |")
    print("|---|---|---|---|---|---|---|")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
