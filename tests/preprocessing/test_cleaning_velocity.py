import numpy as np
import pytest

from gazelab.errors import ParameterError
from gazelab.preprocessing.cleaning import blink_mask, interpolate_gaps, missing_mask, runs
from gazelab.preprocessing.velocity import derivative, velocity_deg_s, window_samples


def test_runs_edges():
    assert runs(np.array([], bool)).shape == (0, 2)
    assert runs(np.array([1, 1, 0, 1], bool)).tolist() == [[0, 1], [3, 3]]
    assert runs(np.array([0, 0], bool)).tolist() == []


def test_blink_mask_margin_and_events():
    t = np.arange(0, 100, 2.0)  # 500 Hz
    miss = np.zeros(50, bool)
    miss[20:25] = True  # 40..48 ms
    m = blink_mask(t, miss, margin_ms=4)
    assert np.flatnonzero(m).tolist() == list(range(18, 27))
    m = blink_mask(t, np.zeros(50, bool), blink_onsets_ms=np.array([10.0]), blink_offsets_ms=np.array([12.0]))
    assert np.flatnonzero(m).tolist() == [5, 6]
    with pytest.raises(ParameterError, match="margin_ms"):
        blink_mask(t, miss, margin_ms=-1)


def test_interpolate_short_gaps_only():
    t = np.arange(10) * 2.0
    v = np.array([0, 1, np.nan, 3, np.nan, np.nan, np.nan, np.nan, 8, np.nan])
    out = interpolate_gaps(t, v, max_gap_ms=2)
    assert out[2] == 2 and np.isnan(out[4:8]).all() and np.isnan(out[9])
    out = interpolate_gaps(t, v, max_gap_ms=8)
    np.testing.assert_allclose(out[:9], np.arange(9))
    seg = np.array([0, 0, 0, 0, 0, 0, 1, 1, 1, 1])
    assert np.isnan(interpolate_gaps(t, v, max_gap_ms=8, segments=seg)[4:8]).all()
    keep = np.zeros(10, bool)
    keep[2] = True
    assert np.isnan(interpolate_gaps(t, v, max_gap_ms=8, keep_missing=keep)[2])
    assert missing_mask(np.array([1.0, np.nan]), np.array([np.nan, 1.0])).all()


@pytest.mark.parametrize("method", ["savgol", "central"])
def test_velocity_of_a_ramp_and_nan_handling(method):
    rate = 500.0
    t = np.arange(200) / rate
    x = 20.0 * t  # 20 deg/s
    x[100] = np.nan
    _vx, _vy, v = velocity_deg_s(x, np.zeros_like(x), rate, method=method)
    good = ~np.isnan(v)
    np.testing.assert_allclose(v[good], 20.0, atol=1e-9)
    assert np.isnan(v[100]) and np.isnan(v[0])
    half = window_samples(20.0, rate) // 2 if method == "savgol" else 1
    assert np.isnan(v[100 - half : 100 + half + 1]).all() and not np.isnan(v[100 + half + 1])


def test_acceleration_and_segments():
    rate = 1000.0
    t = np.arange(100) / rate
    a = derivative(0.5 * 300.0 * t**2, rate, deriv=2)  # 300 deg/s^2
    np.testing.assert_allclose(a[~np.isnan(a)], 300.0, rtol=1e-6)
    seg = np.r_[np.zeros(50), np.ones(50)].astype(int)
    d = derivative(np.arange(100.0), rate, segments=seg, method="central")
    assert np.flatnonzero(np.isnan(d)).tolist() == [0, 49, 50, 99]


def test_velocity_parameter_errors():
    with pytest.raises(ParameterError, match="method"):
        derivative(np.zeros(5), 500.0, method="magic")  # type: ignore[arg-type]
    with pytest.raises(ParameterError, match="window_ms"):
        window_samples(0, 500.0)
    assert window_samples(20.0, 250.0) == 5 and window_samples(20.0, 1000.0) == 21 and window_samples(1.0, 250.0) == 5
