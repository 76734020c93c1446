"""EyeLink EDF reader, on SR Research's EDF access library (edfapi) as the ``eyelinkio`` wheel ships it.

eyelinkio (PyPI, BSD) bundles SR's ``edfapi`` for Linux, macOS and Windows with ctypes bindings,
so EDF files are read offline without SR's ``edf2asc``. Its own ``read_edf`` keeps only part of
a file (gaze and pupil, times re-based to seconds from the first sample, messages cut at 260
characters, no recording blocks), so this reader walks the file's data stream itself through the
same library and builds the :class:`~gazelab.preprocessing.Recording` that
:func:`~gazelab.preprocessing.read_asc` returns for the ``edf2asc`` output of the same file:

- times in ms on the tracker clock (a sample's half-ms flag at 2 kHz is kept: ``1000.5``);
- recording blocks from the file's start and end records (``START``/``END`` in the ASC);
- gaze (``GAZE``; ``HREF`` or ``PUPIL`` coordinates where a block recorded no gaze), pupil, and
  where recorded the angular resolution (``xres_px_per_deg``, ``yres_px_per_deg``), the input
  port (``input``) and edf2asc's status characters (``flags``: interpolated, corneal reflection
  lost/recovering per eye);
- missing values are NaN: gaze the tracker did not measure (``MISSING_DATA``: -32768 or 1e8)
  or measured with a pupil under 15 units (edf2asc's rule), and the pupil of those samples (the
  ASC file shows 0 there);
- the tracker's fixation, saccade and blink events with edf2asc's durations (end - start + the
  sample period in whole ms), mean position and pupil, saccade amplitude and peak velocity;
- messages (with edf2asc's time-offset convention) and, from them, the trials, the screen size
  and the validation results (:func:`gazelab.acquisition.tracker_messages.validations`).

Values are rounded to the precision edf2asc writes (0.1 px and pupil units, 0.01 px/deg, whole
pupil units and deg/s in events), so they equal an ASC file's: checked against SR's edf2asc
(built from the sources in eyelinkio's repository) on eyelinkio's three files, where every value
is equal except the pupil of samples without gaze (0 in the ASC) and saccade amplitudes whose
start or end position is missing (edf2asc prints millions of degrees; NaN here). The ``line``
columns hold the 1-based position of the item in the file's data stream (an EDF has no lines).
Remote-mode target columns (``HTARGET``) are not read.
"""

from __future__ import annotations

import ctypes as ct
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import GazelabError, ParseError
from gazelab.preprocessing.readers._registry import register_reader
from gazelab.preprocessing.readers._trials import recording_with_trials
from gazelab.preprocessing.readers.asc import _block_of, _screen_from_messages, _split_offset
from gazelab.preprocessing.recording import EYES, Recording, events_frame

__all__ = ["read_edf"]

# item types of the EDF data stream (edf_data.h)
_ENDBLINK, _ENDSACC, _ENDFIX = 4, 6, 8
_MESSAGE, _BUTTON, _INPUT, _RECORDING_INFO, _LOST_DATA, _SAMPLE = 24, 25, 28, 30, 0x3F, 200
_EVENT_TYPES = {_ENDFIX: "fixation", _ENDSACC: "saccade", _ENDBLINK: "blink"}
# sample flags, sample status bits, event read flags (edf_data.h)
_S_LEFT, _S_RIGHT, _S_HALF_MS = 0x8000, 0x4000, 0x0002
_S_PUPILXY, _S_HREFXY, _S_GAZEXY, _S_GAZERES, _S_PUPILSIZE = 0x1000, 0x0800, 0x0400, 0x0200, 0x0100
_S_STATUS, _S_INPUTS = 0x0080, 0x0040
_INTERP, _CR_LOST, _CR_RECOV = 0x1000, (0x0100, 0x0200), (0x0400, 0x0800)
_READ_GRES, _READ_VEL = 0x0200, 0x0100
_MISSING_FLOAT = 1e8  # edfapi's missing float value; MISSING_DATA (-32768) marks unread fields
_MIN_PUPIL = 15.0  # edf2asc treats gaze with a smaller pupil as missing
_HEADER_BYTES = 1 << 20
_API_NOISE = ("loadEvents",)  # what edfapi prints on every open
_FD_LOCK = threading.Lock()


@dataclass
class _Api:
    """ctypes prototypes over the edfapi library that eyelinkio loaded."""

    lib: Any
    sample: Any  # eyelinkio's FSAMPLE, FEVENT, RECORDINGS structures
    event: Any
    recording: Any
    version: str

    def __post_init__(self) -> None:
        vp, c_int = ct.c_void_p, ct.c_int
        self.open = self._fn("edf_open_file", vp, ct.c_char_p, c_int, c_int, c_int, ct.POINTER(c_int))
        self.close = self._fn("edf_close_file", c_int, vp)
        self.next = self._fn("edf_get_next_data", c_int, vp)
        self.data = self._fn("edf_get_float_data", vp, vp)
        self.count = self._fn("edf_get_element_count", ct.c_uint, vp)
        self.revision = self._fn("edf_get_revision", c_int, vp)
        self.preamble_length = self._fn("edf_get_preamble_text_length", c_int, vp)
        self.preamble = self._fn("edf_get_preamble_text", c_int, vp, ct.c_char_p, c_int)

    def _fn(self, name: str, restype: Any, *argtypes: Any) -> Any:
        f = self.lib[name]  # a fresh function object: eyelinkio's own prototypes stay as they are
        f.restype, f.argtypes = restype, list(argtypes)
        return f


@cache
def _api() -> _Api:
    try:
        import eyelinkio
        from eyelinkio.edf import _edf2py
    except ImportError as exc:
        raise GazelabError(
            f"reading EDF files needs eyelinkio ({exc}); install gazelab's 'edf' extra: pip install 'gazelab[edf]'"
        ) from None
    except OSError as exc:  # the bundled library does not load on this platform
        raise GazelabError(f"eyelinkio's EDF access library does not load here: {exc}") from None
    return _Api(_edf2py.edfapi, _edf2py.FSAMPLE, _edf2py.FEVENT, _edf2py.RECORDINGS, eyelinkio.__version__)


def _dtype(struct: Any, names: list[str]) -> np.dtype:
    """A numpy view of some fields of a ctypes structure (arrays of two become (2,) fields)."""
    formats, offsets = [], []
    for name in names:
        desc = getattr(struct, name)
        ctype = dict(struct._fields_)[name]
        base = getattr(ctype, "_type_", ctype) if hasattr(ctype, "_length_") else ctype
        code = {ct.c_float: "<f4", ct.c_uint: "<u4", ct.c_ushort: "<u2", ct.c_short: "<i2"}[base]
        formats.append((code, (ctype._length_,)) if hasattr(ctype, "_length_") else code)
        offsets.append(desc.offset)
    return np.dtype({"names": names, "formats": formats, "offsets": offsets, "itemsize": ct.sizeof(struct)})


_SAMPLE_FIELDS = ["time", "px", "py", "hx", "hy", "pa", "gx", "gy", "rx", "ry", "flags", "input", "errors"]
_EVENT_FIELDS = [
    "sttime", "entime", "gstx", "gsty", "genx", "geny", "gavx", "gavy", "ava", "avel", "pvel",
    "supd_x", "eupd_x", "supd_y", "eupd_y", "eye", "read", "type", "input", "buttons",
]  # fmt: skip


@dataclass
class _Stream:
    """What one pass over the file's data stream collected."""

    preamble: str
    revision: int
    samples: np.ndarray  # structured, _SAMPLE_FIELDS
    events: np.ndarray  # structured, _EVENT_FIELDS (end-of-event items)
    event_item: np.ndarray  # 1-based item position of each event
    io: np.ndarray  # button/input items, as events
    io_item: np.ndarray
    messages: list[tuple[float, str, int]] = field(default_factory=list)
    records: list[dict[str, Any]] = field(default_factory=list)  # start/end records with sample counts
    lost: list[float] = field(default_factory=list)
    api_log: str = ""


@contextmanager
def _quiet_fds() -> Iterator[list[str]]:
    """Catch what the C library prints on standard output and error (it prints diagnostics there).

    One caller at a time (the redirection is process-wide, and edfapi keeps global state); where
    the process has no usable standard streams, nothing is redirected.
    """
    out: list[str] = []
    with _FD_LOCK:
        for stream in (sys.stdout, sys.stderr):
            if stream is not None:
                stream.flush()
        try:
            saved = [os.dup(1), os.dup(2)]
        except OSError:
            yield out
            return
        with tempfile.TemporaryFile() as log:
            try:
                os.dup2(log.fileno(), 1)
                os.dup2(log.fileno(), 2)
                yield out
            finally:
                os.dup2(saved[0], 1)
                os.dup2(saved[1], 2)
                for fd in saved:
                    os.close(fd)
                log.seek(0)
                text = log.read().decode("utf-8", "replace")
                out.extend(line.strip() for line in text.splitlines() if line.strip())


def _check_header(path: Path) -> None:
    """Refuse what edfapi cannot open safely (it crashes on a file cut inside its text header)."""
    with path.open("rb") as fh:
        head = fh.read(_HEADER_BYTES)
    if not head.startswith(b"SR_RESEARCH"):
        raise ParseError(path, "not an EyeLink EDF file (it does not start with 'SR_RESEARCH')")
    if b"\nENDP:\n" not in head:
        raise ParseError(path, "the EDF file ends inside its header: it is truncated")


def _message_text(raw: bytes) -> str:
    """A message as edf2asc and the ASC reader leave it: trailing newline gone, inner lines stripped."""
    lines = raw.split(b"\0", 1)[0].decode("utf-8", "replace").split("\n")
    parts = [lines[0].rstrip()] + [s.strip() for s in lines[1:]]
    return "\n".join(p for i, p in enumerate(parts) if p or i == 0)


def _read_stream(api: _Api, path: Path) -> _Stream:
    """One pass over the EDF's items: samples copied as raw structures, the rest collected."""
    err = ct.c_int(0)
    with _quiet_fds() as log:
        handle = api.open(os.fsencode(path), 2, 1, 1, ct.byref(err))
        if not handle:
            stream = None
        else:
            try:
                stream = _walk(api, handle)
            finally:
                api.close(handle)
    notes = [s for s in log if not s.startswith(_API_NOISE)]
    if stream is None:
        why = "; ".join(notes) or f"edfapi error {err.value}"
        raise ParseError(path, f"not a readable EDF file: it is damaged or truncated (edfapi: {why})")
    stream.api_log = "; ".join(notes)
    return stream


def _walk(api: _Api, handle: int) -> _Stream:
    n_items = int(api.count(handle))
    n_text = api.preamble_length(handle)
    buf = ct.create_string_buffer(max(n_text, 0) + 1)
    api.preamble(handle, buf, n_text + 1)
    ssize, esize = ct.sizeof(api.sample), ct.sizeof(api.event)
    samples = np.empty(ssize * max(n_items, 1), dtype=np.uint8)
    base = samples.ctypes.data
    events: list[bytes] = []
    event_item: list[int] = []
    io: list[bytes] = []
    io_item: list[int] = []
    empty = np.empty(0)
    stream = _Stream(buf.value.decode("latin-1"), int(api.revision(handle)), empty, empty, empty, empty, empty)
    msg_off = api.event.message.offset
    memmove, string_at, nxt, data = ct.memmove, ct.string_at, api.next, api.data
    ns = item = 0
    while True:
        kind = nxt(handle)
        if kind == 0:
            break
        item += 1
        addr = data(handle)
        if kind == _SAMPLE:
            if (ns + 1) * ssize > len(samples):  # more samples than items announced: grow, never overrun
                samples = np.concatenate([samples, np.empty_like(samples)])
                base = samples.ctypes.data
            memmove(base + ns * ssize, addr, ssize)
            ns += 1
        elif kind in _EVENT_TYPES:
            events.append(string_at(addr, esize))
            event_item.append(item)
        elif kind == _MESSAGE:
            stream.messages.append(_message(api, addr, msg_off, item))
        elif kind in (_BUTTON, _INPUT):
            io.append(string_at(addr, esize))
            io_item.append(item)
        elif kind == _RECORDING_INFO:
            rec = api.recording.from_address(addr)
            stream.records.append(
                {name: getattr(rec, name) for name, _ in api.recording._fields_} | {"item": item, "first_sample": ns}
            )
        elif kind == _LOST_DATA:
            stream.lost.append(float(api.event.from_address(addr).sttime))
    stream.samples = samples[: ns * ssize].view(_dtype(api.sample, _SAMPLE_FIELDS))
    edt = _dtype(api.event, _EVENT_FIELDS)
    stream.events = np.frombuffer(b"".join(events), dtype=edt)
    stream.event_item = np.asarray(event_item, dtype=np.int64)
    stream.io = np.frombuffer(b"".join(io), dtype=edt)
    stream.io_item = np.asarray(io_item, dtype=np.int64)
    return stream


def _message(api: _Api, addr: int, msg_off: int, item: int) -> tuple[float, str, int]:
    ev = api.event.from_address(addr)
    ptr = ct.c_void_p.from_address(addr + msg_off).value
    length = ct.c_short.from_address(ptr).value if ptr else 0
    raw = ct.string_at(ptr + 2, length) if length > 0 else b""
    return float(ev.sttime), _message_text(raw), item


@dataclass(frozen=True)
class _Block:
    """One recording block: its start record, end record (if any) and samples."""

    onset_ms: float
    offset_ms: float
    rate_hz: float
    eyes: tuple[str, ...]
    sflags: int
    pupil: str
    cr_mode: bool
    first: int
    stop: int
    item: int

    @property
    def sample_type(self) -> str:
        if self.sflags & _S_GAZEXY or not self.sflags & (_S_HREFXY | _S_PUPILXY):
            return "GAZE"
        return "HREF" if self.sflags & _S_HREFXY else "PUPIL"


def _blocks(stream: _Stream, path: Path, strict: bool) -> tuple[list[_Block], bool]:
    """Pair start and end records into blocks; a last block without an end is a truncated file."""
    blocks: list[_Block] = []
    start: dict[str, Any] | None = None
    n = len(stream.samples)
    for rec in stream.records:
        if rec["state"] != 0:
            if start is not None:
                raise ParseError(path, f"a recording starts (item {rec['item']}) inside another one", None)
            start = rec
        elif start is not None:
            blocks.append(_block(start, rec, rec["first_sample"]))
            start = None
    truncated = start is not None
    if truncated:
        msg = f"the file ends inside the recording block started at item {start['item']} (no end record)"
        if strict:
            raise ParseError(path, msg + ": it is truncated")
        blocks.append(_block(start, None, n))
    return blocks, truncated


def _block(start: dict[str, Any], end: dict[str, Any] | None, stop: int) -> _Block:
    eye = int(start["eye"])
    return _Block(
        onset_ms=float(start["time"]),
        offset_ms=float(end["time"]) if end is not None else np.nan,
        rate_hz=float(start["sample_rate"]),
        eyes=tuple(e for e, bit in (("L", 1), ("R", 2)) if eye & bit),
        sflags=int(start["sflags"]),
        pupil="area" if start["pupil_type"] == 0 else "diameter",
        cr_mode=bool(start["recording_mode"]),
        first=int(start["first_sample"]),
        stop=int(stop),
        item=int(start["item"]),
    )


def _valid(v: np.ndarray) -> np.ndarray:
    return (v != -32768.0) & (v < _MISSING_FLOAT - 1)


def _sample_table(s: np.ndarray, blocks: list[_Block], eyes: tuple[str, ...], revision: int) -> pd.DataFrame:
    """The samples table of :mod:`gazelab.preprocessing.recording` from the raw sample structures."""
    n = len(s)
    block = np.full(n, -1, dtype=np.int32)
    for b, blk in enumerate(blocks):
        block[blk.first : blk.stop] = b
    keep = block >= 0
    s, block = s[keep], block[keep]
    flags = s["flags"].astype(np.int64)
    cols: dict[str, Any] = {"time_ms": s["time"].astype(np.float64) + np.where(flags & _S_HALF_MS, 0.5, 0.0)}
    cols["block"] = block
    xy_field = {"GAZE": ("gx", "gy"), "HREF": ("hx", "hy"), "PUPIL": ("px", "py")}
    use_x, use_y = np.empty(len(s), dtype=object), np.empty(len(s), dtype=object)
    for b, blk in enumerate(blocks):
        use_x[block == b], use_y[block == b] = xy_field[blk.sample_type]
    block_eyes = np.array([sum(1 << i for i, e in enumerate("LR") if e in blk.eyes) for blk in blocks] or [0])
    for e in eyes:
        i = "LR".index(e)  # the slot of this eye in the sample structure
        name = EYES[e]
        x = np.full(len(s), np.nan)
        y = np.full(len(s), np.nan)
        for fx, fy in {tuple(v) for v in xy_field.values()}:
            sel = use_x == fx
            if sel.any():
                x[sel] = s[fx][sel, i]
                y[sel] = s[fy][sel, i]
        pupil = s["pa"][:, i].astype(np.float64)
        has = ((block_eyes[block] >> i) & 1).astype(bool) & ((flags & (_S_LEFT if e == "L" else _S_RIGHT)) != 0)
        small = ((flags & _S_PUPILSIZE) != 0) & (pupil < _MIN_PUPIL)
        ok = has & _valid(x) & _valid(y) & ~small
        cols[f"x_{name}_px"] = np.where(ok, np.round(x, 1), np.nan)
        cols[f"y_{name}_px"] = np.where(ok, np.round(y, 1), np.nan)
        cols[f"pupil_{name}"] = np.where(ok & _valid(pupil) & (pupil > 0), np.round(pupil, 1), np.nan)
    all_flags = [blk.sflags for blk in blocks]
    if any(f & _S_GAZERES for f in all_flags):
        for axis in ("x", "y"):
            r = s[f"r{axis}"].astype(np.float64)
            cols[f"{axis}res_px_per_deg"] = np.where((r > 0.01) & (r < 10000), np.round(r, 2), np.nan)
    if any(f & _S_INPUTS for f in all_flags):
        cols["input"] = s["input"].astype(np.float64)
    if revision > 0 and any(f & _S_STATUS for f in all_flags):
        cols["flags"] = _status_flags(s["errors"], flags, block, blocks, eyes)
    return pd.DataFrame(cols)


def _status_flags(
    errors: np.ndarray, flags: np.ndarray, block: np.ndarray, blocks: list[_Block], eyes: tuple[str, ...]
) -> pd.arrays.StringArray:
    """edf2asc's status characters: ``I`` interpolated, then per eye ``C`` CR lost, ``R`` CR recovering."""
    err = errors.astype(np.int64)
    cr_mode = np.array([blk.cr_mode for blk in blocks] or [False])[block]
    text = np.where(err & _INTERP, "I", ".").astype(object)
    for e in eyes:
        i = "LR".index(e)
        recorded = np.array([e in blk.eyes for blk in blocks] or [False])[block] & cr_mode
        c = np.where(err & _CR_LOST[i], "C", ".")
        r = np.where(err & _CR_RECOV[i], "R", ".")
        text = np.where(recorded, text + c.astype(object) + r.astype(object), text)
    text = np.where((flags & _S_STATUS) != 0, text, None)
    return pd.array(text, dtype="string")


def _event_rows(stream: _Stream, blocks: list[_Block]) -> list[tuple[Any, ...]]:
    """The tracker's fixation, saccade and blink events as rows of the events table."""
    ev = stream.events
    if len(ev) == 0:
        return []
    # edf2asc's duration adds the whole-ms sample period of the block the event ends in
    starts = np.array([blk.item for blk in blocks] or [0])
    k = np.searchsorted(starts, stream.event_item, side="right") - 1
    period = np.array([int(1000.0 / blk.rate_hz) for blk in blocks] or [0])[np.maximum(k, 0)]
    period = np.where(k >= 0, period, 0)

    def f(name: str, dp: int) -> np.ndarray:
        v = ev[name].astype(np.float64)
        return np.where(_valid(v), np.round(v, dp), np.nan)

    on, off = ev["sttime"].astype(np.float64), ev["entime"].astype(np.float64)
    read = ev["read"].astype(np.int64)
    gres = (read & _READ_GRES) != 0
    rx = np.where(gres, (ev["supd_x"].astype(np.float64) + ev["eupd_x"]) / 2.0, np.nan)
    ry = np.where(gres, (ev["supd_y"].astype(np.float64) + ev["eupd_y"]) / 2.0, np.nan)
    xs, ys, xe, ye = f("gstx", 1), f("gsty", 1), f("genx", 1), f("geny", 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        amp = np.where(gres, np.round(np.hypot((xs - xe) / rx, (ys - ye) / ry), 2), np.nan)
    amp = np.where(~gres & ((read & _READ_VEL) != 0), np.round(ev["avel"] * (off - on + period) / 1000.0, 2), amp)
    pvel = np.where((read & _READ_VEL) != 0, f("pvel", 0), np.nan)
    typ = np.array([_EVENT_TYPES[int(t)] for t in ev["type"]])
    fix, sac = typ == "fixation", typ == "saccade"
    nan = np.full(len(ev), np.nan)
    cols = [
        typ,
        np.where(ev["eye"] == 0, "L", "R"),
        on,
        off,
        off - on + period,
        np.where(fix, f("gavx", 1), nan),
        np.where(fix, f("gavy", 1), nan),
        np.where(fix, f("ava", 0), nan),
        np.where(sac, xs, nan),
        np.where(sac, ys, nan),
        np.where(sac, xe, nan),
        np.where(sac, ye, nan),
        np.where(sac, amp, nan),
        np.where(sac, pvel, nan),
        np.where(fix | sac, np.round(rx, 2), nan),
        np.where(fix | sac, np.round(ry, 2), nan),
        stream.event_item,
    ]
    return list(zip(*(c.tolist() for c in cols), strict=True))


def _inputs(stream: _Stream) -> pd.DataFrame:
    """``INPUT`` and ``BUTTON`` items as the ASC reader's ``metadata['inputs']`` (button: its number)."""
    rows: list[tuple[float, str, float, int]] = []
    for rec, item in zip(stream.io, stream.io_item, strict=True):
        if int(rec["type"]) == _INPUT:
            rows.append((float(rec["sttime"]), "INPUT", float(rec["input"]), int(item)))
            continue
        changed = int(rec["buttons"]) >> 8
        for button in range(1, 9):
            if changed >> (button - 1) & 1:
                rows.append((float(rec["sttime"]), "BUTTON", float(button), int(item)))
    return pd.DataFrame(rows, columns=["time_ms", "kind", "value", "line"])


def _messages(stream: _Stream) -> pd.DataFrame:
    times, offsets, texts, items = [], [], [], []
    for t, raw, item in stream.messages:
        offset, text = _split_offset(raw)
        times.append(t - offset)
        offsets.append(offset)
        texts.append(text)
        items.append(item)
    return pd.DataFrame(
        {
            "time_ms": np.asarray(times, dtype=float),
            "offset_ms": np.asarray(offsets, dtype=float),
            "text": pd.array(texts, dtype="string"),
            "line": np.asarray(items, dtype=np.int64),
        }
    )


def _header(preamble: str) -> list[str]:
    return [line.lstrip("*").strip() for line in preamble.splitlines() if line.lstrip("*").strip()]


@register_reader("eyelink-edf", suffixes=(".edf",))
def read_edf(path: str | Path, *, strict: bool = False) -> Recording:
    """Read an EyeLink EDF file directly (no ``edf2asc`` needed).

    Parameters
    ----------
    path : str or Path
        The ``.edf`` file.
    strict : bool, optional
        Treat a file whose last recording block has no end record as an error. Default False:
        such a file is read with a warning and ``metadata['truncated']`` set, as
        :func:`~gazelab.preprocessing.read_asc` does.

    Returns
    -------
    Recording
        The same tables, units and conventions as :func:`~gazelab.preprocessing.read_asc` for the
        ASC conversion of the file: times in ms on the tracker clock, gaze in screen px (origin top
        left), NaN for missing values; see :mod:`gazelab.preprocessing.readers.edf` for what is
        read and :mod:`gazelab.preprocessing.recording` for the columns.

    Raises
    ------
    GazelabError
        If eyelinkio (the ``edf`` extra) is not installed.
    ParseError
        For a file that is not an EDF file, or is damaged or truncated.

    Examples
    --------
    >>> rec = read_edf("P01S1.EDF")  # doctest: +SKIP
    >>> rec.sampling_rate_hz, rec.eyes  # doctest: +SKIP
    (1000.0, ('L', 'R'))
    """
    path = Path(path)
    if not path.is_file():
        raise ParseError(path, "no such file")
    _check_header(path)
    api = _api()
    stream = _read_stream(api, path)
    if stream.api_log:
        warnings.warn(f"{path}: the EDF access library reports: {stream.api_log}", stacklevel=2)
    blocks, truncated = _blocks(stream, path, strict)
    if not blocks or all(b.stop == b.first for b in blocks):
        raise ParseError(path, "no samples recorded; expected recording blocks with samples")
    return _recording(path, stream, blocks, truncated, api.version)


def _recording(path: Path, stream: _Stream, blocks: list[_Block], truncated: bool, version: str) -> Recording:
    """Assemble the Recording's tables from the collected stream."""
    eyes = tuple(e for e in ("L", "R") if any(e in b.eyes for b in blocks))
    samples = _sample_table(stream.samples, blocks, eyes, stream.revision)
    t = samples["time_ms"].to_numpy()
    if len(t) > 1 and (np.diff(t) < 0).any():
        raise ParseError(path, "sample times go backwards: the file is damaged")
    blk = samples["block"].to_numpy()
    counts = np.bincount(blk, minlength=len(blocks))
    last_t = np.full(len(blocks), np.nan)
    if len(t):
        end = np.r_[blk[1:] != blk[:-1], True]
        last_t[blk[end]] = t[end]
    b_on = np.array([b.onset_ms for b in blocks])
    b_off = np.where(np.isnan([b.offset_ms for b in blocks]), last_t, [b.offset_ms for b in blocks])
    rates = np.array([b.rate_hz for b in blocks])
    block_table = pd.DataFrame(
        {
            "block": np.arange(len(blocks), dtype=np.int32),
            "onset_ms": b_on,
            "offset_ms": b_off,
            "sampling_rate_hz": rates,
            "eyes": ["".join(b.eyes) for b in blocks],
            "n_samples": counts.astype(np.int64),
            "line": np.array([b.item for b in blocks], dtype=np.int64),
        }
    )
    events = events_frame(_event_rows(stream, blocks))
    messages = _messages(stream)
    messages.insert(3, "block", _block_of(messages["time_ms"].to_numpy(), b_on, b_off))
    events["block"] = _block_of(events["onset_ms"].to_numpy(), b_on, b_off)
    used = pd.Series(rates[counts > 0])
    if used.nunique() > 1:
        warnings.warn(f"{path}: blocks use different sampling rates {sorted(used.unique())}", stacklevel=3)
    if truncated:
        warnings.warn(f"{path}: the file ends inside its last recording block (no end record); reading what is there",
                      stacklevel=3)  # fmt: skip
    return recording_with_trials(
        samples,
        events,
        messages,
        block_table,
        end_ms=float(np.nanmax(np.r_[b_off, t[-1:]])),
        sampling_rate_hz=float(used.mode().iloc[0]),
        eyes=eyes,
        screen_px=_screen_from_messages(messages),
        source=str(path),
        format="eyelink-edf",
        metadata=_metadata(stream, blocks, samples, truncated, version),
    )


def _metadata(
    stream: _Stream, blocks: list[_Block], samples: pd.DataFrame, truncated: bool, version: str
) -> dict[str, Any]:
    header = _header(stream.preamble)
    types = sorted({b.sample_type for b in blocks})
    pupils = sorted({b.pupil for b in blocks})
    res: list[tuple[float, float]] = []
    for b in range(len(blocks)):  # edf2asc's END ... RES: mean resolution over the block's samples
        sel = samples["block"].to_numpy() == b
        if "xres_px_per_deg" in samples and sel.any():
            xr, yr = samples["xres_px_per_deg"][sel].mean(), samples["yres_px_per_deg"][sel].mean()
            res.append((round(float(xr), 2), round(float(yr), 2)))
        else:
            res.append((np.nan, np.nan))
    meta: dict[str, Any] = {
        "header": header,
        "sample_type": types[0] if len(types) == 1 else types,
        "pupil": pupils[0] if len(pupils) == 1 else pupils,
        "timestamps_rebuilt": False,
        "truncated": truncated,
        "block_resolution_px_per_deg": res,
        "inputs": _inputs(stream),
        "lost_data_events": len(stream.lost),
        "reader": f"eyelinkio {version} (edfapi)",
    }
    for h in header:
        key, _, value = h.partition(":")
        if key.upper() in ("VERSION", "SOURCE", "DATE"):
            meta[{"VERSION": "tracker_version", "SOURCE": "tracker", "DATE": "date"}[key.upper()]] = value.strip()
    return meta
