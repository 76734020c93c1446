"""Calibration graphics for the EyeLink's Host-driven setup, drawn in gazelab's PsychoPy window.

SR Research publishes its own (``psychopy-eyelink-coregraphics`` 2.2.1.1 on PyPI: camera image on
the Display PC, sounds), but it does not import beside gazelab's minimal PsychoPy (installed
``--no-deps``): its module imports ``psychopy.sound`` at import time, which fails with
``ModuleNotFoundError: No module named 'soundfile'`` (and would then need a sound backend,
psychtoolbox or sounddevice with PortAudio). Tried under Xvfb with pylink 2.2.596 and
``EyeLinkCoreGraphicsPsychoPy(pylink.EyeLink(None), window)``. So this is gazelab's own small
``pylink.EyeLinkCustomDisplay``: the Host tells it where to draw
calibration and validation targets, and it passes the operator's keys (Enter, Escape, C, V, A,
arrows...) back to the Host. The camera image is not shown (the Host PC shows it). pylink is
imported when the class is built, so this module imports without it.
"""

from __future__ import annotations

from typing import Any

__all__ = ["KEY_MAP", "make_calibration_display"]

#: PsychoPy key names -> pylink key codes (letters and digits map to their character codes).
KEY_MAP = {
    "return": "ENTER_KEY",
    "escape": "ESC_KEY",
    "f1": "F1_KEY",
    "up": "CURS_UP",
    "down": "CURS_DOWN",
    "left": "CURS_LEFT",
    "right": "CURS_RIGHT",
    "pageup": "PAGE_UP",
    "pagedown": "PAGE_DOWN",
}


def make_calibration_display(display: Any) -> Any:
    """A ``pylink.EyeLinkCustomDisplay`` drawing in ``display`` (a PsychoPyDisplay).

    Pass it to ``pylink.openGraphicsEx`` before ``doTrackerSetup``; its ``events`` list records
    what the Host asked for (for the session log and tests).
    """
    import pylink

    class _CalibrationDisplay(_CameraImageOnHost, pylink.EyeLinkCustomDisplay):
        def __init__(self) -> None:
            super().__init__()
            self.display = display
            self.events: list[tuple[str, Any]] = []

        def setup_cal_display(self) -> None:
            self.events.append(("setup", None))
            self.display.flip()

        def exit_cal_display(self) -> None:
            self.events.append(("exit", None))
            self.display.flip()

        def clear_cal_display(self) -> None:
            self.display.flip()

        def erase_cal_target(self) -> None:
            self.display.flip()

        def draw_cal_target(self, x: float, y: float) -> None:
            self.events.append(("target", (x, y)))
            self.display.target(x, y)
            self.display.flip()

        def play_beep(self, beepid: int) -> None:
            self.events.append(("beep", beepid))

        def get_input_key(self) -> list[Any]:
            return _key_inputs(pylink, self.display.keys(), self.events)

        def alert_printf(self, msg: str) -> None:
            self.events.append(("alert", msg))

    return _CalibrationDisplay()


def _key_inputs(pylink: Any, names: list[str], events: list[tuple[str, Any]]) -> list[Any]:
    """The operator's keys as ``pylink.KeyInput`` objects, each logged in ``events`` (others dropped)."""
    keys = []
    for name in names:
        if name in KEY_MAP:
            code = getattr(pylink, KEY_MAP[name])
        elif len(name) == 1:
            code = ord(name)
        elif name == "space":
            code = ord(" ")
        else:
            continue
        keys.append(pylink.KeyInput(code, 0))
        events.append(("key", name))
    return keys


class _CameraImageOnHost:
    """The parts of ``pylink.EyeLinkCustomDisplay`` left empty: the camera image stays on the Host PC, no mouse."""

    def get_mouse_state(self) -> tuple[tuple[int, int], int]:
        return (0, 0), 0

    def setup_image_display(self, width: int, height: int) -> int:
        return 1

    def exit_image_display(self) -> None:
        return None

    def image_title(self, text: str) -> None:
        return None

    def draw_image_line(self, width: int, line: int, totlines: int, buff: Any) -> None:
        return None

    def set_image_palette(self, r: Any, g: Any, b: Any) -> None:
        return None

    def draw_line(self, x1: int, y1: int, x2: int, y2: int, colorindex: int) -> None:
        return None

    def draw_lozenge(self, x: int, y: int, width: int, height: int, colorindex: int) -> None:
        return None

    def record_abort_hide(self) -> None:
        return None
