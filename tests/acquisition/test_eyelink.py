"""The EyeLink backend in pylink's dummy mode (never a real tracker address)."""

import pytest

from gazelab.acquisition.trackers.eyelink import EyeLinkTracker, edf_name
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry

pylink = pytest.importorskip("pylink", reason="pylink is the eyelink extra (pip install gazelab[eyelink])")
G = Geometry(1280, 1024, 37.5, 30.0, 60.0)


def test_edf_names_are_dos_safe():
    assert edf_name("P01", 1) == "P011.EDF"
    assert edf_name("participant-007", "2") == "PARTICIP.EDF"
    assert edf_name("", "") == "GAZELAB.EDF"


def test_dummy_mode_flow(tmp_path):
    tr = EyeLinkTracker(G, address=None, sampling_rate_hz=500, eyes="L", edf="P01S1.EDF")
    tr.connect()
    t = tr.send_message("TRIALID 1")
    assert t > 0 and tr.tracker_time_ms() >= t
    tr.start_recording()
    assert tr.newest_samples() == [] and tr.calibration_samples(640, 512, 50) == []
    assert tr.drift_correct(640, 512) == (0.0, 0.0)
    tr.stop_recording()
    assert tr.fetch_data_file(tmp_path) is None  # dummy mode transfers no EDF
    tr.close()
    with pytest.raises(ParameterError, match="130"):
        t2 = EyeLinkTracker(G)
        t2.connect()
        t2.send_message("x" * 200)


def test_bad_settings():
    with pytest.raises(ParameterError, match="sampling_rate_hz"):
        EyeLinkTracker(G, sampling_rate_hz=300)
    with pytest.raises(ParameterError, match="edf"):
        EyeLinkTracker(G, edf="toolongname.EDF")
