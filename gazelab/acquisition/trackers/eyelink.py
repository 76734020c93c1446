"""SR Research EyeLink through ``pylink`` (``pip install sr-research-pylink``, the ``eyelink`` extra).

The flow of SR Research's examples: connect (or ``EyeLink(None)``, dummy mode, when
``address=None``), open an EDF file on the Host with a DOS-safe name (at most 8 characters),
set the screen coordinates and the data filters, ``DISPLAY_COORDS`` into the EDF, sampling rate
and eye from the config; record with ``startRecording``; messages with ``sendMessage``; at the
end close the EDF and transfer it into the session folder (``receiveDataFile``), where
``edf2asc`` turns it into an ASC file that :func:`gazelab.preprocessing.read_asc` reads.

Dummy mode has no gaze: :meth:`newest_samples` then returns nothing and the calibration
samples are empty (``pylink`` returns None), which the runner's validation reports as data
loss. The Host-driven setup (``doTrackerSetup``, :meth:`EyeLinkTracker.host_setup`) draws in
gazelab's PsychoPy window through :mod:`~gazelab.acquisition.trackers.eyelink_display`; without
such a display ``doTrackerSetup`` would spin forever, so it is never called without one.
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

__all__ = ["EyeLinkTracker", "convert_edf", "edf_name"]

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


class EyeLinkTracker(Tracker):
    """An EyeLink tracker (or pylink's dummy mode).

    Parameters
    ----------
    geometry : Geometry
        The screen (sent as ``screen_pixel_coords``).
    address : str or None, optional
        The Host PC address; None (default) is dummy mode. Tests never use a real address.
    sampling_rate_hz : float, optional
        250, 500, 1000 or 2000 (default 1000).
    eyes : {'L', 'R', 'LR'}, optional
        Recorded eye(s) (default 'R').
    edf : str, optional
        EDF file name on the Host (see :func:`edf_name`).
    """

    name = "eyelink"

    def __init__(
        self,
        geometry: Geometry,
        *,
        address: str | None = None,
        sampling_rate_hz: float = 1000.0,
        eyes: str = "R",
        edf: str = "GAZELAB.EDF",
    ) -> None:
        if int(sampling_rate_hz) not in (250, 500, 1000, 2000):
            raise ParameterError("sampling_rate_hz", sampling_rate_hz, "250, 500, 1000 or 2000 (EyeLink rates)")
        if eyes not in ("L", "R", "LR"):
            raise ParameterError("eyes", eyes, "'L', 'R' or 'LR'")
        if not re.fullmatch(r"[A-Z0-9]{1,8}\.EDF", edf):
            raise ParameterError("edf", edf, "a DOS 8.3 name like P01S1.EDF")
        self.geometry, self.address, self.eyes, self.edf = geometry, address, eyes, edf
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.el = None
        self.dummy = address is None
        self._recording = False

    def connect(self) -> None:
        try:
            import pylink
        except ImportError:
            raise GazelabError("the eyelink backend needs pylink: pip install 'gazelab[eyelink]'") from None
        self._pylink = pylink
        try:
            self.el = pylink.EyeLink(self.address)
        except RuntimeError as exc:
            raise GazelabError(f"cannot connect to the EyeLink at {self.address}: {exc}") from None
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

    def stop_recording(self) -> None:
        if self._recording and self.el is not None:
            self.el.stopRecording()
            self._recording = False

    def newest_samples(self) -> list[SampleRow]:
        el = self._need()
        s = el.getNewestSample()
        if s is None:  # dummy mode, or no new data
            return []
        row: list[float | None] = [float(s.getTime()), host_time_ms()]
        for eye, has in (("L", s.isLeftSample()), ("R", s.isRightSample())):
            if eye not in self.eyes:
                continue
            data = s.getLeftEye() if eye == "L" else s.getRightEye()
            if has and data is not None:
                x, y = data.getGaze()
                row += [float(x), float(y), float(data.getPupilSize())]
            else:
                row += [None, None, None]
        row.append(1.0)
        return [tuple(row)]

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
        V validate, Enter accept, Escape leave). Returns what the Host asked for.
        """
        from gazelab.acquisition.trackers.eyelink_display import make_calibration_display

        el = self._need()
        graphics = make_calibration_display(display)
        self._pylink.openGraphicsEx(graphics)
        el.doTrackerSetup()
        return list(graphics.events)

    def drift_correct(self, x_px: float, y_px: float) -> tuple[float, float]:
        if self.dummy:
            return 0.0, 0.0  # pylink's doDriftCorrect raises 'Invalid tracker mode' in dummy mode
        el = self._need()
        el.doDriftCorrect(int(x_px), int(y_px), 0, 0)
        return 0.0, 0.0

    def fetch_data_file(self, destination: Path) -> Path | None:
        if self.el is None:
            return None
        self.stop_recording()
        self.el.setOfflineMode()
        self.el.closeDataFile()
        target = Path(destination) / self.edf
        self.el.receiveDataFile(self.edf, str(target))
        return target if target.is_file() else None  # dummy mode transfers nothing

    def close(self) -> None:
        if self.el is not None:
            self.stop_recording()
            self.el.close()
            self.el = None
