"""A simulated observer as a tracker: samples in real time, with realistic gaze dynamics.

The gaze process is :func:`gazelab.acquisition.simulated_observer.simulate_gaze` (fixations with drift and tracker
noise, main-sequence saccades, blinks), generated ahead in chunks and released as wall-clock
time passes: each sample's device time is ``start + k / rate`` exactly and its host time is when
it was handed over. Fixation targets are drawn from a priority map: with a stimulus set, the
image's local contrast (gradient energy, smoothed over about 1 deg) times a central Gaussian
(the centre bias of free viewing); without one, the central Gaussian over the screen.

For a video the runner calls ``set_stimulus(frame, placement, keep_fixation=True)`` every 200 ms
of the video: the fixation in progress (or the saccade and the fixation it lands in) plays out
as planned, and the next targets come from the new frame's map, so gaze follows moving content
without teleporting or cutting fixations short.
"""

from __future__ import annotations

import threading

import numpy as np
from PIL import Image
from scipy.ndimage import gaussian_filter

from gazelab.acquisition.session import host_time_ms
from gazelab.acquisition.simulated_observer import simulate_gaze
from gazelab.acquisition.trackers.base import SampleRow, Tracker
from gazelab.errors import GazelabError, ParameterError
from gazelab.geometry import Geometry, Placement

__all__ = ["SimulatedTracker", "priority_map", "sample_targets"]

_CHUNK_FIXATIONS = 40
_FOLLOW_CHUNK_FIXATIONS = 6  # planned ahead while following a video (replanned at each frame update)


def priority_map(image: np.ndarray, *, centre_sigma: float = 0.25, smooth_fraction: float = 0.02) -> np.ndarray:
    """Where a simulated observer tends to look on an image: contrast x centre bias, sums to 1.

    Parameters
    ----------
    image : ndarray, (h, w) or (h, w, c)
        The stimulus.
    centre_sigma : float, optional
        SD of the central Gaussian as a fraction of each image side (default 0.25; with the local
        steps of :func:`sample_targets` it matches the spread of human fixations on the nus-scene
        images; benchmarks/simulated_vs_real.py).
    smooth_fraction : float, optional
        Smoothing of the gradient energy, as a fraction of the image width (default 0.02).

    Returns
    -------
    ndarray, (h, w)
    """
    g = np.asarray(image, dtype=float)
    if g.ndim == 3:
        g = g.mean(axis=2)
    h, w = g.shape
    gy, gx = np.gradient(g)
    energy = gaussian_filter(np.hypot(gx, gy), max(1.0, smooth_fraction * w))
    energy = energy / energy.max() if energy.max() > 0 else np.ones_like(energy)
    yy, xx = np.mgrid[0:h, 0:w]
    centre = np.exp(-0.5 * (((xx - w / 2) / (centre_sigma * w)) ** 2 + ((yy - h / 2) / (centre_sigma * h)) ** 2))
    p = (0.05 + energy) * centre
    return p / p.sum()


def sample_targets(
    p: np.ndarray,
    n: int,
    rng: np.random.Generator,
    *,
    start: tuple[float, float] | None = None,
    step_sigma: float = 0.15,
) -> np.ndarray:
    """A sequence of ``n`` fixation targets (image px, ``(x, y)``) drawn from a priority map.

    Each next target is drawn from ``p`` times a Gaussian around the current one (SD
    ``step_sigma`` times the image diagonal), so the observer explores locally as people do
    (human saccades are mostly short) while still visiting the whole map.
    """
    h, w = p.shape
    yy, xx = np.mgrid[0:h, 0:w]
    s = step_sigma * np.hypot(h, w)
    cur = np.array(start if start is not None else (w / 2, h / 2), dtype=float)
    out = np.empty((n, 2))
    for k in range(n):
        q = p * np.exp(-((xx + 0.5 - cur[0]) ** 2 + (yy + 0.5 - cur[1]) ** 2) / (2 * s * s))
        idx = rng.choice(q.size, p=(q / q.sum()).ravel())
        r, c = divmod(int(idx), w)
        cur = np.array([c + rng.random(), r + rng.random()])
        out[k] = cur
    return out


class SimulatedTracker(Tracker):
    """A tracker that needs no hardware: a simulated observer in real time.

    Parameters
    ----------
    geometry : Geometry
        The screen.
    sampling_rate_hz : float, optional
        Default 1000 Hz.
    eyes : {'L', 'R', 'LR'}, optional
        Recorded eyes (both get the same gaze plus independent noise). Default 'L'.
    seed : int, optional
        Random seed (default 0).
    calibration_error_deg : float, optional
        Systematic error of the simulated calibration, deg (default 0.3).
    noise_deg : float, optional
        Tracker noise RMS per axis, deg (default 0.02).
    """

    name = "simulated"

    def __init__(
        self,
        geometry: Geometry,
        *,
        sampling_rate_hz: float = 1000.0,
        eyes: str = "L",
        seed: int = 0,
        calibration_error_deg: float = 0.3,
        noise_deg: float = 0.02,
    ) -> None:
        if not sampling_rate_hz > 0:
            raise ParameterError("sampling_rate_hz", sampling_rate_hz, "a rate > 0 (Hz)")
        if eyes not in ("L", "R", "LR"):
            raise ParameterError("eyes", eyes, "'L', 'R' or 'LR'")
        self.geometry = geometry
        self.sampling_rate_hz = float(sampling_rate_hz)
        self.eyes = eyes
        self.rng = np.random.default_rng(seed)
        self.noise_deg = noise_deg
        self.bias_px = self.rng.normal(0, calibration_error_deg, 2) * geometry.px_per_deg
        self._connected = False
        self._recording = False
        self._gen_lock = threading.Lock()  # the gaze plan: shared by the streaming thread and set_stimulus
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()
        self._clock0 = host_time_ms()
        self._priority: tuple[np.ndarray, Placement] | None = None
        self._pending: np.ndarray | None = None  # rows (x, y, pupil) not yet released
        self._last_target = np.array(geometry.center_px)
        self._following = False  # set_stimulus(keep_fixation=True): plan a few fixations at a time
        self._continue_from: np.ndarray | None = None  # gaze where the kept fixation ends
        self.messages: list[tuple[float, str]] = []

    # -- clock -------------------------------------------------------------------------------
    def tracker_time_ms(self) -> float:
        return host_time_ms() - self._clock0

    # -- stimulus-driven targets ----------------------------------------------------------------
    def set_stimulus(
        self, image: np.ndarray | None, placement: Placement | None = None, *, keep_fixation: bool = False
    ) -> None:
        """Draw the next fixation targets from this image's priority map (None: the screen).

        With ``keep_fixation`` (a new frame of the same video), the fixation in progress ends as
        planned and only the targets after it come from the new map; otherwise (a new stimulus)
        the planned gaze is dropped at once.
        """
        if image is None:
            priority = None
        else:
            if placement is None:
                raise ParameterError("placement", None, "where the image is on the screen")
            small = Image.fromarray(np.asarray(image, dtype=np.uint8))
            small.thumbnail((256, 256))  # the map's resolution need not exceed the targets' precision
            priority = (priority_map(np.asarray(small)), placement)
        with self._gen_lock:
            self._priority = priority
            self._following = keep_fixation
            if not keep_fixation or self._pending is None or len(self._pending) == 0:
                self._pending = None  # the next samples follow the new stimulus
                self._continue_from = None
                return
            # keep the samples up to the end of the fixation in progress (skip a saccade under way)
            sacc = self._pending[:, 3] > 0
            still = np.flatnonzero(~sacc)
            if len(still) == 0:
                return
            after = np.flatnonzero(sacc[still[0] :])
            if len(after) == 0:
                return  # the plan ends inside this fixation: the next chunk continues from it
            cut = still[0] + int(after[0])
            self._last_target = self._pending[cut - 1, 4:6].copy()
            self._continue_from = self._pending[cut - 1, :2].copy()
            self._pending = self._pending[:cut]

    def _targets(self, n: int) -> np.ndarray:
        g = self.geometry
        if self._priority is None:
            pts = self.rng.normal([g.width_px / 2, g.height_px / 2], [0.2 * g.width_px, 0.2 * g.height_px], (n, 2))
            return np.clip(pts, [0, 0], [g.width_px - 1, g.height_px - 1])
        p, placement = self._priority
        sx, sy = placement.screen_to_image(*self._last_target)
        start = (float(sx) * p.shape[1] / placement.image_width_px, float(sy) * p.shape[0] / placement.image_height_px)
        pts = sample_targets(p, n, self.rng, start=start)
        x, y = placement.image_to_screen(
            pts[:, 0] * placement.image_width_px / p.shape[1], pts[:, 1] * placement.image_height_px / p.shape[0]
        )
        return np.c_[x, y]

    def _generate(self) -> np.ndarray:
        """Plan the next fixations: rows (x, y, pupil, in a saccade, target x, target y)."""
        n = _FOLLOW_CHUNK_FIXATIONS if self._following else _CHUNK_FIXATIONS
        targets = np.vstack([self._last_target, self._targets(n)])
        sim = simulate_gaze(
            self.geometry,
            targets_px=targets,
            sampling_rate_hz=self.sampling_rate_hz,
            noise_deg=0.0,
            blink_probability=0.05,
            seed=int(self.rng.integers(2**31)),
        )
        self._last_target = targets[-1]
        t = sim.time_ms
        on, off = sim.saccades["onset_ms"].to_numpy(), sim.saccades["offset_ms"].to_numpy()
        which = np.searchsorted(on, t, side="right")  # the target each sample fixates or moves to
        sacc = (which > 0) & (t <= off[np.maximum(which - 1, 0)] + 1e-9)
        rows = np.c_[sim.x_px, sim.y_px, sim.pupil, sacc, targets[which]]
        start = self._continue_from
        self._continue_from = None
        if start is not None and len(on):
            # the first fixation is the one kept from the previous plan: start at its first saccade,
            # easing out the small offset between where that fixation ended and this plan's start
            rows = rows[int(np.searchsorted(t, on[0])) :]
            m = max(1, int(np.argmin(rows[:, 3] > 0)) or len(rows))
            if np.isfinite(start).all() and np.isfinite(rows[0, :2]).all():
                rows[:m, :2] += np.linspace(1.0, 0.0, m)[:, None] * (start - rows[0, :2])
        return rows

    def _take(self, n: int) -> np.ndarray:
        with self._gen_lock:
            return self._take_locked(n)

    def _take_locked(self, n: int) -> np.ndarray:
        parts = []
        while n > 0:
            if self._pending is None or len(self._pending) == 0:
                self._pending = self._generate()
            k = min(n, len(self._pending))
            parts.append(self._pending[:k, :3])
            self._pending = self._pending[k:]
            n -= k
        return np.vstack(parts)

    # -- streaming -------------------------------------------------------------------------------
    def _rows(self, start_index: int, n: int, t0: float, host: float) -> list[SampleRow]:
        gaze = self._take(n)
        period = 1000.0 / self.sampling_rate_hz
        noise_px = self.noise_deg * self.geometry.px_per_deg
        dev = t0 + (start_index + np.arange(n)) * period
        cols: list[np.ndarray] = [dev, np.full(n, host)]
        for _ in self.eyes:
            x = gaze[:, 0] + self.bias_px[0] + self.rng.normal(0, noise_px, n)
            y = gaze[:, 1] + self.bias_px[1] + self.rng.normal(0, noise_px, n)
            cols += [x, y, gaze[:, 2]]
        cols.append(np.ones(n))
        block = np.column_stack(cols)
        return [tuple(None if v != v else float(v) for v in row) for row in block.tolist()]

    def _run(self) -> None:
        t0 = self.tracker_time_ms()
        produced = 0
        period = 1000.0 / self.sampling_rate_hz
        while not self._stop.is_set():
            due = int((self.tracker_time_ms() - t0) / period) + 1
            if due > produced:
                rows = self._rows(produced, due - produced, t0, host_time_ms())
                self.samples.put(rows)
                produced = due
            self._stop.wait(0.002)

    def connect(self) -> None:
        self._connected = True

    def start_recording(self) -> None:
        if not self._connected:
            raise GazelabError("simulated tracker: connect() first")
        if self._recording:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name="gazelab-simulated-tracker", daemon=True)
        self._recording = True
        self._thread.start()

    def stop_recording(self) -> None:
        if not self._recording:
            return
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        self._recording = False

    def send_message(self, text: str) -> float:
        t = self.tracker_time_ms()
        self.messages.append((t, text))
        return t

    # -- calibration -------------------------------------------------------------------------------
    def calibration_samples(self, x_px: float, y_px: float, duration_ms: float) -> list[SampleRow]:
        n = max(1, int(duration_ms * self.sampling_rate_hz / 1000.0))
        noise_px = self.noise_deg * self.geometry.px_per_deg
        t0 = self.tracker_time_ms()
        rows = []
        for k in range(n):
            row: list[float | None] = [t0 + k * 1000.0 / self.sampling_rate_hz, host_time_ms()]
            for _ in self.eyes:
                row += [
                    x_px + self.bias_px[0] + self.rng.normal(0, noise_px),
                    y_px + self.bias_px[1] + self.rng.normal(0, noise_px),
                    1000.0,
                ]
            row.append(1.0)
            rows.append(tuple(row))
        return rows

    def apply_calibration(self, targets_px: list[tuple[float, float]], samples: list[list[SampleRow]]) -> None:
        """Calibration removes most of the systematic error (a residual of about 30 % stays)."""
        self.bias_px = self.bias_px * 0.3

    def drift_correct(self, x_px: float, y_px: float) -> tuple[float, float]:
        return float(self.bias_px[0]), float(self.bias_px[1])

    def close(self) -> None:
        self.stop_recording()
        self._connected = False
