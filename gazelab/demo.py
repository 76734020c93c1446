"""The main job, end to end, on the embedded default: no network, no hardware, no data to fetch.

``gazelab demo --out DIR`` runs every stage of the path from the lab to the model:

1. **acquisition**: generated scene stimuli and an experiment file; short recording sessions
   of simulated observers (the experiment runner with its calibration, validation, drift
   checks and crash-safe session folders; a headless display stands in for the PsychoPy
   window, so no screen is needed), run side by side;
2. **preprocessing + datasets**: fixations (I-VT) and Gaussian saliency maps, written as a
   gazelab HDF5 dataset and validated;
3. **PyTorch**: the dataset served through a ``GazeDataset`` and a two-worker ``DataLoader``;
4. **analysis, on real human gaze**: the slice of the NUS scene dataset shipped with gazelab
   (24 photographs, 12 real observers' fixations, MIT licence; ``gazelab/data/nus_scene_slice``)
   is imported as a release, and the pretrained EfficientNet-Lite0's Grad-CAM attention is
   compared with those observers' maps, between the centre-bias baseline and the
   inter-observer ceiling;
5. **models**: a short alignment run on the simulated dataset: the pretrained model's CAM
   aligned with the pyramid loss while distilling its own soft predictions (``labels="teacher"``),
   with and without the alignment loss. (The Neural Harmonizer's own recipe aligns gradient
   saliency: ``gazelab align --recipe harmonizer``; see docs/models.md.)

Everything lands in ``DIR``; ``DIR/report/index.html`` is one offline page (the card of the
real-gaze release, the comparison, the alignment curves), ``DIR/report/summary.md`` the same in
text, with figures in ``DIR/report/figures`` and ``DIR/report/card/figures``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab.errors import GazelabError
from gazelab.geometry import Geometry

__all__ = ["DEMO_GEOMETRY", "NUS_SLICE", "comparison_table", "run_demo"]

#: The real-gaze slice shipped as package data (NUS scene layout, MIT licence beside it).
NUS_SLICE = Path(__file__).resolve().parent / "data" / "nus_scene_slice"

#: The demo's screen: 1280 x 1024 px, 37.5 x 30 cm, viewed from 60 cm.
DEMO_GEOMETRY = Geometry(1280, 1024, 37.5, 30.0, 60.0)

_EXPERIMENT = """# gazelab demo: free viewing of generated scenes, simulated observers
name: gazelab-demo
screen: {{width_px: 1280, height_px: 1024, width_cm: 37.5, height_cm: 30.0, distance_cm: 60.0, refresh_hz: 60}}
stimuli: {{folder: stimuli/}}
placement: fit
timing: {{fixation_cross_ms: 300, stimulus_ms: {stimulus_ms}, inter_trial_ms: 200}}
order: random
seed: null
instructions: |
  Look at the pictures freely.

  Press SPACE to start.
calibration: {{points: 9, validation_threshold_deg: 1.0, max_error_deg: 1.5, max_attempts: 2}}
drift_check_every: 4
tracker: {{backend: simulated, sampling_rate_hz: 500, eye: R}}
output: sessions/
"""


@contextlib.contextmanager
def _stage(echo: Callable[[str], None], times: dict[str, float], name: str) -> Iterator[None]:
    """Announce a stage, and on leaving it without error record and report its time (s)."""
    t0 = time.perf_counter()
    echo(f"[{name}] ...")
    yield
    times[name] = time.perf_counter() - t0
    echo(f"[{name}] done in {times[name]:.1f} s")


def _sessions(root: Path, n_participants: int, stimulus_ms: int, seed: int, figures: Path, echo) -> list[Path]:
    from PIL import Image

    from gazelab.acquisition import load_config
    from gazelab.acquisition.display import HeadlessDisplay
    from gazelab.acquisition.runner import run_session
    from gazelab.acquisition.simulated_observer import synthetic_scene

    stim = root / "experiment" / "stimuli"
    stim.mkdir(parents=True, exist_ok=True)
    for k in range(12):
        Image.fromarray(synthetic_scene(seed * 1000 + k)).save(stim / f"scene{k + 1:02d}.png")
    yaml_path = root / "experiment" / "demo.yaml"
    yaml_path.write_text(_EXPERIMENT.format(stimulus_ms=stimulus_ms))
    config = load_config(yaml_path)
    folders: list[Path | None] = [None] * n_participants
    errors: list[BaseException] = []

    def one(i: int) -> None:
        try:
            shots = figures if i == 0 else None
            display = HeadlessDisplay(config.geometry, screenshot_dir=shots)
            folders[i] = run_session(
                config,
                f"S{i + 1:02d}",
                1,
                tracker="simulated",
                out=root / "sessions",
                display=display,
                screenshot_dir=shots,
                echo=(echo if i == 0 else (lambda _m: None)),
            )
        except BaseException as exc:  # reported after the join
            errors.append(exc)

    threads = [threading.Thread(target=one, args=(i,), name=f"session-{i + 1}") for i in range(n_participants)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    if errors:
        raise errors[0]
    return [f for f in folders if f is not None]


def _scanpaths(dataset: Path, path: Path) -> None:
    import h5py
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from gazelab.datasets import schema

    with h5py.File(dataset, "r") as f:
        n = min(3, len(f["stimuli/id"]))
        fig, axes = plt.subplots(1, n, figsize=(5 * n, 4.2), squeeze=False)
        offsets = f["fixations/stimulus_offsets"][()]
        for k, ax in enumerate(axes[0]):
            img = schema.decode_image(f[schema.image_path(k)][()])
            sal = f[schema.map_path(k)][()]
            a, b = offsets[k], offsets[k + 1]
            x, y = f["fixations/x_px"][a:b], f["fixations/y_px"][a:b]
            obs, dur = f["fixations/observer"][a:b], f["fixations/duration_ms"][a:b]
            ax.imshow(img)
            ax.imshow(sal, cmap="inferno", alpha=0.45)
            for o in np.unique(obs):
                m = obs == o
                ax.plot(x[m], y[m], "-o", lw=1, ms=3, alpha=0.8, label=f"observer {o + 1}")
            ax.scatter(x, y, s=dur / 8, facecolors="none", edgecolors="white", linewidths=0.6)
            ax.set_title(f"{f['stimuli/id'].asstr()[k]}: {b - a} fixations")
            ax.axis("off")
        axes[0][0].legend(loc="lower left", fontsize=7)
        fig.suptitle("Simulated observers' scanpaths and the saliency map (sigma 1 deg)")
        fig.tight_layout()
        fig.savefig(path, dpi=110)
        plt.close(fig)


def _loader_pass(dataset: Path) -> dict[str, Any]:
    import torch

    from gazelab.datasets import GazeDataset, collate_gaze
    from gazelab.datasets.transforms import JointResize

    ds = GazeDataset(dataset, transforms=JointResize((224, 224)), targets=("saliency", "fixations", "stimulus"))
    loader = torch.utils.data.DataLoader(ds, batch_size=4, num_workers=2, collate_fn=collate_gaze)
    t0 = time.perf_counter()
    n, shapes = 0, None
    for batch in loader:
        n += len(batch["image"])
        shapes = (tuple(batch["image"].shape), tuple(batch["saliency"].shape), tuple(batch["fixations"].shape))
    dt = time.perf_counter() - t0
    return {"items": n, "seconds": round(dt, 2), "first_batch_shapes": shapes}


def _alignment_figure(histories: dict[str, pd.DataFrame], path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(9, 3.6))
    for name, h in histories.items():
        axes[0].plot(h["epoch"], h["val_accuracy"], "-o", label=name)
        axes[1].plot(h["epoch"], h["val_cc"], "-o", label=name)
    axes[0].set(xlabel="epoch", ylabel="agreement with original predictions", title="task (held-out)")
    axes[1].set(xlabel="epoch", ylabel="CC(CAM, human map)", title="alignment (held-out)")
    for ax in axes:
        ax.legend()
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def run_demo(
    out: str | Path,
    *,
    seed: int = 0,
    participants: int = 4,
    stimulus_ms: int = 1500,
    align_epochs: int = 2,
    echo: Callable[[str], None] = print,
) -> Path:
    """Run the whole pipeline on the embedded default and write a report.

    Parameters
    ----------
    out : str or Path
        Output folder (created; an existing demo folder is refused, so nothing is overwritten).
    seed : int, optional
        Seed of the stimuli (default 0); observers are seeded by their ids.
    participants : int, optional
        Simulated observers, recorded side by side (default 4).
    stimulus_ms : int, optional
        Presentation time per image, ms (default 1500; 12 images per session).
    align_epochs : int, optional
        Epochs of each alignment run (default 2).
    echo : callable, optional
        Where progress lines go.

    Returns
    -------
    Path
        ``out/report/summary.md``.

    Raises
    ------
    GazelabError
        If ``out`` already holds a demo.
    """
    out = Path(out)
    if (out / "report").exists() or (out / "sessions").exists():
        raise GazelabError(f"{out} already holds a demo; choose another --out (nothing was changed)")
    report = out / "report"
    figures = report / "figures"
    figures.mkdir(parents=True, exist_ok=True)
    run = _DemoRun()
    t_start = time.perf_counter()
    with _stage(echo, run.times, f"1/5 acquisition: {participants} simulated sessions, 12 images each"):
        run.sessions = _sessions(out, participants, stimulus_ms, seed, figures, echo)
    run.meta = [json.loads((s / "session.json").read_text()) for s in run.sessions]
    with _stage(echo, run.times, "2/5 fixations, saliency maps, HDF5 dataset"):
        dataset = _build_release(run, out, figures)
    with _stage(echo, run.times, "3/5 PyTorch dataset and loader"):
        run.loader = _loader_pass(dataset)
    with _stage(echo, run.times, "4/5 model vs real human attention (NUS scene slice, EfficientNet-Lite0 Grad-CAM)"):
        run.comp, run.card = _compare_real(out, report)
    with _stage(echo, run.times, f"5/5 alignment training ({align_epochs} epochs, with and without alignment)"):
        run.histories = _align_runs(dataset, out, align_epochs, seed)
        _alignment_figure(run.histories, figures / "alignment.png")
    run.total = time.perf_counter() - t_start
    summary = _write_summary(report, run)
    page = _write_html(report, summary, run.card, run.comp)
    echo(f"demo finished in {run.total:.0f} s; report: {page.resolve()} (text: {summary.name})")
    return summary


@dataclass
class _DemoRun:
    """What the stages found, for the report."""

    times: dict[str, float] = field(default_factory=dict)
    sessions: list[Path] = field(default_factory=list)
    meta: list[dict[str, Any]] = field(default_factory=list)
    build: Any = None
    problems: list[Any] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)
    loader: dict[str, Any] = field(default_factory=dict)
    comp: Any = None
    card: Any = None
    histories: dict[str, pd.DataFrame] = field(default_factory=dict)
    total: float = 0.0


def _build_release(run: _DemoRun, out: Path, figures: Path) -> Path:
    """The sessions' fixations and saliency maps as ``out/demo.h5``, validated and described, with
    the scanpaths figure; returns the dataset's path."""
    from gazelab.datasets import build_dataset, describe, validate

    dataset = out / "demo.h5"
    run.build = build_dataset(
        run.sessions,
        dataset,
        screen_cm=(DEMO_GEOMETRY.width_cm, DEMO_GEOMETRY.height_cm),
        distance_cm=DEMO_GEOMETRY.distance_cm,
        stimuli_dir=out / "experiment" / "stimuli",
        algorithm="ivt",
        sigma_deg=1.0,
        title="gazelab demo (simulated observers)",
        progress=False,
    )
    run.problems = validate(dataset)
    run.info = describe(dataset)
    _scanpaths(dataset, figures / "scanpaths.png")
    return dataset


def _compare_real(out: Path, report: Path) -> tuple[Any, Any]:
    """EfficientNet-Lite0's Grad-CAM against the real observers of the shipped NUS scene slice, and
    that release's card: ``(comparison report, card)``."""
    from gazelab.analysis.card import write_card
    from gazelab.analysis.compare import compare

    real = _real_slice(out)
    comp = compare(real, model="efficientnet_lite0", method="gradcam", out=report / "compare", progress=False)
    card = write_card(real, report / "card", progress=False)
    return comp, card


def _align_runs(dataset: Path, out: Path, epochs: int, seed: int) -> dict[str, pd.DataFrame]:
    """The pretrained model's CAM aligned with the pyramid loss while distilling its own predictions,
    with and without the alignment loss: each run's history by name."""
    from gazelab.models import AlignConfig, align

    histories = {}
    for name, lam in (("without alignment", 0.0), ("with alignment", 1.0)):
        cfg = AlignConfig(
            model="efficientnet_lite0",
            attention="cam",
            loss="pyramid",
            lam=lam,
            lambda_schedule="constant",
            epochs=epochs,
            batch_size=8,
            lr=1e-4,
            input_size=224,
            labels="teacher",
            augment=False,
            freeze_bn=True,
            seed=seed,
        )
        res = align(dataset, out / "align" / name.replace(" ", "-"), cfg, progress=False)
        histories[name] = res.history
    return histories


def _real_slice(out: Path) -> Path:
    """Import the shipped NUS scene slice (real observers) into ``out/nus-scene-slice.h5``."""
    from gazelab.datasets.importers import get_importer

    if not (NUS_SLICE / "fixations.mat").is_file():
        raise GazelabError(f"the real-gaze slice is missing from the installation: {NUS_SLICE}")
    path = out / "nus-scene-slice.h5"
    get_importer("nus-scene")(NUS_SLICE, path, progress=False)
    return path


#: Display names of the comparison's metrics (lower is better for KLD).
_LOWER_IS_BETTER_NOTE = "KLD: lower is better"


def _interval(row: pd.Series) -> str:
    return f"{row['mean']:.3f} [{row['ci_low']:.3f}, {row['ci_high']:.3f}]"


def comparison_table(summary: pd.DataFrame) -> pd.DataFrame:
    """The comparison as a readable table: one row per metric, model / centre bias / ceiling with intervals.

    Parameters
    ----------
    summary : pandas.DataFrame
        :attr:`gazelab.analysis.compare.ComparisonReport.summary`.

    Returns
    -------
    pandas.DataFrame
        Columns ``metric``, ``model``, ``centre bias``, ``ceiling`` (each ``mean [95 % CI]`` over
        stimuli) and ``normalised`` ((model - centre bias) / (ceiling - centre bias)), which is
        shown only where the ceiling is better than the centre bias (above it, or below it for
        a lower-is-better metric) and reads "- (ceiling not above centre bias)" otherwise.
    """
    from gazelab.analysis.figures import METRIC_LABELS

    rows = []
    for metric, g in summary.groupby("metric", sort=False):
        by = {str(r["source"]): r for _, r in g.iterrows()}
        if not {"model", "centre_bias", "ceiling"} <= set(by):
            continue
        higher = bool(by["model"].get("higher_is_better", True))
        gap = float(by["ceiling"]["mean"]) - float(by["centre_bias"]["mean"])
        better = gap > 0 if higher else gap < 0
        norm = "- (ceiling not above centre bias)"
        if better and "normalised" in by:
            norm = _interval(by["normalised"])
        rows.append(
            {
                "metric": METRIC_LABELS.get(str(metric), str(metric)),
                "model": _interval(by["model"]),
                "centre bias": _interval(by["centre_bias"]),
                "ceiling": _interval(by["ceiling"]),
                "normalised": norm,
            }
        )
    return pd.DataFrame(rows, columns=["metric", "model", "centre bias", "ceiling", "normalised"])


def _order_sentence(summary: pd.DataFrame) -> str:
    """Which order model, centre bias and ceiling came in, per metric, as measured."""
    parts = []
    for metric, g in summary.groupby("metric", sort=False):
        by = {str(r["source"]): float(r["mean"]) for _, r in g.iterrows()}
        if not {"model", "centre_bias", "ceiling"} <= set(by):
            continue
        higher = bool(g["higher_is_better"].iloc[0]) if "higher_is_better" in g else True
        names = {"model": "model", "centre_bias": "centre bias", "ceiling": "ceiling"}
        order = sorted(names, key=lambda k: by[k], reverse=higher)
        parts.append(f"{metric}: " + " > ".join(names[k] for k in order))
    return "Measured order, best first: " + "; ".join(parts) + "."


def _comparison_intro(comp: Any) -> str:
    n = int(comp.table.shape[0])
    return (
        f"{n} photographs of the NUS scene dataset with 12 real observers' fixations (the slice shipped with "
        "gazelab; MIT licence). Each observer is held out in turn; the model's Grad-CAM map, the dataset's "
        "centre-bias Gaussian and the other observers' map (ceiling) are scored against them. Mean over "
        f"stimuli with 95 % bootstrap intervals; {_LOWER_IS_BETTER_NOTE}."
    )


def _markdown(df: pd.DataFrame) -> str:
    lines = ["| " + " | ".join(df.columns) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(str(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


def _html_table(df: pd.DataFrame) -> str:
    import html

    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in df.columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{html.escape(str(v))}</td>" for v in r) + "</tr>" for r in df.itertuples(index=False)
    )
    return f"<table><tr>{head}</tr>{body}</table>"


def _write_html(report: Path, summary_md: Path, card: Any, comp: Any) -> Path:
    """``report/index.html``: the real-gaze release's card, the comparison and the alignment curves."""
    import html
    import os

    from gazelab.analysis.card import card_body, html_page

    figs = [Path(p) for p in comp.figures.values()]
    rel = [os.path.relpath(p, report) for p in figs]
    body = [
        "<h1>gazelab demo</h1>",
        "<p>Simulated observers show the acquisition path (sessions, HDF5 release, PyTorch loader, alignment "
        "training); the model is compared with <b>real human gaze</b>. Full text report: "
        f"<code>{html.escape(summary_md.name)}</code>.</p>",
        "<h2>Model vs real human attention</h2>",
        f"<p>{html.escape(_comparison_intro(comp))}</p>",
        _html_table(comparison_table(comp.summary)),
        f"<p>{html.escape(_order_sentence(comp.summary))}</p>",
        *(f"<img src='{html.escape(r)}' alt='{html.escape(p.stem)}'>" for r, p in zip(rel, figs, strict=True)),
        "<h2>Alignment training (simulated dataset, held-out images)</h2>",
        "<img src='figures/alignment.png' alt='alignment curves'>",
        "<p class=note>With a dozen images this run shows the machinery, not an effect.</p>",
        card_body(card, prefix="card/"),
    ]
    path = report / "index.html"
    path.write_text(html_page("gazelab demo", "\n".join(body)), encoding="utf-8")
    return path


def _fmt_row(values: dict[str, Any], keys: list[str]) -> str:
    def cell(k: str) -> str:
        v = values.get(k, "")
        if k == "epoch":
            return str(int(v))
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    return " | ".join(cell(k) for k in keys)


def _write_summary(report: Path, run: _DemoRun) -> Path:
    """``report/summary.md``: every stage's results as text."""
    sessions, meta, build, problems, info = run.sessions, run.meta, run.build, run.problems, run.info
    loader, comp, histories, times, total = run.loader, run.comp, run.histories, run.times, run.total
    lines = ["# gazelab demo report", "", f"Whole pipeline in {total:.0f} s (stage times below).", ""]
    lines += ["## 1. Sessions (simulated observers, headless runner)", ""]
    lines += ["| session | status | samples | validation |", "|---|---|---|---|"]
    for s, m in zip(sessions, meta, strict=True):
        cal_file = s / "calibration.json"
        cal = json.loads(cal_file.read_text())["validations"][-1] if cal_file.exists() else {}
        val = f"{cal.get('grade', '?')} (mean {cal.get('mean_error_deg', float('nan')):.2f} deg)" if cal else "-"
        lines.append(f"| {s.parent.name}/{s.name} | {m.get('status', '?')} | {m.get('n_samples', '?')} | {val} |")
    lines += ["", "Screens the runner drew: `figures/validation-1.png`, `figures/trial-1.png`.", ""]
    lines += ["## 2. Dataset", ""]
    errors = [str(p) for p in problems if p.severity == "error"]
    lines.append(
        f"`{build.path.name}`: {build.stimuli} stimuli, {build.observers} observers, {build.fixations} fixations "
        f"(I-VT), validator: {'no errors' if not errors else '; '.join(errors)}; "
        f"{info.get('size_mb', '?')} MB. Scanpaths: `figures/scanpaths.png`."
    )
    lines += ["", "## 3. PyTorch loader", ""]
    lines.append(
        f"GazeDataset + DataLoader (2 workers, 224 px): {loader['items']} items in {loader['seconds']} s; "
        f"batch shapes (image, saliency, fixations) {loader['first_batch_shapes']}."
    )
    lines += ["", "## 4. Model vs real human attention (NUS scene slice, EfficientNet-Lite0 Grad-CAM)", ""]
    lines += [_comparison_intro(comp), "", _markdown(comparison_table(comp.summary)), ""]
    lines += [_order_sentence(comp.summary), ""]
    lines += [f"Figures: {', '.join(f'`compare/{Path(p).name}`' for p in comp.figures.values())}.", ""]
    lines += ["## 5. Alignment training (held-out images)", ""]
    keys = ["epoch", "lambda", "val_accuracy", "val_cc", "val_nss", "val_spearman"]
    lines += ["| run | " + " | ".join(keys) + " |", "|---" * (len(keys) + 1) + "|"]
    for name, h in histories.items():
        for _, row in h.iterrows():
            lines.append(f"| {name} | " + _fmt_row(row.to_dict(), keys) + " |")
    lines += [
        "",
        "val_accuracy is the agreement with the model's own predictions before fine-tuning; with a dozen "
        "images this run shows the machinery, not an effect (see docs/models.md for the experiments).",
        "Figure: `figures/alignment.png`.",
        "",
        "## Stage times",
        "",
    ]
    lines += [f"- {k}: {v:.1f} s" for k, v in times.items()]
    path = report / "summary.md"
    path.write_text("\n".join(lines) + "\n")
    return path
