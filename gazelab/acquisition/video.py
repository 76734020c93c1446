"""Video stimuli: decoded frame by frame with OpenCV, shown by the display one frame per flip.

PsychoPy's own ``MovieStim`` needs ffpyplayer, which gazelab does not install; OpenCV (the
``webcam`` extra, ``opencv-python-headless>=4.10,<5``) decodes every container and codec its
FFmpeg build knows (.mp4, .avi, .mov, .mkv). OpenCV is imported here only, when a video is
opened. Frames come out as RGB ``uint8`` arrays of the video's own size; the display scales them
to the trial's placement.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gazelab.errors import GazelabError, ParseError

__all__ = ["VIDEO_SUFFIXES", "VideoInfo", "VideoReader", "opencv", "probe_video"]

VIDEO_SUFFIXES = (".mp4", ".avi", ".mov", ".mkv")
INSTALL_HINT = "pip install 'opencv-python-headless>=4.10,<5' (the webcam extra)"


def opencv(needed_for: str = "video stimuli") -> Any:
    """The ``cv2`` module, or a :class:`GazelabError` saying how to install it."""
    try:
        import cv2
    except ImportError:
        raise GazelabError(f"{needed_for} need OpenCV, which is not installed: {INSTALL_HINT}") from None
    return cv2


@dataclass(frozen=True)
class VideoInfo:
    """What the runner needs to know about a video file."""

    path: Path
    width_px: int
    height_px: int
    fps: float
    n_frames: int

    @property
    def duration_ms(self) -> float:
        """Length of the video, ms (frames / frame rate)."""
        return self.n_frames * 1000.0 / self.fps


def probe_video(path: str | Path) -> VideoInfo:
    """Open a video and read its size, frame rate and frame count.

    Raises
    ------
    ParseError
        The file cannot be decoded, or states no frame rate or frames.
    """
    cv2 = opencv()
    path = Path(path)
    cap = cv2.VideoCapture(str(path))
    try:
        if not cap.isOpened():
            raise ParseError(path, "cannot be decoded as a video by OpenCV (unknown container or codec?)")
        ok, frame = cap.read()
        if not ok or frame is None:
            raise ParseError(path, "video has no readable frame")
        fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
        n = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
    finally:
        cap.release()
    if not (np.isfinite(fps) and 0 < fps <= 1000):
        raise ParseError(path, f"video states no usable frame rate ({fps!r} frames/s)")
    if n <= 0:
        raise ParseError(path, "video states no frame count")
    return VideoInfo(path, int(frame.shape[1]), int(frame.shape[0]), fps, n)


class VideoReader:
    """Frames of one video in order, as RGB ``uint8`` arrays (``read``), or skipped (``skip``)."""

    def __init__(self, path: str | Path) -> None:
        self._cv2 = opencv()
        self.path = Path(path)
        self._cap = self._cv2.VideoCapture(str(self.path))
        if not self._cap.isOpened():
            raise ParseError(self.path, "cannot be decoded as a video by OpenCV")
        self.index = -1  # the frame last read or skipped

    def read(self) -> np.ndarray | None:
        """The next frame (RGB), or None at the end of the video."""
        ok, frame = self._cap.read()
        if not ok or frame is None:
            return None
        self.index += 1
        return self._cv2.cvtColor(frame, self._cv2.COLOR_BGR2RGB)

    def skip(self, n: int) -> bool:
        """Pass over ``n`` frames without converting them (False at the end of the video)."""
        for _ in range(n):
            if not self._cap.grab():
                return False
            self.index += 1
        return True

    def close(self) -> None:
        self._cap.release()

    def __enter__(self) -> VideoReader:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
