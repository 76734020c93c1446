"""The main job end to end: `gazelab demo` on the embedded default (short settings, as CI runs it)."""

import json

import pandas as pd
import pytest
from click.testing import CliRunner

from gazelab.cli import cli
from gazelab.demo import run_demo
from gazelab.errors import GazelabError


def test_demo_runs_every_stage_and_writes_a_report(tmp_path, render_page):
    pytest.importorskip("efficientnet_lite_pytorch")
    lines = []
    summary = run_demo(tmp_path / "demo", participants=2, stimulus_ms=600, align_epochs=1, echo=lines.append)
    out = tmp_path / "demo"
    assert summary == out / "report" / "summary.md"
    text = summary.read_text()
    for heading in ("Sessions", "Dataset", "PyTorch loader", "Model vs real human attention", "Alignment training"):
        assert heading in text
    sessions = sorted(out.glob("sessions/sub-*/ses-*"))
    assert len(sessions) == 2
    for s in sessions:
        meta = json.loads((s / "session.json").read_text())
        assert meta["status"] == "complete" and meta["n_samples"] > 1000
    assert (out / "demo.h5").is_file()
    table = pd.read_csv(out / "report" / "compare" / "per_stimulus.csv")
    assert len(table) == 24 and table["model_cc"].notna().all()  # the real NUS scene slice
    assert "| metric | model | centre bias | ceiling | normalised |" in text and "Measured order" in text
    assert "model_minus_centre_bias" not in text  # the raw dump is gone
    for name in ("scanpaths.png", "alignment.png", "trial-1.png", "validation-1.png"):
        assert (out / "report" / "figures" / name).stat().st_size > 5000
    for run in ("without-alignment", "with-alignment"):
        assert len(pd.read_csv(out / "align" / run / "metrics.csv")) == 2
    assert any("report:" in line for line in lines)
    page = out / "report" / "index.html"
    assert "Model vs real human attention" in page.read_text() and "12 observers" in page.read_text()
    if render_page is not None:  # the same browser check as the dataset card
        result = render_page(page, tmp_path / "artefacts" / "demo-report.png")
        assert result["errors"] == [] and result["broken_images"] == [] and result["n_images"] >= 5
    with pytest.raises(GazelabError, match="already holds a demo"):
        run_demo(out, echo=lines.append)


def test_demo_command_refuses_an_existing_demo_folder(tmp_path):
    (tmp_path / "d" / "report").mkdir(parents=True)
    r = CliRunner().invoke(cli, ["demo", "--out", str(tmp_path / "d")])
    assert r.exit_code == 1 and "already holds a demo" in r.output
