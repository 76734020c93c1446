"""EyeLink ASC reader (the text output of SR Research's ``edf2asc``).

The sample lines, which are nearly all of a file, are never split in Python: the reader finds
line starts with numpy, copies the runs of sample lines into one buffer and hands it to pandas'
C parser once per sample layout. Only the few thousand other lines (messages, events, block
headers) are parsed line by line.

What is read
------------
- ``START`` ... ``END`` recording blocks, each with its ``SAMPLES`` / ``EVENTS`` / ``PUPIL``
  header lines: sample type, eyes, ``VEL``, ``RES``, ``INPUT``, ``HTARGET`` (remote mode)
  columns and the sampling rate.
- Sample lines, monocular or binocular, with any of the optional columns; ``.`` is a missing
  value (NaN). Float timestamps (``2154556.5``) are kept.
- Integer timestamps at rates above 1 kHz (edf2asc's default at 2 kHz writes pairs of samples
  with the same integer ms): exact times are rebuilt from the rate, the k-th repeat of a
  timestamp getting ``k * 1000 / rate`` ms added; ``metadata['timestamps_rebuilt']`` says so.
- The tracker's events ``EFIX``, ``ESACC``, ``EBLINK`` (the start lines ``SFIX`` etc. carry
  nothing the end lines lack).
- ``MSG`` lines, with edf2asc's optional time offset (``MSG 7196804 -11 text``: the event happened
  at ``7196804 - (-11)`` ms); indented continuation lines and ``>>>>>>>`` banners (calibration
  reports) are appended to the preceding message's text.
- ``DISPLAY_COORDS`` (else ``GAZE_COORDS``) for the screen size; ``TRIALID`` / ``TRIAL_RESULT``
  for trials; ``!V IMGLOAD`` and ``!V TRIAL_VAR`` for the trial table.
- ``INPUT`` and ``BUTTON`` lines go to ``metadata['inputs']``; ``**`` header lines to
  ``metadata['header']``.

Anything else is an error naming the file and line, as are sample lines with the wrong number of
fields, non-numeric fields, sample lines outside a recording block, a file with no samples, and
a file that ends inside a line. A last block without ``END`` is read with a warning (an error
with ``strict=True``).
"""

from __future__ import annotations

import io
import re
import sys
import warnings
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import ParseError
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import assign_trials, build_trials
from gazelab.preprocessing.recording import EYES, Recording, events_frame

__all__ = ["read_asc"]

_EVENT_LINES = {"SFIX", "SSACC", "SBLINK", "EFIX", "ESACC", "EBLINK"}
_IGNORED = {"PRESCALER", "VPRESCALER", "EVENTS"}
_PROGRESS_BYTES = 2 * 1024 * 1024  # show a progress bar (when progress=None) above this size
_CHUNK = 1 << 22


@dataclass(frozen=True)
class _Layout:
    """Column layout of the sample lines of one recording block."""

    sample_type: str  # GAZE, HREF or PUPIL
    eyes: tuple[str, ...]
    vel: bool
    res: bool
    input: bool
    htarget: bool
    rate_hz: float

    def names(self) -> list[str]:
        cols = ["time_ms"]
        for e in self.eyes:
            n = EYES[e]
            cols += [f"x_{n}_px", f"y_{n}_px", f"pupil_{n}"]
        if self.vel:
            for e in self.eyes:
                n = EYES[e]
                cols += [f"xvel_{n}_deg_s", f"yvel_{n}_deg_s"]
        if self.res:
            cols += ["xres_px_per_deg", "yres_px_per_deg"]
        if self.input:
            cols += ["input"]
        cols += ["flags"]
        if self.htarget:
            cols += ["target_x", "target_y", "target_distance_mm", "target_flags"]
        return cols

    @property
    def n_fields(self) -> int:
        return len(self.names())

    def describe(self) -> str:
        parts = [self.sample_type, *("LEFT" if e == "L" else "RIGHT" for e in self.eyes)]
        parts += [k for k, v in (("VEL", self.vel), ("RES", self.res)) if v]
        parts += [k for k, v in (("HTARGET", self.htarget), ("INPUT", self.input)) if v]
        return " ".join(parts)


def _open_bytes(path: Path, progress: bool | None) -> bytes:
    """Read the whole (decompressed) file, with a progress bar over the file's bytes."""
    from tqdm.auto import tqdm

    size = path.stat().st_size
    show = (size > _PROGRESS_BYTES and sys.stderr.isatty()) if progress is None else progress
    gz = path.suffix == ".gz"
    if not gz:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
    chunks: list[bytes] = []
    with (
        path.open("rb") as raw,
        tqdm(
            total=size,
            unit="B",
            unit_scale=True,
            desc=f"reading {path.name}",
            disable=not show,
            leave=False,
        ) as bar,
    ):
        if gz:
            d = zlib.decompressobj(wbits=31)
            while True:
                block = raw.read(_CHUNK)
                if not block:
                    break
                bar.update(len(block))
                try:
                    chunks.append(d.decompress(block))
                    while d.eof and d.unused_data:  # concatenated gzip members
                        rest = d.unused_data
                        d = zlib.decompressobj(wbits=31)
                        chunks.append(d.decompress(rest))
                except zlib.error as exc:
                    raise ParseError(path, f"not a valid gzip stream ({exc})") from None
            if not d.eof:
                raise ParseError(path, "the gzip stream ends early: the file is truncated")
        else:
            while True:
                block = raw.read(_CHUNK)
                if not block:
                    break
                bar.update(len(block))
                chunks.append(block)
    data = b"".join(chunks)
    if b"\r" in data:
        data = data.replace(b"\r\n", b"\n").replace(b"\r", b"\n")
    return data


def _num(tok: str) -> float:
    return np.nan if tok == "." else float(tok)


def _parse_samples_header(tokens: list[str], path: Path, lineno: int) -> _Layout:
    upper = [t.upper() for t in tokens]
    sample_type = upper[1] if len(upper) > 1 else ""
    if sample_type not in {"GAZE", "HREF", "PUPIL"}:
        raise ParseError(
            path,
            f"SAMPLES line names sample type {tokens[1] if len(tokens) > 1 else ''!r}; expected GAZE, HREF or PUPIL",
            lineno,
        )
    eyes = tuple(e for e, word in (("L", "LEFT"), ("R", "RIGHT")) if word in upper)
    if not eyes:
        raise ParseError(path, "SAMPLES line names no eye; expected LEFT and/or RIGHT", lineno)
    try:
        rate = float(tokens[upper.index("RATE") + 1])
    except (ValueError, IndexError):
        raise ParseError(path, "SAMPLES line has no 'RATE <Hz>' field", lineno) from None
    if not rate > 0:
        raise ParseError(path, f"sampling rate {rate!r} Hz; expected a positive number", lineno)
    return _Layout(
        sample_type=sample_type,
        eyes=eyes,
        vel="VEL" in upper,
        res="RES" in upper,
        input="INPUT" in upper,
        htarget="HTARGET" in upper,
        rate_hz=rate,
    )


def _line_text(data: bytes, starts: np.ndarray, ends: np.ndarray, i: int) -> str:
    return data[starts[i] : ends[i]].decode("utf-8", errors="replace")


def _slow_sample_check(
    path: Path, layout: _Layout, lines: list[tuple[int, str]]
) -> None:  # pragma: no branch - only reached on bad input
    """Find the first bad sample line and raise a precise error (the error path only)."""
    names = layout.names()
    text_cols = {"flags", "target_flags"}
    for lineno, line in lines:
        toks = line.split()
        if len(toks) != len(names):
            raise ParseError(
                path,
                f"sample line has {len(toks)} fields; expected {len(names)} for the "
                f"'{layout.describe()}' layout ({', '.join(names)})",
                lineno,
            )
        for name, tok in zip(names, toks, strict=True):
            if name in text_cols or tok == ".":
                continue
            try:
                float(tok)
            except ValueError:
                raise ParseError(
                    path, f"non-numeric sample field {tok!r} in column {name}; expected a number or '.'", lineno
                ) from None


def _parse_sample_group(
    path: Path,
    data: bytes,
    starts: np.ndarray,
    ends: np.ndarray,
    line_idx: np.ndarray,
    layout: _Layout,
) -> pd.DataFrame:
    """Parse the sample lines ``line_idx`` (all of one layout) with pandas' C parser."""
    # join runs of consecutive line indices into one slice each
    brk = np.flatnonzero(np.diff(line_idx) != 1)
    run_first = np.r_[line_idx[0], line_idx[brk + 1]]
    run_last = np.r_[line_idx[brk], line_idx[-1]]
    buf = b"\n".join(data[starts[a] : ends[b]] for a, b in zip(run_first, run_last, strict=True))
    names = layout.names()
    dtypes: dict[str, Any] = {n: "float64" for n in names}
    dtypes["flags"] = str
    if layout.htarget:
        dtypes["target_flags"] = str

    def lines() -> list[tuple[int, str]]:
        return [(int(i) + 1, _line_text(data, starts, ends, int(i))) for i in line_idx]

    try:
        df = pd.read_csv(
            io.BytesIO(buf),
            sep=r"\s+",
            header=None,
            names=names,
            dtype=dtypes,
            na_values=["."],
            keep_default_na=False,
            engine="c",
        )
    except (ValueError, pd.errors.ParserError):
        _slow_sample_check(path, layout, lines())
        raise  # pragma: no cover - the check above always finds the culprit
    last = names[-1]
    if len(df) != len(line_idx) or df[last].isna().any():
        _slow_sample_check(path, layout, lines())
    return df


def _rebuild_times(t: np.ndarray, block: np.ndarray, rate_hz: np.ndarray) -> tuple[np.ndarray, bool]:
    """Spread repeated integer timestamps (2 kHz files) by the sample period."""
    if len(t) < 2:
        return t, False
    same = (t[1:] == t[:-1]) & (block[1:] == block[:-1])
    if not same.any():
        return t, False
    idx = np.arange(len(t))
    run_start = np.r_[True, ~same]
    first = np.maximum.accumulate(np.where(run_start, idx, 0))
    k = idx - first
    return t + k * (1000.0 / rate_hz), True


@register_reader("eyelink-asc", suffixes=(".asc", ".asc.gz"))
def read_asc(
    path: str | Path,
    *,
    strict: bool = False,
    progress: bool | None = None,
) -> Recording:
    """Read an EyeLink ASC file (``.asc`` or gzip-compressed ``.asc.gz``).

    Parameters
    ----------
    path : str or Path
        The file.
    strict : bool, optional
        Treat a file whose last recording block has no ``END`` line as an error. Default False:
        such a file (seen in real data, e.g. a session stopped by a crash) is read with a
        warning and ``metadata['truncated']`` set. A file cut inside a line or a gzip stream is
        an error either way.
    progress : bool or None, optional
        Show a progress bar while reading. None (default) shows one for files over 2 MB when
        standard error is a terminal.

    Returns
    -------
    Recording
        Samples, tracker events, messages, trials and blocks; see
        :mod:`gazelab.preprocessing.recording` for the columns and units.

    Raises
    ------
    ParseError
        For a file that cannot be read correctly, naming the line and what was expected.

    Examples
    --------
    >>> rec = read_asc("../shared/data/eyelink/mono500.asc.gz")  # doctest: +SKIP
    >>> rec.sampling_rate_hz, rec.eyes, rec.n_samples  # doctest: +SKIP
    (500.0, ('L',), 1834)
    """
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "no such file")
    data = _open_bytes(path, progress)
    if not data.strip():
        raise ParseError(path, "the file is empty; expected an EyeLink ASC file")

    arr = np.frombuffer(data, dtype=np.uint8)
    nl = np.flatnonzero(arr == 10)
    starts = np.r_[0, nl + 1]
    ends = np.r_[nl, len(arr)]
    if data.endswith(b"\n"):
        starts, ends = starts[:-1], ends[:-1]
    lens = ends - starts
    first = arr[np.minimum(starts, len(arr) - 1)]
    first = np.where(lens > 0, first, 0)
    is_sample = (first >= 48) & (first <= 57)

    # ---- the few non-sample lines, one by one ----------------------------------------------
    header: list[str] = []
    msg_time: list[float] = []
    msg_offset: list[float] = []
    msg_text: list[str] = []
    msg_line: list[int] = []
    ev_rows: list[tuple[Any, ...]] = []
    inputs: list[tuple[float, str, float, int]] = []
    block_start_line: list[int] = []
    block_start_time: list[float] = []
    block_end_line: list[int] = []
    block_end_time: list[float] = []
    block_layout: list[_Layout | None] = []
    block_res: list[tuple[float, float]] = []
    pupil_types: set[str] = set()
    last_kind = ""

    for i in np.flatnonzero(~is_sample):
        i = int(i)
        if lens[i] == 0:
            continue
        line = _line_text(data, starts, ends, i)
        lineno = i + 1
        c0 = line[0]
        if c0 in " \t" or (c0 in "->" and last_kind in ("MSG", "cont")):
            if not line.strip():
                continue
            if last_kind in ("MSG", "cont") and msg_text:
                msg_text[-1] = (msg_text[-1] + "\n" if msg_text[-1] else "") + line.strip()
                last_kind = "cont"
                continue
            if c0 == ">":
                header.append(line.strip())
                continue
            raise ParseError(path, "continuation line without a preceding MSG line", lineno)
        tokens = line.split()
        kind = tokens[0]
        try:
            if kind == "MSG":
                parts = line.split(None, 2)
                t = float(parts[1])
                offset, text = _split_offset(parts[2].rstrip() if len(parts) > 2 else "")
                msg_time.append(t - offset)
                msg_offset.append(offset)
                msg_text.append(text)
                msg_line.append(lineno)
            elif kind in _EVENT_LINES:
                if kind[0] == "E":
                    ev_rows.append(_parse_event(kind, tokens, lineno))
            elif kind == "START":
                if len(block_start_line) > len(block_end_line):
                    raise ParseError(
                        path,
                        f"START line inside the block started at line {block_start_line[-1]}; "
                        "expected an END line first",
                        lineno,
                    )
                block_start_line.append(lineno)
                block_start_time.append(float(tokens[1]))
                block_layout.append(None)
                block_res.append((np.nan, np.nan))
            elif kind == "END":
                if len(block_start_line) != len(block_end_line) + 1:
                    raise ParseError(path, "END line without a START line", lineno)
                block_end_line.append(lineno)
                block_end_time.append(float(tokens[1]))
                up = [t.upper() for t in tokens]
                if "RES" in up:
                    j = up.index("RES")
                    block_res[-1] = (_num(tokens[j + 1]), _num(tokens[j + 2]))
            elif kind == "SAMPLES":
                layout = _parse_samples_header(tokens, path, lineno)
                if len(block_start_line) == len(block_end_line):
                    raise ParseError(path, "SAMPLES line outside a START..END block", lineno)
                block_layout[-1] = layout
            elif kind == "PUPIL":
                pupil_types.add(tokens[1].upper() if len(tokens) > 1 else "")
            elif kind in ("INPUT", "BUTTON"):
                inputs.append((float(tokens[1]), kind, float(tokens[2]), lineno))
            elif kind.startswith("**"):
                header.append(line[2:].strip())
            elif kind.startswith(">>>"):
                header.append(line.strip())
            elif kind in _IGNORED:
                pass
            else:
                raise ParseError(
                    path,
                    f"unknown line type {kind[:40]!r}; expected a sample line or one of MSG, "
                    "START, END, SAMPLES, EVENTS, SFIX/EFIX, SSACC/ESACC, SBLINK/EBLINK, INPUT, "
                    "BUTTON, PRESCALER, VPRESCALER, PUPIL, '**' header",
                    lineno,
                )
        except ParseError:
            raise
        except (ValueError, IndexError):
            raise ParseError(path, f"malformed {kind} line: {line.strip()[:80]!r}", lineno) from None
        last_kind = kind if kind == "MSG" else "other"

    # ---- blocks ------------------------------------------------------------------------------
    n_blocks = len(block_start_line)
    truncated = len(block_end_line) < n_blocks
    if truncated:
        msg = (
            f"the file ends inside the recording block started at line {block_start_line[-1]} "
            "(no END line): it is truncated"
        )
        if strict:
            raise ParseError(path, msg, len(starts))

    sample_lines = np.flatnonzero(is_sample)
    if len(sample_lines) == 0:
        raise ParseError(
            path,
            "no sample lines found; expected tab-separated samples inside START..END blocks "
            "(was the EDF converted with events only?)",
        )
    # which block each sample line belongs to, and whether it is inside it
    bstart = np.asarray(block_start_line, dtype=np.int64) - 1
    bend = np.asarray(block_end_line + [len(starts) + 1] * (n_blocks - len(block_end_line)), dtype=np.int64) - 1
    sblock = np.searchsorted(bstart, sample_lines, side="right") - 1
    inside = sblock >= 0
    inside[inside] = sample_lines[inside] < bend[sblock[inside]]
    if not inside.all():
        bad = int(sample_lines[np.flatnonzero(~inside)[0]]) + 1
        raise ParseError(path, "sample line outside a START..END recording block", bad)
    for b, layout in enumerate(block_layout):
        if layout is None and np.any(sblock == b):
            raise ParseError(path, "recording block has samples but no SAMPLES header line", block_start_line[b])

    # a header may declare HTARGET columns that the sample lines do not carry (seen in binocular
    # remote-mode files): trust the data, and say so
    layouts: list[_Layout | None] = list(block_layout)
    for b, layout in enumerate(layouts):
        if layout is None:
            continue
        idx = np.flatnonzero(sblock == b)
        if len(idx) == 0:
            continue
        j = int(sample_lines[idx[0]])
        n_tok = len(_line_text(data, starts, ends, j).split())
        if layout.htarget and n_tok == layout.n_fields - 4:
            layouts[b] = _Layout(**{**layout.__dict__, "htarget": False})
            warnings.warn(
                f"{path}: block at line {block_start_line[b]} declares HTARGET columns that its "
                "samples do not carry; reading them without",
                stacklevel=2,
            )

    # ---- samples, one C-parser call per distinct layout ---------------------------------------
    frames: list[pd.DataFrame] = []
    order: list[np.ndarray] = []
    uniq = {lay for lay in layouts if lay is not None}
    for layout in sorted(uniq, key=lambda lay: lay.names()):
        blocks_here = [b for b, lay in enumerate(layouts) if lay == layout]
        sel = np.flatnonzero(np.isin(sblock, blocks_here))
        if len(sel) == 0:
            continue
        df = _parse_sample_group(path, data, starts, ends, sample_lines[sel], layout)
        df.insert(1, "block", sblock[sel].astype(np.int32))
        frames.append(df)
        order.append(sel)
    if len(frames) == 1:
        samples = frames[0]
    else:
        samples = pd.concat(frames, ignore_index=True, sort=False)
        samples = samples.iloc[np.argsort(np.concatenate(order), kind="stable")].reset_index(drop=True)

    block_rate = np.array([lay.rate_hz if lay else np.nan for lay in layouts])
    t_raw = samples["time_ms"].to_numpy()
    blk = samples["block"].to_numpy()
    t, rebuilt = _rebuild_times(t_raw, blk, block_rate[blk])
    if rebuilt:
        samples["time_ms"] = t

    # ---- events, messages --------------------------------------------------------------------
    events = events_frame(ev_rows)
    messages = pd.DataFrame(
        {
            "time_ms": np.asarray(msg_time, dtype=float),
            "offset_ms": np.asarray(msg_offset, dtype=float),
            "text": pd.array(msg_text, dtype="string"),
            "line": np.asarray(msg_line, dtype=np.int64),
        }
    )
    # blocks in time
    counts = np.bincount(blk, minlength=n_blocks)
    first_t = np.full(n_blocks, np.nan)
    last_t = np.full(n_blocks, np.nan)
    if len(t):
        change = np.r_[True, blk[1:] != blk[:-1]]
        first_t[blk[change]] = t[change]
        endch = np.r_[blk[1:] != blk[:-1], True]
        last_t[blk[endch]] = t[endch]
    b_on = np.asarray(block_start_time, dtype=float)
    b_off = np.asarray(block_end_time + [np.nan] * (n_blocks - len(block_end_time)), dtype=float)
    b_off = np.where(np.isnan(b_off), last_t, b_off)
    blocks = pd.DataFrame(
        {
            "block": np.arange(n_blocks, dtype=np.int32),
            "onset_ms": b_on,
            "offset_ms": b_off,
            "sampling_rate_hz": block_rate,
            "eyes": ["".join(lay.eyes) if lay else "" for lay in layouts],
            "n_samples": counts.astype(np.int64),
            "line": np.asarray(block_start_line, dtype=np.int64),
        }
    )
    messages["block"] = _block_of(messages["time_ms"].to_numpy(), b_on, b_off)
    events["block"] = _block_of(events["onset_ms"].to_numpy(), b_on, b_off)

    # ---- trials ------------------------------------------------------------------------------
    end_of_data = float(np.nanmax(np.r_[b_off, t[-1:]])) if n_blocks else float(t[-1])
    trials = build_trials(messages, end_ms=end_of_data)
    samples.insert(2, "trial", assign_trials(t, trials))
    events["trial"] = assign_trials(events["onset_ms"].to_numpy(), trials)
    messages["trial"] = assign_trials(messages["time_ms"].to_numpy(), trials)
    messages = messages[["time_ms", "offset_ms", "text", "block", "trial", "line"]]

    # ---- metadata ------------------------------------------------------------------------------
    screen_px = _screen_from_messages(messages)
    eyes = tuple(e for e in ("L", "R") if any(lay and e in lay.eyes for lay in layouts))
    rates = pd.Series(block_rate[counts > 0])
    rate = float(rates.mode().iloc[0]) if len(rates) else float("nan")
    if rates.nunique() > 1:
        warnings.warn(f"{path}: blocks use different sampling rates {sorted(rates.unique())}", stacklevel=2)
    sample_types = sorted({lay.sample_type for lay in layouts if lay})
    metadata: dict[str, Any] = {
        "header": header,
        "sample_type": sample_types[0] if len(sample_types) == 1 else sample_types,
        "pupil": sorted(pupil_types)[0].lower() if len(pupil_types) == 1 else sorted(pupil_types),
        "timestamps_rebuilt": rebuilt,
        "truncated": truncated,
        "block_resolution_px_per_deg": block_res,
        "inputs": pd.DataFrame(inputs, columns=["time_ms", "kind", "value", "line"]),
    }
    if truncated:  # warned only once the data proved readable
        warnings.warn(f"{path}: {msg}; reading what is there", stacklevel=2)
    for h in header:
        if h.upper().startswith("VERSION:"):
            metadata["tracker_version"] = h.split(":", 1)[1].strip()
        elif h.upper().startswith("SOURCE:"):
            metadata["tracker"] = h.split(":", 1)[1].strip()
        elif h.upper().startswith("DATE:"):
            metadata["date"] = h.split(":", 1)[1].strip()
    return Recording(
        samples=samples,
        events=events,
        messages=messages,
        trials=trials,
        blocks=blocks,
        sampling_rate_hz=rate,
        eyes=eyes,
        screen_px=screen_px,
        source=str(path),
        format="eyelink-asc",
        metadata=metadata,
    )


def _parse_event(kind: str, tok: list[str], lineno: int) -> tuple[Any, ...]:
    """One end-of-event line as a row of the events table."""
    eye = tok[1].upper()
    if eye not in ("L", "R"):
        raise ValueError(eye)
    on, off, dur = float(tok[2]), float(tok[3]), float(tok[4])
    nan = np.nan
    x = y = p = xs = ys = xe = ye = amp = pv = xr = yr = nan
    if kind == "EFIX":
        x, y, p = _num(tok[5]), _num(tok[6]), _num(tok[7])
        if len(tok) >= 10:
            xr, yr = _num(tok[8]), _num(tok[9])
        typ = "fixation"
    elif kind == "ESACC":
        xs, ys, xe, ye = _num(tok[5]), _num(tok[6]), _num(tok[7]), _num(tok[8])
        amp, pv = _num(tok[9]), _num(tok[10])
        if len(tok) >= 13:
            xr, yr = _num(tok[11]), _num(tok[12])
        typ = "saccade"
    else:
        typ = "blink"
    return (typ, eye, on, off, dur, x, y, p, xs, ys, xe, ye, amp, pv, xr, yr, lineno)


def _split_offset(text: str) -> tuple[float, str]:
    """A message's offset (ms; the event happened at the logged time minus it) and its text."""
    sub = text.split(None, 1)
    if len(sub) == 2 and re.fullmatch(r"-?\d+", sub[0]):
        return float(sub[0]), sub[1]
    return 0.0, text


def _block_of(times: np.ndarray, on: np.ndarray, off: np.ndarray) -> pd.arrays.IntegerArray:
    """Index of the block whose [onset, offset] holds each time, or <NA>."""
    if len(on) == 0 or len(times) == 0:
        return pd.array(np.full(len(times), pd.NA), dtype="Int64")
    k = np.searchsorted(on, times, side="right") - 1
    ok = k >= 0
    ok[ok] = times[ok] <= off[k[ok]]
    return pd.arrays.IntegerArray(np.where(ok, k, 0).astype(np.int64), ~ok)


def _screen_from_messages(messages: pd.DataFrame) -> tuple[int, int] | None:
    for key in ("DISPLAY_COORDS", "GAZE_COORDS"):
        hit = messages["text"].str.startswith(key)
        if hit.any():
            vals = str(messages["text"][hit].iloc[0]).split()[1:5]
            try:
                left, top, right, bottom = (float(v) for v in vals)
            except ValueError:
                continue
            w, h = right - left, bottom - top
            # SR Research writes the last pixel (0 0 1919 1079); some software writes the size
            # itself (0 0 1920 1080): an even span is taken as the size
            w = w if w > 0 and w % 2 == 0 else w + 1
            h = h if h > 0 and h % 2 == 0 else h + 1
            return int(round(w)), int(round(h))
    return None
