"""Dataset card (offline HTML + Hugging Face README) and gaze plots, on real and synthetic data."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pytest
import yaml
from click.testing import CliRunner
from PIL import Image

from gazelab.analysis.card import write_card
from gazelab.analysis.plots import plot
from gazelab.cli import cli
from gazelab.errors import ParameterError


@pytest.fixture(scope="module")
def asc_release(tmp_path_factory: pytest.TempPathFactory, eyelink_dir: Path) -> Path:
    """A release built from two real binocular EyeLink files (stand-in stimuli): it has /quality."""
    from gazelab.datasets import build_dataset

    out = tmp_path_factory.mktemp("ascrel") / "rel.h5"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        build_dataset(
            [eyelink_dir / "bino500.asc.gz", eyelink_dir / "bino250.asc.gz"],
            out,
            screen_cm=(40.0, 30.0),
            distance_cm=60.0,
            stand_in=True,
            progress=False,
        )
    return out


def _check_page(folder: Path) -> str:
    page = (folder / "index.html").read_text()
    assert "http://" not in page and "https://" not in page.replace("https://github.com", "")  # nothing fetched
    for src in re.findall(r"<img src='([^']+)'", page):
        with Image.open(folder / src) as im:
            assert im.format == "PNG"
    return page


def test_card_of_an_imported_release(scene_h5, tmp_path):
    meta = {"title": "Scene test", "version": "2.1", "licence": "MIT", "citation": "Someone 2024"}
    rep = write_card(scene_h5, tmp_path / "card", meta=meta, n_grid=3, progress=False)
    page = _check_page(tmp_path / "card")
    assert "6 stimuli" in page and "3 observers" in page and "version 2.1" in page
    assert "Not measured" in page and "inter-observer ceiling" in page and "Someone 2024" in page
    assert "Gaussian sigma" in page and rep.page_bytes > 0
    readme = (tmp_path / "card" / "README.md").read_text()
    front = yaml.safe_load(readme.split("---")[1])
    assert front["license"] == "mit" and front["pretty_name"] == "Scene test" and "eye-tracking" in front["tags"]
    with pytest.raises(ParameterError, match="--overwrite"):
        write_card(scene_h5, tmp_path / "card", meta=meta)


def test_card_shows_per_observer_quality_and_renders_in_chromium(asc_release, tmp_path, render_page):
    out = tmp_path / "card"
    r = CliRunner().invoke(cli, ["card", str(asc_release), "--out", str(out), "--grid", "2"])
    assert r.exit_code == 0, r.output
    page = _check_page(out)
    assert "1 stimuli" in page and "2 observers" in page  # one stand-in screen image, two real recordings
    assert "bino500" in page and "bino250" in page and "data loss (mean)" in page  # per-observer quality
    if render_page is None:
        pytest.skip("chromium is not installed (apt-get install chromium): browser check skipped")
    shot = tmp_path / "artefacts" / "card.png"
    result = render_page(out / "index.html", shot)
    assert result["errors"] == [] and result["broken_images"] == []
    assert result["n_images"] == page.count("<img ") >= 2
    with Image.open(shot) as im:
        assert im.size[1] > 1500  # the whole page, not a blank viewport
    print(f"card screenshot: {shot}")


@pytest.mark.parametrize("kind", ["heatmap", "scanpath", "timeline"])
def test_plots_of_a_real_recording(eyelink_dir, tmp_path, kind):
    out = plot(
        eyelink_dir / "mono1000.asc.gz",
        tmp_path / f"{kind}.png",
        kind=kind,
        trial="1",
        screen_cm=(40.0, 30.0),
        distance_cm=60.0,
    )
    with Image.open(out) as f:
        im = np.asarray(f.convert("L"), dtype=float)
    assert im.shape[1] >= 800 and im.std() > 10  # a drawn figure, not a blank canvas


def test_plots_of_a_release_and_errors(scene_h5, tmp_path):
    for kind in ("heatmap", "scanpath"):
        r = CliRunner().invoke(
            cli, ["plot", str(scene_h5), "--kind", kind, "--stimulus", "002", "--out", str(tmp_path / f"{kind}.png")]
        )
        assert r.exit_code == 0, r.output
    r = CliRunner().invoke(cli, ["plot", str(scene_h5), "--kind", "timeline", "--out", str(tmp_path / "t.png")])
    assert r.exit_code == 1 and "--with-samples" in r.output
    r = CliRunner().invoke(
        cli, ["plot", str(scene_h5), "--kind", "heatmap", "--stimulus", "nope", "--out", str(tmp_path / "x.png")]
    )
    assert r.exit_code == 1 and "stimulus id or row" in r.output
