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
from gazelab.preprocessing.readers._trials import recording_with_trials
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


def _events(folder: Path, blocks: pd.DataFrame) -> pd.DataFrame:
    """The tracker's link events from ``events.tsv`` (none when the file is absent), with their block."""
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
    meta = _session_description(folder)
    edf = _session_edf(folder, meta) if use_edf else None
    if edf is not None:
        return edf
    rate = float(meta.get("sampling_rate_hz") or np.nan)
    if not rate > 0:
        raise ParseError(
            folder / "session.json", f"sampling_rate_hz {meta.get('sampling_rate_hz')!r}; expected a rate > 0 (Hz)"
        )
    samples = _samples(folder / "samples.tsv", rate, meta.get("recording_spans_ms") or [])
    messages = _messages(folder / "messages.tsv")
    blocks = _blocks_table(samples, rate, str(meta.get("eyes", "")))
    return recording_with_trials(
        samples,
        _events(folder, blocks),
        messages,
        blocks,
        end_ms=float(samples["time_ms"].iloc[-1]),
        label_events=(folder / "events.tsv").exists(),  # the empty table of a session without events has no block
        sampling_rate_hz=rate,
        eyes=tuple(e for e in "LR" if e in str(meta.get("eyes", ""))),
        screen_px=_screen_px(meta),
        source=str(folder),
        format="gazelab-session",
        metadata=meta,
    )


def _session_description(folder: Path) -> dict[str, Any]:
    """The folder's ``session.json``; refuse a folder that is not a gazelab session."""
    meta_path = folder / "session.json"
    try:
        meta: dict[str, Any] = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParseError(meta_path, f"not a readable session description ({exc})") from None
    if meta.get("format") != SESSION_FORMAT:
        raise ParseError(meta_path, f"format {meta.get('format')!r}; expected {SESSION_FORMAT!r}")
    return meta


def _samples(sample_path: Path, rate: float, spans: list[list[float]]) -> pd.DataFrame:
    """``samples.tsv`` (complete lines) on the tracker's clock (``time_ms``), with each sample's block."""
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
    samples = samples.rename(columns={"device_time_ms": "time_ms"})
    samples.insert(1, "block", _blocks(t, rate, spans))
    return samples


def _messages(msg_path: Path) -> pd.DataFrame:
    """``messages.tsv`` (complete lines; none when absent) on the tracker's clock, outside every block."""
    raw = (
        pd.read_csv(
            io.BytesIO(_complete_lines(msg_path)), sep="\t", dtype={"text": str}, keep_default_na=False, quoting=3
        )
        if msg_path.exists()
        else pd.DataFrame(columns=["device_time_ms", "text"])
    )
    return pd.DataFrame(
        {
            "time_ms": raw["device_time_ms"].astype(float).to_numpy(),
            "offset_ms": np.zeros(len(raw)),
            "text": pd.array(raw["text"].astype(str).to_numpy(), dtype="string"),
            "line": np.arange(2, len(raw) + 2, dtype=np.int64),
            "block": pd.array([pd.NA] * len(raw), dtype="Int64"),
        }
    )


def _blocks_table(samples: pd.DataFrame, rate: float, eyes: str) -> pd.DataFrame:
    """One row per block: its first and last sample time, the rate and the sample count."""
    t = samples["time_ms"].to_numpy()
    block = samples["block"].to_numpy()
    change = np.r_[0, np.flatnonzero(np.diff(block)) + 1, len(t)]
    return pd.DataFrame(
        {
            "block": np.arange(int(block[-1]) + 1, dtype=np.int32),
            "onset_ms": t[change[:-1]],
            "offset_ms": t[change[1:] - 1],
            "sampling_rate_hz": rate,
            "eyes": eyes,
            "n_samples": np.diff(change).astype(np.int64),
            "line": change[:-1] + 2,
        }
    )


def _screen_px(meta: dict[str, Any]) -> tuple[int, int] | None:
    """The screen size (px) ``session.json`` records, or None."""
    screen = meta.get("screen") or {}
    return (int(screen["width_px"]), int(screen["height_px"])) if "width_px" in screen else None


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
        rec.screen_px = _screen_px(meta)
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
