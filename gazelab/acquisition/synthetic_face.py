"""A synthetic webcam: a rendered face whose eyes look at known screen positions.

For testing and measuring the webcam tracker without a camera or a participant. SYNTHETIC: the
face is a drawing (skin-toned ellipse, hair, eyebrows, nose, mouth, two almond-shaped eye
openings with sclera, iris, pupil and a corneal glint), not a photograph; accuracy measured on it
says how well the pipeline recovers a known eye rotation, not how it does on people.

Eye-rotation model. The participant sits ``geometry.distance_cm`` from the screen with the
midpoint of the eyes in front of the screen centre; the camera sits above the screen and sees
the face frontally and mirrored (the participant's right is the image's left, as an unflipped
webcam delivers it). Each eye (63 mm apart) turns to its own line of sight to the target: yaw
``atan((x_t - x_e) / d)`` and pitch ``atan((y_t - y_e) / d)`` (so the eyes also converge). The
iris centre then sits on a 12 mm eyeball at ``12 mm * (-sin(yaw), sin(pitch) cos(yaw))`` from the
eyeball centre (image px through the face scale) and is drawn as an ellipse foreshortened by
``cos(yaw)``, ``cos(pitch)``, clipped by the eyelids. Head motion (translation in image px,
roll in deg, scale) moves the face and the eye positions in space, so the angles follow.

Frames get a lighting gradient, Gaussian blur and Gaussian noise. Positions are drawn with
sub-pixel precision (OpenCV's ``shift`` and anti-aliasing), since one degree of gaze moves the
iris by only about 0.2-0.3 image px at webcam resolutions.

cv2 is imported at call time (hardware libraries stay inside acquisition, at call time).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from gazelab.errors import GazelabError, ParameterError
from gazelab.geometry import Geometry

__all__ = [
    "TRUTH_COLUMNS",
    "HeadPose",
    "SyntheticCamera",
    "SyntheticFace",
    "gaze_schedule",
    "write_sequence",
]

EYEBALL_MM = 12.0
IRIS_MM = 6.0
PUPIL_MM = 2.5
IOD_MM = 63.0
FACE_WIDTH_MM = 140.0
_SHIFT = 4  # cv2 drawing: coordinates in 1/16 px
_ONE = 1 << _SHIFT

#: Columns of the ground-truth CSV written next to a synthetic video.
TRUTH_COLUMNS = (
    "frame",
    "time_ms",
    "phase",
    "target_index",
    "settled",
    "target_x_px",
    "target_y_px",
    "head_dx_px",
    "head_dy_px",
    "roll_deg",
    "scale",
    "iris_left_x_px",
    "iris_left_y_px",
    "iris_right_x_px",
    "iris_right_y_px",
)


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise GazelabError(
            "the synthetic webcam needs OpenCV 4: pip install 'opencv-python-headless>=4.10,<5' (the webcam extra)"
        ) from None
    return cv2


@dataclass(frozen=True)
class HeadPose:
    """Head pose relative to the reference (face centred, upright).

    Attributes
    ----------
    dx_px, dy_px : float
        Translation of the face in the image, image px.
    roll_deg : float
        In-plane rotation, deg (positive: counter-clockwise in the image).
    scale : float
        Size relative to the reference (>1: closer to the camera).
    """

    dx_px: float = 0.0
    dy_px: float = 0.0
    roll_deg: float = 0.0
    scale: float = 1.0


def _pt(x: float, y: float) -> tuple[int, int]:
    return int(round(x * _ONE)), int(round(y * _ONE))


class SyntheticFace:
    """Renders frames of a face looking at given screen positions.

    Parameters
    ----------
    geometry : Geometry
        The screen the (synthetic) participant looks at.
    frame_size_px : (int, int), optional
        Width and height of the camera image, image px (default 640 x 480).
    face_width_px : float, optional
        Face width at the reference pose, image px (default 0.31 of the frame width).
    noise : float, optional
        SD of the Gaussian sensor noise, grey levels of 255 (default 3).
    blur_px : float, optional
        SD of the Gaussian blur, image px (default 0.7; 0 for none).
    lighting : float, optional
        Strength of a left-to-right lighting gradient, fraction (default 0.15).
    seed : int, optional
        Seed of the noise (default 0).

    Raises
    ------
    ParameterError
        For a frame smaller than 160 x 120 px or a face that does not fit in it.
    """

    def __init__(
        self,
        geometry: Geometry,
        *,
        frame_size_px: tuple[int, int] = (640, 480),
        face_width_px: float | None = None,
        noise: float = 3.0,
        blur_px: float = 0.7,
        lighting: float = 0.15,
        seed: int = 0,
    ) -> None:
        w, h = (int(v) for v in frame_size_px)
        if w < 160 or h < 120:
            raise ParameterError("frame_size_px", frame_size_px, "at least 160 x 120 image px")
        fw = float(face_width_px) if face_width_px is not None else 0.31 * w
        if not 40 <= fw <= 0.6 * w or fw * 1.45 > h:
            raise ParameterError(
                "face_width_px", face_width_px, f"40 to {0.6 * w:.0f} image px (and fitting the height)"
            )
        if noise < 0 or blur_px < 0:
            raise ParameterError("noise/blur_px", (noise, blur_px), "values >= 0")
        self.geometry = geometry
        self.frame_size_px = (w, h)
        self.face_width_px = fw
        self.px_per_mm = fw / FACE_WIDTH_MM
        self.noise = float(noise)
        self.blur_px = float(blur_px)
        self.lighting = float(lighting)
        self.rng = np.random.default_rng(seed)
        self.centre_px = (w / 2.0, h * 0.47)
        self._layers: tuple[np.ndarray, np.ndarray] | None = None
        xx = np.linspace(-1.0, 1.0, w, dtype=np.float32)
        self._light = (1.0 + self.lighting * xx)[None, :, None]

    # -- the static face ----------------------------------------------------------------------
    def _eye_centres_ref(self) -> list[tuple[float, float]]:
        """Eye (eyeball) centres at the reference pose, image px: image-left first (participant's right)."""
        cx, cy = self.centre_px
        s = self.px_per_mm
        return [(cx - IOD_MM / 2 * s, cy - 12 * s), (cx + IOD_MM / 2 * s, cy - 12 * s)]

    def _static_layers(self) -> tuple[np.ndarray, np.ndarray]:
        if self._layers is not None:
            return self._layers
        cv2 = _cv2()
        w, h = self.frame_size_px
        s = self.px_per_mm
        cx, cy = self.centre_px
        yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
        bg = 95 + 40 * (yy / h)[..., None] + np.zeros((1, 1, 3), np.float32)
        bg += np.random.default_rng(1).normal(0, 6, (h // 8 + 1, w // 8 + 1, 1)).repeat(8, 0).repeat(8, 1)[:h, :w]
        img = bg.astype(np.float32)
        aa = cv2.LINE_AA

        def ell(c, axes, colour, thick=-1, angle=0.0, a0=0, a1=360):
            cv2.ellipse(img, _pt(*c), _pt(*axes), angle, a0, a1, colour, thick, aa, _SHIFT)

        # hair, neck, face with shading
        ell((cx, cy - 30 * s), (80 * s, 78 * s), (30, 35, 45))
        cv2.rectangle(img, _pt(cx - 32 * s, cy + 60 * s), _pt(cx + 32 * s, h + 5), (105, 135, 185), -1, aa, _SHIFT)
        face = np.zeros((h, w), np.float32)
        cv2.ellipse(face, _pt(cx, cy + 5 * s), _pt(70 * s, 92 * s), 0, 0, 360, 1.0, -1, aa, _SHIFT)
        r2 = ((xx - cx) / (70 * s)) ** 2 + ((yy - cy - 5 * s) / (92 * s)) ** 2
        shade = (1.0 - 0.25 * np.clip(r2, 0, 1) ** 2)[..., None]
        skin = np.array([125, 155, 205], np.float32) * shade
        img = img * (1 - face[..., None]) + skin * face[..., None]
        # hairline over the forehead
        ell((cx, cy - 78 * s), (66 * s, 22 * s), (30, 35, 45))
        # eyebrows
        for side in (-1, 1):
            ex = cx + side * IOD_MM / 2 * s
            ell((ex, cy - 25 * s), (19 * s, 7 * s), (40, 45, 60), max(2, int(round(4.5 * s))), 0, 200, 340)
        # nose and mouth
        cv2.line(img, _pt(cx - 2 * s, cy - 8 * s), _pt(cx - 5 * s, cy + 20 * s), (95, 120, 165), 2, aa, _SHIFT)
        for side in (-1, 1):
            ell((cx + side * 6 * s, cy + 24 * s), (3.5 * s, 2.2 * s), (60, 70, 100))
        ell((cx, cy + 48 * s), (22 * s, 6.5 * s), (70, 70, 150))
        cv2.line(img, _pt(cx - 21 * s, cy + 48 * s), _pt(cx + 21 * s, cy + 48 * s), (40, 40, 90), 2, aa, _SHIFT)
        # eye openings: white sclera inside almond-shaped lids, lid lines on top
        mask = np.zeros((h, w), np.float32)
        for ex, ey in self._eye_centres_ref():
            cv2.ellipse(mask, _pt(ex, ey), _pt(15 * s, 6.5 * s), 0, 0, 360, 1.0, -1, aa, _SHIFT)
        img = img * (1 - mask[..., None]) + np.array([225, 228, 232], np.float32) * mask[..., None]
        for ex, ey in self._eye_centres_ref():
            ell((ex, ey), (15 * s, 6.5 * s), (35, 40, 55), max(1, int(round(1.6 * s))), 0, 180, 360)  # upper lid
            ell((ex, ey), (15 * s, 6.5 * s), (80, 95, 130), 1, 0, 0, 180)  # lower lid
        inner = cv2.erode((mask > 0.5).astype(np.uint8), np.ones((3, 3), np.uint8)).astype(np.float32)
        self._layers = (img, cv2.GaussianBlur(inner, (3, 3), 0.7))
        return self._layers

    # -- the eyes -------------------------------------------------------------------------------
    def _affine(self, pose: HeadPose) -> np.ndarray:
        cv2 = _cv2()
        m = cv2.getRotationMatrix2D(self.centre_px, pose.roll_deg, pose.scale)
        m[:, 2] += (pose.dx_px, pose.dy_px)
        return m

    def iris_centres(self, target_x_px: float, target_y_px: float, pose: HeadPose = HeadPose()) -> np.ndarray:
        """Where the iris centres appear for a gaze target and head pose.

        Parameters
        ----------
        target_x_px, target_y_px : float
            Gaze target, screen px.
        pose : HeadPose, optional

        Returns
        -------
        ndarray, shape (2, 4)
            Per eye (image-left first): iris centre x, y (image px), yaw and pitch (rad).
        """
        m = self._affine(pose)
        g = self.geometry
        cmx, cmy = g.cm_per_px
        tx_mm = (target_x_px - g.width_px / 2) * cmx * 10
        ty_mm = (target_y_px - g.height_px / 2) * cmy * 10
        d_mm = g.distance_cm * 10
        s_img = self.px_per_mm * pose.scale  # image px per mm at this pose
        head_mm = (-pose.dx_px / self.px_per_mm, pose.dy_px / self.px_per_mm)  # mirrored x
        out = np.empty((2, 4))
        for k, (ex, ey) in enumerate(self._eye_centres_ref()):
            ix, iy = m @ np.array([ex, ey, 1.0])
            side = 1.0 if k == 0 else -1.0  # image-left eye is the participant's right eye
            eye_x_mm = head_mm[0] + side * IOD_MM / 2
            eye_y_mm = head_mm[1]
            yaw = math.atan2(tx_mm - eye_x_mm, d_mm)
            pitch = math.atan2(ty_mm - eye_y_mm, d_mm)
            out[k] = (
                ix - EYEBALL_MM * s_img * math.sin(yaw),
                iy + EYEBALL_MM * s_img * math.sin(pitch) * math.cos(yaw),
                yaw,
                pitch,
            )
        return out

    def render(
        self, target_x_px: float, target_y_px: float, pose: HeadPose = HeadPose()
    ) -> tuple[np.ndarray, np.ndarray]:
        """One camera frame (BGR uint8) of the face looking at a screen position.

        Parameters
        ----------
        target_x_px, target_y_px : float
            Gaze target, screen px.
        pose : HeadPose, optional
            Head pose (default the reference).

        Returns
        -------
        frame : ndarray, (height, width, 3) uint8
        iris : ndarray, (2, 4)
            :meth:`iris_centres` for this frame.
        """
        cv2 = _cv2()
        w, h = self.frame_size_px
        base, mask = self._static_layers()
        m = self._affine(pose)
        face = cv2.warpAffine(base, m, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REFLECT)
        inside = cv2.warpAffine(mask, m, (w, h), flags=cv2.INTER_LINEAR)
        eyes = face.copy()
        iris = self.iris_centres(target_x_px, target_y_px, pose)
        s = self.px_per_mm * pose.scale
        aa = cv2.LINE_AA
        centres = [m @ np.array([ex, ey, 1.0]) for ex, ey in self._eye_centres_ref()]
        for (ix, iy, yaw, pitch), (cx, cy) in zip(iris, centres, strict=True):
            axes = (IRIS_MM * s * math.cos(yaw), IRIS_MM * s * math.cos(pitch))
            cv2.ellipse(eyes, _pt(ix, iy), _pt(*axes), -pose.roll_deg, 0, 360, (45, 70, 95), -1, aa, _SHIFT)
            paxes = (PUPIL_MM * s * math.cos(yaw), PUPIL_MM * s * math.cos(pitch))
            cv2.ellipse(eyes, _pt(ix, iy), _pt(*paxes), -pose.roll_deg, 0, 360, (12, 12, 14), -1, aa, _SHIFT)
            # corneal glint: a light source above the screen, moves with the eyeball less than the iris
            gx = cx + 0.4 * (ix - cx) - 1.6 * s
            gy = cy + 0.4 * (iy - cy) - 1.8 * s
            cv2.circle(eyes, _pt(gx, gy), max(_ONE, int(0.9 * s * _ONE)), (245, 245, 245), -1, aa, _SHIFT)
        img = face * (1 - inside[..., None]) + eyes * inside[..., None]
        img = img * self._light
        if self.blur_px > 0:
            img = cv2.GaussianBlur(img, (0, 0), self.blur_px)
        if self.noise > 0:
            img = img + self.rng.normal(0.0, self.noise, img.shape).astype(np.float32)
        return np.clip(img + 0.5, 0, 255).astype(np.uint8), iris


def gaze_schedule(
    targets_px: Sequence[tuple[float, float]],
    *,
    fps: float = 30.0,
    dwell_ms: float = 1000.0,
    settle_ms: float = 250.0,
    phase: str = "calibration",
) -> list[dict[str, Any]]:
    """Per-frame gaze for a participant who looks at each target in turn.

    The eye jumps to each target within one frame (a saccade lasts 30-60 ms, about one frame
    at webcam rates); frames from ``settle_ms`` after the jump are marked ``settled``
    (the runner's own wait before collecting is 250 ms).

    Parameters
    ----------
    targets_px : sequence of (x, y)
        Targets, screen px.
    fps : float, optional
        Frame rate, Hz (default 30).
    dwell_ms : float, optional
        Time on each target, ms (default 1000).
    settle_ms : float, optional
        Frames earlier than this after the jump are not ``settled``, ms (default 250).
    phase : str, optional
        Label (``calibration``, ``validation``...).

    Returns
    -------
    list of dict
        ``phase``, ``target_index``, ``settled``, ``target_x_px``, ``target_y_px`` per frame.
    """
    if not fps > 0 or not dwell_ms > 0:
        raise ParameterError("fps/dwell_ms", (fps, dwell_ms), "values > 0 (Hz, ms)")
    n = max(1, int(round(dwell_ms * fps / 1000.0)))
    rows = []
    for i, (x, y) in enumerate(targets_px):
        for k in range(n):
            rows.append(
                {
                    "phase": phase,
                    "target_index": i,
                    "settled": int(k * 1000.0 / fps >= settle_ms),
                    "target_x_px": float(x),
                    "target_y_px": float(y),
                }
            )
    return rows


def write_sequence(
    path: str | Path,
    face: SyntheticFace,
    schedule: Sequence[dict[str, Any]],
    *,
    fps: float = 30.0,
    head_motion_px: float = 0.0,
    head_roll_deg: float = 0.0,
    skip_frames: Sequence[int] = (),
    fourcc: str = "MJPG",
) -> Path:
    """Render a schedule to a video file plus a CSV of the ground truth per frame.

    Parameters
    ----------
    path : str or Path
        The video (``.avi`` with MJPG, the default, or ``.mp4`` with ``fourcc='mp4v'``).
    face : SyntheticFace
    schedule : sequence of dict
        Per-frame gaze (see :func:`gaze_schedule`).
    fps : float, optional
        Frame rate written into the file, Hz (default 30).
    head_motion_px : float, optional
        Amplitude of a slow head translation (two sinusoids, 0.13 and 0.21 Hz), image px (default 0).
    head_roll_deg : float, optional
        Amplitude of a slow head roll (0.17 Hz), deg (default 0).
    skip_frames : sequence of int, optional
        Frames of the schedule to leave out of the file (simulating frames a camera dropped).
        They are left out of the CSV too, whose ``frame`` and ``time_ms`` keep the schedule's
        numbering, so the gaps show there.
    fourcc : str, optional
        Codec (default MJPG).

    Returns
    -------
    Path
        The CSV (``<video>.csv``) with :data:`TRUTH_COLUMNS`.

    Raises
    ------
    GazelabError
        If OpenCV cannot write the file.
    """
    cv2 = _cv2()
    path = Path(path)
    w, h = face.frame_size_px
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), float(fps), (w, h))
    if not writer.isOpened():
        raise GazelabError(f"{path}: OpenCV cannot write a {fourcc} video here; expected a writable .avi or .mp4 path")
    skip = set(int(k) for k in skip_frames)
    csv_path = path.with_suffix(path.suffix + ".csv")
    try:
        with csv_path.open("w", newline="", encoding="utf-8") as fh:
            out = csv.writer(fh)
            out.writerow(TRUTH_COLUMNS)
            for k, row in enumerate(schedule):
                if k in skip:
                    continue
                pose = _head_pose(k / fps, head_motion_px, head_roll_deg)
                frame, iris = face.render(row["target_x_px"], row["target_y_px"], pose)
                writer.write(frame)
                out.writerow(_truth_row(k, k / fps, row, pose, iris))
    finally:
        writer.release()
    return csv_path


def _head_pose(t_s: float, motion_px: float, roll_deg: float) -> HeadPose:
    """The slow head motion at ``t_s`` s: translation (0.13 and 0.21 Hz sinusoids, px) and roll (0.17 Hz, deg)."""
    return HeadPose(
        dx_px=motion_px * math.sin(2 * math.pi * 0.13 * t_s),
        dy_px=0.6 * motion_px * math.sin(2 * math.pi * 0.21 * t_s + 1.0),
        roll_deg=roll_deg * math.sin(2 * math.pi * 0.17 * t_s),
    )


def _truth_row(k: int, t_s: float, row: dict[str, Any], pose: HeadPose, iris: np.ndarray) -> list[Any]:
    """Frame ``k``'s line of the ground-truth CSV (:data:`TRUTH_COLUMNS`)."""
    return [
        k,
        round(1000.0 * t_s, 3),
        row["phase"],
        row["target_index"],
        row["settled"],
        row["target_x_px"],
        row["target_y_px"],
        round(pose.dx_px, 4),
        round(pose.dy_px, 4),
        round(pose.roll_deg, 4),
        pose.scale,
        *(round(float(v), 4) for v in iris[:, :2].ravel()),
    ]


class SyntheticCamera:
    """A live synthetic webcam: a capture-like object whose face looks where it is told.

    It answers the part of ``cv2.VideoCapture`` the webcam tracker uses (``isOpened``,
    ``read``, ``get``, ``release``) and paces frames at ``fps`` in real time like a camera.
    A test (playing the participant) calls :meth:`look_at` before asking the tracker for
    calibration samples at that target.

    Parameters
    ----------
    face : SyntheticFace
    fps : float, optional
        Frame rate, Hz (default 30).
    """

    def __init__(self, face: SyntheticFace, *, fps: float = 30.0) -> None:
        if not fps > 0:
            raise ParameterError("fps", fps, "a rate > 0 (Hz)")
        self.face = face
        self.fps = float(fps)
        g = face.geometry
        self.target_px = (g.width_px / 2.0, g.height_px / 2.0)
        self.pose = HeadPose()
        self._open = True
        self._next: float | None = None

    def look_at(self, x_px: float, y_px: float) -> None:
        """Make the face look at a screen position (screen px) from the next frame on."""
        self.target_px = (float(x_px), float(y_px))

    def isOpened(self) -> bool:
        """Whether the camera is open (``cv2.VideoCapture``'s spelling)."""
        return self._open

    def get(self, prop: int) -> float:
        """``CAP_PROP_FPS`` (5), ``CAP_PROP_FRAME_WIDTH`` (3), ``CAP_PROP_FRAME_HEIGHT`` (4); else 0."""
        return {5: self.fps, 3: float(self.face.frame_size_px[0]), 4: float(self.face.frame_size_px[1])}.get(prop, 0.0)

    def set(self, prop: int, value: float) -> bool:
        """Settings are fixed; returns False as a camera that ignores them does."""
        return False

    def read(self) -> tuple[bool, np.ndarray | None]:
        """The next frame, after waiting for its time (``1/fps`` after the previous one)."""
        import time

        if not self._open:
            return False, None
        now = time.perf_counter()
        if self._next is None or self._next < now - 1.0 / self.fps:
            self._next = now
        if self._next > now:
            time.sleep(self._next - now)
        self._next += 1.0 / self.fps
        frame, _ = self.face.render(*self.target_px, self.pose)
        return True, frame

    def release(self) -> None:
        """Close the camera."""
        self._open = False
