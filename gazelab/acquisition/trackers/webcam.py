"""A webcam as the eye tracker: OpenCV capture, per-frame features, ridge-regression calibration.

The fallback for labs without an EyeLink and for collection outside the lab. Frames come from
``cv2.VideoCapture`` (a camera index, or a video file, so everything is testable without a
camera), or from any object with the same ``isOpened``/``read``/``get``/``release`` methods
(:class:`gazelab.acquisition.synthetic_face.SyntheticCamera`).

Threads and clocks. A capture thread reads frames as they come and stamps each on the host
clock (:func:`gazelab.acquisition.session.host_time_ms`, the clock every session file uses) at
grab time; a processing thread takes the newest frame, extracts the features
(:class:`gazelab.acquisition.webcam_features.FeatureExtractor`) and maps them to the screen.
A sample's ``device_time_ms`` is its frame's grab time and its ``host_time_ms`` the time its
gaze was ready (the difference is the processing latency); the tracker clock *is* the host
clock, so messages and samples share it exactly.

Dropped frames are counted two ways: frames the camera never delivered (a gap between
consecutive grab times longer than 1.5 frame periods counts ``round(gap / period) - 1``), and
frames that arrived before the previous one was processed and were replaced by the newer one.
A video file is played in real time at its own rate by default; when processing falls
behind, frames are skipped as a camera would drop them, and counted.

Calibration. :meth:`WebcamTracker.calibration_samples` returns the frames seen while the
participant looked at a target; :meth:`WebcamTracker.apply_calibration` fits
:class:`~gazelab.acquisition.webcam_features.GazeMapping` (ridge regression on polynomial eye
features and head pose, as WebGazer does) on the features of exactly those frames. Before a
calibration, samples have no gaze (empty x/y) but keep their confidence.

Samples. One binocular estimate per frame, written for each recorded eye; ``pupil`` is empty
(a webcam does not measure pupil size); ``confidence`` (0..1) is the iris contrast (both eyes
needed) times the agreement of the head pose with the calibration's (1 when as calibrated,
falling when the participant moved), 0 when no face or eyes were found.
"""

from __future__ import annotations

import collections
import math
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np

from gazelab.acquisition.session import host_time_ms
from gazelab.acquisition.trackers.base import SampleRow, Tracker
from gazelab.errors import GazelabError, ParameterError
from gazelab.geometry import Geometry

__all__ = ["WebcamTracker", "count_dropped"]

#: Frames kept for calibration look-ups (about 5 min at 30 Hz).
HISTORY = 9000


def count_dropped(grab_times_ms: np.ndarray, period_ms: float) -> int:
    """Frames missing from a sequence of grab times.

    Parameters
    ----------
    grab_times_ms : ndarray
        Grab times of consecutive delivered frames, ms.
    period_ms : float
        The nominal frame period, ms.

    Returns
    -------
    int
        Sum over gaps longer than 1.5 periods of ``round(gap / period) - 1``.
    """
    if not period_ms > 0:
        raise ParameterError("period_ms", period_ms, "a frame period > 0 (ms)")
    gaps = np.diff(np.asarray(grab_times_ms, dtype=float))
    late = gaps[gaps > 1.5 * period_ms]
    return int(np.sum(np.round(late / period_ms) - 1)) if len(late) else 0


class WebcamTracker(Tracker):
    """A webcam (or a video file) as the eye tracker.

    Parameters
    ----------
    geometry : Geometry
        The screen.
    camera : int, str, Path or capture-like, optional
        Camera index (default 0), a video file, or an object with ``isOpened``, ``read``,
        ``get`` and ``release`` like ``cv2.VideoCapture``.
    fps : float, optional
        Frame rate asked of a camera, Hz (default 30; a video file plays at its own rate).
    frame_size_px : (int, int), optional
        Frame size asked of a camera, image px (default 640 x 480; cameras may not comply).
    eyes : {'L', 'R', 'LR'}, optional
        Columns to write; each gets the same binocular estimate (default 'L').
    realtime : bool, optional
        Play a video file at its frame rate (default True); False reads it as fast as it is
        processed (every frame, none dropped).
    loop : bool, optional
        Start a video file again at its end (default False: the samples stop).
    alpha : float, optional
        Ridge penalty of the mapping (default 1e-3).
    redetect_every : int, optional
        Frames between full-frame face searches (default 30).

    Raises
    ------
    ParameterError
        For bad values; GazelabError for a video file that does not exist.
    """

    name = "webcam"

    def __init__(
        self,
        geometry: Geometry,
        *,
        camera: int | str | Path | Any = 0,
        fps: float = 30.0,
        frame_size_px: tuple[int, int] = (640, 480),
        eyes: str = "L",
        realtime: bool = True,
        loop: bool = False,
        alpha: float = 1e-3,
        redetect_every: int = 30,
    ) -> None:
        if eyes not in ("L", "R", "LR"):
            raise ParameterError("eyes", eyes, "'L', 'R' or 'LR'")
        if not (isinstance(fps, (int, float)) and 0 < fps <= 240):
            raise ParameterError("fps", fps, "a camera frame rate > 0 and <= 240 (Hz)")
        if len(frame_size_px) != 2 or min(frame_size_px) < 16:
            raise ParameterError("frame_size_px", frame_size_px, "(width, height) in image px, each >= 16")
        if isinstance(camera, bool) or (isinstance(camera, int) and camera < 0):
            raise ParameterError("camera", camera, "a camera index >= 0, a video file or a capture object")
        if isinstance(camera, (str, Path)):
            text = str(camera)
            if text.isdigit():
                camera = int(text)
            elif not Path(text).is_file():
                raise GazelabError(f"webcam: video file {text!r} not found; expected a camera index or a video file")
        self.geometry = geometry
        self.camera = camera
        self.eyes = eyes
        self.requested_fps = float(fps)
        self.frame_size_px = (int(frame_size_px[0]), int(frame_size_px[1]))
        self.realtime = bool(realtime)
        self.loop = bool(loop)
        self.redetect_every = int(redetect_every)
        self.sampling_rate_hz = self._file_fps() or self.requested_fps
        from gazelab.acquisition.webcam_features import GazeMapping

        self.mapping = GazeMapping(alpha)
        self.messages: list[tuple[float, str]] = []
        self.calibration_info: dict[str, Any] = {}
        self._cap: Any = None
        self._threads: list[threading.Thread] = []
        self._stop = threading.Event()
        self._cond = threading.Condition()
        self._slot: tuple[int, float, np.ndarray] | None = None
        self._lock = threading.Lock()
        self._history: collections.deque[tuple[SampleRow, np.ndarray | None]] = collections.deque(maxlen=HISTORY)
        self._recording = False
        self.ended = False
        self.frames_grabbed = 0
        self.frames_processed = 0
        self.dropped_by_camera = 0
        self.dropped_by_processing = 0
        self.error: str | None = None
        self.extractor: Any = None

    # -- source ---------------------------------------------------------------------------------
    @property
    def is_file(self) -> bool:
        """Whether the source is a video file."""
        return isinstance(self.camera, (str, Path))

    @property
    def dropped_frames(self) -> int:
        """Frames lost so far: never delivered by the camera plus replaced before processing."""
        return self.dropped_by_camera + self.dropped_by_processing

    def _file_fps(self) -> float | None:
        if not self.is_file:
            return None
        from gazelab.acquisition.webcam_features import _cv2

        cap = _cv2().VideoCapture(str(self.camera))
        try:
            fps = cap.get(5) if cap.isOpened() else 0.0  # CAP_PROP_FPS
        finally:
            cap.release()
        return float(fps) if fps and 0 < fps <= 1000 else None

    def _open(self) -> Any:
        from gazelab.acquisition.webcam_features import _cv2

        if not isinstance(self.camera, (int, str, Path)):
            cap = self.camera
            if not cap.isOpened():
                raise GazelabError(f"webcam: the capture object {self.camera!r} is not open")
            return cap
        cv2 = _cv2()
        if isinstance(self.camera, int):
            cap = cv2.VideoCapture(self.camera)
            if not cap.isOpened():
                cap.release()
                raise GazelabError(
                    f"webcam: camera {self.camera} could not be opened; check that a camera is connected "
                    f"(/dev/video{self.camera} on Linux), that no other program uses it and that this user may "
                    "access it, or give a video file instead (tracker.camera in the experiment file)"
                )
            cap.set(cv2.CAP_PROP_FRAME_WIDTH, self.frame_size_px[0])
            cap.set(cv2.CAP_PROP_FRAME_HEIGHT, self.frame_size_px[1])
            cap.set(cv2.CAP_PROP_FPS, self.requested_fps)
            cap.set(cv2.CAP_PROP_BUFFERSIZE, 1)
            return cap
        cap = cv2.VideoCapture(str(self.camera))
        if not cap.isOpened():
            cap.release()
            raise GazelabError(f"webcam: OpenCV cannot open the video file {str(self.camera)!r}; expected .avi/.mp4")
        return cap

    # -- threads ------------------------------------------------------------------------------------
    def _capture(self) -> None:
        cap = self._cap
        period_ms = 1000.0 / self.sampling_rate_hz
        start = host_time_ms()
        index = 0  # frames of the file played (read or skipped)
        last_grab: float | None = None
        try:
            while not self._stop.is_set():
                if self.is_file and self.realtime:
                    due = start + index * period_ms
                    now = host_time_ms()
                    if now < due:
                        self._stop.wait((due - now) / 1000.0)
                        continue
                    behind = int((now - due) // period_ms)  # whole periods late: a camera would drop them
                    for _ in range(behind):
                        if not cap.grab():
                            break
                        index += 1
                        self.dropped_by_camera += 1
                ok, frame = cap.read()
                grab = host_time_ms()
                if not ok or frame is None:
                    if self.is_file and self.loop and index > 0:
                        cap.set(1, 0)  # CAP_PROP_POS_FRAMES: play it again
                        start, index = host_time_ms(), 0
                        continue
                    if self.is_file:
                        self.ended = True
                    else:
                        self.error = f"webcam: camera {self.camera!r} stopped delivering frames"
                    break
                index += 1
                self.frames_grabbed += 1
                if not self.is_file and last_grab is not None:
                    self.dropped_by_camera += count_dropped(np.array([last_grab, grab]), period_ms)
                last_grab = grab
                with self._cond:
                    if self._slot is not None:
                        self.dropped_by_processing += 1
                    self._slot = (self.frames_grabbed, grab, frame)
                    self._cond.notify()
                if self.is_file and not self.realtime:
                    with self._cond:  # offline: wait until processed, drop nothing
                        while self._slot is not None and not self._stop.is_set():
                            self._cond.wait(0.05)
        finally:
            with self._cond:
                self._cond.notify_all()

    def _process(self) -> None:
        try:
            self._process_frames()
        except Exception as exc:  # surfaced by newest_samples / calibration_samples
            self.error = f"webcam: processing failed ({type(exc).__name__}: {exc})"
            self._stop.set()

    def _process_frames(self) -> None:
        extractor = self.extractor
        while True:
            with self._cond:
                while self._slot is None and not self._stop.is_set() and self._threads[0].is_alive():
                    self._cond.wait(0.05)
                if self._slot is None:
                    return
                _, grab, frame = self._slot
                self._slot = None
                self._cond.notify_all()
            feats = extractor.process(frame)
            row = self._row(grab, feats.vector, feats.quality)
            self.frames_processed += 1
            with self._lock:
                self._history.append((row, feats.vector))
                if self._recording:
                    self.samples.put((row,))

    def _row(self, grab_ms: float, vector: np.ndarray | None, quality: float) -> SampleRow:
        x = y = None
        conf = 0.0
        if vector is not None:
            conf = quality
            if self.mapping.fitted:
                gx, gy = self.mapping.predict(vector)[0]
                x, y = float(gx), float(gy)
                conf = quality * float(self.mapping.head_agreement(vector)[0])
        row: list[float | None] = [grab_ms, host_time_ms()]
        for _ in self.eyes:
            row += [x, y, None]
        row.append(round(conf, 4))
        return tuple(row)

    # -- Tracker API --------------------------------------------------------------------------------------
    def tracker_time_ms(self) -> float:
        """The host clock, ms: the webcam has no clock of its own and frames are stamped on this one."""
        return host_time_ms()

    def connect(self) -> None:
        """Open the camera or file and start capturing and processing (samples are kept from now on).

        Raises
        ------
        GazelabError
            If the camera or file cannot be opened, or delivers no frame within 5 s.
        """
        if self._cap is not None:
            return
        from gazelab.acquisition.webcam_features import FeatureExtractor

        # made here, in the caller's thread: OpenCV's lazy submodules are not safe to import from two threads
        self.extractor = FeatureExtractor(redetect_every=self.redetect_every)
        self._cap = self._open()
        if not self.is_file:
            fps = float(self._cap.get(5) or 0.0)
            if 0 < fps <= 240:
                self.sampling_rate_hz = fps
        self._stop.clear()
        self._threads = [
            threading.Thread(target=self._capture, name="gazelab-webcam-capture", daemon=True),
            threading.Thread(target=self._process, name="gazelab-webcam-process", daemon=True),
        ]
        for t in self._threads:
            t.start()
        deadline = time.monotonic() + 5.0
        while self.frames_grabbed == 0 and time.monotonic() < deadline and self._threads[0].is_alive():
            time.sleep(0.01)
        if self.frames_grabbed == 0:
            src = f"camera {self.camera}" if isinstance(self.camera, int) else repr(self.camera)
            self.close()
            raise GazelabError(
                f"webcam: {src} opened but delivered no frame within 5 s; check the camera (or the video file)"
            )

    def session_metadata(self) -> dict[str, Any]:
        """What the session records about the webcam: gaze source, camera, frame counts."""
        if isinstance(self.camera, (int, str, Path)):
            src: int | str = self.camera if isinstance(self.camera, int) else str(self.camera)
        else:
            src = f"{type(self.camera).__name__} (capture object)"
        return {
            "gaze_source": "webcam",
            "webcam": {
                "camera": src,
                "frame_rate_hz": self.sampling_rate_hz,
                "frames_grabbed": self.frames_grabbed,
                "frames_processed": self.frames_processed,
                "dropped_frames": self.dropped_frames,
                "dropped_by_camera": self.dropped_by_camera,
                "dropped_by_processing": self.dropped_by_processing,
                "pipeline": "OpenCV Haar face/eye cascades, eye-opening and iris centroids, "
                "ridge regression on polynomial eye features and head pose",
                "pupil": "not measured (empty)",
                "calibration": self.calibration_info,
            },
        }

    def start_recording(self) -> None:
        if self._cap is None:
            raise GazelabError("webcam tracker: connect() first")
        with self._lock:
            self._recording = True

    def stop_recording(self) -> None:
        with self._lock:
            self._recording = False

    def _check(self) -> None:
        if self.error is not None:
            raise GazelabError(self.error)

    def newest_samples(self) -> list[SampleRow]:
        self._check()
        return super().newest_samples()

    def send_message(self, text: str) -> float:
        t = self.tracker_time_ms()
        self.messages.append((t, text))
        return t

    def _frames_between(self, t0: float, t1: float) -> list[tuple[SampleRow, np.ndarray | None]]:
        deadline = time.monotonic() + 0.5  # frames grabbed before t1 may still be in processing
        while time.monotonic() < deadline and self._threads and self._threads[1].is_alive():
            with self._lock:
                last = self._history[-1][0][0] if self._history else -math.inf
            if (last is not None and last >= t1) or self.ended:
                break
            time.sleep(0.005)
        with self._lock:
            return [(r, v) for r, v in self._history if t0 <= r[0] <= t1]  # type: ignore[operator]

    def calibration_samples(self, x_px: float, y_px: float, duration_ms: float) -> list[SampleRow]:
        """The samples of the frames grabbed during the next ``duration_ms`` (ms), with their features kept."""
        if self._cap is None:
            raise GazelabError("webcam tracker: connect() first")
        self._check()
        t0 = host_time_ms()
        time.sleep(max(0.0, duration_ms) / 1000.0)
        self._check()
        return [r for r, _ in self._frames_between(t0, t0 + duration_ms)]

    def apply_calibration(self, targets_px: list[tuple[float, float]], samples: list[list[SampleRow]]) -> None:
        """Fit the gaze mapping on the features of the frames behind ``samples``.

        Frames whose eye features lie more than 3 median absolute deviations (per axis) from
        their target's median are left out (blinks, glances away). With fewer than 5 targets
        holding frames with features the previous mapping stays (or none: samples keep empty
        gaze), which the validation then reports as data loss; ``calibration_info`` says why.
        """
        if len(targets_px) != len(samples):
            raise ParameterError("samples", len(samples), f"one list per target ({len(targets_px)})")
        with self._lock:
            lookup = {r[0]: v for r, v in self._history}
        feats, tgts, used = [], [], 0
        for (tx, ty), rows in zip(targets_px, samples, strict=True):
            v = np.array([lookup[r[0]] for r in rows if lookup.get(r[0]) is not None])
            if len(v) == 0:
                continue
            med = np.median(v[:, :2], axis=0)
            mad = np.median(np.abs(v[:, :2] - med), axis=0) + 1e-9
            keep = (np.abs(v[:, :2] - med) <= 3 * 1.4826 * mad + 1e-6).all(axis=1)
            feats.append(v[keep])
            tgts.append(np.tile([tx, ty], (int(keep.sum()), 1)))
            used += 1
        n = sum(len(f) for f in feats)
        if used < 5:
            self.calibration_info = {
                "fitted": False,
                "reason": f"features found at {used} of {len(targets_px)} targets; need 5",
                "frames": n,
            }
            return
        from gazelab.acquisition.webcam_features import GazeMapping

        mapping = GazeMapping(self.mapping.alpha).fit(np.vstack(feats), np.vstack(tgts))
        with self._lock:
            self.mapping = mapping
        self.calibration_info = {"fitted": True, "targets": used, "frames": n, "alpha": mapping.alpha}

    def drift_correct(self, x_px: float, y_px: float) -> tuple[float, float]:
        """Mean gaze minus the target over the next 300 ms, screen px (NaN without gaze); nothing is changed."""
        rows = self.calibration_samples(x_px, y_px, 300.0)
        xy = np.array([[np.nan if v is None else v for v in r[2:4]] for r in rows], float).reshape(-1, 2)
        ok = np.isfinite(xy).all(axis=1)
        if not ok.any():
            return math.nan, math.nan
        dx, dy = xy[ok].mean(axis=0) - (x_px, y_px)
        return float(dx), float(dy)

    def close(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        for t in self._threads:
            t.join(5.0)
        self._threads = []
        if self._cap is not None:
            self._cap.release()
            self._cap = None
        self._recording = False
