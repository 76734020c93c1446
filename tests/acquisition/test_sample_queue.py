"""The trackers' shared sample queue: a producing thread, a draining session, nothing lost or reordered."""

import threading

from gazelab.acquisition.trackers import SampleQueue, SimulatedTracker
from gazelab.acquisition.trackers.webcam import WebcamTracker
from gazelab.geometry import Geometry


def test_queue_keeps_every_sample_in_order_across_threads():
    q = SampleQueue()
    n = 20_000

    def produce():
        for i in range(0, n, 7):
            q.put([(float(j),) for j in range(i, min(i + 7, n))])

    thread = threading.Thread(target=produce)
    thread.start()
    got = []
    while thread.is_alive() or len(q):
        got.extend(q.drain())
    assert [r[0] for r in got] == [float(i) for i in range(n)]
    assert q.drain() == [] and len(q) == 0


def test_streaming_backends_share_the_base_queue():
    assert "newest_samples" not in vars(SimulatedTracker)  # the base drains the shared queue
    tracker = SimulatedTracker(Geometry(1280, 1024, 37.5, 30.0, 60.0), sampling_rate_hz=500.0, seed=1)
    tracker.connect()
    tracker.start_recording()
    try:
        rows = []
        while len(rows) < 20:
            threading.Event().wait(0.01)
            rows += tracker.newest_samples()
    finally:
        tracker.stop_recording()
        tracker.close()
    times = [r[0] for r in rows]
    assert times == sorted(times) and tracker.samples is tracker.samples
    assert WebcamTracker.newest_samples is not SimulatedTracker.newest_samples  # checks its error, then drains
