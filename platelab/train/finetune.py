"""Fine-tuning a trained recognizer on a few real plates (crops or labelled photos), with synthetic plates mixed
in so it does not forget.

The source is a training run folder (last.ckpt + config.json). Every batch is a function of (seed, step)
alone, so a run killed at any point and resumed from its last per-epoch checkpoint ends with the same
weights as an unbroken one.
"""

from __future__ import annotations

import copy
import json
import math
import re
import time
import unicodedata
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np
import onnx
import torch
from pydantic import BaseModel, ConfigDict, Field, field_validator
from torch import nn
from torch.utils.data import IterableDataset, get_worker_info
from tqdm import tqdm

from platelab.models.efficientnet_lite import imagenet_backbone, is_lite_state
from platelab.models.recognizer import PlateBackbone, PlateRecognizer, head_kind
from platelab.predict.charset import Charset
from platelab.predict.preprocess import preprocess_crops, to_gray
from platelab.predict.recognizer import class_scale_factors
from platelab.synth.config import SynthConfig
from platelab.synth.crops import render_crop
from platelab.synth.dataset import encode_batch
from platelab.synth.style import PlateStyle, drawable_styles, select_styles
from platelab.train.card import record_command
from platelab.train.checkpoint import check_resumable, load_model_state, model_weights, save_training_state
from platelab.train.config import RecognizerTrainConfig, Threads, resolve_bundled
from platelab.train.export import exporting_trained_run
from platelab.train.loop import (
    CHECKPOINT,
    CONFIG,
    MetricsLog,
    batch_loader,
    check_run_folder,
    hold_run_folder,
    open_run,
    optimizer_step,
    read_run_config,
    run_config,
    run_styles,
    seed_everything,
)
from platelab.train.losses import RecognitionLoss, exact_hits
from platelab.train.onnx_import import OnnxImportError, graph_metadata, recognizer_from_onnx
from platelab.train.progress import progress_bar, show_figures
from platelab.train.quantize import CALIBRATION_CROPS
from platelab.train.recipe import CALIBRATION_BATCH, Int8Data, export_with_card
from platelab.train.recognizer import EvalSet, accuracy
from platelab.utils.errors import named_characters, shown

FREEZE_MODES = r"backbone|none|first-[0-9]+"
# Real crops are kept grey at twice the network input: augmenting them there is cheap, and the final resize
# to the input size still averages away the interpolation of the warp.
WORK_SIZE = (256, 128)
INT8_CALIBRATION_CROPS = CALIBRATION_CROPS  # as a training run's 8-bit export
INT8_VALIDATION_CROPS = 512  # synthetic crops an 8-bit export is measured on beside the float model
SYNTH_TRIES = 50  # a synthetic plate whose text the charset cannot write is drawn again, up to this often
_SEPARATORS = re.compile(r"[\s\-.·]")


class FinetuneSourceError(ValueError):
    """A --from that is not a training run folder."""


class UnfittingCharsetError(ValueError):
    """Synthetic plates of the run's styles rarely hold only characters of its charset."""


class TuneConfig(BaseModel):
    """How a recognizer is trained on a mix of real crops and synthetic plates (also from scratch)."""

    model_config = ConfigDict(extra="forbid")

    task: Literal["finetune"] = "finetune"
    out_dir: Path = Field(Path("runs/finetune"), description="checkpoints, metrics log and config")
    seed: int = 0
    charset: str | None = Field(None, description="output characters; None keeps the source model's")
    freeze: str = Field("none", description="backbone, none, or first-K backbone layers")
    epochs: int = Field(10, ge=1)
    steps_per_epoch: int = Field(0, ge=0, description="0 = one pass over the real training crops")
    batch_size: int = Field(32, ge=1)
    synth_share: float = Field(0.5, ge=0, le=1, description="share of each batch that is synthetic plates")
    augment: bool = Field(True, description="small affine, gamma and blur changes to the real crops")
    lr: float = Field(5e-4, gt=0, allow_inf_nan=False)
    weight_decay: float = Field(1e-4, ge=0)
    warmup_steps: int = Field(20, ge=0)
    label_smoothing: float = Field(0.05, ge=0, lt=1)
    workers: int = Field(1, ge=0, description="processes rendering batches")
    threads: Threads = 0
    styles: list[str] = Field(default_factory=list, description="synthetic style globs, or paths to style files or "
                              "folders of them; all bundled styles if empty")
    synth: SynthConfig = SynthConfig()

    @field_validator("freeze")
    @classmethod
    def _freeze_mode(cls, mode: str) -> str:
        if not re.fullmatch(FREEZE_MODES, mode):  # said in words: pydantic's pattern error shows the regex
            raise ValueError(f"{shown(mode)}: expected backbone, none or first-K (K backbone layers, e.g. first-3)")
        return mode


class FinetuneConfig(TuneConfig):
    """`platelab finetune`: a source run, a labelled crop folder and where the result goes."""

    from_run: Path = Field(description="training run folder holding last.ckpt and config.json, a float ONNX "
                           "recognizer exported by platelab, or 'bundled'")
    data: Path = Field(description="real crops or photos, a folder with labels.tsv")
    val_fraction: float = Field(0.2, ge=0, lt=1, description="share of the crops held out (seeded)")
    export: Path | None = Field(None, description="write the fine-tuned model as ONNX here")


# -- the source model ----------------------------------------------------------------------------------------


def load_run_model(run: Path) -> PlateRecognizer:
    """The recognizer a training or fine-tuning run saved (its backbone kind read from the weights), or the one
    in a float ONNX file exported by platelab; "bundled" is the float version of the bundled recognizer."""
    run = resolve_bundled(run)
    if run.suffix.lower() == ".onnx":
        try:
            return recognizer_from_onnx(run)
        except OnnxImportError as exc:
            raise FinetuneSourceError(str(exc)) from exc
    if run.is_file():
        raise FinetuneSourceError(
            f"{run}: a file; pass a training run folder (with last.ckpt and config.json) or a float ONNX "
            "recognizer exported by platelab"
        )
    checkpoint, config = run / CHECKPOINT, run / CONFIG
    if not (checkpoint.is_file() and config.is_file()):
        raise FinetuneSourceError(f"{run}: not a training run folder (needs {CHECKPOINT} and {CONFIG})")
    chars = recognizer_run_config(run).charset
    if not chars:
        raise FinetuneSourceError(f"{config}: no charset; is this a recognizer run?")
    state = model_weights(checkpoint)
    backbone = imagenet_backbone(pretrained=False) if is_lite_state(state) else PlateBackbone()
    model = PlateRecognizer(Charset(chars), backbone, head=head_kind(state))
    load_model_state(checkpoint, model, state)
    return model


def recognizer_run_config(run: Path) -> RecognizerTrainConfig | TuneConfig:
    """The config of a recognizer training run or a fine-tuning run; a ValueError naming the config file and its
    first problem if it is neither's (RunConfigError, FinetuneSourceError)."""
    raw = read_run_config(run)
    task = raw.get("task", "recognizer")
    if task == "finetune":
        return run_config(run, FinetuneConfig if "from_run" in raw else TuneConfig, raw)
    if task == "recognizer":
        return run_config(run, RecognizerTrainConfig, raw)
    raise FinetuneSourceError(f"{run / CONFIG}: a {task} run; fine-tuning starts from a recognizer run")


def _source_metadata(source: Path | str) -> tuple[Path, dict[str, str]] | None:
    """(path, graph metadata) of the ONNX recognizer a fine-tuning starts from; None for a run folder."""
    path = resolve_bundled(source)
    if path.suffix.lower() != ".onnx" or not path.is_file():
        return None
    return path, graph_metadata(onnx.load(str(path), load_external_data=False))


def source_formats(found: tuple[Path, dict[str, str]] | None) -> dict[str, list[dict[str, Any]]]:
    """The format priors the ONNX recognizer a fine-tuning starts from carries ({country: formats}; found: its
    _source_metadata), so a model adapted to one region and then to another keeps the first one's --prior."""
    if found is None:
        return {}
    path, metadata = found
    try:
        formats = json.loads(metadata.get("formats", "{}"))
    except json.JSONDecodeError as exc:
        raise FinetuneSourceError(f"{path}: its formats metadata is not JSON ({exc})") from exc
    if not isinstance(formats, dict):
        raise FinetuneSourceError(f"{path}: its formats metadata is not a mapping of countries to formats")
    return formats


def source_class_scale(found: tuple[Path, dict[str, str]] | None, charset: Charset) -> dict[str, float] | None:
    """The decoding class scale of the ONNX recognizer a fine-tuning starts from (found: its _source_metadata), for
    the characters charset keeps: the bias it corrects (the dies' M and W read as H and N) is the source network's
    and stays in its weights."""
    if found is None:
        return None
    path, metadata = found
    try:
        scale = {char: factor for char, factor in class_scale_factors(metadata).items() if char in charset.chars}
    except (ValueError, TypeError) as exc:
        raise FinetuneSourceError(f"{path}: its class_scale metadata is not characters and factors ({exc})") from exc
    return scale or None


def adapt_head(model: PlateRecognizer, charset: Charset) -> None:
    """A new output layer for charset; the head's hidden layers and the weights of shared characters carry
    over (a slots head has one output row per slot and class, a ctc head one per class)."""
    if charset == model.charset:
        return
    if charset.slots != model.charset.slots:
        raise ValueError(f"the new charset has {charset.slots} slots, the model {model.charset.slots}")
    old_head, old = model.head, model.charset
    model.replace_head(charset)
    new_head = model.head
    new_head.hidden.load_state_dict(old_head.hidden.state_dict())
    shared = [(i, charset.chars.index(c)) for i, c in enumerate(old.chars) if c in charset.chars]
    shared.append((old.pad_index, charset.pad_index))
    groups = range(old_head.class_groups)
    old_rows = torch.tensor([g * old.classes + i for g in groups for i, _ in shared])
    new_rows = torch.tensor([g * charset.classes + j for g in groups for _, j in shared])
    with torch.no_grad():
        new_head.classify.weight[new_rows] = old_head.classify.weight[old_rows]
        new_head.classify.bias[new_rows] = old_head.classify.bias[old_rows]


# -- freezing ------------------------------------------------------------------------------------------------


def backbone_layers(backbone: nn.Module) -> list[nn.Module]:
    """The backbone's layers with weights, in input order: the units that `first-K` counts."""
    layers = getattr(backbone, "layers", None)
    if not isinstance(layers, nn.Sequential):
        raise TypeError(f"{type(backbone).__name__} has no `layers` sequence to freeze layer by layer")
    return [layer for layer in layers if next(layer.parameters(), None) is not None]


def freeze(model: PlateRecognizer, mode: str) -> list[nn.Module]:
    """Stop gradients to the frozen part and return it; the caller keeps it in eval mode (batch-norm too)."""
    if mode == "none":
        return []
    if mode == "backbone":
        frozen: list[nn.Module] = [model.backbone]
    else:
        layers = backbone_layers(model.backbone)
        count = int(mode.removeprefix("first-"))
        if count > len(layers):
            raise ValueError(f"freeze {mode}: the backbone has only {len(layers)} layers")
        frozen = layers[:count]
    for module in frozen:
        module.requires_grad_(False)
    return frozen


# -- real crops ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class LabelledCrops:
    """Grey crops at WORK_SIZE with their plate texts."""

    files: tuple[str, ...]
    images: tuple[np.ndarray, ...]
    texts: tuple[str, ...]

    def __len__(self) -> int:
        return len(self.files)

    def subset(self, indices: Sequence[int]) -> LabelledCrops:
        return LabelledCrops(
            tuple(self.files[i] for i in indices),
            tuple(self.images[i] for i in indices),
            tuple(self.texts[i] for i in indices),
        )

    def eval_set(self, name: str) -> EvalSet:
        return EvalSet(name, torch.from_numpy(preprocess_crops(list(self.images))), list(self.texts))


def plate_text(plate: str, charset: Charset) -> str:
    """A label as the model writes it.

    normalize_plate drops every mark that is not a letter or digit (a slash, an emoji), which eval may ignore but a
    label learnt should not hold, so here only separators go and any other character outside the charset is an
    error.
    """
    # folded as eval folds it (normalize_plate): a full-width label is the plate it shows
    text = _SEPARATORS.sub("", unicodedata.normalize("NFKC", plate).upper())
    unknown = sorted(set(text) - set(charset.chars))
    if unknown:
        raise ValueError(f"plate {shown(plate)} has characters outside the charset: {named_characters(unknown)}")
    if len(text) > charset.slots:  # else the first batch that draws it stops the run
        raise ValueError(f"plate {shown(plate)} has {len(text)} characters; the model reads at most {charset.slots}")
    return text


def work_image(image: np.ndarray) -> np.ndarray:
    return cv2.resize(to_gray(image), WORK_SIZE, interpolation=cv2.INTER_AREA)


def load_labelled_crops(folder: Path, charset: Charset) -> LabelledCrops:
    """All plates of a folder with labels.tsv: crops, or photos whose labelled plates are cut as the reader first
    cuts them (platelab.train.photo_crops). Every image must decode and every label fit the charset, and a
    ValueError names every plate that does not, so that one pass finds them all."""
    from platelab.io.labels import labels_kind

    plates = _photo_plates(folder) if labels_kind(folder) == "photos" else _crop_plates(folder)
    files, images, texts, problems = [], [], [], []
    first: dict[str, str] = {}  # crop -> the text it was first labelled with
    for name, plate, image in plates:
        why = [image] if isinstance(image, str) else []
        try:
            text = plate_text(plate, charset)
            # a crop labelled twice is learnt twice; labelled two ways, it would be taught two texts for one picture
            if first.setdefault(name, text) != text:
                why.append(f"labelled {shown(first[name])} and {shown(text)}")
        except ValueError as exc:
            why.append(str(exc))
        if why or isinstance(image, str):  # (the second test tells the type checker what image is below)
            problems += [f"{name}: {reason}" for reason in why]
            continue
        files.append(name)
        images.append(work_image(image))
        texts.append(text)
    if problems:
        raise ValueError(f"{folder}: {len(problems)} problem(s) with the plates: {'; '.join(problems)}")
    if not files:  # every photo said to hold no plate: the run would learn synthetic plates alone and say nothing
        raise ValueError(f"{folder}: no labelled plate to learn from (every photo its labels name holds none)")
    return LabelledCrops(tuple(files), tuple(images), tuple(texts))


# (name, plate text as labelled, the plate's image or why there is none) for each labelled plate
LabelledPlate = tuple[str, str, np.ndarray | str]


def _crop_plates(folder: Path) -> Iterator[LabelledPlate]:
    from platelab.io.decode import read_image
    from platelab.io.labels import read_labels

    for label in read_labels(folder, "crops"):
        yield label.file, label.plate, _decoded(folder, label.file, read_image)


def _photo_plates(folder: Path) -> Iterator[LabelledPlate]:
    from platelab.io.decode import read_image
    from platelab.io.labels import PhotoLabel, read_labels
    from platelab.predict.detector import DetectionPredictor
    from platelab.train.photo_crops import photo_plate_crops

    detector = DetectionPredictor()
    by_file: dict[str, list[PhotoLabel]] = {}
    for label in read_labels(folder, "photos"):
        by_file.setdefault(label.file, []).append(label)
    found = 0
    for file, labels in progress_bar(iterable=by_file.items(), desc="cutting plates", unit="photo"):
        names = [file] if len(labels) == 1 else [f"{file} plate {i}" for i in range(1, len(labels) + 1)]
        image = _decoded(folder, file, read_image)
        crops: list[np.ndarray | str] = [image] * len(labels)
        if not isinstance(image, str):
            height, width = image.shape[:2]
            inside = [i for i, label in enumerate(labels) if _centre_within(label.box, width, height)]
            cut = dict(zip(inside, photo_plate_crops(image, [labels[i] for i in inside], detector)))
            crops = [cut[i][0] if i in cut else f"box {','.join(map(str, label.box))} lies outside the {width}x"
                     f"{height} photo" for i, label in enumerate(labels)]
            found += sum(detected for _, detected in cut.values())
        for name, label, crop in zip(names, labels, crops, strict=True):
            yield name, label.plate, crop
    # the plates the detector misses are cut at their marked boxes: a user should know how many
    total = sum(map(len, by_file.values()))
    tqdm.write(f"{folder}: {found} of {total} plates cut at the detector's corners"
               + (", the others at their marked boxes" if found < total else ""))


def _centre_within(box: tuple[int, int, int, int], width: int, height: int) -> bool:
    x, y, w, h = box
    return 0 <= x + w / 2 < width and 0 <= y + h / 2 < height


def _decoded(folder: Path, file: str, read_image: Callable[..., np.ndarray]) -> np.ndarray | str:
    """The image, or why it cannot be read (the file's name left out: the caller names the plate)."""
    try:
        from platelab.io.labels import labelled_file

        return read_image(labelled_file(folder, file), name=file)
    except ValueError as exc:  # ImageDecodeError
        return str(exc).removeprefix(f"{file}: ")


def split_holdout(names: Sequence[str], fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """(training indices, held-out indices) of the named plates: disjoint, sorted, the same for the same seed; a
    plate labelled twice is held out whole or not at all, or it would be validated on the very crop it learnt."""
    plates = list(dict.fromkeys(names))
    held = min(round(len(plates) * fraction), max(len(plates) - 1, 0))
    order = np.random.default_rng(seed).permutation(len(plates))
    held_out = {plates[i] for i in order[:held]}
    return ([i for i, name in enumerate(names) if name not in held_out],
            [i for i, name in enumerate(names) if name in held_out])


def augment_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A light change for few-shot training: small rotation, scale, shift and shear; gamma; sometimes blur."""
    h, w = image.shape
    # float64 in fact; the stubs' integer-or-float dtype would refuse the in-place float shifts below
    matrix: np.ndarray = cv2.getRotationMatrix2D((w / 2, h / 2), rng.uniform(-3, 3), rng.uniform(0.93, 1.07))
    matrix[0, 1] += rng.uniform(-0.08, 0.08)
    matrix[:, 2] += rng.uniform(-0.04, 0.04, 2) * (w, h)
    out = cv2.warpAffine(image, matrix, (w, h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    # Each crop is standardised later, so a linear brightness change would vanish; gamma survives it.
    lut = (255 * (np.arange(256) / 255) ** rng.uniform(0.7, 1.4)).astype(np.uint8)
    out = cv2.LUT(out, lut)
    sigma = rng.uniform(0.4, 1.2)
    return cv2.GaussianBlur(out, (0, 0), sigma) if rng.random() < 0.4 else out


# -- batches -------------------------------------------------------------------------------------------------


class TuneBatches(IterableDataset[tuple[torch.Tensor, torch.Tensor]]):
    """(images, targets) for steps start..end-1: real crops drawn and augmented per step, then synthetic ones.

    Workers take every W-th step, the same scheme as SyntheticCropBatches, so the stream does not depend on
    the number of workers.
    """

    def __init__(self, real: LabelledCrops, charset: Charset, cfg: TuneConfig, start: int, end: int) -> None:
        super().__init__()
        self.real, self.charset, self.cfg = real, charset, cfg
        self.start, self.end = start, end
        if not len(real) and not cfg.synth_share:
            raise ValueError("no real crops to train on and no synthetic share")
        # Without real crops (training on synthetic plates alone) the whole batch is synthetic.
        self.n_synth = round(cfg.batch_size * cfg.synth_share) if len(real) else cfg.batch_size
        self.n_real = cfg.batch_size - self.n_synth
        self.styles: list[PlateStyle] = select_styles(cfg.styles or None) if self.n_synth else []

    def synthetic(self, index: int) -> tuple[np.ndarray, str]:
        """Synthetic crop number index, drawn again until the charset can write its text."""
        allowed = set(self.charset.chars)
        for attempt in range(SYNTH_TRIES):
            crop = render_crop(
                self.styles, np.random.default_rng([self.cfg.seed, index, attempt]), self.cfg.synth
            )
            if set(crop.text) <= allowed:
                return crop.image, crop.text
        raise UnfittingCharsetError(
            "synthetic plates rarely fit this charset; set synth_share to 0 to train without them"
        )

    def render_batch(self, step: int) -> tuple[torch.Tensor, torch.Tensor]:
        rng = np.random.default_rng([self.cfg.seed, step])
        picks: np.ndarray | list[int] = (
            rng.choice(len(self.real), self.n_real, replace=self.n_real > len(self.real))
            if self.n_real
            else []
        )
        images = [
            augment_crop(self.real.images[i], rng) if self.cfg.augment else self.real.images[i] for i in picks
        ]
        texts = [self.real.texts[i] for i in picks]
        for index in range(step * self.n_synth, (step + 1) * self.n_synth):
            image, text = self.synthetic(index)
            images.append(image)
            texts.append(text)
        return torch.from_numpy(preprocess_crops(images)), torch.from_numpy(encode_batch(texts, self.charset))

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        info = get_worker_info()
        worker, workers = (info.id, info.num_workers) if info else (0, 1)
        for step in range(self.start + worker, self.end, workers):
            yield self.render_batch(step)


# -- training ------------------------------------------------------------------------------------------------


def steps_per_epoch(cfg: TuneConfig, real_count: int) -> int:
    real_per_batch = cfg.batch_size - round(cfg.batch_size * cfg.synth_share)
    if cfg.steps_per_epoch or not real_count or not real_per_batch:
        return cfg.steps_per_epoch or 1
    return math.ceil(real_count / real_per_batch)


def run_config_json(cfg: TuneConfig, charset: Charset) -> str:
    """The config a fine-tuning run writes into its folder: the charset is the model's, whether given or kept."""
    return cfg.model_copy(update={"charset": charset.chars}).model_dump_json(indent=2)


def train_mode(model: nn.Module, frozen: Sequence[nn.Module]) -> None:
    model.train()
    for module in frozen:
        module.eval()


def tune_model(
    model: PlateRecognizer,
    train: LabelledCrops,
    val_sets: Sequence[EvalSet],
    cfg: TuneConfig,
    resume: bool = False,
) -> PlateRecognizer:
    """Train model on real crops mixed with synthetic plates; checkpoint each epoch to cfg.out_dir."""
    seed_everything(cfg.seed)
    charset = model.charset
    frozen = freeze(model, cfg.freeze)
    per_epoch = steps_per_epoch(cfg, len(train))
    total = cfg.epochs * per_epoch
    run = open_run(cfg.out_dir, run_config_json(cfg, charset), model,
                   total, min(cfg.warmup_steps, total // 4), cfg.lr, cfg.weight_decay, cfg.threads, resume,
                   parameters=[p for p in model.parameters() if p.requires_grad])
    start = run.start
    drawn = cfg.model_copy(update={"styles": run_styles(run.out, cfg.styles, resume)})

    loader = batch_loader(TuneBatches(train, charset, drawn, start, total), cfg.workers, cfg.seed)
    loss_fn = RecognitionLoss(charset, model.head_kind, cfg.label_smoothing)
    log = MetricsLog(run.metrics)
    began = time.perf_counter() - run.elapsed
    losses: list[float] = []
    hits: list[float] = []
    with progress_bar(total=total, initial=start, desc="finetune") as bar:
        step = start
        for images, targets in loader:
            train_mode(model, frozen)
            images, targets = images.to(run.device), targets.to(run.device)
            logits = model(images)
            loss = loss_fn(logits, targets)
            optimizer_step(loss, model, run)
            step += 1
            losses.append(loss.item())
            hits.append(exact_hits(logits, targets, charset, model.head_kind))
            bar.update(1)
            if step % per_epoch == 0:
                scores = {f"val_{v.name}": round(accuracy(model, v, charset), 4) for v in val_sets}
                log.write(
                    epoch=step // per_epoch,
                    step=step,
                    loss=round(float(np.mean(losses)), 4),
                    train_acc=round(float(np.mean(hits)), 4),
                    lr=run.last_lr,
                    seconds=round(time.perf_counter() - began, 1),
                    **scores,
                )
                show_figures(bar, loss=float(np.mean(losses)), **scores)
                losses, hits = [], []
                save_training_state(run.checkpoint, model, run.optimizer, run.scheduler, step,
                                    time.perf_counter() - began)
    return model.cpu().eval()


# -- the command ---------------------------------------------------------------------------------------------


def export_tuned(model: PlateRecognizer, run: Path, cfg: TuneConfig, path: Path, sample: np.ndarray,
                 class_scale: dict[str, float] | None = None, command: str | None = None, int8: bool = False) -> Path:
    """ONNX with the format prior of all bundled styles and of the user's the run drew, and its model card; sample:
    (N, 1, H, W) for the check. int8 and class_scale as for a training run's export
    (platelab.train.recipe.export_with_card), calibrated and measured on synthetic plates the model's charset can
    write."""
    drawn = cfg.model_copy(update={"styles": run_styles(run, cfg.styles)})  # cfg stays what the card records

    def calibration() -> Int8Data:
        try:
            images, _ = _fitting_synthetic(drawn, model.charset, cfg.seed + 2, INT8_CALIBRATION_CROPS)
            shown, texts = _fitting_synthetic(drawn, model.charset, cfg.seed + 1, INT8_VALIDATION_CROPS)
        except UnfittingCharsetError:
            # the training's advice (synth_share 0) does not apply here: the export draws them whatever the share
            raise ValueError(f"{run}: --int8 calibrates on synthetic plates of the run's styles, and they rarely fit "
                             "its charset; export it in float (without --int8)") from None
        batches = [preprocess_crops(images[i : i + CALIBRATION_BATCH])
                   for i in range(0, len(images), CALIBRATION_BATCH)]
        validation = EvalSet("synthetic", torch.from_numpy(preprocess_crops(shown)), texts)
        return Int8Data(batches, validation, f"{INT8_CALIBRATION_CROPS} synthetic crops (seed {cfg.seed + 2})")

    source = getattr(cfg, "from_run", None)
    found = _source_metadata(source) if source is not None else None  # read once for both
    if class_scale is None:
        class_scale = source_class_scale(found, model.charset)
    return export_with_card(model, run, path, cfg, sample, "plate recognition (cropped plate -> text), fine-tuned",
                            f"labelled plates from {getattr(cfg, 'data', None)}, {cfg.synth_share:.0%} of each batch "
                            "synthetic plates", class_scale, command, calibration if int8 else None,
                            styles=cfg.styles, carried_formats=source_formats(found),
                            finetuned_from=str(source), freeze=cfg.freeze)


def _fitting_synthetic(cfg: TuneConfig, charset: Charset, seed: int, count: int) -> tuple[list[np.ndarray], list[str]]:
    """count synthetic crops of the run's styles whose texts the charset can write (images, texts); drawn whatever
    share of the run's batches was synthetic (none, for a run on real crops alone)."""
    stream = TuneBatches(LabelledCrops((), (), ()), charset, cfg.model_copy(update={"seed": seed, "synth_share": 1.0}),
                         0, 0)
    crops = [stream.synthetic(i) for i in range(count)]
    return [image for image, _ in crops], [text for _, text in crops]


def finetune(cfg: FinetuneConfig, resume: bool = False) -> PlateRecognizer:
    """`platelab finetune`: load --from, fit the head to the charset, train on --data, optionally export."""
    seed_everything(cfg.seed)  # the replaced head's initial weights
    model = load_run_model(cfg.from_run)
    adapt_head(model, Charset(cfg.charset) if cfg.charset else model.charset)
    # a style that cannot be drawn, refused before the run folder is written
    drawable_styles(run_styles(cfg.out_dir, cfg.styles, resume) or None)
    check_run_folder(cfg.out_dir, json.loads(run_config_json(cfg, model.charset)), resume)
    if resume:
        check_resumable(cfg.out_dir / CHECKPOINT, copy.deepcopy(model))
    crops = load_labelled_crops(cfg.data, model.charset)
    with hold_run_folder(cfg.out_dir):
        record_command(cfg.out_dir, resume)  # only once nothing can refuse the run: it may be an earlier run's folder
        train_indices, held_indices = split_holdout(crops.files, cfg.val_fraction, cfg.seed)
        held = crops.subset(held_indices)
        val_sets = [held.eval_set(f"{cfg.data.name}-holdout")] if len(held) else []
        model = tune_model(model, crops.subset(train_indices), val_sets, cfg, resume)
        if cfg.export is not None:
            sample = val_sets[0].images[:32].numpy() if val_sets else crops.eval_set("sample").images[:32].numpy()
            with exporting_trained_run(cfg.out_dir, cfg.export):
                export_tuned(model, cfg.out_dir, cfg, cfg.export, sample)
    return model


def export_finetune_run(run: Path, out: Path, class_scale: dict[str, float] | None = None,
                        command: str | None = None, int8: bool = False) -> Path:
    """`platelab export RUN` for a fine-tuning run (config task "finetune")."""
    raw = read_run_config(run)
    cfg = run_config(run, FinetuneConfig if "from_run" in raw else TuneConfig, raw)
    model = load_run_model(run).eval()
    sample = np.random.default_rng(0).standard_normal((8, 1, 64, 128)).astype(np.float32)
    return export_tuned(model, run, cfg, out, sample, class_scale, command, int8)
