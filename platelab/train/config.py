"""Training recipes as data: a YAML file validated here, so a run is reproducible from its file alone."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, field_validator, model_validator

from platelab.predict.charset import DEFAULT_CHARS, Charset
from platelab.predict.detector import INPUT_SIZE, STRIDE
from platelab.synth.config import SynthConfig
from platelab.synth.scene import SceneConfig
from platelab.synth.style import anchored
from platelab.utils.config_file import load_model_file

BUNDLED = "bundled"  # in init_from, finetune --from and interpolate --from: the bundled recognizer, in float

# Fields of more than one training config (the recognizer's here, the detector's, a fine-tuning's): one wording each.
Threads = Annotated[int, Field(ge=0, description="torch threads for the training step; 0 = torch's default (the "
                               "machine's cores). Sums run in another order on another count: the weights differ by "
                               "rounding, so a bit-exact rerun or resume needs the same threads")]
StopAfter = Annotated[int | None, Field(ge=1, description="end the run at this step, schedule unchanged (a budget)")]
Steps = Annotated[int, Field(ge=1, description="length of the learning-rate schedule")]
Workers = Annotated[int, Field(ge=0, description="processes rendering synthetic batches")]
# numpy's legacy seeding (seed_everything) takes 0 to 2**32 - 1: past that a run would stop once its folder is written
Seed = Annotated[int, Field(ge=0, le=2**32 - 1)]
# far above any batch a GPU holds; a larger one is a typo that would render crops for ever once the run is written
MAX_BATCH = 65536


def resolve_bundled(source: Path | str) -> Path:
    """source as a path; BUNDLED is the file of the bundled recognizer's float version."""
    if str(source) == BUNDLED:
        from platelab.weights import default_model

        return default_model("recognizer-float")
    return Path(source)


class RecognizerTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Literal["recognizer"] = "recognizer"
    out_dir: Path = Field(Path("runs/recognizer"), description="checkpoints, metrics log and exported model")
    seed: Seed = 0
    head: Literal["ctc", "slots"] = Field(
        "slots", description="ctc: two lines of per-column predictions; slots: fixed character slots"
    )
    init_from: Path | None = Field(
        None, description="start from this run checkpoint's weights, or a float ONNX recognizer's (a second stage); "
        "'bundled': the float version of the bundled recognizer"
    )
    steps: Steps = 20000
    stop_after: StopAfter = None
    batch_size: int = Field(128, ge=1, le=MAX_BATCH)
    lr: float = Field(2e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(500, ge=0)
    label_smoothing: float = Field(0.05, ge=0, lt=1)
    workers: Workers = 1
    threads: Threads = 0
    styles: list[str] = Field(
        default_factory=list, description="style name/region globs, or paths to style files or folders of them "
        "(relative to the recipe); all bundled styles if empty"
    )
    style_weights: dict[str, PositiveFloat] = Field(
        default_factory=dict,
        description="training only: multiply the weight of styles matching a name/region glob (validation unchanged)",
    )
    charset: str = Field(DEFAULT_CHARS, min_length=1)
    val_size: int = Field(1024, ge=1, description="fixed synthetic validation crops (seed + 1)")
    val_real: list[Path] | None = Field(
        None, description="real crop folders (labels.tsv) read beside it, each logged by its folder's name "
        "(`--val-real` sets them; a resumed run reads the same)"
    )
    val_every: int = Field(500, ge=1)
    checkpoint_every: int = Field(250, ge=1)
    synth: SynthConfig = SynthConfig()

    @field_validator("charset")
    @classmethod
    def _distinct_characters(cls, chars: str) -> str:
        Charset(chars)  # raises ValueError on repeated characters or the padding one
        return chars

    @field_validator("init_from")
    @classmethod
    def _bundled(cls, source: Path | None) -> Path | None:
        return None if source is None else resolve_bundled(source)

    @field_validator("val_real")
    @classmethod
    def _distinct_names(cls, folders: list[Path] | None) -> list[Path] | None:
        names = [folder.name for folder in folders or []]
        twice = sorted({name for name in names if names.count(name) > 1})
        if twice:  # each set is logged (and carded) by its folder's name: two would write one figure
            raise ValueError(f"two real sets named {', '.join(twice)}; give folders of different names")
        return folders


def load_train_config(path: str | Path) -> RecognizerTrainConfig:
    cfg = load_model_file(path, RecognizerTrainConfig)
    return cfg.model_copy(update={"styles": anchored(cfg.styles, Path(path).parent)})


# The input's sides are multiples of the backbone's deepest stride: 32 (platelab.models.detector: stride-4 cells
# from four halvings merged back up by doublings, each of which must meet the level above it exactly).
SIZE_MULTIPLE = STRIDE * 2**3


def _detector_synth() -> SynthConfig:
    scene = SceneConfig(size=INPUT_SIZE, plate_width=(16.0, 400.0), distractor_width=(15.0, 200.0))
    return SynthConfig(scene=scene)


class DetectorTrainConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    task: Literal["detector"] = "detector"
    out_dir: Path = Field(Path("runs/detector"), description="checkpoints, metrics log and exported model")
    seed: Seed = 0
    init_from: Path | None = Field(None, description="start from this detector run checkpoint's weights (a second "
                                   "stage); an exported ONNX detector cannot be trained further")
    steps: Steps = 3000
    stop_after: StopAfter = None
    batch_size: int = Field(16, ge=1, le=MAX_BATCH)
    lr: float = Field(2e-3, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(200, ge=0)
    corner_weight: float = Field(1.0, ge=0, description="corner L1 loss weight against the heatmap loss")
    workers: Workers = 1
    threads: Threads = 0
    styles: list[str] = Field(default_factory=list, description="style name/region globs, or paths to style files or "
                              "folders of them (relative to the recipe); all bundled styles if empty")
    letterbox_p: float = Field(0.4, ge=0, le=1, description="chance a scene has a photo's shape and padding")
    window: tuple[int, int] | None = Field(
        (320, 192), description="train on windows of this size cut from each input (4x cheaper steps); None: whole"
    )
    window_on_plate_p: float = Field(0.8, ge=0, le=1, description="chance a window is placed around a plate")
    aspects: list[float] = Field(
        [4 / 3, 3 / 2, 16 / 9, 3 / 4], description="photo shapes (width / height) for letterboxed scenes"
    )
    val_size: int = Field(128, ge=0, description="fixed synthetic validation scenes (seed + 1)")
    val_every: int = Field(250, ge=1)
    checkpoint_every: int = Field(100, ge=1)
    synth: SynthConfig = Field(default_factory=_detector_synth, description="scene.size is the input size")

    @field_validator("window")
    @classmethod
    def _window_the_network_takes(cls, window: tuple[int, int] | None) -> tuple[int, int] | None:
        if window is not None:
            _check_sides(window, "window")
        return window

    @model_validator(mode="after")
    def _window_inside_the_scenes(self) -> DetectorTrainConfig:
        size = tuple(self.synth.scene.size)
        _check_sides(size, "synth.scene.size (the detector's input)")
        if self.window is not None and not (self.window[0] <= size[0] and self.window[1] <= size[1]):
            raise ValueError(f"window {list(self.window)} is larger than the scenes it is cut from "
                             f"(synth.scene.size {list(size)})")
        return self


def _check_sides(size: tuple[int, ...], what: str) -> None:
    """A (width, height) the detector can take: positive multiples of SIZE_MULTIPLE."""
    if not all(side > 0 and side % SIZE_MULTIPLE == 0 for side in size):
        raise ValueError(f"{what} {list(size)}: each side must be a positive multiple of {SIZE_MULTIPLE}")


def load_detector_config(path: str | Path) -> DetectorTrainConfig:
    cfg = load_model_file(path, DetectorTrainConfig)
    return cfg.model_copy(update={"styles": anchored(cfg.styles, Path(path).parent)})
