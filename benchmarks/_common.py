"""Helpers shared by the benchmark scripts: where the real data lives, timing, screen geometry, intervals.

Not a benchmark itself. The scripts import it as a sibling module (``python benchmarks/NAME.py``
puts ``benchmarks/`` first on ``sys.path``).
"""

from __future__ import annotations

import gzip
import importlib
import os
import platform
import re
import shutil
import statistics
import sys
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: The real EyeLink recordings, next to the repository (``../shared/data/eyelink`` from its root).
DATA_DIR = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eyelink"
#: The benchmark input: binocular, 250 Hz, 211,050 samples, 14 MB of text.
DEFAULT_FILE = "220682rr01.asc.gz"

#: Physical screen size (cm) assumed per resolution (px); none of it is in the files.
#: 1920x1080 and 1024x768 as in ``../shared/data/SOURCES.md``; 1280x1024 (only the two
#: 16-sample pymovements test files) is an assumption of ours: 37.5 x 30.0 cm, i.e. square
#: pixels and the same 30 cm height as the 1024x768 screen.
SCREEN_CM: dict[tuple[int, int], tuple[float, float]] = {
    (1920, 1080): (53.0, 30.0),
    (1024, 768): (40.0, 30.0),
    (1280, 1024): (37.5, 30.0),
}
#: Viewing distance assumed for every file, cm.
DISTANCE_CM = 60.0


def data_dir() -> Path:
    """The data folder, or exit with a message saying where it was expected."""
    if not DATA_DIR.is_dir():
        sys.exit(
            f"benchmark data not found: expected the real EyeLink recordings in {DATA_DIR.resolve()} "
            "(../shared/data/eyelink/ next to the repository root); nothing to measure"
        )
    return DATA_DIR


def input_file(arg: str | None) -> Path:
    """The file named on the command line (a path, or a name inside the data folder)."""
    if arg is None:
        return data_dir() / DEFAULT_FILE
    p = Path(arg)
    if not p.is_file() and not p.is_absolute():
        p = data_dir() / arg
    if not p.is_file():
        sys.exit(f"input file not found: {arg}")
    return p


def plain_copy(path: Path, tmp: Path) -> Path:
    """``path`` itself if it is plain text, else its decompressed copy in ``tmp`` (made once)."""
    if path.suffix != ".gz":
        return path
    out = tmp / path.name[: -len(".gz")]
    with gzip.open(path, "rb") as src, out.open("wb") as dst:
        shutil.copyfileobj(src, dst, 1 << 22)
    return out


def screen_cm(size_px: tuple[int, int] | None) -> tuple[float, float]:
    """Assumed physical size for a resolution; unknown ones get 30 cm height and square pixels."""
    if size_px is None:
        size_px = (1920, 1080)
    w, h = size_px
    return SCREEN_CM.get((w, h), (30.0 * w / h, 30.0))


@dataclass
class Timing:
    """Wall-clock times of repeated runs of one thing (after one untimed warm-up run)."""

    label: str
    runs: list[float] = field(default_factory=list)
    result: Any = None  # what the warm-up run returned
    warnings: list[str] = field(default_factory=list)  # distinct warnings of the warm-up run

    @property
    def median(self) -> float:
        return statistics.median(self.runs)

    def cell(self) -> str:
        return " / ".join(f"{t:.4f}" for t in self.runs)


def measure(
    label: str,
    fn: Callable[[Any], Any],
    *,
    repeats: int,
    setup: Callable[[], Any] | None = None,
    quiet: bool = True,
) -> Timing:
    """Run ``fn(setup())`` once untimed (warm-up), then ``repeats`` times timed.

    ``setup`` (not timed) makes a fresh input for each run, for functions that modify their
    input in place. Warnings of the warm-up run are recorded; with ``quiet`` the timed runs
    ignore warnings (printing them would be timed too).
    """
    timing = Timing(label)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        timing.result = fn(setup() if setup else None)
    seen: list[str] = []
    for w in caught:
        msg = re.sub(r"^\S+?\.asc(?:\.gz)?: ", "", str(w.message).splitlines()[0])  # drop a leading file path
        text = f"{w.category.__name__}: {msg[:140]}"
        if text not in seen:
            seen.append(text)
    timing.warnings = seen
    for _ in range(repeats):
        arg = setup() if setup else None
        with warnings.catch_warnings():
            if quiet:
                warnings.simplefilter("ignore")
            t0 = time.perf_counter()
            fn(arg)
            timing.runs.append(time.perf_counter() - t0)
    return timing


def versions(*modules: str) -> str:
    """One line naming the Python, the machine and the versions of ``modules``."""
    parts = [f"python {platform.python_version()}", f"{os.cpu_count()} CPUs"]
    for name in modules:
        try:
            mod = importlib.import_module(name)
        except ImportError:
            parts.append(f"{name} (not installed)")
        else:
            parts.append(f"{name} {getattr(mod, '__version__', '?')}")
    return ", ".join(parts)


def t_interval(values: Any) -> tuple[float, float, float]:
    """Mean and 95 % t-interval of a few runs (NaN bounds for fewer than two)."""
    import numpy as np
    from scipy import stats

    v = np.asarray(values, float)
    m = float(v.mean())
    if len(v) < 2:
        return m, float("nan"), float("nan")
    half = float(stats.t.ppf(0.975, len(v) - 1) * v.std(ddof=1) / np.sqrt(len(v)))
    return m, m - half, m + half
