"""Plate labels in the Ultralytics YOLO layout, for training detectors with Ultralytics (or any tool reading it).

Ultralytics finds an image's labels by swapping the last ``images`` folder in its path for ``labels`` and the
suffix for ``.txt``: ``images/x.jpg`` is described by ``labels/x.txt``, one line a plate, every coordinate a
fraction of the image's width or height. One class, ``plate`` (0).

Boxes: ``0 cx cy w h``. Boxes and corners (YOLO-pose): ``0 cx cy w h x1 y1 v1 ... x4 y4 v4``, the four corners in
platelab's order, clockwise from the plate's own top-left as it is read (top-left, top-right, bottom-right,
bottom-left), so a plate rolled past 45 degrees keeps its corners. The corners are keypoints, not an oriented box
(YOLO-OBB): a plate seen in perspective is a general quadrilateral, which a rotated rectangle cannot hold, and
Ultralytics fits OBB corners with a minimum-area rectangle, which also drops their order.
"""

from __future__ import annotations

from collections.abc import Iterable

from platelab.io.labels import PhotoLabel

PLATE_CLASS = 0
CLASS_NAMES = ("plate",)
CORNERS = 4
# x, y and a visibility: 2 for a corner in the image, 0 with x = y = 0 for one outside it (Ultralytics refuses
# coordinates outside 0-1 and masks a keypoint whose visibility is 0 out of the loss)
KEYPOINT_SHAPE = (CORNERS, 3)
VISIBLE, NOT_LABELLED = 2, 0
# Ultralytics' left-right flip (fliplr) mirrors the image; to keep index 0 the plate's top-left, the mirrored
# top-right becomes it, and likewise for the rest. Without flip_idx it turns the flip off for pose sets.
FLIP_INDEX = (1, 0, 3, 2)
DIGITS = 6  # a millionth of the image: far below a pixel for any image a detector is trained on


def _fraction(value: float) -> str:
    return f"{value:.{DIGITS}f}"


def yolo_line(label: PhotoLabel, size: tuple[int, int], corners: bool = False) -> str | None:
    """The YOLO line of a plate in an image of size (width, height): its box clipped to the image, None when no part
    of it is inside. With corners, its four corners follow as keypoints (a corner outside the image unlabelled)."""
    width, height = size
    x, y, w, h = label.box
    x0, y0 = max(x, 0), max(y, 0)
    x1, y1 = min(x + w, width), min(y + h, height)
    if x1 <= x0 or y1 <= y0:
        return None
    cells = [str(PLATE_CLASS)] + [
        _fraction(v) for v in ((x0 + x1) / 2 / width, (y0 + y1) / 2 / height, (x1 - x0) / width, (y1 - y0) / height)
    ]
    if corners:
        if label.quad is None or len(label.quad) != CORNERS:
            raise ValueError(f"{label.file}: plate {label.plate!r} has no {CORNERS} corners to export as keypoints")
        for cx, cy in label.quad:
            # pixel i spans [i, i + 1), so the image's far edge (width, height) is still on it
            if 0 <= cx <= width and 0 <= cy <= height:
                cells += [_fraction(cx / width), _fraction(cy / height), str(VISIBLE)]
            else:
                cells += ["0", "0", str(NOT_LABELLED)]
    return " ".join(cells)


def yolo_labels(labels: Iterable[PhotoLabel], size: tuple[int, int], corners: bool = False) -> str:
    """The text of one image's labels file: a line a plate, plates wholly outside the image left out. An image
    without plates gets an empty file, which Ultralytics reads as a background image."""
    lines = (yolo_line(label, size, corners) for label in labels)
    return "".join(f"{line}\n" for line in lines if line is not None)


def data_yaml(images: str, corners: bool = False) -> str:
    """The dataset file naming the images folder (relative to the file's own folder) and the class."""
    lines = [
        "# Ultralytics YOLO dataset written by platelab (platelab synth scenes --format yolo or yolo-pose).",
        "# No 'path': Ultralytics then takes this file's folder as the dataset root, so the set can be moved.",
        f"train: {images}",
        "# the same images: Ultralytics needs a validation set; write another set (another --seed) and name its",
        "# images folder here to validate on scenes not trained on",
        f"val: {images}",
        "names:",
        *(f"  {i}: {name}" for i, name in enumerate(CLASS_NAMES)),
    ]
    if corners:
        lines += [
            "# the 4 plate corners as keypoints (x, y, visibility), clockwise from the plate's top-left:",
            "# top-left, top-right, bottom-right, bottom-left",
            f"kpt_shape: [{KEYPOINT_SHAPE[0]}, {KEYPOINT_SHAPE[1]}]",
            "# a left-right flip swaps left and right corners",
            f"flip_idx: [{', '.join(map(str, FLIP_INDEX))}]",
        ]
    return "".join(f"{line}\n" for line in lines)
