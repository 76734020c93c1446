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
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import ParseError
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import recording_with_trials
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


def _chunks(raw: Any, bar: Any) -> Iterator[bytes]:
    """The file's bytes in chunks of at most ``_CHUNK``, advancing the progress bar."""
    while True:
        block = raw.read(_CHUNK)
        if not block:
            return
        bar.update(len(block))
        yield block


def _inflate(raw: Any, reader: _Reader, bar: Any) -> None:
    """Decompress a (multi-member) gzip stream in bounded chunks into ``reader``."""
    d = zlib.decompressobj(wbits=31)
    try:
        for block in _chunks(raw, bar):
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
            for block in _chunks(raw, bar):
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


class _Lines:
    """The file's text and where each of its lines starts and ends; sample lines start with a digit."""

    def __init__(self, data: bytearray) -> None:
        arr = np.frombuffer(data, dtype=np.uint8)
        nl = np.flatnonzero(arr == 10)
        starts = np.r_[0, nl + 1]
        ends = np.r_[nl, len(arr)]
        if data.endswith(b"\n"):
            starts, ends = starts[:-1], ends[:-1]
        lens = ends - starts
        first = arr[np.minimum(starts, len(arr) - 1)]
        first = np.where(lens > 0, first, 0)
        self.data, self.starts, self.ends, self.lens = data, starts, ends, lens
        self.is_sample = (first >= 48) & (first <= 57)

    def __len__(self) -> int:
        return len(self.starts)

    def text(self, i: int) -> str:
        """Line ``i`` (0-based) as text."""
        return self.data[self.starts[i] : self.ends[i]].decode("utf-8", errors="replace")

    def joined(self, line_idx: np.ndarray) -> bytes:
        """Lines ``line_idx`` (sorted), one per row, copied run by run of consecutive lines."""
        brk = np.flatnonzero(np.diff(line_idx) != 1)
        run_first = np.r_[line_idx[0], line_idx[brk + 1]]
        run_last = np.r_[line_idx[brk], line_idx[-1]]
        data, starts, ends = self.data, self.starts, self.ends
        return b"\n".join(data[starts[a] : ends[b]] for a, b in zip(run_first, run_last, strict=True))


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


def _parse_sample_group(path: Path, lines: _Lines, line_idx: np.ndarray, layout: _Layout) -> pd.DataFrame:
    """Parse the sample lines ``line_idx`` (all of one layout) with pandas' C parser."""
    buf = lines.joined(line_idx)
    names = layout.names()
    dtypes: dict[str, Any] = {n: "float64" for n in names}
    dtypes["flags"] = str
    if layout.htarget:
        dtypes["target_flags"] = str

    def numbered() -> list[tuple[int, str]]:
        return [(int(i) + 1, lines.text(int(i))) for i in line_idx]

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
        _slow_sample_check(path, layout, numbered())
        raise  # pragma: no cover - the check above always finds the culprit
    last = names[-1]
    if len(df) != len(line_idx) or df[last].isna().any():
        _slow_sample_check(path, layout, numbered())
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


def _rebuild_times(samples: pd.DataFrame, block_rate: np.ndarray) -> bool:
    """Spread repeated integer timestamps (2 kHz files) by the sample period; True when any were."""
    t = samples["time_ms"].to_numpy()
    block = samples["block"].to_numpy()
    if len(t) < 2:
        return False
    same = (t[1:] == t[:-1]) & (block[1:] == block[:-1])
    if not same.any():
        return False
    idx = np.arange(len(t))
    run_start = np.r_[True, ~same]
    first = np.maximum.accumulate(np.where(run_start, idx, 0))
    k = idx - first
    samples["time_ms"] = t + k * (1000.0 / block_rate[block])
    return True


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
    lines = _Lines(_read_text(path, progress, max_bytes, max_lines))
    found = _read_other_lines(path, lines)
    truncation = _unclosed_block(path, found, len(lines), strict)
    sample_lines, sample_block = _sample_blocks(path, lines, found)
    layouts = _sample_layouts(path, lines, found, sample_lines, sample_block)
    block_rate = np.array([lay.rate_hz if lay else np.nan for lay in layouts])
    samples = _parse_samples(path, lines, sample_lines, sample_block, layouts)
    _check_samples(path, samples, sample_lines + 1, block_rate)
    rebuilt = _rebuild_times(samples, block_rate)
    blocks = _blocks_table(found, samples, layouts, block_rate)
    events = _events_table(path, found, blocks)
    messages = _messages_table(found, blocks)
    screen_px = _screen_from_messages(messages, path)
    rate = _main_rate(path, blocks)
    metadata = _metadata(found, layouts, rebuilt, truncated=truncation is not None)
    if truncation is not None:  # warned only once the data proved readable
        warnings.warn(f"{path}: {truncation}; reading what is there", stacklevel=2)
    return recording_with_trials(
        samples,
        events,
        messages,
        blocks,
        end_ms=_end_of_data(samples, blocks),
        sampling_rate_hz=rate,
        eyes=tuple(e for e in ("L", "R") if any(lay and e in lay.eyes for lay in layouts)),
        screen_px=screen_px,
        source=str(path),
        format="eyelink-asc",
        metadata=metadata,
    )


def _read_text(path: Path, progress: bool | None, max_bytes: int, max_lines: int) -> bytearray:
    """The file's (decompressed) text; refuse what is not a file, or is empty."""
    if not path.is_file():
        raise ParseError(path, "not a regular file (a folder, FIFO or device)" if path.exists() else "no such file")
    data = _open_bytes(path, progress, max_bytes, max_lines)
    if re.search(rb"\S", data) is None:
        raise ParseError(path, "the file is empty; expected an EyeLink ASC file")
    return data


class _Structure:
    """What the few non-sample lines say: header, messages, tracker events, inputs and recording blocks."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.header: list[str] = []
        self.msg_time: list[float] = []
        self.msg_offset: list[float] = []
        self.msg_text: list[str] = []
        self.msg_line: list[int] = []
        self.event_rows: list[tuple[Any, ...]] = []
        self.inputs: list[tuple[float, str, float, int]] = []
        self.start_line: list[int] = []  # per recording block
        self.start_time: list[float] = []
        self.end_line: list[int] = []
        self.end_time: list[float] = []
        self.layouts: list[_Layout | None] = []
        self.res: list[tuple[float, float]] = []
        self.pupil_types: set[str] = set()
        self._last_kind = ""

    @property
    def n_blocks(self) -> int:
        return len(self.start_line)

    def read(self, line: str, lineno: int) -> None:
        """Take one non-empty, non-sample line (``lineno`` 1-based)."""
        c0 = line[0]
        if c0 in " \t" or (c0 in "->" and self._last_kind in ("MSG", "cont")):
            self._continuation(line, lineno)
            return
        tokens = line.split()
        kind = tokens[0]
        try:
            self._keyword_line(kind, tokens, line, lineno)
        except ParseError:
            raise
        except _Impossible as exc:
            raise ParseError(self.path, f"{exc}: {line.strip()[:80]!r}", lineno) from None
        except (ValueError, IndexError):
            raise ParseError(self.path, f"malformed {kind} line: {line.strip()[:80]!r}", lineno) from None
        self._last_kind = kind if kind == "MSG" else "other"

    def _continuation(self, line: str, lineno: int) -> None:
        """An indented or banner line: more text of the preceding message, or a header banner."""
        if not line.strip():
            return
        if self._last_kind in ("MSG", "cont") and self.msg_text:
            self.msg_text[-1] = (self.msg_text[-1] + "\n" if self.msg_text[-1] else "") + line.strip()
            self._last_kind = "cont"
            return
        if line[0] == ">":
            self.header.append(line.strip())
            return
        raise ParseError(self.path, "continuation line without a preceding MSG line", lineno)

    def _keyword_line(self, kind: str, tokens: list[str], line: str, lineno: int) -> None:
        if kind == "MSG":
            self._message(line, lineno)
        elif kind in _EVENT_LINES:
            if kind[0] == "E":
                self.event_rows.append(_parse_event(kind, tokens, lineno))
        elif kind == "START":
            self._start(tokens, lineno)
        elif kind == "END":
            self._end(tokens, lineno)
        elif kind == "SAMPLES":
            layout = _parse_samples_header(tokens, self.path, lineno)
            if len(self.start_line) == len(self.end_line):
                raise ParseError(self.path, "SAMPLES line outside a START..END block", lineno)
            self.layouts[-1] = layout
        elif kind == "PUPIL":
            self.pupil_types.add(tokens[1].upper() if len(tokens) > 1 else "")
        elif kind in ("INPUT", "BUTTON"):
            self.inputs.append((float(tokens[1]), kind, float(tokens[2]), lineno))
        elif kind.startswith("**"):
            self.header.append(line[2:].strip())
        elif kind.startswith(">>>"):
            self.header.append(line.strip())
        elif kind not in _IGNORED:
            raise ParseError(
                self.path,
                f"unknown line type {kind[:40]!r}; expected a sample line or one of MSG, "
                "START, END, SAMPLES, EVENTS, SFIX/EFIX, SSACC/ESACC, SBLINK/EBLINK, INPUT, "
                "BUTTON, PRESCALER, VPRESCALER, PUPIL, '**' header",
                lineno,
            )

    def _message(self, line: str, lineno: int) -> None:
        parts = line.split(None, 2)
        t = _time(parts[1])
        offset, text = _split_offset(parts[2].rstrip() if len(parts) > 2 else "")
        self.msg_time.append(t - offset)
        self.msg_offset.append(offset)
        self.msg_text.append(text)
        self.msg_line.append(lineno)

    def _start(self, tokens: list[str], lineno: int) -> None:
        if len(self.start_line) > len(self.end_line):
            raise ParseError(
                self.path,
                f"START line inside the block started at line {self.start_line[-1]}; expected an END line first",
                lineno,
            )
        self.start_line.append(lineno)
        self.start_time.append(_time(tokens[1]))
        self.layouts.append(None)
        self.res.append((np.nan, np.nan))

    def _end(self, tokens: list[str], lineno: int) -> None:
        if len(self.start_line) != len(self.end_line) + 1:
            raise ParseError(self.path, "END line without a START line", lineno)
        self.end_line.append(lineno)
        self.end_time.append(_time(tokens[1]))
        up = [t.upper() for t in tokens]
        if "RES" in up:
            j = up.index("RES")
            self.res[-1] = (_num(tokens[j + 1]), _num(tokens[j + 2]))


def _read_other_lines(path: Path, lines: _Lines) -> _Structure:
    """Parse the non-sample lines one by one (a few thousand in a file of millions)."""
    found = _Structure(path)
    for i in np.flatnonzero(~lines.is_sample):
        i = int(i)
        if lines.lens[i]:
            found.read(lines.text(i), i + 1)
    return found


def _unclosed_block(path: Path, found: _Structure, n_lines: int, strict: bool) -> str | None:
    """What to warn of when the last block has no END line (an error when ``strict``); None when all end."""
    if len(found.end_line) == found.n_blocks:
        return None
    msg = (
        f"the file ends inside the recording block started at line {found.start_line[-1]} "
        "(no END line): it is truncated"
    )
    if strict:
        raise ParseError(path, msg, n_lines)
    return msg


def _sample_blocks(path: Path, lines: _Lines, found: _Structure) -> tuple[np.ndarray, np.ndarray]:
    """The sample lines (0-based) and the block of each; refuse samples outside a block or without a layout."""
    sample_lines = np.flatnonzero(lines.is_sample)
    if len(sample_lines) == 0:
        raise ParseError(
            path,
            "no sample lines found; expected tab-separated samples inside START..END blocks "
            "(was the EDF converted with events only?)",
        )
    n_open = found.n_blocks - len(found.end_line)
    bstart = np.asarray(found.start_line, dtype=np.int64) - 1
    bend = np.asarray(found.end_line + [len(lines) + 1] * n_open, dtype=np.int64) - 1
    sblock = np.searchsorted(bstart, sample_lines, side="right") - 1
    inside = sblock >= 0
    inside[inside] = sample_lines[inside] < bend[sblock[inside]]
    if not inside.all():
        bad = int(sample_lines[np.flatnonzero(~inside)[0]]) + 1
        raise ParseError(path, "sample line outside a START..END recording block", bad)
    for b, layout in enumerate(found.layouts):
        if layout is None and np.any(sblock == b):
            raise ParseError(path, "recording block has samples but no SAMPLES header line", found.start_line[b])
    return sample_lines, sblock


def _sample_layouts(
    path: Path, lines: _Lines, found: _Structure, sample_lines: np.ndarray, sample_block: np.ndarray
) -> list[_Layout | None]:
    """Each block's layout as its sample lines have it.

    A header may declare HTARGET columns that the sample lines do not carry (seen in binocular
    remote-mode files): trust the data, and say so.
    """
    layouts: list[_Layout | None] = list(found.layouts)
    for b, layout in enumerate(layouts):
        if layout is None:
            continue
        idx = np.flatnonzero(sample_block == b)
        if len(idx) == 0:
            continue
        n_tok = len(lines.text(int(sample_lines[idx[0]])).split())
        if layout.htarget and n_tok == layout.n_fields - 4:
            layouts[b] = _Layout(**{**layout.__dict__, "htarget": False})
            warnings.warn(
                f"{path}: block at line {found.start_line[b]} declares HTARGET columns that its "
                "samples do not carry; reading them without",
                stacklevel=3,
            )
    return layouts


def _parse_samples(
    path: Path, lines: _Lines, sample_lines: np.ndarray, sample_block: np.ndarray, layouts: list[_Layout | None]
) -> pd.DataFrame:
    """The samples in file order, with their block: one C-parser call per distinct layout."""
    frames: list[pd.DataFrame] = []
    order: list[np.ndarray] = []
    for layout in sorted({lay for lay in layouts if lay is not None}, key=lambda lay: lay.names()):
        blocks_here = [b for b, lay in enumerate(layouts) if lay == layout]
        sel = np.flatnonzero(np.isin(sample_block, blocks_here))
        if len(sel) == 0:
            continue
        df = _parse_sample_group(path, lines, sample_lines[sel], layout)
        df.insert(1, "block", sample_block[sel].astype(np.int32))
        frames.append(df)
        order.append(sel)
    if len(frames) == 1:
        return frames[0]
    samples = pd.concat(frames, ignore_index=True, sort=False)
    return samples.iloc[np.argsort(np.concatenate(order), kind="stable")].reset_index(drop=True)


def _blocks_table(
    found: _Structure, samples: pd.DataFrame, layouts: list[_Layout | None], block_rate: np.ndarray
) -> pd.DataFrame:
    """The blocks in time: a block without END ends at its last sample."""
    n_blocks = found.n_blocks
    t = samples["time_ms"].to_numpy()
    blk = samples["block"].to_numpy()
    counts = np.bincount(blk, minlength=n_blocks)
    last_t = np.full(n_blocks, np.nan)
    if len(t):
        endch = np.r_[blk[1:] != blk[:-1], True]
        last_t[blk[endch]] = t[endch]
    b_off = np.asarray(found.end_time + [np.nan] * (n_blocks - len(found.end_time)), dtype=float)
    return pd.DataFrame(
        {
            "block": np.arange(n_blocks, dtype=np.int32),
            "onset_ms": np.asarray(found.start_time, dtype=float),
            "offset_ms": np.where(np.isnan(b_off), last_t, b_off),
            "sampling_rate_hz": block_rate,
            "eyes": ["".join(lay.eyes) if lay else "" for lay in layouts],
            "n_samples": counts.astype(np.int64),
            "line": np.asarray(found.start_line, dtype=np.int64),
        }
    )


def _events_table(path: Path, found: _Structure, blocks: pd.DataFrame) -> pd.DataFrame:
    """The tracker's events, checked, with their block."""
    events = events_frame(found.event_rows)
    _check_events(path, events)
    on, off = blocks["onset_ms"].to_numpy(), blocks["offset_ms"].to_numpy()
    events["block"] = _block_of(events["onset_ms"].to_numpy(), on, off)
    return events


def _messages_table(found: _Structure, blocks: pd.DataFrame) -> pd.DataFrame:
    """The messages with their block (``trial`` comes after ``block``)."""
    time_ms = np.asarray(found.msg_time, dtype=float)
    on, off = blocks["onset_ms"].to_numpy(), blocks["offset_ms"].to_numpy()
    return pd.DataFrame(
        {
            "time_ms": time_ms,
            "offset_ms": np.asarray(found.msg_offset, dtype=float),
            "text": pd.array(found.msg_text, dtype="string"),
            "block": _block_of(time_ms, on, off),
            "line": np.asarray(found.msg_line, dtype=np.int64),
        }
    )


def _main_rate(path: Path, blocks: pd.DataFrame) -> float:
    """The most common rate of the blocks that hold samples (Hz); warn when they differ."""
    rates = pd.Series(blocks["sampling_rate_hz"].to_numpy()[blocks["n_samples"].to_numpy() > 0])
    rate = float(rates.mode().iloc[0]) if len(rates) else float("nan")
    if rates.nunique() > 1:
        warnings.warn(f"{path}: blocks use different sampling rates {sorted(rates.unique())}", stacklevel=3)
    return rate


def _end_of_data(samples: pd.DataFrame, blocks: pd.DataFrame) -> float:
    """The end of the last block or the last sample, whichever is later (ms)."""
    t = samples["time_ms"].to_numpy()
    return float(np.nanmax(np.r_[blocks["offset_ms"].to_numpy(), t[-1:]])) if len(blocks) else float(t[-1])


def _metadata(found: _Structure, layouts: list[_Layout | None], rebuilt: bool, *, truncated: bool) -> dict[str, Any]:
    """What else the file says: header, sample and pupil type, inputs, per-block resolution."""
    sample_types = sorted({lay.sample_type for lay in layouts if lay})
    pupil_types = sorted(found.pupil_types)
    metadata: dict[str, Any] = {
        "header": found.header,
        "sample_type": sample_types[0] if len(sample_types) == 1 else sample_types,
        "pupil": pupil_types[0].lower() if len(pupil_types) == 1 else pupil_types,
        "timestamps_rebuilt": rebuilt,
        "truncated": truncated,
        "block_resolution_px_per_deg": found.res,
        "inputs": pd.DataFrame(found.inputs, columns=["time_ms", "kind", "value", "line"]),
    }
    for h in found.header:
        if h.upper().startswith("VERSION:"):
            metadata["tracker_version"] = h.split(":", 1)[1].strip()
        elif h.upper().startswith("SOURCE:"):
            metadata["tracker"] = h.split(":", 1)[1].strip()
        elif h.upper().startswith("DATE:"):
            metadata["date"] = h.split(":", 1)[1].strip()
    return metadata


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
