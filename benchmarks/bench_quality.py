"""``gazelab quality`` on the largest real ASC file against ``read_asc`` alone.

What is measured
    Wall-clock seconds, median of ``--repeats`` runs (default 5) after one untimed warm-up, in
    this one process, on the same ``.asc.gz`` input:

    - ``read_asc(path)``: reading the file into a Recording (the floor of any quality report);
    - ``quality_report([path], screen_cm=..., distance_cm=...)``: what ``gazelab quality`` runs
      (reading the file, then per trial and eye: data loss, blinks, RMS-S2S and STD precision
      inside the tracker's fixations, validation and drift records, grades).

    Geometry: the physical screen size assumed for the file's resolution in ``_common.py``
    (53 x 30 cm for 1920x1080) at 60 cm; none of it is in the file.

The last line is the ratio quality / read_asc (goal: at most 2).

Usage: ``python benchmarks/bench_quality.py [--file 220682rr01.asc.gz] [--repeats 5]``
"""

from __future__ import annotations

import argparse

from _common import DEFAULT_FILE, DISTANCE_CM, input_file, measure, screen_cm, versions

from gazelab.datasets.quality import quality_report
from gazelab.preprocessing import read_asc


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", help=f"ASC file (default {DEFAULT_FILE})")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs (median reported; default 5)")
    args = ap.parse_args()
    path = input_file(args.file)
    size = read_asc(path, progress=False).screen_px
    cm = screen_cm(size)
    read = measure("read_asc", lambda _: read_asc(path, progress=False), repeats=args.repeats)
    qual = measure(
        "quality",
        lambda _: quality_report([path], screen_cm=cm, distance_cm=DISTANCE_CM, progress=False),
        repeats=args.repeats,
    )
    print(versions())
    rec = read.result
    print(f"input: {path.name}, {rec.n_samples} samples, {len(rec.trials)} trials, screen {size} px, {cm} cm")
    print(f"viewing distance (assumed): {DISTANCE_CM} cm")
    print(f"quality rows: {len(qual.result)} (trial x eye); grades {qual.result['grade'].value_counts().to_dict()}")
    for t in (read, qual):
        print(f"{t.label:>10}: median {t.median:.3f} s  ({t.cell()})")
    print(f"quality / read_asc: {qual.median / read.median:.2f}x")


if __name__ == "__main__":
    main()
