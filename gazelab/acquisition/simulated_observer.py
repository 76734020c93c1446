"""A simulated observer: gaze signals with known fixations, saccades and blinks.

Acquisition's stand-in for a participant: the simulated tracker backend streams it, the embedded
demo records it, and the tests of every detector read it. Numpy only, deterministic for a given seed.

The model, per fixation: a target point; fixational drift as a slow random walk; tracker noise
as white Gaussian noise of ``noise_deg`` RMS per axis. Between fixations, a saccade whose
duration follows the main sequence ``D = 2.2 ms/deg * A + 21 ms`` (Carpenter 1988; Baloh et al.
1975) and whose position follows a minimum-jerk profile (peak speed ``1.875 A / D``, about
350-450 deg/s for 10-15 deg). Blinks replace part of a fixation with missing samples
(``blink_probability`` per fixation, 80-150 ms long).

Microsaccades (``microsaccade_rate_hz``, default 1.5 per second of fixation; 0 turns them off):
small fixational saccades inside fixations, at least 80 ms after a fixation starts and 30 ms before
it ends, at least 100 ms apart (so the rate achieved is somewhat lower, about 1 per second with
the default fixation durations, and short fixations have none). Amplitudes are log-normal
(median 0.3 deg, about 0.13-0.65 deg between the 5th and 95th percentiles, clipped to 0.05-1 deg;
longer ones fit their fixation less often, so the achieved median is near 0.27 deg); durations
follow a microsaccade main sequence ``D = 10 ms + 20 ms/deg * A`` (10-25 ms, clipped), with the
same minimum-jerk profile, so the peak speed ``1.875 A / D`` is about 15 deg/s at 0.1 deg and
45-55 deg/s at 0.5-0.7 deg (Engbert & Kliegl 2003; Martinez-Conde et al. 2004). Two in three point back towards the
fixation target, undoing the drift and earlier microsaccades (corrective, often returning, as
in Engbert & Kliegl 2004); the rest point in a random direction. They are drawn from their own
random stream, so turning them off gives exactly the signal of the model without them. They
stay inside their fixation in the ground truth (a fixation is not split by them) and are listed
in ``microsaccades``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab._io import atomic_path
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry

__all__ = ["SimulatedGaze", "simulate_gaze", "synthetic_scene", "write_asc"]


@dataclass
class SimulatedGaze:
    """A simulated monocular recording and its ground truth.

    Attributes
    ----------
    time_ms : ndarray
        Sample times in ms (integers for rates up to 1 kHz).
    x_px, y_px : ndarray
        Gaze in screen px; NaN during blinks.
    pupil : ndarray
        Pupil area (arbitrary units); NaN during blinks.
    fixations : pandas.DataFrame
        Ground truth: ``onset_ms``, ``offset_ms`` (first and last sample), ``duration_ms``
        (``offset - onset`` + one sample period), ``x_px``, ``y_px`` (target, screen px).
    saccades : pandas.DataFrame
        ``onset_ms``, ``offset_ms``, ``amplitude_deg``, ``peak_velocity_deg_s``.
    blinks : pandas.DataFrame
        ``onset_ms``, ``offset_ms``.
    sampling_rate_hz : float
    geometry : Geometry
    microsaccades : pandas.DataFrame
        ``onset_ms``, ``offset_ms`` (first and last sample of the movement), ``amplitude_deg``,
        ``peak_velocity_deg_s``, ``direction_deg`` (screen angle, 0 = right, 90 = down) and
        ``fixation`` (row of ``fixations`` they fall in; -1 if that fixation row was dropped).
    """

    time_ms: np.ndarray
    x_px: np.ndarray
    y_px: np.ndarray
    pupil: np.ndarray
    fixations: pd.DataFrame
    saccades: pd.DataFrame
    blinks: pd.DataFrame
    sampling_rate_hz: float
    geometry: Geometry
    microsaccades: pd.DataFrame = field(default_factory=lambda: pd.DataFrame(columns=MICROSACCADE_COLUMNS))


MICROSACCADE_COLUMNS = ["onset_ms", "offset_ms", "amplitude_deg", "peak_velocity_deg_s", "direction_deg", "fixation"]
MICROSACCADE_MIN_AFTER_ONSET_MS = 80.0
MICROSACCADE_MIN_BEFORE_END_MS = 30.0
MICROSACCADE_MIN_INTERVAL_MS = 100.0


def _microsaccade_shift(
    rng: np.random.Generator, walk: np.ndarray, dt: float, rate_hz: float
) -> tuple[np.ndarray, list[tuple[int, int, float, float, float]]]:
    """Displacement (deg, shape like ``walk``) of one fixation's microsaccades and their rows.

    ``walk`` is the fixation's drift relative to its target. Rows: (first sample, sample count,
    amplitude deg, peak velocity deg/s, direction rad).
    """
    m = len(walk)
    shift = np.zeros_like(walk)
    rows: list[tuple[int, int, float, float, float]] = []
    if rate_hz <= 0:
        return shift, rows
    end = m * dt - MICROSACCADE_MIN_BEFORE_END_MS
    eligible = end - MICROSACCADE_MIN_AFTER_ONSET_MS
    if eligible <= 0:
        return shift, rows
    # the rate is per second of fixation: concentrate it in the part of the fixation they may fall in
    rate_hz = rate_hz * min(m * dt / eligible, 3.0)
    t = MICROSACCADE_MIN_AFTER_ONSET_MS + rng.exponential(1000.0 / rate_hz)
    while True:
        amp = float(np.clip(rng.lognormal(math.log(0.3), 0.5), 0.05, 1.0))
        d_ms = float(np.clip(10.0 + 20.0 * amp, 10.0, 25.0))
        n = max(2, int(round(d_ms / dt)))
        s0 = int(round(t / dt))
        if (s0 + n) * dt > end:
            return shift, rows
        off = walk[s0] + shift[s0]
        if rng.random() < 2 / 3 and np.hypot(*off) > 1e-6:  # corrective: back towards the target
            theta = math.atan2(-off[1], -off[0]) + rng.normal(0, 0.3)
        else:
            theta = rng.uniform(-math.pi, math.pi)
        u = np.arange(1, n + 1) / (n + 1)
        step = amp * np.array([math.cos(theta), math.sin(theta)])
        shift[s0 : s0 + n] += _min_jerk(u)[:, None] * step
        shift[s0 + n :] += step
        rows.append((s0, n, amp, 1.875 * amp / (n * dt / 1000.0), theta))
        t = (s0 + n) * dt + MICROSACCADE_MIN_INTERVAL_MS + rng.exponential(1000.0 / rate_hz)


def _min_jerk(u: np.ndarray) -> np.ndarray:
    return 10 * u**3 - 15 * u**4 + 6 * u**5


def simulate_gaze(
    geometry: Geometry,
    *,
    n_fixations: int = 20,
    sampling_rate_hz: float = 500.0,
    fixation_duration_ms: tuple[float, float] = (260.0, 120.0),
    min_fixation_ms: float = 80.0,
    noise_deg: float = 0.03,
    drift_deg_s: float = 0.3,
    blink_probability: float = 0.1,
    targets_px: np.ndarray | None = None,
    margin: float = 0.1,
    seed: int = 0,
    microsaccade_rate_hz: float = 1.5,
) -> SimulatedGaze:
    """Simulate one eye looking at a sequence of points.

    Parameters
    ----------
    geometry : Geometry
        The screen.
    n_fixations : int, optional
        Number of fixations (ignored when ``targets_px`` is given). Default 20.
    sampling_rate_hz : float, optional
        Sampling rate in Hz (default 500).
    fixation_duration_ms : (float, float), optional
        Mean and SD of fixation durations in ms (gamma distributed; default 260, 120: median
        about 235 ms and a long right tail, as in free viewing; see benchmarks/simulated_vs_real.py).
    min_fixation_ms : float, optional
        Shortest fixation, ms (default 80).
    noise_deg : float, optional
        RMS of the white measurement noise per axis, degrees (default 0.03, a good video
        tracker).
    drift_deg_s : float, optional
        Speed scale of the fixational drift random walk, deg/s (default 0.3).
    blink_probability : float, optional
        Chance that a fixation holds a blink (default 0.1).
    targets_px : ndarray, shape (n, 2), optional
        Fixation targets in screen px; default random within the screen less ``margin``.
    margin : float, optional
        Fraction of the screen kept free at each edge for random targets (default 0.1).
    seed : int, optional
        Random seed (default 0).
    microsaccade_rate_hz : float, optional
        Rate of microsaccades during fixations, per second (default 1.5; 0 turns them off).
        See the module documentation for their amplitudes, durations and directions.

    Returns
    -------
    SimulatedGaze

    Examples
    --------
    >>> sim = simulate_gaze(Geometry(1024, 768, 40.0, 30.0, 60.0), n_fixations=5, seed=1)
    >>> len(sim.fixations)
    5
    """
    _check_simulation(sampling_rate_hz, noise_deg, microsaccade_rate_hz)
    rng = np.random.default_rng(seed)
    ms_rng = np.random.default_rng([seed, 1])  # its own stream: rate 0 leaves the rest unchanged
    tx, ty = _targets(geometry, rng, targets_px, n_fixations, margin)
    gx, gy = geometry.px_to_deg(tx, ty)
    mean, sd = fixation_duration_ms
    shape = (mean / sd) ** 2
    durs = np.maximum(rng.gamma(shape, mean / shape, len(tx)), min_fixation_ms)
    trace = _Trace(1000.0 / sampling_rate_hz)
    for k in range(len(tx)):
        if k > 0:
            trace.saccade(gx[k - 1], gy[k - 1], gx[k], gy[k])
        trace.fixation(rng, ms_rng, (gx[k], gy[k]), (tx[k], ty[k]), float(durs[k]), drift_deg_s,
                       microsaccade_rate_hz, blink_probability)  # fmt: skip
    return trace.result(rng, geometry, noise_deg, float(sampling_rate_hz))


def _check_simulation(sampling_rate_hz: float, noise_deg: float, microsaccade_rate_hz: float) -> None:
    if not sampling_rate_hz > 0:
        raise ParameterError("sampling_rate_hz", sampling_rate_hz, "a rate > 0 (Hz)")
    if noise_deg < 0:
        raise ParameterError("noise_deg", noise_deg, "an RMS >= 0 (deg)")
    if not microsaccade_rate_hz >= 0:
        raise ParameterError("microsaccade_rate_hz", microsaccade_rate_hz, "a rate >= 0 (per s; 0 = none)")


def _targets(
    geometry: Geometry, rng: np.random.Generator, targets_px: np.ndarray | None, n_fixations: int, margin: float
) -> tuple[np.ndarray, np.ndarray]:
    """Fixation targets (screen px): the given ones, or uniform within the screen less the margin."""
    if targets_px is not None:
        t = np.asarray(targets_px, dtype=float).reshape(-1, 2)
        return t[:, 0], t[:, 1]
    if n_fixations < 1:
        raise ParameterError("n_fixations", n_fixations, "a count >= 1")
    tx = rng.uniform(margin, 1 - margin, n_fixations) * geometry.width_px
    ty = rng.uniform(margin, 1 - margin, n_fixations) * geometry.height_px
    return tx, ty


def _blink(rng: np.random.Generator, m: int, dur_ms: float, dt: float, probability: float) -> tuple[int, int] | None:
    """(first sample, length) of a blink inside a fixation of m samples, or None."""
    if not (rng.random() < probability and dur_ms > 300):
        return None
    b_len = int(round(rng.uniform(80, 150) / dt))
    b0 = int(rng.integers(int(40 / dt), max(int(40 / dt) + 1, m - b_len - int(60 / dt))))
    return b0, b_len


@dataclass
class _Trace:
    """The eye's path being built segment by segment (deg), with its ground truth (ms)."""

    dt: float
    xs: list[np.ndarray] = field(default_factory=list)
    ys: list[np.ndarray] = field(default_factory=list)
    miss: list[np.ndarray] = field(default_factory=list)
    fix_rows: list[tuple] = field(default_factory=list)
    sac_rows: list[tuple] = field(default_factory=list)
    blink_rows: list[tuple] = field(default_factory=list)
    ms_rows: list[tuple] = field(default_factory=list)
    n: int = 0  # samples so far

    def saccade(self, gx0: float, gy0: float, gx: float, gy: float) -> None:
        """A minimum-jerk saccade from the end of the path to (gx, gy) deg, main-sequence duration."""
        dt = self.dt
        amp = float(np.hypot(gx - gx0, gy - gy0))
        d_ms = 2.2 * amp + 21.0
        m = max(2, int(round(d_ms / dt)))
        p = _min_jerk(np.arange(1, m + 1) / (m + 1))
        x0, y0 = self.xs[-1][-1], self.ys[-1][-1]
        self.xs.append(x0 + (gx - x0) * p)
        self.ys.append(y0 + (gy - y0) * p)
        self.miss.append(np.zeros(m, bool))
        self.sac_rows.append((self.n * dt, (self.n + m - 1) * dt, amp, 1.875 * amp / (d_ms / 1000.0)))
        self.n += m

    def fixation(
        self,
        rng: np.random.Generator,
        ms_rng: np.random.Generator,
        target_deg: tuple[float, float],
        target_px: tuple[float, float],
        dur_ms: float,
        drift_deg_s: float,
        microsaccade_rate_hz: float,
        blink_probability: float,
    ) -> None:
        """A fixation: drift and microsaccades around the target, perhaps a blink (its samples missing)."""
        dt, n = self.dt, self.n
        m = max(1, int(round(dur_ms / dt)))
        walk = np.cumsum(rng.normal(0, drift_deg_s * math.sqrt(dt / 1000.0), (m, 2)), axis=0)
        shift, micro = _microsaccade_shift(ms_rng, walk, dt, microsaccade_rate_hz)
        walk = walk + shift
        self.xs.append(target_deg[0] + walk[:, 0])
        self.ys.append(target_deg[1] + walk[:, 1])
        gone = np.zeros(m, bool)
        segments = [(0, m - 1)]
        blink = _blink(rng, m, dur_ms, dt, blink_probability)
        if blink is not None:
            b0, b_len = blink
            gone[b0 : b0 + b_len] = True
            self.blink_rows.append(((n + b0) * dt, (n + b0 + b_len - 1) * dt))
            segments = [(0, b0 - 1), (b0 + b_len, m - 1)]
        self.miss.append(gone)
        first_row = len(self.fix_rows)
        kept = [(a, b) for a, b in segments if b >= a and (b - a + 1) * dt >= 40]
        self.fix_rows.extend(((n + a) * dt, (n + b) * dt, (b - a + 1) * dt, *target_px) for a, b in kept)
        for s0, ln, amp, peak, theta in micro:
            if gone[s0 : s0 + ln].any():
                continue  # lost in a blink
            row = next((first_row + i for i, (a, b) in enumerate(kept) if a <= s0 and s0 + ln - 1 <= b), -1)
            self.ms_rows.append(((n + s0) * dt, (n + s0 + ln - 1) * dt, amp, peak, math.degrees(theta), row))
        self.n += m

    def result(self, rng: np.random.Generator, geometry: Geometry, noise_deg: float, rate_hz: float) -> SimulatedGaze:
        """The recorded signal (tracker noise added, screen px, pupil) and its ground-truth tables."""
        n, dt = self.n, self.dt
        x_deg = np.concatenate(self.xs) + rng.normal(0, noise_deg, n)
        y_deg = np.concatenate(self.ys) + rng.normal(0, noise_deg, n)
        gone = np.concatenate(self.miss)
        x_px, y_px = geometry.deg_to_px(x_deg, y_deg)
        x_px[gone] = np.nan
        y_px[gone] = np.nan
        pupil = 1000.0 + rng.normal(0, 5, n)
        pupil[gone] = np.nan
        time_ms = np.arange(n) * dt
        if dt == int(dt):
            time_ms = time_ms.round()
        return SimulatedGaze(
            time_ms=time_ms,
            x_px=x_px,
            y_px=y_px,
            pupil=pupil,
            fixations=pd.DataFrame(self.fix_rows, columns=["onset_ms", "offset_ms", "duration_ms", "x_px", "y_px"]),
            saccades=pd.DataFrame(
                self.sac_rows, columns=["onset_ms", "offset_ms", "amplitude_deg", "peak_velocity_deg_s"]
            ),
            blinks=pd.DataFrame(self.blink_rows, columns=["onset_ms", "offset_ms"]),
            sampling_rate_hz=rate_hz,
            geometry=geometry,
            microsaccades=pd.DataFrame(self.ms_rows, columns=MICROSACCADE_COLUMNS).astype({"fixation": np.int64}),
        )


def _fmt(v: float) -> str:
    return "   ." if np.isnan(v) else f"{v:7.1f}"


def _trial_lines(
    sim: SimulatedGaze, start_ms: float, eye: str, tfmt: Any, trial: int, messages: list[str]
) -> tuple[list[str], float]:
    """One trial: TRIALID, the trial's messages, a START..END block, TRIAL_RESULT; returns the end time."""
    word = "LEFT" if eye == "L" else "RIGHT"
    t = sim.time_ms + start_ms
    dt = 1000.0 / sim.sampling_rate_hz
    rate = f"{sim.sampling_rate_hz:7.2f}"
    lines = [f"MSG\t{tfmt(start_ms - 40)} TRIALID {trial}"]
    lines += [f"MSG\t{tfmt(start_ms - 20)} {m}" for m in messages]
    lines += [
        f"START\t{tfmt(start_ms)} \t{word}\tSAMPLES\tEVENTS",
        "PRESCALER\t1",
        "VPRESCALER\t1",
        "PUPIL\tAREA",
        f"EVENTS\tGAZE\t{word}\tRATE\t{rate}\tTRACKING\tCR\tFILTER\t0",
        f"SAMPLES\tGAZE\t{word}\tRATE\t{rate}\tTRACKING\tCR\tFILTER\t0",
    ]
    events: list[tuple[float, str]] = []

    def add(kind: str, on: float, off: float, dur: float, rest: str = "") -> None:
        # an event line follows the sample it ends on
        line = f"{kind} {eye}\t{tfmt(on + start_ms)}\t{tfmt(off + start_ms)}\t{int(round(dur))}{rest}"
        events.append((off + start_ms + dt / 2, line))

    for r in sim.fixations.itertuples():
        add("EFIX", r.onset_ms, r.offset_ms, r.duration_ms, f"\t{r.x_px:7.1f}\t{r.y_px:7.1f}\t   1000")
    for r in sim.saccades.itertuples():
        rest = f"\t   .\t   .\t   .\t   .\t{r.amplitude_deg:6.2f}\t{r.peak_velocity_deg_s:6.0f}"
        add("ESACC", r.onset_ms, r.offset_ms, r.offset_ms - r.onset_ms + dt, rest)
    for r in sim.blinks.itertuples():
        add("EBLINK", r.onset_ms, r.offset_ms, r.offset_ms - r.onset_ms + dt)
    events.sort(key=lambda e: e[0])
    sample_lines = [
        f"{tfmt(ti)}\t{_fmt(xi)}\t{_fmt(yi)}\t{_fmt(pi)}\t..."
        for ti, xi, yi, pi in zip(t, sim.x_px, sim.y_px, sim.pupil, strict=True)
    ]
    # interleave events after the sample they end on
    pos = np.searchsorted(t, np.array([e[0] for e in events]))
    j = 0
    for i, line in enumerate(sample_lines):
        while j < len(events) and pos[j] <= i:
            lines.append(events[j][1])
            j += 1
        lines.append(line)
    lines.extend(e[1] for e in events[j:])
    end = float(t[-1] + dt)
    lines += [f"END\t{tfmt(end)} \tSAMPLES\tEVENTS\tRES\t  38.00\t  38.00", f"MSG\t{tfmt(end + 5)} TRIAL_RESULT 0"]
    return lines, end


def write_asc(
    sim: SimulatedGaze | Sequence[SimulatedGaze],
    path: str | Path,
    *,
    eye: str = "L",
    start_ms: float = 100000.0,
    messages: Sequence[Sequence[str]] | None = None,
    gap_ms: float = 1000.0,
) -> Path:
    """Write a simulated recording as an EyeLink-style ASC file (atomically).

    Each simulation becomes one trial (``TRIALID k`` ... ``TRIAL_RESULT 0``) with its own
    recording block. The ground-truth fixations, saccades and blinks are written as the
    tracker's own events (``EFIX``/``ESACC``/``EBLINK``), so ``--algorithm eyelink`` reads the
    truth back.

    Parameters
    ----------
    sim : SimulatedGaze or sequence of SimulatedGaze
        The simulation(s), one per trial, all on the same screen and at the same rate.
    path : str or Path
        Output ``.asc`` file.
    eye : {'L', 'R'}, optional
        Eye to label the data with (default L).
    start_ms : float, optional
        Tracker clock at the first sample, ms (default 100000).
    messages : sequence of sequence of str, optional
        Extra messages per trial, logged just before its block starts (e.g.
        ``"!V IMGLOAD CENTER cat.png 960 540"``, ``"!V TRIAL_VAR condition faces"``).
    gap_ms : float, optional
        Time between one trial's end and the next one's start, ms (default 1000).

    Returns
    -------
    Path
    """
    sims = [sim] if isinstance(sim, SimulatedGaze) else list(sim)
    if not sims:
        raise ParameterError("sim", sim, "at least one simulation")
    eye = eye.upper()[:1]
    if eye not in ("L", "R"):
        raise ParameterError("eye", eye, "'L' or 'R'")
    msgs = list(messages) if messages is not None else [[] for _ in sims]
    if len(msgs) != len(sims):
        raise ParameterError("messages", len(msgs), f"one list of messages per trial ({len(sims)})")
    g = sims[0].geometry
    dt = 1000.0 / sims[0].sampling_rate_hz
    integer_times = float(dt).is_integer()
    tfmt = (lambda v: f"{int(round(v))}") if integer_times else (lambda v: f"{v:.1f}")
    lines = [
        "** CONVERTED FROM gazelab.acquisition.simulated_observer (simulated observer)",
        "** TYPE: EDF_FILE BINARY EVENT SAMPLE TAGGED",
        "** SOURCE: gazelab simulated observer",
        "**",
        "",
        f"MSG\t{tfmt(start_ms - 50)} DISPLAY_COORDS 0 0 {g.width_px - 1} {g.height_px - 1}",
    ]
    t0 = start_ms
    for k, (one, extra) in enumerate(zip(sims, msgs, strict=True), start=1):
        block, end = _trial_lines(one, t0, eye, tfmt, k, list(extra))
        lines += block
        t0 = float(np.ceil(end + gap_ms))
    lines.append("")
    path = Path(path)
    with atomic_path(path) as tmp:
        tmp.write_text("\n".join(lines), encoding="utf-8")
    return path


def synthetic_scene(seed: int, *, width_px: int = 800, height_px: int = 600) -> np.ndarray:
    """A simple outdoor-like scene to look at: sky-to-ground gradient and a few coloured objects.

    The example experiment's stimuli and the demo's are made with it (deterministic per seed),
    so that free viewing, and the simulated observer's priority map, have structure to follow.

    Parameters
    ----------
    seed : int
        Seed of the scene.
    width_px, height_px : int, optional
        Image size, px (default 800 x 600).

    Returns
    -------
    numpy.ndarray
        ``(height_px, width_px, 3)`` uint8 RGB image.
    """
    from PIL import Image, ImageDraw

    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, height_px)[:, None, None]
    sky, ground = rng.uniform(120, 220, 3), rng.uniform(40, 140, 3)
    horizon = rng.uniform(0.45, 0.65)
    base = np.where(t < horizon, sky * (1 - 0.3 * t), ground * (0.7 + 0.3 * t))
    img = Image.fromarray(np.broadcast_to(base, (height_px, width_px, 3)).astype(np.uint8))
    draw = ImageDraw.Draw(img)
    scale = min(width_px / 800, height_px / 600)
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0.1, 0.9) * width_px, rng.uniform(0.2, 0.9) * height_px
        r = rng.uniform(20, 80) * scale
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            draw.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        else:
            draw.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=color)
    return np.asarray(img)
