import math

import numpy as np
import pytest

from gazelab.acquisition.calibration import Thresholds, target_layout, validation_report
from gazelab.acquisition.trackers import SimulatedTracker
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry

G = Geometry(1920, 1080, 53.0, 30.0, 60.0)


def test_layouts():
    assert [len(target_layout(n, G)) for n in (5, 9, 13)] == [5, 9, 13]
    assert target_layout(9, G)[0] == (960.0, 540.0)
    assert len(set(target_layout(13, G))) == 13
    with pytest.raises(ParameterError, match="points"):
        target_layout(7, G)


def test_report_numbers_and_grades():
    # a constant 0.3 deg horizontal offset at the centre, tiny noise
    off = G.deg_to_px(0.3, 0.0)[0] - 960
    gaze = [np.c_[np.full(100, 960 + off), np.full(100, 540.0)]]
    r = validation_report([(960.0, 540.0)], gaze, G)
    assert r.mean_error_deg == pytest.approx(0.3, abs=1e-9) and r.precision_rms_deg == 0.0 and r.data_loss == 0
    assert r.grade == "GOOD" and r.accepted(1.0, 1.5)
    # s2s precision: alternating 1 px steps
    x = 960 + np.tile([0.0, 1.0], 50)
    r = validation_report([(960.0, 540.0)], [np.c_[x, np.full(100, 540.0)]], G)
    assert r.precision_rms_deg == pytest.approx(math.degrees(math.atan(53 / 1920 / 60)), rel=1e-3)
    # data loss and a point without data
    g = np.c_[np.r_[np.full(50, 960.0), np.full(50, np.nan)], np.full(100, 540.0)]
    r = validation_report([(960.0, 540.0), (100.0, 100.0)], [g, np.full((10, 2), np.nan)], G)
    assert r.points[0]["data_loss"] == 0.5 and r.grade == "POOR" and not r.accepted(5, 5)
    big = G.deg_to_px(1.2, 0.0)[0] - 960
    r = validation_report(
        [(960.0, 540.0)],
        [np.c_[np.full(10, 960 + big), np.full(10, 540.0)]],
        G,
        thresholds=Thresholds(fair_mean_deg=1.5, fair_max_deg=2.0),
    )
    assert r.grade == "FAIR" and "VALIDATION FAIR ERROR 1.20 avg." in r.summary()


def test_simulated_tracker_calibrates_to_good():
    tr = SimulatedTracker(G, seed=5, calibration_error_deg=1.0)
    tr.connect()
    targets = target_layout(9, G)
    before = validation_report(targets, [np.asarray(tr.calibration_samples(x, y, 500))[:, 2:4] for x, y in targets], G)
    tr.apply_calibration(targets, [])
    after = validation_report(targets, [np.asarray(tr.calibration_samples(x, y, 500))[:, 2:4] for x, y in targets], G)
    assert after.mean_error_deg < before.mean_error_deg and after.grade in ("GOOD", "FAIR")
    assert after.precision_rms_deg == pytest.approx(0.02 * math.sqrt(2) * math.sqrt(2), rel=0.3)
