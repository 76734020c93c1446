"""Webcam gaze features and their mapping to the screen (OpenCV only, no downloaded model).

Per frame (:class:`FeatureExtractor`):

1. **Face.** OpenCV's Haar frontal-face cascade (shipped in ``opencv-python(-headless)`` 4.x,
   ``cv2.data.haarcascades``). A full-frame search (on a copy at most 320 px wide) runs only
   when there is no face to follow or every ``redetect_every`` frames; otherwise the search is
   limited to the previous face box enlarged by 30 % and to sizes within 20 % of it, which is
   what keeps the pipeline above 30 frames/s on one core.
2. **Eyes.** At each full detection the Haar eye cascade, in the upper part of the face, places
   the two eyes relative to the face box (defaults from face proportions when it finds fewer
   than two); the eye regions then follow the face box.
3. **Eye anchor and pupil/iris centre** in each eye region, with sub-pixel precision:
   the *anchor* is the centroid of the eye opening (pixels that differ from the skin: the
   bright sclera and the dark iris alike, so it does not move with gaze); the *iris centre* is
   the darkness-weighted centroid of the darkest blob (found on a blurred copy) within about
   one iris radius. Their difference, divided by the distance between the two anchors, is the
   eye-in-head feature; it is averaged over the two eyes.
4. **Head pose**: the anchors' midpoint (fraction of the frame), their distance (fraction of the
   frame width: distance to the camera) and the roll of the line joining them (rad).

The mapping (:class:`GazeMapping`) is ridge regression on second-order polynomial terms of the
eye features plus linear head-pose terms, as WebGazer maps eye patches with ridge regression;
it is fitted on the frames of a 9- or 13-point calibration. :func:`accuracy_precision` reports
accuracy and precision in degrees on separate validation points through
:func:`gazelab.acquisition.calibration.validation_report`. :func:`evaluate_video` runs the whole
chain on a recorded video with a per-frame CSV of known targets (real or synthetic).

cv2 is imported at call time.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from gazelab.acquisition.calibration import ValidationReport, validation_report
from gazelab.errors import GazelabError, ParameterError
from gazelab.geometry import Geometry

__all__ = [
    "EyeObservation",
    "FeatureExtractor",
    "FrameFeatures",
    "GazeMapping",
    "VideoEvaluation",
    "accuracy_precision",
    "evaluate_video",
    "iris_centre",
    "read_frames",
]

#: Eye centres relative to the Haar face box when the eye cascade does not find both eyes
#: (fractions of the box width/height; from face proportions, checked on the synthetic face).
DEFAULT_EYES = ((0.31, 0.40), (0.69, 0.40))
#: Eye region size relative to the face box width: (width, height).
EYE_BOX = (0.30, 0.20)
#: Iris radius relative to the face width (6 mm of a 140 mm face).
IRIS_FRACTION = 6.0 / 140.0


def _cv2() -> Any:
    try:
        import cv2
    except ImportError:
        raise GazelabError(
            "the webcam tracker needs OpenCV 4: pip install 'opencv-python-headless>=4.10,<5' (the webcam extra)"
        ) from None
    if not hasattr(cv2, "CascadeClassifier"):
        raise GazelabError(
            f"OpenCV {cv2.__version__} has no Haar cascades (OpenCV 5 dropped them); expected opencv 4.x (<5)"
        )
    return cv2


@dataclass
class EyeObservation:
    """One eye in one frame.

    Attributes
    ----------
    found : bool
        Whether an iris was found.
    iris_px : (float, float)
        Iris/pupil centre, image px.
    anchor_px : (float, float)
        Centroid of the eye opening, image px.
    contrast : float
        Skin level minus iris level, fraction of 255 (0 when nothing dark was found).
    """

    found: bool = False
    iris_px: tuple[float, float] = (math.nan, math.nan)
    anchor_px: tuple[float, float] = (math.nan, math.nan)
    contrast: float = 0.0


@dataclass
class FrameFeatures:
    """What the extractor found in one frame.

    Attributes
    ----------
    face_px : (x, y, w, h) or None
        Face box, image px.
    detected : bool
        True when this frame ran a full-frame face search.
    eyes : list of EyeObservation
        Image-left eye first.
    vector : ndarray, shape (6,) or None
        ``[eye_x, eye_y, head_x, head_y, head_scale, roll_rad]`` (see the module text), None
        without a face and two eyes.
    quality : float
        0..1: eyes found and their iris contrast (the tracker multiplies in head-pose agreement).
    """

    face_px: tuple[float, float, float, float] | None = None
    detected: bool = False
    eyes: list[EyeObservation] = field(default_factory=list)
    vector: np.ndarray | None = None
    quality: float = 0.0


def iris_centre(eye_gray: np.ndarray, iris_radius_px: float) -> EyeObservation:
    """Iris centre and eye-opening centroid in an eye region.

    Parameters
    ----------
    eye_gray : ndarray, (h, w)
        Grey eye region (uint8 or float), image px.
    iris_radius_px : float
        Expected iris radius, image px.

    Returns
    -------
    EyeObservation
        Positions in the region's own px (add the region's corner for frame px).
    """
    cv2 = _cv2()
    g = np.asarray(eye_gray, dtype=np.float32)
    h, w = g.shape
    if h < 5 or w < 5 or not iris_radius_px > 0:
        return EyeObservation()
    skin = float(np.median(g))
    lo, hi = np.percentile(g, (1.0, 99.0))
    spread = float(hi - lo)
    if spread < 8.0:  # a flat region: no eye here
        return EyeObservation()
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    # the eye's row: where the sclera (brighter than the skin) is; the band around it keeps
    # eyebrows and lashes above and below out of the measurements
    bright = np.clip((g - skin - 0.1 * spread) / (0.15 * spread), 0.0, 1.0)
    sb = float(bright.sum())
    row = float((bright * yy).sum() / sb) if sb >= 3.0 else h / 2.0
    band = (np.abs(yy - row) <= 1.25 * iris_radius_px).astype(np.float32)
    # eye opening: pixels far from the skin level (bright sclera and dark iris both count)
    wo = np.clip((np.abs(g - skin) - 0.18 * spread) / (0.22 * spread), 0.0, 1.0) * band
    so = float(wo.sum())
    if so < 4.0:
        return EyeObservation()
    anchor = (float((wo * xx).sum() / so), float((wo * yy).sum() / so))
    # coarse iris: the darkest spot of a blurred copy, inside the band
    sigma = max(1.0, 0.6 * iris_radius_px)
    blurred = cv2.GaussianBlur(g, (0, 0), sigma)
    blurred[band == 0] = 255.0
    _, _, (mx, my), _ = cv2.minMaxLoc(blurred)
    # fine iris: darkness-weighted centroid within ~1.3 iris radii of the coarse spot
    dark_level = float(np.percentile(g[band > 0], 1.0))
    thr = dark_level + 0.5 * (skin - dark_level)
    if thr - dark_level < 4.0:
        return EyeObservation(anchor_px=anchor)
    r = 1.3 * iris_radius_px
    win = (((xx - mx) ** 2 + (yy - my) ** 2) <= r * r) * band
    wd = np.clip((thr - g) / (thr - dark_level), 0.0, 1.0) * win
    sd = float(wd.sum())
    if sd < 1.0:
        return EyeObservation(anchor_px=anchor)
    cx = float((wd * xx).sum() / sd)
    cy = float((wd * yy).sum() / sd)
    iris_level = float((g * wd).sum() / sd)
    return EyeObservation(True, (cx, cy), anchor, max(0.0, (skin - iris_level) / 255.0))


class FeatureExtractor:
    """Per-frame face, eye, iris and head-pose features from camera frames (stateful: it tracks).

    Parameters
    ----------
    redetect_every : int, optional
        Frames between full-frame face searches while a face is tracked (default 30).
    detect_width_px : int, optional
        Width of the downscaled copy used for full-frame searches, image px (default 320).
    """

    def __init__(self, *, redetect_every: int = 30, detect_width_px: int = 320) -> None:
        if isinstance(redetect_every, bool) or int(redetect_every) < 1:
            raise ParameterError("redetect_every", redetect_every, "a whole number of frames >= 1")
        if int(detect_width_px) < 80:
            raise ParameterError("detect_width_px", detect_width_px, "at least 80 image px")
        cv2 = _cv2()
        base = Path(cv2.data.haarcascades)
        self._face = cv2.CascadeClassifier(str(base / "haarcascade_frontalface_default.xml"))
        self._eye = cv2.CascadeClassifier(str(base / "haarcascade_eye.xml"))
        if self._face.empty() or self._eye.empty():
            raise GazelabError(f"OpenCV's Haar cascades are missing in {base}; expected opencv-python(-headless) 4.x")
        self.redetect_every = int(redetect_every)
        self.detect_width_px = int(detect_width_px)
        self.reset()

    def reset(self) -> None:
        """Forget the tracked face (the next frame runs a full search)."""
        self._box: np.ndarray | None = None  # smoothed face box x, y, w, h (image px)
        self._eyes_rel = np.array(DEFAULT_EYES, dtype=float)
        self._since = 0

    # -- face ------------------------------------------------------------------------------------
    def _full_search(self, gray: np.ndarray) -> np.ndarray | None:
        cv2 = _cv2()
        h, w = gray.shape
        f = min(1.0, self.detect_width_px / w)
        small = cv2.resize(gray, (int(w * f), int(h * f)), interpolation=cv2.INTER_AREA) if f < 1 else gray
        m = max(24, int(0.12 * small.shape[1]))
        faces = self._face.detectMultiScale(small, scaleFactor=1.1, minNeighbors=4, minSize=(m, m))
        if len(faces) == 0:
            return None
        x, y, bw, bh = max(faces, key=lambda r: r[2] * r[3])
        return np.array([x, y, bw, bh], dtype=float) / f

    def _tracked_search(self, gray: np.ndarray) -> np.ndarray | None:
        cv2 = _cv2()
        assert self._box is not None
        x, y, bw, bh = self._box
        h, w = gray.shape
        x0, y0 = int(max(0, x - 0.3 * bw)), int(max(0, y - 0.3 * bh))
        x1, y1 = int(min(w, x + 1.3 * bw)), int(min(h, y + 1.3 * bh))
        roi = gray[y0:y1, x0:x1]
        f = min(1.0, 80.0 / bw)  # search with the face about 80 px wide
        if f < 1:
            roi = cv2.resize(roi, (max(1, int(roi.shape[1] * f)), max(1, int(roi.shape[0] * f))), cv2.INTER_AREA)
        lo, hi = int(0.8 * bw * f), int(1.25 * bw * f) + 1
        faces = self._face.detectMultiScale(roi, scaleFactor=1.05, minNeighbors=3, minSize=(lo, lo), maxSize=(hi, hi))
        if len(faces) == 0:
            return None
        centre = np.array([x + bw / 2, y + bh / 2])
        best = min(
            faces, key=lambda r: np.hypot(*(np.array([r[0] + r[2] / 2, r[1] + r[3] / 2]) / f + (x0, y0) - centre))
        )
        fx, fy, fw, fh = (float(v) / f for v in best)
        return np.array([fx + x0, fy + y0, fw, fh])

    def _locate_eyes(self, gray: np.ndarray, box: np.ndarray) -> None:
        x, y, bw, bh = (int(round(v)) for v in box)
        top = gray[max(0, y + int(0.15 * bh)) : y + int(0.6 * bh), max(0, x) : x + bw]
        if top.size == 0:
            return
        m = max(8, int(0.14 * bw))
        eyes = self._eye.detectMultiScale(
            top, scaleFactor=1.1, minNeighbors=3, minSize=(m, m), maxSize=(bw // 2, bw // 2)
        )
        if len(eyes) < 2:
            return
        cand = sorted(eyes, key=lambda r: r[2] * r[3], reverse=True)[:4]
        centres = [((ex + ew / 2) / bw, (0.15 * bh + ey + eh / 2) / bh) for ex, ey, ew, eh in cand]
        left = [c for c in centres if c[0] < 0.5]
        right = [c for c in centres if c[0] >= 0.5]
        if not left or not right:
            return
        pair = np.array([min(left, key=lambda c: abs(c[0] - 0.31)), min(right, key=lambda c: abs(c[0] - 0.69))])
        if np.all(np.abs(pair - DEFAULT_EYES) < 0.12):  # plausible: keep it (smoothed)
            self._eyes_rel = 0.5 * self._eyes_rel + 0.5 * pair

    # -- one frame -----------------------------------------------------------------------------------
    def process(self, frame: np.ndarray) -> FrameFeatures:
        """Features of one frame.

        Parameters
        ----------
        frame : ndarray, (h, w, 3) BGR or (h, w) grey, uint8
            A camera frame, image px.

        Returns
        -------
        FrameFeatures
        """
        cv2 = _cv2()
        gray = cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY) if frame.ndim == 3 else frame
        detected = False
        box = None
        if self._box is not None and self._since < self.redetect_every:
            box = self._tracked_search(gray)
            self._since += 1
        if box is None:
            box = self._full_search(gray)
            detected = True
            self._since = 0
            if box is not None:
                self._locate_eyes(gray, box)
        if box is None:
            self._box = None
            return FrameFeatures(detected=detected)
        if self._box is None or abs(box[2] / self._box[2] - 1) > 0.2:
            self._box = box
        else:  # smooth the box: it only places the eye regions, the features are measured inside them
            self._box = 0.6 * self._box + 0.4 * box
        x, y, bw, bh = self._box
        r_iris = IRIS_FRACTION * bw
        eyes = []
        h, w = gray.shape
        for rx, ry in self._eyes_rel:
            ex, ey = x + rx * bw, y + ry * bh
            ew, eh = EYE_BOX[0] * bw, EYE_BOX[1] * bw
            x0, y0 = int(max(0, ex - ew / 2)), int(max(0, ey - eh / 2))
            x1, y1 = int(min(w, ex + ew / 2)), int(min(h, ey + eh / 2))
            obs = iris_centre(gray[y0:y1, x0:x1], r_iris)
            obs.iris_px = (obs.iris_px[0] + x0, obs.iris_px[1] + y0)
            obs.anchor_px = (obs.anchor_px[0] + x0, obs.anchor_px[1] + y0)
            eyes.append(obs)
        feats = FrameFeatures(face_px=(float(x), float(y), float(bw), float(bh)), detected=detected, eyes=eyes)
        if all(e.found for e in eyes):
            a = np.array([e.anchor_px for e in eyes])
            p = np.array([e.iris_px for e in eyes])
            iod = float(np.hypot(*(a[1] - a[0])))
            if iod > 0.2 * bw:
                roll = math.atan2(a[1, 1] - a[0, 1], a[1, 0] - a[0, 0])
                c, s = math.cos(-roll), math.sin(-roll)
                off = (p - a) / iod
                off = off @ np.array([[c, s], [-s, c]])  # into the head's frame (undo the roll)
                mid = a.mean(axis=0)
                feats.vector = np.array([*off.mean(axis=0), mid[0] / w, mid[1] / h, iod / w, roll])
                contrast = min(e.contrast for e in eyes)
                feats.quality = float(np.clip(contrast / 0.2, 0.0, 1.0))
        elif any(e.found for e in eyes):
            feats.quality = 0.0
        return feats


class GazeMapping:
    """Ridge regression from eye features to screen px (second-order in the eye, linear in head pose).

    Terms: 1, ex, ey, ex^2, ex*ey, ey^2 (eye features standardised on the calibration frames)
    and head x, head y, head scale, roll (in their own units, not standardised, so that a head
    held still during calibration gets weights near zero instead of huge ones).

    Parameters
    ----------
    alpha : float, optional
        Ridge penalty (default 1e-3; per calibration frame, the intercept is not penalised).
    """

    def __init__(self, alpha: float = 1e-3) -> None:
        if not alpha >= 0:
            raise ParameterError("alpha", alpha, "a ridge penalty >= 0")
        self.alpha = float(alpha)
        self.coef_: np.ndarray | None = None
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None
        self.head_ref_: np.ndarray | None = None

    def _design(self, v: np.ndarray) -> np.ndarray:
        assert self.mean_ is not None and self.scale_ is not None and self.head_ref_ is not None
        e = (v[:, :2] - self.mean_) / self.scale_
        hd = (v[:, 2:6] - self.head_ref_) * (10.0, 10.0, 10.0, 10.0)
        ex, ey = e[:, 0], e[:, 1]
        return np.column_stack([np.ones(len(v)), ex, ey, ex * ex, ex * ey, ey * ey, hd])

    def fit(self, features: np.ndarray, targets_px: np.ndarray) -> GazeMapping:
        """Fit the mapping.

        Parameters
        ----------
        features : ndarray, shape (n, 6)
            :attr:`FrameFeatures.vector` of calibration frames.
        targets_px : ndarray, shape (n, 2)
            The screen position (screen px) looked at in each frame.

        Returns
        -------
        GazeMapping
            Itself.

        Raises
        ------
        ParameterError
            With fewer than 6 frames, mismatched shapes or fewer than 5 distinct targets.
        """
        v = np.asarray(features, dtype=float)
        t = np.asarray(targets_px, dtype=float)
        if v.ndim != 2 or v.shape[1] != 6 or t.shape != (len(v), 2):
            raise ParameterError("features/targets_px", (v.shape, t.shape), "shapes (n, 6) and (n, 2)")
        ok = np.isfinite(v).all(axis=1) & np.isfinite(t).all(axis=1)
        v, t = v[ok], t[ok]
        if len(v) < 6 or len(np.unique(np.round(t), axis=0)) < 5:
            raise ParameterError("features", len(v), "at least 6 calibration frames on at least 5 distinct targets")
        self.mean_ = v[:, :2].mean(axis=0)
        self.scale_ = np.maximum(v[:, :2].std(axis=0), 1e-6)
        self.head_ref_ = np.median(v[:, 2:6], axis=0)
        x = self._design(v)
        pen = np.full(x.shape[1], self.alpha * len(v))
        pen[0] = 0.0
        self.coef_ = np.linalg.solve(x.T @ x + np.diag(pen), x.T @ t)
        self.head_sd_ = np.maximum(v[:, 2:6].std(axis=0), (0.01, 0.01, 0.005, 0.02))
        return self

    @property
    def fitted(self) -> bool:
        """Whether :meth:`fit` has run."""
        return self.coef_ is not None

    def predict(self, features: np.ndarray) -> np.ndarray:
        """Gaze, screen px, shape (n, 2) (NaN rows where a feature is missing)."""
        if self.coef_ is None:
            raise GazelabError("the gaze mapping is not calibrated yet; run a calibration first")
        v = np.atleast_2d(np.asarray(features, dtype=float))
        out = np.full((len(v), 2), np.nan)
        ok = np.isfinite(v).all(axis=1)
        if ok.any():
            out[ok] = self._design(v[ok]) @ self.coef_
        return out

    def head_agreement(self, features: np.ndarray) -> np.ndarray:
        """0..1 per frame: how close the head pose is to the calibration's (1 = as calibrated).

        ``exp(-d^2 / 2)`` with ``d`` the largest deviation of a head feature from the
        calibration median in units of 3 calibration SDs (floored at 1 % of the frame for
        position, 0.5 % for scale, 0.02 rad for roll), since the mapping extrapolates poorly
        beyond the head poses it was fitted on (WebGazer#2).
        """
        if self.coef_ is None:
            raise GazelabError("the gaze mapping is not calibrated yet; run a calibration first")
        v = np.atleast_2d(np.asarray(features, dtype=float))
        d = np.abs(v[:, 2:6] - self.head_ref_) / (3.0 * self.head_sd_)
        return np.exp(-0.5 * np.nanmax(d, axis=1) ** 2)


def accuracy_precision(
    targets_px: list[tuple[float, float]], gaze_px: list[np.ndarray], geometry: Geometry
) -> ValidationReport:
    """Accuracy (deg) and precision (RMS-S2S, deg) per validation target; see :func:`validation_report`."""
    return validation_report(targets_px, gaze_px, geometry)


def read_frames(source: str | Path) -> Iterator[np.ndarray]:
    """The frames of a video file, in order (BGR uint8).

    Raises
    ------
    GazelabError
        If OpenCV cannot open the file.
    """
    cv2 = _cv2()
    cap = cv2.VideoCapture(str(source))
    if not cap.isOpened():
        raise GazelabError(f"{source}: OpenCV cannot open this video; expected a readable .avi/.mp4 file")
    try:
        while True:
            ok, frame = cap.read()
            if not ok:
                return
            yield frame
    finally:
        cap.release()


@dataclass
class VideoEvaluation:
    """Result of :func:`evaluate_video`.

    Attributes
    ----------
    report : ValidationReport
        Accuracy and precision (deg) on the validation targets.
    frames : int
        Frames processed.
    face_found : float
        Fraction of frames with a face, 0..1.
    features_found : float
        Fraction of frames with both eyes measured, 0..1.
    calibration_frames, validation_frames : int
        Settled frames used to fit and to validate.
    iris_error_px : float
        Median distance of the measured iris centres from the truth, image px (NaN without truth).
    seconds : float
        Feature-extraction time (decoding excluded), s.
    """

    report: ValidationReport
    frames: int
    face_found: float
    features_found: float
    calibration_frames: int
    validation_frames: int
    iris_error_px: float
    seconds: float


def evaluate_video(
    video: str | Path,
    truth_csv: str | Path,
    geometry: Geometry,
    *,
    alpha: float = 1e-3,
    extractor: FeatureExtractor | None = None,
) -> VideoEvaluation:
    """Calibrate on a recorded video's calibration frames and validate on its validation frames.

    Parameters
    ----------
    video : str or Path
        The camera recording.
    truth_csv : str or Path
        Per frame (in file order): ``phase`` (``calibration`` / ``validation``), ``settled``
        (1 for frames to use), ``target_x_px``, ``target_y_px`` (screen px) and optionally
        ``iris_left_x_px`` ... (image px). :func:`gazelab.acquisition.synthetic_face.write_sequence`
        writes this format; a real recording with known targets can be described the same way.
    geometry : Geometry
        The screen, for degrees.
    alpha : float, optional
        Ridge penalty of :class:`GazeMapping`.
    extractor : FeatureExtractor, optional
        Default a new one.

    Returns
    -------
    VideoEvaluation

    Raises
    ------
    GazelabError
        If the video and the CSV disagree on the number of frames, or a phase has no usable frame.
    """
    import pandas as pd

    truth = pd.read_csv(truth_csv)
    v, found_face, iris_err, elapsed = _features_per_frame(video, truth, extractor or FeatureExtractor())
    if len(v) != len(truth):
        raise GazelabError(
            f"{video}: {len(v)} frames but {truth_csv} describes {len(truth)}; expected one row per frame"
        )
    tgt = truth[["target_x_px", "target_y_px"]].to_numpy(float)
    ok = np.isfinite(v).all(axis=1) & (truth["settled"].to_numpy() == 1)
    cal = ok & (truth["phase"] == "calibration").to_numpy()
    val = (truth["settled"].to_numpy() == 1) & (truth["phase"] == "validation").to_numpy()
    if cal.sum() < 6 or val.sum() == 0:
        raise GazelabError(f"{video}: {int(cal.sum())} usable calibration and {int(val.sum())} validation frames")
    pred = GazeMapping(alpha).fit(v[cal], tgt[cal]).predict(v)
    targets, gaze = [], []
    for _, grp in truth[val].groupby("target_index", sort=True):
        idx = grp.index.to_numpy()
        targets.append((float(tgt[idx[0], 0]), float(tgt[idx[0], 1])))
        gaze.append(pred[idx])
    return VideoEvaluation(
        report=accuracy_precision(targets, gaze, geometry),
        frames=len(v),
        face_found=float(np.mean(found_face)),
        features_found=float(np.isfinite(v).all(axis=1).mean()),
        calibration_frames=int(cal.sum()),
        validation_frames=int(val.sum()),
        iris_error_px=float(np.median(iris_err)) if iris_err else float("nan"),
        seconds=elapsed,
    )


def _features_per_frame(
    video: str | Path, truth: Any, ex: FeatureExtractor
) -> tuple[np.ndarray, list[bool], list[float], float]:
    """Each frame's feature vector (NaN where not measured), whether a face was found, the iris errors (px).

    The iris errors compare the measured iris centres with the truth's, where it has them; the
    last value is the extraction time, s (decoding excluded).
    """
    import time

    vectors, found_face, iris_err = [], [], []
    elapsed = 0.0
    for k, frame in enumerate(read_frames(video)):
        t0 = time.perf_counter()
        f = ex.process(frame)
        elapsed += time.perf_counter() - t0
        found_face.append(f.face_px is not None)
        vectors.append(f.vector if f.vector is not None else np.full(6, np.nan))
        if f.eyes and "iris_left_x_px" in truth.columns and k < len(truth):
            r = truth.iloc[k]
            true = np.array([[r.iris_left_x_px, r.iris_left_y_px], [r.iris_right_x_px, r.iris_right_y_px]])
            for e, tr in zip(f.eyes, true, strict=True):
                if e.found:
                    iris_err.append(float(np.hypot(*(np.array(e.iris_px) - tr))))
    return np.array(vectors), found_face, iris_err, elapsed
