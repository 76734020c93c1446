"""Trial segmentation from messages, shared by every reader that has messages.

Conventions (SR Research's Data Viewer protocol, also written by gazelab's own sessions):
``TRIALID <id>`` opens a trial; ``TRIAL_RESULT <result>`` closes it (a new ``TRIALID`` or the
end of the data also closes an open one); ``!V TRIAL_VAR <name> <value>`` sets a trial variable
(attached to the open trial, else to the last one, as Data Viewer does for variables written
after ``TRIAL_RESULT``); ``!V IMGLOAD {FILL|CENTER|TOP_LEFT} <file> [<x> <y> [<width> <height>]]``
names the image shown and where (screen px).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from gazelab.preprocessing.recording import Recording

__all__ = ["TRIAL_COLUMNS", "assign_trials", "build_trials", "recording_with_trials", "single_block"]

TRIAL_COLUMNS = [
    "trial",
    "trial_id",
    "onset_ms",
    "offset_ms",
    "result",
    "image",
    "image_position",
    "image_x_px",
    "image_y_px",
    "image_width_px",
    "image_height_px",
]


def _imgload(args: list[str]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if not args:
        return out
    pos = args[0].upper()
    if pos in ("FILL", "CENTER", "TOP_LEFT"):
        out["image_position"] = pos.lower()
        rest = args[1:]
    else:  # a bare file name: Data Viewer treats it as FILL
        out["image_position"] = "fill"
        rest = args
    if not rest:
        return out
    out["image"] = rest[0]
    nums = []
    for tok in rest[1:5]:
        try:
            nums.append(float(tok))
        except ValueError:
            break
    keys = ["image_x_px", "image_y_px", "image_width_px", "image_height_px"]
    out.update(dict(zip(keys, nums, strict=False)))
    return out


def build_trials(messages: pd.DataFrame, *, end_ms: float) -> pd.DataFrame:
    """Build the trial table from a messages table.

    Parameters
    ----------
    messages : pandas.DataFrame
        With at least ``time_ms`` and ``text``; processed in time order (file order for ties).
    end_ms : float
        Time in ms that closes a trial still open at the end (the end of the data).

    Returns
    -------
    pandas.DataFrame
        One row per trial with the columns :data:`TRIAL_COLUMNS` and one column per
        ``TRIAL_VAR`` name, prefixed ``var_`` only where a name clashes with those columns.
    """
    rows: list[dict[str, Any]] = []
    open_row: dict[str, Any] | None = None
    if len(messages):
        order = np.argsort(messages["time_ms"].to_numpy(), kind="stable")
        times = messages["time_ms"].to_numpy()[order]
        texts = messages["text"].astype(str).to_numpy()[order]
    else:
        times, texts = np.array([]), np.array([], dtype=object)
    var_names: list[str] = []
    for t, text in zip(times, texts, strict=True):
        if text.startswith("TRIALID"):
            if open_row is not None:
                open_row["offset_ms"] = t
            open_row = {"trial_id": text[len("TRIALID") :].strip(), "onset_ms": t, "vars": {}}
            rows.append(open_row)
        elif text.startswith("TRIAL_RESULT"):
            if open_row is not None:
                open_row["offset_ms"] = t
                open_row["result"] = text[len("TRIAL_RESULT") :].strip()
                open_row = None
        elif text.startswith("!V "):
            parts = text.split()
            target = open_row if open_row is not None else (rows[-1] if rows else None)
            if target is None or len(parts) < 2:
                continue
            cmd = parts[1].upper()
            if cmd == "TRIAL_VAR" and len(parts) >= 3:
                name = parts[2]
                value = text.split(None, 3)[3] if len(parts) >= 4 else ""
                target["vars"][name] = value
                if name not in var_names:
                    var_names.append(name)
            elif cmd == "IMGLOAD" and target is open_row:
                target.update(_imgload(parts[2:]))
    if open_row is not None:
        open_row["offset_ms"] = max(end_ms, open_row["onset_ms"])
    n = len(rows)
    table: dict[str, Any] = {
        "trial": np.arange(1, n + 1, dtype=np.int64),
        "trial_id": pd.array([r["trial_id"] for r in rows], dtype="string"),
        "onset_ms": np.array([r["onset_ms"] for r in rows], dtype=float),
        "offset_ms": np.array([r.get("offset_ms", np.nan) for r in rows], dtype=float),
        "result": pd.array([r.get("result") for r in rows], dtype="string"),
        "image": pd.array([r.get("image") for r in rows], dtype="string"),
        "image_position": pd.array([r.get("image_position") for r in rows], dtype="string"),
    }
    for key in ("image_x_px", "image_y_px", "image_width_px", "image_height_px"):
        table[key] = np.array([r.get(key, np.nan) for r in rows], dtype=float)
    for name in var_names:
        col = f"var_{name}" if name in table else name
        values = pd.Series([r["vars"].get(name) for r in rows], dtype="string")
        try:
            table[col] = pd.to_numeric(values)
        except (ValueError, TypeError):
            table[col] = values.array
    return pd.DataFrame(table)


def assign_trials(times_ms: np.ndarray, trials: pd.DataFrame) -> pd.arrays.IntegerArray:
    """Trial number (1-based) of each time, ``<NA>`` outside every trial.

    A time belongs to a trial when ``onset_ms <= time <= offset_ms``; where trials touch, the
    later one wins.

    Parameters
    ----------
    times_ms : ndarray
        Times in ms.
    trials : pandas.DataFrame
        Trial table with ``trial``, ``onset_ms``, ``offset_ms``.

    Returns
    -------
    pandas.arrays.IntegerArray
        Nullable Int64 trial numbers.
    """
    times = np.asarray(times_ms, dtype=float)
    if len(trials) == 0 or len(times) == 0:
        return pd.arrays.IntegerArray(np.zeros(len(times), np.int64), np.ones(len(times), bool))
    order = np.argsort(trials["onset_ms"].to_numpy(), kind="stable")
    on = trials["onset_ms"].to_numpy()[order]
    off = trials["offset_ms"].to_numpy()[order]
    num = trials["trial"].to_numpy()[order]
    k = np.searchsorted(on, times, side="right") - 1
    ok = k >= 0
    ok[ok] = times[ok] <= off[k[ok]]
    return pd.arrays.IntegerArray(np.where(ok, num[np.maximum(k, 0)], 0).astype(np.int64), ~ok)


def single_block(times_ms: np.ndarray, sampling_rate_hz: float, eyes: str, line: int) -> pd.DataFrame:
    """The ``blocks`` table of a recording that is one block (a file without START/END lines).

    Parameters
    ----------
    times_ms : ndarray
        Sample times, ms, sorted.
    sampling_rate_hz : float
        The recording's rate, Hz.
    eyes : str
        The eyes recorded (``'L'``, ``'R'`` or ``'LR'``).
    line : int
        Where the block starts in the file (line or row).
    """
    return pd.DataFrame(
        {
            "block": [0],
            "onset_ms": [times_ms[0]],
            "offset_ms": [times_ms[-1]],
            "sampling_rate_hz": [sampling_rate_hz],
            "eyes": [eyes],
            "n_samples": [len(times_ms)],
            "line": [line],
        }
    )


def recording_with_trials(
    samples: pd.DataFrame,
    events: pd.DataFrame,
    messages: pd.DataFrame,
    blocks: pd.DataFrame,
    *,
    end_ms: float,
    label_events: bool = True,
    **fields: Any,
) -> Recording:
    """Build the trials from the messages, label the tables with them and assemble the Recording.

    Parameters
    ----------
    samples, events, messages, blocks : pandas.DataFrame
        The reader's tables, not yet labelled with trials. ``samples`` gets a ``trial`` column
        third (after ``time_ms`` and ``block``), ``messages`` one right after its ``block``
        column and ``events`` (when ``label_events``) one at the end, by onset.
    end_ms : float
        Time in ms that closes a trial still open at the end (the end of the data).
    label_events : bool, optional
        Give the events a ``trial`` column (default True).
    **fields
        The other fields of :class:`~gazelab.preprocessing.recording.Recording`.
    """
    trials = build_trials(messages, end_ms=end_ms)
    samples.insert(2, "trial", assign_trials(samples["time_ms"].to_numpy(float), trials))
    messages.insert(
        messages.columns.get_loc("block") + 1, "trial", assign_trials(messages["time_ms"].to_numpy(float), trials)
    )
    if label_events:
        events["trial"] = assign_trials(events["onset_ms"].to_numpy(float), trials)
    return Recording(samples=samples, events=events, messages=messages, trials=trials, blocks=blocks, **fields)
