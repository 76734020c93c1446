"""Reading an EyeLink ASC file: gazelab's ``read_asc`` against pymovements and MNE.

What is measured
    Wall-clock seconds to turn one ASC file into samples in memory, per tool, in this one
    process, on the same input: the median of ``--repeats`` runs (default 5) after one untimed
    warm-up run (which also pays for lazy imports and caches).

    - gazelab ``read_asc(path)`` on the plain ``.asc`` (the input the peers read) and on the
      ``.asc.gz`` (reported; not in the ratio). ``progress=False``.
    - pymovements ``gaze.from_asc(path, experiment=Experiment(...))`` on the plain ``.asc``, with a
      fresh ``Experiment`` per call (``from_asc`` fills in, i.e. modifies, the one it is given;
      made outside the timing).
    - MNE ``io.read_raw_eyelink(path)`` on the plain ``.asc`` (skipped if MNE is not installed).
      It reads the data when called (``preload`` makes no difference for EyeLink files).
    - the "floor" (reported, not in the ratio): read the file's bytes, keep the lines that start
      with a digit (the sample lines) and hand them to pandas' C parser (``read_csv``, tab
      separated, ``.`` as missing). It is what any reader has to do at least.

    Neither peer opens a ``.gz`` path, so a ``.gz`` input is decompressed once into a temporary
    folder before anything is timed; a plain input is gzipped there for gazelab's ``.gz`` row.

    Sample counts: the file's sample lines (from the floor), gazelab's ``rec.n_samples``,
    pymovements' ``gaze.samples.height`` and MNE's ``raw.n_times`` (for multi-block files MNE
    fills the gaps between blocks, so its count of finite x values is shown as well). gazelab's
    count must equal pymovements' and the number of sample lines.

The last line is the fastest peer's median time over gazelab's on the plain ``.asc``.

Usage: ``python benchmarks/bench_asc.py [--file 220682rr01.asc.gz] [--repeats 5]``
"""

from __future__ import annotations

import argparse
import gzip
import io
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from _common import DATA_DIR, DEFAULT_FILE, DISTANCE_CM, Timing, input_file, measure, plain_copy, screen_cm, versions

from gazelab.preprocessing import read_asc


def floor_read(path: Path) -> pd.DataFrame:
    """Bytes -> sample lines -> pandas' C parser: the least work a reader can do."""
    data = path.read_bytes()
    buf = b"\n".join(line for line in data.split(b"\n") if line[:1].isdigit())
    return pd.read_csv(
        io.BytesIO(buf), sep="\t", header=None, na_values=["."], keep_default_na=False, skipinitialspace=True
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", help=f"ASC file (.asc/.asc.gz): a name in {DATA_DIR} or a path (default {DEFAULT_FILE})")
    ap.add_argument("--repeats", type=int, default=5, help="timed runs per tool (median reported; default 5)")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    src = input_file(args.file)
    n = args.repeats

    import pymovements as pm

    try:
        import mne

        mne.set_log_level("ERROR")
    except ImportError:
        mne = None

    print(f"# bench_asc: reading {src.name}")
    print(versions("gazelab", "numpy", "pandas", "pymovements", "polars", "mne"))
    print(f"median of {n} timed runs after 1 warm-up run, all in this process")

    with tempfile.TemporaryDirectory(prefix="gazelab-bench-") as tmpdir:
        tmp = Path(tmpdir)
        plain = plain_copy(src, tmp)
        if src.suffix == ".gz":
            gz = src
        else:
            gz = tmp / (src.name + ".gz")
            with plain.open("rb") as fin, gzip.open(gz, "wb") as fout:
                shutil.copyfileobj(fin, fout)
        print(f"plain input: {plain} ({plain.stat().st_size / 1e6:.1f} MB); gzip input: {gz.name}")

        rows: list[tuple[str, Timing, str]] = []
        t_floor = measure("floor: bytes + digit lines + pandas read_csv", lambda _: floor_read(plain), repeats=n)
        n_lines = len(t_floor.result)
        t_ours = measure("gazelab read_asc (.asc)", lambda _: read_asc(plain, progress=False), repeats=n)
        rec = t_ours.result
        t_ours_gz = measure("gazelab read_asc (.asc.gz)", lambda _: read_asc(gz, progress=False), repeats=n)
        rows += [
            ("floor", t_floor, f"{n_lines} sample lines"),
            ("gazelab", t_ours, f"{rec.n_samples} samples"),
            ("gazelab", t_ours_gz, f"{t_ours_gz.result.n_samples} samples"),
        ]

        w, h = rec.screen_px or (1920, 1080)
        wcm, hcm = screen_cm((w, h))

        def experiment() -> pm.Experiment:
            return pm.Experiment(w, h, wcm, hcm, DISTANCE_CM, origin="upper left")

        peers: list[Timing] = []
        n_pm: int | None = None
        try:
            t_pm = measure(
                "pymovements gaze.from_asc (.asc)",
                lambda exp: pm.gaze.from_asc(plain, experiment=exp),
                repeats=n,
                setup=experiment,
            )
        except Exception as exc:  # a peer failing on a file is a result, not a crash
            print(f"pymovements fails on {plain.name}: {type(exc).__name__}: {exc}")
        else:
            n_pm = t_pm.result.samples.height
            rows.append(("pymovements", t_pm, f"{n_pm} samples"))
            peers.append(t_pm)
        if mne is None:
            print("mne is not installed: skipped")
        else:
            try:
                t_mne = measure("mne io.read_raw_eyelink (.asc)", lambda _: mne.io.read_raw_eyelink(plain), repeats=n)
            except Exception as exc:
                print(f"mne fails on {plain.name}: {type(exc).__name__}: {exc}")
            else:
                raw = t_mne.result
                x = raw.get_data(picks=[c for c in raw.ch_names if c.startswith("xpos")][:1])
                rows.append(
                    ("mne", t_mne, f"{raw.n_times} n_times ({int(np.isfinite(x).sum())} with a finite first xpos)")
                )
                peers.append(t_mne)

    print()
    print("| tool | what | median s | samples/s | runs (s) | count |")
    print("|---|---|---|---|---|---|")
    for tool, t, count in rows:
        print(f"| {tool} | {t.label} | {t.median:.4f} | {n_lines / t.median / 1e6:.2f} M | {t.cell()} | {count} |")
    for tool, t, _ in rows:
        for msg in t.warnings:
            print(f"warning from {tool} ({t.label}): {msg}")
    print()
    ok_lines = rec.n_samples == n_lines
    print(f"gazelab samples == sample lines in the file: {ok_lines} ({rec.n_samples} vs {n_lines})")
    if n_pm is not None:
        ok_pm = rec.n_samples == n_pm
        print(f"gazelab samples == pymovements samples: {ok_pm} ({rec.n_samples} vs {n_pm})")
        if not ok_pm:
            print("MISMATCH: gazelab and pymovements read a different number of samples")
    if not ok_lines:
        print("MISMATCH: gazelab's sample count differs from the file's sample lines")
    print(
        f"gazelab .asc.gz vs .asc: {t_ours_gz.median:.4f} s vs {t_ours.median:.4f} s; "
        f"floor {t_floor.median:.4f} s (gazelab / floor: {t_ours.median / t_floor.median:.2f}x)"
    )
    if not peers:
        print("no peer could read the file: no ratio")
        return
    best = min(peers, key=lambda t: t.median)
    print(f"fastest peer: {best.label}, {best.median:.4f} s; gazelab {t_ours.median:.4f} s on the same plain .asc")
    print(f"ratio (fastest peer / gazelab): {best.median / t_ours.median:.1f}x")


if __name__ == "__main__":
    main()
