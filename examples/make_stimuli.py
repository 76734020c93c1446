"""Generate the example experiment's stimuli (deterministic; run once, the PNGs are committed).

Four 800x600 scenes: a sky-to-ground gradient with a few coloured objects, so that free viewing
(and the simulated observer's priority map) has something to look at.
"""

from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

OUT = Path(__file__).resolve().parent / "stimuli"


def scene(seed: int, w: int = 800, h: int = 600) -> Image.Image:
    rng = np.random.default_rng(seed)
    t = np.linspace(0, 1, h)[:, None, None]
    sky, ground = rng.uniform(120, 220, 3), rng.uniform(40, 140, 3)
    horizon = rng.uniform(0.45, 0.65)
    base = np.where(t < horizon, sky * (1 - 0.3 * t), ground * (0.7 + 0.3 * t))
    img = Image.fromarray(np.broadcast_to(base, (h, w, 3)).astype(np.uint8))
    d = ImageDraw.Draw(img)
    for _ in range(int(rng.integers(3, 7))):
        cx, cy = rng.uniform(0.1, 0.9) * w, rng.uniform(0.2, 0.9) * h
        r = rng.uniform(20, 80)
        color = tuple(int(c) for c in rng.integers(0, 255, 3))
        if rng.random() < 0.5:
            d.ellipse([cx - r, cy - r, cx + r, cy + r], fill=color)
        else:
            d.rectangle([cx - r, cy - r * 0.6, cx + r, cy + r * 0.6], fill=color)
    return img


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for k in range(4):
        scene(k).save(OUT / f"scene{k + 1}.png", optimize=True)
    print(f"wrote 4 stimuli to {OUT}")
