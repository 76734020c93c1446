"""Reader for gazelab's own session folders (see :mod:`gazelab.acquisition.session`).

Samples come from ``samples.tsv`` (a partial last line, left by a killed session, is skipped),
messages from ``messages.tsv``; trials follow the same ``TRIALID`` / ``!V IMGLOAD`` /
``TRIAL_RESULT`` conventions as EyeLink files. ``time_ms`` is the tracker's clock
(``device_time_ms``); ``host_time_ms`` and ``confidence`` are kept as sample columns. A gap in
the device clock longer than 2.5 sample periods (recording paused between trials) starts a new
block.

After an EyeLink session the EDF file transferred from the Host (``tracker_data_file`` in
``session.json``) is the session's authoritative record: when it is there and readable it is what
:func:`read_session` returns (with a warning saying so; the link samples are the backup),
unless ``use_edf=False``.
block, except where ``session.json`` lists the tracker's recording spans (EyeLink sessions):
then each span is one block, whatever gaps lost data left inside it. The tracker's link events
(``events.tsv``, EyeLink sessions) are the recording's events, so ``--algorithm eyelink`` works.
"""

from __future__ import annotations

import io
import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.acquisition.session import SESSION_FORMAT
from gazelab.errors import GazelabError, ParseError
from gazelab.geometry import Geometry
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import assign_trials, build_trials
from gazelab.preprocessing.recording import EVENT_COLUMNS, Recording, events_frame

__all__ = ["read_session", "session_geometry"]


def _complete_lines(path: Path) -> bytes:
    data = path.read_bytes()
    return data[: data.rfind(b"\n") + 1]


def _first_bad_line(data: bytes) -> tuple[int | None, str | None]:
    """The 1-based number of the first sample line that is not all numbers (error path only)."""
    lines = data.decode("utf-8", errors="replace").split("\n")
    n_cols = len(lines[0].split("\t"))
    for i, line in enumerate(lines[1:], start=2):
        if not line:
            continue
        fields = line.split("\t")
        if len(fields) != n_cols:
            return i, f"{len(fields)} fields; expected {n_cols}"
        for tok in fields:
            try:
                float(tok)
            except ValueError:
                return i, f"non-numeric field {tok[:40]!r}; expected a number"
    return None, None


def _blocks(t: np.ndarray, rate: float, spans: list[list[float]]) -> np.ndarray:
    """Block per sample: the recording span it falls in; a gap > 2.5 periods where no span is known."""
    gap = np.diff(t) > 2.5 * 1000.0 / rate
    if spans:
        starts = np.array([a for a, _ in spans], float)
        span = np.searchsorted(starts, t, side="right") - 1
        known = t <= max(b for _, b in spans)
        gap = np.where(known[1:], np.diff(span) != 0, gap)
    return np.r_[0, np.cumsum(gap)].astype(np.int32)


def _events(folder: Path, blocks: pd.DataFrame, trials: pd.DataFrame) -> pd.DataFrame:
    """The tracker's link events from ``events.tsv`` (none when the file is absent)."""
    path = folder / "events.tsv"
    if not path.exists():
        return events_frame([])
    try:
        raw = pd.read_csv(io.BytesIO(_complete_lines(path)), sep="\t", keep_default_na=True)
    except (OSError, ValueError, pd.errors.ParserError) as exc:
        raise ParseError(path, f"cannot parse the tracker events ({exc})") from None
    raw = raw.sort_values("onset_ms", kind="stable").reset_index(drop=True)
    rows = []
    for k, r in enumerate(raw.itertuples(index=False)):
        row = {c: getattr(r, c, np.nan) for c in EVENT_COLUMNS}
        row["line"] = k + 2
        rows.append(tuple(row[c] for c in EVENT_COLUMNS))
    ev = events_frame(rows)
    onsets = blocks["onset_ms"].to_numpy()
    ev["block"] = np.clip(np.searchsorted(onsets, ev["onset_ms"].to_numpy(), side="right") - 1, 0, None).astype(
        np.int32
    )
    ev["trial"] = assign_trials(ev["onset_ms"].to_numpy(), trials)
    return ev


@register_reader("gazelab-session", folder_marker="session.json")
def read_session(path: str | Path, *, use_edf: bool = True) -> Recording:
    """Read a gazelab session folder.

    Parameters
    ----------
    path : str or Path
        The session folder (holding ``session.json``, ``samples.tsv``, ``messages.tsv``).
    use_edf : bool, optional
        Return the session's EDF file (:func:`~gazelab.preprocessing.read_edf`) when
        ``session.json`` names one that is there and readable (default True); False reads the
        link samples.

    Returns
    -------
    Recording

    Raises
    ------
    ParseError
        If the folder is not a session, or a file is malformed (naming file and line).
    """
    folder = Path(path)
    meta_path = folder / "session.json"
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParseError(meta_path, f"not a readable session description ({exc})") from None
    if meta.get("format") != SESSION_FORMAT:
        raise ParseError(meta_path, f"format {meta.get('format')!r}; expected {SESSION_FORMAT!r}")
    edf = _session_edf(folder, meta) if use_edf else None
    if edf is not None:
        return edf
    rate = float(meta.get("sampling_rate_hz") or np.nan)
    if not rate > 0:
        raise ParseError(meta_path, f"sampling_rate_hz {meta.get('sampling_rate_hz')!r}; expected a rate > 0 (Hz)")
    sample_path = folder / "samples.tsv"
    try:
        data = _complete_lines(sample_path)
        samples = pd.read_csv(io.BytesIO(data), sep="\t", dtype=float, engine="c")
    except (ValueError, pd.errors.ParserError) as exc:
        line, what = _first_bad_line(data)
        raise ParseError(sample_path, f"cannot parse the samples ({what or exc})", line) from None
    except OSError as exc:
        raise ParseError(sample_path, f"cannot read the samples ({exc.strerror or exc})") from None
    if len(samples) == 0:
        raise ParseError(sample_path, "no samples recorded")
    t = samples["device_time_ms"].to_numpy()
    if (np.diff(t) < 0).any():
        raise ParseError(sample_path, "device time goes backwards", int(np.flatnonzero(np.diff(t) < 0)[0]) + 3)
    block = _blocks(t, rate, meta.get("recording_spans_ms") or [])
    samples = samples.rename(columns={"device_time_ms": "time_ms"})
    samples.insert(1, "block", block)
    msg_path = folder / "messages.tsv"
    raw = (
        pd.read_csv(
            io.BytesIO(_complete_lines(msg_path)), sep="\t", dtype={"text": str}, keep_default_na=False, quoting=3
        )
        if msg_path.exists()
        else pd.DataFrame(columns=["device_time_ms", "text"])
    )
    messages = pd.DataFrame(
        {
            "time_ms": raw["device_time_ms"].astype(float).to_numpy(),
            "offset_ms": np.zeros(len(raw)),
            "text": pd.array(raw["text"].astype(str).to_numpy(), dtype="string"),
            "line": np.arange(2, len(raw) + 2, dtype=np.int64),
        }
    )
    trials = build_trials(messages, end_ms=float(t[-1]))
    samples.insert(2, "trial", assign_trials(t, trials))
    messages["block"] = pd.array([pd.NA] * len(messages), dtype="Int64")
    messages["trial"] = assign_trials(messages["time_ms"].to_numpy(), trials)
    n_blocks = int(block[-1]) + 1
    change = np.r_[0, np.flatnonzero(np.diff(block)) + 1, len(t)]
    blocks = pd.DataFrame(
        {
            "block": np.arange(n_blocks, dtype=np.int32),
            "onset_ms": t[change[:-1]],
            "offset_ms": t[change[1:] - 1],
            "sampling_rate_hz": rate,
            "eyes": str(meta.get("eyes", "")),
            "n_samples": np.diff(change).astype(np.int64),
            "line": change[:-1] + 2,
        }
    )
    screen = meta.get("screen") or {}
    screen_px = (int(screen["width_px"]), int(screen["height_px"])) if "width_px" in screen else None
    events = _events(folder, blocks, trials)
    return Recording(
        samples=samples,
        events=events,
        messages=messages,
        trials=trials,
        blocks=blocks,
        sampling_rate_hz=rate,
        eyes=tuple(e for e in "LR" if e in str(meta.get("eyes", ""))),
        screen_px=screen_px,
        source=str(folder),
        format="gazelab-session",
        metadata=meta,
    )


def _session_edf(folder: Path, meta: dict[str, Any]) -> Recording | None:
    """The session's EDF file as a Recording, or None (no EDF, or one that cannot be read: said)."""
    name = meta.get("tracker_data_file")
    if not name or not str(name).lower().endswith(".edf"):
        return None
    path = folder / Path(str(name)).name
    if not path.is_file():
        return None
    from gazelab.preprocessing.readers.edf import read_edf

    try:
        rec = read_edf(path)
    except GazelabError as exc:
        warnings.warn(f"{folder}: the EDF file cannot be read ({exc}); using the link samples", stacklevel=3)
        return None
    warnings.warn(
        f"{folder}: using the EDF file {path.name} (authoritative); the link samples are the backup", stacklevel=3
    )
    rec.metadata = {**meta, **rec.metadata, "session_record": path.name}
    if rec.screen_px is None:
        screen = meta.get("screen") or {}
        rec.screen_px = (int(screen["width_px"]), int(screen["height_px"])) if "width_px" in screen else None
    return rec


def session_geometry(meta: dict[str, Any]) -> Geometry | None:
    """The screen geometry a ``session.json`` records (its ``screen`` entry), or None when incomplete.

    Parameters
    ----------
    meta : dict
        The parsed ``session.json`` (a session Recording's ``metadata``).

    Returns
    -------
    Geometry or None
    """
    screen = meta.get("screen") or {}
    keys = ("width_px", "height_px", "width_cm", "height_cm", "distance_cm")
    if not all(screen.get(k) for k in keys):
        return None
    return Geometry(
        int(screen["width_px"]),
        int(screen["height_px"]),
        float(screen["width_cm"]),
        float(screen["height_cm"]),
        float(screen["distance_cm"]),
    )
