"""Calibration target layouts and the validation report (accuracy, precision, data loss, grade).

Per validation point, from the samples recorded while the participant looked at it:

- accuracy: the angle (deg, exact 3-D angle on the screen geometry) between the target and the
  mean gaze;
- precision: RMS of the sample-to-sample angles (deg), the usual RMS-S2S;
- data loss: the fraction of samples without gaze.

Overall: mean and max accuracy over the points, mean precision and data loss, and a grade with
EyeLink's convention: GOOD when the mean error is below ``good_mean_deg`` (0.5) and the max
below ``good_max_deg`` (1.0); FAIR when below ``fair_mean_deg`` (1.0) and ``fair_max_deg`` (1.5);
POOR otherwise. Thresholds are parameters (the experiment config sets the acceptance ones).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry

__all__ = ["Thresholds", "ValidationReport", "target_layout", "validation_report"]


def target_layout(points: int, geometry: Geometry, *, margin: float = 0.1) -> list[tuple[float, float]]:
    """Screen-px targets of the standard 5-, 9- and 13-point layouts (HV5/HV9/HV13).

    Parameters
    ----------
    points : {5, 9, 13}
    geometry : Geometry
    margin : float, optional
        Fraction of the screen left free at each edge (default 0.1).
    """
    if points not in (5, 9, 13):
        raise ParameterError("points", points, "5, 9 or 13")
    w, h = geometry.width_px, geometry.height_px
    xs = [margin * w, w / 2, (1 - margin) * w]
    ys = [margin * h, h / 2, (1 - margin) * h]
    if points == 5:
        pts = [(xs[1], ys[1]), (xs[1], ys[0]), (xs[1], ys[2]), (xs[0], ys[1]), (xs[2], ys[1])]
    else:
        pts = [(xs[1], ys[1])] + [(x, y) for y in ys for x in xs if (x, y) != (xs[1], ys[1])]
        if points == 13:
            qx = [(xs[0] + xs[1]) / 2, (xs[1] + xs[2]) / 2]
            qy = [(ys[0] + ys[1]) / 2, (ys[1] + ys[2]) / 2]
            pts += [(x, y) for y in qy for x in qx]
    return [(float(x), float(y)) for x, y in pts]


@dataclass(frozen=True)
class Thresholds:
    """Grade thresholds, deg."""

    good_mean_deg: float = 0.5
    good_max_deg: float = 1.0
    fair_mean_deg: float = 1.0
    fair_max_deg: float = 1.5


@dataclass
class ValidationReport:
    """The result of one validation."""

    points: list[dict[str, float]] = field(default_factory=list)
    mean_error_deg: float = float("nan")
    max_error_deg: float = float("nan")
    precision_rms_deg: float = float("nan")
    data_loss: float = float("nan")
    grade: str = "POOR"

    def accepted(self, mean_threshold_deg: float, max_threshold_deg: float) -> bool:
        """True when the mean and max errors are within the experiment's acceptance thresholds."""
        return bool(self.mean_error_deg <= mean_threshold_deg and self.max_error_deg <= max_threshold_deg)

    def summary(self) -> str:
        """One line as EyeLink prints it."""
        return (
            f"VALIDATION {self.grade} ERROR {self.mean_error_deg:.2f} avg. {self.max_error_deg:.2f} max "
            f"PRECISION {self.precision_rms_deg:.3f} deg RMS-S2S LOSS {self.data_loss:.1%}"
        )


def validation_report(
    targets_px: list[tuple[float, float]],
    gaze_px: list[np.ndarray],
    geometry: Geometry,
    *,
    thresholds: Thresholds = Thresholds(),
) -> ValidationReport:
    """Accuracy, precision and data loss per validation point, and the overall grade.

    Parameters
    ----------
    targets_px : list of (x, y)
        Target positions, screen px.
    gaze_px : list of ndarray, shape (n_i, 2)
        The gaze samples (screen px, NaN when missing) recorded at each target.
    geometry : Geometry
        For the angles.
    thresholds : Thresholds, optional
        Grade thresholds.

    Returns
    -------
    ValidationReport
    """
    if len(targets_px) != len(gaze_px) or not targets_px:
        raise ParameterError("gaze_px", len(gaze_px), f"one sample array per target ({len(targets_px)})")
    rows = []
    for (tx, ty), g in zip(targets_px, gaze_px, strict=True):
        g = np.asarray(g, dtype=float).reshape(-1, 2)
        ok = np.isfinite(g).all(axis=1)
        loss = 1.0 - ok.mean() if len(g) else 1.0
        v = g[ok]
        if len(v) == 0:
            rows.append(
                {"x_px": tx, "y_px": ty, "error_deg": float("nan"), "precision_deg": float("nan"), "data_loss": loss}
            )
            continue
        mx, my = v.mean(axis=0)
        err = float(geometry.angle_between(tx, ty, mx, my))
        s2s = geometry.angle_between(v[:-1, 0], v[:-1, 1], v[1:, 0], v[1:, 1]) if len(v) > 1 else np.array([0.0])
        rows.append(
            {
                "x_px": tx,
                "y_px": ty,
                "error_deg": err,
                "precision_deg": float(np.sqrt(np.mean(s2s**2))),
                "data_loss": float(loss),
            }
        )
    errors = np.array([r["error_deg"] for r in rows])
    mean_err = float(np.nanmean(errors)) if np.isfinite(errors).any() else float("nan")
    max_err = float(np.nanmax(errors)) if np.isfinite(errors).any() else float("nan")
    if not np.isfinite(errors).all():
        max_err = float("inf")  # a point without data cannot pass
    t = thresholds
    if mean_err < t.good_mean_deg and max_err < t.good_max_deg:
        grade = "GOOD"
    elif mean_err < t.fair_mean_deg and max_err < t.fair_max_deg:
        grade = "FAIR"
    else:
        grade = "POOR"
    return ValidationReport(
        points=rows,
        mean_error_deg=mean_err,
        max_error_deg=max_err,
        precision_rms_deg=float(np.nanmean([r["precision_deg"] for r in rows])),
        data_loss=float(np.mean([r["data_loss"] for r in rows])),
        grade=grade,
    )
