import math

import numpy as np
import pytest

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry, Placement, small_angle_error

G = Geometry(1920, 1080, 53.0, 30.0, 60.0)


def test_px_to_deg_hand_values():
    # right edge: 26.5 cm off-centre at 60 cm -> atan(26.5/60)
    x, y = G.px_to_deg(1920, 540)
    assert float(x) == pytest.approx(math.degrees(math.atan(26.5 / 60)), abs=1e-12)
    assert float(x) == pytest.approx(23.8294, abs=1e-4)
    assert float(y) == 0.0
    # 100 px up from the centre: 100 * 30/1080 cm
    x, y = G.px_to_deg(960, 440)
    assert float(y) == pytest.approx(-math.degrees(math.atan(100 * 30 / 1080 / 60)), abs=1e-12)


def test_round_trip_and_nan():
    xs = np.array([0.0, 100.5, 960.0, 1919.0, np.nan])
    ys = np.array([0.0, 540.0, 1079.0, 3.0, 2.0])
    xd, yd = G.px_to_deg(xs, ys)
    xb, yb = G.deg_to_px(xd, yd)
    np.testing.assert_allclose(xb[:4], xs[:4], atol=1e-9)
    np.testing.assert_allclose(yb, ys, atol=1e-9)
    assert np.isnan(xb[4])


def test_size_and_px_per_deg():
    w, h = G.size_deg
    assert w == pytest.approx(2 * math.degrees(math.atan(26.5 / 60)))
    assert h == pytest.approx(2 * math.degrees(math.atan(15 / 60)))
    # one degree centred: 2 * 60 * tan(0.5 deg) cm / (53/1920 cm/px)
    assert G.px_per_deg == pytest.approx(2 * 60 * math.tan(math.radians(0.5)) / (53 / 1920))
    assert G.deg_to_px_length(2.0, axis="y") == pytest.approx(2 * 60 * math.tan(math.radians(1)) / (30 / 1080))


def test_small_angle_error_documented_values():
    np.testing.assert_allclose(
        small_angle_error([0, 5, 10, 20, 30]), [0, 0.00255, 0.01028, 0.04270, 0.10266], atol=5e-5
    )
    # the shortcut overstates the right edge of the 53 cm screen: 25.3 instead of 23.8 deg
    assert math.degrees(26.5 / 60) == pytest.approx(25.306, abs=1e-3)


def test_angle_between_matches_meridian_and_is_symmetric():
    a = G.angle_between(960, 540, 1920, 540)
    assert float(a) == pytest.approx(float(G.px_to_deg(1920, 540)[0]), abs=1e-10)
    b = G.angle_between(100, 100, 1800, 1000)
    c = G.angle_between(1800, 1000, 100, 100)
    assert float(b) == pytest.approx(float(c))
    assert float(G.angle_between(500, 500, 500, 500)) == 0.0
    # tiny angles stay accurate: 0.01 px near the centre
    assert float(G.angle_between(960, 540, 960.01, 540)) == pytest.approx(
        0.01 * (53 / 1920) / 60 * 180 / math.pi, rel=1e-6
    )


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("width_px", 0),
        ("height_px", -5),
        ("width_px", 1.5),
        ("width_cm", 0),
        ("height_cm", float("nan")),
        ("distance_cm", -60),
        ("distance_cm", "far"),
    ],
)
def test_bad_geometry_names_field_and_value(field, value):
    kw = dict(width_px=1920, height_px=1080, width_cm=53.0, height_cm=30.0, distance_cm=60.0)
    kw[field] = value
    with pytest.raises(ParameterError) as err:
        Geometry(**kw)
    assert field in str(err.value)
    assert repr(value) in str(err.value)


def test_small_but_positive_sizes_are_fine():
    g = Geometry(1, 1, 0.5, 0.5, 0.5)  # the pymovements counter-lesson: 0.5 cm is > 0
    assert g.width_cm == 0.5


def test_placement_fit_centre_and_mapping():
    p = Placement.centered(G, (640, 480), scale="fit")
    assert p.scale == 2.25
    assert p.screen_rect_px == (240.0, 0.0, 1680.0, 1080.0)
    x, y = p.screen_to_image([240, 960, 1679.99], [0, 540, 1079.99])
    np.testing.assert_allclose(x, [0, 320, (1679.99 - 240) / 2.25], rtol=1e-12)
    np.testing.assert_allclose(y, [0, 240, 1079.99 / 2.25])
    assert p.contains(x, y).tolist() == [True, True, True]
    assert p.contains([-0.1, 640.0], [10, 10]).tolist() == [False, False]
    xs, _ys = p.image_to_screen(x, y)
    np.testing.assert_allclose(xs, [240, 960, 1679.99])


def test_placement_native_size_with_offset():
    p = Placement.centered(G, (800, 600), offset_px=(100, -50))
    assert (p.left_px, p.top_px, p.scale) == (660.0, 190.0, 1.0)
    x, y = p.screen_to_image(660 + 400, 190 + 300)
    assert (float(x), float(y)) == (400.0, 300.0)


def test_placement_errors():
    with pytest.raises(ParameterError, match="scale"):
        Placement.centered(G, (10, 10), scale="stretch")
    with pytest.raises(ParameterError, match="image_width_px"):
        Placement(0, 10, 0.0, 0.0)
    with pytest.raises(ParameterError, match="scale"):
        Placement(10, 10, 0.0, 0.0, scale=0)
