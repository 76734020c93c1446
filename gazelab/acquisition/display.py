"""The PsychoPy window: text, targets, fixation cross, images, video frames, keys and screenshots.

PsychoPy is imported here only, when a display is created (it needs an X display even to import
``visual``; on a headless machine run under ``xvfb-run``). All positions are screen px with the
origin at the top-left corner (gazelab's convention); this module converts to PsychoPy's ``pix``
units (origin at the centre, y up).

Both displays have the same interface; ``video_frame(frame, placement)`` draws one decoded video
frame (an RGB ``uint8`` array, :mod:`gazelab.acquisition.video`) where the placement says, and
``waits_for_blank`` says whether :meth:`flip` waits for the screen's vertical blank (the runner
then calls it half a refresh before a frame is due).
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from gazelab.errors import GazelabError
from gazelab.geometry import Geometry, Placement

__all__ = ["HeadlessDisplay", "PsychoPyDisplay"]


class PsychoPyDisplay:
    """A PsychoPy window on the experiment's screen.

    Parameters
    ----------
    geometry : Geometry
        The screen (its pixel size is the window size).
    fullscr : bool, optional
        Full screen (default True, as in the lab); tests use a window.
    screenshot_dir : path, optional
        Where :meth:`screenshot` saves PNGs (default: no screenshots).
    background : (r, g, b), optional
        Background colour in PsychoPy's -1..1 units (default mid grey).
    """

    def __init__(
        self,
        geometry: Geometry,
        *,
        fullscr: bool = True,
        screenshot_dir: str | Path | None = None,
        background: tuple[float, float, float] = (0.0, 0.0, 0.0),
    ) -> None:
        if not os.environ.get("DISPLAY") and os.name != "nt":
            raise GazelabError("no display: PsychoPy needs one (on a headless machine run under xvfb-run)")
        import logging as _pylogging

        from psychopy import core, event, logging, monitors, visual

        logging.console.setLevel(logging.ERROR)  # no dropped-frame chatter (e.g. under Xvfb there is no vsync)
        _pylogging.getLogger("psychopy").setLevel(_pylogging.ERROR)
        self._visual, self._event, self._core = visual, event, core
        self.geometry = geometry
        mon = monitors.Monitor("gazelab", width=geometry.width_cm, distance=geometry.distance_cm)
        mon.setSizePix((geometry.width_px, geometry.height_px))
        self.win = visual.Window(
            (geometry.width_px, geometry.height_px),
            units="pix",
            fullscr=fullscr,
            monitor=mon,
            color=background,
            allowGUI=False,
            waitBlanking=fullscr,
            checkTiming=False,
        )
        self.win.mouseVisible = False
        self.clock = core.Clock()
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self._text = visual.TextStim(self.win, text="", color=(1, 1, 1), height=28, wrapWidth=geometry.width_px * 0.8)
        self._target_outer = visual.Circle(self.win, radius=12, fillColor=(1, 1, 1), lineColor=None)
        self._target_inner = visual.Circle(self.win, radius=3, fillColor=(-1, -1, -1), lineColor=None)
        self._cross = visual.ShapeStim(self.win, vertices="cross", size=30, fillColor=(1, 1, 1), lineColor=None)
        self._video: Any = None  # one ImageStim reused for every video frame
        self.waits_for_blank = bool(self.win.waitBlanking)

    # -- coordinates -------------------------------------------------------------------------------
    def to_pix(self, x_px: float, y_px: float) -> tuple[float, float]:
        """Screen px (top-left origin) -> PsychoPy pix (centre origin, y up)."""
        return x_px - self.geometry.width_px / 2, self.geometry.height_px / 2 - y_px

    # -- drawing -------------------------------------------------------------------------------------
    def text(self, message: str) -> None:
        self._text.text = message
        self._text.draw()

    def target(self, x_px: float, y_px: float) -> None:
        pos = self.to_pix(x_px, y_px)
        self._target_outer.pos = pos
        self._target_inner.pos = pos
        self._target_outer.draw()
        self._target_inner.draw()

    def cross(self, x_px: float | None = None, y_px: float | None = None) -> None:
        cx, cy = self.geometry.center_px
        self._cross.pos = self.to_pix(cx if x_px is None else x_px, cy if y_px is None else y_px)
        self._cross.draw()

    def image(self, path: str | Path, placement: Placement) -> Any:
        """Draw an image where ``placement`` says (returns the ImageStim for reuse)."""
        left, top, right, bottom = placement.screen_rect_px
        stim = self._visual.ImageStim(
            self.win,
            image=str(path),
            units="pix",
            pos=self.to_pix((left + right) / 2, (top + bottom) / 2),
            size=(right - left, bottom - top),
        )
        stim.draw()
        return stim

    def video_frame(self, frame: np.ndarray, placement: Placement) -> Any:
        """Draw one video frame (RGB uint8, the video's own size) where ``placement`` says.

        One ImageStim serves every frame: its texture is replaced, so a frame costs one upload.
        """
        left, top, right, bottom = placement.screen_rect_px
        # PsychoPy takes float RGB in -1..1 with the first row at the bottom
        tex = np.flipud(np.asarray(frame, dtype=np.float32) / 127.5 - 1.0)
        if self._video is None:
            self._video = self._visual.ImageStim(self.win, image=tex, units="pix", colorSpace="rgb")
        else:
            self._video.image = tex
        self._video.pos = self.to_pix((left + right) / 2, (top + bottom) / 2)
        self._video.size = (right - left, bottom - top)
        self._video.draw()
        return self._video

    def flip(self, on_flip: Callable[[], Any] | None = None) -> float:
        """Show what was drawn; ``on_flip`` runs right after the flip (e.g. the onset message)."""
        if on_flip is not None:
            self.win.callOnFlip(on_flip)
        t = self.win.flip()  # None when not waiting for the blank
        return float(t) if t is not None else float(self._core.getTime())

    def screenshot(self, name: str) -> Path | None:
        """Save what is drawn (call before :meth:`flip`) as ``<screenshot_dir>/<name>.png``."""
        if self.screenshot_dir is None:
            return None
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.screenshot_dir / f"{name}.png"
        self.win.getMovieFrame(buffer="back")
        self.win.saveMovieFrames(str(path))
        self.win.movieFrames = []
        return path

    # -- keys -------------------------------------------------------------------------------------------
    def keys(self, allowed: Sequence[str] | None = None) -> list[str]:
        """Keys pressed since the last call."""
        return list(self._event.getKeys(keyList=list(allowed) if allowed else None))

    def wait_keys(self, allowed: Sequence[str], timeout_s: float | None = None) -> str | None:
        """Wait for one of ``allowed`` (None after ``timeout_s``)."""
        keys = self._event.waitKeys(maxWait=float("inf") if timeout_s is None else timeout_s, keyList=list(allowed))
        return keys[0] if keys else None

    def wait(self, seconds: float) -> None:
        self._core.wait(seconds, hogCPUperiod=0)

    def close(self) -> None:
        self.win.close()


class HeadlessDisplay:
    """A display without a window, for simulated sessions on machines with no screen (the demo).

    It draws what the runner asks for into an image of the screen's size (so screenshots work
    and show what a participant would have seen), flips instantly, and plays a scripted
    operator: every key wait is answered with the first of ``operator_keys`` that the runner
    allows (by default SPACE to go on, S to accept a validation that did not pass). The
    session's timing is real: :meth:`wait` sleeps.

    Parameters
    ----------
    geometry : Geometry
        The screen (its pixel size is the canvas size).
    screenshot_dir : path, optional
        Where :meth:`screenshot` saves PNGs (default: no screenshots).
    operator_keys : sequence of str, optional
        Keys the scripted operator presses, in order of preference (default ``('space', 's')``).
    """

    def __init__(
        self,
        geometry: Geometry,
        *,
        screenshot_dir: str | Path | None = None,
        operator_keys: Sequence[str] = ("space", "s"),
    ) -> None:
        from PIL import Image, ImageDraw

        self.geometry = geometry
        self.screenshot_dir = Path(screenshot_dir) if screenshot_dir else None
        self.operator_keys = tuple(operator_keys)
        self._Image = Image
        self._canvas = Image.new("RGB", (geometry.width_px, geometry.height_px), (128, 128, 128))
        self._draw = ImageDraw.Draw(self._canvas)
        self._t0 = time.perf_counter()
        self.waits_for_blank = False

    def _clear(self) -> None:
        self._canvas.paste((128, 128, 128), (0, 0, *self._canvas.size))

    def text(self, message: str) -> None:
        w, h = self._canvas.size
        self._draw.multiline_text((w * 0.1, h * 0.3), message, fill=(255, 255, 255), font_size=28, spacing=8)

    def target(self, x_px: float, y_px: float) -> None:
        self._draw.ellipse([x_px - 12, y_px - 12, x_px + 12, y_px + 12], fill=(255, 255, 255))
        self._draw.ellipse([x_px - 3, y_px - 3, x_px + 3, y_px + 3], fill=(0, 0, 0))

    def cross(self, x_px: float | None = None, y_px: float | None = None) -> None:
        cx, cy = self.geometry.center_px
        x, y = (cx if x_px is None else x_px), (cy if y_px is None else y_px)
        self._draw.rectangle([x - 15, y - 2, x + 15, y + 2], fill=(255, 255, 255))
        self._draw.rectangle([x - 2, y - 15, x + 2, y + 15], fill=(255, 255, 255))

    def image(self, path: str | Path, placement: Placement) -> Any:
        left, top, right, bottom = placement.screen_rect_px
        with self._Image.open(path) as im:
            tile = im.convert("RGB").resize((round(right - left), round(bottom - top)))
        self._canvas.paste(tile, (round(left), round(top)))
        return tile

    def video_frame(self, frame: np.ndarray, placement: Placement) -> Any:
        left, top, right, bottom = placement.screen_rect_px
        tile = self._Image.fromarray(np.asarray(frame, dtype=np.uint8))
        tile = tile.resize((round(right - left), round(bottom - top)))
        self._canvas.paste(tile, (round(left), round(top)))
        return tile

    def flip(self, on_flip: Callable[[], Any] | None = None) -> float:
        if on_flip is not None:
            on_flip()
        self._clear()
        return time.perf_counter() - self._t0

    def screenshot(self, name: str) -> Path | None:
        if self.screenshot_dir is None:
            return None
        self.screenshot_dir.mkdir(parents=True, exist_ok=True)
        path = self.screenshot_dir / f"{name}.png"
        self._canvas.save(path)
        return path

    def keys(self, allowed: Sequence[str] | None = None) -> list[str]:
        return []

    def wait_keys(self, allowed: Sequence[str], timeout_s: float | None = None) -> str | None:
        for key in self.operator_keys:
            if key in allowed:
                return key
        return None

    def wait(self, seconds: float) -> None:
        time.sleep(seconds)

    def close(self) -> None:
        self._canvas.close()
