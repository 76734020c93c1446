"""Reading an EyeLink EDF file: gazelab's ``read_edf`` against eyelinkio's own ``read_edf``.

What is measured
    Wall-clock seconds to read one EDF file into memory, per tool, in this one process, on the
    same file: the median of ``--repeats`` runs (default 7) after one untimed warm-up run per
    tool; the timed runs alternate between the tools (ours, theirs, ours, ...) so that a busy
    machine slows both alike.

    - gazelab ``read_edf(path)``: the whole :class:`~gazelab.preprocessing.Recording` (samples
      of both eyes with pupil, resolution, input and status columns; events; messages; trials;
      blocks).
    - eyelinkio ``read_edf(path)``: its ``EDF`` object (gaze and pupil, events, messages,
      calibrations). Both go through the same EDF access library (edfapi) that eyelinkio ships;
      eyelinkio reads the file twice (a counting pass, then the data), gazelab once. The library
      prints a line on every open; for eyelinkio it is caught around the call (gazelab catches
      it itself), so both pay for that.

    Counts: samples, fixations, saccades, blinks and messages of both must be equal.

The last line is gazelab's median time over eyelinkio's (below 1: gazelab is faster).

Usage: ``python benchmarks/bench_edf.py [--file PATH.edf] [--repeats 7]`` (default: eyelinkio's
``test_raw_binocular.edf``, 500 Hz binocular, 99,823 samples, 15 blocks).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from _common import measure, versions

from gazelab.preprocessing import read_edf
from gazelab.preprocessing.readers.edf import _quiet_fds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--file", help="EDF file (default: eyelinkio's test_raw_binocular.edf)")
    ap.add_argument("--repeats", type=int, default=7, help="timed runs per tool (median reported; default 7)")
    args = ap.parse_args()
    if args.repeats < 1:
        ap.error("--repeats must be >= 1")
    try:
        import eyelinkio
    except ImportError:
        sys.exit("eyelinkio is not installed (gazelab's 'edf' extra): nothing to compare with")
    default = Path(eyelinkio.__file__).parent / "tests" / "data" / "test_raw_binocular.edf"
    src = Path(args.file) if args.file else default
    if not src.is_file():
        sys.exit(f"input file not found: {src}")

    def theirs(_: object) -> object:
        with _quiet_fds():
            return eyelinkio.read_edf(src)

    print(f"# bench_edf: reading {src.name} ({src.stat().st_size / 1e6:.1f} MB)")
    print(versions("gazelab", "numpy", "pandas", "eyelinkio"))
    print(f"median of {args.repeats} timed runs (alternating) after 1 warm-up run each, all in this process")
    # warm-up runs first, then the timed runs alternate, so that both tools see the same load
    t_ours = measure("gazelab read_edf", lambda _: read_edf(src), repeats=0)
    t_theirs = measure("eyelinkio read_edf", theirs, repeats=0)
    for _ in range(args.repeats):
        for timing, fn in ((t_ours, lambda: read_edf(src)), (t_theirs, lambda: theirs(None))):
            t0 = time.perf_counter()
            fn()
            timing.runs.append(time.perf_counter() - t0)
    rec, edf = t_ours.result, t_theirs.result
    kinds = rec.events["type"].value_counts()
    counts = {
        "samples": (rec.n_samples, edf["samples"].shape[1]),
        "fixations": (int(kinds.get("fixation", 0)), len(edf["discrete"].get("fixations", []))),
        "saccades": (int(kinds.get("saccade", 0)), len(edf["discrete"].get("saccades", []))),
        "blinks": (int(kinds.get("blink", 0)), len(edf["discrete"].get("blinks", []))),
        "messages": (len(rec.messages), len(edf["discrete"]["messages"])),
    }
    print()
    print("| tool | median s | samples/s | runs (s) |")
    print("|---|---|---|---|")
    for t in (t_ours, t_theirs):
        print(f"| {t.label} | {t.median:.4f} | {rec.n_samples / t.median / 1e6:.2f} M | {t.cell()} |")
    for t in (t_ours, t_theirs):
        for msg in t.warnings:
            print(f"warning from {t.label}: {msg}")
    print()
    print("| count | gazelab | eyelinkio | equal |")
    print("|---|---|---|---|")
    for name, (a, b) in counts.items():
        print(f"| {name} | {a} | {b} | {a == b} |")
    if any(a != b for a, b in counts.values()):
        print("MISMATCH: gazelab and eyelinkio read different counts")
    print(f"ratio (gazelab / eyelinkio time): {t_ours.median / t_theirs.median:.2f}")


if __name__ == "__main__":
    main()
