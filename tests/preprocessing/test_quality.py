"""Data quality per trial and eye: real EyeLink files, a simulated session folder, a release."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from gazelab.preprocessing import read
from gazelab.preprocessing.quality import QUALITY_COLUMNS, QualityThresholds, participant_summary, trial_quality
from tests.conftest import DISTANCE_CM, SCREEN_CM


def _read(path: Path):  # type: ignore[no-untyped-def]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read(path)


def test_binocular_file_uses_the_trackers_validation_and_drift_lines(eyelink_dir):
    rec = _read(eyelink_dir / "pm_eyelink_binocular_example.asc")
    # the file states no DISPLAY_COORDS: geometry as SOURCES.md says (1920x1080 drift target at 960,540)
    q = trial_quality(rec, Geometry(1920, 1080, 53.0, 30.0, DISTANCE_CM))
    assert list(q.columns) == QUALITY_COLUMNS
    assert list(q["eye"]) == ["L", "R"] and set(q["trial"]) == {"I902C_low"}
    left, right = q.iloc[0], q.iloc[1]
    # the file's own lines: !CAL VALIDATION HV9 LR LEFT GOOD ERROR 0.41 avg. 0.64 max / RIGHT 0.31 0.84
    assert (left["validation_mean_deg"], left["validation_max_deg"]) == (0.41, 0.64)
    assert (right["validation_mean_deg"], right["validation_max_deg"]) == (0.31, 0.84)
    # DRIFTCORRECT LR LEFT ... OFFSET 0.06 deg. / RIGHT 0.39 deg.
    assert (left["drift_offset_deg"], right["drift_offset_deg"]) == (0.06, 0.39)
    s = rec.samples[rec.samples["trial"] == 1]
    assert left["n_samples"] == len(s)
    assert left["data_loss"] == pytest.approx(float(s["x_left_px"].isna().mean()))
    assert 0 < left["precision_rms_s2s_deg"] < left["precision_std_deg"] < 1.0
    assert left["sampling_rate_hz"] == 1000.0


def test_precision_matches_a_direct_computation_on_the_trackers_fixations(eyelink_dir):
    rec = _read(eyelink_dir / "mono1000.asc.gz")
    g = Geometry(1024, 768, *SCREEN_CM[(1024, 768)], DISTANCE_CM)
    q = trial_quality(rec, g)
    assert len(q) == len(rec.trials) == 4 and (q["eye"] == "R").all()
    # trial 1 by hand: each EFIX's samples in degrees, pooled
    t = rec.samples["time_ms"].to_numpy()
    xd, yd = g.px_to_deg(rec.samples["x_right_px"].to_numpy(), rec.samples["y_right_px"].to_numpy())
    fx = rec.events[(rec.events["type"] == "fixation")]
    d2, dev2 = [], []
    tr = rec.samples["trial"].to_numpy(dtype=float, na_value=np.nan)
    for on, off in zip(fx["onset_ms"], fx["offset_ms"], strict=True):
        m = (t >= on) & (t <= off) & (tr == 1) & np.isfinite(xd)
        if m.sum() < 2:
            continue
        x, y = np.asarray(xd)[m], np.asarray(yd)[m]
        d2 += list(np.diff(x) ** 2 + np.diff(y) ** 2)
        dev2 += list((x - x.mean()) ** 2 + (y - y.mean()) ** 2)
    assert q.iloc[0]["precision_rms_s2s_deg"] == pytest.approx(np.sqrt(np.mean(d2)), rel=1e-9)
    assert q.iloc[0]["precision_std_deg"] == pytest.approx(np.sqrt(np.mean(dev2)), rel=1e-9)


def test_no_geometry_is_an_error_naming_what_is_needed(eyelink_dir):
    rec = _read(eyelink_dir / "mono250.asc.gz")
    with pytest.raises(ParameterError, match="--screen-cm W H --distance-cm D"):
        trial_quality(rec)


def test_grades_follow_settable_thresholds_and_unmeasured_values_do_not_count():
    table = pd.DataFrame(
        {
            "n_samples": [100, 100, 100, 0],
            "data_loss": [0.05, 0.2, 0.5, np.nan],
            "precision_rms_s2s_deg": [0.05, np.nan, 0.05, np.nan],
            "validation_mean_deg": [np.nan, 0.4, 0.4, np.nan],
            "validation_max_deg": [np.nan, 0.9, 0.9, np.nan],
            "drift_offset_deg": [np.nan, np.nan, np.nan, np.nan],
        }
    )
    assert list(QualityThresholds().grade(table)) == ["GOOD", "FAIR", "POOR", "POOR"]
    strict = QualityThresholds().updated({"data_loss": "0.01,0.1"})
    assert list(strict.grade(table)) == ["FAIR", "POOR", "POOR", "POOR"]
    with pytest.raises(ParameterError):
        QualityThresholds(data_loss=(0.5, 0.1))
    with pytest.raises(ParameterError):
        QualityThresholds().updated({"nonsense": "1,2"})


def test_large_file_summary_by_participant(eyelink_dir):
    rec = _read(eyelink_dir / "220682rr01.asc.gz")
    q = trial_quality(rec, Geometry(1920, 1080, 53.0, 30.0, DISTANCE_CM))
    assert len(q) == 2 * len(rec.trials)
    assert q["blink_count"].sum() == (rec.events["type"] == "blink").sum() - _blinks_outside_trials(rec)
    s = participant_summary(q)
    assert list(s["participant"]) == ["220682rr01"] and s.loc[0, "good"] + s.loc[0, "fair"] + s.loc[0, "poor"] == len(q)


def _blinks_outside_trials(rec) -> int:  # type: ignore[no-untyped-def]
    b = rec.events[rec.events["type"] == "blink"]
    t = rec.samples["time_ms"].to_numpy()
    tr = rec.samples["trial"].to_numpy(dtype=float, na_value=np.nan)
    i = np.clip(np.searchsorted(t, b["onset_ms"].to_numpy()), 0, len(t) - 1)
    return int(np.isnan(tr[i]).sum())
