"""Preset for Gazepoint Analysis' ``all_gaze.csv`` export (GP3 / GP3 HD).

From the Gazepoint API and Analysis documentation (Open Gaze API field names; no real export
was available to test against, see tests/data/README.md): ``TIME(<date time>)`` (s since the
recording started; the column's name carries the start date), ``LPOGX``/``LPOGY`` and
``RPOGX``/``RPOGY`` (each eye's point of gaze as a fraction of the screen, origin top left:
``screen_px`` is required), their validity flags ``LPOGV``/``RPOGV`` (1 valid), ``LPMM``/``RPMM``
(pupil diameter, mm), ``FPOGID``/``FPOGV`` (the tracker's own fixation filter: rows with
``FPOGV`` 1 and the same ``FPOGID`` are one fixation), ``USER`` (the user data sent during the
recording: messages) and ``MEDIA_NAME`` (one trial per stimulus).
"""

from __future__ import annotations

import pandas as pd

from gazelab.preprocessing.readers.tabular import Preset, register_preset

__all__ = ["GAZEPOINT"]


def _messages(raw: pd.DataFrame) -> list[tuple[int, str]]:
    if "USER" not in raw.columns:
        return []
    user = raw["USER"].str.strip()
    previous = user.shift(fill_value="")
    return [(i, text) for i, (text, before) in enumerate(zip(user, previous, strict=True)) if text and text != before]


GAZEPOINT = register_preset(
    Preset(
        name="gazepoint",
        columns={
            "time": ("TIME*",),
            "x_left": ("LPOGX",),
            "y_left": ("LPOGY",),
            "x_right": ("RPOGX",),
            "y_right": ("RPOGY",),
            "pupil_left": ("LPMM",),
            "pupil_right": ("RPMM",),
            "trial": ("MEDIA_NAME",),
        },
        time_unit="s",
        gaze_unit="normalized",
        validity={"left": ("LPOGV", ("1",)), "right": ("RPOGV", ("1",))},
        messages=_messages,
        event_labels={"left": ("FPOGID", {"*": "fixation"}), "right": ("FPOGID", {"*": "fixation"})},
        event_valid=("FPOGV", ("1",)),
        note="Gazepoint Open Gaze API / Analysis documentation (documentation only)",
    )
)
