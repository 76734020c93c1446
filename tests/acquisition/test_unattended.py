"""--unattended: the simulated participant answers the runner's key prompts itself (make session under Xvfb)."""

from pathlib import Path
from types import SimpleNamespace

import pytest

from gazelab.acquisition.runner import _Abort, _Session


class _Display:
    def __init__(self, pressed=()):
        self.pressed = list(pressed)
        self.waited = 0.0

    def keys(self, allowed):
        return [k for k in self.pressed if k in allowed]

    def wait(self, seconds):
        self.waited += seconds

    def wait_keys(self, allowed, timeout_s=None):  # pragma: no cover - must not be reached when unattended
        raise AssertionError("an unattended session waited for a person")


def _session(display):
    tracker = SimpleNamespace(newest_samples=lambda: [])
    writer = SimpleNamespace(add_samples=lambda rows: None, folder=Path("."))
    run = _Session(SimpleNamespace(), tracker, writer, display, print)
    run.unattended = True
    return run


@pytest.mark.parametrize(("allowed", "expected"), [(["space"], "space"), (["space", "r"], "space"), (["r", "s"], "s")])
def test_unattended_presses_go_on_or_accept(allowed, expected):
    display = _Display()
    assert _session(display).wait_key(allowed) == expected
    assert display.waited > 0  # it still pumps samples and watches Escape while "thinking"


def test_escape_still_ends_an_unattended_session():
    with pytest.raises(_Abort):
        _session(_Display(pressed=["escape"])).wait_key(["space"])
