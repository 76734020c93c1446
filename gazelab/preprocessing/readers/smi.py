"""Preset for SMI BeGaze / IDF Converter sample exports (``*_Samples.txt``, tab-separated).

Header lines start with ``##``; then ``Time`` (μs, the iView X clock), ``Type`` (``SMP``
samples, ``MSG`` messages whose text, ``# Message: ...``, sits in the fourth column),
``Trial``, ``L POR X [px]`` / ``L POR Y [px]`` and the right-eye pair (point of regard on the
screen, px, origin top left; 0, 0 when the eye was lost), pupil diameter (``L Mapped Diameter
[mm]``, ``L Pupil Diameter [mm]`` or ``L Dia X [px]``), ``L Validity`` / ``R Validity`` where
exported (1 valid), and ``L Event Info`` / ``R Event Info`` (BeGaze's own classification:
``Fixation``, ``Saccade``, ``Blink``; runs become the tracker's own events). Checked against a
real export: the DIDEC example in pymovements' test files (tests/data/README.md).
"""

from __future__ import annotations

import pandas as pd

from gazelab.preprocessing.readers.tabular import Preset, register_preset

__all__ = ["SMI_BEGAZE"]

_PREFIX = "# Message:"


def _messages(raw: pd.DataFrame) -> list[tuple[int, str]]:
    if "Type" not in raw.columns or raw.shape[1] < 4:
        return []
    out = []
    for i in raw.index[raw["Type"].str.strip() == "MSG"]:
        text = str(raw.iat[i, 3]).strip()
        out.append((int(i), text[len(_PREFIX) :].strip() if text.startswith(_PREFIX) else text))
    return out


_EVENTS = {"Fixation": "fixation", "Saccade": "saccade", "Blink": "blink"}

SMI_BEGAZE = register_preset(
    Preset(
        name="smi",
        columns={
            "time": ("Time",),
            "x_left": ("L POR X [px]",),
            "y_left": ("L POR Y [px]",),
            "x_right": ("R POR X [px]",),
            "y_right": ("R POR Y [px]",),
            "pupil_left": ("L Mapped Diameter [mm]", "L Pupil Diameter [mm]", "L Dia X [px]"),
            "pupil_right": ("R Mapped Diameter [mm]", "R Pupil Diameter [mm]", "R Dia X [px]"),
            "trial": ("Trial",),
        },
        time_unit="us",
        sep="\t",
        comment="##",
        sample_rows=("Type", "SMP"),
        validity={"left": ("L Validity", ("1",)), "right": ("R Validity", ("1",))},
        zero_is_missing=True,
        messages=_messages,
        event_labels={"left": ("L Event Info", _EVENTS), "right": ("R Event Info", _EVENTS)},
        note="SMI BeGaze / IDF Converter export; checked on pymovements' DIDEC example (real export)",
    )
)
