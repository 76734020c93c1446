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

Impossible data is refused with the line that holds it: sample times that go backwards within a
block, or repeat (allowed only as edf2asc's integer timestamps above 1 kHz, at most
``ceil(rate / 1000)`` times); infinite values or magnitudes above :data:`MAX_ABS_VALUE` in
samples and events (a missing value is ``.``; a spelled-out ``nan`` reads as missing too), and
non-finite times of samples, events, messages and blocks; a
``DISPLAY_COORDS`` / ``GAZE_COORDS`` screen that is not 1 to :data:`MAX_SCREEN_PX` px wide and high.

Limits
------
The reader holds the decompressed file in memory and indexes its lines, so it refuses input past
two documented limits before it gets there: :data:`MAX_BYTES` (1 GiB decompressed, about 4 hours
of binocular 1 kHz samples) and :data:`MAX_LINES` (16 million lines). A ``.gz`` is inflated in
chunks and stopped as soon as either limit is passed (a gzip bomb costs a few MB), a plain file
larger than :data:`MAX_BYTES` is refused from its size without reading it, and a file holding NUL
bytes or a UTF-16 byte-order mark is refused as not being edf2asc's text. Peak memory is bounded
by about the decompressed size plus ~60 bytes per line. Both limits are keyword arguments of
:func:`read_asc` for larger recordings.
"""

from __future__ import annotations

import io
import math
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

__all__ = ["MAX_ABS_VALUE", "MAX_BYTES", "MAX_LINES", "MAX_SCREEN_PX", "read_asc"]

MAX_BYTES = 1 << 30
"""Largest decompressed ASC file read by default (bytes): 1 GiB."""
MAX_LINES = 16_000_000
"""Most lines read by default: 16 million (4.4 hours of 1 kHz samples)."""
MAX_ABS_VALUE = 1e7
"""Largest magnitude of a sample or event value (px, px/deg, deg/s, pupil units): beyond it, impossible."""
MAX_SCREEN_PX = 100_000
"""Largest screen width or height (px) a DISPLAY_COORDS / GAZE_COORDS message may give."""

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


class _Reader:
    """Collects the (decompressed) bytes of a file, refusing it past the limits or when it is not text."""

    def __init__(self, path: Path, max_bytes: int, max_lines: int) -> None:
        self.path, self.max_bytes, self.max_lines = path, max_bytes, max_lines
        self.data = bytearray()
        self.lines = -1  # not counted while the text is shorter than max_lines bytes

    def take(self, chunk: bytes) -> None:
        if not chunk:
            return
        if not self.data and chunk[:2] in (b"\xff\xfe", b"\xfe\xff"):
            raise ParseError(self.path, "UTF-16 text; expected edf2asc's ASCII/UTF-8 output (re-save it as UTF-8)", 1)
        nul = chunk.find(b"\x00")
        if nul >= 0:
            line = self.data.count(b"\n") + chunk.count(b"\n", 0, nul) + 1
            raise ParseError(self.path, "binary data (a NUL byte); expected the text of an EyeLink ASC file", line)
        if self.lines < 0 and len(self.data) + len(chunk) > self.max_lines:  # now it could be too many
            self.lines = self.data.count(b"\n")
        if self.lines >= 0:
            self.lines += chunk.count(b"\n")
        if len(self.data) + len(chunk) > self.max_bytes:
            raise ParseError(
                self.path,
                f"more than {self.max_bytes} bytes of text (decompressed); the reader's limit is "
                f"max_bytes={self.max_bytes} (gazelab.preprocessing.readers.asc.MAX_BYTES): "
                "pass a larger max_bytes to read_asc for a longer recording",
            )
        if self.lines > self.max_lines:
            raise ParseError(
                self.path,
                f"more than {self.max_lines} lines; the reader's limit is max_lines={self.max_lines} "
                "(gazelab.preprocessing.readers.asc.MAX_LINES): pass a larger max_lines to read_asc "
                "for a longer recording",
            )
        self.data += chunk


def _inflate(raw: Any, reader: _Reader, bar: Any) -> None:
    """Decompress a (multi-member) gzip stream in bounded chunks into ``reader``."""
    d = zlib.decompressobj(wbits=31)
    try:
        while True:
            block = raw.read(_CHUNK)
            if not block:
                break
            bar.update(len(block))
            if d.eof:  # the next member starts at a block boundary
                d = zlib.decompressobj(wbits=31)
            buf = block
            while buf:
                reader.take(d.decompress(buf, _CHUNK))  # at most _CHUNK bytes out per call
                if d.eof:  # concatenated gzip members
                    buf = d.unused_data
                    if buf:
                        d = zlib.decompressobj(wbits=31)
                else:
                    buf = d.unconsumed_tail
    except zlib.error as exc:
        raise ParseError(reader.path, f"not a valid gzip stream ({exc})") from None
    if not d.eof:
        raise ParseError(reader.path, "the gzip stream ends early: the file is truncated")


def _open_bytes(path: Path, progress: bool | None, max_bytes: int = MAX_BYTES, max_lines: int = MAX_LINES) -> bytearray:
    """Read the whole (decompressed) file within the limits, with a progress bar over the file's bytes."""
    from tqdm.auto import tqdm

    size = path.stat().st_size
    show = (size > _PROGRESS_BYTES and sys.stderr.isatty()) if progress is None else progress
    gz = path.suffix == ".gz"
    if not gz:
        with path.open("rb") as fh:
            gz = fh.read(2) == b"\x1f\x8b"
    if not gz and size > max_bytes:
        raise ParseError(
            path,
            f"{size} bytes; the reader's limit is max_bytes={max_bytes} "
            "(gazelab.preprocessing.readers.asc.MAX_BYTES): pass a larger max_bytes to read_asc for a longer recording",
        )
    reader = _Reader(path, max_bytes, max_lines)
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
            _inflate(raw, reader, bar)
        else:
            while True:
                block = raw.read(_CHUNK)
                if not block:
                    break
                bar.update(len(block))
                reader.take(block)
    data = reader.data
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


def _check_samples(path: Path, samples: pd.DataFrame, line_of: np.ndarray, block_rate: np.ndarray) -> None:
    """Refuse impossible samples, naming the line: out-of-range values, times not increasing in a block."""
    for col in samples.columns:
        if col in ("time_ms", "block") or samples[col].dtype != np.float64:
            continue
        v = samples[col].to_numpy()
        bad = np.abs(v) > MAX_ABS_VALUE  # NaN (missing) compares False; inf is caught
        if bad.any():
            i = int(np.argmax(bad))
            raise ParseError(
                path,
                f"{col} value {v[i]!r} is impossible; expected a finite number of magnitude <= {MAX_ABS_VALUE:g} "
                "or '.' for a missing value",
                int(line_of[i]),
            )
    t = samples["time_ms"].to_numpy()
    blk = samples["block"].to_numpy()
    bad = ~np.isfinite(t)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParseError(path, f"sample time {t[i]!r}; expected a finite time in ms", int(line_of[i]))
    if len(t) < 2:
        return
    same_block = blk[1:] == blk[:-1]
    back = same_block & (t[1:] < t[:-1])
    if back.any():
        i = int(np.argmax(back))
        raise ParseError(
            path,
            f"sample time {t[i + 1]:.10g} ms goes back from {t[i]:.10g} ms (line {line_of[i]}); "
            "expected times increasing within a recording block",
            int(line_of[i + 1]),
        )
    dup = same_block & (t[1:] == t[:-1])
    if dup.any():  # edf2asc writes integer ms above 1 kHz: up to ceil(rate/1000) samples share one
        idx = np.arange(len(t))
        first = np.maximum.accumulate(np.where(np.r_[True, ~dup], idx, 0))
        allowed = np.ceil(block_rate[blk] / 1000.0)
        over = (idx - first) >= allowed
        if over.any():
            i = int(np.argmax(over))
            raise ParseError(
                path,
                f"sample time {t[i]:.10g} ms repeats (first on line {line_of[first[i]]}); expected times increasing "
                f"within a recording block (at {block_rate[blk[i]]:g} Hz at most {int(allowed[i])} "
                "sample(s) per integer ms)",
                int(line_of[i]),
            )


def _check_events(path: Path, events: pd.DataFrame) -> None:
    """Refuse tracker events with non-finite times or impossible values, naming the line."""
    times_ = ("onset_ms", "offset_ms", "duration_ms")
    cols = [c for c in events.columns if c not in ("type", "eye", "line", *times_) and events[c].dtype == np.float64]
    if not len(events) or not cols:
        return
    values = events[cols].to_numpy()
    times = events[list(times_)].to_numpy()
    bad = (np.abs(values) > MAX_ABS_VALUE).any(axis=1) | ~np.isfinite(times).all(axis=1)
    if bad.any():
        i = int(np.argmax(bad))
        raise ParseError(
            path,
            f"{events['type'].iloc[i]!s} event holds an impossible value; expected finite times and values "
            f"of magnitude <= {MAX_ABS_VALUE:g} ('.' for a missing one)",
            int(events["line"].iloc[i]),
        )


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
    max_bytes: int = MAX_BYTES,
    max_lines: int = MAX_LINES,
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
    max_bytes, max_lines : int, optional
        Limits on the decompressed size and the number of lines (default :data:`MAX_BYTES`,
        1 GiB, and :data:`MAX_LINES`, 16 million); past either the file is refused before
        memory runs out.

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
        raise ParseError(path, "not a regular file (a folder, FIFO or device)" if path.exists() else "no such file")
    data = _open_bytes(path, progress, max_bytes, max_lines)
    if re.search(rb"\S", data) is None:
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
                t = _time(parts[1])
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
                block_start_time.append(_time(tokens[1]))
                block_layout.append(None)
                block_res.append((np.nan, np.nan))
            elif kind == "END":
                if len(block_start_line) != len(block_end_line) + 1:
                    raise ParseError(path, "END line without a START line", lineno)
                block_end_line.append(lineno)
                block_end_time.append(_time(tokens[1]))
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
        except _Impossible as exc:
            raise ParseError(path, f"{exc}: {line.strip()[:80]!r}", lineno) from None
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
    _check_samples(path, samples, sample_lines + 1, block_rate)
    t_raw = samples["time_ms"].to_numpy()
    blk = samples["block"].to_numpy()
    t, rebuilt = _rebuild_times(t_raw, blk, block_rate[blk])
    if rebuilt:
        samples["time_ms"] = t

    # ---- events, messages --------------------------------------------------------------------
    events = events_frame(ev_rows)
    _check_events(path, events)
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
    screen_px = _screen_from_messages(messages, path)
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


class _Impossible(ValueError):
    """A line that parses but holds a value no tracker can produce (its message is the error's)."""


def _time(tok: str) -> float:
    t = float(tok)
    if not math.isfinite(t):
        raise _Impossible(f"time {tok!r}; expected a finite time in ms")
    return t


def _block_of(times: np.ndarray, on: np.ndarray, off: np.ndarray) -> pd.arrays.IntegerArray:
    """Index of the block whose [onset, offset] holds each time, or <NA>."""
    if len(on) == 0 or len(times) == 0:
        return pd.array(np.full(len(times), pd.NA), dtype="Int64")
    k = np.searchsorted(on, times, side="right") - 1
    ok = k >= 0
    ok[ok] = times[ok] <= off[k[ok]]
    return pd.arrays.IntegerArray(np.where(ok, k, 0).astype(np.int64), ~ok)


def _screen_from_messages(messages: pd.DataFrame, path: Path | None = None) -> tuple[int, int] | None:
    for key in ("DISPLAY_COORDS", "GAZE_COORDS"):
        hit = messages["text"].str.startswith(key)
        if hit.any():
            vals = str(messages["text"][hit].iloc[0]).split()[1:5]
            try:
                left, top, right, bottom = (float(v) for v in vals)
            except ValueError:
                continue
            w, h = right - left, bottom - top
            if not (np.isfinite([left, top, right, bottom]).all() and 0 < w < MAX_SCREEN_PX and 0 < h < MAX_SCREEN_PX):
                line = int(messages["line"][hit].iloc[0]) if "line" in messages else None
                raise ParseError(
                    path if path is not None else "<messages>",
                    f"{key} {' '.join(vals)} gives a screen of {w:g} x {h:g} px; expected left top right bottom "
                    f"with a width and height of 1 to {MAX_SCREEN_PX} px",
                    line,
                )
            # SR Research writes the last pixel (0 0 1919 1079); some software writes the size
            # itself (0 0 1920 1080): an even span is taken as the size
            w = w if w > 0 and w % 2 == 0 else w + 1
            h = h if h > 0 and h % 2 == 0 else h + 1
            return int(round(w)), int(round(h))
    return None
