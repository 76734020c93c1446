"""Preset for Tobii Pro Lab's data export (TSV, one row per sample or event).

Read from Tobii Pro Lab's user manual ("Data export", column descriptions; no real export was
available to test against, see tests/data/README.md): ``Recording timestamp`` (μs from the
start of the recording; older exports and the ``[ms]`` header variant in ms), ``Gaze point
left X`` / ``Gaze point left Y`` and the right-eye pair (the gaze on the screen in px of the
display area, origin top left; newer exports append ``[DACS px]``), ``Pupil diameter left`` /
``right`` (mm), ``Validity left`` / ``right`` (``Valid`` or ``Invalid``: invalid samples become
missing), ``Sensor`` (``Eye Tracker`` rows are samples; Glasses exports also carry gyroscope and
accelerometer rows), ``Event`` and ``Event value`` (messages: stimulus onsets, key presses,
TTL and custom events), ``Eye movement type`` (Pro Lab's I-VT classification: ``Fixation`` and
``Saccade`` runs become the tracker's own events) and ``Presented Stimulus name`` (one trial per
stimulus shown).
"""

from __future__ import annotations

import pandas as pd

from gazelab.preprocessing.readers.tabular import Preset, register_preset

__all__ = ["TOBII_PRO_LAB"]


def _messages(raw: pd.DataFrame) -> list[tuple[int, str]]:
    if "Event" not in raw.columns:
        return []
    event = raw["Event"].str.strip()
    value = raw["Event value"].str.strip() if "Event value" in raw.columns else pd.Series("", index=raw.index)
    return [(i, f"{e} {v}".strip()) for i, (e, v) in enumerate(zip(event, value, strict=True)) if e]


_MOVEMENT = {"Fixation": "fixation", "Saccade": "saccade"}

TOBII_PRO_LAB = register_preset(
    Preset(
        name="tobii",
        columns={
            "time": (
                "Recording timestamp [μs]",
                "Recording timestamp [us]",
                "Recording timestamp [ms]",
                "Recording timestamp",
            ),
            "x_left": ("Gaze point left X [DACS px]", "Gaze point left X"),
            "y_left": ("Gaze point left Y [DACS px]", "Gaze point left Y"),
            "x_right": ("Gaze point right X [DACS px]", "Gaze point right X"),
            "y_right": ("Gaze point right Y [DACS px]", "Gaze point right Y"),
            "pupil_left": ("Pupil diameter left [mm]", "Pupil diameter left"),
            "pupil_right": ("Pupil diameter right [mm]", "Pupil diameter right"),
            "trial": ("Presented Stimulus name",),
        },
        time_unit="us",
        column_units={"Recording timestamp [ms]": "ms"},
        sep="\t",
        sample_rows=("Sensor", "Eye Tracker"),
        validity={"left": ("Validity left", ("Valid",)), "right": ("Validity right", ("Valid",))},
        messages=_messages,
        event_labels={"left": ("Eye movement type", _MOVEMENT), "right": ("Eye movement type", _MOVEMENT)},
        note="Tobii Pro Lab user manual, data export columns (documentation only)",
    )
)
