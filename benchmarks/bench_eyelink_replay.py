"""Drain cost of the EyeLink backend at full rate: the real EyeLinkTracker against the replay link.

Replays every recording block of ../shared/data/eyelink/mono1000.asc.gz and mono2000.asc.gz in real
time, draining the link once per 60 Hz frame as the session runner does, and reports samples
received / expected, lost-data events, drain time per frame (median, 99th percentile) and the CPU
share of one core. The last line is the worst 99th-percentile drain as a share of a 60 Hz frame.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

from gazelab.acquisition.trackers.eyelink import EyeLinkTracker
from gazelab.geometry import Geometry

DATA = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "eyelink"
FRAME_S = 1 / 60


def replay_whole_file(path: Path, rate: int) -> dict[str, float]:
    trk = EyeLinkTracker(Geometry(1024, 768, 37.5, 28.0, 60.0), address=f"replay:{path}", sampling_rate_hz=rate)
    trk.connect()
    blocks = trk.el._block_offsets - trk.el._block_onsets
    drain_ms, received = [], 0
    wall0, cpu0 = time.perf_counter(), time.process_time()
    for length_ms in blocks:
        trk.start_recording()
        end = trk.tracker_time_ms() + length_ms
        while trk.tracker_time_ms() < end:
            t0 = time.perf_counter()
            received += len(trk.newest_samples())
            trk.link_events()
            drain_ms.append((time.perf_counter() - t0) * 1000)
            time.sleep(max(0.0, FRAME_S - (time.perf_counter() - t0)))
        trk.stop_recording()
        received += len(trk.newest_samples())
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    meta = trk.session_metadata()
    trk.close()
    d = np.asarray(drain_ms)
    return {
        "received": received,
        "expected": meta["samples_expected"],
        "lost": meta["lost_data_events"],
        "median_ms": float(np.median(d)),
        "p99_ms": float(np.percentile(d, 99)),
        "cpu_share": cpu / wall,
    }


def main() -> None:
    if not DATA.is_dir():
        sys.exit(f"{DATA} is absent")
    worst = 0.0
    for name, rate in (("mono1000.asc.gz", 1000), ("mono2000.asc.gz", 2000)):
        r = replay_whole_file(DATA / name, rate)
        print(
            f"{name}: {r['received']}/{r['expected']} samples received/expected, lost-data events {r['lost']}, "
            f"drain per frame median {r['median_ms']:.3f} ms, p99 {r['p99_ms']:.3f} ms, "
            f"CPU {r['cpu_share']:.1%} of one core"
        )
        worst = max(worst, r["p99_ms"])
    print(f"worst p99 drain / 60 Hz frame: {worst / (FRAME_S * 1000):.4f}")


if __name__ == "__main__":
    main()
