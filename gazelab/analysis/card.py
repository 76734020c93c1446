"""The dataset card of a release: one offline HTML page and a Hugging Face README (``gazelab card``).

:func:`write_card` reads a gazelab HDF5 release and writes a folder::

    DIR/index.html      title, version, licence, citation, checksums, counts, per-observer data
                        quality, distributions, a grid of stimuli with their saliency maps and
                        scanpaths, the centre-bias and inter-observer ceiling scores, the map recipe
    DIR/figures/*.png   the figures the page shows (relative links: the folder works offline)
    DIR/README.md       the same facts as a dataset card with YAML front matter (Hugging Face)

Nothing on the page is fetched from the network (no scripts, fonts or style sheets from
elsewhere). Facts the file does not hold (a version, a licence) come from ``meta`` (the
release YAML of ``gazelab release``, or its manifest beside the file), else they read
"not given".
"""

from __future__ import annotations

import contextlib
import html
import json
import os
import shutil
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pandas as pd

from gazelab._io import check_output, sha256_path
from gazelab.errors import ParameterError, ParseError

__all__ = ["CARD_METRICS", "CardReport", "card_body", "html_page", "release_facts", "write_card"]

#: Metrics of the baseline table (fast and the most reported; see docs/metrics.md).
CARD_METRICS = ("auc_judd", "nss", "cc", "sim")
NOT_GIVEN = "not given"
#: Column headings of the per-observer quality table on the page.
QUALITY_LABELS = {
    "participant": "observer",
    "trials": "trial-eye rows",
    "data_loss": "data loss (mean)",
    "precision_rms_s2s_deg": "RMS-S2S deg (median)",
    "precision_std_deg": "STD deg (median)",
    "validation_mean_deg": "validation deg (mean)",
}


@dataclass
class CardReport:
    """What :func:`write_card` wrote: the folder, its files, the page's size and the time taken."""

    folder: Path
    files: list[Path] = field(default_factory=list)
    page_bytes: int = 0  # index.html and its figures
    seconds: float = 0.0
    facts: dict[str, Any] = field(default_factory=dict)  # release_facts
    quality: pd.DataFrame | None = None  # per-observer quality (None: not measured)
    baselines: pd.DataFrame | None = None  # centre bias and ceiling per metric
    figures: dict[str, str] = field(default_factory=dict)  # name -> path relative to the folder
    level: int = 2  # heading level of the card's title when nested (card_body)


# ---- facts ------------------------------------------------------------------------------------------


def _meta(h5_path: Path, meta: str | Path | Mapping[str, Any] | None) -> dict[str, Any]:
    """The release fields: the given YAML/dict, else the manifest beside the file, else nothing."""
    if isinstance(meta, Mapping):
        return dict(meta)
    if meta is not None:
        import yaml

        try:
            loaded = yaml.safe_load(Path(meta).read_text(encoding="utf-8")) or {}
        except (OSError, yaml.YAMLError) as exc:
            raise ParseError(meta, f"cannot read the release YAML ({exc})") from None
        if not isinstance(loaded, dict):
            raise ParseError(meta, "expected a YAML mapping of release fields")
        return loaded
    manifest = h5_path.with_name(h5_path.name + ".manifest.json")
    if manifest.is_file():
        try:
            return dict(json.loads(manifest.read_text(encoding="utf-8")))
        except ValueError as exc:
            raise ParseError(manifest, f"not valid JSON ({exc})") from None
    return {}


def _licence_id(text: str) -> str:
    """A Hugging Face licence id from a licence name or text (``other`` when not recognised)."""
    head = text.strip().splitlines()[0].strip().lower() if text.strip() else ""
    known = {
        "mit": "mit",
        "mit license": "mit",
        "cc-by-4.0": "cc-by-4.0",
        "cc0-1.0": "cc0-1.0",
        "apache-2.0": "apache-2.0",
    }
    known |= {"cc-by-sa-4.0": "cc-by-sa-4.0", "cc-by-nc-4.0": "cc-by-nc-4.0", "bsd-3-clause": "bsd-3-clause"}
    if head in known:
        return known[head]
    return "mit" if "mit license" in head else "other" if head else "unknown"


def release_facts(h5_path: str | Path, meta: str | Path | Mapping[str, Any] | None = None) -> dict[str, Any]:
    """Title, version, licence, citation, checksums, counts and the map recipe of a release.

    Parameters
    ----------
    h5_path : path
        The release.
    meta : path or mapping, optional
        Release fields (``title``, ``version``, ``licence``, ``citation``, ``description``,
        ``url``); default the manifest ``<file>.manifest.json`` when it exists.

    Returns
    -------
    dict
    """
    from gazelab.datasets import describe

    path = Path(h5_path)
    info = describe(path)
    fields = _meta(path, meta)
    with h5py.File(path, "r") as f:
        prov = dict(f["provenance"].attrs) if "provenance" in f else {}
        maps = dict(f["maps/saliency"].attrs) if "maps/saliency" in f else {}
        sessions = {
            c: f[f"sessions/{c}"][()]
            for c in ("screen_width_px", "screen_height_px", "screen_width_cm", "screen_height_cm", "distance_cm")
        }
        sigma_px = f["stimuli/sigma_px"][()]
        n_checksums = int(f["checksums/path"].shape[0]) if "checksums/path" in f else 0
    licence = str(fields.get("licence") or prov.get("licence") or "")
    geometry = sorted(
        {
            (int(a), int(b), float(c), float(d), float(e))
            for a, b, c, d, e in zip(*sessions.values(), strict=True)
            if c > 0 and e > 0
        }
    )
    return {
        "title": str(fields.get("title") or info["title"] or path.stem),
        "version": str(fields.get("version") or NOT_GIVEN),
        "licence": licence.strip() or NOT_GIVEN,
        "licence_id": _licence_id(licence),
        "citation": str(fields.get("citation") or prov.get("citation") or NOT_GIVEN),
        "description": str(fields.get("description") or ""),
        "url": str(fields.get("url") or prov.get("source_url") or ""),
        "file": path.name,
        "sha256": sha256_path(path),
        "size_bytes": path.stat().st_size,
        "n_checksums": n_checksums,
        "format": info["format"],
        "created_utc": info["created_utc"],
        "counts": {k: int(info[k]) for k in ("stimuli", "observers", "sessions", "trials", "fixations")},
        "sigma_deg": float(maps.get("sigma_deg", np.nan)),
        "sigma_px_median": float(np.nanmedian(sigma_px)) if len(sigma_px) else float("nan"),
        "normalization": str(maps.get("normalization", "")),
        "boundary": str(maps.get("boundary", "")),
        "geometry": geometry,
        "detector": info.get("detector"),
        "notes": str(info.get("notes") or ""),
    }


# ---- tables and numbers -----------------------------------------------------------------------------


def _observer_quality(h5_path: Path) -> pd.DataFrame | None:
    from gazelab.datasets.quality import read_quality
    from gazelab.preprocessing.quality import participant_summary

    try:
        return participant_summary(read_quality(h5_path))
    except ParseError:
        return None


def _distributions(h5_path: Path) -> dict[str, np.ndarray]:
    """Fixation durations (ms), saccade amplitudes (image px) and fixations per stimulus."""
    with h5py.File(h5_path, "r") as f:
        fx = {
            c: f[f"fixations/{c}"][()]
            for c in ("x_px", "y_px", "duration_ms", "trial", "observer", "order", "stimulus")
        }
        per_stim = np.diff(f["fixations/stimulus_offsets"][()])
    df = pd.DataFrame(fx).sort_values(["stimulus", "observer", "trial", "order"], kind="stable")
    same = (
        (df["trial"].to_numpy()[1:] == df["trial"].to_numpy()[:-1])
        & (df["observer"].to_numpy()[1:] == df["observer"].to_numpy()[:-1])
        & (df["stimulus"].to_numpy()[1:] == df["stimulus"].to_numpy()[:-1])
    )
    amp = np.hypot(np.diff(df["x_px"].to_numpy(float)), np.diff(df["y_px"].to_numpy(float)))[same]
    dur = df["duration_ms"].to_numpy(float)
    return {"duration_ms": dur[np.isfinite(dur)], "amplitude_px": amp, "per_stimulus": per_stim}


def _baselines(h5_path: Path, metrics: Sequence[str], max_side: int, progress: bool | None) -> pd.DataFrame:
    """Centre bias and inter-observer ceiling (leave one observer out), per metric with 95 % CIs."""
    from gazelab.analysis.baselines import inter_observer

    _, summary = inter_observer(h5_path, metrics=metrics, max_side=max_side, progress=progress)
    return summary.replace({"source": {"inter_observer": "ceiling"}})


# ---- figures ----------------------------------------------------------------------------------------


def _figure(size: tuple[float, float]) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=size, layout="constrained")


def _save(fig: Any, path: Path, dpi: int = 100) -> Path:
    fig.savefig(path, format="png", dpi=dpi)
    return path


def _distribution_figure(d: Mapping[str, np.ndarray], path: Path) -> Path:
    fig = _figure((11.0, 3.2))
    axes = fig.subplots(1, 3)
    specs = [
        ("duration_ms", "fixation duration (ms; last bar: 1000 and more)", "fixations", (0, 1000)),
        ("amplitude_px", "saccade amplitude (image px; last bar: the top 0.5 %)", "saccades", None),
        ("per_stimulus", "fixations per stimulus", "stimuli", None),
    ]
    for ax, (key, xlabel, ylabel, rng) in zip(axes, specs, strict=True):
        v = np.asarray(d[key], dtype=float)
        if len(v):
            hi = rng[1] if rng else float(np.percentile(v, 99.5)) or 1.0
            ax.hist(np.clip(v, 0, hi), bins=40, range=(0, hi), color="#0072B2")
            ax.axvline(float(np.median(v)), color="#E69F00", lw=1.5, label=f"median {np.median(v):.3g}")
            ax.legend(fontsize=8, frameon=False)
        ax.set_xlabel(xlabel, fontsize=9)
        ax.set_ylabel(ylabel, fontsize=9)
    return _save(fig, path)


def _grid_figure(h5_path: Path, rows: Sequence[int], path: Path) -> Path:
    from gazelab.analysis.plots import draw_heatmap, draw_scanpath
    from gazelab.datasets import schema

    fig = _figure((9.0, 2.7 * len(rows)))
    axes = fig.subplots(len(rows), 3, squeeze=False)
    with h5py.File(h5_path, "r") as f:
        ids = f["stimuli/id"].asstr()[()]
        offsets = f["fixations/stimulus_offsets"][()]
        for r, k in enumerate(rows):
            img = schema.decode_image(f[schema.image_path(k)][()])
            img = np.repeat(img, 3, axis=2) if img.shape[2] == 1 else img
            a, b = int(offsets[k]), int(offsets[k + 1])
            x, y, tri = f["fixations/x_px"][a:b], f["fixations/y_px"][a:b], f["fixations/trial"][a:b]
            h, w = img.shape[:2]
            axes[r, 0].imshow(img)
            draw_heatmap(axes[r, 1], f[schema.map_path(k)][()], image=img, fixations=np.c_[x, y])
            trials = list(dict.fromkeys(tri.tolist()))[:8]
            draw_scanpath(axes[r, 2], [np.c_[x[tri == t], y[tri == t]] for t in trials], size=(w, h), image=img)
            for c, name in enumerate(("stimulus", "saliency map + fixations", "scanpaths (up to 8 observers)")):
                axes[r, c].set_xticks([])
                axes[r, c].set_yticks([])
                axes[r, c].set_xlabel("")
                axes[r, c].set_ylabel(f"{ids[k]}\n{b - a} fixations" if c == 0 else "", fontsize=9)
                if r == 0:
                    axes[r, c].set_title(name, fontsize=10)
    return _save(fig, path, dpi=80)  # photographs make large PNGs: 80 dpi keeps the page light


# ---- the page ---------------------------------------------------------------------------------------

_CSS = """body{font:15px/1.45 system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}
h1{margin-bottom:.2em}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}
table{border-collapse:collapse;margin:.6em 0;display:block;overflow-x:auto}
td,th{border:1px solid #ccc;padding:.25em .6em;text-align:right}
th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}.counts{font-size:1.2em}
code,pre{background:#f6f6f6;padding:.1em .3em;font-size:90%}pre{padding:.6em;white-space:pre-wrap}
img{max-width:100%;border:1px solid #eee}.note{color:#666;font-size:90%}"""


def _e(value: Any) -> str:
    return html.escape(str(value))


def _table(df: pd.DataFrame, digits: int = 3) -> str:
    head = "".join(f"<th>{_e(c)}</th>" for c in df.columns)
    body = []
    for row in df.itertuples(index=False):
        cells = []
        for v in row:
            if isinstance(v, float):
                cells.append("not measured" if np.isnan(v) else f"{v:.{digits}g}" if abs(v) >= 1 else f"{v:.{digits}f}")
            else:
                cells.append(_e(v))
        body.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    return f"<table><tr>{head}</tr>{''.join(body)}</table>"


def _baseline_table(summary: pd.DataFrame) -> pd.DataFrame:
    from gazelab.analysis.figures import METRIC_LABELS

    rows: list[dict[str, Any]] = []
    if len(summary) == 0:
        return pd.DataFrame(columns=["metric", "centre bias", "inter-observer ceiling", "stimuli"])
    for m, g in summary.groupby("metric", sort=False):
        r = {"metric": METRIC_LABELS.get(m, m)}
        for src, name in (("centre_bias", "centre bias"), ("ceiling", "inter-observer ceiling")):
            s = g[g["source"] == src]
            r[name] = (
                f"{float(s['mean'].iloc[0]):.3f} [{float(s['ci_low'].iloc[0]):.3f}, {float(s['ci_high'].iloc[0]):.3f}]"
                if len(s)
                else "not measured"
            )
        r["stimuli"] = int(g["n"].max())
        rows.append(r)
    return pd.DataFrame(rows)


def _recipe(facts: Mapping[str, Any]) -> str:
    geo = facts["geometry"]
    where = (
        "; ".join(f"{a}x{b} px, {c:g}x{d:g} cm at {e:g} cm" for a, b, c, d, e in geo)
        if geo
        else "not stated in the release (imported fixations: image px = display px)"
    )
    sigma = (
        f"{facts['sigma_deg']:g} deg of visual angle (median {facts['sigma_px_median']:.3g} image px)"
        if np.isfinite(facts["sigma_deg"])
        else f"{facts['sigma_px_median']:.3g} image px (no geometry: sigma given in px)"
    )
    return (
        f"<ul><li>Gaussian sigma: {_e(sigma)}</li><li>screen geometry: {_e(where)}</li>"
        f"<li>normalisation: {_e(facts['normalization'])} (probability per image pixel); boundary: "
        f"{_e(facts['boundary'])}; truncated at 4 sigma</li>"
        f"<li>fixation detector: {_e(facts['detector'] or 'as published')}</li></ul>"
    )


def html_page(title: str, body: str) -> str:
    """A complete offline HTML page (inline style, nothing fetched) around ``body``."""
    return (
        f"<!doctype html><html lang=en><head><meta charset=utf-8><title>{_e(title)}</title>\n"
        f"<meta name=viewport content='width=device-width'><style>{_CSS}</style></head><body>\n{body}\n"
        "<p class=note>Written by gazelab.</p></body></html>\n"
    )


def card_body(report: CardReport, prefix: str = "") -> str:
    """The card's sections as an HTML fragment, its figures linked as ``prefix + 'figures/...'``.

    For pages that include a release's card (the demo report links ``card/figures/...``).
    """
    figs = {k: prefix + v for k, v in report.figures.items()}
    return _body(report.facts, report.quality, report.baselines, figs, level=report.level)


def _body(
    facts: Mapping[str, Any],
    quality: pd.DataFrame | None,
    baselines: pd.DataFrame,
    figs: Mapping[str, str],
    level: int = 1,
) -> str:
    c = facts["counts"]
    quality_html = (
        _table(quality.rename(columns=QUALITY_LABELS))
        if quality is not None
        else "<p class=note>Not measured: this release has no <code>/quality</code> table (it was imported from "
        "published fixations, without the raw samples that data loss, precision and validation need).</p>"
    )
    parts = [
        f"<h1>{_e(facts['title'])}</h1><p>version {_e(facts['version'])} &middot; {_e(facts['format'])} "
        f"&middot; created {_e(facts['created_utc'])}</p>",
        f"<p class=counts><b>{c['stimuli']} stimuli</b> &middot; <b>{c['observers']} observers</b> &middot; "
        f"{c['trials']} trials &middot; {c['fixations']} fixations &middot; {c['sessions']} sessions</p>",
        f"<p>{_e(facts['description'])}</p>" if facts["description"] else "",
        "<h2>Licence and citation</h2>",
        f"<p>Licence: <b>{_e(facts['licence'].splitlines()[0])}</b></p>",
        f"<details><summary>full licence text</summary><pre>{_e(facts['licence'])}</pre></details>"
        if "\n" in facts["licence"]
        else "",
        f"<p>Cite as:</p><pre>{_e(facts['citation'])}</pre>",
        f"<p>Source: <code>{_e(facts['url'])}</code></p>" if facts["url"] else "",
        "<h2>Checksums</h2>",
        f"<p><code>{_e(facts['file'])}</code>: {facts['size_bytes'] / 1e6:.1f} MB, "
        f"sha256 <code>{_e(facts['sha256'])}</code>; {facts['n_checksums']} internal datasets carry their own "
        "sha256 (<code>gazelab validate</code> checks them).</p>",
        "<h2>Data quality per observer</h2>",
        quality_html,
        "<h2>Distributions</h2>",
        f"<img src='{figs['distributions']}' alt='fixation duration, saccade amplitude and fixations per stimulus'>",
        "<h2>Stimuli, saliency maps and scanpaths</h2>",
        f"<img src='{figs['grid']}' alt='a grid of stimuli with their saliency maps and scanpaths'>",
        "<h2>Baselines: centre bias and inter-observer ceiling</h2>",
        "<p>Leave one observer out: the other observers' map (ceiling) and the dataset's fitted centre-bias "
        "Gaussian, each scored against the held-out observer; mean over stimuli with 95 % bootstrap intervals. "
        "A model worth using scores above the centre bias; the ceiling is what humans predict of each other.</p>",
        _table(_baseline_table(baselines))
        if len(baselines)
        else "<p class=note>Not measured: the scores need at least two observers on a stimulus and other stimuli "
        "(for shuffled negatives).</p>",
        f"<img src='{figs['baselines']}' alt='centre bias and ceiling scores'>" if "baselines" in figs else "",
        "<h2>Map recipe</h2>",
        _recipe(facts),
        f"<p class=note>{_e(facts['notes'])}</p>" if facts["notes"] else "",
    ]
    text = "\n".join(p for p in parts if p)
    if level > 1:  # nested in a larger page: h1 -> h2, h2 -> h3
        text = text.replace("<h2>", "<h3>").replace("</h2>", "</h3>").replace("<h1>", "<h2>").replace("</h1>", "</h2>")
    return text


def _size_category(n: int) -> str:
    return "n<1K" if n < 1000 else "1K<n<10K" if n < 10_000 else "10K<n<100K" if n < 100_000 else "n>100K"


def _readme(facts: Mapping[str, Any], quality: pd.DataFrame | None, baselines: pd.DataFrame) -> str:
    import yaml

    c = facts["counts"]
    front = {
        "license": facts["licence_id"],
        "pretty_name": facts["title"],
        "size_categories": [_size_category(c["stimuli"])],
        "task_categories": ["image-to-image"],
        "tags": ["eye-tracking", "gaze", "saliency", "human-attention", "gazelab"],
    }
    table = _baseline_table(baselines)
    lines = [
        "---",
        yaml.safe_dump(front, sort_keys=False).strip(),
        "---",
        "",
        f"# {facts['title']}",
        "",
        f"Version {facts['version']}. {c['stimuli']} stimuli, {c['observers']} observers, {c['trials']} trials, "
        f"{c['fixations']} fixations, in one gazelab HDF5 file ({facts['format']}).",
        "",
        facts["description"],
        "",
        "## Licence",
        "",
        facts["licence"].splitlines()[0],
        "",
        "## Citation",
        "",
        "```",
        facts["citation"],
        "```",
        "",
        "## Files and checksums",
        "",
        f"- `{facts['file']}`: {facts['size_bytes']} bytes, sha256 `{facts['sha256']}`",
        "",
        "## Data quality",
        "",
        _md_table(quality.round(4)) if quality is not None else "Not measured (no `/quality` table).",
        "",
        "## Baselines (mean over stimuli, 95 % bootstrap interval)",
        "",
        _md_table(table) if len(table) else "Not measured (fewer than two observers per stimulus, or one stimulus).",
        "",
        "## Loading",
        "",
        "```python",
        "from gazelab.datasets import GazeDataset",
        f"ds = GazeDataset('{facts['file']}')",
        "```",
        "",
        "The full card with figures is `index.html` beside this file.",
        "",
    ]
    return "\n".join(lines)


def _md_table(df: pd.DataFrame) -> str:
    """A Markdown table (GitHub / Hugging Face flavour); NaN reads "not measured"."""

    def cell(v: Any) -> str:
        return "not measured" if isinstance(v, float) and np.isnan(v) else str(v).replace("|", "\\|")

    lines = ["| " + " | ".join(map(str, df.columns)) + " |", "|" + "---|" * len(df.columns)]
    lines += ["| " + " | ".join(cell(v) for v in r) + " |" for r in df.itertuples(index=False)]
    return "\n".join(lines)


@contextlib.contextmanager
def _staging(out: Path, overwrite: bool) -> Any:
    """A temporary folder beside ``out``, moved into place only when the block succeeds."""
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".part", dir=out.parent))
    try:
        yield tmp
        old = None
        if out.exists():
            old = out.with_name(f".{out.name}.old-{os.getpid()}")
            os.replace(out, old)
        os.replace(tmp, out)
        if old is not None:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def write_card(
    h5_path: str | Path,
    out: str | Path,
    *,
    meta: str | Path | Mapping[str, Any] | None = None,
    n_grid: int = 6,
    metrics: Sequence[str] = CARD_METRICS,
    max_side: int = 128,
    overwrite: bool = False,
    progress: bool | None = None,
) -> CardReport:
    """Write the dataset card of a release (see the module documentation).

    Parameters
    ----------
    h5_path : path
        The release (``.h5``).
    out : path
        The folder to write (``index.html``, ``figures/``, ``README.md``); replaced only with
        ``overwrite``, and only once complete.
    meta : path or mapping, optional
        Release fields (YAML file or dict); default the manifest beside the file.
    n_grid : int
        Stimuli in the grid (evenly spread over the release; default 6).
    metrics : sequence of str
        Metrics of the baseline table (default :data:`CARD_METRICS`).
    max_side : int
        Working resolution of the baselines, px (longer side; default 128: the maps are smooth
        at the scale of sigma, and the 500-stimulus NUS scene release scores in seconds).
    overwrite : bool
        Replace an existing folder.
    progress : bool or None
        Progress bars (None: on a terminal).

    Returns
    -------
    CardReport
    """
    t0 = time.perf_counter()
    h5_path, out = Path(h5_path), Path(out)
    check_output(out, overwrite=overwrite, inputs=(h5_path,))
    if n_grid < 1:
        raise ParameterError("n_grid", n_grid, "at least one stimulus in the grid")
    facts = release_facts(h5_path, meta)
    quality = _observer_quality(h5_path)
    baselines = _baselines(h5_path, metrics, max_side, progress)
    n = facts["counts"]["stimuli"]
    rows = sorted({int(round(v)) for v in np.linspace(0, n - 1, min(n_grid, n))})
    figs = {
        "distributions": "figures/distributions.png",
        "grid": "figures/stimuli.png",
        "baselines": "figures/baselines.png",
    }
    with _staging(out, overwrite) as tmp:
        (tmp / "figures").mkdir()
        _distribution_figure(_distributions(h5_path), tmp / figs["distributions"])
        _grid_figure(h5_path, rows, tmp / figs["grid"])
        if len(baselines):
            from gazelab.analysis.figures import score_bars

            title = "Centre bias and inter-observer ceiling"
            score_bars(baselines, list(metrics), tmp / figs["baselines"], title=title)
        else:
            del figs["baselines"]
        body = _body(facts, quality, baselines, figs)
        (tmp / "index.html").write_text(html_page(facts["title"], body), encoding="utf-8")
        (tmp / "README.md").write_text(_readme(facts, quality, baselines), encoding="utf-8")
    files = sorted(p for p in out.rglob("*") if p.is_file())
    page = (out / "index.html").stat().st_size + sum(p.stat().st_size for p in (out / "figures").glob("*.png"))
    return CardReport(out, files, page, time.perf_counter() - t0, facts, quality, baselines, figs)
