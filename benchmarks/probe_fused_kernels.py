"""What fused CPU kernels would give the metric suite: torch.compile and numba against numpy, one core.

The suite (``gazelab.analysis.metrics.score``, six metrics) walks the maps twice with numpy, one
operation at a time on cache-sized blocks: the moments pass (sums, sums of squares, minima, maxima,
dot product) and the pass that feeds KLD, SIM and AUC-Judd. A compiled kernel would do each pass's
per-pixel work in one loop. This script measures, on ``bench_metrics.py``'s inputs (``--maps`` maps
of 480x640 float64 with their references and 20 fixations each; pysaliency convention), the three
pieces of per-pixel work as fused kernels with each toolchain that imports here:

- ``moments``: the eight per-map statistics of the first pass;
- ``kld+sim``: pysaliency's KLD, ``sum (G + m) ln((G + m) / (P + m))`` of the densities, and SIM,
  ``sum min(P, G)``, in one loop (the float64 ``log`` per pixel is the expensive part);
- ``judd table``: AUC-Judd's per-pixel work, a float32 bucket key and one float64 table value per
  pixel, summed (the suite's own table, built by its setup).

Toolchains: ``torch.compile`` (inductor, needs a C++ compiler; ``dynamic=False``), and numba
(``@njit(fastmath=True)``, if installed: ``pip install numba``; whether llvmlite has Intel SVML, the
vector ``log``, is printed). Each kernel's results are checked against the suite's numpy values
(max relative difference). Everything runs in one process on one thread; times are ms per map,
median of ``--repeats`` after a warm-up (compilation not timed, reported).

The last line is what the fastest kernels would make of the suite: pysaliency's ms per map for the
six metrics over (fastest moments + fastest kld+sim + fastest judd table + the rest of the suite,
measured as the suite's time minus its numpy passes).
Usage: ``python benchmarks/probe_fused_kernels.py [--maps 100] [--repeats 5]``.
"""

from __future__ import annotations

import argparse
import statistics
import time

import bench_metrics as BM  # before numpy: one thread and glibc malloc thresholds, as bench_metrics
import numpy as np
import torch

from gazelab.analysis import metrics as M
from gazelab.analysis.metrics import _base as B
from gazelab.analysis.metrics import suite as S

SIX = ["nss", "cc", "kld", "sim", "auc_judd", "auc_shuffled"]


def median_ms(fn, n: int, repeats: int) -> float:
    fn()
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times) / n * 1e3


def suite_state(maps, refs, pts):
    """The suite's own intermediate values (numpy), to build the kernels' parameters and check them."""
    b = B._saliency(maps)
    a = B._np_rows(b.maps).reshape(len(maps), -1)
    g = B._ref_rows(b, refs).reshape(len(maps), -1)
    fx = S._fixed(a, B._fixations_np(b, pts))
    st = S._first_pass(a, g, set(SIX))
    jd = S._judd_setup(st, fx, jitter=True, seed=0, convention="pysaliency")
    norms = S._map_pair_setup(st, {"kld", "sim"}, "pysaliency")
    (pk, gk), (ps, gs) = norms["kld"], norms["sim"]
    if pk.uniform.any() or gk.uniform.any() or ps.uniform.any() or gs.uniform.any():
        raise SystemExit("the probe's kernels assume maps with mass (no uniform rows)")
    prm = np.stack([pk.shift, pk.scale, gk.shift, gk.scale, np.full(len(a), pk.minimum),
                    ps.shift, ps.scale, gs.shift, gs.scale], 1)  # fmt: skip
    # one pass for all three; it fills jd.total (the table sum without flags) and leaves the table as it was
    second = S._second_pass(a, g, st, {"kld", "sim", "auc_judd"}, "pysaliency", jd)
    want = {
        "moments": np.stack([st.p_sum, st.p_sq, st.p_min, st.p_max, st.g_sum, st.g_sq, st.pg, st.g_min], 1),
        "kld+sim": np.stack([second.kld, second.sim], 1),
        "judd table": jd.total,
    }
    return a, g, st, jd, prm, want


def torch_kernels():
    def moments(p, r):
        return torch.stack([p.sum(1), (p * p).sum(1), p.amin(1), p.amax(1),
                            r.sum(1), (r * r).sum(1), (p * r).sum(1), r.amin(1)], 1)  # fmt: skip

    def kld_sim(p, r, prm):
        c = [prm[:, i : i + 1] for i in range(9)]
        pd, gd = (p + c[0] + c[4]) * c[1], (r + c[2] + c[4]) * c[3]
        kld = (gd * torch.log(gd / pd)).sum(1)
        sim = torch.minimum((p + c[5]) * c[6], (r + c[7]) * c[8]).sum(1)
        return torch.stack([kld, sim], 1)

    def judd(p, lo, scale, table, nb: int):
        key = torch.clamp(torch.floor((p.float() - lo[:, None]) * scale[:, None]), 0, nb - 1).long()
        vals = table[key + torch.arange(p.shape[0])[:, None] * nb]
        return vals.sum(1) - S._FLAG * (vals < S._FLAG / 2).sum(1)

    return moments, kld_sim, judd


def probe_torch(a, g, jd, prm, want, n, repeats):
    ta, tg, tp = torch.from_numpy(a), torch.from_numpy(g), torch.from_numpy(prm)
    lo, sc, tab = torch.from_numpy(jd.key_lo), torch.from_numpy(jd.key_scale), torch.from_numpy(jd.table)
    moments, kld_sim, judd = (torch.compile(f, dynamic=False) for f in torch_kernels())
    calls = {"moments": lambda: moments(ta, tg), "kld+sim": lambda: kld_sim(ta, tg, tp),
             "judd table": lambda: judd(ta, lo, sc, tab, jd.nb)}  # fmt: skip
    return run_probe("torch.compile", calls, want, n, repeats)


def numba_kernels():
    from numba import njit

    @njit(fastmath=True)
    def moments(a, g, out):  # pragma: no cover - compiled
        for i in range(a.shape[0]):
            s0 = s1 = s4 = s5 = s6 = 0.0
            lo = glo = np.inf
            hi = -np.inf
            for j in range(a.shape[1]):
                x, y = a[i, j], g[i, j]
                s0 += x
                s1 += x * x
                lo = min(lo, x)
                hi = max(hi, x)
                s4 += y
                s5 += y * y
                s6 += x * y
                glo = min(glo, y)
            out[i, 0], out[i, 1], out[i, 2], out[i, 3] = s0, s1, lo, hi
            out[i, 4], out[i, 5], out[i, 6], out[i, 7] = s4, s5, s6, glo
        return out

    @njit(fastmath=True)
    def kld_sim(a, g, c, out):  # pragma: no cover - compiled
        for i in range(a.shape[0]):
            kld = sim = 0.0
            for j in range(a.shape[1]):
                pd, gd = (a[i, j] + c[i, 0] + c[i, 4]) * c[i, 1], (g[i, j] + c[i, 2] + c[i, 4]) * c[i, 3]
                kld += gd * np.log(gd / pd)
                sim += min((a[i, j] + c[i, 5]) * c[i, 6], (g[i, j] + c[i, 7]) * c[i, 8])
            out[i, 0], out[i, 1] = kld, sim
        return out

    @njit(fastmath=True)
    def judd(a, lo, scale, table, nb, flag, out):  # pragma: no cover - compiled
        for i in range(a.shape[0]):
            total = 0.0
            for j in range(a.shape[1]):
                k = np.floor((np.float32(a[i, j]) - lo[i]) * scale[i])
                v = table[i * nb + int(min(max(k, 0.0), nb - 1.0))]
                total += v - flag if v < flag / 2 else v
            out[i] = total
        return out

    return moments, kld_sim, judd


def probe_numba(a, g, jd, prm, want, n, repeats):
    try:
        import numba
    except ImportError:
        print("numba: not installed (pip install numba), not probed")
        return {}
    print(f"numba {numba.__version__}: Intel SVML (vector log) {'on' if numba.config.USING_SVML else 'off'}")
    moments, kld_sim, judd = numba_kernels()
    b = len(a)
    calls = {
        "moments": lambda: moments(a, g, np.empty((b, 8))),
        "kld+sim": lambda: kld_sim(a, g, prm, np.empty((b, 2))),
        "judd table": lambda: judd(a, jd.key_lo, jd.key_scale, jd.table, jd.nb, S._FLAG, np.empty(b)),
    }
    return run_probe("numba", calls, want, n, repeats)


def run_probe(name, calls, want, n, repeats):
    out = {}
    for piece, fn in calls.items():
        t0 = time.perf_counter()
        got = fn()
        compile_s = time.perf_counter() - t0
        got = got.numpy() if isinstance(got, torch.Tensor) else got
        diff = float(np.max(np.abs(got - want[piece]) / np.maximum(np.abs(want[piece]), 1e-300)))
        out[piece] = median_ms(fn, n, repeats)
        print(f"| {name} | {piece} | {out[piece]:.3f} | {compile_s:.1f} | {diff:.1e} |")
    return out


def numpy_passes(a, g, maps, refs, pts, others, n, repeats):
    """The suite's time, its first (moments) pass, and its two numpy passes with AUC-Judd's setup."""
    fx = S._fixed(a, B._fixations_np(B._saliency(maps), pts))

    def passes():
        s = S._first_pass(a, g, set(SIX))
        S._second_pass(
            a, g, s, set(SIX), "pysaliency", S._judd_setup(s, fx, jitter=True, seed=0, convention="pysaliency")
        )

    def suite():
        M.score(maps, fixations=pts, reference=refs, other_fixations=others, metrics=SIX, convention="pysaliency")

    first = median_ms(lambda: S._first_pass(a, g, set(SIX)), n, repeats)
    return median_ms(suite, n, repeats), first, median_ms(passes, n, repeats)


def numpy_op_costs(a, g, jd, repeats: int) -> None:
    """ns per value of the numpy operations the suite's passes are made of, on one cached 65,536-value block."""
    p, r = a[0, : S._UNIT].copy(), g[0, : S._UNIT].copy()
    key = ((p.astype(np.float32) - jd.key_lo[0]) * jd.key_scale[0]).astype(np.intp)
    table, x = jd.table[: jd.nb], np.empty_like(p)
    ops = {
        "sum": lambda: p.sum(), "dot": lambda: np.dot(p, r), "min": lambda: p.min(),
        "astype float32": lambda: p.astype(np.float32), "divide": lambda: np.divide(r, p, out=x),
        "log": lambda: np.log(p, out=x), "minimum": lambda: np.minimum(p, r, out=x),
        "take (table)": lambda: np.take(table, key), "bincount": lambda: np.bincount(key, minlength=jd.nb),
    }  # fmt: skip
    cost = {k: median_ms(lambda f=f: [f() for _ in range(100)], 100 * len(p), repeats) * 1e6 for k, f in ops.items()}
    print("numpy ns per value on a cached block: " + ", ".join(f"{k} {v:.2f}" for k, v in cost.items()))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=100)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--seed", type=int, default=20261204)
    ap.add_argument("--default-malloc", action="store_true", help="leave glibc's malloc thresholds as they are")
    args = ap.parse_args()
    BM.limit_threads()
    psal, notes = BM.import_pysaliency()
    if psal is None:
        raise SystemExit("pysaliency unavailable: " + "; ".join(notes))
    if not hasattr(np, "trapz"):
        np.trapz = np.trapezoid  # noqa: NPY201 # type: ignore[attr-defined]
    n = args.maps
    maps, refs, xs, ys, pts, others = BM.make_inputs(n, args.seed)
    a, g, _, jd, prm, want = suite_state(maps, refs, pts)
    print(f"# probe_fused_kernels: {n} maps of {BM.H}x{BM.W} float64, one thread, torch {torch.__version__}")
    peer = BM.peer_calls(psal, maps, refs, xs, ys)
    t_peer = sum(median_ms(peer[k], n, args.repeats) for k in BM.NAMES)
    t_suite, t_first, t_passes = numpy_passes(a, g, maps, refs, pts, others, n, args.repeats)
    floor = median_ms(lambda: (np.add.reduce(a, axis=None), np.add.reduce(g, axis=None)), n, args.repeats)
    print(
        f"pysaliency, six metrics: {t_peer:.3f} ms/map; gazelab suite (numpy): {t_suite:.3f} ms/map, of which "
        f"its first pass {t_first:.3f} and second {t_passes - t_first:.3f}; reading map and reference: {floor:.3f}"
    )
    numpy_op_costs(a, g, jd, args.repeats)
    print("| toolchain | kernel | ms/map | first call s | max rel diff vs numpy |\n|---|---|---|---|---|")
    found = [probe_torch(a, g, jd, prm, want, n, args.repeats), probe_numba(a, g, jd, prm, want, n, args.repeats)]
    best = {k: min(f[k] for f in found if f) for k in want}
    rest = t_suite - t_passes
    total = sum(best.values()) + rest
    pieces = ", ".join(f"{k} {v:.3f}" for k, v in best.items())
    print(
        f"fastest kernels ({pieces}) + rest of the suite {rest:.3f} = {total:.3f} ms/map: "
        f"pysaliency / that = {t_peer / total:.1f}x (numpy suite now: {t_peer / t_suite:.1f}x)"
    )


if __name__ == "__main__":
    main()
