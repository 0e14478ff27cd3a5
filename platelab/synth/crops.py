"""Recognition crops: plate, surroundings, camera pose, light and camera effects, cut as a detector would."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from platelab.predict.detector import quad_sides
from platelab.predict.reader import MARGIN, rectify
from platelab.synth.camera import apply_camera, apply_light
from platelab.synth.config import SynthConfig
from platelab.synth.geometry import box_to_size, perspective_homography, transform_boxes, transform_points
from platelab.synth.render import choose, render_plate
from platelab.synth.scene import render_scene
from platelab.synth.style import PlateStyle
from platelab.synth.surroundings import surround


@dataclass(frozen=True)
class PlateCrop:
    """A crop with its text, region and where the plate (quad) and each character (boxes) landed."""

    image: np.ndarray
    text: str
    region: str
    style: str
    char_boxes: np.ndarray
    quad: np.ndarray


def sample_rng(seed: int, index: int) -> np.random.Generator:
    """One generator per sample, so any sample can be drawn alone and workers never share a stream."""
    return np.random.default_rng([seed, index])


def render_crop(
    styles: Sequence[PlateStyle], rng: np.random.Generator, cfg: SynthConfig, text: str | None = None
) -> PlateCrop:
    style = choose(rng, list(styles), [s.weight for s in styles])
    out_w, out_h = cfg.crop_size
    height = int(rng.integers(cfg.plate_height[0], cfg.plate_height[1] + 1))
    # off by default and then drawing nothing, so seeded samples of the default engine stay as they were
    warp = float(rng.uniform(*cfg.glyph_warp)) if cfg.glyph_warp_p > 0 and rng.random() < cfg.glyph_warp_p else 0.0
    plate = render_plate(style, rng, height=height, text=text, text_scale=cfg.text_scale, glyph_warp=warp)
    around = surround(plate, rng, cfg.surround)

    g = cfg.geometry
    quad = around.quad
    centre = tuple(quad.mean(0))
    plate_w = float(np.linalg.norm(quad[1] - quad[0]))
    pose = perspective_homography(
        centre,
        plate_w,
        rng.uniform(*g.yaw),
        rng.uniform(*g.pitch),
        rng.uniform(*g.roll),
        rng.uniform(*g.focal),
    )
    seen = transform_points(pose, quad)
    x0, y0 = seen.min(0)
    x1, y1 = seen.max(0)
    w, h = x1 - x0, y1 - y0
    pad_x, pad_y = rng.uniform(*g.pad_x, size=2), rng.uniform(*g.pad_y, size=2)
    stretch = 1 + rng.uniform(-g.aspect_jitter, g.aspect_jitter)
    box = (x0 - pad_x[0] * w, y0 - pad_y[0] * h * stretch, x1 + pad_x[1] * w, y1 + pad_y[1] * h * stretch)
    characters = transform_boxes(pose, around.char_boxes)
    if len(characters):  # a crop may cut into the plate, as detectors' boxes do, but never into its characters
        (cx0, cy0), (cx1, cy1) = characters[:, :2].min(0), characters[:, 2:].max(0)
        box = (min(box[0], cx0), min(box[1], cy0), max(box[2], cx1), max(box[3], cy1))
    matrix = box_to_size(*box, out_w, out_h) @ pose
    crop = cv2.warpPerspective(
        around.image, matrix, (out_w, out_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    # Light is applied after the warp, on the crop's fewer pixels; the plate mask follows the same warp.
    plate_mask = cv2.warpPerspective(around.plate_mask, matrix, (out_w, out_h), flags=cv2.INTER_NEAREST)
    crop = apply_camera(apply_light(crop, rng, cfg.light, plate_mask), rng, cfg.camera)
    return PlateCrop(
        crop,
        plate.text,
        style.region,
        style.name,
        transform_boxes(matrix, around.char_boxes),
        transform_points(matrix, quad),
    )


def cut_from_scene(styles: Sequence[PlateStyle], rng: np.random.Generator, cfg: SynthConfig) -> PlateCrop | None:
    """One plate in a scene of its own, cut out by corners off by as much as a detector's (None if none fit).

    The crop is the reader's own (platelab.predict.reader.rectify), so small plates come sampled up from the
    scene's few pixels, their codec blocks and blur at the scene's scale, as in a photo.
    """
    cut = cfg.scene_crop
    scene_cfg = cfg.scene.model_copy(update={"size": cut.size, "plates": (1, 1), "extra_plate_p": 0.0,
                                             "empty_p": 0.0, "plate_width": cut.plate_width})
    scene = render_scene(styles, rng, scene_cfg, cfg.light, cfg.camera)
    if not scene.plates:
        return None
    plate = scene.plates[0]
    height = quad_sides(plate.quad)[1]
    quad = (plate.quad + rng.normal(0.0, cut.jitter * height, (4, 2))).astype(np.float32)
    image = rectify(scene.image, quad)
    h, w = image.shape[:2]
    mx, my = w * MARGIN / (1 + 2 * MARGIN), h * MARGIN / (1 + 2 * MARGIN)
    corners = np.array([[mx, my], [w - mx, my], [w - mx, h - my], [mx, h - my]], np.float32)
    return PlateCrop(image, plate.text, plate.region, "scene", np.zeros((0, 4), np.float32), corners)


class CropGenerator:
    """Seeded, indexable stream of crops: sample(i) is the same image for the same (seed, i) everywhere."""

    def __init__(self, styles: Sequence[PlateStyle], cfg: SynthConfig | None = None, seed: int = 0) -> None:
        if not styles:
            raise ValueError("CropGenerator needs at least one style")
        self.styles = list(styles)
        self.cfg = cfg or SynthConfig()
        self.seed = seed

    def sample(self, index: int) -> PlateCrop:
        rng = sample_rng(self.seed, index)
        # no draw when scene crops are off, so seeded samples of the default engine stay as they were
        if self.cfg.scene_crop.p > 0 and rng.random() < self.cfg.scene_crop.p:
            crop = cut_from_scene(self.styles, rng, self.cfg)
            if crop is not None:
                return crop
        return render_crop(self.styles, rng, self.cfg)

    def __iter__(self) -> Iterator[PlateCrop]:
        index = 0
        while True:
            yield self.sample(index)
            index += 1
