"""The ``demo`` command: the whole pipeline on the embedded default."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import cli


@cli.command("demo")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("gazelab-demo"),
    show_default=True,
    help="Folder for the demo's files and report (must not hold a demo already).",
)
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the generated stimuli.")
@click.option("--participants", type=int, default=4, show_default=True, help="Simulated observers.")
def demo_cmd(out: Path, seed: int, participants: int) -> None:
    """Run the whole pipeline on the embedded default: simulated recording sessions on generated
    scenes, fixations, an HDF5 dataset, a PyTorch loader, a model-vs-human attention comparison
    and a short alignment run, ending in OUT/report/summary.md. No hardware, data or network."""
    from gazelab.demo import run_demo

    run_demo(out, seed=seed, participants=participants, echo=click.echo)
