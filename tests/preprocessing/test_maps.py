import math

import numpy as np
import pandas as pd
import pytest
from scipy.ndimage import gaussian_filter

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry, Placement
from gazelab.preprocessing.maps import (
    fixation_map,
    gaussian_kernel,
    normalize_map,
    saliency_map,
    saliency_maps,
    sigma_deg_to_image_px,
    to_image_px,
)

G = Geometry(1920, 1080, 53.0, 30.0, 60.0)


def test_single_fixation_is_a_normalised_gaussian_with_the_requested_sigma():
    sigma = 6.0
    m = saliency_map([100.5], [80.5], (161, 201), sigma)
    assert m.sum() == pytest.approx(1.0, abs=1e-12)
    assert np.unravel_index(m.argmax(), m.shape) == (80, 100)
    # separable: the row through the peak is the 1-D kernel (scaled), and the variance is sigma^2
    # up to the truncation at 4 sigma (a factor 0.99887 for a truncated normal)
    col = m.sum(axis=0)
    x = np.arange(201) - 100
    var = float((col * x * x).sum())
    assert var == pytest.approx(sigma**2 * 0.99887, rel=2e-3)
    k, r = gaussian_kernel(sigma)
    assert r == 24
    np.testing.assert_allclose(col[100 - r : 100 + r + 1], k, atol=1e-15)
    # hand-computed: the value at the peak is k[r]^2 = 1 / (2 pi sigma^2) approximately
    assert m[80, 100] == pytest.approx(k[r] ** 2)
    assert m[80, 100] == pytest.approx(1 / (2 * math.pi * sigma**2), rel=1e-3)


@pytest.mark.parametrize("mode", ["reflect", "constant"])
@pytest.mark.parametrize(
    ("shape", "sigma", "k"), [((480, 640), 25.0, 20), ((30, 20), 12.0, 4), ((7, 5), 3.0, 3), ((120, 90), 4.0, 800)]
)
def test_equals_scipy_gaussian_filter(shape, sigma, k, mode):
    rng = np.random.default_rng(k)
    x = rng.uniform(0, shape[1], k)
    y = rng.uniform(0, shape[0], k)
    ours = saliency_map(x, y, shape, sigma, mode=mode)
    ref = gaussian_filter(fixation_map(x, y, shape), sigma, mode=mode)
    ref /= ref.sum()
    assert np.abs(ours - ref).max() <= 1e-12 * ref.max() + 1e-15


def test_weights_normalisation_and_empty():
    m = saliency_map([10, 30], [10, 10], (20, 40), 2.0, weights=[100, 300], normalize=None)
    assert m.sum() == pytest.approx(400.0)
    assert m[10, 30] / m[10, 10] == pytest.approx(3.0)
    assert saliency_map([10], [10], (20, 40), 2.0, normalize="max").max() == 1.0
    assert not saliency_map([], [], (20, 40), 2.0).any()
    assert not normalize_map(np.zeros((2, 2)), "sum").any()
    with pytest.raises(ParameterError, match="normalize"):
        normalize_map(np.ones((2, 2)), "l2")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="sigma_px"):
        saliency_map([1], [1], (5, 5), 0.0)
    with pytest.raises(ParameterError, match="shape"):
        saliency_map([1], [1], (0, 5), 1.0)


def test_constant_mode_loses_mass_at_the_edge_reflect_keeps_it():
    a = saliency_map([0.5], [10.5], (21, 21), 3.0, mode="constant", normalize=None)
    b = saliency_map([0.5], [10.5], (21, 21), 3.0, mode="reflect", normalize=None)
    assert a.sum() < 0.6 and b.sum() == pytest.approx(1.0)


def test_fixation_map_and_image_mapping():
    fm = fixation_map([0.0, 0.99, 5.0, -0.01, 4.999], [0.0, 0.5, 1.0, 1.0, 2.999], (3, 5))
    assert fm.sum() == 3 and fm[0, 0] == 2 and fm[2, 4] == 1
    p = Placement.centered(G, (640, 480), scale="fit")  # 2.25 screen px per image px
    x, y, inside = to_image_px([960, 100, 1679], [540, 540, 1079], p)
    assert inside.tolist() == [True, False, True]
    assert (float(x[0]), float(y[0])) == (320.0, 240.0)


def test_sigma_conversion():
    assert sigma_deg_to_image_px(1.0, G) == pytest.approx(2 * 60 * math.tan(math.radians(0.5)) / (53 / 1920))
    p = Placement.centered(G, (640, 480), scale="fit")
    assert sigma_deg_to_image_px(1.0, G, p) == pytest.approx(sigma_deg_to_image_px(1.0, G) / 2.25)
    assert sigma_deg_to_image_px(2.0, G) == pytest.approx(G.deg_to_px_length(2.0))
    with pytest.raises(ParameterError, match="sigma_deg"):
        sigma_deg_to_image_px(0, G)


def test_grouped_maps_per_observer():
    fix = pd.DataFrame(
        {"stimulus": ["a", "a", "b"], "observer": [1, 2, 1], "x_px": [5.0, 15.0, 3.0], "y_px": [5.0, 5.0, 3.0]}
    )
    fix["key"] = list(zip(fix["stimulus"], fix["observer"], strict=True))
    maps = saliency_maps(
        fix, {("a", 1): (10, 20), ("a", 2): (10, 20), ("b", 1): (8, 8), ("b", 2): (8, 8)}, 2.0, key="key"
    )
    assert maps[("a", 1)].argmax() == 5 * 20 + 5 and maps[("a", 2)].argmax() == 5 * 20 + 15
    assert maps[("b", 1)].sum() == pytest.approx(1.0) and not maps[("b", 2)].any()
