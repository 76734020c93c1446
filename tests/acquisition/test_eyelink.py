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
    tr = EyeLinkTracker(G, address="dummy", sampling_rate_hz=500, eyes="L", edf="P01S1.EDF")
    tr.connect()
    t = tr.send_message("TRIALID 1")
    assert t > 0 and tr.tracker_time_ms() >= t
    tr.start_recording()
    assert tr.newest_samples() == [] and tr.calibration_samples(640, 512, 50) == []
    assert tr.drift_correct(640, 512) is None  # not measured: dummy mode has no tracker to report one
    tr.stop_recording()
    assert tr.fetch_data_file(tmp_path) is None  # dummy mode transfers no EDF
    tr.close()
    with pytest.raises(ParameterError, match="130"):
        t2 = EyeLinkTracker(G, address="dummy")
        t2.connect()
        t2.send_message("x" * 200)


def test_bad_settings():
    with pytest.raises(ParameterError, match="sampling_rate_hz"):
        EyeLinkTracker(G, sampling_rate_hz=300)
    with pytest.raises(ParameterError, match="edf"):
        EyeLinkTracker(G, edf="toolongname.EDF")


def _fake_edf2asc(folder, asc_text: str, *, fail: bool = False):
    """A stand-in for SR Research's edf2asc: writes the given ASC text beside the EDF."""
    folder.mkdir(exist_ok=True)
    script = folder / "edf2asc"
    body = (
        "echo 'EDF file is corrupt' >&2; exit 3" if fail else f"/bin/cat > \"${{2%.edf}}.asc\" <<'ASC'\n{asc_text}ASC"
    )
    script.write_text(f"#!/bin/sh\n{body}\n")
    script.chmod(0o755)
    return script


def test_convert_edf_with_edf2asc_and_without(tmp_path, monkeypatch):
    from gazelab.acquisition.trackers.eyelink import convert_edf
    from gazelab.errors import GazelabError
    from gazelab.preprocessing import read_asc
    from tests.conftest import HEADER, block

    edf = tmp_path / "P01S1.edf"
    edf.write_bytes(b"not really an EDF")
    monkeypatch.delenv("GAZELAB_EDF2ASC", raising=False)
    monkeypatch.setenv("PATH", str(tmp_path / "nowhere"))
    assert convert_edf(edf) is None  # no converter installed: the EDF stays
    samples = "".join(f"{t}\t 512.0\t 384.0\t 1000.0\t...\n" for t in range(1000, 1020, 2))
    asc_text = HEADER + block() + samples + "END\t1020 \tSAMPLES\tEVENTS\tRES\t 38.0\t 38.0\n"
    tool = _fake_edf2asc(tmp_path, asc_text)
    asc = convert_edf(edf, edf2asc=str(tool))
    assert asc == tmp_path / "P01S1.asc"
    assert len(read_asc(asc).samples) == 10
    monkeypatch.setenv("GAZELAB_EDF2ASC", str(_fake_edf2asc(tmp_path / "x", "", fail=True)))
    asc.unlink()
    with pytest.raises(GazelabError, match="EDF file is corrupt"):
        convert_edf(edf)
