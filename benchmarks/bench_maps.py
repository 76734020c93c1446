"""Gaussian fixation-density (saliency) maps: gazelab's ``saliency_map`` against pysaliency.

Input (made here, seeded)
    ``--maps`` (default 1,000) stimuli of 480x640 px, each a random RGB ``uint8`` image (the
    pysaliency side needs distinct image arrays: it keys stimuli by a SHA-1 hash of their pixels)
    with ``--fixations`` (default 20) fixations drawn uniformly over the image as continuous
    image-px floats in ``[0, 640) x [0, 480)``; sigma ``--sigma`` (default 25) px. Both tools get
    the same numbers.

What is measured
    Wall-clock time to compute all the maps, one after another, normalised to sum 1; the median
    of ``--repeats`` runs (default 3) after one untimed warm-up run, all in this one process;
    reported as ms per map (run time / number of maps).

    - pysaliency (the peer): the model a pysaliency user builds for an empirical fixation-density
      map, ``pysaliency.FixationMap(stimuli, fixations, kernel_size=sigma, convolution_mode='reflect',
      caching=False)`` with ``stimuli = pysaliency.Stimuli(images)`` and ``fixations =
      pysaliency.Fixations.create_without_history(x, y, n)``; timed: ``m = model.saliency_map(stimuli[i])``
      then ``m / m.sum()`` for every stimulus (``FixationMap`` itself does not normalise). Inside,
      ``FixationMap._saliency_map`` hashes the stimulus (SHA-1 of its pixels, reported below),
      fills a zero map with its numba ``fill_fixation_map`` at ``(y.astype(int), x.astype(int))`` and
      calls ``scipy.ndimage.gaussian_filter(map, kernel_size, mode='reflect')`` (scipy's default
      ``truncate=4.0``). Building the model (it splits the fixations per stimulus) is not timed;
      ``caching=False`` because with the default cache every repeat after the first would be a
      dictionary lookup (and 1,000 cached 2.4 MB maps).
    - gazelab: ``saliency_map(x, y, (480, 640), sigma, mode='reflect', truncate=4.0,
      normalize='sum')`` per stimulus, on the same per-stimulus arrays (split beforehand, untimed,
      as pysaliency's model does in its constructor).
    - scipy reference (reported, not in the ratio): fill a zero map (``np.add.at`` at
      ``floor(y), floor(x)``), ``scipy.ndimage.gaussian_filter(map, sigma, mode='reflect',
      truncate=4.0)``, divide by the sum: pysaliency's computation without its model layer.

Pixel binning: pysaliency truncates (``astype(int)``), gazelab floors; for coordinates >= 0, as
here, both put a fixation in the same pixel, so both get the continuous coordinates unchanged.
Same sigma, same kernel radius (``int(4 * sigma + 0.5)`` = 100 px), same half-sample-symmetric
reflection at the edges.

Agreement: before timing, every map of each tool is compared with pysaliency's: max abs
difference over all maps, also relative to the largest map value (goal < 1e-6 relative).

Running pysaliency 0.2.22 needs: torch importable (``pysaliency.external_models.deepgaze`` imports
it unconditionally; install it, e.g. ``pip install torch==2.13.0``, or this script stubs the
module and says so) and ``pkg_resources`` (``setuptools<81``; stubbed likewise if missing). Its
``np.trapz`` use (removed in numpy 2.4) is in the AUC code only, not on this path, so it is not
patched. If pysaliency cannot be imported at all, the scipy reference stands in as the peer and
the output says so.

The last line is the peer's median time per map over gazelab's.

Usage: ``python benchmarks/bench_maps.py [--maps 1000] [--fixations 20] [--sigma 25] [--repeats 3]``
"""

from __future__ import annotations

import argparse
import hashlib
import importlib
import importlib.metadata
import os
import sys
import time
import types
import warnings

import numpy as np
from _common import Timing, measure, versions
from scipy.ndimage import gaussian_filter

from gazelab.preprocessing.maps import saliency_map

HEIGHT, WIDTH = 480, 640
TRUNCATE = 4.0  # scipy.ndimage.gaussian_filter's default, which pysaliency's FixationMap uses


def dist_version(name: str) -> str:
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def import_pysaliency() -> tuple[types.ModuleType | None, list[str]]:
    """Import pysaliency, stubbing ``torch`` / ``pkg_resources`` if (and only if) they are missing."""
    notes: list[str] = []
    for _ in range(3):
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # pkg_resources' deprecation warning at import
                return importlib.import_module("pysaliency"), notes
        except ModuleNotFoundError as exc:
            for name in list(sys.modules):  # drop the half-imported package before retrying
                if name == "pysaliency" or name.startswith("pysaliency."):
                    del sys.modules[name]
            if exc.name == "torch" and "torch" not in sys.modules:
                sys.modules["torch"] = types.ModuleType("torch")
                notes.append("torch is not installed: stubbed as an empty module (only imported, not used here)")
            elif exc.name == "pkg_resources" and "pkg_resources" not in sys.modules:
                stub = types.ModuleType("pkg_resources")
                stub.resource_string = lambda *a, **k: b""  # type: ignore[attr-defined]
                stub.resource_listdir = lambda *a, **k: []  # type: ignore[attr-defined]
                sys.modules["pkg_resources"] = stub
                notes.append("pkg_resources missing (setuptools >= 81): stubbed (external models, data sets)")
            else:
                notes.append(f"cannot import pysaliency: {type(exc).__name__}: {exc}")
                return None, notes
        except Exception as exc:  # any other import failure: fall back to the scipy reference
            notes.append(f"cannot import pysaliency: {type(exc).__name__}: {exc}")
            return None, notes
    return None, notes


def scipy_map(x: np.ndarray, y: np.ndarray, sigma: float) -> np.ndarray:
    """Fill + ``gaussian_filter`` (reflect, truncate 4) + normalise to sum 1."""
    m = np.zeros((HEIGHT, WIDTH))
    np.add.at(m, (np.floor(y).astype(np.int64), np.floor(x).astype(np.int64)), 1.0)
    m = gaussian_filter(m, sigma, mode="reflect", truncate=TRUNCATE)
    return m / m.sum()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--maps", type=int, default=1000, help="number of stimuli / maps (default 1000)")
    ap.add_argument("--fixations", type=int, default=20, help="fixations per stimulus (default 20)")
    ap.add_argument("--sigma", type=float, default=25.0, help="Gaussian sigma in image px (default 25)")
    ap.add_argument("--repeats", type=int, default=3, help="timed runs over all maps (median reported; default 3)")
    ap.add_argument("--seed", type=int, default=20261125, help="random seed of the input")
    args = ap.parse_args()
    if args.repeats < 1 or args.maps < 1 or args.fixations < 1 or not args.sigma > 0:
        ap.error("--repeats, --maps, --fixations must be >= 1 and --sigma > 0")
    n_maps, k, sigma, n = args.maps, args.fixations, args.sigma, args.repeats

    psal, notes = import_pysaliency()
    print(f"# bench_maps: {n_maps} saliency maps of {HEIGHT}x{WIDTH} px, {k} fixations each, sigma {sigma:g} px")
    print(versions("gazelab", "numpy", "scipy"), end="")
    print(
        f", pysaliency {dist_version('pysaliency')}, numba {dist_version('numba')}, "
        f"torch {dist_version('torch')}, setuptools {dist_version('setuptools')}"
    )
    malloc = {v: os.environ[v] for v in ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_") if v in os.environ}
    print(
        f"median of {n} timed runs (each over all {n_maps} maps) after 1 warm-up run, all in this process; "
        f"glibc malloc env: {malloc or 'default'}"
    )
    for note in notes:
        print(note)
    if psal is None:
        print(
            "PYSALIENCY UNAVAILABLE: the peer below is plain scipy.ndimage.gaussian_filter (fill + filter + normalise)"
        )

    rng = np.random.default_rng(args.seed)
    images = [rng.integers(0, 256, (HEIGHT, WIDTH, 3), dtype=np.uint8) for _ in range(n_maps)]
    x_all = rng.uniform(0.0, WIDTH, n_maps * k)
    y_all = rng.uniform(0.0, HEIGHT, n_maps * k)
    n_all = np.repeat(np.arange(n_maps), k)
    xs = [x_all[i * k : (i + 1) * k].copy() for i in range(n_maps)]
    ys = [y_all[i * k : (i + 1) * k].copy() for i in range(n_maps)]
    assert (x_all >= 0).all() and (y_all >= 0).all()  # truncation == floor: both tools bin alike

    def run_gazelab(_: object) -> None:
        for i in range(n_maps):
            saliency_map(xs[i], ys[i], (HEIGHT, WIDTH), sigma, mode="reflect", truncate=TRUNCATE, normalize="sum")

    def run_scipy(_: object) -> None:
        for i in range(n_maps):
            scipy_map(xs[i], ys[i], sigma)

    peer_map = None
    if psal is not None:
        t0 = time.perf_counter()
        stimuli = psal.Stimuli(images)
        fixations = psal.Fixations.create_without_history(x_all, y_all, n_all)
        model = psal.FixationMap(stimuli, fixations, kernel_size=sigma, convolution_mode="reflect", caching=False)
        print(f"pysaliency FixationMap built (untimed): {time.perf_counter() - t0:.2f} s")

        def peer_map(i: int) -> np.ndarray:
            m = model.saliency_map(stimuli[i])
            return m / m.sum()

        def run_peer(_: object) -> None:
            for i in range(n_maps):
                peer_map(i)

        peer_label = "pysaliency FixationMap.saliency_map + /sum"
    else:
        run_peer = run_scipy
        peer_label = "scipy fill + gaussian_filter + /sum (STANDING IN for pysaliency)"

    # agreement (untimed), map by map against the peer (also a first warm-up of every path)
    ref_fn = peer_map if peer_map is not None else (lambda i: scipy_map(xs[i], ys[i], sigma))
    diff_g = diff_s = 0.0
    ref_max = 0.0
    sum_err = 0.0
    for i in range(n_maps):
        ref = ref_fn(i)
        g = saliency_map(xs[i], ys[i], (HEIGHT, WIDTH), sigma, mode="reflect", truncate=TRUNCATE, normalize="sum")
        s = scipy_map(xs[i], ys[i], sigma)
        diff_g = max(diff_g, float(np.abs(g - ref).max()))
        diff_s = max(diff_s, float(np.abs(s - ref).max()))
        ref_max = max(ref_max, float(ref.max()))
        sum_err = max(sum_err, abs(float(g.sum()) - 1.0))
    hash_t = time.perf_counter()
    for img in images[:100]:
        hashlib.sha1(np.ascontiguousarray(img)).hexdigest()
    hash_ms = (time.perf_counter() - hash_t) / min(100, n_maps) * 1e3

    t_peer = measure(peer_label, run_peer, repeats=n)
    t_ours = measure("gazelab saliency_map(normalize='sum')", run_gazelab, repeats=n)
    rows: list[tuple[str, Timing]] = [("peer", t_peer), ("gazelab", t_ours)]
    if psal is not None:
        rows.append(("reference", measure("scipy fill + gaussian_filter + /sum", run_scipy, repeats=n)))

    print()
    print("| role | what | ms per map (median) | runs (s, all maps) |")
    print("|---|---|---|---|")
    for role, t in rows:
        print(f"| {role} | {t.label} | {t.median / n_maps * 1e3:.2f} | {t.cell()} |")
    for role, t in rows:
        for msg in t.warnings:
            print(f"warning from {role} ({t.label}): {msg}")
    print()
    peer_name = "pysaliency" if psal is not None else "scipy (standing in for pysaliency)"
    print(f"largest map value: {ref_max:.3e}; gazelab maps sum to 1 within {sum_err:.1e}")
    print(
        f"max abs diff over {n_maps} maps, gazelab vs {peer_name}: {diff_g:.3e} "
        f"({diff_g / ref_max:.2e} of the map max); goal < 1e-6 relative: {'OK' if diff_g / ref_max < 1e-6 else 'FAIL'}"
    )
    if psal is not None:
        print(f"max abs diff, scipy reference vs pysaliency: {diff_s:.3e} ({diff_s / ref_max:.2e} of the map max)")
        print(f"pysaliency's per-call SHA-1 of the 480x640x3 stimulus: {hash_ms:.2f} ms per map (included above)")
    if diff_g / ref_max >= 1e-6:
        print("MISMATCH: gazelab's maps differ from the peer's")
    print(f"ratio ({peer_name} / gazelab, ms per map): {t_peer.median / t_ours.median:.1f}x")


if __name__ == "__main__":
    main()
