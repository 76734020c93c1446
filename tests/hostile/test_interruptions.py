"""Interruptions and the machine's own failures: Ctrl-C, SIGTERM, a start that fails, killed
writers' leftovers, a read-only folder, a full disk, a planted checkpoint.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from gazelab.acquisition.display import HeadlessDisplay
from tests.conftest import REPO
from tests.hostile.conftest import CLI_GEOMETRY, KW, assert_one_line, gazelab, snapshot

# ---- a recording session that ends early says so ---------------------------------------------------

EXPERIMENT = """name: hostile
screen: {width_px: 1280, height_px: 1024, width_cm: 37.5, height_cm: 30.0, distance_cm: 60.0, refresh_hz: 60}
stimuli: {folder: stimuli/}
placement: fit
timing: {fixation_cross_ms: 20, stimulus_ms: 100, inter_trial_ms: 20}
order: fixed
seed: 1
calibration: {points: 5, validation_threshold_deg: 5.0, max_error_deg: 9.0, max_attempts: 1}
drift_check_every: 0
tracker: {backend: simulated, sampling_rate_hz: 250, eye: R}
output: sessions/
"""


class _Stop(HeadlessDisplay):
    """The headless display, with an interruption at the n-th stimulus image (0: at calibration)."""

    def __init__(self, geometry, *, at_image: int, how: str) -> None:
        super().__init__(geometry)
        self.at_image, self.how, self.images = at_image, how, 0

    def _fire(self) -> None:
        if self.how == "ctrl-c":
            raise KeyboardInterrupt
        os.kill(os.getpid(), signal.SIGTERM)

    def target(self, x_px, y_px):
        if self.at_image == 0:
            self._fire()
        return super().target(x_px, y_px)

    def image(self, path, placement):
        self.images += 1
        if self.images == self.at_image:
            self._fire()
        return super().image(path, placement)

    def wait(self, seconds):  # real time is not what is tested here
        return None


@pytest.fixture
def experiment(tmp_path):
    from gazelab.acquisition.config import load_config
    from tests.datasets.conftest import make_stimuli

    make_stimuli(tmp_path / "stimuli")
    path = tmp_path / "exp.yaml"
    path.write_text(EXPERIMENT)
    return load_config(path)


@pytest.mark.parametrize(("how", "at_image", "done"), [("ctrl-c", 2, 1), ("sigterm", 0, 0), ("ctrl-c", 0, 0)])
def test_interrupted_session_is_marked_aborted(experiment, tmp_path, how, at_image, done):
    from gazelab.acquisition.runner import run_session

    display = _Stop(experiment.geometry, at_image=at_image, how=how)
    with pytest.raises(KeyboardInterrupt):
        run_session(experiment, "P01", 1, out=tmp_path / "sessions", display=display, echo=lambda s: None)
    meta = json.loads((tmp_path / "sessions" / "sub-P01" / "ses-1" / "session.json").read_text())
    assert meta["status"] == "aborted"
    assert meta["trials_done"] == done and meta["trials_planned"] == 3
    assert ("Ctrl-C" if how == "ctrl-c" else "SIGTERM") in meta["abort_reason"]
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL  # the handler is put back


def test_failed_start_is_aborted_and_does_not_block_the_retry(experiment, tmp_path, monkeypatch):
    import gazelab.acquisition.display as display_module
    from gazelab.acquisition.runner import run_session

    def no_display(*args, **kwargs):
        raise RuntimeError("no display: cannot open a window")

    monkeypatch.setattr(display_module, "PsychoPyDisplay", no_display)
    folder = tmp_path / "sessions" / "sub-P01" / "ses-1"
    for _ in range(2):  # the retry fails for the same reason, not because the folder exists
        with pytest.raises(RuntimeError, match="no display"):
            run_session(experiment, "P01", 1, out=tmp_path / "sessions", echo=lambda s: None)
        meta = json.loads((folder / "session.json").read_text())
        assert meta["status"] == "aborted" and meta["trials_done"] == 0
        assert "no display" in meta["abort_reason"]


def test_session_that_recorded_trials_still_blocks_a_new_one(experiment, tmp_path):
    from gazelab.acquisition.runner import run_session
    from gazelab.errors import GazelabError

    display = _Stop(experiment.geometry, at_image=2, how="ctrl-c")
    with pytest.raises(KeyboardInterrupt):
        run_session(experiment, "P01", 1, out=tmp_path / "sessions", display=display, echo=lambda s: None)
    with pytest.raises(GazelabError, match="already exists"):
        run_session(
            experiment, "P01", 1, out=tmp_path / "sessions", display=HeadlessDisplay(experiment.geometry), echo=print
        )


# ---- Ctrl-C during a build or an import replaces nothing --------------------------------------------


@pytest.mark.parametrize("swallowed", [False, True])
def test_ctrl_c_during_a_build_replaces_nothing(good_h5, tmp_path, swallowed):
    import shutil

    from gazelab.datasets import build_dataset
    from tests.datasets.conftest import make_session, make_stimuli

    out = Path(shutil.copy(good_h5, tmp_path / "data.h5"))
    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P02.asc", seed=2)

    calls: list[int] = []

    def interrupt(i: int) -> None:
        calls.append(i)
        if swallowed:  # a library (h5py's visitors) catching the KeyboardInterrupt
            try:
                os.kill(os.getpid(), signal.SIGINT)
            except KeyboardInterrupt:
                pass
        else:
            os.kill(os.getpid(), signal.SIGINT)

    before = snapshot(tmp_path)
    with pytest.raises(KeyboardInterrupt):
        build_dataset([rec], out, stimuli_dir=stim, overwrite=True, progress=False, _after_stimulus=interrupt, **KW)
    assert snapshot(tmp_path) == before  # old file kept, no .part left
    assert calls == [0]  # stopped at once: not one more stimulus written


def test_ctrl_c_at_the_command_line_is_one_line_and_exit_130(tmp_path, monkeypatch):
    from tests.datasets.conftest import make_session

    rec = make_session(tmp_path / "P01.asc", seed=1)

    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("gazelab.preprocessing.read", interrupted)
    assert_one_line(gazelab("fixations", rec, *CLI_GEOMETRY), "Interrupted", code=130)


# ---- leftovers of killed writers ---------------------------------------------------------------------


def _dead_pid() -> int:
    proc = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True)
    return int(proc.stdout)


def test_stale_part_files_are_removed_by_the_next_build(good_h5, tmp_path):
    from gazelab.datasets import build_dataset
    from tests.datasets.conftest import make_session, make_stimuli

    out = tmp_path / "new.h5"
    stale = tmp_path / f".new.h5.{_dead_pid()}.abc123.part"
    stale.write_bytes(good_h5.read_bytes())  # looks like data; must never be read as such
    live = tmp_path / f".new.h5.{os.getpid()}.def456.part"  # a writer still running: kept
    live.write_bytes(b"in progress")
    stim = make_stimuli(tmp_path / "stimuli")
    rec = make_session(tmp_path / "P02.asc", seed=2)
    build_dataset([rec], out, stimuli_dir=stim, progress=False, **KW)
    assert not stale.exists() and live.exists()
    result = gazelab("validate", stale)
    assert result.exit_code == 1


def test_recover_removes_stale_part_files(tmp_path):
    stale = [tmp_path / f".data.h5.{_dead_pid()}.x.part", tmp_path / ".old-style.part"]
    for p in stale:
        p.write_bytes(b"half a file")
    (tmp_path / "keep.h5").write_bytes(b"a file")
    result = gazelab("recover", tmp_path)
    assert result.exit_code == 0, result.output
    assert "removed 2" in result.output
    assert not any(p.exists() for p in stale) and (tmp_path / "keep.h5").exists()


# ---- the machine's own failures: one line each ----------------------------------------------------------


@pytest.mark.parametrize(
    ("error", "words"),
    [
        (PermissionError(errno.EACCES, "Permission denied", "/ro/fix.csv"), "Permission denied"),
        (OSError(errno.ENOSPC, "No space left on device", "/full/fix.csv"), "no space left"),
        (OSError(errno.EROFS, "Read-only file system", "/mnt/ro/fix.csv"), "Read-only file system"),
        (MemoryError(), "out of memory"),
    ],
    ids=["read-only folder", "full disk", "read-only filesystem", "memory"],
)
def test_os_failures_while_writing_are_one_line(tmp_path, monkeypatch, error, words):
    from tests.datasets.conftest import make_session

    rec = make_session(tmp_path / "P01.asc", seed=1)

    def fail(*args, **kwargs):
        raise error

    monkeypatch.setattr("gazelab._io.write_table", fail)
    before = snapshot(tmp_path)
    assert_one_line(gazelab("fixations", rec, *CLI_GEOMETRY, "--out", tmp_path / "fix.csv"), words)
    assert snapshot(tmp_path) == before


def test_debug_shows_the_traceback(tmp_path):
    missing = tmp_path / "nope.asc"
    plain = gazelab("info", missing)
    assert (plain.exit_code == 1 and plain.exception is None) or isinstance(plain.exception, SystemExit)
    debug = gazelab("--debug", "info", missing)
    assert debug.exception is not None and not isinstance(debug.exception, SystemExit)
    out = subprocess.run(
        [sys.executable, "-m", "gazelab", "--debug", "info", str(missing)],
        capture_output=True,
        text=True,
        cwd=REPO,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )
    assert out.returncode != 0 and "Traceback" in out.stderr


# ---- loading runs no code ----------------------------------------------------------------------------


def test_no_torch_load_in_the_package_unpickles_code():
    import ast

    import gazelab

    package = Path(gazelab.__file__).parent
    calls = []
    for path in package.rglob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "attr", "") == "load":
                if getattr(node.func.value, "id", "") == "torch":
                    kw = {k.arg: k.value for k in node.keywords}
                    ok = isinstance(kw.get("weights_only"), ast.Constant) and kw["weights_only"].value is True
                    calls.append((f"{path.relative_to(package)}:{node.lineno}", ok))
    assert calls, "no torch.load found: the check looks in the wrong place"
    assert all(ok for _, ok in calls), calls


PLANT = """
import os, sys, torch
class Evil:
    def __reduce__(self):
        return (os.system, ("touch " + sys.argv[2],))
torch.save({"config": {}, "model": {}, "optimizer": {}, "history": [], "epoch": 0, "x": Evil()}, sys.argv[1])
"""


def test_planted_checkpoint_is_refused_unrun(tmp_path):
    torch = pytest.importorskip("torch")
    ckpt, marker = tmp_path / "checkpoint.pt", tmp_path / "pwned"
    subprocess.run([sys.executable, "-c", PLANT, str(ckpt), str(marker)], check=True, cwd=REPO)
    with pytest.raises(Exception, match="weights_only"):  # what every torch.load in gazelab does
        torch.load(ckpt, map_location="cpu", weights_only=True)
    assert not marker.exists()


@pytest.mark.slow
def test_planted_checkpoint_runs_no_code_at_resume(tmp_path):
    pytest.importorskip("torch")
    from gazelab.errors import ParseError
    from gazelab.models.tasks import make_distractor_task
    from gazelab.models.train import AlignConfig, align

    task = tmp_path / "task.h5"
    make_distractor_task(task, n_images=8, size_px=32, n_observers=2, seed=1, progress=False)
    run = tmp_path / "run"
    run.mkdir()
    ckpt, marker = run / "checkpoint.pt", tmp_path / "pwned"
    subprocess.run([sys.executable, "-c", PLANT, str(ckpt), str(marker)], check=True, cwd=REPO)
    assert not marker.exists()
    cfg = AlignConfig(model="resnet18", attention="spatial", loss="kl", epochs=1, batch_size=4, input_size=32)
    with pytest.raises(ParseError, match="checkpoint"):
        align(task, run, cfg, resume=True, device="cpu", progress=False)
    assert not marker.exists()  # the planted code never ran
