"""Screen geometry and stimulus placement: the one place where px, cm and degrees meet.

Conventions
-----------
- Screen coordinates (``*_px``) are continuous, with the origin at the top-left corner of the
  screen, x to the right and y downwards (EyeLink's and PsychoPy's "pix" convention after the
  origin shift). The screen centre is ``(width_px / 2, height_px / 2)``.
- Degrees (``*_deg``) are visual angles measured from the line of sight through the screen
  centre, per axis: ``x_deg = atan((x_px - width_px / 2) * cm_per_px / distance_cm)``, positive
  to the right and downwards. This is the exact angle for points on the horizontal (resp.
  vertical) meridian and the usual per-axis convention of eye-tracking software (pymovements'
  ``pix2deg``, PsychoPy's ``deg`` units with ``useRetinaCoords``). :meth:`Geometry.angle_between`
  gives the exact 3-D angle between two arbitrary screen points.
- The small-angle shortcut ``x_deg ~ degrees((x_px - cx) * cm_per_px / distance_cm)`` over-states
  eccentricity: its relative error is ``u / atan(u) - 1`` for ``u = x_cm / distance_cm``, i.e.
  0.26 % at 5 deg, 1.0 % at 10 deg, 2.3 % at 15 deg, 4.3 % at 20 deg and 10 % at 30 deg (at the
  edge of a 53 cm screen seen from 60 cm, 23.83 deg, the shortcut gives 25.31 deg, +6.2 %).
  :func:`small_angle_error` computes it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

from gazelab.errors import ParameterError

__all__ = ["Geometry", "Placement", "small_angle_error"]

FloatArray = NDArray[np.float64]


def _positive(name: str, value: float, unit: str) -> float:
    try:
        v = float(value)
    except (TypeError, ValueError):
        raise ParameterError(name, value, f"a number > 0 ({unit})") from None
    if not math.isfinite(v) or v <= 0:
        raise ParameterError(name, value, f"a finite number > 0 ({unit})")
    return v


@dataclass(frozen=True)
class Geometry:
    """Physical screen geometry of an eye-tracking setup.

    Parameters
    ----------
    width_px, height_px : int
        Screen resolution in pixels.
    width_cm, height_cm : float
        Visible screen size in cm.
    distance_cm : float
        Eye-to-screen distance in cm, measured along the line of sight to the screen centre.

    Raises
    ------
    ParameterError
        If any value is not a finite positive number (resolution: positive integer).

    Examples
    --------
    >>> g = Geometry(1920, 1080, 53.0, 30.0, 60.0)
    >>> round(float(g.px_to_deg(1920, 540)[0]), 3)
    23.829
    >>> round(g.px_per_deg, 2)
    37.9
    """

    width_px: int
    height_px: int
    width_cm: float
    height_cm: float
    distance_cm: float

    def __post_init__(self) -> None:
        for name in ("width_px", "height_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not float(value).is_integer() or value <= 0:
                raise ParameterError(name, value, "a positive whole number of pixels")
            object.__setattr__(self, name, int(value))
        for name in ("width_cm", "height_cm", "distance_cm"):
            object.__setattr__(self, name, _positive(name, getattr(self, name), "cm"))

    # -- derived quantities -------------------------------------------------------------------
    @property
    def cm_per_px(self) -> tuple[float, float]:
        """Pixel pitch ``(x, y)`` in cm per px."""
        return self.width_cm / self.width_px, self.height_cm / self.height_px

    @property
    def center_px(self) -> tuple[float, float]:
        """Screen centre ``(x, y)`` in screen px."""
        return self.width_px / 2.0, self.height_px / 2.0

    @property
    def size_deg(self) -> tuple[float, float]:
        """Full screen width and height in degrees of visual angle (exact)."""
        w = 2 * math.degrees(math.atan(self.width_cm / 2 / self.distance_cm))
        h = 2 * math.degrees(math.atan(self.height_cm / 2 / self.distance_cm))
        return w, h

    @property
    def px_per_deg(self) -> float:
        """Horizontal pixels spanned by one degree centred on the screen centre (exact)."""
        return self.deg_to_px_length(1.0)

    def deg_to_px_length(self, angle_deg: float, *, axis: Literal["x", "y"] = "x") -> float:
        """Length in screen px of a visual angle centred on the screen centre.

        Parameters
        ----------
        angle_deg : float
            Visual angle in degrees.
        axis : {'x', 'y'}, optional
            Horizontal (default) or vertical pixel pitch.

        Returns
        -------
        float
            ``2 * distance_cm * tan(angle_deg / 2) / cm_per_px`` in px.
        """
        pitch = self.cm_per_px[0 if axis == "x" else 1]
        return 2 * self.distance_cm * math.tan(math.radians(angle_deg) / 2) / pitch

    # -- conversions --------------------------------------------------------------------------
    def px_to_deg(self, x_px: ArrayLike, y_px: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Convert screen px to visual angle from the screen centre (exact, per axis).

        Parameters
        ----------
        x_px, y_px : array_like
            Screen coordinates in px (origin top-left). NaN passes through.

        Returns
        -------
        x_deg, y_deg : ndarray
            Degrees of visual angle, positive right and down.
        """
        cx, cy = self.center_px
        px, py = self.cm_per_px
        x = np.degrees(np.arctan((np.asarray(x_px, dtype=float) - cx) * px / self.distance_cm))
        y = np.degrees(np.arctan((np.asarray(y_px, dtype=float) - cy) * py / self.distance_cm))
        return x, y

    def deg_to_px(self, x_deg: ArrayLike, y_deg: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Inverse of :meth:`px_to_deg`: visual angle from the centre to screen px.

        Parameters
        ----------
        x_deg, y_deg : array_like
            Degrees of visual angle from the screen centre, positive right and down; must lie
            strictly within (-90, 90).

        Returns
        -------
        x_px, y_px : ndarray
            Screen coordinates in px (origin top-left).
        """
        cx, cy = self.center_px
        px, py = self.cm_per_px
        x = cx + np.tan(np.radians(np.asarray(x_deg, dtype=float))) * self.distance_cm / px
        y = cy + np.tan(np.radians(np.asarray(y_deg, dtype=float))) * self.distance_cm / py
        return x, y

    def angle_between(self, x1_px: ArrayLike, y1_px: ArrayLike, x2_px: ArrayLike, y2_px: ArrayLike) -> FloatArray:
        """Exact visual angle in degrees between two screen points seen from the eye.

        Uses the 3-D vectors from the eye to each point and ``atan2(|a x b|, a . b)``, which is
        accurate for tiny angles too.

        Parameters
        ----------
        x1_px, y1_px, x2_px, y2_px : array_like
            Screen coordinates in px of the two points (broadcast together).

        Returns
        -------
        ndarray
            Angle in degrees.
        """
        cx, cy = self.center_px
        px, py = self.cm_per_px
        d = self.distance_cm
        ax = (np.asarray(x1_px, dtype=float) - cx) * px
        ay = (np.asarray(y1_px, dtype=float) - cy) * py
        bx = (np.asarray(x2_px, dtype=float) - cx) * px
        by = (np.asarray(y2_px, dtype=float) - cy) * py
        # cross product of (ax, ay, d) and (bx, by, d)
        c0 = ay * d - d * by
        c1 = d * bx - ax * d
        c2 = ax * by - ay * bx
        cross = np.sqrt(c0 * c0 + c1 * c1 + c2 * c2)
        dot = ax * bx + ay * by + d * d
        return np.degrees(np.arctan2(cross, dot))


def small_angle_error(eccentricity_deg: ArrayLike) -> FloatArray:
    """Relative error of the small-angle shortcut at a given true eccentricity.

    The shortcut takes ``degrees(x_cm / distance_cm)`` for ``degrees(atan(x_cm / distance_cm))``.

    Parameters
    ----------
    eccentricity_deg : array_like
        True eccentricity in degrees (along one axis).

    Returns
    -------
    ndarray
        ``shortcut / exact - 1`` (dimensionless; 0 at the centre).

    Examples
    --------
    >>> round(float(small_angle_error(10.0)), 4)
    0.0103
    """
    a = np.radians(np.asarray(eccentricity_deg, dtype=float))
    with np.errstate(invalid="ignore", divide="ignore"):
        err = np.where(a == 0, 0.0, np.tan(a) / np.where(a == 0, 1.0, a) - 1.0)
    return err


@dataclass(frozen=True)
class Placement:
    """Where a stimulus image sits on the screen, so gaze in screen px maps to image px.

    Image coordinates (``*_px`` of the image) are continuous with the origin at the top-left
    corner of the image, x right, y down; image pixel ``(i, j)`` covers ``[j, j+1) x [i, i+1)``.

    Parameters
    ----------
    image_width_px, image_height_px : int
        Size of the image file in image px.
    left_px, top_px : float
        Screen px of the image's top-left corner.
    scale : float
        Screen px per image px (the same on both axes: images are never stretched).

    Examples
    --------
    >>> g = Geometry(1920, 1080, 53.0, 30.0, 60.0)
    >>> p = Placement.centered(g, (640, 480), scale="fit")
    >>> p.scale, p.left_px, p.top_px
    (2.25, 240.0, 0.0)
    >>> [float(v) for v in p.screen_to_image(960, 540)]
    [320.0, 240.0]
    """

    image_width_px: int
    image_height_px: int
    left_px: float
    top_px: float
    scale: float = 1.0

    def __post_init__(self) -> None:
        for name in ("image_width_px", "image_height_px"):
            value = getattr(self, name)
            if isinstance(value, bool) or not float(value).is_integer() or value <= 0:
                raise ParameterError(name, value, "a positive whole number of image pixels")
            object.__setattr__(self, name, int(value))
        object.__setattr__(self, "scale", _positive("scale", self.scale, "screen px per image px"))
        for name in ("left_px", "top_px"):
            v = float(getattr(self, name))
            if not math.isfinite(v):
                raise ParameterError(name, getattr(self, name), "a finite screen coordinate (px)")
            object.__setattr__(self, name, v)

    @classmethod
    def centered(
        cls,
        geometry: Geometry,
        image_size_px: tuple[int, int],
        *,
        scale: float | Literal["fit"] = 1.0,
        offset_px: tuple[float, float] = (0.0, 0.0),
    ) -> Placement:
        """Place an image centred on the screen, optionally scaled and shifted.

        Parameters
        ----------
        geometry : Geometry
            The screen.
        image_size_px : (int, int)
            Image ``(width, height)`` in image px.
        scale : float or 'fit', optional
            Screen px per image px; ``'fit'`` scales the image to the largest size that fits
            the screen with its aspect ratio kept. Default 1.0 (native size).
        offset_px : (float, float), optional
            Shift of the image centre from the screen centre, in screen px (right, down).

        Returns
        -------
        Placement
        """
        w, h = image_size_px
        if scale == "fit":
            s = min(geometry.width_px / w, geometry.height_px / h)
        elif isinstance(scale, str):
            raise ParameterError("scale", scale, "a number > 0 or 'fit'")
        else:
            s = _positive("scale", scale, "screen px per image px")
        cx, cy = geometry.center_px
        return cls(
            image_width_px=w,
            image_height_px=h,
            left_px=cx + offset_px[0] - w * s / 2,
            top_px=cy + offset_px[1] - h * s / 2,
            scale=s,
        )

    @property
    def screen_rect_px(self) -> tuple[float, float, float, float]:
        """``(left, top, right, bottom)`` of the image on the screen, in screen px."""
        return (
            self.left_px,
            self.top_px,
            self.left_px + self.image_width_px * self.scale,
            self.top_px + self.image_height_px * self.scale,
        )

    def screen_to_image(self, x_px: ArrayLike, y_px: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Map screen px to image px (no clipping; see :meth:`contains`)."""
        x = (np.asarray(x_px, dtype=float) - self.left_px) / self.scale
        y = (np.asarray(y_px, dtype=float) - self.top_px) / self.scale
        return x, y

    def image_to_screen(self, x_img: ArrayLike, y_img: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Map image px to screen px."""
        x = np.asarray(x_img, dtype=float) * self.scale + self.left_px
        y = np.asarray(y_img, dtype=float) * self.scale + self.top_px
        return x, y

    def contains(self, x_img: ArrayLike, y_img: ArrayLike) -> NDArray[np.bool_]:
        """True where image coordinates fall on the image (``0 <= x < width``, same for y)."""
        x = np.asarray(x_img, dtype=float)
        y = np.asarray(y_img, dtype=float)
        return (x >= 0) & (x < self.image_width_px) & (y >= 0) & (y < self.image_height_px)
