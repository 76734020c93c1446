"""The interface every tracker backend implements."""

from __future__ import annotations

import collections
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable
from pathlib import Path

__all__ = ["SampleQueue", "SampleRow", "Tracker"]

#: One sample as the session format stores it: device time (ms, tracker clock), host receive
#: time (ms, :func:`gazelab.acquisition.session.host_time_ms`), then x, y (screen px), pupil per
#: recorded eye (None when missing), then confidence (0..1).
SampleRow = tuple[float | None, ...]


class SampleQueue:
    """Samples a backend's own thread has produced and the session has not taken yet (thread-safe).

    The producing thread calls :meth:`put`; :meth:`Tracker.newest_samples` takes everything with
    :meth:`drain`, oldest first. Nothing is dropped: the queue grows until drained.
    """

    def __init__(self) -> None:
        self._rows: collections.deque[SampleRow] = collections.deque()
        self._lock = threading.Lock()

    def put(self, rows: Iterable[SampleRow]) -> None:
        """Append samples, oldest first."""
        with self._lock:
            self._rows.extend(rows)

    def drain(self) -> list[SampleRow]:
        """Every queued sample, oldest first; the queue is left empty."""
        with self._lock:
            rows = list(self._rows)
            self._rows.clear()
        return rows

    def __len__(self) -> int:
        with self._lock:
            return len(self._rows)


class Tracker(ABC):
    """An eye tracker as the experiment runner drives it.

    Attributes
    ----------
    name : str
        Backend name (``eyelink``, ``webcam``, ``simulated``).
    sampling_rate_hz : float
        Samples per second.
    eyes : str
        Recorded eyes, ``'L'``, ``'R'`` or ``'LR'``.
    """

    name: str = ""
    sampling_rate_hz: float = 0.0
    eyes: str = "L"

    @abstractmethod
    def connect(self) -> None:
        """Open the connection (or start the device)."""

    @abstractmethod
    def calibration_samples(self, x_px: float, y_px: float, duration_ms: float) -> list[SampleRow]:
        """Record gaze while the participant looks at a target, for calibration or validation."""

    @abstractmethod
    def apply_calibration(self, targets_px: list[tuple[float, float]], samples: list[list[SampleRow]]) -> None:
        """Fit (or accept) the mapping from the samples recorded at the targets."""

    @abstractmethod
    def drift_correct(self, x_px: float, y_px: float) -> tuple[float, float]:
        """Check the gaze at a target; return the offset (dx, dy) in screen px that was found."""

    @abstractmethod
    def start_recording(self) -> None:
        """Start streaming samples."""

    @abstractmethod
    def stop_recording(self) -> None:
        """Stop streaming samples."""

    @abstractmethod
    def send_message(self, text: str) -> float:
        """Log a message in the tracker's own data; return its time on the tracker clock (ms)."""

    @property
    def samples(self) -> SampleQueue:
        """The queue between a backend's streaming thread and :meth:`newest_samples` (made on first use)."""
        queue = self.__dict__.get("_sample_queue")
        if queue is None:
            queue = self.__dict__.setdefault("_sample_queue", SampleQueue())  # atomic: one queue per tracker
        return queue

    def newest_samples(self) -> list[SampleRow]:
        """Samples received since the last call, oldest first.

        Backends that stream from a thread of their own put their samples in :attr:`samples`, which
        this drains; a backend that reads a device buffer instead (EyeLink) overrides it.
        """
        return self.samples.drain()

    @abstractmethod
    def tracker_time_ms(self) -> float:
        """The tracker clock now, ms."""

    @abstractmethod
    def close(self) -> None:
        """Stop everything and disconnect."""

    def fetch_data_file(self, destination: Path) -> Path | None:
        """Copy the tracker's own data file into the session folder (None if it keeps none)."""
        return None
