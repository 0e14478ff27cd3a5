"""Training the plate detector on streamed synthetic scenes, resumable after a kill; ONNX export, model card.

Scenes are rendered straight at the detector's input size (rendering is the cost of a step on a CPU), a part
of them narrower or shorter so the network also sees the padding a 4:3 or 16:9 photo gets. Batches are
numbered and each sample is seeded by (seed, index), as in the recognizer's stream, so a resumed run sees
exactly the batches an unbroken run would.
"""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.flop_counter import FlopCounterMode

from platelab.models.detector import PlateDetector
from platelab.predict.detector import (
    STRIDE,
    Detection,
    cell_centres,
    decode_detections,
    encode_offsets,
    letterbox,
    quad_iou,
)
from platelab.synth.crops import sample_rng
from platelab.synth.dataset import NumberedBatches
from platelab.synth.scene import render_scene
from platelab.synth.style import PlateStyle, select_styles
from platelab.train.card import write_model_card
from platelab.train.checkpoint import check_resumable, load_model_state, save_training_state
from platelab.train.config import BUNDLED, DetectorTrainConfig
from platelab.train.export import export_onnx, publish, require_agreement
from platelab.train.loop import (
    CHECKPOINT,
    MetricsLog,
    batch_loader,
    check_run,
    open_run,
    optimizer_step,
    resumes,
    run_config,
    run_recipe,
    run_styles,
    running_mean,
    seed_everything,
)
from platelab.train.progress import progress_bar, show_figures
from platelab.train.quantize import CALIBRATION_SCENES, DETECTOR_KEPT_FLOAT, quantize

SIGMA_PER_SIZE = 0.15  # heatmap spread, as a fraction of the plate's box in cells
MIN_SIGMA = 0.6  # cells: the smallest plates still get a few near-positive cells around their centre
REGRESS_FROM = 0.5  # cells whose heatmap target reaches this also learn the plate's corners
MATCH_IOU = 0.5  # a detection finds a plate when their quads overlap this much
VAL_MIN_SCORE = 0.3
EVAL_BATCH = 16
# -- data ----------------------------------------------------------------------------------------------------


def render_targets(quads: Sequence[np.ndarray], grid: tuple[int, int]) -> tuple[np.ndarray, ...]:
    """Plate quads (input pixels) -> heatmap (1, H, W), encoded corners (8, H, W), corner weights (1, H, W).

    Each plate is a gaussian sized by its box, exactly 1 at the cell holding its centre; a cell near two
    plates belongs to the one whose gaussian is higher there. Corners are offsets from each cell's centre.
    """
    height, width = grid
    heat = np.zeros((height, width), np.float32)
    corners = np.zeros((8, height, width), np.float32)
    centres = cell_centres(height, width)
    for quad in quads:
        cells = quad / STRIDE
        col, row = np.clip(np.floor(cells.mean(0)).astype(int), 0, (width - 1, height - 1))
        sigma = np.maximum(SIGMA_PER_SIZE * (cells.max(0) - cells.min(0)), MIN_SIGMA)
        rx, ry = np.ceil(3 * sigma).astype(int)
        x0, x1 = max(col - rx, 0), min(col + rx + 1, width)
        y0, y1 = max(row - ry, 0), min(row + ry + 1, height)
        dx = (np.arange(x0, x1) - col)[None, :] / sigma[0]
        dy = (np.arange(y0, y1) - row)[:, None] / sigma[1]
        gauss = np.exp(-0.5 * (dx**2 + dy**2)).astype(np.float32)
        owner = gauss > heat[y0:y1, x0:x1]
        heat[y0:y1, x0:x1][owner] = gauss[owner]
        offsets = cells.reshape(8, 1, 1) - np.tile(centres[:, y0:y1, x0:x1], (4, 1, 1))
        corners[:, y0:y1, x0:x1][:, owner] = encode_offsets(offsets)[:, owner]
    weight = np.where(heat >= REGRESS_FROM, heat, 0).astype(np.float32)
    return heat[None], corners, weight[None]


@dataclass(frozen=True)
class SceneSample:
    image: np.ndarray  # (H, W) float32, the detector's input
    quads: list[np.ndarray]  # plate corners in input pixels


def _scene_size(rng: np.random.Generator, cfg: DetectorTrainConfig) -> tuple[int, int]:
    """The full input, or the shape a photo of a random aspect has once letterboxed into it."""
    width, height = cfg.synth.scene.size
    if rng.random() >= cfg.letterbox_p:
        return width, height
    aspect = float(cfg.aspects[int(rng.integers(len(cfg.aspects)))])
    return (width, round(width / aspect)) if aspect >= width / height else (round(height * aspect), height)


class SyntheticSceneBatches(NumberedBatches):
    """Yields (images (B, 1, H, W), heatmaps (B, 1, h, w), corners (B, 8, h, w), weights (B, 1, h, w))."""

    def __init__(
        self,
        styles: Sequence[PlateStyle],
        cfg: DetectorTrainConfig,
        seed: int,
        start_batch: int = 0,
        end_batch: int | None = None,
    ) -> None:
        super().__init__()
        self.styles = list(styles)
        self.cfg = cfg
        self.seed = seed
        self.start_batch = start_batch
        self.end_batch = end_batch

    def sample(self, index: int) -> SceneSample:
        rng = sample_rng(self.seed, index)
        synth = self.cfg.synth
        scene_cfg = synth.scene.model_copy(update={"size": _scene_size(rng, self.cfg)})
        scene = render_scene(self.styles, rng, scene_cfg, synth.light, synth.camera)
        boxed = letterbox(scene.image, synth.scene.size)
        return SceneSample(boxed.image, [p.quad * np.float32(boxed.scale) for p in scene.plates])

    def window(self, sample: SceneSample, index: int, size: tuple[int, int]) -> SceneSample:
        """A (width, height) window of the input, usually around a plate: the network is fully convolutional, so
        training on windows teaches the same thing at a quarter of the cost. Plates keep their place if their
        centre is in."""
        width, height = size
        rng = np.random.default_rng([self.seed, index, 1])
        full_h, full_w = sample.image.shape
        if sample.quads and rng.random() < self.cfg.window_on_plate_p:
            centre = sample.quads[int(rng.integers(len(sample.quads)))].mean(0)
            x0 = centre[0] - rng.uniform(0.1, 0.9) * width
            y0 = centre[1] - rng.uniform(0.1, 0.9) * height
        else:
            x0, y0 = rng.uniform(0, full_w - width), rng.uniform(0, full_h - height)
        x0 = int(np.clip(round(x0 / STRIDE) * STRIDE, 0, full_w - width))
        y0 = int(np.clip(round(y0 / STRIDE) * STRIDE, 0, full_h - height))
        shift = np.array([x0, y0], np.float32)
        quads = [q - shift for q in sample.quads]
        inside = [q for q in quads if 0 <= q.mean(0)[0] < width and 0 <= q.mean(0)[1] < height]
        return SceneSample(np.ascontiguousarray(sample.image[y0 : y0 + height, x0 : x0 + width]), inside)

    def render_batch(self, batch: int) -> tuple[torch.Tensor, ...]:
        window = self.cfg.window
        width, height = window or self.cfg.synth.scene.size
        first = batch * self.cfg.batch_size
        samples = [self.sample(first + i) for i in range(self.cfg.batch_size)]
        if window:
            samples = [self.window(s, first + i, window) for i, s in enumerate(samples)]
        targets = [render_targets(s.quads, (height // STRIDE, width // STRIDE)) for s in samples]
        images = np.stack([s.image[None] for s in samples])
        return (torch.from_numpy(images), *(torch.from_numpy(np.stack(t)) for t in zip(*targets)))


# -- loss and validation -------------------------------------------------------------------------------------


def focal_loss(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """CenterNet's penalty-reduced focal loss, per plate: cells near a centre are punished less."""
    positive = target >= 1.0
    log_p, log_not_p = F.logsigmoid(logits), F.logsigmoid(-logits)
    p = torch.sigmoid(logits)
    pos = -(log_p * (1 - p) ** 2)[positive].sum()
    neg = -(log_not_p * p**2 * (1 - target) ** 4)[~positive].sum()
    return (pos + neg) / positive.sum().clamp(min=1)


def corner_loss(predicted: torch.Tensor, target: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """Weighted L1 per corner coordinate over the cells near plate centres."""
    return ((predicted - target).abs() * weight).sum() / (8 * weight.sum()).clamp(min=1e-6)


@dataclass
class ValidationSet:
    images: torch.Tensor
    quads: list[list[np.ndarray]]


def synthetic_validation_set(cfg: DetectorTrainConfig) -> ValidationSet:
    data = SyntheticSceneBatches(select_styles(cfg.styles or None), cfg, cfg.seed + 1)
    samples = [data.sample(i) for i in range(cfg.val_size)]
    images = np.stack([s.image[None] for s in samples]) if samples else np.zeros((0, 1, 1, 1), np.float32)
    return ValidationSet(torch.from_numpy(images), [s.quads for s in samples])


DetectorOutputs = Callable[[np.ndarray], Sequence[np.ndarray]]


def torch_outputs(model: nn.Module) -> DetectorOutputs:
    """Inputs (N, 1, H, W) -> (heatmap scores, corner offsets) as numpy, as the exported graph returns them."""

    @torch.no_grad()
    def outputs(images: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        model.eval()
        heat, corners = model(torch.from_numpy(images).to(next(model.parameters()).device))
        return torch.sigmoid(heat).cpu().numpy(), corners.cpu().numpy()

    return outputs


def onnx_outputs(path: Path) -> DetectorOutputs:
    import onnxruntime as ort

    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return lambda images: session.run(None, {"image": images})


def detect_batch(outputs: DetectorOutputs, images: np.ndarray, min_score: float) -> list[list[Detection]]:
    """Detections (input pixels) for each image, decoded as the ONNX reader decodes them."""
    found: list[list[Detection]] = []
    for start in range(0, len(images), EVAL_BATCH):
        heat, corners = outputs(images[start : start + EVAL_BATCH])
        found += [decode_detections(h[0], c, min_score) for h, c in zip(heat, corners)]
    return found


def match_counts(detections: list[Detection], plates: list[np.ndarray]) -> tuple[int, int, float]:
    """(plates found, false detections, summed mean corner error of those found); detections best first."""
    free = list(range(len(plates)))
    found, error = 0, 0.0
    for detection in detections:
        ious = [quad_iou(detection.quad, plates[i]) for i in free]
        if ious and max(ious) >= MATCH_IOU:
            plate = free.pop(int(np.argmax(ious)))
            found += 1
            error += float(np.linalg.norm(detection.quad - plates[plate], axis=1).mean())
    return found, len(detections) - found, error


def evaluate(outputs: DetectorOutputs, data: ValidationSet, min_score: float = VAL_MIN_SCORE) -> dict[str, float]:
    """Recall, false positives per image and mean corner error (input px) of found plates; no corner error when no
    plate was found (a 0 would read as perfect corners)."""
    found_per_image = detect_batch(outputs, data.images.numpy(), min_score)
    counts = np.array([match_counts(d, q) for d, q in zip(found_per_image, data.quads)]).reshape(-1, 3)
    plates = sum(len(q) for q in data.quads)
    found, false, error = counts.sum(0)
    figures = {"recall": float(found / plates) if plates else 0.0,
               "fp_per_image": float(false / max(len(data.quads), 1))}
    return figures | ({"corner_px": float(error / found)} if found else {})


# -- training ------------------------------------------------------------------------------------------------


def train_detector(cfg: DetectorTrainConfig, resume: bool = False) -> PlateDetector:
    """Train (or continue training) and return the model; checkpoints and metrics go to cfg.out_dir."""
    seed_everything(cfg.seed)
    model = PlateDetector()
    if cfg.init_from is not None and not resumes(cfg.out_dir, resume):  # before the run writes into its folder
        load_model_state(cfg.init_from, model)
    run = open_run(cfg.out_dir, cfg.model_dump_json(indent=2), model, cfg.steps, cfg.warmup_steps, cfg.lr,
                   cfg.weight_decay, cfg.threads, resume)
    drawn = cfg.model_copy(update={"styles": run_styles(run.out, cfg.styles, resume)})

    last_step = min(cfg.steps, cfg.stop_after or cfg.steps)
    validation = synthetic_validation_set(drawn)
    stream = SyntheticSceneBatches(
        select_styles(drawn.styles or None), drawn, cfg.seed, start_batch=run.start, end_batch=last_step
    )
    loader = batch_loader(stream, cfg.workers, cfg.seed)
    log = MetricsLog(run.metrics)
    shown: dict[str, float] = {}
    running = run.extra.get("loss")  # None until the first step sets it
    began = time.perf_counter() - run.elapsed
    with progress_bar(total=last_step, initial=run.start, desc="train detector") as bar:
        step = run.start
        for batch in loader:
            model.train()
            images, heat, corners, weight = (t.to(run.device, non_blocking=True) for t in batch)
            heat_logits, corner_pred = model(images)
            loss = focal_loss(heat_logits, heat) + cfg.corner_weight * corner_loss(corner_pred, corners, weight)
            optimizer_step(loss, model, run)
            step += 1
            running = running_mean(running, loss.item())
            bar.update(1)
            if step % cfg.val_every == 0 or step == last_step:
                figures = evaluate(torch_outputs(model), validation) if cfg.val_size else {}
                shown = {f"val_{k}": v for k, v in figures.items()}
                log.write(
                    step=step,
                    loss=round(running, 4),
                    lr=run.last_lr,
                    seconds=round(time.perf_counter() - began, 1),
                    **{k: round(v, 4) for k, v in shown.items()},
                )
            show_figures(bar, loss=running, **shown)
            if step % cfg.checkpoint_every == 0 or step == last_step:
                save_training_state(run.checkpoint, model, run.optimizer, run.scheduler, step,
                                    time.perf_counter() - began, {"loss": running})
    return model.cpu().eval()


# -- export --------------------------------------------------------------------------------------------------


class WithSigmoid(nn.Module):
    """The exported graph returns heatmap scores in [0, 1], so the reader needs no torch-side maths."""

    def __init__(self, model: PlateDetector) -> None:
        super().__init__()
        self.model = model

    def forward(self, image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        heat, corners = self.model(image)
        return torch.sigmoid(heat), corners


def export_detector(model: PlateDetector, path: Path, extra: dict[str, str] | None = None) -> Path:
    """Write model as ONNX at path (atomically), with its input size and stride in the metadata."""
    width, height = model.input_size
    metadata = {
        "platelab_task": "detector",
        "input_size": json.dumps([width, height]),
        "stride": str(model.stride),
        **(extra or {}),
    }
    return export_onnx(WithSigmoid(model), (1, height, width), path, ["heatmap", "corners"], metadata, any_size=True)


def check_detector_export(model: PlateDetector, path: Path, images: np.ndarray) -> float:
    """Largest absolute difference between torch and onnxruntime outputs on images (N, 1, H, W)."""
    expected, got = torch_outputs(model.cpu())(images), onnx_outputs(path)(images)
    return float(max(np.abs(e - g).max() for e, g in zip(expected, got)))


def model_gflops(model: PlateDetector) -> float:
    """Floating-point operations (multiply and add counted apart) for one input image, in billions."""
    width, height = model.input_size
    with torch.no_grad(), FlopCounterMode(display=False) as counter:
        model.cpu().eval()(torch.zeros(1, 1, height, width))
    flops: int = counter.get_total_flops()
    return flops / 1e9


def export_detector_run(run: Path, out: Path, int8: bool = False) -> Path:
    """The run's last checkpoint -> ONNX at out, checked against torch (nothing is written unless they agree,
    platelab.train.export.require_agreement), with the model card beside it.

    int8: weights and activations in 8 bits (calibrated on synthetic scenes), measured again on the run's
    synthetic validation set beside the float model; the card records both.
    """
    cfg = run_config(run, DetectorTrainConfig)
    model = PlateDetector()
    load_model_state(run / CHECKPOINT, model)
    model.eval()
    # the styles it was trained on, from the run's copies where the files moved or were edited since
    drawn = cfg.model_copy(update={"styles": run_styles(run, cfg.styles, note=True)})
    sample = synthetic_validation_set(drawn.model_copy(update={"val_size": 4})).images.numpy()
    with tempfile.TemporaryDirectory() as folder:
        float_path = Path(folder) / out.name
        export_detector(model, float_path)
        max_diff = require_agreement(check_detector_export(model, float_path, sample), out)  # int8: as in recipe.py
        extra = {}
        if int8:
            validation = synthetic_validation_set(drawn)
            calibration = SyntheticSceneBatches(select_styles(drawn.styles or None), drawn, cfg.seed + 2)
            kept_float = quantize(float_path, out, [calibration.sample(i).image[None, None]
                                                    for i in range(CALIBRATION_SCENES)], DETECTOR_KEPT_FLOAT)
            compared = {"accuracy": onnx_outputs(out), "accuracy_float": torch_outputs(model)}
            measured = {name: {k: round(v, 4) for k, v in evaluate(outputs, validation).items()}
                        for name, outputs in compared.items()}
            extra = {**measured,
                     "int8": {"calibration": f"{CALIBRATION_SCENES} synthetic scenes (seed {cfg.seed + 2})",
                              "kept_float": kept_float, "size_bytes_float": float_path.stat().st_size,
                              "command": f"platelab export {run} --out {out} --int8"}}
        else:
            publish(float_path, out)
    write_model_card(out, run, cfg, "plate detection (photo -> plate corners)",
                     "synthetic scenes only (platelab.synth.scene), styles: " + (", ".join(cfg.styles) or "all"),
                     max_diff, input_size=list(model.input_size),
                     gflops_per_image=round(model_gflops(model), 3),
                     parameters=sum(p.numel() for p in model.parameters()), **extra)
    return out


def check_detector_recipe(cfg: DetectorTrainConfig, resume: bool) -> None:
    """Raises what would stop the run after it had written into its folder: what platelab.train.loop.check_run
    checks, an init_from that is not a detector checkpoint, and a checkpoint to resume that is not this run's."""
    if not resume and cfg.init_from is not None:
        # a recognizer's init_from takes an ONNX file or "bundled" (platelab.train.onnx_import); a detector's
        # cannot: its exported graph is not loaded back into a trainable network
        given = str(cfg.init_from)
        if given == BUNDLED or cfg.init_from.suffix.lower() == ".onnx":
            what = "the bundled detector" if given == BUNDLED else "an ONNX detector"
            raise ValueError(f"{given}: init_from: a detector run starts from a detector run's checkpoint (its "
                             f"{CHECKPOINT}); {what} cannot be trained further")
    check_run(cfg, resume)
    if resume:
        check_resumable(cfg.out_dir / CHECKPOINT, PlateDetector())
    elif cfg.init_from is not None:
        load_model_state(cfg.init_from, PlateDetector())


def run_detector_recipe(cfg: DetectorTrainConfig, resume: bool, export: Path | None) -> None:
    """Train (and export) the run, holding its folder; check_detector_recipe first, as the CLI does, so a mistake
    writes nothing."""
    run_recipe(cfg.out_dir, resume, lambda: train_detector(cfg, resume=resume), export, export_detector_run)
