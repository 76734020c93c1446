"""Agreement of detected fixations with the tracker's own EFIX events, gazelab and pymovements.

What is measured
    For every real EyeLink file in the data folder (``.asc`` and ``.asc.gz``) and every eye with
    at least one EFIX event: how well each detector finds the fixations that the EyeLink's
    online parser reported. The reference is ``detect_fixations(rec, geometry,
    algorithm="eyelink")`` (the EFIX lines, as read by gazelab). Matching is gazelab's
    ``agreement`` (one-to-one, per eye): an EFIX is matched by the detected fixation with the
    nearest onset if that onset is within 20 ms, and a detected fixation matches at most one
    EFIX. Reported per eye and detector: detected fixations, the matched fraction of the EFIX
    events, precision (the fraction of detected fixations that matched an EFIX) and the mean and
    median absolute duration difference over the matched pairs (ms; durations as EyeLink
    counts them, last - first sample + one sample period, on both sides).

    Detectors:

    - gazelab ``ivt``, ``idt``, ``ek`` with their defaults (I-VT: 30 deg/s, 8000 deg/s^2, pursuit
      fix-up 60 deg/s, motion threshold 0.15 deg, >= 40 ms, Savitzky-Golay 20 ms; I-DT: 1.0 deg,
      100 ms; EK: lambda 6, saccades >= 6 ms, fixations >= 40 ms), via ``detect_fixations``.
    - pymovements 0.28.0: ``gaze.from_asc`` on a decompressed copy, ``pix2deg()``, then I-VT:
      ``pos2vel('savitzky_golay', window_length=<odd number of samples nearest 20 ms, >= 5>,
      degree=2)`` and ``detect('ivt', velocity_threshold=30.0, minimum_duration=40)``; I-DT:
      ``detect('idt', dispersion_threshold=1.0, minimum_duration=100)``; per eye (``eye='left'``
      / ``'right'`` on binocular files, ``'auto'`` on monocular ones). Its events become a table
      with ``eye``, ``onset_ms`` = onset and ``duration_ms`` = offset - onset + one sample period
      (pymovements' offset is the last sample's time), matched with the same ``agreement``.
      Where pymovements fails (reading or detecting) the error is shown instead.

    Geometry (not in the files; assumed, all at 60 cm): 1920x1080 px -> 53.0 x 30.0 cm, 1024x768
    -> 40.0 x 30.0 cm (as ``../shared/data/SOURCES.md`` suggests), 1280x1024 -> 37.5 x 30.0 cm
    (our assumption: square pixels and the 30 cm height of the 1024x768 screen; only the two
    16-sample pymovements test files have it). The resolution is the one gazelab reads from the
    file (``DISPLAY_COORDS``, else ``GAZE_COORDS``).

The last line compares gazelab's I-VT with pymovements' I-VT on the eye where gazelab's I-VT
matches the smallest fraction of EFIX events, among files with at least 50 EFIX events.

Usage: ``python benchmarks/efix_agreement.py [--folder PATH] [--min-efix 50]``
"""

from __future__ import annotations

import argparse
import tempfile
import warnings
from pathlib import Path
from typing import Any

import pandas as pd
from _common import DISTANCE_CM, data_dir, plain_copy, screen_cm, versions

from gazelab import Geometry
from gazelab.preprocessing import agreement, detect_fixations, read_asc

OURS = ("ivt", "idt", "ek")
THEIRS = ("ivt", "idt")
EYE_NAMES = {"L": "left", "R": "right"}


def sg_window(rate_hz: float) -> int:
    """Odd number of samples nearest 20 ms, at least 5."""
    n = max(5, round(0.020 * rate_hz))
    return n if n % 2 else n + 1


def short(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {str(exc).splitlines()[0][:110]}" if str(exc) else type(exc).__name__


def pymovements_fixations(path: Path, size_px: tuple[int, int], eyes: list[str]) -> dict[str, Any]:
    """pymovements I-VT and I-DT fixations per eye as fixation tables, or the error text."""
    import pymovements as pm

    wcm, hcm = screen_cm(size_px)
    out: dict[str, Any] = {}
    try:
        gaze = pm.gaze.from_asc(path, experiment=pm.Experiment(*size_px, wcm, hcm, DISTANCE_CM, origin="upper left"))
    except Exception as exc:  # a peer failing on a real file is a result
        return {m: f"from_asc fails: {short(exc)}" for m in THEIRS}
    rate = float(gaze.experiment.eyetracker.sampling_rate)
    period = 1000.0 / rate
    gaze.pix2deg()
    with_vel = gaze.clone()
    with_vel.pos2vel("savitzky_golay", window_length=sg_window(rate), degree=2)
    runs = {
        "ivt": (with_vel, {"velocity_threshold": 30.0, "minimum_duration": 40}),
        "idt": (gaze, {"dispersion_threshold": 1.0, "minimum_duration": 100}),
    }
    for method, (g, params) in runs.items():
        tables = []
        try:
            for eye in eyes:
                eye_arg = EYE_NAMES[eye] if g.n_components == 4 else "auto"
                g.detect(method, eye=eye_arg, clear=True, **params)
                ev = g.events.frame
                onset = ev["onset"].to_numpy().astype(float)
                tables.append(
                    pd.DataFrame(
                        {
                            "eye": eye,
                            "onset_ms": onset,
                            "duration_ms": ev["offset"].to_numpy().astype(float) - onset + period,
                        }
                    )
                )
        except Exception as exc:
            out[method] = f"detect('{method}') fails: {short(exc)}"
        else:
            out[method] = pd.concat(tables, ignore_index=True)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folder", type=Path, help="folder of .asc / .asc.gz files (default: the shared data folder)")
    ap.add_argument("--min-efix", type=int, default=50, help="files with at least this many EFIX for the last line")
    args = ap.parse_args()
    folder = args.folder or data_dir()
    files = sorted(p for p in folder.iterdir() if p.name.endswith((".asc", ".asc.gz")))
    if not files:
        raise SystemExit(f"no .asc / .asc.gz files in {folder}")

    import pymovements as pm

    print(f"# efix_agreement: {len(files)} files in {folder.resolve()}")
    print(versions("gazelab", "numpy", "pandas", "pymovements", "polars"))
    print(f"pymovements {pm.__version__}: I-VT 30 deg/s, 40 ms, Savitzky-Golay ~20 ms; I-DT 1.0 deg, 100 ms")
    print("gazelab: ivt, idt, ek with their defaults; reference: detect_fixations(algorithm='eyelink')")
    print()

    rows: list[dict[str, Any]] = []
    notes: list[str] = []
    read_fail: list[str] = []
    with tempfile.TemporaryDirectory(prefix="gazelab-efix-") as tmpdir:
        for path in files:
            name = path.name.removesuffix(".gz").removesuffix(".asc")
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always")
                rec = read_asc(path, progress=False)
            for w in caught:
                notes.append(f"{name}: gazelab read_asc warns: {str(w.message).split(': ', 1)[-1][:140]}")
            size = rec.screen_px or (1920, 1080)
            wcm, hcm = screen_cm(size)
            geometry = Geometry(*size, wcm, hcm, DISTANCE_CM)
            ref = detect_fixations(rec, geometry, algorithm="eyelink")
            ev = rec.events
            n_lines = ev[ev["type"] == "fixation"]["eye"].astype(str).value_counts().to_dict() if len(ev) else {}
            eyes = [e for e in rec.eyes if (ref["eye"].astype(str) == e).sum() > 0]
            for e in eyes:
                n_ref = int((ref["eye"].astype(str) == e).sum())
                if n_ref != n_lines.get(e, 0):
                    notes.append(f"{name} {e}: {n_lines.get(e, 0)} EFIX lines, {n_ref} within the samples")
            if not eyes:
                notes.append(f"{name}: no EFIX events: skipped")
                continue
            detected: dict[str, Any] = {}
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                for algo in OURS:
                    detected[f"gazelab {algo}"] = detect_fixations(rec, geometry, algorithm=algo, eyes=tuple(eyes))
                theirs = pymovements_fixations(plain_copy(path, Path(tmpdir)), size, eyes)
            for method, det in theirs.items():
                detected[f"pymovements {method}"] = det
                if isinstance(det, str):
                    notes.append(f"{name}: pymovements {method}: {det}")
                    if det.startswith("from_asc") and name not in read_fail:
                        read_fail.append(name)
            for label, det in detected.items():
                if isinstance(det, str):
                    for e in eyes:
                        rows.append({"file": name, "eye": e, "method": label, "error": det})
                    continue
                agr = agreement(ref, det).set_index("eye")
                for e in eyes:
                    a = agr.loc[e]
                    rows.append(
                        {
                            "file": name,
                            "eye": e,
                            "efix": int(a["n_reference"]),
                            "method": label,
                            "detected": int(a["n_detected"]),
                            "matched": float(a["matched_fraction"]),
                            "precision": float(a["precision"]),
                            "mean_abs_dur": float(a["mean_abs_duration_diff_ms"]),
                            "median_abs_dur": float(a["median_abs_duration_diff_ms"]),
                            "error": "",
                        }
                    )
    table = pd.DataFrame(rows)
    table["efix"] = table.groupby(["file", "eye"])["efix"].transform("max")

    def ms(v: float) -> str:
        return "-" if pd.isna(v) else f"{v:.0f}"

    print("| file | eye | EFIX | detector | detected | matched | precision | mean abs dur diff ms | median ms |")
    print("|---|---|---|---|---|---|---|---|---|")
    for r in table.itertuples():
        head = f"| {r.file} | {r.eye} | {int(r.efix)} | {r.method} |"
        if r.error:
            print(f"{head} fails | | | | |")
        else:
            cells = [
                str(int(r.detected)),
                f"{r.matched:.2f}",
                f"{r.precision:.2f}",
                ms(r.mean_abs_dur),
                ms(r.median_abs_dur),
            ]
            print(f"{head} {' | '.join(cells)} |")
    print()
    labels = [f"gazelab {a}" for a in OURS] + [f"pymovements {m}" for m in THEIRS]
    print("matched fraction of EFIX events (one-to-one, onset within 20 ms):")
    print("| file | eye | EFIX | " + " | ".join(labels) + " |")
    print("|---|---|---|" + "---|" * len(labels))
    for (file, eye), g in table.groupby(["file", "eye"], sort=True):
        by = g.set_index("method")
        cells = ["fails" if by.loc[m, "error"] else f"{by.loc[m, 'matched']:.2f}" for m in labels]
        print(f"| {file} | {eye} | {int(g['efix'].iloc[0])} | " + " | ".join(cells) + " |")
    print()
    print(f"pymovements cannot read: {', '.join(read_fail) if read_fail else 'none'} (gazelab reads all {len(files)})")
    for note in notes:
        print(f"- {note}")
    print()

    ok = table[table["error"] == ""]
    per_file = ok[ok["method"] == "gazelab ivt"].groupby("file")["efix"].sum()
    big = per_file[per_file >= args.min_efix].index
    ours = ok[(ok["method"] == "gazelab ivt") & ok["file"].isin(big)]
    if ours.empty:
        print(f"no file with >= {args.min_efix} EFIX events: no ratio")
        return
    worst = ours.loc[ours["matched"].idxmin()]
    theirs = ok[(ok["method"] == "pymovements ivt") & (ok["file"] == worst["file"]) & (ok["eye"] == worst["eye"])]
    where = f"{worst['file']} {worst['eye']}, {int(worst['efix'])} EFIX"
    if theirs.empty:
        print(
            f"EFIX matched on the worst eye ({where}): gazelab ivt {worst['matched']:.3f}; pymovements ivt fails there"
        )
        return
    m_ours, m_theirs = float(worst["matched"]), float(theirs["matched"].iloc[0])
    ratio = f"{m_ours / m_theirs:.2f}x" if m_theirs > 0 else "inf (pymovements matched none)"
    print(f"worst eye by gazelab ivt among files with >= {args.min_efix} EFIX events: {where}")
    print(
        f"EFIX matched, gazelab ivt / pymovements ivt on {worst['file']} {worst['eye']}: "
        f"{m_ours:.3f} / {m_theirs:.3f} = {ratio}"
    )


if __name__ == "__main__":
    main()
