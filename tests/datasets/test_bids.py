"""BIDS eye-tracking export of real recordings."""

import gzip
import json

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from gazelab.cli import cli
from gazelab.datasets.exporters import export_bids
from gazelab.errors import ParameterError
from gazelab.geometry import Geometry
from tests.conftest import read_quietly

G = Geometry(1024, 768, 40.0, 30.0, 60.0)


def _read_tsv(path):
    with gzip.open(path, "rt") as fh:
        return pd.read_csv(fh, sep="\t", header=None, na_values="n/a")


def test_binocular_export(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "bino500.asc.gz")
    files = export_bids(rec, G, tmp_path, subject="07", task="saccade")
    names = sorted(p.name for p in files)
    assert "sub-07_task-saccade_recording-eye1_physio.tsv.gz" in names
    assert "sub-07_task-saccade_recording-eye2_physio.json" in names
    beh = tmp_path / "sub-07" / "beh"
    for k, eye in ((1, "left"), (2, "right")):
        meta = json.loads((beh / f"sub-07_task-saccade_recording-eye{k}_physio.json").read_text())
        assert meta["PhysioType"] == "eyetrack" and meta["RecordedEye"] == eye
        assert meta["SamplingFrequency"] == 500.0 and meta["Columns"][:3] == [
            "timestamp",
            "x_coordinate",
            "y_coordinate",
        ]
        data = _read_tsv(beh / f"sub-07_task-saccade_recording-eye{k}_physio.tsv.gz")
        assert len(data) == rec.n_samples
        np.testing.assert_allclose(data[0], rec.samples["time_ms"])
        np.testing.assert_allclose(data[1], rec.samples[f"x_{eye}_px"], equal_nan=True)
        ev = _read_tsv(beh / f"sub-07_task-saccade_recording-eye{k}_physioevents.tsv.gz")
        assert (ev[2] == "fixation").sum() == (
            (rec.events["type"] == "fixation") & (rec.events["eye"] == eye[0].upper())
        ).sum()
        assert (ev[2] == "message").sum() == len(rec.messages)
        assert "AverageCalibrationError" in meta and meta["MaximalCalibrationError"] >= meta["AverageCalibrationError"]
    pres = json.loads((beh / "sub-07_task-saccade_events.json").read_text())["StimulusPresentation"]
    assert (
        pres["ScreenSize"] == [0.4, 0.3] and pres["ScreenDistance"] == 0.6 and pres["ScreenResolution"] == [1024, 768]
    )
    events = pd.read_csv(beh / "sub-07_task-saccade_events.tsv", sep="\t")
    assert list(events.columns) == ["onset", "duration", "trial_type", "stim_file"] and len(events) == 4
    desc = json.loads((tmp_path / "dataset_description.json").read_text())
    assert desc["BIDSVersion"] == "1.11.0"


def test_labels_and_cli(eyelink_dir, tmp_path):
    rec = read_quietly(eyelink_dir / "mono250.asc.gz")
    with pytest.raises(ParameterError, match="subject"):
        export_bids(rec, G, tmp_path, subject="01_a")
    r = CliRunner().invoke(
        cli,
        [
            "export",
            "bids",
            str(eyelink_dir / "mono250.asc.gz"),
            "--subject",
            "01",
            "--session",
            "2",
            "--screen-cm",
            "40",
            "30",
            "--distance-cm",
            "60",
            "--out",
            str(tmp_path / "b"),
        ],
    )
    assert r.exit_code == 0, r.output
    assert (
        tmp_path / "b" / "sub-01" / "ses-2" / "beh" / "sub-01_ses-2_task-freeview_recording-eye1_physio.tsv.gz"
    ).exists()
    r = CliRunner().invoke(cli, ["export", "bids", str(eyelink_dir / "mono250.asc.gz"), "--out", str(tmp_path / "c")])
    assert r.exit_code == 1 and "--subject" in r.output
