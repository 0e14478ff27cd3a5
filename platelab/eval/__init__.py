"""Labelled sets, scores and reports for plate reading (numpy/OpenCV only, no torch)."""

from platelab.eval.labels import (
    CropLabel,
    LabelError,
    PhotoLabel,
    labels_kind,
    normalize_plate,
    read_labels,
    write_crop_labels,
    write_photo_labels,
)
from platelab.eval.metrics import (
    CropScores,
    PhotoScores,
    box_iou,
    char_error_rate,
    edit_distance,
    edit_operations,
    score_crops,
    score_photos,
)
from platelab.eval.report import failure_montage, format_crop_report, format_photo_report

__all__ = [
    "CropLabel",
    "CropScores",
    "LabelError",
    "PhotoLabel",
    "PhotoScores",
    "box_iou",
    "char_error_rate",
    "edit_distance",
    "edit_operations",
    "failure_montage",
    "format_crop_report",
    "format_photo_report",
    "labels_kind",
    "normalize_plate",
    "read_labels",
    "score_crops",
    "score_photos",
    "write_crop_labels",
    "write_photo_labels",
]
