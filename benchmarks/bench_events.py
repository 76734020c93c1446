"""Fixation detection on one eye: gazelab's detectors against pymovements' event detection.

What is measured
    Wall-clock seconds, in this one process, on the same recording (default ``220682rr01``,
    binocular 250 Hz, 211,050 samples per eye) and the same eye (default right): the median of
    ``--repeats`` runs (default 5) after one untimed warm-up run. Both libraries read the file
    once, untimed (gazelab ``read_asc``; pymovements ``gaze.from_asc`` on a decompressed copy).

    Algorithm pairs, with parameters as close as the two libraries allow:

    - I-VT: 30 deg/s, fixations >= 40 ms, Savitzky-Golay velocity (degree 2, window = the odd
      number of samples nearest 20 ms, 5 at 250 Hz) on both sides. gazelab's ``ivt`` defaults
      also apply EyeLink's acceleration threshold, pursuit fix-up and motion merge; it is timed
      both so ("default") and as the classic I-VT ("classic": those three switched off), the
      latter doing the same work as pymovements' ``ivt``.
    - I-DT: 1.0 deg dispersion, 100 ms. pymovements needs no velocity for it, so its pipeline
      has no ``pos2vel``.
    - Engbert-Kliegl: lambda 6, saccades >= 6 ms, the noise level ``sqrt(median(v^2) -
      median(v)^2)`` (pymovements ``threshold='engbert2003'``), velocity the five-sample moving
      average (pymovements ``pos2vel('fivepoint')``, the same formula). gazelab's ``ek`` returns
      the fixations between saccades (>= 40 ms); pymovements' ``microsaccades`` returns the
      saccades only.

    Minimum durations: gazelab keeps a run when ``last - first + one sample >= minimum``;
    pymovements' ``ivt`` and ``microsaccades`` (through ``Gaze.detect``, in ms of the ``time``
    column) when ``last - first >= minimum``, so at equal nominal minimums they want one sample
    more. For I-DT both start from a window of ``minimum / period`` samples (25 at 250 Hz).

    What is timed, per pair:

    (a) detection only. gazelab: the registered detector function (``ivt``, ``idt``,
        ``engbert_kliegl``) on an ``EyeSignal`` made beforehand by ``prepare_signal(rec, eye,
        geometry)``; it computes its own velocity inside the timing. pymovements:
        ``gaze.detect(method, clear=True, ...)`` on a one-eye ``Gaze`` that already holds the
        positions in degrees (``pix2deg``) and velocities (``pos2vel``), both made beforehand.
    (a') as (a), but pymovements' velocity inside the timing too (``pos2vel`` + ``detect`` on
        an untimed ``clone()`` of a one-eye ``Gaze`` with degrees only): the same work as
        gazelab's (a). Not shown for I-DT, where it is (a).
    (b) the whole pipeline from a loaded recording. gazelab: ``detect_fixations(rec, geometry,
        algorithm=..., eyes=eye)`` (eye selection, blink removal, px -> deg, velocity,
        detection, fixation table). pymovements, two ways, the faster one in the ratio:
        "one-eye Gaze": a new ``Gaze`` from the loaded binocular one's ``time`` column and the
        eye's two ``pixel`` components (``pl.col('pixel').list.slice(k, 2)``), then ``pix2deg()``,
        ``pos2vel(...)``, ``detect(method, ...)`` -- all timed; "binocular Gaze": on an untimed
        ``clone()`` of the loaded binocular ``Gaze``, ``pix2deg()`` and ``pos2vel()`` (all four
        components) and ``detect(method, eye='left'|'right', ...)``. On a monocular file only
        the first (then the loaded ``Gaze``'s own columns). A pymovements call that raises (e.g.
        ``idt`` on a file with several recording blocks) is reported and left out of the ratios.

Samples/s is the recording's samples (of one eye) over the median time. The last line is the
smallest, over the algorithm pairs, of pymovements' faster pipeline time over gazelab's.

Usage: ``python benchmarks/bench_events.py [--file 220682rr01.asc.gz] [--eye R] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import math
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from _common import DATA_DIR, DEFAULT_FILE, DISTANCE_CM, Timing, input_file, measure, plain_copy, screen_cm, versions

from gazelab import Geometry
from gazelab.preprocessing import detect_fixations, read_asc
from gazelab.preprocessing.detection import EyeSignal, prepare_signal
from gazelab.preprocessing.detection.engbert_kliegl import engbert_kliegl
from gazelab.preprocessing.detection.idt import idt
from gazelab.preprocessing.detection.ivt import ivt
from gazelab.preprocessing.recording import Recording


@dataclass
class Pair:
    """One gazelab detector and its pymovements counterpart, with their parameters."""

    name: str
    ours: Callable[..., Any]  # the registered detector function
    algorithm: str  # its name for detect_fixations
    ours_params: dict[str, Any]
    method: str  # pymovements' detection method
    their_params: dict[str, Any]
    velocity: dict[str, Any] | None  # pymovements pos2vel arguments (None: no velocity needed)


@dataclass
class Setup:
    """The loaded inputs, shared by every measurement."""

    rec: Recording
    geometry: Geometry
    eye: str
    signal: EyeSignal
    gaze: Any  # pymovements Gaze (binocular as read, or monocular)
    one_eye: Callable[[], Any]  # a new one-eye pymovements Gaze from ``gaze``
    pm_eye: str  # 'left' / 'right' (binocular) or 'auto'
    binocular: bool  # pymovements' Gaze has both eyes (4 components)
    ready: dict[str, Any]  # one-eye Gaze with deg positions and velocities, by pos2vel method
    repeats: int


#: (pair, stage, library, timing or the error text of a failed peer call)
Row = tuple[str, str, str, Timing | str]


def sg_window(rate_hz: float) -> int:
    """Odd number of samples nearest 20 ms, at least 5 (as gazelab's 20 ms Savitzky-Golay)."""
    n = max(5, round(0.020 * rate_hz))
    return n if n % 2 else n + 1


def try_measure(label: str, fn: Callable[[Any], Any], **kwargs: Any) -> Timing | str:
    """:func:`measure` for a peer: its exception becomes the result (a string)."""
    try:
        return measure(label, fn, **kwargs)
    except Exception as exc:  # a peer failing on some input is a result, not a crash
        return f"{label}: fails with {type(exc).__name__}: {str(exc).splitlines()[0][:120]}"


def n_events(t: Timing) -> int:
    res = t.result
    return int(res.height) if hasattr(res, "height") else len(res)


def bench_pair(p: Pair, s: Setup) -> tuple[list[Row], tuple[float, float, float]]:
    """Time (a) detection only and (b) the pipeline for one pair; return rows and ratios (a), (a'), (b)."""
    g_ready = s.ready["none" if p.velocity is None else p.velocity["method"]]
    vel = "" if p.velocity is None else " + pos2vel"

    def det_ours(_: Any) -> Any:
        return p.ours(s.signal, **p.ours_params)

    def det_theirs(_: Any) -> Any:
        g_ready.detect(p.method, clear=True, **p.their_params)
        return g_ready.events.frame

    def det_theirs_vel(g: Any) -> Any:
        if p.velocity is not None:
            g.pos2vel(**p.velocity)
        g.detect(p.method, clear=True, **p.their_params)
        return g.events.frame

    def pipe_ours(_: Any) -> Any:
        return detect_fixations(s.rec, s.geometry, algorithm=p.algorithm, eyes=s.eye, **p.ours_params)

    def pipe_one_eye(_: Any) -> Any:
        g = s.one_eye()
        g.pix2deg()
        if p.velocity is not None:
            g.pos2vel(**p.velocity)
        g.detect(p.method, **p.their_params)
        return g.events.frame

    def pipe_binocular(g: Any) -> Any:
        g.pix2deg()
        if p.velocity is not None:
            g.pos2vel(**p.velocity)
        g.detect(p.method, eye=s.pm_eye, **p.their_params)
        return g.events.frame

    n = s.repeats
    a_ours = measure(f"{p.ours.__name__}(signal) on a prepared signal", det_ours, repeats=n)
    a_theirs = try_measure(f"detect({p.method!r}) on a deg + velocity Gaze", det_theirs, repeats=n)
    rows: list[Row] = [
        (p.name, "(a) detection", "gazelab", a_ours),
        (p.name, "(a) detection", "pymovements", a_theirs),
    ]
    a_vel: Timing | str = a_theirs
    if p.velocity is not None:  # for I-DT this would be (a) again
        a_vel = try_measure(
            f"pos2vel + detect({p.method!r}) on a deg Gaze", det_theirs_vel, repeats=n, setup=s.ready["none"].clone
        )
        rows.append((p.name, "(a') detection + velocity", "pymovements", a_vel))
    b_ours = measure(f"detect_fixations(algorithm={p.algorithm!r})", pipe_ours, repeats=n)
    rows.append((p.name, "(b) pipeline", "gazelab", b_ours))
    b_theirs = [try_measure(f"one-eye Gaze: select + pix2deg{vel} + detect", pipe_one_eye, repeats=n)]
    if s.binocular:
        b_theirs.append(
            try_measure(f"binocular Gaze: pix2deg{vel} + detect(eye)", pipe_binocular, repeats=n, setup=s.gaze.clone)
        )
    rows += [(p.name, "(b) pipeline", "pymovements", t) for t in b_theirs]

    def ratio(theirs: Timing | str, ours: Timing) -> float:
        return theirs.median / ours.median if isinstance(theirs, Timing) else math.nan

    r_pipe = min((ratio(t, b_ours) for t in b_theirs if isinstance(t, Timing)), default=math.nan)
    return rows, (ratio(a_theirs, a_ours), ratio(a_vel, a_ours), r_pipe)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", help=f"ASC file (.asc/.asc.gz): a name in {DATA_DIR} or a path (default {DEFAULT_FILE})")
    ap.add_argument("--eye", choices=["L", "R"], default="R", help="eye to process (default R)")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per measurement (median reported; default 5)")
    ap.add_argument("--screen-cm", type=float, nargs=2, metavar=("W", "H"), help="screen size, cm (default by px)")
    ap.add_argument("--distance-cm", type=float, default=DISTANCE_CM, help=f"viewing distance (default {DISTANCE_CM})")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    src = input_file(args.file)
    eye = args.eye

    import polars as pl
    import pymovements as pm

    print(f"# bench_events: {src.name}, eye {eye}")
    print(versions("gazelab", "numpy", "scipy", "pandas", "pymovements", "polars"))
    print(f"median of {args.repeats} timed runs after 1 warm-up run, all in this process")

    rec = read_asc(src, progress=False)
    if eye not in rec.eyes:
        raise SystemExit(f"{src.name} has no eye {eye} (recorded: {''.join(rec.eyes)})")
    w, h = rec.screen_px or (1920, 1080)
    wcm, hcm = args.screen_cm or screen_cm((w, h))
    geometry = Geometry(w, h, wcm, hcm, args.distance_cm)
    rate = rec.sampling_rate_hz
    n = rec.n_samples
    print(
        f"{n} samples per eye at {rate:g} Hz, {len(rec.blocks)} block(s); geometry {w}x{h} px, "
        f"{wcm:g} x {hcm:g} cm at {args.distance_cm:g} cm"
    )

    with tempfile.TemporaryDirectory(prefix="gazelab-bench-") as tmpdir:
        plain = plain_copy(src, Path(tmpdir))
        exp = pm.Experiment(w, h, wcm, hcm, args.distance_cm, origin="upper left")
        gaze = pm.gaze.from_asc(plain, experiment=exp)
    if gaze.samples.height != n:
        print(f"NOTE: pymovements read {gaze.samples.height} samples, gazelab {n}")
    binocular = gaze.n_components == 4

    def one_eye() -> Any:
        if binocular:
            k = 0 if eye == "L" else 2
            samples = gaze.samples.select("time", pl.col("pixel").list.slice(k, 2))
        else:
            samples = gaze.samples.select("time", "pixel")
        return pm.Gaze(samples, experiment=gaze.experiment)

    sg = {"method": "savitzky_golay", "window_length": sg_window(rate), "degree": 2}
    five = {"method": "fivepoint"}
    ivt_theirs = {"velocity_threshold": 30.0, "minimum_duration": 40}
    classic = {"acceleration_threshold_deg_s2": None, "pursuit_fixup_deg_s": 0.0, "motion_threshold_deg": 0.0}
    ivt_ours = {"velocity_threshold_deg_s": 30.0, "min_duration_ms": 40.0}
    pairs = [
        Pair("I-VT default", ivt, "ivt", ivt_ours, "ivt", ivt_theirs, sg),
        Pair("I-VT classic", ivt, "ivt", {**ivt_ours, **classic}, "ivt", ivt_theirs, sg),
        Pair(
            "I-DT",
            idt,
            "idt",
            {"dispersion_threshold_deg": 1.0, "min_duration_ms": 100.0},
            "idt",
            {"dispersion_threshold": 1.0, "minimum_duration": 100},
            None,
        ),
        Pair(
            "Engbert-Kliegl",
            engbert_kliegl,
            "ek",
            {"lambda_": 6.0, "min_saccade_duration_ms": 6.0, "min_duration_ms": 40.0},
            "microsaccades",
            {"threshold": "engbert2003", "threshold_factor": 6.0, "minimum_duration": 6},
            five,
        ),
    ]
    print()
    print("parameters:")
    for p in pairs:
        vel_txt = "none (I-DT uses positions)"
        if p.velocity is not None:
            vel_txt = ", ".join(f"{k}={v}" for k, v in p.velocity.items())
        print(f"- {p.name}: gazelab {p.ours.__name__}(signal, {p.ours_params}) / detect_fixations({p.algorithm!r})")
        print(f"  pymovements detect({p.method!r}, {p.their_params}); pos2vel: {vel_txt}")

    # untimed preparation for (a): gazelab's prepared signal, pymovements' deg + velocity Gaze
    ready: dict[str, Any] = {}
    for vel in (sg, five, None):
        g = one_eye()
        g.pix2deg()
        if vel is not None:
            g.pos2vel(**vel)
        ready["none" if vel is None else str(vel["method"])] = g
    setup = Setup(
        rec=rec,
        geometry=geometry,
        eye=eye,
        signal=prepare_signal(rec, eye, geometry),
        gaze=gaze,
        one_eye=one_eye,
        pm_eye={"L": "left", "R": "right"}[eye] if binocular else "auto",
        binocular=binocular,
        ready=ready,
        repeats=args.repeats,
    )

    rows: list[Row] = []
    ratios: list[tuple[str, float, float, float]] = []
    for p in pairs:
        r, (r_det, r_vel, r_pipe) = bench_pair(p, setup)
        rows += r
        ratios.append((p.name, r_det, r_vel, r_pipe))

    print()
    print("| pair | stage | library | what is timed | median s | samples/s | runs (s) | events |")
    print("|---|---|---|---|---|---|---|---|")
    for name, stage, lib, t in rows:
        if isinstance(t, str):
            print(f"| {name} | {stage} | {lib} | {t} | - | - | - | - |")
            continue
        rate_txt = f"{n / t.median / 1e6:.2f} M"
        print(f"| {name} | {stage} | {lib} | {t.label} | {t.median:.4f} | {rate_txt} | {t.cell()} | {n_events(t)} |")
    print("(events: fixations; pymovements microsaccades: saccades)")
    shown: set[tuple[str, str]] = set()
    for _, _, lib, t in rows:
        for msg in [] if isinstance(t, str) else t.warnings:
            if (lib, msg) not in shown:
                shown.add((lib, msg))
                print(f"warning from {lib} ({t.label}): {msg}")
    print()
    print("ratios, pymovements time / gazelab time (above 1: gazelab faster):")
    print("| pair | (a) detection | (a') pymovements detection + its velocity | (b) pipeline (faster pymovements) |")
    print("|---|---|---|---|")
    for name, *rs in ratios:
        print(f"| {name} | " + " | ".join("fails" if math.isnan(r) else f"{r:.1f}x" for r in rs) + " |")
    print("(gazelab's detector computes its velocity inside (a); pymovements' (a) gets velocities made beforehand)")
    for name, r_det, r_vel, r_pipe in ratios:
        if min(r_det, r_vel, r_pipe) < 1:
            print(
                f"NOTE: gazelab slower than pymovements on {name}: (a) {r_det:.2f}x, (a') {r_vel:.2f}x, "
                f"(b) {r_pipe:.2f}x"
            )
    done = [r for r in ratios if not math.isnan(r[3])]
    if not done:
        print("pymovements failed every pipeline: no ratio")
        return
    worst = min(done, key=lambda r: r[3])
    print(f"smallest pipeline ratio: {worst[0]}")
    print(f"min ratio (pymovements / gazelab, whole pipeline): {worst[3]:.1f}x")


if __name__ == "__main__":
    main()
