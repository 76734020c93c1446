"""Commands for recording sessions: ``run`` and ``recover``."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import cli


@cli.command("run")
@click.argument("experiment", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--participant", "-p", required=True, help="Participant id (letters and digits).")
@click.option("--session", "-s", default="1", show_default=True, help="Session number or label.")
@click.option(
    "--tracker",
    type=click.Choice(["simulated", "eyelink", "webcam"]),
    default=None,
    help="Override the experiment's tracker backend.",
)
@click.option(
    "--camera",
    default=None,
    help="webcam: camera index or video file (overrides the experiment's tracker.camera).",
)
@click.option(
    "--tracker-address",
    default=None,
    metavar="ADDRESS",
    help="eyelink: the Host PC's address (default: the experiment's tracker.address, else 100.1.1.1); "
    "'dummy' for pylink's dummy mode; 'replay:PATH' replays an .asc/.asc.gz/.edf recording (dry runs).",
)
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Output root (default: the experiment's 'output').",
)
@click.option("--resume", is_flag=True, help="Continue an existing session folder instead of refusing it.")
@click.option("--windowed", is_flag=True, help="A window instead of full screen (testing).")
@click.option(
    "--unattended",
    is_flag=True,
    help="Simulated tracker only: the simulated participant presses its own keys when asked (no one at the keyboard).",
)
@click.option(
    "--screenshots",
    type=click.Path(file_okay=False, path_type=Path),
    default=None,
    help="Save screenshots of the instruction, calibration, validation and first trial screens here.",
)
def run_cmd(
    experiment: Path,
    participant: str,
    session: str,
    tracker: str | None,
    camera: str | None,
    tracker_address: str | None,
    out: Path | None,
    resume: bool,
    windowed: bool,
    unattended: bool,
    screenshots: Path | None,
) -> None:
    """Run a session of EXPERIMENT (YAML) for one participant: instructions, calibration and
    validation, trials with drift checks. ESCAPE ends it early, saving everything so far."""
    from dataclasses import replace

    from gazelab.acquisition.config import load_config
    from gazelab.acquisition.runner import run_session

    config = load_config(experiment)
    if camera is not None:
        if not camera.isdigit() and not Path(camera).is_file():
            raise click.BadParameter(
                f"{camera!r} is neither a camera index nor an existing video file", param_hint="--camera"
            )
        cam: int | str = int(camera) if camera.isdigit() else str(Path(camera).resolve())
        config = replace(config, tracker=replace(config.tracker, camera=cam))
    if tracker_address is not None:  # the flag wins over the experiment file
        config = replace(config, tracker=replace(config.tracker, address=tracker_address))
    folder = run_session(
        config,
        participant,
        session,
        tracker=tracker,
        out=out,
        resume=resume,
        fullscr=not windowed,
        screenshot_dir=screenshots,
        echo=click.echo,
        unattended=unattended,
    )
    click.echo(str(folder))


@cli.command("recover")
@click.argument("session", type=click.Path(exists=True, file_okay=False, path_type=Path))
def recover_cmd(session: Path) -> None:
    """Make a crashed SESSION folder readable (cut partial last lines, mark it recovered).

    In any folder, also removes the temporary ``.part`` files that killed builds, imports and
    exports left behind (never read as data); a folder that is not a session gets only that."""
    from gazelab._io import remove_stale_parts_in
    from gazelab.acquisition.session import recover

    removed = remove_stale_parts_in(session)
    if not (session / "session.json").exists():
        click.echo(f"{session}: removed {len(removed)} stale .part file(s) left by interrupted writers")
        return
    report = recover(session)
    click.echo(
        f"{session}: was {report['previous_status']}; kept {report.get('samples.tsv_lines', 0)} samples, "
        f"{report.get('messages.tsv_lines', 0)} messages; cut {report.get('samples.tsv_bytes_cut', 0)} "
        "bytes of a partial sample line"
    )
