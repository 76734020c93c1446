"""Acquisition: running eye-tracking sessions (PsychoPy display, EyeLink / webcam / simulated
trackers). Hardware libraries are imported only inside the backend modules that need them.

The experiment runner and tracker backends arrive with the acquisition issue; what exists now
is the simulated observer in :mod:`gazelab.simulation`, which the simulated tracker will use.
"""

__all__: list[str] = []
