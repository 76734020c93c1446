"""EDF files on the command line, and the EDF as a session folder's authoritative record.

A session folder is made as a session makes it (SessionWriter, the simulated tracker's link
samples); one of eyelinkio's real EDF files is then placed in it and named in session.json, as
the runner does after the EDF transfer (``tracker_data_file``).
"""

from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest
from click.testing import CliRunner

from gazelab.acquisition.session import SessionWriter, session_dir
from gazelab.acquisition.trackers import SimulatedTracker
from gazelab.cli import cli
from gazelab.preprocessing import read
from gazelab.preprocessing.readers import read_session
from tests.acquisition.test_session import META, G, record

GEOMETRY = ["--screen-cm", "53", "30", "--distance-cm", "60"]


def _session(tmp_path: Path, edf: Path | None) -> Path:
    folder = session_dir(tmp_path, "P01", 1)
    tr = SimulatedTracker(G, sampling_rate_hz=500.0, seed=3)
    tr.connect()
    with SessionWriter(folder, {**META, "sampling_rate_hz": 500.0, "tracker": "eyelink"}, eyes="L") as w:
        w.message("TRIALID 1", tr.send_message("TRIALID 1"))
        record(tr, w, 0.3)
        w.message("TRIAL_RESULT 0", tr.send_message("TRIAL_RESULT 0"))
        if edf is not None:  # what the runner does after receiveDataFile
            shutil.copyfile(edf, folder / "P01S1.EDF")
            w.update_metadata(tracker_data_file="P01S1.EDF")
    return folder


def test_cli_info_and_fixations_read_edf_files(edf_dir, tmp_path):
    runner = CliRunner()
    r = runner.invoke(cli, ["info", str(edf_dir / "test_raw_binocular.edf")])
    assert r.exit_code == 0, r.output
    assert "eyelink-edf" in r.output and "99823" in r.output and "loadEvents" not in r.output
    out = tmp_path / "fix.csv"
    r = runner.invoke(
        cli, ["fixations", str(edf_dir / "test_2_raw.edf"), *GEOMETRY, "--against-tracker", "--out", str(out)]
    )
    assert r.exit_code == 0, r.output
    assert "124740 samples at 1000 Hz, eyes L" in r.output and "agreement with the tracker" in r.output
    assert out.is_file()
    bad = tmp_path / "cut.edf"
    bad.write_bytes((edf_dir / "test_raw.edf").read_bytes()[:500_000])
    r = runner.invoke(cli, ["fixations", str(bad), *GEOMETRY, "--out", str(tmp_path / "no.csv")])
    assert r.exit_code == 1 and not (tmp_path / "no.csv").exists()
    assert r.output.count("\n") == 1 and str(bad) in r.output and "truncated" in r.output


def test_cli_build_from_an_edf_file(edf_dir, tmp_path):
    out = tmp_path / "d.h5"
    r = CliRunner().invoke(cli, ["build", str(edf_dir / "test_raw.edf"), "--stand-in", *GEOMETRY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "1 sessions" in r.output and "20 trials" in r.output and out.is_file()


def test_a_session_with_its_edf_reads_the_edf_and_says_so(edf_dir, tmp_path):
    folder = _session(tmp_path, edf_dir / "test_raw.edf")
    with pytest.warns(UserWarning, match=r"using the EDF file P01S1.EDF \(authoritative\); the link samples"):
        rec = read(folder)
    assert rec.format == "eyelink-edf" and rec.n_samples == 66827 and rec.sampling_rate_hz == 1000.0
    assert rec.metadata["participant"] == "P01" and rec.metadata["session_record"] == "P01S1.EDF"
    link = read_session(folder, use_edf=False)  # the backup, read as before
    assert link.format == "gazelab-session" and link.sampling_rate_hz == 500.0 and link.n_samples > 100

    runner = CliRunner()
    r = runner.invoke(cli, ["fixations", str(folder), *GEOMETRY, "--algorithm", "eyelink"])
    assert r.exit_code == 0, r.output
    assert "using the EDF file P01S1.EDF (authoritative)" in r.output and "66827 samples at 1000 Hz" in r.output
    out = tmp_path / "s.h5"
    r = runner.invoke(cli, ["build", str(folder), "--stand-in", *GEOMETRY, "--out", str(out)])
    assert r.exit_code == 0, r.output
    assert "20 trials" in r.output and "using the EDF file P01S1.EDF (authoritative)" in r.output


def test_a_session_without_a_readable_edf_uses_the_link_samples(edf_dir, tmp_path):
    folder = _session(tmp_path / "a", None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        rec = read(folder)
    assert rec.format == "gazelab-session"
    broken = _session(tmp_path / "b", edf_dir / "test_raw.edf")
    (broken / "P01S1.EDF").write_bytes(b"SR_RESEARCH_1000FILE\n")  # a transfer cut short
    with pytest.warns(UserWarning, match="the EDF file cannot be read .*truncated.*; using the link samples"):
        rec = read(broken)
    assert rec.format == "gazelab-session" and rec.sampling_rate_hz == 500.0
    r = CliRunner().invoke(cli, ["fixations", str(broken), *GEOMETRY])
    assert r.exit_code == 0 and "using the link samples" in r.output and "500 Hz" in r.output
