"""Gaze plots: a heatmap and a scanpath over the stimulus, a timeline of one trial (``gazelab plot``).

The drawing functions (:func:`draw_heatmap`, :func:`draw_scanpath`, :func:`draw_timeline`) take
plain arrays and an Axes; :func:`plot` reads what they need from a recording, a session folder
or a release and writes one PNG. Figures use the Agg canvas (no pyplot, no global backend).

Coordinates are labelled on the axes: image px over a release's stimulus, screen px over a
recording's screen; the timeline shows gaze x and y in screen px against seconds from the
trial's start, with the fixations, saccades and blinks shaded.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from gazelab._io import atomic_path, check_output
from gazelab.errors import ParameterError

__all__ = ["KINDS", "draw_heatmap", "draw_scanpath", "draw_timeline", "plot"]

#: What ``gazelab plot --kind`` draws.
KINDS = ("heatmap", "scanpath", "timeline")
#: Colours of observers' scanpaths and of the shaded events.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#CC79A7",
    "#56B4E9",
    "#D55E00",
    "#F0E442",
    "#000000",
    "#882255",
    "#44AA99",
    "#999933",
    "#AA4499",
)  # Okabe-Ito, then four of Tol's muted colours: 12 distinct observers
EVENT_COLOURS = {"fixation": "#009E73", "saccade": "#E69F00", "blink": "#999999"}
_DPI = 120


def _save(fig: Any, path: Path) -> Path:
    with atomic_path(path) as tmp:
        fig.savefig(tmp, format="png", dpi=_DPI)
    return path


def _background(ax: Any, image: np.ndarray | None, size: tuple[int, int], unit: str) -> None:
    w, h = size
    if image is not None:
        ax.imshow(image, extent=(0, w, h, 0), interpolation="bilinear")
    else:
        ax.set_facecolor("#f4f4f4")
    ax.set_xlim(0, w)
    ax.set_ylim(h, 0)
    ax.set_xlabel(f"x ({unit})")
    ax.set_ylabel(f"y ({unit})")


def draw_heatmap(
    ax: Any,
    saliency: np.ndarray,
    *,
    image: np.ndarray | None = None,
    fixations: np.ndarray | None = None,
    unit: str = "image px",
) -> None:
    """A saliency map (any scale, shown normalised) over an image, with fixations as dots.

    Parameters
    ----------
    ax : matplotlib Axes
    saliency : ndarray, shape (H, W)
        The map on the image's pixel grid.
    image : ndarray, shape (H, W, 3), optional
        The stimulus (uint8 or float in [0, 1]); dimmed beneath the map.
    fixations : ndarray, shape (N, 2), optional
        ``(x, y)`` in the same px.
    unit : str
        Axis unit label.
    """
    from matplotlib import colormaps

    m = np.asarray(saliency, dtype=np.float64)
    h, w = m.shape
    img = None if image is None else np.asarray(image, dtype=np.float64) / (255.0 if image.dtype == np.uint8 else 1.0)
    _background(ax, None if img is None else img * 0.45, (w, h), unit)
    lo, hi = float(m.min()), float(m.max())
    norm = (m - lo) / (hi - lo) if hi > lo else np.zeros_like(m)
    rgba = colormaps["inferno"](norm)
    rgba[..., 3] = 0.9 * np.sqrt(norm)
    ax.imshow(rgba, extent=(0, w, h, 0), interpolation="bilinear")
    if fixations is not None and len(fixations):
        f = np.asarray(fixations, dtype=np.float64)
        ax.scatter(f[:, 0], f[:, 1], s=6, c="#56B4E9", linewidths=0, label="fixations")


def draw_scanpath(
    ax: Any,
    paths: Sequence[np.ndarray],
    *,
    size: tuple[int, int],
    image: np.ndarray | None = None,
    durations_ms: Sequence[np.ndarray] | None = None,
    labels: Sequence[str] | None = None,
    unit: str = "image px",
    numbers: bool = True,
) -> None:
    """Fixation sequences as numbered circles (area by duration) joined by lines.

    Parameters
    ----------
    ax : matplotlib Axes
    paths : sequence of ndarray, shape (N, 2)
        One ``(x, y)`` sequence per observer or trial, in viewing order.
    size : (int, int)
        ``(width, height)`` of the canvas, px.
    image : ndarray, optional
        The stimulus beneath.
    durations_ms : sequence of ndarray, optional
        Fixation durations; circle areas follow them.
    labels : sequence of str, optional
        Legend entries, one per path.
    numbers : bool
        Write each fixation's order number (for a single path).
    """
    _background(ax, image, size, unit)
    for i, p in enumerate(paths):
        p = np.asarray(p, dtype=np.float64)
        if len(p) == 0:
            continue
        colour = PALETTE[i % len(PALETTE)]
        d = np.asarray(durations_ms[i], dtype=np.float64) if durations_ms is not None else np.full(len(p), 250.0)
        area = np.clip(np.nan_to_num(d, nan=250.0), 50, 1500) / 250.0 * 60.0 * (1 if len(paths) == 1 else 0.5)
        label = labels[i] if labels is not None else None
        ax.plot(p[:, 0], p[:, 1], "-", color=colour, lw=1.2, alpha=0.8, label=label)
        ax.scatter(p[:, 0], p[:, 1], s=area, color=colour, alpha=0.55, edgecolors="white", linewidths=0.6)
        if numbers and len(paths) == 1:
            for k, (x, y) in enumerate(p):
                ax.annotate(str(k + 1), (x, y), ha="center", va="center", fontsize=7, color="white", weight="bold")
    if labels is not None and 1 < len(paths) <= 12:
        ax.legend(fontsize=7, loc="upper right", framealpha=0.7)


def draw_timeline(
    axes: Sequence[Any],
    time_s: np.ndarray,
    x_px: np.ndarray,
    y_px: np.ndarray,
    events: pd.DataFrame,
) -> None:
    """Gaze x and y over time (two Axes) with fixations, saccades and blinks shaded.

    Parameters
    ----------
    axes : (Axes, Axes)
        For x and y.
    time_s : ndarray
        Seconds from the trial's start.
    x_px, y_px : ndarray
        Gaze, screen px (NaN: missing).
    events : pandas.DataFrame
        ``type`` (fixation, saccade, blink), ``onset_s``, ``offset_s``.
    """
    from matplotlib.patches import Patch

    for ax, v, name in zip(axes, (x_px, y_px), ("x", "y"), strict=True):
        for e in events.itertuples(index=False):
            ax.axvspan(e.onset_s, e.offset_s, color=EVENT_COLOURS.get(str(e.type), "#dddddd"), alpha=0.25, lw=0)
        ax.plot(time_s, v, color="#222222", lw=0.8)
        ax.set_ylabel(f"gaze {name} (screen px)")
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("time from trial start (s)")
    handles = [Patch(color=c, alpha=0.35, label=k) for k, c in EVENT_COLOURS.items() if (events["type"] == k).any()]
    if handles:
        axes[0].legend(handles=handles, fontsize=8, loc="upper right", ncol=len(handles))


# ---- reading what to draw ----------------------------------------------------------------------------


@dataclass
class _Release:
    path: Path

    def stimulus_row(self, f: Any, stimulus: str | None) -> int:
        ids = list(f["stimuli/id"].asstr()[()])
        if stimulus is None:
            return 0
        if stimulus in ids:
            return ids.index(stimulus)
        if stimulus.isdigit() and int(stimulus) < len(ids):
            return int(stimulus)
        raise ParameterError("--stimulus", stimulus, f"a stimulus id or row of {self.path} ({len(ids)} stimuli)")


def _release_plot(path: Path, kind: str, stimulus: str | None, trial: str | None, fig: Any) -> str:
    import h5py

    from gazelab.datasets import schema
    from gazelab.datasets.validate import check_format

    with h5py.File(path, "r") as f:
        check_format(f, path)
        rel = _Release(path)
        if kind == "timeline":
            return _release_timeline(f, path, trial, fig)
        k = rel.stimulus_row(f, stimulus) if trial is None else int(f["trials/stimulus"][_trial_row(f, trial, path)])
        sid = str(f["stimuli/id"].asstr()[k])
        image = schema.decode_image(f[schema.image_path(k)][()])
        image = np.repeat(image, 3, axis=2) if image.shape[2] == 1 else image
        a, b = (int(v) for v in f["fixations/stimulus_offsets"][k : k + 2])
        x, y = f["fixations/x_px"][a:b], f["fixations/y_px"][a:b]
        obs, tri, dur = f["fixations/observer"][a:b], f["fixations/trial"][a:b], f["fixations/duration_ms"][a:b]
        observer_ids = f["observers/id"].asstr()[()]
        ax = fig.subplots()
        h, w = image.shape[:2]
        if kind == "heatmap":
            draw_heatmap(ax, f[schema.map_path(k)][()], image=image, fixations=np.c_[x, y])
            return f"stimulus {sid}: saliency map of {len(set(obs.tolist()))} observers, {b - a} fixations"
        groups = (
            [_trial_row(f, trial, path)] if trial is not None else sorted(set(tri.tolist()), key=tri.tolist().index)
        )
        groups = groups[:12]
        paths = [np.c_[x[tri == g], y[tri == g]] for g in groups]
        durs = [dur[tri == g] for g in groups]
        labels = [str(observer_ids[int(f["trials/observer"][g])]) for g in groups]
        draw_scanpath(ax, paths, size=(w, h), image=image, durations_ms=durs, labels=labels)
        who = f"observer {labels[0]}" if len(groups) == 1 else f"{len(groups)} observers"
        return f"stimulus {sid}: scanpath of {who}"


def _trial_row(f: Any, trial: str, path: Path) -> int:
    n = f["trials/trial"].shape[0]
    if str(trial).isdigit() and int(trial) < n:
        return int(trial)
    raise ParameterError("--trial", trial, f"a row of /trials in {path} (0..{n - 1})")


def _release_timeline(f: Any, path: Path, trial: str | None, fig: Any) -> str:
    if "samples" not in f:
        raise ParameterError(
            "--kind", "timeline", f"a dataset with raw samples (built with --with-samples); {path} has none"
        )
    k = _trial_row(f, trial or "0", path)
    a, b = (int(v) for v in f["samples/trial_offsets"][k : k + 2])
    t = f["samples/time_ms"][a:b] / 1000.0
    x, y = f["samples/x_px"][a:b].astype(float), f["samples/y_px"][a:b].astype(float)
    fa, fb = _rows_of_trial(f, k)
    on = f["fixations/onset_ms"][fa:fb] / 1000.0
    off = on + f["fixations/duration_ms"][fa:fb] / 1000.0
    events = pd.DataFrame({"type": "fixation", "onset_s": on, "offset_s": off})
    draw_timeline(fig.subplots(2, 1, sharex=True), t, x, y, events)
    return f"trial {k} ({f['trials/trial_id'].asstr()[k]}): gaze and fixations"


def _rows_of_trial(f: Any, k: int) -> tuple[int, int]:
    rows = np.flatnonzero(f["fixations/trial"][()] == k)
    return (int(rows[0]), int(rows[-1]) + 1) if len(rows) else (0, 0)


def _recording_events(rec: Any, eye: str, geometry: Any) -> pd.DataFrame:
    """Fixations, saccades and blinks of one eye: the tracker's events, else gazelab's I-VT fixations."""
    ev = rec.events
    if len(ev) and (ev["eye"] == eye).any():
        mine = ev[(ev["eye"] == eye).to_numpy(dtype=bool)]
        return pd.DataFrame(
            {
                "type": mine["type"].astype(str).to_numpy(),
                "onset_ms": mine["onset_ms"].to_numpy(),
                "offset_ms": mine["offset_ms"].to_numpy(),
                "x_px": mine["x_px"].to_numpy(),
                "y_px": mine["y_px"].to_numpy(),
                "duration_ms": mine["duration_ms"].to_numpy(),
            }
        )
    if geometry is None:
        raise ParameterError(
            "geometry", None, f"--screen-cm W H --distance-cm D to detect fixations: {rec.source} has no tracker events"
        )
    from gazelab.preprocessing import detect_fixations

    fx = detect_fixations(rec, geometry, eyes=eye, progress=False)
    return pd.DataFrame(
        {
            "type": "fixation",
            "onset_ms": fx["onset_ms"].to_numpy(),
            "offset_ms": fx["offset_ms"].to_numpy(),
            "x_px": fx["x_px"].to_numpy(),
            "y_px": fx["y_px"].to_numpy(),
            "duration_ms": fx["duration_ms"].to_numpy(),
        }
    )


def _recording_plot(
    path: Path, kind: str, trial: str | None, screen: tuple[Any, Any], stimuli_dir: Path | None, fig: Any
) -> str:
    from gazelab.geometry import Geometry
    from gazelab.preprocessing import read
    from gazelab.preprocessing.quality import geometry_from_recording
    from gazelab.preprocessing.recording import eye_name

    rec = read(path)
    geometry = geometry_from_recording(rec)
    screen_cm, distance_cm = screen
    if geometry is None and screen_cm is not None and distance_cm is not None and rec.screen_px is not None:
        geometry = Geometry(*rec.screen_px, screen_cm[0], screen_cm[1], distance_cm)
    tr = rec.trials.reset_index(drop=True)
    if len(tr) == 0:
        raise ParameterError("--trial", trial, f"a recording with trials (TRIALID): {path} has none")
    ids = tr["trial_id"].astype(str).tolist()
    if trial is None:
        i = 0
    elif trial in ids:
        i = ids.index(trial)
    else:
        raise ParameterError("--trial", trial, f"a TRIALID of {path.name}, e.g. {ids[:5]}")
    row = tr.iloc[i]
    eye = "R" if "R" in rec.eyes else rec.eyes[0]
    sel = (rec.samples["trial"] == row["trial"]).fillna(False).to_numpy()
    s = rec.samples[sel]
    ev = _recording_events(rec, eye, geometry)
    ev = ev[(ev["onset_ms"] >= row["onset_ms"]) & (ev["onset_ms"] <= row["offset_ms"])]
    size = rec.screen_px or ((geometry.width_px, geometry.height_px) if geometry is not None else None)
    title = f"{path.name}, trial {row['trial_id']}, eye {eye}"
    if kind == "timeline":
        t0 = float(row["onset_ms"])
        events = pd.DataFrame(
            {"type": ev["type"], "onset_s": (ev["onset_ms"] - t0) / 1000.0, "offset_s": (ev["offset_ms"] - t0) / 1000.0}
        )
        n = eye_name(eye)
        draw_timeline(
            fig.subplots(2, 1, sharex=True),
            (s["time_ms"].to_numpy() - t0) / 1000.0,
            s[f"x_{n}_px"].to_numpy(),
            s[f"y_{n}_px"].to_numpy(),
            events,
        )
        return title
    if size is None:
        raise ParameterError("--screen-px", None, f"the screen resolution: {path} does not state it")
    image = _screen_image(row, size, stimuli_dir)
    fx = ev[ev["type"] == "fixation"]
    pts = np.c_[fx["x_px"].to_numpy(), fx["y_px"].to_numpy()]
    ax = fig.subplots()
    if kind == "scanpath":
        draw_scanpath(ax, [pts], size=size, image=image, durations_ms=[fx["duration_ms"].to_numpy()], unit="screen px")
        return title + f": {len(pts)} fixations"
    if geometry is None:
        raise ParameterError("geometry", None, "--screen-cm W H --distance-cm D for the heatmap's 1-degree sigma")
    from gazelab.preprocessing.maps import saliency_map

    sigma = geometry.deg_to_px_length(1.0)
    ok = np.isfinite(pts).all(1) & (pts[:, 0] >= 0) & (pts[:, 0] < size[0]) & (pts[:, 1] >= 0) & (pts[:, 1] < size[1])
    m = saliency_map(pts[ok, 0], pts[ok, 1], (size[1], size[0]), sigma)
    draw_heatmap(ax, m, image=image, fixations=pts[ok], unit="screen px")
    return title + f": {int(ok.sum())} fixations, sigma 1 deg"


def _screen_image(row: pd.Series, size: tuple[int, int], stimuli_dir: Path | None) -> np.ndarray | None:
    """The trial's image placed on a grey screen as ``!V IMGLOAD`` says, when the folder holds it."""
    image = row.get("image")
    if stimuli_dir is None or image is None or image is pd.NA or not str(image):
        return None
    from PIL import Image

    from gazelab._io import safe_name

    p = stimuli_dir / Path(safe_name(str(image).replace("\\", "/"), "image")).name
    if not p.is_file():
        return None
    screen = Image.new("RGB", size, (128, 128, 128))
    with Image.open(p) as im:
        im = im.convert("RGB")
        how = str(row.get("image_position", "") or "").upper()
        x, y = row.get("image_x_px"), row.get("image_y_px")
        if how == "FILL":
            im, x, y = im.resize(size), 0, 0
        elif x is None or pd.isna(x) or y is None or pd.isna(y):
            x, y = (size[0] - im.width) / 2, (size[1] - im.height) / 2  # no position: centred
        elif how != "TOP_LEFT":
            x, y = float(x) - im.width / 2, float(y) - im.height / 2  # CENTER x y (EyeLink's default)
        screen.paste(im, (round(float(x)), round(float(y))))
    return np.asarray(screen)


def plot(
    source: str | Path,
    out: str | Path,
    *,
    kind: str,
    trial: str | None = None,
    stimulus: str | None = None,
    screen_cm: tuple[float, float] | None = None,
    distance_cm: float | None = None,
    stimuli_dir: str | Path | None = None,
    overwrite: bool = False,
) -> Path:
    """Draw a heatmap, scanpath or timeline of a recording, session folder or release as a PNG.

    Parameters
    ----------
    source : path
        A recording (ASC, EDF, ...), a gazelab session folder, or a dataset (``.h5``).
    out : path
        The PNG to write.
    kind : {'heatmap', 'scanpath', 'timeline'}
        Heatmap and scanpath over the stimulus (a release's image, or the recording's screen
        with the trial's image when ``stimuli_dir`` holds it); timeline: gaze x and y over time
        with fixations, saccades and blinks shaded.
    trial : str, optional
        Recording: the ``TRIALID`` (default the first trial). Release: a row of ``/trials``
        (its observer's scanpath on its stimulus).
    stimulus : str, optional
        Release: stimulus id or row (default row 0); all observers are drawn.
    screen_cm, distance_cm : optional
        Visible screen size and viewing distance, cm, for recordings without their own geometry
        (a session folder has it): fixation detection when the file has no tracker events, and
        the heatmap's 1-degree sigma.
    stimuli_dir : path, optional
        Folder of the recording's stimulus images.
    overwrite : bool
        Replace an existing ``out``.

    Returns
    -------
    Path
        The PNG.
    """
    from matplotlib.figure import Figure

    if kind not in KINDS:
        raise ParameterError("kind", kind, f"one of {list(KINDS)}")
    source, out = Path(source), Path(out)
    if out.suffix.lower() != ".png":
        raise ParameterError("out", str(out), "a file name ending in .png")
    check_output(out, overwrite=overwrite, inputs=(source,))
    fig = Figure(figsize=(9.0, 5.5) if kind == "timeline" else (8.0, 6.5), layout="constrained")
    if source.suffix.lower() in (".h5", ".hdf5"):
        title = _release_plot(source, kind, stimulus, trial, fig)
    else:
        folder = Path(stimuli_dir) if stimuli_dir is not None else None
        title = _recording_plot(source, kind, trial, (screen_cm, distance_cm), folder, fig)
    fig.suptitle(f"{kind}: {title}", fontsize=11)
    return _save(fig, out)
