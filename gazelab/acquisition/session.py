"""The session folder and gazelab's crash-safe raw format.

A session folder (``<out>/sub-<participant>/ses-<session>/``) holds:

``session.json``
    Format name and version, participant, session, times (UTC), software, tracker, sampling
    rate, eyes, screen geometry, and ``status``: ``running`` while recording, ``complete``
    after a clean close, ``recovered`` after :func:`recover`.
``samples.tsv``
    Append-only, tab-separated, one line per sample: ``device_time_ms`` (tracker clock),
    ``host_time_ms`` (the host's monotonic clock when the sample was received), then per eye
    ``x_<eye>_px``, ``y_<eye>_px``, ``pupil_<eye>``, and ``confidence`` (0..1, 1 for a
    hardware tracker). Missing values are empty fields. A header line names the columns.
``messages.tsv``
    Append-only: ``device_time_ms``, ``host_time_ms``, ``text`` (EyeLink conventions:
    ``TRIALID``, ``!V IMGLOAD``, ``!V TRIAL_VAR``, ``TRIAL_RESULT``...).
``events.tsv``
    Append-only, the tracker's own link events (EyeLink: fixations, saccades, blinks, one line
    when each ends): ``type``, ``eye``, ``onset_ms``, ``offset_ms``, ``duration_ms`` (tracker clock),
    ``x_px``, ``y_px``, ``pupil``, ``x_start_px``, ``y_start_px``, ``x_end_px``, ``y_end_px``,
    ``peak_velocity_deg_s``, ``host_time_ms`` (received). Written only by trackers that send events.
``trials.csv``, ``calibration.json``, ``config.yaml``
    Trial log, calibration/validation results and the config snapshot (written by the runner).

Lines are buffered in memory and written to the file (``os.write``, so they survive the
process being killed) at least every ``flush_interval_ms`` (default 100 ms), and ``fsync``-ed to
disk every ``fsync_interval_ms`` (default 1 s) against power loss. A killed session therefore
loses at most the last 100 ms; its files end, at worst, in a partial line, which readers skip
and :func:`recover` removes. An existing session folder is never overwritten.
"""

from __future__ import annotations

import json
import os
import shutil
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from gazelab import __version__
from gazelab.errors import GazelabError, ParameterError, ParseError

__all__ = [
    "EVENT_FILE_COLUMNS",
    "SESSION_FORMAT",
    "SESSION_VERSION",
    "TRACKER_EVENT_COLUMNS",
    "SessionWriter",
    "host_time_ms",
    "recover",
    "session_dir",
]

SESSION_FORMAT = "gazelab-session"
SESSION_VERSION = "1.0"
EYE_NAMES = {"L": "left", "R": "right"}
#: The columns every table of tracker events starts with: ``events.tsv`` here, a Recording's
#: ``events`` in :mod:`gazelab.preprocessing.recording`.
TRACKER_EVENT_COLUMNS = [
    "type",
    "eye",
    "onset_ms",
    "offset_ms",
    "duration_ms",
    "x_px",
    "y_px",
    "pupil",
    "x_start_px",
    "y_start_px",
    "x_end_px",
    "y_end_px",
]
#: Columns of ``events.tsv``.
EVENT_FILE_COLUMNS = [*TRACKER_EVENT_COLUMNS, "peak_velocity_deg_s", "host_time_ms"]


def host_time_ms() -> float:
    """The host's monotonic clock in ms (``time.perf_counter_ns``), the one every file uses."""
    return time.perf_counter_ns() / 1e6


def session_dir(out: str | Path, participant: str, session: str | int = 1) -> Path:
    """``<out>/sub-<participant>/ses-<session>``; participant and session must be letters/digits."""
    for name, value in (("participant", participant), ("session", str(session))):
        if not str(value).isalnum():
            raise ParameterError(name, value, "letters and digits only (it becomes a folder name)")
    return Path(out) / f"sub-{participant}" / f"ses-{session}"


def _fmt(v: float | None) -> str:
    if v is None or v != v:  # NaN
        return ""
    return f"{v:.3f}".rstrip("0").rstrip(".") if isinstance(v, float) else str(v)


@dataclass
class _Stream:
    path: Path
    fd: int
    buffer: list[str]


class SessionWriter:
    """Write a session folder as data arrives; safe against the process being killed.

    Parameters
    ----------
    folder : path
        The session folder; must not exist (or, with ``resume=True``, be a session to append to).
    metadata : dict
        Written into ``session.json`` (participant, session, tracker, sampling_rate_hz, eyes,
        screen geometry, ...).
    eyes : str
        Recorded eyes, ``'L'``, ``'R'`` or ``'LR'``.
    flush_interval_ms, fsync_interval_ms : float, optional
        Write buffered lines at least this often (default 100 ms); fsync this often (1 s).
    resume : bool, optional
        Append to an existing session folder instead of refusing it.
    """

    def __init__(
        self,
        folder: str | Path,
        metadata: dict[str, Any],
        *,
        eyes: str = "L",
        flush_interval_ms: float = 100.0,
        fsync_interval_ms: float = 1000.0,
        resume: bool = False,
    ) -> None:
        self.folder = Path(folder)
        if self.folder.exists() and not resume and _failed_start(self.folder):
            shutil.rmtree(self.folder)  # a start that failed recorded nothing: it must not block the retry
        if self.folder.exists() and not resume:
            raise GazelabError(f"{self.folder}: a session folder already exists; choose another session or resume it")
        if resume and not (self.folder / "session.json").is_file():
            raise GazelabError(f"{self.folder}: no session to resume (session.json missing)")
        if not eyes or any(e not in EYE_NAMES for e in eyes):
            raise ParameterError("eyes", eyes, "'L', 'R' or 'LR'")
        self.eyes = eyes
        self.folder.mkdir(parents=True, exist_ok=True)
        self.flush_s = flush_interval_ms / 1000.0
        self.fsync_s = fsync_interval_ms / 1000.0
        meta_path = self.folder / "session.json"
        if resume:
            self.metadata = json.loads(meta_path.read_text(encoding="utf-8"))
            self.metadata.setdefault("resumed_utc", []).append(_now())
        else:
            self.metadata = {
                "format": SESSION_FORMAT,
                "format_version": SESSION_VERSION,
                "created_utc": _now(),
                "software": f"gazelab {__version__}",
                "eyes": eyes,
                **metadata,
            }
        self.metadata["status"] = "running"
        self._write_metadata()
        cols = ["device_time_ms", "host_time_ms"]
        for e in eyes:
            n = EYE_NAMES[e]
            cols += [f"x_{n}_px", f"y_{n}_px", f"pupil_{n}"]
        cols.append("confidence")
        self.columns = cols
        self._samples = self._open("samples.tsv", "\t".join(cols))
        self._messages = self._open("messages.tsv", "device_time_ms\thost_time_ms\ttext")
        self._events: _Stream | None = None
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._last_fsync = time.monotonic()
        self.n_samples = 0
        self._thread = threading.Thread(target=self._flusher, name="gazelab-session-flush", daemon=True)
        self._thread.start()

    # -- files -------------------------------------------------------------------------------
    def _open(self, name: str, header: str) -> _Stream:
        path = self.folder / name
        new = not path.exists()
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if new:
            os.write(fd, (header + "\n").encode("utf-8"))
        return _Stream(path, fd, [])

    def _write_metadata(self) -> None:
        tmp = self.folder / ".session.json.part"
        tmp.write_text(json.dumps(self.metadata, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, self.folder / "session.json")

    def _streams(self) -> list[_Stream]:
        return [s for s in (self._samples, self._messages, self._events) if s is not None]

    def _drain(self, fsync: bool) -> None:
        with self._lock:
            chunks = [(s, "".join(s.buffer)) for s in self._streams() if s.buffer]
            for s in self._streams():
                s.buffer = []
        for s, text in chunks:
            os.write(s.fd, text.encode("utf-8"))
        if fsync:
            for s in self._streams():
                os.fsync(s.fd)
            self._last_fsync = time.monotonic()

    def _flusher(self) -> None:
        while not self._stop.wait(self.flush_s):
            self._drain(fsync=time.monotonic() - self._last_fsync >= self.fsync_s)

    # -- data ----------------------------------------------------------------------------------
    def add_samples(self, rows: list[tuple[float | None, ...]]) -> None:
        """Queue samples: tuples in the order of :attr:`columns` (None or NaN for missing)."""
        text = "".join("\t".join(_fmt(v) for v in row) + "\n" for row in rows)
        with self._lock:
            self._samples.buffer.append(text)
            self.n_samples += len(rows)

    def add_events(self, rows: list[tuple]) -> None:
        """Queue tracker events: tuples in the order of :data:`EVENT_FILE_COLUMNS` (None for missing)."""
        if not rows:
            return
        text = "".join("\t".join(_fmt(v) for v in row) + "\n" for row in rows)
        with self._lock:
            if self._events is None:
                self._events = self._open("events.tsv", "\t".join(EVENT_FILE_COLUMNS))
            self._events.buffer.append(text)

    def message(self, text: str, device_time_ms: float, host_time: float | None = None) -> None:
        """Queue a message (one line; tabs and newlines become spaces)."""
        clean = " ".join(str(text).split())
        line = f"{_fmt(float(device_time_ms))}\t{_fmt(host_time_ms() if host_time is None else host_time)}\t{clean}\n"
        with self._lock:
            self._messages.buffer.append(line)

    def write_json(self, name: str, data: Any) -> Path:
        """Write a small JSON file into the folder (atomically), e.g. calibration results."""
        path = self.folder / name
        tmp = self.folder / f".{name}.part"
        tmp.write_text(json.dumps(data, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, path)
        return path

    def update_metadata(self, **fields: Any) -> None:
        """Add fields to session.json now."""
        self.metadata.update(fields)
        self._write_metadata()

    def close(self, status: str = "complete") -> None:
        """Write everything, fsync, and mark the session ``status`` (default complete)."""
        self._stop.set()
        self._thread.join()
        self._drain(fsync=True)
        for s in self._streams():
            os.close(s.fd)
        self.metadata.update({"status": status, "closed_utc": _now(), "n_samples": self.n_samples})
        self._write_metadata()

    def __enter__(self) -> SessionWriter:
        return self

    def __exit__(self, exc_type: Any, *_: Any) -> None:
        self.close("complete" if exc_type is None else "aborted")


def _failed_start(folder: Path) -> bool:
    """True for a session folder whose start failed: aborted before any trial, with no samples."""
    try:
        meta = json.loads((folder / "session.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (
        meta.get("format") == SESSION_FORMAT
        and meta.get("status") == "aborted"
        and meta.get("trials_done") == 0
        and not meta.get("n_samples")
    )


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def recover(folder: str | Path) -> dict[str, Any]:
    """Make a crashed (killed) session readable: cut partial last lines, mark it ``recovered``.

    Returns
    -------
    dict
        What was done: bytes cut per file, samples and messages kept, previous status.

    Raises
    ------
    ParseError
        If the folder is not a gazelab session.
    """
    folder = Path(folder)
    meta_path = folder / "session.json"
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise ParseError(meta_path, f"not a gazelab session folder ({exc})") from None
    if meta.get("format") != SESSION_FORMAT:
        raise ParseError(meta_path, f"format {meta.get('format')!r}; expected {SESSION_FORMAT!r}")
    report: dict[str, Any] = {"previous_status": meta.get("status")}
    for name in ("samples.tsv", "messages.tsv", "events.tsv"):
        path = folder / name
        if not path.exists():
            continue
        data = path.read_bytes()
        keep = data.rfind(b"\n") + 1
        if keep < len(data):
            with path.open("r+b") as fh:
                fh.truncate(keep)
        report[f"{name}_bytes_cut"] = len(data) - keep
        report[f"{name}_lines"] = max(0, data[:keep].count(b"\n") - 1)
    if meta.get("status") != "complete":
        meta["status"] = "recovered"
        meta["recovered_utc"] = _now()
        meta["n_samples"] = report.get("samples.tsv_lines", 0)
        tmp = folder / ".session.json.part"
        tmp.write_text(json.dumps(meta, indent=2, default=str) + "\n", encoding="utf-8")
        os.replace(tmp, meta_path)
    return report
