"""What every importer shares: from stimulus rows and a fixation table to a written release."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab._io import sha256_path
from gazelab.datasets.release import BuildReport, write_tables
from gazelab.datasets.schema import image_header
from gazelab.errors import ParseError

__all__ = ["FIXATION_FIELDS", "fixation_part", "read_mat", "stimulus_row", "write_imported"]

#: Columns of the fixation parts an importer hands to :func:`write_imported`.
FIXATION_FIELDS = ["stimulus", "observer", "x_px", "y_px", "onset_ms", "duration_ms", "order"]


def stimulus_row(
    path: Path,
    *,
    sigma_px: float | None,
    sigma_fraction: float,
    label: str = "",
    split: str = "",
    stim_id: str | None = None,
) -> dict[str, Any]:
    """A /stimuli row for an image file (size read from its header)."""
    try:
        w, h, _, _ = image_header(path.read_bytes())
    except (OSError, ValueError) as exc:
        raise ParseError(path, f"cannot read the image ({exc})") from None
    sig = float(sigma_px) if sigma_px is not None else sigma_fraction * max(w, h)
    return {
        "id": stim_id or path.stem,
        "file_name": path.name,
        "label": label,
        "split": split,
        "width_px": w,
        "height_px": h,
        "channels": 3,
        "stand_in": 0,
        "sigma_px": sig,
        "_path": path,
    }


def fixation_part(
    stimulus: int,
    observer: str,
    x_px: np.ndarray,
    y_px: np.ndarray,
    onset_ms: np.ndarray | float = np.nan,
    duration_ms: np.ndarray | float = np.nan,
) -> pd.DataFrame:
    """One observer's fixations on one stimulus, in viewing order, as :func:`write_imported` takes them.

    ``x_px``, ``y_px`` are 0-based continuous image px; ``onset_ms`` and ``duration_ms`` NaN
    when the layout publishes no timing.
    """
    return pd.DataFrame(
        {
            "stimulus": stimulus,
            "observer": observer,
            "x_px": x_px,
            "y_px": y_px,
            "onset_ms": onset_ms,
            "duration_ms": duration_ms,
            "order": np.arange(len(x_px)),
        }
    )


def read_mat(path: Path, failure: str, variable: str | None = None, **options: Any) -> Any:
    """A MATLAB file's ``variable`` (or all its variables, a dict), read with ``scipy.io.loadmat(**options)``.

    Raises
    ------
    ParseError
        Naming the file, ``failure`` and the reason, when it cannot be read or lacks ``variable``.
    """
    from scipy.io import loadmat
    from scipy.io.matlab import MatReadError  # a text file named .mat

    try:
        content = loadmat(path, **options)
        return content if variable is None else content[variable]
    except (KeyError, ValueError, OSError, MatReadError) as exc:
        raise ParseError(path, f"{failure} ({exc})") from None


def write_imported(
    out: str | Path,
    stimuli: list[dict[str, Any]],
    fixations: Sequence[pd.DataFrame],
    *,
    layout: str,
    sources: Sequence[Path],
    params: dict[str, Any],
    notes: Sequence[str],
    title: str,
    progress: bool | None = None,
) -> BuildReport:
    """Write an imported dataset.

    ``fixations`` is a list of parts (concatenated here; may be empty), each with the columns
    :data:`FIXATION_FIELDS`: ``stimulus`` (row in ``stimuli``), ``observer`` (id), ``x_px``,
    ``y_px`` (0-based continuous image px), ``onset_ms``, ``duration_ms`` (NaN when the layout
    has no timing) and ``order`` (position in the observer's sequence on that stimulus). Each
    (stimulus, observer) becomes a trial and each observer a session; fixations outside their
    image are dropped and counted per observer.
    """
    st = pd.DataFrame(stimuli)
    fx = pd.concat(fixations, ignore_index=True) if len(fixations) else pd.DataFrame(columns=FIXATION_FIELDS)
    observers = sorted(fx["observer"].astype(str).unique()) if len(fx) else []
    fx = fx.assign(observer=fx["observer"].astype(str).map({o: i for i, o in enumerate(observers)}).astype(np.int32))
    fx, outside = _drop_outside_images(fx, st, len(observers))
    trials, fx = _one_trial_per_stimulus_and_observer(fx, st)
    tables = {
        "sessions": _one_session_per_observer(observers, outside, layout, sources),
        "observers": pd.DataFrame({"id": observers, "metadata_json": "{}"}),
        "stimuli": st,
        "trials": trials,
        "fixations": fx,
        "samples": None,
    }
    return write_tables(
        out,
        tables,
        {"importer": layout, **params},
        notes=notes,
        title=title,
        action=f"import {layout}",
        sources=[p.name for p in sources],
        progress=progress,
    )


def _drop_outside_images(fx: pd.DataFrame, st: pd.DataFrame, n_observers: int) -> tuple[pd.DataFrame, np.ndarray]:
    """The fixations inside their image, and how many each observer had outside."""
    w = st["width_px"].to_numpy()[fx["stimulus"]]
    h = st["height_px"].to_numpy()[fx["stimulus"]]
    inside = ((fx["x_px"] >= 0) & (fx["x_px"] < w) & (fx["y_px"] >= 0) & (fx["y_px"] < h)).to_numpy()
    outside = np.bincount(fx["observer"].to_numpy()[~inside], minlength=n_observers)
    return fx[inside].reset_index(drop=True), outside


def _one_trial_per_stimulus_and_observer(fx: pd.DataFrame, st: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """/trials (an image at the origin, scale 1, from onset 0 to the last fixation's end) and
    the fixations with their trial row."""
    pairs = fx[["stimulus", "observer"]].drop_duplicates().sort_values(["observer", "stimulus"]).reset_index(drop=True)
    end = (fx["onset_ms"] + fx["duration_ms"]).groupby([fx["stimulus"], fx["observer"]]).max()
    trials = pd.DataFrame(
        {
            "session": pairs["observer"],
            "trial": pairs["stimulus"] + 1,
            "trial_id": st["id"].to_numpy()[pairs["stimulus"]],
            "stimulus": pairs["stimulus"],
            "observer": pairs["observer"],
            "stimulus_onset_ms": 0.0,
            "offset_ms": [
                float(end.get((s, o), np.nan)) for s, o in zip(pairs["stimulus"], pairs["observer"], strict=True)
            ],
            "left_px": 0.0,
            "top_px": 0.0,
            "scale": 1.0,
        }
    )
    key = pd.Series(np.arange(len(trials)), index=pd.MultiIndex.from_frame(pairs[["stimulus", "observer"]]))
    fx["trial"] = key.reindex(pd.MultiIndex.from_frame(fx[["stimulus", "observer"]])).to_numpy().astype(np.int32)
    return trials, fx


def _one_session_per_observer(
    observers: list[str], outside: np.ndarray, layout: str, sources: Sequence[Path]
) -> pd.DataFrame:
    """/sessions: one row per observer, screen unknown (0 / NaN), the published files as source."""
    src_sha = ";".join(f"{p.name}:{sha256_path(p)}" for p in sources if p.is_file())
    return pd.DataFrame(
        {
            "id": [f"{layout}-{o}" for o in observers],
            "source": ";".join(p.name for p in sources),
            "source_sha256": src_sha,
            "format": layout,
            "observer": np.arange(len(observers)),
            "eye": "",
            "sampling_rate_hz": np.nan,
            "screen_width_px": 0,
            "screen_height_px": 0,
            "screen_width_cm": np.nan,
            "screen_height_cm": np.nan,
            "distance_cm": np.nan,
            "n_fixations_outside": outside,
        }
    )
