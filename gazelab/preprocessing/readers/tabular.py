"""Other trackers' sample exports (CSV / TSV): a generic column mapping, and vendor presets.

A mapping names, for each gazelab column, the file's column: at least ``time`` and, per eye,
``x_left``/``y_left`` and/or ``x_right``/``y_right`` (``pupil_*`` optional), or ``x``/``y`` for a
single eye (then ``eye`` says which). Units are converted on reading: time in ``s``, ``ms``,
``us`` or ``ns``; gaze in screen ``px`` or ``normalized`` (0..1 of the screen, then ``screen_px``
is required).

A *preset* (``format=``) fixes all of that for one vendor's export, plus what the mapping alone
cannot say: comment lines, the rows that are samples, the validity rule, the origin of the
coordinates, the messages and the tracker's own events. Presets live one module per vendor
beside this one (:mod:`~gazelab.preprocessing.readers.tobii`, ``pupil_labs``, ``gazepoint``,
``smi``) and register themselves with :func:`register_preset`; each is also a reader of the
registry under its name, so ``read(path, format="tobii")`` works.
"""

from __future__ import annotations

import io
import itertools
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd

from gazelab.errors import ParameterError, ParseError
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import TRIAL_COLUMNS, assign_trials, single_block
from gazelab.preprocessing.recording import EYES, Recording, events_frame

__all__ = ["Preset", "available_presets", "read_header", "read_tabular", "register_dispatch", "register_preset"]

_TIME_SCALE = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}
_DEFAULT_COLUMNS = {"time": "time_ms", "x": "x_px", "y": "y_px"}
_MISSING = ("", "NA", "NaN", "nan", ".")


@dataclass(frozen=True)
class Preset:
    """How one vendor's export is read.

    Attributes
    ----------
    name : str
        The ``format`` name (also the reader's name in the registry).
    columns : mapping
        gazelab name (as in :func:`read_tabular`'s ``columns``) -> the export's column name, or a
        tuple of names (the first the file has is used: exports rename columns between versions).
        Names not found are left out, unless the entry is ``time`` or an eye's x/y.
    time_unit, gaze_unit : str
        Units of the time and gaze columns.
    origin : {'top-left', 'bottom-left'}
        Where (0, 0) of the gaze coordinates is; bottom-left coordinates are flipped.
    sep : str
        Field separator.
    comment : str or None
        Lines starting with this before the header are skipped.
    sample_rows : (column, value) or None
        Only rows whose ``column`` equals ``value`` are samples (others may be messages).
    validity : mapping
        Per eye name (``left``/``right``): ``(column, valid values)``; other rows are missing.
    zero_is_missing : bool
        Gaze exactly (0, 0) means the tracker lost the eye.
    messages : callable or None
        ``raw table -> (row index, text)`` pairs: the export's messages.
    event_labels : mapping
        Per eye name: ``(column, {label in the file: gazelab event type})``: the tracker's own
        events, one per run of equal labels.
    column_units : mapping
        Column name -> time unit, for exports that name the unit in the header (overrides
        ``time_unit`` when that column is the one used).
    min_confidence : mapping
        Per eye name: ``(column, threshold)``; rows below the threshold are missing.
    event_valid : (column, valid values) or None
        Rows outside these values belong to no event (e.g. Gazepoint's FPOGV).
    note : str
        Where the preset's facts come from (shown in the Recording's metadata).

    A column name ending in ``*`` matches any column starting with the rest (Gazepoint writes the
    recording's date into its TIME column's name); in ``event_labels`` the label ``*`` stands for
    any non-empty cell (an event id).
    """

    name: str
    columns: Mapping[str, str | tuple[str, ...]]
    time_unit: str = "ms"
    gaze_unit: Literal["px", "normalized"] = "px"
    origin: Literal["top-left", "bottom-left"] = "top-left"
    sep: str = ","
    comment: str | None = None
    sample_rows: tuple[str, str] | None = None
    validity: Mapping[str, tuple[str, tuple[str, ...]]] = field(default_factory=dict)
    zero_is_missing: bool = False
    messages: Callable[[pd.DataFrame], list[tuple[int, str]]] | None = None
    event_labels: Mapping[str, tuple[str, Mapping[str, str]]] = field(default_factory=dict)
    column_units: Mapping[str, str] = field(default_factory=dict)
    min_confidence: Mapping[str, tuple[str, float]] = field(default_factory=dict)
    event_valid: tuple[str, tuple[str, ...]] | None = None
    note: str = ""


_PRESETS: dict[str, Preset] = {}
_DISPATCH: dict[str, Callable[[Path], str]] = {}


def register_preset(preset: Preset) -> Preset:
    """Register a vendor preset (also as a reader named ``preset.name``); duplicate names are refused."""
    if preset.name in _PRESETS:
        raise ValueError(f"a preset is already registered under the name {preset.name!r}")
    _PRESETS[preset.name] = preset

    def reader(path: str | Path, **kwargs: Any) -> Recording:
        return read_tabular(path, format=preset.name, **kwargs)

    reader.__doc__ = f"Read a {preset.name} export (see :func:`read_tabular`)."
    register_reader(preset.name)(reader)
    return preset


def register_dispatch(name: str, choose: Callable[[Path], str]) -> None:
    """Register ``name`` as a format that picks one of the presets by looking at the file (``choose``)."""
    if name in _PRESETS or name in _DISPATCH:
        raise ValueError(f"a preset is already registered under the name {name!r}")
    _DISPATCH[name] = choose

    def reader(path: str | Path, **kwargs: Any) -> Recording:
        return read_tabular(path, format=name, **kwargs)

    reader.__doc__ = f"Read a {name} export, whichever kind it is (see :func:`read_tabular`)."
    register_reader(name)(reader)


def available_presets() -> list[str]:
    """Names of the vendor presets, sorted."""
    return sorted([*_PRESETS, *_DISPATCH])


# -- reading the table ---------------------------------------------------------------------------


def _load(path: Path, sep: str, comment: str | None) -> tuple[pd.DataFrame, np.ndarray]:
    """The table as text cells, and each row's 1-based line in the file."""
    if not path.is_file():
        raise ParseError(path, "not a regular file (a folder, FIFO or device)" if path.exists() else "no such file")
    try:
        import gzip

        opener = gzip.open if path.name.lower().endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8-sig", newline="") as fh:
            lines = fh.read().splitlines()
    except UnicodeDecodeError as exc:
        hint = " (a UTF-16 file: re-save it as UTF-8)" if exc.object[:2] in (b"\xff\xfe", b"\xfe\xff") else ""
        raise ParseError(path, f"byte 0x{exc.object[exc.start]:02x} is not UTF-8; expected UTF-8 text{hint}") from None
    except (EOFError, OSError) as exc:
        raise ParseError(path, f"cannot read as text: {exc}") from None
    skip = 0
    while comment and skip < len(lines) and lines[skip].startswith(comment):
        skip += 1
    text = "\n".join(lines[skip:])
    try:
        raw = pd.read_csv(io.StringIO(text), sep=sep, dtype=str, keep_default_na=False, quoting=3)
    except (pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        kind = "TSV" if sep == "\t" else "CSV"
        raise ParseError(path, f"cannot parse as a {kind} table: {exc}") from None
    raw.columns = [str(c).strip().strip('"') for c in raw.columns]
    return raw, np.arange(len(raw)) + skip + 2


def read_header(path: Path, sep: str, comment: str | None = None) -> list[str]:
    """The column names of a table (for presets that tell kinds of export apart by their columns)."""
    return list(_load(Path(path), sep, comment)[0].columns)


def _numeric(raw: pd.DataFrame, column: str, lines: np.ndarray, path: Path) -> np.ndarray:
    col = raw[column].str.strip().str.strip('"')
    vals = col.where(~col.isin(_MISSING), None)
    out = pd.to_numeric(vals.str.replace(",", ".", regex=False), errors="coerce").to_numpy(dtype=float)
    bad = np.isnan(out) & vals.notna().to_numpy()
    if bad.any():
        i = int(np.flatnonzero(bad)[0])
        raise ParseError(path, f"non-numeric value {col.iloc[i]!r} in column {column!r}; expected a number", lines[i])
    return out


def _resolve(mapping: Mapping[str, str | tuple[str, ...]], raw: pd.DataFrame) -> dict[str, str]:
    """Each gazelab name -> the first of its candidate columns the table has (names not found left out)."""
    out = {}
    for key, names in mapping.items():
        for name in (names,) if isinstance(names, str) else names:
            hits = [c for c in raw.columns if c.startswith(name[:-1])] if name.endswith("*") else [name]
            hits = [c for c in hits if c in raw.columns]
            if hits:
                out[key] = hits[0]
                break
    return out


def _check_units(time_unit: str, gaze_unit: str, screen_px: tuple[int, int] | None) -> None:
    if time_unit not in _TIME_SCALE:
        raise ParameterError("time_unit", time_unit, f"one of {sorted(_TIME_SCALE)}")
    if gaze_unit not in ("px", "normalized"):
        raise ParameterError("gaze_unit", gaze_unit, "'px' or 'normalized'")
    if gaze_unit == "normalized" and screen_px is None:
        raise ParameterError("screen_px", screen_px, "(width, height) in px for normalized gaze")


def _eye_mapping(mapping: dict[str, Any], eye: str) -> dict[str, Any]:
    mapping = dict(mapping)
    if "x" in mapping or "y" in mapping:
        key = str(eye).upper()[:1]
        if key not in EYES:
            raise ParameterError("eye", eye, "'L' or 'R'")
        for k in ("x", "y", "pupil"):
            if k in mapping:
                mapping[f"{k}_{EYES[key]}"] = mapping.pop(k)
    if "time" not in mapping:
        raise ParameterError("columns", mapping, "a mapping with a 'time' entry")
    return mapping


def _times(raw: pd.DataFrame, column: str, unit: str, lines: np.ndarray, path: Path) -> np.ndarray:
    t = _numeric(raw, column, lines, path) * _TIME_SCALE[unit]
    if len(t) == 0:
        raise ParseError(path, "no samples: the table has no rows")
    if np.isnan(t).any():
        raise ParseError(path, "missing time value", lines[int(np.flatnonzero(np.isnan(t))[0])])
    dt = np.diff(t)
    if (dt < 0).any():
        raise ParseError(
            path, "time goes backwards; expected non-decreasing times", lines[int(np.flatnonzero(dt < 0)[0]) + 1]
        )
    return t


def _gaze(
    raw: pd.DataFrame,
    mapping: dict[str, str],
    preset: Preset | None,
    gaze_unit: str,
    screen_px: tuple[int, int] | None,
    lines: np.ndarray,
    path: Path,
) -> tuple[pd.DataFrame, tuple[str, ...]]:
    """Per-eye gaze (screen px, top-left origin) and pupil, with the preset's validity rules applied."""
    eyes = tuple(e for e, n in EYES.items() if f"x_{n}" in mapping and f"y_{n}" in mapping)
    if not eyes:
        raise ParameterError("columns", mapping, "x and y columns for at least one eye")
    cols: dict[str, np.ndarray] = {}
    for e in eyes:
        n = EYES[e]
        x, y = _numeric(raw, mapping[f"x_{n}"], lines, path), _numeric(raw, mapping[f"y_{n}"], lines, path)
        pupil = (
            _numeric(raw, mapping[f"pupil_{n}"], lines, path) if f"pupil_{n}" in mapping else np.full(len(x), np.nan)
        )
        lost = np.zeros(len(x), bool)
        if preset is not None:
            if preset.zero_is_missing:
                lost |= (x == 0) & (y == 0)
            rule = preset.validity.get(n)
            if rule is not None and rule[0] in raw.columns:
                lost |= ~raw[rule[0]].str.strip().isin(rule[1]).to_numpy()
            conf = preset.min_confidence.get(n)
            if conf is not None and conf[0] in raw.columns:
                lost |= ~(_numeric(raw, conf[0], lines, path) >= conf[1])
        if gaze_unit == "normalized":
            assert screen_px is not None
            x, y = x * screen_px[0], y * screen_px[1]
        if preset is not None and preset.origin == "bottom-left":
            assert screen_px is not None
            y = screen_px[1] - y
        x, y, pupil = (np.where(lost, np.nan, a) for a in (x, y, pupil))
        cols.update({f"x_{n}_px": x, f"y_{n}_px": y, f"pupil_{n}": pupil})
    return pd.DataFrame(cols), eyes


def _trials(raw: pd.DataFrame, mapping: dict[str, str], t: np.ndarray, lines: np.ndarray, path: Path) -> pd.DataFrame:
    """Trials from the ``trial`` column (one per distinct value, in order of appearance), or none."""
    rows = []
    if "trial" in mapping:
        labels = raw[mapping["trial"]].str.strip().to_numpy()
        present = labels != ""
        for k, tid in enumerate(pd.unique(labels[present]), start=1):
            sel = t[labels == tid]
            rows.append({"trial": k, "trial_id": str(tid), "onset_ms": sel.min(), "offset_ms": sel.max()})
    trials = pd.DataFrame(rows, columns=TRIAL_COLUMNS)
    for c in ("trial_id", "result", "image", "image_position"):
        trials[c] = trials[c].astype("string")
    for c in ("onset_ms", "offset_ms", "image_x_px", "image_y_px", "image_width_px", "image_height_px"):
        trials[c] = trials[c].astype(float)
    trials["trial"] = trials["trial"].astype(np.int64)
    return trials


def _label_events(
    raw: pd.DataFrame,
    preset: Preset | None,
    eyes: tuple[str, ...],
    t: np.ndarray,
    gaze: pd.DataFrame,
    lines: np.ndarray,
) -> pd.DataFrame:
    """The tracker's own events: one per run of equal labels in the preset's event column."""
    rows: list[tuple[Any, ...]] = []
    if preset is None:
        return events_frame(rows)
    period = float(np.median(np.diff(t))) if len(t) > 1 else 0.0
    for e in eyes:
        n = EYES[e]
        rule = preset.event_labels.get(n)
        if rule is None or rule[0] not in raw.columns:
            continue
        cells = raw[rule[0]].str.strip()
        kinds = np.array([rule[1].get(c, rule[1].get("*", "") if c else "") for c in cells], dtype=object)
        if preset.event_valid is not None and preset.event_valid[0] in raw.columns:
            kinds[~raw[preset.event_valid[0]].str.strip().isin(preset.event_valid[1]).to_numpy()] = ""
        ids = np.where(kinds != "", cells.to_numpy(), "")  # a new id starts a new event, even of the same kind
        change = np.r_[0, np.flatnonzero((kinds[1:] != kinds[:-1]) | (ids[1:] != ids[:-1])) + 1, len(kinds)]
        for a, b in itertools.pairwise(change):
            kind = kinds[a]
            if not kind:
                continue
            x, y = gaze[f"x_{n}_px"].to_numpy()[a:b], gaze[f"y_{n}_px"].to_numpy()[a:b]
            fix = kind == "fixation"
            with np.errstate(all="ignore"):
                mx = float(np.nanmean(x)) if fix and np.isfinite(x).any() else np.nan
                my = float(np.nanmean(y)) if fix and np.isfinite(y).any() else np.nan
            sac = kind == "saccade"
            rows.append(
                (kind, e, t[a], t[b - 1], t[b - 1] - t[a] + period, mx, my, np.nan,
                 x[0] if sac else np.nan, y[0] if sac else np.nan, x[-1] if sac else np.nan, y[-1] if sac else np.nan,
                 np.nan, np.nan, np.nan, np.nan, int(lines[a]))
            )  # fmt: skip
    events = events_frame(rows)
    return events.sort_values("onset_ms", kind="stable").reset_index(drop=True) if len(events) else events


def _messages(raw: pd.DataFrame, preset: Preset | None, t_all: np.ndarray, lines: np.ndarray) -> pd.DataFrame:
    pairs = preset.messages(raw) if preset is not None and preset.messages is not None else []
    idx = np.array([i for i, _ in pairs], dtype=int)
    return pd.DataFrame(
        {
            "time_ms": t_all[idx] if len(idx) else np.array([], float),
            "offset_ms": np.zeros(len(idx)),
            "text": pd.array([text for _, text in pairs], dtype="string"),
            "line": lines[idx] if len(idx) else np.array([], np.int64),
        }
    )


def read_tabular(
    path: str | Path,
    *,
    format: str | None = None,
    columns: Mapping[str, str] | None = None,
    time_unit: Literal["s", "ms", "us", "ns"] | None = None,
    gaze_unit: Literal["px", "normalized"] | None = None,
    eye: Literal["L", "R"] = "L",
    screen_px: tuple[int, int] | None = None,
    sampling_rate_hz: float | None = None,
    sep: str | None = None,
) -> Recording:
    """Read gaze samples from a delimited text table: a vendor's export or any mapped table.

    Parameters
    ----------
    path : str or Path
        CSV (``,``) or TSV (tab) file, optionally gzip-compressed.
    format : str, optional
        A vendor preset (see :func:`available_presets`): ``'tobii'`` (Tobii Pro Lab data export,
        TSV), ``'pupil-labs'`` (Pupil Player ``gaze_positions.csv`` or Pupil Cloud ``gaze.csv``),
        ``'gazepoint'`` (Gazepoint Analysis ``all_gaze.csv``), ``'smi'`` (SMI BeGaze / IDF
        Converter sample export). Without it, ``columns`` and the unit arguments describe the file.
    columns : mapping, optional
        gazelab name -> column name in the file. Names: ``time``; ``x``, ``y``, ``pupil``
        (one eye, see ``eye``) or ``x_left``, ``y_left``, ``pupil_left``, ``x_right``,
        ``y_right``, ``pupil_right``; optional ``trial``. Default
        ``{'time': 'time_ms', 'x': 'x_px', 'y': 'y_px'}``; with a preset, the preset's.
    time_unit : {'s', 'ms', 'us', 'ns'}, optional
        Unit of the time column (default ms, or the preset's).
    gaze_unit : {'px', 'normalized'}, optional
        Unit of the gaze columns: screen px (default) or fractions of the screen (0..1).
    eye : {'L', 'R'}, optional
        Which eye single-eye columns ``x``/``y`` belong to (default L).
    screen_px : (int, int), optional
        Screen ``(width, height)`` in px; required for normalized gaze and bottom-left origins
        (for Pupil Player, the world camera's frame size or the tracked surface's size).
    sampling_rate_hz : float, optional
        Sampling rate in Hz; default: estimated as ``1000 / median(diff(time_ms))``.
    sep : str, optional
        Field separator; default the preset's, else from the suffix (tab for ``.tsv``).

    Returns
    -------
    Recording
        One block; samples with gaze in screen px (origin top left; NaN where the export marks
        the sample invalid); trials from the ``trial`` column when mapped; the export's
        messages and the tracker's own events where the preset knows them.

    Raises
    ------
    ParameterError
        For an unknown preset, a bad unit, a mapping without time or gaze columns, or a missing
        ``screen_px``.
    ParseError
        For a missing column, a non-numeric cell (naming its line) or time going backwards.
    """
    path = Path(path)
    preset = _preset(format, path)
    time_unit = time_unit or (preset.time_unit if preset else "ms")
    gaze_unit = gaze_unit or (preset.gaze_unit if preset else "px")
    _check_units(time_unit, gaze_unit, screen_px)
    if preset is not None and preset.origin == "bottom-left" and screen_px is None:
        raise ParameterError("screen_px", None, f"(width, height) in px: {preset.name} coordinates start bottom left")
    sep = sep or (preset.sep if preset else ("\t" if ".tsv" in path.name.lower() else ","))
    raw, lines = _load(path, sep, preset.comment if preset else None)
    mapping = _columns(raw, preset, columns, eye, path)
    if preset is not None:
        time_unit = preset.column_units.get(mapping["time"], time_unit)
    keep = _sample_rows(raw, preset)
    messages = _messages(raw, preset, _numeric(raw, mapping["time"], lines, path) * _TIME_SCALE[time_unit], lines)
    samples_raw, sample_lines = raw[keep].reset_index(drop=True), lines[keep]
    t = _times(samples_raw, mapping["time"], time_unit, sample_lines, path)
    return _recording(
        path, preset, samples_raw, sample_lines, mapping, t, messages, gaze_unit, screen_px, sampling_rate_hz, time_unit
    )


def _preset(format: str | None, path: Path) -> Preset | None:
    if format is None or format == "tabular":
        return None
    _load_presets()
    if format in _DISPATCH:
        format = _DISPATCH[format](path)
    if format not in _PRESETS:
        raise ParameterError("format", format, f"one of {available_presets()}")
    return _PRESETS[format]


def _load_presets() -> None:
    """Import the vendor modules (they register their presets)."""
    from gazelab.preprocessing.readers import gazepoint, pupil_labs, smi, tobii  # noqa: F401


def _columns(
    raw: pd.DataFrame, preset: Preset | None, columns: Mapping[str, str] | None, eye: str, path: Path
) -> dict[str, str]:
    if preset is not None and columns is None:
        found = _resolve(preset.columns, raw)
        needed = [k for k in preset.columns if k in ("time", "x", "y") or k[:2] in ("x_", "y_")]
        if "time" not in found or not any(k == "x" or k.startswith("x_") for k in found):
            missing = [preset.columns[k] for k in needed if k not in found]
            raise ParseError(
                path, f"not a {preset.name} export: no column(s) {missing}; the file has {list(raw.columns)}", 1
            )
        return _eye_mapping(found, eye)
    mapping = _eye_mapping(dict(columns or _DEFAULT_COLUMNS), eye)
    missing_cols = [c for c in mapping.values() if c not in raw.columns]
    if missing_cols:
        raise ParseError(path, f"no column(s) {missing_cols}; the file has {list(raw.columns)}", 1)
    return mapping


def _sample_rows(raw: pd.DataFrame, preset: Preset | None) -> np.ndarray:
    if preset is None or preset.sample_rows is None or preset.sample_rows[0] not in raw.columns:
        return np.ones(len(raw), bool)
    column, value = preset.sample_rows
    return (raw[column].str.strip() == value).to_numpy()


def _recording(
    path: Path,
    preset: Preset | None,
    raw: pd.DataFrame,
    lines: np.ndarray,
    mapping: dict[str, str],
    t: np.ndarray,
    messages: pd.DataFrame,
    gaze_unit: str,
    screen_px: tuple[int, int] | None,
    sampling_rate_hz: float | None,
    time_unit: str,
) -> Recording:
    """Assemble the Recording from the sample rows."""
    if sampling_rate_hz is None:
        pos = np.diff(t)[np.diff(t) > 0]
        if len(pos) == 0:
            raise ParseError(path, "cannot estimate the sampling rate; pass sampling_rate_hz")
        sampling_rate_hz = 1000.0 / float(np.median(pos))
    gaze, eyes = _gaze(raw, mapping, preset, gaze_unit, screen_px, lines, path)
    samples = pd.concat([pd.DataFrame({"time_ms": t, "block": np.zeros(len(t), np.int32)}), gaze], axis=1)
    trials = _trials(raw, mapping, t, lines, path)
    samples.insert(2, "trial", assign_trials(t, trials))
    messages["block"] = pd.array([pd.NA] * len(messages), dtype="Int64")
    messages["trial"] = assign_trials(messages["time_ms"].to_numpy(float), trials)
    blocks = single_block(t, sampling_rate_hz, "".join(eyes), int(lines[0]))
    meta: dict[str, Any] = {"columns": mapping, "time_unit": time_unit, "gaze_unit": gaze_unit}
    if preset is not None:
        meta.update(preset=preset.name, origin=preset.origin, source_of_format=preset.note)
    return Recording(
        samples=samples,
        events=_label_events(raw, preset, eyes, t, gaze, lines),
        messages=messages,
        trials=trials,
        blocks=blocks,
        sampling_rate_hz=float(sampling_rate_hz),
        eyes=eyes,
        screen_px=tuple(screen_px) if screen_px else None,  # type: ignore[arg-type]
        source=str(path),
        format=preset.name if preset else "tabular",
        metadata=meta,
    )


@register_reader("tabular", suffixes=(".csv", ".tsv", ".csv.gz", ".tsv.gz"))
def _read_generic(path: str | Path, **kwargs: Any) -> Recording:
    """Read a table with a column mapping (see :func:`read_tabular`)."""
    return read_tabular(path, **kwargs)
