"""Presets for Pupil Labs exports: Pupil Player (Core) and Pupil Cloud (Neon, Invisible).

From Pupil Labs' documentation (no licensed real export was available to test against, see
tests/data/README.md):

``pupil-player``: Pupil Player's raw data exporter, ``gaze_positions.csv``
    ``gaze_timestamp`` (s, Pupil time), ``norm_pos_x`` / ``norm_pos_y`` (the gaze in the world
    camera image, normalised 0..1 with the origin at the BOTTOM left: y is flipped here, and
    ``screen_px`` must give the world camera's frame size), ``confidence`` (samples below 0.6,
    Pupil Labs' recommended threshold, become missing). The gaze is one binocular estimate; it
    is stored as the eye ``eye`` names (default L). The surface tracker's
    ``gaze_positions_on_surface_<name>.csv`` (``x_norm``, ``y_norm``, same origin, the surface's
    size as ``screen_px``) reads the same way.
``pupil-cloud``: Pupil Cloud's timeseries export, ``gaze.csv``
    ``timestamp [ns]`` (UTC, ns), ``gaze x [px]`` / ``gaze y [px]`` (scene camera px, origin top
    left), ``worn`` (1 when the glasses were worn; other samples missing), ``fixation id`` and
    ``blink id`` (the Cloud's own fixations and blinks: rows sharing an id are one event).
``pupil-labs``
    Either, chosen by the file's columns.
"""

from __future__ import annotations

from pathlib import Path

from gazelab.errors import ParseError
from gazelab.preprocessing.readers.tabular import Preset, read_header, register_dispatch, register_preset

__all__ = ["PUPIL_CLOUD", "PUPIL_PLAYER"]

PUPIL_PLAYER = register_preset(
    Preset(
        name="pupil-player",
        columns={
            "time": ("gaze_timestamp", "world_timestamp"),
            "x": ("norm_pos_x", "x_norm"),
            "y": ("norm_pos_y", "y_norm"),
        },
        time_unit="s",
        gaze_unit="normalized",
        origin="bottom-left",
        min_confidence={"left": ("confidence", 0.6), "right": ("confidence", 0.6)},
        note="Pupil Player raw data exporter documentation (documentation only)",
    )
)

PUPIL_CLOUD = register_preset(
    Preset(
        name="pupil-cloud",
        columns={"time": ("timestamp [ns]",), "x": ("gaze x [px]",), "y": ("gaze y [px]",)},
        time_unit="ns",
        validity={"left": ("worn", ("1", "1.0", "True", "true")), "right": ("worn", ("1", "1.0", "True", "true"))},
        event_labels={"left": ("fixation id", {"*": "fixation"}), "right": ("fixation id", {"*": "fixation"})},
        note="Pupil Cloud timeseries export documentation (documentation only)",
    )
)


def _which(path: Path) -> str:
    columns = set(read_header(path, ","))
    if columns & {"norm_pos_x", "x_norm"}:
        return "pupil-player"
    if "gaze x [px]" in columns:
        return "pupil-cloud"
    raise ParseError(
        path, f"not a Pupil Labs gaze export (gaze_positions.csv or gaze.csv); columns {sorted(columns)}", 1
    )


register_dispatch("pupil-labs", _which)
