"""DataLoader throughput: gazelab's HDF5 release vs the usual folder layout, on the real nus-scene data.

Input: the 500 nus-scene photographs with their human fixations (``../shared/data/nus-scene``),
imported once into a gazelab HDF5 release (``gazelab import nus-scene``) and exported from it
to the folder layout SALICON and MIT1003 ship (``images/*.jpg`` + ``maps/*.png``, 8-bit grey
maps; ``gazelab export folder``), so both hold the same stimuli and maps.

Measured: items/s through ``torch.utils.data.DataLoader(batch_size=32, num_workers=2)`` over
whole epochs (median of ``--epochs`` after one warm-up epoch), each item an RGB image and its
saliency map, both 224x224 float tensors, the map normalised to sum 1:

- folder: a typical folder Dataset: Pillow opens the JPEG and the PNG map, converts, resizes
  both to 224x224 (bilinear) and makes tensors;
- gazelab: ``GazeDataset(path, transforms=JointCompose([JointResize((224, 224))]), targets=("saliency",))``
  (JPEG decoded in draft mode at >= 224 px, map read from the stored 256-px preview), and the
  same with fixations as well (``targets=("saliency", "fixations")``).

Both loaders use one torch thread per worker. The raw read bandwidth is the page-cache
sequential read speed of the HDF5 file (``os.read`` in 4 MB blocks); the fraction reached is the
stored bytes gazelab reads per item times items/s over it. The last line gives the ratio.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import torch
from PIL import Image

from gazelab.datasets import GazeDataset, collate_gaze, schema
from gazelab.datasets.exporters import export_folder
from gazelab.datasets.importers import get_importer
from gazelab.datasets.transforms import JointCompose, JointResize

NUS = Path(__file__).resolve().parents[1] / ".." / "shared" / "data" / "nus-scene"
SIZE = (224, 224)


class FolderSaliency(torch.utils.data.Dataset):
    """The usual folder layout: images/*.jpg and maps/*.png with the same stem."""

    def __init__(self, root: Path) -> None:
        self.images = sorted((root / "images").iterdir())
        self.maps = [root / "maps" / f"{p.stem}.png" for p in self.images]

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> dict[str, torch.Tensor]:
        img = Image.open(self.images[i]).convert("RGB").resize(SIZE[::-1], Image.BILINEAR)
        sal = Image.open(self.maps[i]).convert("L").resize(SIZE[::-1], Image.BILINEAR)
        image = torch.from_numpy(np.asarray(img, dtype=np.float32) / 255.0).permute(2, 0, 1)
        m = torch.from_numpy(np.asarray(sal, dtype=np.float32))[None]
        return {"image": image, "saliency": m / m.sum().clamp_min(1e-12)}


def _one_thread(_: int) -> None:
    torch.set_num_threads(1)


def items_per_s(dataset: torch.utils.data.Dataset, epochs: int, collate=None) -> float:
    loader = torch.utils.data.DataLoader(
        dataset,
        batch_size=32,
        num_workers=2,
        shuffle=True,
        worker_init_fn=_one_thread,
        collate_fn=collate,
        generator=torch.Generator().manual_seed(0),
    )
    rates = []
    for e in range(epochs + 1):
        t = time.perf_counter()
        n = sum(len(batch["image"]) for batch in loader)
        if e:  # the first epoch warms the page cache and the workers' imports
            rates.append(n / (time.perf_counter() - t))
    return statistics.median(rates)


def raw_read_mb_s(path: Path) -> float:
    rates = []
    for _ in range(3):
        fd = os.open(path, os.O_RDONLY)
        t = time.perf_counter()
        n = 0
        while block := os.read(fd, 1 << 22):
            n += len(block)
        os.close(fd)
        rates.append(n / (time.perf_counter() - t) / 1e6)
    return statistics.median(rates[1:])


def stored_bytes_per_item(path: Path) -> float:
    with h5py.File(path, "r") as f:
        n = f["stimuli/id"].shape[0]
        total = sum(
            f[schema.image_path(i)].id.get_storage_size() + f[schema.preview_path(i)].id.get_storage_size()
            for i in range(n)
        )
    return total / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--workdir", type=Path, default=None, help="keep the release and folder here (default: temp)")
    args = ap.parse_args()
    if not NUS.is_dir():
        sys.exit(f"real data not found: expected {NUS.resolve()}")
    with tempfile.TemporaryDirectory() as tmp:
        work = args.workdir or Path(tmp)
        work.mkdir(parents=True, exist_ok=True)
        h5 = work / "scene.h5"
        folder = work / "scene-folder"
        if not h5.exists():
            get_importer("nus-scene")(NUS, h5)
        if not folder.exists():
            export_folder(h5, folder)
        print(f"torch {torch.__version__}, {os.cpu_count()} CPUs; DataLoader batch 32, 2 workers, {SIZE[0]}x{SIZE[1]}")
        folder_rate = items_per_s(FolderSaliency(folder), args.epochs)
        print(f"folder layout (JPEG + PNG maps, Pillow):        {folder_rate:8.1f} items/s")
        ds = GazeDataset(h5, transforms=JointCompose([JointResize(SIZE)]), targets=("saliency",))
        ours = items_per_s(ds, args.epochs, collate_gaze)
        print(f"gazelab HDF5 (image + saliency map):            {ours:8.1f} items/s")
        ds_fix = GazeDataset(h5, transforms=JointCompose([JointResize(SIZE)]), targets=("saliency", "fixations"))
        ours_fix = items_per_s(ds_fix, args.epochs, collate_gaze)
        print(f"gazelab HDF5 (image + saliency map + fixations): {ours_fix:8.1f} items/s")
        raw = raw_read_mb_s(h5)
        per_item = stored_bytes_per_item(h5)
        print(
            f"raw sequential read of the release (page cache): {raw:8.1f} MB/s; gazelab reads "
            f"{per_item / 1e3:.1f} kB per item -> {ours * per_item / 1e6:.1f} MB/s, "
            f"{ours * per_item / 1e6 / raw:.1%} of the raw bandwidth"
        )
    print(f"ratio (gazelab / folder layout, items/s): {ours / folder_rate:.2f}x")


if __name__ == "__main__":
    main()
