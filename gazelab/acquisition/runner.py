"""The session flow lab staff know from SR Research's examples.

Instructions -> calibration and validation (repeated until accepted, or skipped by the
operator) -> trials (drift check every N trials; fixation cross; the image, with its onset
message sent on the flip that shows it; inter-trial interval) -> close. Escape at any screen
ends the session cleanly: everything recorded so far is saved and the session is marked
``aborted``. Messages follow EyeLink's conventions (``TRIALID``, ``!V IMGLOAD``,
``!V TRIAL_VAR``, ``TRIAL_RESULT``), so the ASC reader, Data Viewer and the session reader
read the same structure.

Videos (:mod:`gazelab.acquisition.video`) are decoded with OpenCV and drawn one frame per flip at
the video's own frame rate, paced from the first frame's flip (a frame that is late is skipped,
never a flip delayed, so the video keeps its length). Data Viewer's video convention marks them:
``!V VFRAME <frame> <left> <top> <file>`` on the flip that shows each frame (frame numbers from 1
as in SR Research's PsychoPy video example; left/top the video's top-left corner on the screen,
px), with ``STIMULUS_ONSET`` on the first frame's flip and ``STIMULUS_OFFSET`` on the flip that
clears the last one. A video is shown for its own length, or ``timing.stimulus_ms`` if that is
shorter. ``!V TRIAL_VAR`` adds ``video_fps``, ``video_frames`` and ``frames_shown``, and
trials.csv adds ``fps``, ``frames_shown`` and ``frames_skipped`` (empty for images). A simulated
tracker follows the video: every 200 ms its fixation targets come from the frame on screen.

Keys: SPACE continues, ESCAPE aborts; on the validation screen R recalibrates and S skips
(accepts a validation that missed the threshold, which is recorded).
"""

from __future__ import annotations

import csv
import io
import secrets
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.acquisition.calibration import Thresholds, target_layout, validation_report
from gazelab.acquisition.config import ExperimentConfig, is_video
from gazelab.acquisition.session import SessionWriter, host_time_ms, session_dir
from gazelab.acquisition.trackers.base import Tracker
from gazelab.errors import GazelabError, ParameterError
from gazelab.geometry import Placement

__all__ = ["make_tracker", "run_session"]

CAL_TARGET_MS = 600.0
POLL_S = 0.005
#: how often a simulated observer's fixation targets follow the video frame on screen, ms
FOLLOW_VIDEO_MS = 200.0


class _Abort(Exception):
    """Escape was pressed."""


class _Terminated(KeyboardInterrupt):
    """SIGTERM arrived (the session is ended like Ctrl-C: saved, marked aborted)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise _Terminated


def _abort_reason(exc: BaseException) -> str:
    if isinstance(exc, _Terminated):
        return "terminated (SIGTERM)"
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted (Ctrl-C)"
    return f"{type(exc).__name__}: {exc}"


def make_tracker(backend: str, config: ExperimentConfig, participant: str, session: str) -> Tracker:
    """The tracker named by ``backend`` (``simulated``, ``eyelink``, ``webcam``)."""
    if backend == "simulated":
        from gazelab.acquisition.trackers.simulated import SimulatedTracker

        seed = int.from_bytes(f"{participant}/{session}".encode(), "little") % (2**31)
        return SimulatedTracker(
            config.geometry, sampling_rate_hz=config.tracker.sampling_rate_hz, eyes=config.tracker.eye, seed=seed
        )
    if backend == "eyelink":
        from gazelab.acquisition.trackers.eyelink import EyeLinkTracker, edf_name

        return EyeLinkTracker(
            config.geometry,
            address=config.tracker.address,
            sampling_rate_hz=config.tracker.sampling_rate_hz,
            eyes=config.tracker.eye,
            edf=edf_name(participant, session),
        )
    if backend == "webcam":
        from gazelab.acquisition.trackers.webcam import WebcamTracker

        trk = config.tracker
        # a video file standing in for the camera loops, so that it lasts the whole session
        return WebcamTracker(config.geometry, camera=trk.camera, fps=trk.camera_fps, eyes=trk.eye, loop=True)
    raise ParameterError("tracker", backend, "'simulated', 'eyelink' or 'webcam'")


def _tracker_metadata(trk: Tracker) -> dict[str, Any]:
    """What a backend adds to session.json (the webcam: gaze source, camera, dropped frames)."""
    extra = getattr(trk, "session_metadata", None)
    return dict(extra()) if callable(extra) else {}


def _drain(trk: Tracker, writer: SessionWriter) -> None:
    """Every sample (and, from an EyeLink, every link event) received since the last call into the session."""
    writer.add_samples(trk.newest_samples())
    events = getattr(trk, "link_events", None)
    if callable(events):
        writer.add_events(events())


def _convert(edf: Path, writer: SessionWriter, echo: Callable[[str], None]) -> None:
    """The tracker's EDF as ASC beside it (when edf2asc is installed), recorded in session.json."""
    from gazelab.acquisition.trackers.eyelink import convert_edf

    try:
        asc = convert_edf(edf)
    except GazelabError as exc:  # the session itself is saved; say what went wrong with the EDF
        echo(f"Warning: {exc}")
        writer.update_metadata(tracker_data_asc=None, tracker_data_asc_error=str(exc))
        return
    if asc is None:
        echo(f"{edf.name} kept as it is: install SR Research's edf2asc (EyeLink Developers Kit) to convert it")
    writer.update_metadata(tracker_data_asc=asc.name if asc is not None else None)


def _placement(cfg: ExperimentConfig, size: tuple[int, int]) -> Placement:
    g = cfg.geometry
    if cfg.placement == "center":
        return Placement.centered(g, size, scale=1.0)
    return Placement.centered(g, size, scale="fit")  # fit and fill keep the aspect ratio


class _Session:
    def __init__(
        self, cfg: ExperimentConfig, tracker: Tracker, writer: SessionWriter, display: Any, echo: Callable[[str], None]
    ) -> None:
        self.cfg, self.tracker, self.writer, self.display, self.echo = cfg, tracker, writer, display, echo
        self.trial_log = writer.folder / "trials.csv"

    def msg(self, text: str) -> None:
        self.writer.message(text, self.tracker.send_message(text))

    def pump(self, seconds: float) -> None:
        """Move samples to the session files and watch for Escape for ``seconds``."""
        self.pump_until(host_time_ms() + seconds * 1000.0)

    def pump_until(self, end_ms: float) -> None:
        """Move samples to the session files and watch for Escape until host time ``end_ms``."""
        while True:
            _drain(self.tracker, self.writer)
            if "escape" in self.display.keys(["escape"]):
                raise _Abort
            left = end_ms - host_time_ms()
            if left <= 0:
                return
            self.display.wait(min(POLL_S, left / 1000.0))

    unattended = False  # the simulated participant presses its own keys (run_session(unattended=True))
    trials_done = 0

    def present(self, order: list[Path]) -> None:
        """The whole experiment: instructions, calibration, then the trials with drift checks between them."""
        cfg, g = self.cfg, self.cfg.geometry
        clock_offset = self.tracker.tracker_time_ms() - host_time_ms()
        self.writer.update_metadata(tracker_minus_host_clock_ms=clock_offset, **_tracker_metadata(self.tracker))
        self.msg(f"DISPLAY_COORDS 0 0 {g.width_px - 1} {g.height_px - 1}")
        self.display.text(cfg.instructions)
        self.display.screenshot("instructions")
        self.display.flip()
        self.wait_key(["space"])
        self.calibrate()
        for k, path in enumerate(order, start=1):
            if cfg.drift_check_every and k > 1 and (k - 1) % cfg.drift_check_every == 0:
                self.drift_check()
            self.trial(k, path)
            self.trials_done = k
            self.echo(f"trial {k}/{len(order)}: {path.name}")

    def wait_key(self, allowed: list[str]) -> str:
        if self.unattended:  # go on (SPACE), or accept a validation that did not pass (S); Escape still works
            self.pump(0.5)
            return next((k for k in ("space", "s") if k in allowed), allowed[0])
        key = self.display.wait_keys([*allowed, "escape"])
        if key == "escape" or key is None:
            raise _Abort
        return key

    # -- calibration ------------------------------------------------------------------------------
    def _collect(self, targets: list[tuple[float, float]], name: str) -> list[list[tuple]]:
        out = []
        for k, (x, y) in enumerate(targets):
            self.display.target(x, y)
            if k == 0:
                self.display.screenshot(f"{name}-target")
            self.display.flip()
            self.pump(0.25)  # the eye lands on the target
            out.append(self.tracker.calibration_samples(x, y, CAL_TARGET_MS))
        return out

    def calibrate(self) -> None:
        if hasattr(self.tracker, "host_setup"):  # EyeLink: the Host's setup is the calibration and validation
            self.host_calibration()
            if not self.cfg.calibration.own_validation:
                return
        self.own_calibration()

    def host_calibration(self) -> None:
        """The Host-driven setup (doTrackerSetup); its result recorded as the tracker reports it."""
        from gazelab.acquisition.tracker_messages import validations

        if getattr(self.tracker, "dummy", True):  # dummy mode: no camera, no calibration
            self.writer.write_json(
                "calibration.json", {"source": "eyelink", "result": "not measured", "why": "pylink dummy mode"}
            )
            return
        self.display.text("Camera setup and calibration on the EyeLink Host PC.\nESCAPE there returns here.")
        self.display.flip()
        events = self.tracker.host_setup(self.display)
        self.writer.write_json("host_setup.json", {"events": [list(e) for e in events]})
        text = getattr(self.tracker, "calibration_text", "")
        t = self.tracker.tracker_time_ms()
        lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
        table = validations(pd.DataFrame({"time_ms": [t] * len(lines), "text": lines}))
        for ln in lines:  # the Host wrote these into the EDF itself: the session's copy only
            if ln.startswith("!CAL"):
                self.writer.message(ln, t)
        result = table.drop(columns=["line"]).to_dict("records") if len(table) else "not measured"
        self.writer.write_json("calibration.json", {"source": "eyelink", "tracker_message": text, "result": result})
        self.echo(f"EyeLink validation: {lines[0] if lines else 'not measured (the tracker reported none)'}")

    def own_calibration(self) -> None:
        """gazelab's own calibration and validation (simulated and webcam trackers; EyeLink when asked)."""
        from gazelab.acquisition.tracker_messages import format_validation_line

        own_fit = not hasattr(self.tracker, "host_setup")  # an EyeLink calibrates itself: gazelab only validates
        cal = self.cfg.calibration
        g = self.cfg.geometry
        targets = target_layout(cal.points, g)
        thresholds = Thresholds(fair_mean_deg=cal.validation_threshold_deg, fair_max_deg=cal.max_error_deg)
        reports = []
        for attempt in range(1, cal.max_attempts + 1):
            if own_fit:
                self.msg(f"!CAL CALIBRATION HV{cal.points} attempt {attempt}")
            self.tracker.apply_calibration(targets, self._collect(targets, "calibration"))
            val = self._collect(targets, "validation")
            # the first recorded eye's (x, y): columns 2-3 of a sample row
            gaze = [
                np.asarray([[np.nan if v is None else v for v in row[2:4]] for row in rows], float).reshape(-1, 2)
                for rows in val
            ]
            report = validation_report(targets, gaze, g, thresholds=thresholds)
            accepted = report.accepted(cal.validation_threshold_deg, cal.max_error_deg)
            reports.append(
                {
                    "attempt": attempt,
                    "accepted": accepted,
                    "grade": report.grade,
                    "mean_error_deg": report.mean_error_deg,
                    "max_error_deg": report.max_error_deg,
                    "precision_rms_deg": report.precision_rms_deg,
                    "data_loss": report.data_loss,
                    "points": report.points,
                }
            )
            self.writer.write_json("calibration.json", {"validations": reports})
            eyes = self.tracker.eyes
            kind = f"HV{cal.points}" if own_fit else f"GAZELAB-HV{cal.points}"  # never mistaken for the Host's
            self.msg(
                format_validation_line(
                    eyes[0], eyes, report.grade, report.mean_error_deg, report.max_error_deg, calibration_type=kind
                )
            )
            self.echo(f"validation {attempt}: {report.summary()}")
            lines = [
                f"Validation {attempt}: {report.grade}",
                f"mean error {report.mean_error_deg:.2f} deg, max {report.max_error_deg:.2f} deg "
                f"(accept: mean <= {cal.validation_threshold_deg:g}, max <= {cal.max_error_deg:g})",
            ]
            lines += [f"point {i + 1}: {p['error_deg']:.2f} deg" for i, p in enumerate(report.points)]
            lines.append(
                "SPACE: continue    R: recalibrate" if accepted else "R: recalibrate    S: skip (accept anyway)"
            )
            self.display.text("\n".join(lines))
            self.display.screenshot(f"validation-{attempt}")
            self.display.flip()
            key = self.wait_key(["space", "r"] if accepted else ["r", "s"])
            if key == "space" or key == "s":
                if key == "s":
                    self.msg("!CAL VALIDATION SKIPPED by the operator")
                    reports[-1]["skipped_by_operator"] = True
                    self.writer.write_json("calibration.json", {"validations": reports})
                return
        self.msg("!CAL no accepted validation after the maximum attempts; continuing")

    # -- trials ---------------------------------------------------------------------------------------
    def drift_check(self) -> None:
        cx, cy = self.cfg.geometry.center_px
        self.display.target(cx, cy)
        self.display.flip()
        self.pump(0.3)
        from gazelab.acquisition.tracker_messages import drift_checks, format_drift_line

        offset = self.tracker.drift_correct(cx, cy)
        eyes = self.tracker.eyes
        text = getattr(self.tracker, "calibration_text", "")
        if text and len(drift_checks(pd.DataFrame({"time_ms": [0.0], "text": [text.strip()]}))):
            line = text.strip()  # the tracker's own DRIFTCORRECT line
        elif offset is None or not np.isfinite(offset).all():
            line = format_drift_line(eyes[0], eyes, (cx, cy))  # OFFSET not measured
        else:
            dx, dy = offset
            err = float(self.cfg.geometry.angle_between(cx, cy, cx + dx, cy + dy))
            line = format_drift_line(eyes[0], eyes, (cx, cy), err, (dx, dy))
        if getattr(self.tracker, "host_writes_calibration_records", False):
            self.writer.message(line, self.tracker.tracker_time_ms())  # the Host wrote its own into the EDF
        else:
            self.msg(line)

    def trial(self, k: int, path: Path) -> None:
        if is_video(path):
            self.video_trial(k, path)
        else:
            self.image_trial(k, path)

    def _begin_trial(self, k: int) -> None:
        """TRIALID, recording on, the fixation cross for its time."""
        self.msg(f"TRIALID {k}")
        self.tracker.start_recording()
        self.display.cross()
        self.display.flip(on_flip=lambda: self.msg("FIXATION_CROSS"))
        self.pump(self.cfg.timing.fixation_cross_ms / 1000.0)

    def _end_trial(
        self,
        k: int,
        path: Path,
        placement: Placement,
        onset: float,
        offset: float,
        *,
        trial_vars: dict[str, Any] | None = None,
        video: dict[str, Any] | None = None,
    ) -> None:
        """Recording off, the trial's variables and result, its trials.csv row, the inter-trial pause."""
        self.tracker.stop_recording()
        _drain(self.tracker, self.writer)
        self.writer.update_metadata(**_tracker_metadata(self.tracker))
        self.msg(f"!V TRIAL_VAR stimulus {path.name}")
        self.msg(f"!V TRIAL_VAR scale {placement.scale:.4f}")
        for name, value in (trial_vars or {}).items():
            self.msg(f"!V TRIAL_VAR {name} {value}")
        self.msg("TRIAL_RESULT 0")
        left, top = placement.screen_rect_px[:2]
        self._log(
            {
                "trial": k,
                "stimulus": path.name,
                "left_px": round(left, 2),
                "top_px": round(top, 2),
                "scale": round(placement.scale, 6),
                "onset_ms": round(onset, 3),
                "offset_ms": round(offset, 3),
                "result": 0,
                **(video or {"fps": "", "frames_shown": "", "frames_skipped": ""}),
            }
        )
        self.pump(self.cfg.timing.inter_trial_ms / 1000.0)

    def image_trial(self, k: int, path: Path) -> None:
        from PIL import Image

        cfg = self.cfg
        with Image.open(path) as im:
            pixels = np.asarray(im.convert("RGB"))
        placement = _placement(cfg, (pixels.shape[1], pixels.shape[0]))
        if hasattr(self.tracker, "set_stimulus"):
            self.tracker.set_stimulus(pixels, placement)
        left, top, right, bottom = placement.screen_rect_px
        self._begin_trial(k)
        self.display.image(path, placement)
        if k == 1:
            self.display.screenshot("trial-1")
        rel = self._stimulus_copy(path)
        imgload = (
            f"!V IMGLOAD CENTER {rel} {(left + right) / 2:.0f} {(top + bottom) / 2:.0f} "
            f"{right - left:.0f} {bottom - top:.0f}"
        )
        iarea = f"!V IAREA RECTANGLE 1 {left:.0f} {top:.0f} {right:.0f} {bottom:.0f} image"
        self.display.flip(on_flip=lambda: (self.msg(imgload), self.msg("STIMULUS_ONSET")))
        self.msg(iarea)
        onset = self.tracker.tracker_time_ms()
        self.pump(cfg.timing.stimulus_ms / 1000.0)
        self.display.flip(on_flip=lambda: self.msg("STIMULUS_OFFSET"))
        offset = self.tracker.tracker_time_ms()
        self._end_trial(k, path, placement, onset, offset)

    def video_trial(self, k: int, path: Path) -> None:
        """One video trial: cross, the frames at the video's rate with a VFRAME message each, blank."""
        from gazelab.acquisition.video import VideoReader, probe_video

        cfg = self.cfg
        info = probe_video(path)
        placement = _placement(cfg, (info.width_px, info.height_px))
        left, top = placement.screen_rect_px[:2]
        period_ms = 1000.0 / info.fps
        show_ms = min(info.duration_ms, cfg.timing.stimulus_ms)
        n_show = max(1, min(info.n_frames, int(np.ceil(show_ms / period_ms - 1e-9))))
        # a display that waits for the vertical blank is asked half a refresh early
        lead_ms = 500.0 / self.cfg.refresh_hz if getattr(self.display, "waits_for_blank", False) else 0.0
        follow = hasattr(self.tracker, "set_stimulus")
        with VideoReader(path) as video:
            frame = video.read()
            if frame is None:
                raise GazelabError(f"{path}: the video has no readable frame")
            if follow:
                self.tracker.set_stimulus(frame, placement)
            self._begin_trial(k)
            shown = skipped = 0
            first_ms = onset = 0.0
            followed = 0
            index = 0  # the frame held in ``frame`` (0-based)
            while True:
                self.display.video_frame(frame, placement)
                if shown == 0:  # before the onset flip, so the pacing is not disturbed
                    self.display.screenshot(f"trial-{k}" if k == 1 else f"video-{k}")
                vframe = f"!V VFRAME {index + 1} {left:.0f} {top:.0f} {path.name}"
                if shown == 0:
                    self.display.flip(on_flip=lambda m=vframe: (self.msg(m), self.msg("STIMULUS_ONSET")))
                    first_ms = host_time_ms()
                    onset = self.tracker.tracker_time_ms()
                else:
                    self.display.flip(on_flip=lambda m=vframe: self.msg(m))
                shown += 1
                if follow and (index * period_ms) // FOLLOW_VIDEO_MS > followed:
                    followed = int((index * period_ms) // FOLLOW_VIDEO_MS)
                    self.tracker.set_stimulus(frame, placement, keep_fixation=True)
                nxt = index + 1
                if nxt >= n_show:
                    break
                self.pump_until(first_ms + nxt * period_ms - lead_ms)
                # late (a slow flip or decode): skip to the frame that is due now
                due = int((host_time_ms() + lead_ms - first_ms) / period_ms)
                if due >= n_show:
                    skipped += n_show - nxt
                    break
                if due > nxt:
                    if not video.skip(due - nxt):
                        break
                    skipped += due - nxt
                    nxt = due
                got = video.read()
                if got is None:  # the container stated more frames than it holds
                    break
                frame, index = got, nxt
            self.pump_until(first_ms + min(show_ms, (index + 1) * period_ms) - lead_ms)
            self.display.flip(on_flip=lambda: self.msg("STIMULUS_OFFSET"))
            offset = self.tracker.tracker_time_ms()
        self._end_trial(
            k,
            path,
            placement,
            onset,
            offset,
            trial_vars={"video_fps": f"{info.fps:g}", "video_frames": info.n_frames, "frames_shown": shown},
            video={"fps": round(info.fps, 6), "frames_shown": shown, "frames_skipped": skipped},
        )

    def _stimulus_copy(self, path: Path) -> str:
        """The stimulus copied into the session's ``stimuli/`` folder; its path relative to the EDF's folder."""
        from gazelab._io import safe_name

        name = safe_name(path.name)
        target = self.writer.folder / "stimuli" / name
        if not target.exists():
            target.parent.mkdir(exist_ok=True)
            shutil.copyfile(path, target)
        return f"stimuli/{name}"

    def _log(self, row: dict[str, Any]) -> None:
        new = not self.trial_log.exists()
        buf = io.StringIO()
        w = csv.DictWriter(buf, fieldnames=list(row))
        if new:
            w.writeheader()
        w.writerow(row)
        with self.trial_log.open("a", encoding="utf-8") as fh:  # one row at a time: a crash keeps the rows so far
            fh.write(buf.getvalue())
            fh.flush()


def _save_tracker_data(
    trk: Tracker, writer: SessionWriter, folder: Path, echo: Callable[[str], None], *, aborting: bool
) -> None:
    """Stop recording and keep the tracker's last samples and data file (after a failure: best effort)."""
    try:
        trk.stop_recording()
        _drain(trk, writer)
        writer.update_metadata(**_tracker_metadata(trk))
        data_file = trk.fetch_data_file(folder)
        if data_file is not None:
            writer.update_metadata(tracker_data_file=data_file.name)
            if data_file.suffix.lower() == ".edf":
                _convert(data_file, writer, echo)
    except Exception as exc:
        if not aborting:
            raise
        echo(f"while ending the aborted session: {type(exc).__name__}: {exc}")  # the first error is the one raised


def _install_sigterm() -> Any:
    """Make SIGTERM end the session like Ctrl-C (main thread only); return the previous handler."""
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return None
    return signal.signal(signal.SIGTERM, _on_sigterm)


def _restore_sigterm(previous: Any) -> None:
    import signal

    if previous is not None:
        signal.signal(signal.SIGTERM, previous)


def run_session(
    config: ExperimentConfig,
    participant: str,
    session: str | int = 1,
    *,
    tracker: str | Tracker | None = None,
    out: str | Path | None = None,
    resume: bool = False,
    display: Any = None,
    fullscr: bool = True,
    screenshot_dir: str | Path | None = None,
    echo: Callable[[str], None] = print,
    unattended: bool = False,
) -> Path:
    """Run one participant's session and return its folder.

    Parameters
    ----------
    config : ExperimentConfig
        The experiment (see :func:`gazelab.acquisition.load_config`).
    participant : str
        Participant id (letters and digits).
    session : str or int, optional
        Session number/label (default 1).
    tracker : str or Tracker, optional
        Backend name or a ready tracker; default the config's.
    out : path, optional
        Output root; default the config's ``output``.
    resume : bool, optional
        Continue an existing session folder instead of refusing it.
    display : object, optional
        A display (default a new :class:`~gazelab.acquisition.display.PsychoPyDisplay`).
    fullscr : bool, optional
        Full-screen window (default True).
    screenshot_dir : path, optional
        Save screenshots of the calibration, validation and first trial screens here.
    echo : callable, optional
        Where progress lines go.
    unattended : bool, optional
        With the simulated tracker only: every key wait is answered after 0.5 s as an operator
        would (SPACE to go on, S to accept a validation that did not pass), so a session runs to
        the end with nobody at the keyboard (``make session`` under Xvfb).

    Returns
    -------
    Path
        The session folder (``status`` in its session.json: complete or aborted).
    """
    session = str(session)
    folder = session_dir(out or config.output, participant, session)
    trk = _session_tracker(config, tracker, participant, session, unattended)
    order, meta = _plan(config, participant, session, trk)
    writer = _open_session(folder, config, trk, meta, resume)
    own_display = display is None
    run: _Session | None = None
    status, reason = "complete", None
    previous_term = _install_sigterm()
    try:
        if own_display:  # inside the try: a window that fails to open ends the session honestly
            from gazelab.acquisition.display import PsychoPyDisplay

            display = PsychoPyDisplay(config.geometry, fullscr=fullscr, screenshot_dir=screenshot_dir)
        run = _Session(config, trk, writer, display, echo)
        run.unattended = unattended
        run.present(order)
    except _Abort:
        status, reason = "aborted", "Escape pressed"
        echo("Escape: session ended early; everything so far is saved")
    except BaseException as exc:  # Ctrl-C, SIGTERM, a failed start, any error: saved and marked aborted
        status, reason = "aborted", _abort_reason(exc)
        raise
    finally:
        _restore_sigterm(previous_term)
        done = run.trials_done if run is not None else 0
        _end_session(trk, writer, echo, display if own_display else None, status, reason, (done, len(order)))
    echo(f"session saved in {folder} ({status}, {writer.n_samples} samples)")
    return folder


def _session_tracker(
    config: ExperimentConfig, tracker: str | Tracker | None, participant: str, session: str, unattended: bool
) -> Tracker:
    """The tracker given, or the one named (default the config's); unattended runs take the simulated one only."""
    trk = (
        tracker
        if isinstance(tracker, Tracker)
        else make_tracker(tracker or config.tracker.backend, config, participant, session)
    )
    if unattended and trk.name != "simulated":
        raise ParameterError("unattended", unattended, f"the simulated tracker (not {trk.name!r}): a person is there")
    return trk


def _plan(config: ExperimentConfig, participant: str, session: str, trk: Tracker) -> tuple[list[Path], dict[str, Any]]:
    """The stimulus order (shuffled with a recorded seed when the config asks) and the session's metadata."""
    seed = config.seed if config.seed is not None else secrets.randbelow(2**31)
    order = list(config.stimuli)
    if config.order == "random":
        order = [order[i] for i in np.random.default_rng(seed).permutation(len(order))]
    g = config.geometry
    meta = {
        "participant": participant,
        "session": session,
        "experiment": config.name,
        "tracker": trk.name,
        "sampling_rate_hz": trk.sampling_rate_hz,
        "order_seed": seed,
        "order": [p.name for p in order],
        "screen": {
            "width_px": g.width_px,
            "height_px": g.height_px,
            "width_cm": g.width_cm,
            "height_cm": g.height_cm,
            "distance_cm": g.distance_cm,
            "refresh_hz": config.refresh_hz,
        },
    }
    return order, meta


def _open_session(
    folder: Path, config: ExperimentConfig, trk: Tracker, meta: dict[str, Any], resume: bool
) -> SessionWriter:
    """Connect the tracker, then create (or resume) the session folder with the config in it."""
    trk.connect()  # before the folder exists: a Host that does not answer leaves nothing behind
    meta.update(sampling_rate_hz=trk.sampling_rate_hz, **_tracker_metadata(trk))
    try:
        writer = SessionWriter(folder, meta, eyes=trk.eyes, resume=resume)
    except BaseException:
        trk.close()
        raise
    writer.write_json("config.json", config.to_dict())
    if config.source is not None and config.source.is_file():
        shutil.copyfile(config.source, folder / "config.yaml")
    return writer


def _end_session(
    trk: Tracker,
    writer: SessionWriter,
    echo: Callable[[str], None],
    own_display: Any,
    status: str,
    reason: str | None,
    trials: tuple[int, int],
) -> None:
    """Record how far the session got, keep the tracker's data, close the files, the tracker and our window."""
    try:
        writer.update_metadata(trials_done=trials[0], trials_planned=trials[1])
        if reason is not None:
            writer.update_metadata(abort_reason=reason)
        _save_tracker_data(trk, writer, writer.folder, echo, aborting=status != "complete")
    finally:
        writer.close(status)
        trk.close()
        if own_display is not None:
            own_display.close()
