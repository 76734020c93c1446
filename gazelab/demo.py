"""The main job on the embedded default: a simulated recording, end to end.

For now (until the acquisition, dataset and model stages exist) the demo simulates an observer
on a 1920x1080 screen (53 x 30 cm at 60 cm), writes the recording as an EyeLink ASC file,
reads it back, detects fixations with every algorithm and scores each against the simulated
truth (which the ASC file carries as its EFIX events).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pandas as pd

from gazelab._io import write_table
from gazelab.geometry import Geometry
from gazelab.preprocessing import agreement, detect_fixations, read_asc
from gazelab.simulation import simulate_gaze, write_asc

__all__ = ["DEMO_GEOMETRY", "run_demo"]

#: The demo's screen: 1920 x 1080 px, 53 x 30 cm, viewed from 60 cm.
DEMO_GEOMETRY = Geometry(1920, 1080, 53.0, 30.0, 60.0)


def run_demo(out: str | Path, *, seed: int = 0, echo: Callable[[str], None] = print) -> pd.DataFrame:
    """Run the demo and write its files to ``out``.

    Parameters
    ----------
    out : str or Path
        Output folder (created). It receives ``simulated.asc``, one
        ``fixations_<algorithm>.csv`` per algorithm and ``summary.csv``.
    seed : int, optional
        Seed of the simulated observer (default 0).
    echo : callable, optional
        Where progress lines and the summary table are printed.

    Returns
    -------
    pandas.DataFrame
        The summary: per algorithm, fixations found, fraction of true fixations matched (onset
        within 20 ms), precision, mean onset and duration errors.
    """
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    g = DEMO_GEOMETRY
    sim = simulate_gaze(g, n_fixations=60, sampling_rate_hz=500.0, blink_probability=0.15, seed=seed)
    asc = write_asc(sim, out / "simulated.asc")
    echo(f"simulated {len(sim.time_ms)} samples at 500 Hz ({len(sim.fixations)} true fixations) -> {asc}")
    rec = read_asc(asc)
    truth = detect_fixations(rec, g, algorithm="eyelink")
    rows = []
    for algorithm in ("ivt", "idt", "ek"):
        table = detect_fixations(rec, g, algorithm=algorithm)
        write_table(table, out / f"fixations_{algorithm}.csv")
        a = agreement(truth, table).iloc[0]
        rows.append(
            {
                "algorithm": algorithm,
                "fixations": len(table),
                "true_fixations": int(a["n_reference"]),
                "matched": round(float(a["matched_fraction"]), 3),
                "precision": round(float(a["precision"]), 3),
                "mean_abs_onset_err_ms": round(float(a["mean_abs_onset_diff_ms"]), 1),
                "mean_abs_duration_err_ms": round(float(a["mean_abs_duration_diff_ms"]), 1),
            }
        )
    summary = pd.DataFrame(rows)
    write_table(summary, out / "summary.csv")
    echo("fixations vs the simulated truth (matched: true onset within 20 ms):")
    echo(summary.to_string(index=False))
    echo(f"files written to {out.resolve()}")
    return summary
