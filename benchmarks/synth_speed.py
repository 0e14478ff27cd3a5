"""How fast the synthesis runs on one core: detection scenes (1280x720), recognition crops and their parts.

    python benchmarks/synth_speed.py [--n N]

Each case is timed after a short warm-up (font glyphs, cached backgrounds and static plate layers are built
once per process, as in a training worker), single process, with OpenCV limited to one thread.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import cv2
import numpy as np

from platelab.synth.camera import CameraConfig, LightConfig
from platelab.synth.config import SynthConfig
from platelab.synth.crops import CropGenerator
from platelab.synth.render import render_plate
from platelab.synth.scene import render_scene
from platelab.synth.style import builtin_styles
from platelab.synth.surroundings import surround

WARM_UP = 300
Case = tuple[str, Callable[[int], object]]  # name, make_one(index)


def bench(name: str, make_one: Callable[[int], object], n: int) -> tuple[str, float]:
    """Items per second of make_one over n indexes, after WARM_UP untimed calls on other indexes."""
    for i in range(n, n + WARM_UP):
        make_one(i)
    start = time.perf_counter()
    for i in range(n):
        make_one(i)
    return name, n / (time.perf_counter() - start)


def cases() -> list[Case]:
    styles = list(builtin_styles().values())
    cfg = SynthConfig()
    no_light = LightConfig(**{k: 0.0 for k in LightConfig.model_fields if k.endswith("_p")})
    no_camera = CameraConfig(**{k: 0.0 for k in CameraConfig.model_fields if k.endswith("_p")})
    plates = [render_plate(styles[i % len(styles)], np.random.default_rng(i), height=80) for i in range(64)]

    def rng(i: int) -> np.random.Generator:
        return np.random.default_rng([0, i])

    crops = CropGenerator(styles, cfg, seed=0)
    return [
        ("scene 1280x720", lambda i: render_scene(styles, rng(i), cfg.scene, cfg.light, cfg.camera)),
        ("scene 1280x720, no light/camera",
         lambda i: render_scene(styles, rng(i), cfg.scene, no_light, no_camera)),
        ("flat plate, h=80", lambda i: render_plate(styles[i % len(styles)], rng(i), height=80)),
        ("surround, h=80", lambda i: surround(plates[i % len(plates)], rng(i), cfg.surround)),
        # recognition crops (platelab/synth/crops.py): add further crop cases here
        (f"crop {cfg.crop_size[0]}x{cfg.crop_size[1]}", crops.sample),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=200, help="items timed per case")
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{'case':<34} {'items/s':>9} {'ms/item':>9}")
    for name, make_one in cases():
        _, rate = bench(name, make_one, args.n)
        print(f"{name:<34} {rate:>9.1f} {1000 / rate:>9.2f}", flush=True)


if __name__ == "__main__":
    main()
