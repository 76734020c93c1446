"""Saliency metrics: gazelab.analysis.metrics (batched, torch) against pysaliency, per map.

Input (made here, seeded)
    ``--distinct`` (default 100) smooth random saliency maps and as many human reference maps of
    480x640 px (float64; bilinear upsampling of 12x16 noise, >= 0), scored ``--maps`` (default
    1,000) times: score i uses map ``i % distinct``, reference ``i % distinct`` and its own 20
    fixations (uniform, continuous image px). 100 distinct 2.4 MB maps are 240 MB, far beyond
    the caches, so reusing them does not flatter either side; it keeps the input in memory.

What is measured (all in this one process, interleaved: each repeat times every metric for
pysaliency and then for gazelab on the same 1,000 scorings; median of ``--repeats`` repeats after
one untimed warm-up of each)
    - pysaliency 0.2.22, the functions its models call per image: ``metrics.NSS(map, xs, ys).mean()``,
      ``metrics.CC``, ``metrics.SIM``, ``metrics.MIT_KLDiv``; AUC-Judd as ``SaliencyMapModel.AUC_Judd``
      does it (map + 1e-7 Gaussian jitter, ``_get_unfixated_values``, ``roc.general_roc(judd=1)``);
      shuffled AUC as ``AUC_per_image(nonfixations='shuffled')`` does it (``general_roc`` of the
      values at the fixations vs the values at the 20 x 999 other maps' fixations, the mask of the
      other fixations built per call). The model layer (stimulus hashing, caching) is left out,
      which favours pysaliency.
    - gazelab: the same metrics (``convention='pysaliency'`` where conventions differ; AUC-Judd
      with its own jitter) called on numpy batches of ``--batch`` maps, as a user passes them: the
      conversion to torch (zero copy) counts, and the fixations are passed as points, a
      ``(B, 20, 2)`` array of (x, y) px (the layout of ``gazelab.datasets.collate_gaze``); the
      shuffled-AUC negatives as one ``(19980, 2)`` array of the other scorings' fixations per map,
      built inside the timing (``np.delete``) as pysaliency builds its mask.
    - a second gazelab row per fixation metric (``... (count maps)``) passes fixation count maps
      instead of points, built outside the timing (reported, not in the ratio).
Threads: one for both (``torch.set_num_threads(1)``; ``OMP/OPENBLAS/MKL_NUM_THREADS=1`` set before
numpy is imported): pysaliency's numpy code is single-threaded, and so is gazelab's CPU path.
Agreement: max abs difference between the two per metric on the first ``--check`` scorings
(AUC-Judd without jitter on both).

The last line is the ratio of pysaliency's ms per map over gazelab's: the geometric mean over
the six metrics and the smallest one.
Usage: ``python benchmarks/bench_metrics.py [--maps 1000] [--distinct 100] [--batch 100] [--repeats 5]``
(in .venv-bench, where pysaliency is installed).
"""

from __future__ import annotations

import os

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import argparse  # noqa: E402
import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_maps import dist_version, import_pysaliency  # noqa: E402
from scipy.ndimage import zoom  # noqa: E402

from gazelab.analysis import metrics as M  # noqa: E402

H, W, K = 480, 640, 20
MALLOC = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def run_once(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=1000)
    ap.add_argument("--distinct", type=int, default=100)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--check", type=int, default=200, help="scorings compared for agreement")
    ap.add_argument("--seed", type=int, default=20261126)
    args = ap.parse_args()
    torch.set_num_threads(1)
    psal, notes = import_pysaliency()
    if psal is None:
        raise SystemExit("pysaliency unavailable: " + "; ".join(notes))
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # noqa: NPY201 # type: ignore[attr-defined]  # pysaliency's ROC code needs it
    from pysaliency import metrics as pm
    from pysaliency.roc import general_roc
    from pysaliency.saliency_map_models import _get_unfixated_values

    n, d, bs = args.maps, args.distinct, args.batch
    rng = np.random.default_rng(args.seed)
    maps = np.stack([np.clip(zoom(rng.uniform(0, 1, (12, 16)), 40, order=1), 0, None) for _ in range(d)])
    refs = np.stack([np.clip(zoom(rng.uniform(0, 1, (12, 16)), 40, order=1), 0, None) ** 3 for _ in range(d)])
    xs = rng.uniform(0, W, (n, K))
    ys = rng.uniform(0, H, (n, K))
    xi, yi = xs.astype(int), ys.astype(int)
    pts = np.stack([xs, ys], -1)  # (n, K, 2) (x, y) px
    all_pts = pts.reshape(-1, 2)
    print(f"# bench_metrics: {n} scorings of {H}x{W} float64 maps ({d} distinct), {K} fixations each")
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} thread), numpy {np.__version__}, "
        f"pysaliency {dist_version('pysaliency')}, {os.cpu_count()} CPUs, BLAS/OMP threads "
        f"{os.environ.get('OPENBLAS_NUM_THREADS')}; batch {bs}; median of {args.repeats} interleaved repeats "
        f"after a warm-up; glibc malloc env: { ({v: os.environ[v] for v in MALLOC if v in os.environ} or 'default') }"
    )
    for note in notes:
        print(note)

    starts = list(range(0, n, bs))
    sels = [np.arange(i0, min(i0 + bs, n)) for i0 in starts]

    # numpy batches: views of the same arrays pysaliency reads when the batch divides --distinct
    # (copies, made untimed, otherwise)
    def rows(a, sel):
        i0 = int(sel[0] % d)
        return (
            a[i0 : i0 + len(sel)] if i0 + len(sel) <= d and np.all(sel % d == i0 + np.arange(len(sel))) else a[sel % d]
        )

    s_b = [rows(maps, sel) for sel in sels]
    r_b = [rows(refs, sel) for sel in sels]
    p_b = [pts[sel] for sel in sels]
    c_b = []  # count maps, for the count-map rows
    for sel in sels:
        c = np.zeros((len(sel), H * W))
        np.add.at(c, (np.repeat(np.arange(len(sel)), K), (yi[sel] * W + xi[sel]).ravel()), 1.0)
        c_b.append(c.reshape(len(sel), H, W))

    def others(sel):  # the other scorings' fixations, one (n - 1) * K x 2 array per map
        return [np.delete(all_pts, slice(i * K, (i + 1) * K), axis=0) for i in sel]

    def ours_all(fn):
        return lambda: [fn(j) for j in range(len(sels))]

    ours = {
        "NSS": lambda j: M.nss(s_b[j], p_b[j], convention="pysaliency"),
        "CC": lambda j: M.cc(s_b[j], r_b[j]),
        "SIM": lambda j: M.sim(s_b[j], r_b[j], convention="pysaliency"),
        "KLD (MIT)": lambda j: M.kld(s_b[j], r_b[j]),
        "AUC-Judd": lambda j: M.auc_judd(s_b[j], p_b[j], convention="pysaliency"),
        "sAUC": lambda j: M.auc_shuffled(s_b[j], p_b[j], others(sels[j]), convention="pysaliency"),
    }
    extra = {
        "NSS (count maps)": lambda j: M.nss(s_b[j], c_b[j], convention="pysaliency"),
        "AUC-Judd (count maps)": lambda j: M.auc_judd(s_b[j], c_b[j], convention="pysaliency"),
        "AUC-Judd (no jitter)": lambda j: M.auc_judd(s_b[j], p_b[j], convention="pysaliency", jitter=False),
    }
    noise = np.random.RandomState(42)

    def judd(i, jitter=True):
        m = maps[i % d] + (noise.randn(H, W) * 1e-7 if jitter else 0.0)
        return general_roc(m[yi[i], xi[i]].astype(float), _get_unfixated_values(m, yi[i], xi[i]), judd=1)[0]

    def sauc(i):
        m = maps[i % d]
        mask = np.ones(n, bool)
        mask[i] = False
        return general_roc(m[yi[i], xi[i]], m[yi[mask].ravel(), xi[mask].ravel()], judd=0)[0]

    peer = {
        "NSS": lambda i: pm.NSS(maps[i % d], xs[i], ys[i]).mean(),
        "CC": lambda i: pm.CC(maps[i % d], refs[i % d]),
        "SIM": lambda i: pm.SIM(maps[i % d], refs[i % d]),
        "KLD (MIT)": lambda i: pm.MIT_KLDiv(maps[i % d], refs[i % d]),
        "AUC-Judd": judd,
        "sAUC": sauc,
    }
    # agreement (untimed)
    diffs = {}
    n_check = min(args.check, n)
    for name in ours:
        mine = []
        for j, sel in enumerate(sels):
            if sel[0] >= n_check:
                break
            v = (
                M.auc_judd(s_b[j], p_b[j], convention="pysaliency", jitter=False)
                if name == "AUC-Judd"
                else ours[name](j)
            )
            mine.extend(np.asarray(v)[sel < n_check])
        theirs = [judd(i, False) if name == "AUC-Judd" else peer[name](i) for i in range(n_check)]
        diffs[name] = float(np.abs(np.array(mine) - np.array(theirs)).max())
    for name in extra:  # the count-map rows score the same as the points rows
        ours_name = "NSS" if name.startswith("NSS") else "AUC-Judd"
        a = np.asarray(extra[name](0))
        b = np.asarray(ours[ours_name](0) if "no jitter" not in name else extra[name](0))
        diffs[name] = float(np.abs(a - b).max()) if "no jitter" not in name else diffs["AUC-Judd"]
    # timing: warm-up, then repeats interleaved (peer, ours, for each metric in turn)
    t_peer = {k: [] for k in peer}
    t_ours = {k: [] for k in [*ours, *extra]}
    for rep in range(args.repeats + 1):
        for name in [*ours, *extra]:
            if name in peer:
                t = run_once(lambda name=name: [peer[name](i) for i in range(n)])
                if rep:
                    t_peer[name].append(t)
            fn = ours.get(name) or extra[name]
            t = run_once(ours_all(fn))
            if rep:
                t_ours[name].append(t)
    rows = []
    for name in [*ours, *extra]:
        peer_name = name if name in peer else ("NSS" if name.startswith("NSS") else "AUC-Judd")
        tp = statistics.median(t_peer[peer_name]) / n * 1e3
        to = statistics.median(t_ours[name]) / n * 1e3
        rows.append((name, tp, to, diffs[name]))
    print()
    print("| metric | pysaliency ms/map | gazelab ms/map | ratio | max abs diff |")
    print("|---|---|---|---|---|")
    for name, tp, to, diff in rows:
        print(f"| {name} | {tp:.3f} | {to:.3f} | {tp / to:.1f}x | {diff:.1e} |")
    main_rows = [r for r in rows if r[0] in ours]
    ratios = {name: tp / to for name, tp, to, _ in main_rows}
    geo = float(np.exp(np.mean(np.log(list(ratios.values())))))
    worst = min(ratios, key=ratios.get)
    print(
        f"ratio (pysaliency / gazelab ms per map, {len(ratios)} metrics): geometric mean {geo:.1f}x, "
        f"min {ratios[worst]:.1f}x ({worst})"
    )


if __name__ == "__main__":
    main()
