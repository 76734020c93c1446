"""Acquisition: running eye-tracking sessions.

What exists: the experiment config (:mod:`~gazelab.acquisition.config`), the crash-safe session
folder format with recovery (:mod:`~gazelab.acquisition.session`), the tracker interface and the
simulated tracker (:mod:`~gazelab.acquisition.trackers`). The PsychoPy runner and the EyeLink and
webcam backends come with their issues. Hardware libraries (psychopy, pylink, cv2) are imported
only inside the backend modules that need them.
"""

from gazelab.acquisition.config import ExperimentConfig, load_config
from gazelab.acquisition.session import SessionWriter, recover, session_dir
from gazelab.acquisition.trackers import SimulatedTracker, Tracker

__all__ = ["ExperimentConfig", "SessionWriter", "SimulatedTracker", "Tracker", "load_config", "recover", "session_dir"]
