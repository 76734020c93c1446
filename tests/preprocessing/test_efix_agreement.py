"""Validation against a system no one here wrote: the EyeLink's own EFIX events.

I-VT with the EyeLink "cognitive" parser settings (30 deg/s, 8000 deg/s^2, 0.15 deg motion
threshold, 60 deg/s pursuit fix-up) must match at least 90 % of the tracker's fixations (onset
within 20 ms, one-to-one) on every eye with 50 or more EFIX events; measured: 94.2 % (L) and
93.3 % (R) on 220682rr01. The 90 % bound is the acceptance goal; what is left are mostly
fixations right after blinks and the tracker's splits/merges around drift (see the note of
issue 3). Pooled over all real files the same bound holds.
"""

import pytest

from gazelab.preprocessing import agreement, detect_fixations
from tests.conftest import geometry_for, read_quietly

FILES = [
    "220682rr01.asc.gz",
    "bino250.asc.gz",
    "bino500.asc.gz",
    "binoRemote250.asc.gz",
    "mono250.asc.gz",
    "mono500.asc.gz",
    "mono1000.asc.gz",
    "mono2000.asc.gz",
    "monoRemote250.asc.gz",
    "pm_eyelink_binocular_example.asc",
    "pm_eyelink_monocular_no_dummy_example.asc",
]


@pytest.fixture(scope="module")
def per_eye(eyelink_dir):
    import pandas as pd

    rows = []
    for name in FILES:
        rec = read_quietly(eyelink_dir / name)
        g = geometry_for(rec)
        ref = detect_fixations(rec, g, algorithm="eyelink")
        det = detect_fixations(rec, g, algorithm="ivt")
        a = agreement(ref, det)
        a.insert(0, "file", name)
        rows.append(a)
    return pd.concat(rows, ignore_index=True)


def test_ivt_matches_efix_on_every_large_eye(per_eye):
    big = per_eye[per_eye["n_reference"] >= 50]
    assert len(big) == 2  # 220682rr01, both eyes
    assert (big["matched_fraction"] >= 0.90).all(), big.to_string()
    # matched onsets are close and typical durations agree to about a sample
    assert (big["mean_abs_onset_diff_ms"] <= 5).all()
    assert (big["median_abs_duration_diff_ms"] <= 8).all()
    assert (big["precision"] >= 0.8).all()


def test_ivt_matches_efix_pooled_over_all_files(per_eye):
    matched = (per_eye["matched_fraction"] * per_eye["n_reference"]).sum()
    assert matched / per_eye["n_reference"].sum() >= 0.90
