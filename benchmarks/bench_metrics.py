"""Saliency metric suite: gazelab.analysis.metrics against pysaliency, per map, in one process.

Input (made here, seeded)
    ``--maps`` (default 100) smooth random saliency maps and as many human reference maps of
    480x640 px (float64, 2.4 MB each; bilinear upsampling of 12x16 noise, >= 0), each map with 20
    fixations (uniform, continuous image px); the shuffled-AUC negatives of a map are the other
    maps' fixations.

What is timed (one process, one thread: ``OMP/OPENBLAS/MKL_NUM_THREADS=1`` before numpy is
imported, ``torch.set_num_threads(1)``, threadpoolctl's limit when installed; interleaved: each
repeat times every metric for pysaliency, gazelab before and gazelab now, then the suites; median
of ``--repeats`` repeats after one untimed warm-up, so page faults of first touches are not counted)
    - pysaliency 0.2.22, the functions its models call per image: ``metrics.NSS(map, xs, ys).mean()``,
      ``metrics.CC``, ``metrics.SIM``, ``metrics.image_based_kl_divergence``; AUC-Judd as
      ``SaliencyMapModel.AUC_Judd`` does it (map + 1e-7 Gaussian jitter, ``_get_unfixated_values``,
      ``roc.general_roc(judd=1)``); shuffled AUC as ``AUC_per_image(nonfixations='shuffled')`` does
      it (``general_roc`` of the values at the fixations vs those at the other maps' fixations).
      The model layer (stimulus hashing, caching) is left out, which favours pysaliency. Its
      suite time is the sum of the six.
    - gazelab now: each metric's own function on the whole batch (``convention='pysaliency'``),
      and the suite, ``metrics.score(maps, fixations=..., reference=..., other_fixations=...,
      metrics=[the six], convention='pysaliency')``: one call, shared work. Fixations are passed
      as a user passes them: a ``(B, 20, 2)`` array of (x, y) px, and a list of ``(N_i, 2)``
      arrays of the other maps' fixations.
    - gazelab before (``--before REV``, e.g. the commit before the suite): the six functions of
      ``gazelab/analysis/metrics.py`` at that git revision, loaded from ``git show`` into this
      process; its suite time is the sum of the six calls (it had no suite).
The memory floor: the time to stream the batch's maps once (``np.add.reduce``), per map; the
table says how many of those each metric costs (CC, SIM, KLD and the suite read two maps each).
Agreement: max abs difference per metric against pysaliency (AUC-Judd without jitter on both
sides) and of the suite against the single functions.

The last line is the suite's ratio, pysaliency ms per map over gazelab's.
Usage: ``python benchmarks/bench_metrics.py [--maps 100] [--repeats 5] [--before REV]``
(``make bench`` installs pysaliency).
"""

from __future__ import annotations

import os
import sys

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")
# glibc hands large temporaries back to the OS after each call, so every call of either side pays
# page faults on its 2.4 MB temporaries; keep them (both sides) unless --default-malloc
MALLOC = {"MALLOC_MMAP_THRESHOLD_": "1073741824", "MALLOC_TRIM_THRESHOLD_": "4294967296"}
if "--default-malloc" not in sys.argv and any(os.environ.get(k) != v for k, v in MALLOC.items()):
    os.execve(sys.executable, [sys.executable, *sys.argv], {**os.environ, **MALLOC})

import argparse  # noqa: E402
import importlib.util  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import torch  # noqa: E402
from bench_maps import dist_version, import_pysaliency  # noqa: E402
from scipy.ndimage import zoom  # noqa: E402

from gazelab.analysis import metrics as M  # noqa: E402

H, W, K = 480, 640, 20
NAMES = ("NSS", "CC", "SIM", "KLD", "AUC-Judd", "sAUC")
KEYS = {"NSS": "nss", "CC": "cc", "SIM": "sim", "KLD": "kld", "AUC-Judd": "auc_judd", "sAUC": "auc_shuffled"}
ROOT = Path(__file__).resolve().parents[1]


def load_before(rev: str):
    """gazelab/analysis/metrics.py (a module, before it became a package) at git revision ``rev``;
    None (said) where this checkout does not have that revision."""
    cmd = ["git", "show", f"{rev}:gazelab/analysis/metrics.py"]
    res = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True)
    if res.returncode != 0:
        print(f"before: revision {rev} not available here ({res.stderr.strip()[:120]}); not timed")
        return None
    src = res.stdout
    path = Path(tempfile.mkdtemp()) / "metrics_before.py"
    path.write_text(src)
    spec = importlib.util.spec_from_file_location("metrics_before", path)
    mod = importlib.util.module_from_spec(spec)
    sys.modules["metrics_before"] = mod
    spec.loader.exec_module(mod)
    return mod


def make_inputs(n: int, seed: int):
    """The benchmark's maps, references (H x W float64) and fixations: (maps, refs, xs, ys, (n, K, 2)
    points, the other maps' points per map)."""
    rng = np.random.default_rng(seed)
    maps = np.stack([np.clip(zoom(rng.uniform(0, 1, (12, 16)), 40, order=1), 0, None) for _ in range(n)])
    refs = np.stack([np.clip(zoom(rng.uniform(0, 1, (12, 16)), 40, order=1), 0, None) ** 3 for _ in range(n)])
    xs, ys = rng.uniform(0, W, (n, K)), rng.uniform(0, H, (n, K))
    pts = np.stack([xs, ys], -1)  # (n, K, 2) (x, y) px
    others = [np.delete(pts.reshape(-1, 2), slice(i * K, (i + 1) * K), axis=0) for i in range(n)]
    return maps, refs, xs, ys, pts, others


def timed(fn) -> float:
    t0 = time.perf_counter()
    fn()
    return time.perf_counter() - t0


def single_calls(mod, s, pts, refs, others):
    """Each metric's own function on the batch, as a user calls it."""
    return {
        "NSS": lambda: mod.nss(s, pts, convention="pysaliency"),
        "CC": lambda: mod.cc(s, refs),
        "SIM": lambda: mod.sim(s, refs, convention="pysaliency"),
        "KLD": lambda: mod.kld(s, refs, convention="pysaliency"),
        "AUC-Judd": lambda: mod.auc_judd(s, pts, convention="pysaliency"),
        "sAUC": lambda: mod.auc_shuffled(s, pts, others, convention="pysaliency"),
    }


def peer_calls(psal, maps, refs, xs, ys):
    from pysaliency import metrics as pm
    from pysaliency.roc import general_roc
    from pysaliency.saliency_map_models import _get_unfixated_values

    n = len(maps)
    xi, yi = xs.astype(int), ys.astype(int)
    noise = np.random.RandomState(42)

    def judd(i, jitter=True):
        m = maps[i] + (noise.randn(H, W) * 1e-7 if jitter else 0.0)
        return general_roc(m[yi[i], xi[i]].astype(float), _get_unfixated_values(m, yi[i], xi[i]), judd=1)[0]

    def sauc(i):
        mask = np.ones(n, bool)
        mask[i] = False
        return general_roc(maps[i][yi[i], xi[i]], maps[i][yi[mask].ravel(), xi[mask].ravel()], judd=0)[0]

    one = {
        "NSS": lambda i: pm.NSS(maps[i], xs[i], ys[i]).mean(),
        "CC": lambda i: pm.CC(maps[i], refs[i]),
        "SIM": lambda i: pm.SIM(maps[i], refs[i]),
        "KLD": lambda i: pm.image_based_kl_divergence(maps[i], refs[i]),
        "AUC-Judd": judd,
        "sAUC": sauc,
    }
    values = {k: (lambda f=f: np.array([f(i) for i in range(n)])) for k, f in one.items()}
    values["AUC-Judd (no jitter)"] = lambda: np.array([judd(i, False) for i in range(n)])
    return values


def limit_threads() -> str:
    torch.set_num_threads(1)
    try:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1)
        return "threadpoolctl 1"
    except ImportError:
        return "threadpoolctl not installed"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--before", default=None, help="git revision whose metrics.py is timed as 'before'")
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc thresholds as they are")
    args = ap.parse_args()
    limits = limit_threads()
    psal, notes = import_pysaliency()
    if psal is None:
        raise SystemExit("pysaliency unavailable: " + "; ".join(notes))
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # noqa: NPY201 # type: ignore[attr-defined]  # pysaliency's ROC code needs it
    before = load_before(args.before) if args.before else None

    n = args.maps
    maps, refs, xs, ys, pts, others = make_inputs(n, args.seed)
    print(f"# bench_metrics: {n} maps of {H}x{W} float64 (2.4 MB each), {K} fixations each")
    print(
        f"torch {torch.__version__} ({torch.get_num_threads()} thread, {limits}), numpy {np.__version__}, "
        f"pysaliency {dist_version('pysaliency')}, {os.cpu_count()} CPUs (shared: timings on a busy machine), "
        f"median of {args.repeats} interleaved repeats after a warm-up; before: {args.before or '-'}; "
        f"glibc malloc: {({k: os.environ[k] for k in MALLOC if k in os.environ}) or 'default'}"
    )
    for note in notes:
        print(note)

    suite_names = [KEYS[k] for k in NAMES]

    def suite():
        return M.score(maps, fixations=pts, reference=refs, other_fixations=others, metrics=suite_names,
                       convention="pysaliency")  # fmt: skip

    peer = peer_calls(psal, maps, refs, xs, ys)
    now = single_calls(M, maps, pts, refs, others)
    old = single_calls(before, maps, pts, refs, others) if before else {}
    # agreement (untimed)
    got = suite()
    diff_peer, diff_single = {}, {}
    for name in NAMES:
        key = KEYS[name]
        theirs = peer["AUC-Judd (no jitter)" if name == "AUC-Judd" else name]()
        mine = M.auc_judd(maps, pts, convention="pysaliency", jitter=False) if name == "AUC-Judd" else got[key]
        diff_peer[name] = float(np.abs(np.asarray(mine) - theirs).max())
        diff_single[name] = float(np.abs(np.asarray(got[key]) - np.asarray(now[name]())).max())
    # timing
    t = {f"{side} {name}": [] for side in ("peer", "before", "now") for name in NAMES}
    t["now suite"], t["floor"] = [], []
    for rep in range(args.repeats + 1):
        row = {"floor": timed(lambda: (np.add.reduce(maps, axis=None), np.add.reduce(refs, axis=None))) / 2}
        for name in NAMES:
            row[f"peer {name}"] = timed(peer[name])
            if old:
                row[f"before {name}"] = timed(old[name])
            row[f"now {name}"] = timed(now[name])
        row["now suite"] = timed(suite)
        if rep:
            for k, v in row.items():
                t[k].append(v)
    ms = {k: statistics.median(v) / n * 1e3 for k, v in t.items() if v}
    floor = ms["floor"]
    reads = {"NSS": 1, "CC": 2, "SIM": 2, "KLD": 2, "AUC-Judd": 1, "sAUC": 1}
    print(f"\nmemory floor: streaming one 2.4 MB map once = {floor:.3f} ms")
    print("| metric | pysaliency ms/map | gazelab before ms/map | ratio before | gazelab now ms/map | ratio now "
          "| now / memory floor | max abs diff vs pysaliency | suite vs single |")  # fmt: skip
    print("|---|---|---|---|---|---|---|---|---|")
    for name in NAMES:
        tp, tn = ms[f"peer {name}"], ms[f"now {name}"]
        tb = ms.get(f"before {name}")
        b = f"{tb:.3f} | {tp / tb:.1f}x" if tb else "- | -"
        print(f"| {name} | {tp:.3f} | {b} | {tn:.3f} | {tp / tn:.1f}x | {tn / (reads[name] * floor):.1f} "
              f"| {diff_peer[name]:.1e} | {diff_single[name]:.1e} |")  # fmt: skip
    tp = sum(ms[f"peer {name}"] for name in NAMES)
    tb = sum(ms[f"before {name}"] for name in NAMES) if old else None
    ts = ms["now suite"]
    b = f"{tb:.3f} | {tp / tb:.1f}x" if tb else "- | -"
    print(f"| suite (6, one call now; sum of six calls before) | {tp:.3f} | {b} | {ts:.3f} | {tp / ts:.1f}x "
          f"| {ts / (2 * floor):.1f} | | |")  # fmt: skip
    before_txt = f" (before: {tp / tb:.1f}x)" if tb else ""
    print(f"suite ratio (pysaliency / gazelab ms per map, 6 metrics, {n} maps of {H}x{W}): {tp / ts:.1f}x{before_txt}")


if __name__ == "__main__":
    main()
