"""Generate the example experiment's stimuli (deterministic; run once, the PNGs are committed).

Four 800x600 scenes: a sky-to-ground gradient with a few coloured objects, so that free viewing
(and the simulated observer's priority map) has something to look at.
"""

from pathlib import Path

from PIL import Image

from gazelab.acquisition.simulated_observer import synthetic_scene

OUT = Path(__file__).resolve().parent / "stimuli"


if __name__ == "__main__":
    OUT.mkdir(exist_ok=True)
    for k in range(4):
        Image.fromarray(synthetic_scene(k)).save(OUT / f"scene{k + 1}.png", optimize=True)
    print(f"wrote 4 stimuli to {OUT}")
