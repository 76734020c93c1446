"""The comparison runner on a tiny dataset: report files, baselines on the ceiling's footing, resuming."""

import json

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch", reason="the comparison runner needs the torch extra")
pytest.importorskip("matplotlib", reason="the comparison report needs the analysis extra")

from gazelab.analysis import compare as compare_mod  # noqa: E402
from gazelab.analysis.compare import compare  # noqa: E402
from gazelab.analysis.stats import alignment_performance_correlation, bootstrap_ci  # noqa: E402
from gazelab.errors import ParameterError  # noqa: E402

METRICS = ("cc", "nss", "kld", "sim", "auc_judd", "auc_shuffled")
RUN = {"model": "resnet18", "method": "gradcam", "batch_size": 4, "input_size": (64, 64), "bootstrap": 200}


@pytest.fixture(scope="module")
def report(scene_h5, tmp_path_factory):
    return compare(scene_h5, out=tmp_path_factory.mktemp("rep") / "report", **RUN)


def test_report_files_and_tables(report):
    out = report.out
    for name in ("run.json", "per_stimulus.csv", "per_stimulus.parquet", "summary.json", "summary.csv"):
        assert (out / name).is_file(), name
    for name in ("overlays_best", "overlays_worst", "distributions", "scores"):
        png = report.figures[name]
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000, name
    table = pd.read_csv(out / "per_stimulus.csv", dtype={"stimulus": str})
    assert list(table["stimulus"]) == ["001", "002", "003", "004", "005", "006"]
    assert table["n_observers"].eq(3).all() and table["score_width_px"].tolist() == [128, 96, 96, 120, 112, 128]
    for source in ("model", "centre_bias", "ceiling"):
        for m in METRICS:
            assert np.isfinite(table[f"{source}_{m}"]).all(), (source, m)
    pd.testing.assert_frame_equal(pd.read_parquet(out / "per_stimulus.parquet"), report.table, check_dtype=False)
    summary = json.loads((out / "summary.json").read_text())
    cc = summary["metrics"]["cc"]
    assert summary["n_stimuli"] == 6 and summary["run"]["layer"] == "layer4"
    # observers look at a bright square: they agree with each other far better than the centre bias
    assert cc["ceiling"]["mean"] > cc["centre_bias"]["mean"] + 0.3
    for source in ("model", "centre_bias", "ceiling"):
        r = cc[source]
        assert r["ci_low"] <= r["mean"] <= r["ci_high"] and r["n"] == 6
    m, cb, ce = (table[f"{s}_cc"].mean() for s in ("model", "centre_bias", "ceiling"))
    assert cc["normalised"]["mean"] == pytest.approx((m - cb) / (ce - cb))
    assert report.score("cc", "model")[0] == pytest.approx(m)
    assert "human ceiling" in report.text()


def test_an_interrupted_run_resumes_where_it_stopped(report, scene_h5, tmp_path, monkeypatch):
    out = tmp_path / "resumed"
    real = compare_mod._score_batch
    calls = []

    def flaky(*args, **kwargs):
        calls.append(len(args[1]))
        if len(calls) == 2:
            raise KeyboardInterrupt
        return real(*args, **kwargs)

    monkeypatch.setattr(compare_mod, "_score_batch", flaky)
    with pytest.raises(KeyboardInterrupt):
        compare(scene_h5, out=out, **RUN)
    partial = pd.read_csv(out / "per_stimulus.csv")
    assert partial["index"].tolist() == [0, 1, 2, 3] and not (out / "summary.json").exists()
    calls.clear()
    again = compare(scene_h5, out=out, **RUN)
    assert calls == [2] and (again.n_resumed, again.n_scored) == (4, 2)
    pd.testing.assert_frame_equal(again.table, report.table, check_dtype=False)
    with pytest.raises(ParameterError, match=r"method='gradcam'.*now 'gradcampp'"):
        compare(scene_h5, out=out, **{**RUN, "method": "gradcampp"})


def test_benchmark_footing_cache_and_option_errors(scene_h5, tmp_path):
    cache = tmp_path / "cache.csv"
    rep = compare(
        scene_h5, out=tmp_path / "all", footing="all", method="cam", metrics=("cc", "nss"), bootstrap=0,
        baseline_cache=cache, **{k: v for k, v in RUN.items() if k not in ("method", "bootstrap")},
    )  # fmt: skip
    assert not any(c.startswith("ceiling_") for c in rep.table) and cache.is_file()
    assert set(rep.summary["source"]) == {"model", "centre_bias", "model_minus_centre_bias"}
    assert rep.table["n_observers"].isna().all()
    cached = pd.read_csv(cache)
    np.testing.assert_allclose(cached.sort_values("row")["centre_bias_cc"], rep.table["centre_bias_cc"])
    with pytest.raises(ParameterError, match="footing"):
        compare(scene_h5, out=tmp_path / "x", model="resnet18", footing="some")
    with pytest.raises(ParameterError, match=r"metrics: \['ssim'\]"):
        compare(scene_h5, out=tmp_path / "x", model="resnet18", metrics=("ssim",))
    with pytest.raises(ParameterError, match="layer: 'layer9'"):
        compare(scene_h5, out=tmp_path / "x", model="resnet18", layer="layer9")


def test_bootstrap_ci():
    rng = np.random.default_rng(1)
    x = rng.normal(2.0, 1.0, 400)
    ci = bootstrap_ci(x, n_boot=1000, seed=3)
    half = 1.96 / np.sqrt(400)
    assert ci.estimate == pytest.approx(x.mean()) and ci.high - ci.low == pytest.approx(2 * half, rel=0.15)
    assert bootstrap_ci(x, n_boot=1000, seed=3) == ci  # reproducible
    paired = bootstrap_ci(np.c_[x, x + 1.0], lambda a: float(np.mean(a[:, 1] - a[:, 0])), n_boot=200)
    assert paired.low == pytest.approx(1.0) and paired.high == pytest.approx(1.0)
    assert np.isnan(bootstrap_ci([5.0]).low)
    with pytest.raises(ParameterError, match="confidence"):
        bootstrap_ci(x, confidence=95)


def test_alignment_performance_correlation(tmp_path):
    table = pd.DataFrame({"cc": [0.1, 0.2, 0.3, 0.4, 0.5, 0.6], "accuracy": [0.5, 0.55, 0.62, 0.6, 0.7, 0.75]})
    r = alignment_performance_correlation(table, n_boot=500)
    assert r.rho == pytest.approx(0.942857, abs=1e-5) and r.n == 6 and r.low <= r.rho <= r.high <= 1.0
    path = tmp_path / "runs.csv"
    table.assign(accuracy=-table["accuracy"]).to_csv(path, index=False)
    assert alignment_performance_correlation(path, n_boot=100).rho == pytest.approx(-r.rho)
    assert "Spearman rho(cc, accuracy)" in str(r)
    with pytest.raises(ParameterError, match="'top1'"):
        alignment_performance_correlation(table, performance="top1")
    with pytest.raises(ParameterError, match="at least 3"):
        alignment_performance_correlation(table.head(2))
