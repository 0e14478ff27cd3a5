"""What the reader runs on when given nothing: a photo platelab renders itself, never seen in training."""

from __future__ import annotations

from pathlib import Path

from platelab.synth.config import SynthConfig
from platelab.synth.scene import SceneConfig
from platelab.synth.style import drawable_styles
from platelab.synth.writer import write_scenes

DEMO_DIR = Path("platelab-demo")
DEMO_SEED = 424249  # far from training seeds; its scene places both plates (placement may drop one)
# Two clearly visible US plates on cars, in daylight: a sample should show the reader working, not its limits.
DEMO_SCENE = SceneConfig(plates=(2, 2), empty_p=0.0, plate_width=(170.0, 260.0), yaw=20.0, pitch=10.0, roll=8.0,
                         night_p=0.0)


def write_demo(out: Path = DEMO_DIR) -> Path:
    """One 1280x720 photo with its labels.tsv (the truth) and a preview with the plates outlined; the photo's path.
    A StyleError, before anything is written, where the US styles' fonts are not installed."""
    write_scenes(out, 1, drawable_styles(["us-*"]), seed=DEMO_SEED, cfg=SynthConfig(scene=DEMO_SCENE), preview=True,
                 progress=False)
    return out / "scene_000000.jpg"
