"""A replay link: a stand-in for pylink's ``EyeLink`` object that serves a recorded file.

``--tracker-address replay:PATH`` (PATH an ``.asc``, ``.asc.gz`` or ``.edf`` file, read with
:func:`gazelab.preprocessing.read`) makes :class:`~gazelab.acquisition.trackers.eyelink.EyeLinkTracker`
talk to a :class:`ReplayLink` instead of a Host PC. The link serves the file's samples and its
fixation, saccade and blink events in real time at the file's own rate through the calls the
backend makes (``getNextData``/``getFloatData``, ``getNewestSample``, ``trackerTime``,
``sendMessage``, ``sendCommand``, ``startRecording``/``stopRecording``), so the whole
EyeLinkTracker code path runs against real data without pylink or a tracker. It serves tests of
the real code path at full rate and dry runs of an experiment before a lab day.

The link's clock is the file's clock, running in real time (times ``speed``) from the link's
construction, :data:`PREROLL_MS` before the file's first sample. Like a tracker that starts
recording, ``startRecording`` moves the clock forward to the start of the file's next recording
block when it is called in a gap between blocks or inside a block already served, so each
recording span of the session (a trial) is served from a recorded block of its own; a span
longer than the file's block has no data after the block's end (the file holds none, and
samples received fall short of samples expected), and past the file's last block nothing is
served. Samples missing in the file (blinks) are served as pylink
does: gaze :data:`MISSING_DATA`, pupil 0.

``doTrackerSetup`` and ``doDriftCorrect`` return at once; ``getCalibrationMessage`` then gives
the file's next ``!CAL VALIDATION`` line(s) or ``DRIFTCORRECT`` line, in file order (empty when
the file has none left: nothing is made up). ``openDataFile``/``receiveDataFile`` give back a
copy of the source file (named like the requested data file, with the source's own suffix).
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import GazelabError

__all__ = ["REPLAY_PREFIX", "ReplayLink"]

#: ``--tracker-address replay:PATH``
REPLAY_PREFIX = "replay:"

# pylink's own constant values, copied from sr-research-pylink 2.2 (pylink/constants.py) so that this
# module works without pylink; tests/acquisition/test_eyelink_replay.py checks them against pylink.
STARTBLINK = 3
ENDBLINK = 4
STARTSACC = 5
ENDSACC = 6
STARTFIX = 7
ENDFIX = 8
LOSTDATAEVENT = 0x3F
SAMPLE_TYPE = 200
MISSING_DATA = -32768
ESC_KEY = 0x1B
LEFT_EYE = 0  # pylink EyeEvent.getEye(): 0 (LEFT_EYE) or 1 (RIGHT_EYE)
RIGHT_EYE = 1

#: the link's clock starts this long before the file's first sample (instructions, setup)
PREROLL_MS = 2000.0

_EVENT_CODES = {"fixation": (STARTFIX, ENDFIX), "saccade": (STARTSACC, ENDSACC), "blink": (STARTBLINK, ENDBLINK)}


def _missing(v: float) -> float:
    return float(MISSING_DATA) if not np.isfinite(v) else float(v)


class _Eye:
    """One eye of a sample (pylink's sample eye data: ``getGaze``, ``getPupilSize``)."""

    __slots__ = ("_p", "_x", "_y")

    def __init__(self, x: float, y: float, p: float) -> None:
        self._x, self._y, self._p = x, y, p

    def getGaze(self) -> tuple[float, float]:
        return self._x, self._y

    def getPupilSize(self) -> float:
        return self._p


class _Sample:
    """pylink's ``Sample``: time, which eyes, and per eye gaze and pupil."""

    __slots__ = ("_left", "_right", "_t")

    def __init__(self, t: float, left: _Eye | None, right: _Eye | None) -> None:
        self._t, self._left, self._right = t, left, right

    def getType(self) -> int:
        return SAMPLE_TYPE

    def getTime(self) -> float:
        return self._t

    def isLeftSample(self) -> bool:
        return self._left is not None

    def isRightSample(self) -> bool:
        return self._right is not None

    def isBinocular(self) -> bool:
        return self._left is not None and self._right is not None

    def getLeftEye(self) -> _Eye | None:
        return self._left

    def getRightEye(self) -> _Eye | None:
        return self._right


class _Event:
    """pylink's eye events (``StartFixationEvent`` ... ``EndBlinkEvent``): the getters the backend uses."""

    def __init__(self, code: int, row: Any, start: bool) -> None:
        self._code, self._row, self._start = code, row, start

    def getType(self) -> int:
        return self._code

    def getEye(self) -> int:
        return LEFT_EYE if self._row.eye == "L" else RIGHT_EYE

    def getTime(self) -> float:
        return float(self._row.onset_ms if self._start else self._row.offset_ms)

    def getStartTime(self) -> float:
        return float(self._row.onset_ms)

    def getEndTime(self) -> float:
        return float(self._row.offset_ms)

    def getAverageGaze(self) -> tuple[float, float]:
        return _missing(self._row.x_px), _missing(self._row.y_px)

    def getAveragePupilSize(self) -> float:
        return 0.0 if not np.isfinite(self._row.pupil) else float(self._row.pupil)

    def getStartGaze(self) -> tuple[float, float]:
        return _missing(self._row.x_start_px), _missing(self._row.y_start_px)

    def getEndGaze(self) -> tuple[float, float]:
        return _missing(self._row.x_end_px), _missing(self._row.y_end_px)

    def getPeakVelocity(self) -> float:
        v = self._row.peak_velocity_deg_s
        return float(MISSING_DATA) if not np.isfinite(v) else float(v)


class ReplayLink:
    """A stand-in for ``pylink.EyeLink`` serving a recorded EyeLink file in real time.

    Parameters
    ----------
    path : str or Path
        An ``.asc``, ``.asc.gz`` or ``.edf`` file (anything :func:`gazelab.preprocessing.read` reads
        that has samples).
    speed : float, optional
        Clock rate relative to real time (default 1, real time: what dry runs use). Tests only.

    Attributes
    ----------
    messages : list of (float, str)
        What was sent with ``sendMessage``, with the link's clock.
    commands : list of str
        What was sent with ``sendCommand``.
    """

    def __init__(self, path: str | Path, *, speed: float = 1.0) -> None:
        from gazelab.acquisition.tracker_messages import drift_checks, validations
        from gazelab.preprocessing import read

        self.source = Path(path)
        if not self.source.is_file():
            raise GazelabError(f"replay: {self.source} is not a file (replay:PATH needs an .asc, .asc.gz or .edf)")
        rec = read(self.source)
        if len(rec.samples) == 0:
            raise GazelabError(f"replay: {self.source} holds no samples")
        self.sampling_rate_hz = float(rec.sampling_rate_hz)
        self.eyes = "".join(rec.eyes)
        s = rec.samples
        self._t = s["time_ms"].to_numpy(float)
        self._xyp = {e: self._eye_arrays(s, e) for e in self.eyes}
        self._block_onsets = rec.blocks["onset_ms"].to_numpy(float)
        self._block_offsets = rec.blocks["offset_ms"].to_numpy(float)
        self._served: set[int] = set()
        self._build_events(rec.events)
        self._calibration_lines = self._grouped(rec.messages, validations(rec.messages))
        self._drift_lines = self._grouped(rec.messages, drift_checks(rec.messages))
        self._cal_message = ""
        self.speed = float(speed)
        self._clock0_ms = float(self._t[0]) - PREROLL_MS
        self._host0 = time.perf_counter()
        self._si = self._ei = 0
        self._recording = False
        self._stop_ms = np.inf
        self._current: tuple[str, int] | None = None
        self.messages: list[tuple[float, str]] = []
        self.commands: list[str] = []
        self.data_file: str | None = None

    # -- the file ---------------------------------------------------------------------------------
    @staticmethod
    def _eye_arrays(s: pd.DataFrame, eye: str) -> np.ndarray:
        name = "left" if eye == "L" else "right"
        cols = [f"x_{name}_px", f"y_{name}_px", f"pupil_{name}"]
        return np.stack([s[c].to_numpy(float) for c in cols], axis=1)

    def _build_events(self, events: pd.DataFrame) -> None:
        items = []
        rows = list(events.itertuples(index=False))
        for k, row in enumerate(rows):
            codes = _EVENT_CODES.get(str(row.type))
            if codes is None:
                continue
            items.append((float(row.onset_ms), 0, codes[0], k))
            items.append((float(row.offset_ms), 1, codes[1], k))
        items.sort()
        self._event_rows = rows
        self._ev_t = np.array([i[0] for i in items], float)
        self._ev = [(code, k, order == 0) for _, order, code, k in items]

    @staticmethod
    def _grouped(messages: pd.DataFrame, table: pd.DataFrame) -> list[str]:
        """The message texts behind ``table``'s rows, one entry per time (both eyes' lines together)."""
        if len(table) == 0:
            return []
        texts = []
        for t in sorted(set(table["time_ms"])):
            hit = messages[messages["time_ms"] == t]
            if "line" in messages.columns and table["line"].notna().all():
                hit = hit[hit["line"].isin(table["line"])]
            else:
                hit = hit[hit["text"].astype(str).str.match(r"^(!CAL VALIDATION|DRIFTCORRECT)")]
            texts.append("\n".join(str(x) for x in hit["text"]))
        return texts

    # -- the clock --------------------------------------------------------------------------------
    def trackerTime(self) -> float:
        """The link's clock (the file's), ms."""
        return self._clock0_ms + (time.perf_counter() - self._host0) * 1000.0 * self.speed

    def _jump_to(self, t_ms: float) -> None:
        now = self.trackerTime()
        if t_ms > now:
            self._clock0_ms += t_ms - now

    # -- recording --------------------------------------------------------------------------------
    def startRecording(self, *flags: int) -> int:
        """Start serving data from now (from the next recorded block when now is in a gap)."""
        now = self.trackerTime()
        b = int(np.searchsorted(self._block_onsets, now, side="right")) - 1
        inside = b >= 0 and now <= self._block_offsets[b]
        start = now
        if (not inside or b in self._served) and b + 1 < len(self._block_onsets):
            b += 1
            self._jump_to(float(self._block_onsets[b]))
            start = float(self._block_onsets[b])  # the block from its first sample
        self._served.add(b)
        self._si = int(np.searchsorted(self._t, start, side="left"))
        self._ei = int(np.searchsorted(self._ev_t, start, side="left"))
        self._recording, self._stop_ms = True, np.inf
        return 0

    def stopRecording(self) -> None:
        """Stop: what was recorded up to now stays in the buffer until read."""
        if self._recording:
            self._stop_ms = self.trackerTime()
            self._recording = False

    def isRecording(self) -> int:
        return 0 if self._recording else -1

    def getNextData(self) -> int:
        """The next item's type (``SAMPLE_TYPE`` or an event code) or 0 when nothing is due."""
        limit = min(self.trackerTime(), self._stop_ms)
        ts = self._t[self._si] if self._si < len(self._t) else np.inf
        te = self._ev_t[self._ei] if self._ei < len(self._ev_t) else np.inf
        if min(ts, te) > limit:
            self._current = None
            return 0
        if ts <= te:
            self._current = ("s", self._si)
            self._si += 1
            return SAMPLE_TYPE
        self._current = ("e", self._ei)
        self._ei += 1
        return self._ev[self._ei - 1][0]

    def getFloatData(self) -> _Sample | _Event | None:
        """The item the last ``getNextData`` returned."""
        if self._current is None:
            return None
        kind, i = self._current
        if kind == "s":
            return self._sample(i)
        code, k, start = self._ev[i]
        return _Event(code, self._event_rows[k], start)

    def _sample(self, i: int) -> _Sample:
        eyes = {}
        for e, arr in self._xyp.items():
            x, y, p = arr[i]
            if not np.isfinite(p) or p <= 0:
                eyes[e] = _Eye(float(MISSING_DATA), float(MISSING_DATA), 0.0)
            else:
                eyes[e] = _Eye(_missing(x), _missing(y), float(p))
        return _Sample(float(self._t[i]), eyes.get("L"), eyes.get("R"))

    def getNewestSample(self) -> _Sample | None:
        """The newest sample due now while recording (None otherwise); the buffer is not consumed."""
        if not self._recording:
            return None
        i = int(np.searchsorted(self._t, self.trackerTime(), side="right")) - 1
        return self._sample(i) if i >= 0 and i >= self._si - 1 else None

    # -- messages, commands, setup ----------------------------------------------------------------
    def sendMessage(self, text: str) -> int:
        self.messages.append((self.trackerTime(), str(text)))
        return 0

    def sendCommand(self, text: str) -> int:
        self.commands.append(str(text))
        return 0

    def setOfflineMode(self) -> None:
        self.stopRecording()

    def doTrackerSetup(self, *args: Any) -> None:
        """Returns at once; the calibration message becomes the file's next validation result."""
        self._cal_message = self._calibration_lines.pop(0) if self._calibration_lines else ""

    def doDriftCorrect(self, x: int, y: int, draw: int, allow_setup: int) -> int:
        """Returns 0 (done) at once; the calibration message becomes the file's next drift check."""
        self._cal_message = self._drift_lines.pop(0) if self._drift_lines else ""
        return 0

    def getCalibrationMessage(self) -> str:
        return self._cal_message

    def getCalibrationResult(self) -> int:
        return 0

    def isConnected(self) -> int:
        return 1

    def breakPressed(self) -> int:
        return 0

    # -- the data file ----------------------------------------------------------------------------
    def openDataFile(self, name: str) -> int:
        self.data_file = str(name)
        return 0

    def closeDataFile(self) -> int:
        return 0

    def receiveDataFile(self, src: str, dest: str) -> int:
        """A copy of the source file at ``dest`` with the source's suffix (.asc, .asc.gz, .edf); its size."""
        suffix = "".join(self.source.suffixes[-2:]) if self.source.name.endswith(".gz") else self.source.suffix
        target = Path(dest).with_suffix("")
        target = target.with_name(target.name + suffix.lower())
        shutil.copyfile(self.source, target)
        return target.stat().st_size

    def close(self) -> None:
        self._recording = False
