"""SR Research EyeLink through ``pylink`` (``pip install sr-research-pylink``, the ``eyelink`` extra).

The flow of SR Research's examples: connect to the Host at ``address`` (default ``100.1.1.1``;
``'dummy'`` is pylink's dummy mode, ``'replay:PATH'`` the
:class:`~gazelab.acquisition.trackers.eyelink_replay.ReplayLink`), open an EDF file on the Host
with a DOS-safe name (at most 8 characters), set the screen coordinates and the data filters,
``DISPLAY_COORDS`` into the EDF, sampling rate and eye from the config; record with
``startRecording``; messages with ``sendMessage``; at the end close the EDF and transfer it into
the session folder (``receiveDataFile``).

Data: on every call of :meth:`~EyeLinkTracker.newest_samples` (every frame) the link buffer is
drained with ``getNextData``/``getFloatData`` as SR Research's PsychoPy plugin does (its
BufferedData component): every sample, and the fixation, saccade and blink events
(:meth:`~EyeLinkTracker.link_events`); MISSING_DATA and zero pupil become empty values; lost-data
events are counted. Calibration, validation and drift checks are the tracker's: their result is
what ``getCalibrationMessage`` reports, or not measured.

Dummy mode has no gaze and no calibration. The Host-driven setup (``doTrackerSetup``,
:meth:`EyeLinkTracker.host_setup`) draws in gazelab's PsychoPy window through
:mod:`~gazelab.acquisition.trackers.eyelink_display`; without such a display ``doTrackerSetup``
would spin forever, so it is never called without one.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

from gazelab.acquisition.session import host_time_ms
from gazelab.acquisition.trackers.base import SampleRow, Tracker
from gazelab.errors import GazelabError, ParameterError
from gazelab.geometry import Geometry

__all__ = ["DEFAULT_ADDRESS", "EyeLinkTracker", "convert_edf", "edf_name"]

MAX_MESSAGE = 130  # pylink's documented message length limit


def convert_edf(edf: str | Path, *, edf2asc: str | None = None, timeout_s: float = 600.0) -> Path | None:
    """Convert an EDF file to ASC with SR Research's ``edf2asc``, when it is installed.

    ``edf2asc`` comes with the EyeLink Developers Kit (not on PyPI); gazelab looks for it in
    ``edf2asc``, then the ``GAZELAB_EDF2ASC`` environment variable, then the ``PATH``. The ASC
    file is written beside the EDF (``<name>.asc``, samples and events, as edf2asc does by
    default) and read by :func:`gazelab.preprocessing.read_asc`.

    Parameters
    ----------
    edf : str or Path
        The EDF file.
    edf2asc : str, optional
        Path of the converter.
    timeout_s : float, optional
        Longest the conversion may run, s (default 600).

    Returns
    -------
    Path or None
        The ASC file, or None when no converter is installed (the EDF stays as it is).

    Raises
    ------
    GazelabError
        If the converter runs but fails or writes no ASC file (its message is included).
    """
    edf = Path(edf)
    exe = edf2asc or os.environ.get("GAZELAB_EDF2ASC") or shutil.which("edf2asc")
    if exe is None:
        return None
    if not edf.is_file():
        raise ParameterError("edf", str(edf), "an existing EDF file")
    try:
        run = subprocess.run([exe, "-y", str(edf)], capture_output=True, text=True, timeout=timeout_s, check=False)
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GazelabError(f"edf2asc ({exe}) could not convert {edf}: {exc}") from None
    asc = edf.with_suffix(".asc")
    if not asc.is_file():
        why = (run.stderr or run.stdout).strip().splitlines()[-1:] or [f"exit status {run.returncode}"]
        raise GazelabError(f"edf2asc ({exe}) wrote no ASC file for {edf}: {why[0]}")
    return asc


def edf_name(participant: str, session: str | int) -> str:
    """A DOS-safe EDF file name (8.3): letters and digits of participant and session, <= 8 chars."""
    stem = re.sub(r"[^A-Za-z0-9]", "", f"{participant}{session}").upper()[:8] or "GAZELAB"
    return f"{stem}.EDF"


DEFAULT_ADDRESS = "100.1.1.1"  # the Host's factory address (SR's examples, PsychoPy ioHub)


def _value(v: float) -> float | None:
    """pylink's MISSING_DATA (-32768) and its float twin become empty values."""
    return None if v is None or v <= -32767.0 or v != v else float(v)


class EyeLinkTracker(Tracker):
    """An EyeLink tracker (a Host PC, pylink's dummy mode, or the replay link).

    Parameters
    ----------
    geometry : Geometry
        The screen (sent as ``screen_pixel_coords``).
    address : str or None, optional
        The Host PC address (default ``100.1.1.1``); ``'dummy'`` (or None) is pylink's dummy mode;
        ``'replay:PATH'`` talks to :class:`~gazelab.acquisition.trackers.eyelink_replay.ReplayLink`.
    sampling_rate_hz : float, optional
        250, 500, 1000 or 2000 (default 1000).
    eyes : {'L', 'R', 'LR'}, optional
        Recorded eye(s) (default 'R').
    edf : str, optional
        EDF file name on the Host (see :func:`edf_name`).
    replay_speed : float, optional
        Replay link clock rate (tests only; default 1, real time).
    """

    name = "eyelink"
    #: the Host writes its own !CAL VALIDATION and DRIFTCORRECT lines into the EDF
    host_writes_calibration_records = True

    def __init__(
        self,
        geometry: Geometry,
        *,
        address: str | None = DEFAULT_ADDRESS,
        sampling_rate_hz: float = 1000.0,
        eyes: str = "R",
        edf: str = "GAZELAB.EDF",
        replay_speed: float = 1.0,
    ) -> None:
        if int(sampling_rate_hz) not in (250, 500, 1000, 2000):
            raise ParameterError("sampling_rate_hz", sampling_rate_hz, "250, 500, 1000 or 2000 (EyeLink rates)")
        if eyes not in ("L", "R", "LR"):
            raise ParameterError("eyes", eyes, "'L', 'R' or 'LR'")
        if not re.fullmatch(r"[A-Z0-9]{1,8}\.EDF", edf):
            raise ParameterError("edf", edf, "a DOS 8.3 name like P01S1.EDF")
        address = "dummy" if address is None else str(address)
        self.geometry, self.address, self.eyes, self.edf = geometry, address, eyes, edf
        self.mode = "dummy" if address == "dummy" else "replay" if address.startswith("replay:") else "host"
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.replay_speed = float(replay_speed)
        self.el = None
        self._pylink = None
        self.dummy = self.mode == "dummy"
        self._recording = False
        self._samples: list[SampleRow] = []
        self._events: list[tuple] = []
        self.spans_ms: list[list[float]] = []
        self.n_received = 0
        self.lost_data_ms: list[float] = []
        self.calibration_text = ""

    def _open_link(self) -> object:
        """pylink's EyeLink (Host or dummy) or the replay link; one error line when the Host does not answer."""
        if self.mode == "replay":
            from gazelab.acquisition.trackers.eyelink_replay import ReplayLink

            link = ReplayLink(self.address[len("replay:") :], speed=self.replay_speed)
            self.sampling_rate_hz = link.sampling_rate_hz
            if self.eyes not in ("LR",) and self.eyes not in link.eyes:
                self.eyes = link.eyes[0]
            elif self.eyes == "LR" and link.eyes != "LR":
                self.eyes = link.eyes
            return link
        try:
            import pylink
        except ImportError:
            raise GazelabError("the eyelink backend needs pylink: pip install 'gazelab[eyelink]'") from None
        self._pylink = pylink
        try:
            return pylink.EyeLink(None if self.dummy else self.address)
        except RuntimeError as exc:
            raise GazelabError(
                f"the EyeLink Host at {self.address} does not answer ({exc}): check the Ethernet cable, that this "
                f"Display PC's own address is on the Host's network (100.1.1.2, netmask 255.255.255.0 for the "
                f"default 100.1.1.1), and that the EyeLink Host software is running"
            ) from None

    def connect(self) -> None:
        self.el = self._open_link()
        el = self.el
        if el.openDataFile(self.edf) != 0:
            raise GazelabError(f"the EyeLink Host refused to open the data file {self.edf}")
        el.sendCommand("add_file_preamble_text 'recorded by gazelab'")
        el.setOfflineMode()
        g = self.geometry
        el.sendCommand(f"screen_pixel_coords = 0 0 {g.width_px - 1} {g.height_px - 1}")
        el.sendMessage(f"DISPLAY_COORDS 0 0 {g.width_px - 1} {g.height_px - 1}")
        el.sendCommand(f"sample_rate {int(self.sampling_rate_hz)}")
        el.sendCommand("binocular_enabled = " + ("YES" if self.eyes == "LR" else "NO"))
        if self.eyes != "LR":
            el.sendCommand("active_eye = " + ("LEFT" if self.eyes == "L" else "RIGHT"))
        el.sendCommand("file_event_filter = LEFT,RIGHT,FIXATION,SACCADE,BLINK,MESSAGE,BUTTON,INPUT")
        el.sendCommand("file_sample_data = LEFT,RIGHT,GAZE,HREF,AREA,GAZERES,STATUS,INPUT")
        el.sendCommand("link_event_filter = LEFT,RIGHT,FIXATION,SACCADE,BLINK,BUTTON,INPUT")
        el.sendCommand("link_sample_data = LEFT,RIGHT,GAZE,GAZERES,AREA,STATUS,INPUT")

    def _need(self) -> object:
        if self.el is None:
            raise GazelabError("eyelink: connect() first")
        return self.el

    def tracker_time_ms(self) -> float:
        el = self._need()
        t = float(el.trackerTime())
        return host_time_ms() if self.dummy else t  # dummy mode's clock is a constant 4294967295

    def send_message(self, text: str) -> float:
        el = self._need()
        if len(text) > MAX_MESSAGE:
            raise ParameterError("message", text[:40] + "...", f"at most {MAX_MESSAGE} characters (pylink's limit)")
        t = self.tracker_time_ms()
        el.sendMessage(text)
        return t

    def start_recording(self) -> None:
        el = self._need()
        if not self._recording:
            if el.startRecording(1, 1, 1, 1) != 0:
                raise GazelabError("the EyeLink did not start recording")
            self._recording = True
            self.spans_ms.append([self.tracker_time_ms(), float("nan")])

    def stop_recording(self) -> None:
        if self._recording and self.el is not None:
            self.drain()
            self.spans_ms[-1][1] = self.tracker_time_ms()
            self.el.stopRecording()
            self._recording = False
            self.drain()

    # -- the link buffer -------------------------------------------------------------------------
    def drain(self) -> None:
        """Read every sample and event waiting in the link buffer (``getNextData``/``getFloatData``)."""
        el = self.el
        if el is None or self.dummy:
            return
        c = self._codes()
        host = host_time_ms()
        while True:
            kind = el.getNextData()
            if not kind:
                return
            data = el.getFloatData()
            if data is None:
                continue
            if kind == c["SAMPLE_TYPE"]:
                self._samples.append(self._sample_row(data, host))
            elif kind in c["ends"]:
                self._events.append(self._event_row(c["ends"][kind], data, host))
            elif kind == c["LOSTDATAEVENT"]:
                self.lost_data_ms.append(float(data.getTime()))

    def _codes(self) -> dict:
        if getattr(self, "_code_cache", None) is None:
            src = self._pylink
            if src is None:
                from gazelab.acquisition.trackers import eyelink_replay as src
            self._code_cache = {
                "SAMPLE_TYPE": src.SAMPLE_TYPE,
                "LOSTDATAEVENT": src.LOSTDATAEVENT,
                "ends": {src.ENDFIX: "fixation", src.ENDSACC: "saccade", src.ENDBLINK: "blink"},
            }
        return self._code_cache

    def _sample_row(self, s: object, host: float) -> SampleRow:
        row: list[float | None] = [float(s.getTime()), host]
        for eye, has in (("L", s.isLeftSample()), ("R", s.isRightSample())):
            if eye not in self.eyes:
                continue
            data = s.getLeftEye() if eye == "L" else s.getRightEye()
            if not has or data is None:
                row += [None, None, None]
                continue
            x, y = data.getGaze()
            pupil = _value(data.getPupilSize())
            if not pupil:  # zero pupil: the eye was not seen
                row += [None, None, None]
            else:
                row += [_value(x), _value(y), pupil]
        row.append(1.0)
        self.n_received += 1
        if self.spans_ms and row[0] < self.spans_ms[-1][0]:  # the span holds its first sample
            self.spans_ms[-1][0] = row[0]
        return tuple(row)

    def _event_row(self, kind: str, e: object, host: float) -> tuple:
        eye = "L" if e.getEye() == 0 else "R"
        on, off = float(e.getStartTime()), float(e.getEndTime())
        x = y = pupil = xs = ys = xe = ye = peak = None
        if kind == "fixation":
            x, y = (_value(v) for v in e.getAverageGaze())
            pupil = _value(e.getAveragePupilSize()) or None
        elif kind == "saccade":
            xs, ys = (_value(v) for v in e.getStartGaze())
            xe, ye = (_value(v) for v in e.getEndGaze())
            peak = _value(e.getPeakVelocity())
        # EyeLink's durations count both end samples (as EFIX/ESACC lines do)
        return (kind, eye, on, off, off - on + 1000.0 / self.sampling_rate_hz, x, y, pupil, xs, ys, xe, ye, peak, host)

    def newest_samples(self) -> list[SampleRow]:
        """Every sample received since the last call (the whole link buffer, oldest first)."""
        self._need()
        self.drain()
        rows, self._samples = self._samples, []
        return rows

    def link_events(self) -> list[tuple]:
        """Fixation, saccade and blink events (on their end) received since the last call.

        Rows: type, eye, onset_ms, offset_ms, duration_ms, x_px, y_px, pupil, x_start_px, y_start_px,
        x_end_px, y_end_px, peak_velocity_deg_s, host_time_ms (None where the tracker gives nothing).
        """
        self.drain()
        rows, self._events = self._events, []
        return rows

    def session_metadata(self) -> dict[str, object]:
        """Address, mode, recording spans, samples received against expected, lost-data events."""
        spans = [[a, b] for a, b in self.spans_ms if b == b]
        expected = int(sum(round((b - a) * self.sampling_rate_hz / 1000.0) for a, b in spans))
        return {
            "tracker_address": self.address,
            "tracker_mode": self.mode,
            "recording_spans_ms": spans,
            "samples_received": self.n_received,
            "samples_expected": expected if not self.dummy else None,
            "lost_data_events": len(self.lost_data_ms),
            "lost_data_times_ms": self.lost_data_ms[:1000],
        }

    def calibration_samples(self, x_px: float, y_px: float, duration_ms: float) -> list[SampleRow]:
        rows: list[SampleRow] = []
        end = host_time_ms() + duration_ms
        while host_time_ms() < end:
            rows += self.newest_samples()
            if self.dummy:
                break
        return rows

    def apply_calibration(self, targets_px: list[tuple[float, float]], samples: list[list[SampleRow]]) -> None:
        """The EyeLink calibrates itself (Host-driven, see :meth:`host_setup`); nothing to fit here."""

    def host_setup(self, display: object) -> list[tuple[str, object]]:
        """Run the Host-driven camera setup, calibration and validation (``doTrackerSetup``).

        The Host draws its targets in ``display`` (a PsychoPyDisplay) through gazelab's
        ``EyeLinkCustomDisplay``; the operator drives it with the usual keys (C calibrate,
        V validate, Enter accept, Escape leave). Returns what the Host asked for;
        :attr:`calibration_text` then holds the tracker's own result text (``getCalibrationMessage``).
        """
        el = self._need()
        if self._pylink is None:  # the replay link returns at once
            el.doTrackerSetup()
            self.calibration_text = str(el.getCalibrationMessage() or "")
            return []
        from gazelab.acquisition.trackers.eyelink_display import make_calibration_display

        graphics = make_calibration_display(display)
        self._pylink.openGraphicsEx(graphics)
        el.doTrackerSetup()
        self.calibration_text = str(el.getCalibrationMessage() or "")
        return list(graphics.events)

    def drift_correct(self, x_px: float, y_px: float) -> tuple[float, float] | None:
        """``doDriftCorrect`` until done (Escape: the setup screen, then again); the offset the tracker reports.

        Returns (dx, dy) in screen px as the tracker states it, or None when it states none (not
        measured; always so in dummy mode, where pylink's doDriftCorrect cannot run).
        :attr:`calibration_text` holds the tracker's own text.
        """
        from gazelab.acquisition.tracker_messages import result_in_text

        self.calibration_text = ""
        if self.dummy:
            return None
        el = self._need()
        for _ in range(20):
            if el.doDriftCorrect(int(x_px), int(y_px), 0, 1) != 27:  # 27: Escape (pylink.ESC_KEY)
                break
            el.doTrackerSetup()
        self.calibration_text = str(el.getCalibrationMessage() or "")
        r = result_in_text(self.calibration_text)
        if r["offset_x_px"] != r["offset_x_px"]:
            return None
        return r["offset_x_px"], r["offset_y_px"]

    def fetch_data_file(self, destination: Path) -> Path | None:
        if self.el is None:
            return None
        self.stop_recording()
        self.el.setOfflineMode()
        self.el.closeDataFile()
        target = Path(destination) / self.edf
        self.el.receiveDataFile(self.edf, str(target))
        if target.is_file():
            return target
        # the replay link gives its source back under its own suffix; dummy mode transfers nothing
        found = sorted(p for p in Path(destination).glob(target.stem + ".*") if p.is_file())
        return found[0] if found else None

    def close(self) -> None:
        if self.el is not None:
            self.stop_recording()
            self.el.close()
            self.el = None
