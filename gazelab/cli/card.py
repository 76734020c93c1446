"""``gazelab card``: the dataset card of a release (offline HTML page and Hugging Face README)."""

from __future__ import annotations

from pathlib import Path

import click

from gazelab.cli._base import cli


@cli.command("card")
@click.argument("dataset", metavar="DATASET.h5", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--out", "-o", type=click.Path(file_okay=False, path_type=Path), required=True, help="Folder to write.")
@click.option(
    "--meta",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    default=None,
    help="Release YAML (title, version, licence, citation, ...); default the manifest beside the dataset.",
)
@click.option("--grid", "n_grid", type=int, default=6, show_default=True, help="Stimuli shown in the grid.")
@click.option("--overwrite", is_flag=True, help="Replace an existing folder.")
def card_cmd(dataset: Path, out: Path, meta: Path | None, n_grid: int, overwrite: bool) -> None:
    """Write DIR/index.html (one offline page: title, version, licence, citation, checksums, counts,
    per-observer quality, distributions, stimuli with saliency maps and scanpaths, centre-bias and
    inter-observer ceiling scores, map recipe), its figures, and DIR/README.md (Hugging Face card)."""
    from gazelab.analysis.card import write_card

    report = write_card(dataset, out, meta=meta, n_grid=n_grid, overwrite=overwrite)
    click.echo(
        f"wrote {out / 'index.html'} and {out / 'README.md'}: page {report.page_bytes / 1e3:.0f} kB "
        f"with figures, {report.seconds:.1f} s"
    )
