"""The simulated observer against real data: fixation durations, saccade amplitudes, where it looks.

Compares, side by side (printed percentiles and a figure, ``out/simulated-vs-real.png``):

- fixation durations (ms): the simulation (:func:`gazelab.acquisition.simulated_observer.simulate_gaze` defaults)
  against the human free-viewing fixations of nus-scene (``fixations.mat``, 43,894 fixations) and
  the EyeLink's own EFIX events of 220682rr01 (an antisaccade task, so longer fixations);
- saccade amplitudes (deg): consecutive-fixation distances of the simulated observer and of the
  nus-scene humans on the same images, each image shown fitted to a 1920x1080, 53 x 30 cm screen
  at 60 cm (an assumed display: nus-scene does not state its own), and the ESACC events of
  220682rr01 for reference (a different task, microsaccades included);
- fixation positions over images (fraction of width/height): the simulated tracker's target
  choice (priority map: image contrast x central Gaussian) on the nus-scene images against the
  human fixations on the same images (centre bias and spread).

Run: ``python benchmarks/simulated_vs_real.py [--images N]``; the last line gives the spread
ratio (simulated / human) of the fixation positions.
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path

import numpy as np
from PIL import Image
from scipy.io import loadmat

from gazelab.acquisition.simulated_observer import simulate_gaze
from gazelab.acquisition.trackers.simulated import priority_map, sample_targets
from gazelab.geometry import Geometry, Placement
from gazelab.preprocessing import read_asc

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data"
OUT = Path(__file__).resolve().parents[1] / "out" / "simulated-vs-real.png"


def pct(x) -> str:
    return " / ".join(f"{v:.3g}" for v in np.nanpercentile(x, [10, 25, 50, 75, 90]))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--images", type=int, default=500)
    args = ap.parse_args()
    if not DATA.is_dir():
        sys.exit(f"real data not found: expected {DATA.resolve()}")
    g = Geometry(1920, 1080, 53.0, 30.0, 60.0)
    sim = simulate_gaze(g, n_fixations=5000, sampling_rate_hz=1000.0, seed=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        rec = read_asc(DATA / "eyelink" / "220682rr01.asc.gz")
    efix = rec.events[rec.events["type"] == "fixation"]["duration_ms"].to_numpy()
    esacc = rec.events[rec.events["type"] == "saccade"]["amplitude_deg"].to_numpy()
    cells = loadmat(DATA / "nus-scene" / "fixations.mat")["fixations"]
    files = sorted((DATA / "nus-scene" / "stimuli").glob("*.jpg"))[: args.images]
    rng = np.random.default_rng(0)
    human_dur, human_pos, sim_pos, human_amp, sim_amp = [], [], [], [], []

    def amplitudes(xy_img: np.ndarray, placement: Placement) -> np.ndarray:
        x, y = placement.image_to_screen(xy_img[:, 0], xy_img[:, 1])
        return g.angle_between(x[:-1], y[:-1], x[1:], y[1:])

    for i, f in enumerate(files):
        im = Image.open(f).convert("RGB")
        w, h = im.size
        placement = Placement.centered(g, (w, h), scale="fit")
        for c in cells[i]:
            if c.size:
                human_dur += list(c[:, 3] * 1000)
                human_pos.append(np.c_[(c[:, 1] - 0.5) / w, (c[:, 0] - 0.5) / h])
                human_amp += list(amplitudes(np.c_[c[:, 1] - 0.5, c[:, 0] - 0.5], placement))
        im.thumbnail((320, 320))
        p = priority_map(np.asarray(im))
        pts = sample_targets(p, 90, rng)  # the simulated tracker's own target choice
        frac = pts / [p.shape[1], p.shape[0]]
        sim_pos.append(frac)
        sim_amp += list(amplitudes(frac * [w, h], placement))
    human_pos, sim_pos = np.vstack(human_pos), np.vstack(sim_pos)
    print("percentiles 10 / 25 / 50 / 75 / 90")
    print(f"fixation duration, ms: simulated {pct(sim.fixations['duration_ms'])}")
    print(f"                       nus-scene humans {pct(human_dur)}")
    print(f"                       EyeLink EFIX 220682rr01 (antisaccade task) {pct(efix)}")
    print(f"saccade amplitude, deg: simulated observer on the images {pct(sim_amp)}")
    print(f"                        nus-scene humans, same display {pct(human_amp)}")
    print(f"                        EyeLink ESACC 220682rr01 {pct(esacc)}")
    for name, pos in (("simulated", sim_pos), ("nus-scene humans", human_pos)):
        d = np.hypot(pos[:, 0] - 0.5, pos[:, 1] - 0.5)
        print(
            f"fixation position ({name}): mean x {pos[:, 0].mean():.3f}, y {pos[:, 1].mean():.3f}; "
            f"SD x {pos[:, 0].std():.3f}, y {pos[:, 1].std():.3f}; mean distance from centre {d.mean():.3f}"
        )
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib not installed: no figure (pip install matplotlib)")
    else:
        fig, ax = plt.subplots(1, 4, figsize=(17, 4))
        bins = np.linspace(0, 1200, 49)
        ax[0].hist(sim.fixations["duration_ms"], bins, density=True, alpha=0.5, label="simulated")
        ax[0].hist(human_dur, bins, density=True, alpha=0.5, label="nus-scene humans")
        ax[0].hist(efix, bins, density=True, histtype="step", color="k", label="EFIX 220682 (antisaccade)")
        ax[0].set(xlabel="fixation duration (ms)", ylabel="density")
        ax[0].legend(fontsize=8)
        bins = np.logspace(-1.3, 1.5, 40)
        ax[1].hist(sim_amp, bins, density=True, alpha=0.5, label="simulated observer")
        ax[1].hist(human_amp, bins, density=True, alpha=0.5, label="nus-scene humans")
        ax[1].hist(esacc[np.isfinite(esacc)], bins, density=True, histtype="step", color="k", label="ESACC 220682")
        ax[1].set(xscale="log", xlabel="saccade amplitude (deg)")
        ax[1].legend(fontsize=8)
        for k, (name, pos) in enumerate((("simulated observer", sim_pos), ("nus-scene humans", human_pos))):
            ax[2 + k].hist2d(pos[:, 0], pos[:, 1], bins=40, range=[[0, 1], [0, 1]], cmap="magma")
            ax[2 + k].set(title=f"{name}: fixations over images", xlabel="x / width", ylabel="y / height")
            ax[2 + k].invert_yaxis()
        fig.tight_layout()
        OUT.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(OUT, dpi=90)
        print(f"figure: {OUT}")
    ratio = np.hypot(*sim_pos.std(0)) / np.hypot(*human_pos.std(0))
    print(f"spread of fixation positions, simulated / human: {ratio:.2f}")


if __name__ == "__main__":
    main()
