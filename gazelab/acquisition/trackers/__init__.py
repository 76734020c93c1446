"""Tracker backends behind one interface (:class:`~gazelab.acquisition.trackers.base.Tracker`).

Hardware libraries are imported inside the backend modules only, at call time.
"""

from gazelab.acquisition.trackers.base import SampleQueue, Tracker
from gazelab.acquisition.trackers.simulated import SimulatedTracker

__all__ = ["SampleQueue", "SimulatedTracker", "Tracker"]
